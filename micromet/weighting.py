"""Propensity-score weights (ATT and overlap) and covariate balance after weighting.

The propensity score is ``micromet.matching.fit_propensity`` (= R's ``glm(treat ~ covariates,
family = binomial)``, fitted values). From it:

* **ATT** (average treatment effect in the treated) inverse-probability weights: treated 1,
  control ``ps / (1 - ps)`` (the odds), as ``WeightIt::weightit(..., estimand = "ATT")``;
* **overlap** weights (ATO; Li, Morgan & Zaslavsky 2018, JASA 113:390): treated ``1 - ps``,
  control ``ps``, as ``WeightIt::weightit(..., estimand = "ATO")``.

Balance after weighting is the weighted standardized mean difference of ``cobalt::bal.tab``
(its "faq" vignette): the weighted means ``sum(w x) / sum(w)`` in each group, their difference
divided by a standardization factor that is the same before and after weighting, computed
**without** the weights:

* ``s_d_denom = "treated"`` (cobalt's choice for the ATT): the SD of the treated group;
* ``s_d_denom = "pooled"`` (cobalt's choice for the ATE and ATO): ``sqrt((s1^2 + s0^2) / 2)``;

with ``s^2`` the sample variance (``n - 1``) for a continuous variable and ``p (1 - p)`` for a
binary one. As in cobalt, a binary variable's difference is shown raw (a difference in
proportions) unless ``binary = "std"``; a numeric variable with two values is binary; a factor
with two levels is shown as its second level, one with more levels as one indicator per level.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from micromet.design import is_categorical, levels_of, term_name
from micromet.errors import InputError
from micromet.matching.propensity import fit_propensity, treatment_indicator

ESTIMANDS = ("ATT", "ATO")
DENOMINATORS = ("treated", "pooled")


def weights_from_propensity(ps, treated, estimand: str = "ATT") -> np.ndarray:
    """ATT weights (treated 1, control ps/(1-ps)) or overlap weights (treated 1-ps, control ps)
    from propensity scores ``ps`` and a 0/1 (or boolean) ``treated``."""
    estimand = str(estimand).upper()
    if estimand not in ESTIMANDS:
        raise InputError(f"estimand must be one of {', '.join(ESTIMANDS)}", value=estimand)
    p = np.asarray(ps, dtype=float)
    t = np.asarray(treated).astype(bool)
    if p.shape != t.shape:
        raise InputError("propensity scores and treatment differ in length",
                         value=(len(p), len(t)))
    bad = ~((p >= 0) & (p <= 1))
    if bad.any():
        raise InputError("a propensity score must lie in [0, 1]", row=int(np.argmax(bad)),
                         value=float(p[np.argmax(bad)]))
    if estimand == "ATT":
        with np.errstate(divide="ignore"):
            odds = p / (1.0 - p)
        inf = ~t & ~np.isfinite(odds)
        if inf.any():
            raise InputError("a control unit has propensity 1: its ATT weight is infinite",
                             row=int(np.argmax(inf)))
        return np.where(t, 1.0, odds)
    return np.where(t, 1.0 - p, p)


def propensity_weights(data: pd.DataFrame, treatment: str, covariates: list[str], *,
                       estimand: str = "ATT") -> pd.DataFrame:
    """Propensity scores and weights for ``estimand`` ("ATT" or "ATO" = overlap).

    The propensity model is :func:`micromet.matching.fit_propensity` (R: ``glm(treatment ~
    covariates, family = binomial)``; its fitted values agree with glm's to about 1e-13).
    Returns a DataFrame with the index of ``data`` and columns ``treated`` (bool),
    ``propensity`` and ``weight``; the fitted model is in ``.attrs["propensity_fit"]``.
    """
    fit = fit_propensity(data, treatment, list(covariates))
    t = treatment_indicator(data, treatment)
    ps = fit.fitted.to_numpy(dtype=float)
    out = pd.DataFrame({"treated": t, "propensity": ps,
                        "weight": weights_from_propensity(ps, t, estimand)}, index=data.index)
    out.attrs["propensity_fit"] = fit
    out.attrs["estimand"] = str(estimand).upper()
    return out


def _balance_columns(data: pd.DataFrame, covariates: list[str]) -> dict[str, np.ndarray]:
    """Covariates as cobalt shows them (see the module docstring)."""
    cols: dict[str, np.ndarray] = {}
    for cov in covariates:
        if cov not in data.columns:
            raise InputError("covariate not in the data", column=cov)
        s = data[cov]
        miss = s.isna().to_numpy()
        if miss.any():
            raise InputError("missing value in a covariate", column=cov,
                             row=s.index[int(np.argmax(miss))])
        if is_categorical(s):
            levels = levels_of(s)
            values = s.astype("object").to_numpy()
            shown = levels[1:] if len(levels) == 2 else levels
            for level in shown:
                cols[term_name(cov, level)] = (values == level).astype(float)
            continue
        x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(x)
        if bad.any():
            row = s.index[int(np.argmax(bad))]
            raise InputError("covariate is not a finite number", column=cov, row=row,
                             value=s.loc[row])
        cols[cov] = x
    return cols


def _variance(x: np.ndarray, binary: bool) -> float:
    if binary:
        p = float(x.mean())
        return p * (1.0 - p)
    return float(np.var(x, ddof=1)) if len(x) > 1 else math.nan


def weighted_balance(data: pd.DataFrame, treatment: str, covariates: list[str], weights, *,
                     s_d_denom: str = "treated", binary: str = "raw") -> pd.DataFrame:
    """Covariate balance after weighting, as ``cobalt::bal.tab(covs, treat, weights = w,
    s.d.denom = s_d_denom, binary = binary)`` defines it.

    ``weights``: a column name of ``data`` or an array/Series in the rows' order (e.g. the
    ``weight`` column of :func:`propensity_weights`). ``s_d_denom``: "treated" (cobalt's default
    for the ATT) or "pooled" (its default for the ATE and overlap weights). ``binary``: "raw"
    (cobalt's default: differences in proportion) or "std".

    Returns one row per shown covariate with columns ``type`` ("binary"/"continuous"),
    ``mean_treated``, ``mean_control`` (weighted), ``diff`` (weighted; standardized unless
    raw), ``diff_unadjusted`` (the same without weights), ``sd_denominator`` (the unweighted
    standardization factor) and ``smd`` (the weighted difference over that factor, for every
    variable, whatever ``binary`` says).
    """
    if s_d_denom not in DENOMINATORS:
        raise InputError(f"s_d_denom must be one of {', '.join(DENOMINATORS)}",
                         value=s_d_denom)
    if binary not in ("raw", "std"):
        raise InputError("binary must be 'raw' or 'std'", value=binary)
    t = treatment_indicator(data, treatment)
    if isinstance(weights, str):
        if weights not in data.columns:
            raise InputError("weights column not in the data", column=weights)
        w = pd.to_numeric(data[weights], errors="coerce").to_numpy(dtype=float,
                                                                  na_value=np.nan)
        name = weights
    else:
        w = np.asarray(weights, dtype=float)
        name = None
        if w.shape != (len(data),):
            raise InputError("one weight per row is needed", value=w.shape)
    bad = ~(np.isfinite(w) & (w >= 0))
    if bad.any():
        raise InputError("weights must be finite and not negative", column=name,
                         row=data.index[int(np.argmax(bad))], value=float(w[np.argmax(bad)]))
    if w[t].sum() <= 0 or w[~t].sum() <= 0:
        raise InputError("each group needs a positive total weight", column=name)
    rows = []
    for term, x in _balance_columns(data, list(covariates)).items():
        is_bin = bool(np.all((x == 0) | (x == 1))) or len(np.unique(x)) == 2
        if is_bin and not np.all((x == 0) | (x == 1)):
            x = (x == x.max()).astype(float)  # two values: the larger one is "1"
        v1, v0 = _variance(x[t], is_bin), _variance(x[~t], is_bin)
        sd = math.sqrt(v1) if s_d_denom == "treated" else math.sqrt((v1 + v0) / 2.0)
        m1 = float(np.sum(w[t] * x[t]) / np.sum(w[t]))
        m0 = float(np.sum(w[~t] * x[~t]) / np.sum(w[~t]))
        raw_un = float(x[t].mean() - x[~t].mean())
        smd = (m1 - m0) / sd if sd > 0 else math.nan
        smd_un = raw_un / sd if sd > 0 else math.nan
        standardize = not is_bin or binary == "std"
        rows.append({"term": term, "type": "binary" if is_bin else "continuous",
                     "mean_treated": m1, "mean_control": m0,
                     "diff": smd if standardize else m1 - m0,
                     "diff_unadjusted": smd_un if standardize else raw_un,
                     "sd_denominator": sd, "smd": smd})
    out = pd.DataFrame(rows).set_index("term")
    out.attrs["s_d_denom"] = s_d_denom
    out.attrs["binary"] = binary
    return out
