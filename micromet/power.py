"""Power of a two-group survival comparison given the events observed: was a null informative?

Two classical approximations for the log-rank test / Cox model with one binary exposure:

* **Schoenfeld** (1983, Biometrika 68:316–319; Biometrics 39:499–503): with ``d`` events and a
  fraction ``p`` of patients exposed, ``log HR`` is estimated with variance ``1 / (d p (1 − p))``,
  so ``power = Φ(|log HR| √(d p (1 − p)) − z₁₋α/₂)`` and the minimum detectable HR at a given
  power is ``exp((z₁₋α/₂ + z_power) / √(d p (1 − p)))``.
* **Freedman** (1982, Statistics in Medicine 1:121–129), as lifelines' ``power_under_cph`` and R's
  ``powerSurvEpi::powerCT.default0`` compute it: ``power = Φ(√(k d) |HR − 1| / (k HR + 1) − z₁₋α/₂)``
  with ``k = n_exposed / n_control``.

Both are two-sided at level ``alpha``. For a subdistribution HR (Fine–Gray) the same formulas
apply with ``d`` the events of the cause of interest (Latouche, Porcher & Chevret 2004).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lifelines.statistics import power_under_cph
from scipy.stats import norm

from micromet.errors import InputError


def _check(events: float, n_exposed: float, n_control: float, alpha: float) -> None:
    if not events > 0:
        raise InputError("power needs at least one event", value=events)
    if not (n_exposed > 0 and n_control > 0):
        raise InputError("power needs patients in both groups", value=(n_exposed, n_control))
    if not 0 < alpha < 1:
        raise InputError("alpha must lie between 0 and 1", value=alpha)


def schoenfeld_power(hr: float, events: float, n_exposed: float, n_control: float,
                     alpha: float = 0.05) -> float:
    """Power to detect ``hr`` with ``events`` events (Schoenfeld), two-sided level ``alpha``."""
    _check(events, n_exposed, n_control, alpha)
    p = n_exposed / (n_exposed + n_control)
    spread = math.sqrt(events * p * (1 - p))
    return float(norm.cdf(abs(math.log(hr)) * spread - norm.ppf(1 - alpha / 2)))


def freedman_power(hr: float, events: float, n_exposed: float, n_control: float,
                   alpha: float = 0.05) -> float:
    """Power to detect ``hr`` with ``events`` events (Freedman), computed by lifelines'
    ``power_under_cph`` (which needs only the total number of events)."""
    _check(events, n_exposed, n_control, alpha)
    share = events / (n_exposed + n_control)  # p_exp and p_con enter only through the events
    return float(power_under_cph(n_exposed, n_control, share, share, hr, alpha=alpha))


def minimum_detectable_hr(events: float, n_exposed: float, n_control: float, *,
                          power: float = 0.8, alpha: float = 0.05) -> float:
    """The smallest HR above 1 detectable with ``power`` (Schoenfeld); its reciprocal is the
    largest detectable HR below 1."""
    _check(events, n_exposed, n_control, alpha)
    if not alpha / 2 < power < 1:
        raise InputError("power must lie between alpha/2 and 1", value=power)
    p = n_exposed / (n_exposed + n_control)
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return float(math.exp(z / math.sqrt(events * p * (1 - p))))


@dataclass(frozen=True)
class PowerSummary:
    """What a design with these events could detect, in numbers and in one sentence."""

    events: int
    n_exposed: int
    n_control: int
    alpha: float
    detectable_80: float
    detectable_90: float

    def sentence(self, what: str = "deaths", effect: str = "an HR") -> str:
        return (f"with {self.events:,} {what} this design could detect {effect} of "
                f"{self.detectable_80:.2f} or more (or {1 / self.detectable_80:.2f} or less) with "
                f"80% power, and {self.detectable_90:.2f} (or {1 / self.detectable_90:.2f}) with "
                f"90% power, at a two-sided level of {self.alpha:g}")


def power_summary(events: int, n_exposed: int, n_control: int,
                  alpha: float = 0.05) -> PowerSummary:
    """Minimum detectable HRs at 80% and 90% power (Schoenfeld) for the observed design."""
    return PowerSummary(
        int(events), int(n_exposed), int(n_control), alpha,
        minimum_detectable_hr(events, n_exposed, n_control, power=0.8, alpha=alpha),
        minimum_detectable_hr(events, n_exposed, n_control, power=0.9, alpha=alpha),
    )
