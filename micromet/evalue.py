"""E-values: how strong an unmeasured confounder would have to be to explain an association away.

VanderWeele & Ding (2017), "Sensitivity analysis in observational research: introducing the
E-value", Ann Intern Med 167:268-274. For a risk ratio ``RR > 1`` the E-value is

    E = RR + sqrt(RR (RR - 1)),

the smallest risk ratio that an unmeasured confounder would need with both the exposure and the
outcome, each, above and beyond the measured covariates, to move the estimate to 1; a risk ratio
below 1 is inverted first (``RR -> 1/RR``). The E-value of a confidence interval is that of the
limit nearest 1, and 1 when the interval already includes 1.

A hazard ratio is first put on the risk-ratio scale (the paper's Table 2, as R's
``EValue::evalues.HR(est, lo, hi, rare = TRUE/FALSE)`` does it, EValue 4.1):

* rare outcome (under about 15% at the end of follow-up): ``RR = HR``;
* common outcome: ``RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))`` - the same formula for an
  HR below 1, which it maps to an RR below 1 (it is symmetric: ``f(1/HR) = 1/f(HR)``).

Each of the estimate and the two limits is converted, then the E-value is taken on the result.

A subdistribution hazard ratio (Fine-Gray) has no agreed conversion to a risk ratio, so
:func:`evalue_shr` returns no number unless asked to treat the SHR as a hazard ratio, and then
always with a caveat that says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from micromet.errors import InputError

SHR_CAVEAT = (
    "no E-value is given for a subdistribution hazard ratio: there is no agreed way to turn a "
    "Fine-Gray SHR into the risk ratio that the E-value is defined on (VanderWeele & Ding 2017 "
    "give conversions for risk, odds and hazard ratios only)"
)
SHR_APPROXIMATE_CAVEAT = (
    "the subdistribution hazard ratio was treated as if it were a hazard ratio; there is no "
    "agreed conversion of an SHR to a risk ratio, so this E-value is a rough guide only"
)


def _positive(value, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"the {what} must be a number", value=value) from None
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"the {what} must be a positive finite number", value=value)
    return v


def hr_to_rr(hr: float, *, rare: bool) -> float:
    """A hazard ratio on the risk-ratio scale (VanderWeele & Ding 2017, Table 2): unchanged for a
    rare outcome, ``(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))`` for a common one."""
    hr = _positive(hr, "hazard ratio")
    if rare:
        return hr
    return (1.0 - 0.5 ** math.sqrt(hr)) / (1.0 - 0.5 ** math.sqrt(1.0 / hr))


def evalue_of_rr(rr: float) -> float:
    """``RR + sqrt(RR (RR - 1))`` after inverting a risk ratio below 1 (1 at RR = 1)."""
    rr = _positive(rr, "risk ratio")
    if rr < 1:
        rr = 1.0 / rr
    return rr + math.sqrt(rr * (rr - 1.0))


@dataclass(frozen=True)
class EValue:
    """E-values of an estimate and of its confidence interval.

    ``estimate``/``lower``/``upper`` are the ratios as given, ``rr``/``rr_lower``/``rr_upper``
    the same on the risk-ratio scale used for the E-value. ``evalue`` is the E-value of the
    estimate; ``evalue_ci`` that of the limit nearest 1 (1 when the interval includes 1; NaN
    without an interval). ``measure`` is "RR", "HR" or "SHR"; ``caveat`` says what the numbers
    cannot carry (for an SHR the E-values are NaN unless an approximation was asked for).
    """

    estimate: float
    lower: float
    upper: float
    measure: str
    rare: bool | None
    rr: float
    rr_lower: float
    rr_upper: float
    evalue: float
    evalue_ci: float
    caveat: str = ""

    @property
    def ci_includes_one(self) -> bool:
        return bool(self.lower <= 1.0 <= self.upper)

    def describe(self, exposure: str = "the exposure", outcome: str = "the outcome",
                 ci_level: int = 95) -> str:
        """One sentence for a clinician: how strong an unmeasured confounder would have to be."""
        name = {"HR": "hazard ratio", "SHR": "subdistribution hazard ratio",
                "RR": "risk ratio"}[self.measure]
        ci = ""
        if math.isfinite(self.lower) and math.isfinite(self.upper):
            ci = f" ({ci_level}% CI {self.lower:.2f}\u2013{self.upper:.2f})"
        if not math.isfinite(self.evalue):
            return f"For the {name} of {self.estimate:.2f}{ci}, {self.caveat}."
        if self.estimate == 1.0:
            return (f"The {name} of {self.estimate:.2f}{ci} shows no association between "
                    f"{exposure} and {outcome}, so there is nothing for confounding to explain "
                    f"away (E-value 1).")
        head = (f"To explain away the {name} of {self.estimate:.2f}{ci}, an unmeasured "
                f"confounder would have to be associated with both {exposure} and {outcome} by "
                f"a risk ratio of at least {self.evalue:.2f} each, over and above the measured "
                f"covariates")
        if not math.isfinite(self.evalue_ci):
            tail = ""
        elif self.ci_includes_one:
            tail = ("; the confidence interval already includes 1, so no unmeasured "
                    "confounding is needed to make it compatible with no effect")
        else:
            tail = (f", and by at least {self.evalue_ci:.2f} each to move the confidence "
                    f"interval to include 1")
        note = f" ({self.caveat})" if self.caveat else ""
        return head + tail + note + "."


def _check_interval(est: float, lower, upper) -> tuple[float, float]:
    if (lower is None) != (upper is None):
        raise InputError("give both confidence limits or neither",
                         value=(lower, upper))
    if lower is None:
        return math.nan, math.nan
    lo = _positive(lower, "lower confidence limit")
    hi = _positive(upper, "upper confidence limit")
    if lo > hi:
        raise InputError("the lower confidence limit is above the upper one", value=(lo, hi))
    if not lo <= est <= hi:
        raise InputError("the estimate is outside its confidence interval",
                         value=(est, lo, hi))
    return lo, hi


def _evalues(est, lo, hi, rr, rr_lo, rr_hi) -> tuple[float, float]:
    e = evalue_of_rr(rr)
    if math.isnan(lo):
        return e, math.nan
    if lo <= 1.0 <= hi:  # the interval includes 1 (R: the limit on the null's side crosses it)
        return e, 1.0
    nearest = rr_lo if rr > 1 else rr_hi
    return e, evalue_of_rr(nearest)


def evalue_rr(rr: float, lower: float | None = None, upper: float | None = None) -> EValue:
    """E-values of a risk ratio and its CI; = ``EValue::evalues.RR(est, lo, hi)``."""
    est = _positive(rr, "risk ratio")
    lo, hi = _check_interval(est, lower, upper)
    e, e_ci = _evalues(est, lo, hi, est, lo, hi)
    return EValue(est, lo, hi, "RR", None, est, lo, hi, e, e_ci)


def evalue_hr(hr: float, lower: float | None = None, upper: float | None = None, *,
              rare: bool) -> EValue:
    """E-values of a hazard ratio and its CI; = ``EValue::evalues.HR(est, lo, hi, rare)``.

    ``rare`` must be said: True when the outcome occurs in under about 15% of patients by the
    end of follow-up (the HR is then taken as a risk ratio), False otherwise (the conversion
    ``(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))`` is applied to the estimate and to each limit).
    """
    if not isinstance(rare, bool):
        raise InputError("rare must be True (outcome under about 15% by the end of follow-up) "
                         "or False", value=rare)
    est = _positive(hr, "hazard ratio")
    lo, hi = _check_interval(est, lower, upper)
    rr = hr_to_rr(est, rare=rare)
    rr_lo = math.nan if math.isnan(lo) else hr_to_rr(lo, rare=rare)
    rr_hi = math.nan if math.isnan(hi) else hr_to_rr(hi, rare=rare)
    e, e_ci = _evalues(est, lo, hi, rr, rr_lo, rr_hi)
    return EValue(est, lo, hi, "HR", rare, rr, rr_lo, rr_hi, e, e_ci)


def evalue_shr(shr: float, lower: float | None = None, upper: float | None = None, *,
               rare: bool | None = None, approximate: bool = False) -> EValue:
    """A subdistribution hazard ratio (Fine-Gray): no E-value by default, only the caveat.

    There is no agreed conversion of an SHR to a risk ratio, so the E-values are NaN and
    ``caveat`` says why. With ``approximate=True`` (and ``rare`` said) the SHR is treated as a
    hazard ratio, as :func:`evalue_hr` would treat it, and the caveat says that it was.
    """
    est = _positive(shr, "subdistribution hazard ratio")
    lo, hi = _check_interval(est, lower, upper)
    if not approximate:
        nan = math.nan
        return EValue(est, lo, hi, "SHR", rare, nan, nan, nan, nan, nan, SHR_CAVEAT)
    if not isinstance(rare, bool):
        raise InputError("an approximate E-value of an SHR needs rare=True or rare=False",
                         value=rare)
    r = evalue_hr(est, None if math.isnan(lo) else lo, None if math.isnan(hi) else hi,
                  rare=rare)
    return EValue(est, lo, hi, "SHR", rare, r.rr, r.rr_lower, r.rr_upper, r.evalue,
                  r.evalue_ci, SHR_APPROXIMATE_CAVEAT)
