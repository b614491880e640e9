"""How numbers read on a page: the one p-value formatter and the one hazard-ratio (CI) formatter.

Pure functions with no micromet imports, so the statistical modules (``describe``, the figures)
can use them without importing the report layer; :mod:`micromet.report` re-exports them.
"""

from __future__ import annotations

import math

EN_DASH = "\u2013"


def _missing(x) -> bool:
    try:
        return x is None or not math.isfinite(float(x))
    except (TypeError, ValueError):
        return True


def fmt_p(p, digits: int = 3, *, label: str | None = None, missing: str = "NA") -> str:
    """A p value as the papers print it: ``digits`` decimals (three by default; at least three
    below 0.01, so a small p never reads 0.00), ``<0.001`` below 0.001, ``missing`` ("NA") when
    there is none. With ``label``: ``"p < 0.001"``, ``"p = 0.042"``, ``"p = NA"``."""
    if _missing(p):
        text = missing
    elif p < 0.001:
        text = "<0.001"
    else:
        text = f"{p:.{digits if p >= 0.01 else max(digits, 3)}f}"
    if label is None:
        return text
    return f"{label} < 0.001" if text == "<0.001" else f"{label} = {text}"


def fmt_hr(hr, lower, upper) -> str:
    """A hazard ratio with its 95% CI, ``"0.803 (0.498–1.296)"`` (three decimals, an en dash
    between the limits; ``1.23e+04`` style beyond 1e4 or below 1e-3); "not estimable" when the
    ratio or a limit is missing or infinite."""
    if any(_missing(v) for v in (hr, lower, upper)):
        return "not estimable"
    return f"{_num(hr)} ({_num(lower)}{EN_DASH}{_num(upper)})"


def _num(x: float) -> str:
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:.2e}"
    return f"{x:.3f}"


def fmt_months(x) -> str:
    """A time in months: whole months as they are (``26``), others to one decimal (``97.8``)."""
    if _missing(x):
        return "NA"
    x = float(x)
    return f"{x:.0f}" if x == round(x) else f"{x:.1f}"


def fmt_followup(fu: dict) -> dict:
    """Median, IQR (en dash) and longest follow-up as text: ``{"median", "iqr", "max",
    "line"}`` (``line``: "27 (13–43), 59")."""
    median, q1, q3, longest = (fmt_months(fu[k]) for k in ("median", "q1", "q3", "max"))
    iqr = f"{q1}{EN_DASH}{q3}"
    return {"median": median, "iqr": iqr, "max": longest,
            "line": f"{median} ({iqr}), {longest}"}
