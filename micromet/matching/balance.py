"""Covariate balance before and after matching, as ``summary.matchit`` (SMD, variance ratio,
eCDF statistics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from micromet.design import is_categorical, term_name
from micromet.errors import InputError
from micromet.matching.nearest import MatchResult, _check_names, _distance_values
from micromet.matching.propensity import SQRT_EPS, treatment_indicator

BALANCE_COLUMNS = ["mean_treated", "mean_control", "smd", "var_ratio", "ecdf_mean", "ecdf_max"]


def balance_covariates(data: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """Covariates as ``summary.matchit`` sees them: numeric columns as they are, categorical ones
    expanded to a dummy for every level (``contrasts = FALSE``), named ``col[level]`` with the
    levels in ``design_matrix``'s order. Missing or non-finite values raise ``InputError``."""
    _check_names(data, covariates)
    cols: dict[str, np.ndarray] = {}
    for cov in covariates:
        s = data[cov]
        if is_categorical(s):
            cat = s if isinstance(s.dtype, pd.CategoricalDtype) else pd.Categorical(s)
            cat = pd.Categorical(cat)
            if not isinstance(s.dtype, pd.CategoricalDtype):
                # design_matrix's order for non-categoricals: sorted observed values
                cat = cat.set_categories(sorted(cat.categories.tolist()))
            codes = cat.codes
            if (codes < 0).any():
                row = data.index[np.argmax(codes < 0)]
                raise InputError("missing value in a covariate", column=cov, row=row)
            for k, level in enumerate(cat.categories):
                cols[term_name(cov, level)] = (codes == k).astype(float)
        else:
            x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            bad = ~np.isfinite(x)
            if bad.any():
                row = data.index[np.argmax(bad)]
                value = s.loc[row]
                raise InputError("missing or non-numeric value in a covariate", column=cov,
                                 row=row, value=None if pd.isna(value) else value)
            cols[cov] = x
    return pd.DataFrame(cols, index=data.index)


def _wvar(x: np.ndarray, w: np.ndarray, binary: bool) -> float:
    w = w / w.sum()
    m = float(np.sum(w * x))
    if binary:
        return m * (1.0 - m)
    return float(np.sum(w * (x - m) ** 2) / (1.0 - np.sum(w**2)))


def _pooled_sd(x: np.ndarray, t: np.ndarray, binary: bool) -> float:
    """MatchIt's fallback SD (proportional contributions, unit sampling weights)."""
    n = len(x)
    if binary:
        v = 0.0
        for g in (t, ~t):
            sx = float(x[g].sum())
            v += sx * (1.0 - sx / g.sum()) / n
        return math.sqrt(v)
    xc = x.copy()
    for g in (t, ~t):
        xc[g] = xc[g] - xc[g].mean()
    return math.sqrt(float(np.sum(xc**2) / n) / (1.0 - 1.0 / n))


def _ecdf_stats(x: np.ndarray, t: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    wn = w.astype(float).copy()
    wn[t] = wn[t] / wn[t].sum()
    wn[~t] = -wn[~t] / wn[~t].sum()
    order = np.argsort(x, kind="stable")
    xs = x[order]
    cum = np.cumsum(wn[order])
    last = np.append(xs[1:] != xs[:-1], True)
    ediff = np.abs(cum[last])
    return float(ediff.mean()), float(ediff.max())


def _balance_one(x, t, w, pairs) -> list[float]:
    binary = bool(np.all((x == 0) | (x == 1)))
    wt, wc = w[t], w[~t]
    too_small = np.count_nonzero(wt) < 2 and np.count_nonzero(wc) < 2
    mt = float(np.sum(x[t] * wt) / wt.sum()) if wt.sum() > 0 else np.nan
    mc = float(np.sum(x[~t] * wc) / wc.sum()) if wc.sum() > 0 else np.nan
    mdiff = mt - mc
    pair = np.nan
    raw_pair = np.nan
    if pairs is not None:
        ti, ci = pairs
        raw_pair = float(np.mean(np.abs(x[ti] - x[ci]))) if len(ti) else np.nan
    smd = np.nan
    if abs(mdiff) > SQRT_EPS:
        if not too_small:
            sd = math.sqrt(_wvar(x[t], np.ones(int(t.sum())), binary))
            if not math.isfinite(sd) or sd < SQRT_EPS:
                sd = _pooled_sd(x, t, binary)
            smd = mdiff / sd
            pair = raw_pair / sd if abs(raw_pair) > 1e-8 else raw_pair
    else:
        smd = mdiff
        pair = raw_pair
    var_ratio = ecdf_mean = ecdf_max = np.nan
    if binary:
        ecdf_mean = ecdf_max = abs(mdiff)
    elif not too_small:
        var_ratio = _wvar(x[t], wt, False) / _wvar(x[~t], wc, False)
        ecdf_mean, ecdf_max = _ecdf_stats(x, t, w)
    return [mt, mc, smd, var_ratio, ecdf_mean, ecdf_max, pair]


def balance(
    data: pd.DataFrame,
    treatment: str,
    covariates: list[str],
    weights=None,
    *,
    distance=None,
    match_matrix: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Covariate balance between treated and control units, as ``summary.matchit`` (ATT).

    Without ``weights`` this is ``summary(m)$sum.all``; with the matching weights it is
    ``$sum.matched``. Index: ``distance`` first when a distance is given, then the covariates
    with every level of a categorical one (``col[level]``). Columns: ``mean_treated``,
    ``mean_control`` (weighted means), ``smd`` (standardized by the SD of the *unmatched* treated
    group, sqrt(p(1-p)) for a 0/1 variable; a difference within 1.49e-8 of zero is left
    unstandardized), ``var_ratio`` (weighted variances treated/control; NaN for 0/1 variables),
    ``ecdf_mean``/``ecdf_max`` (weighted eCDF differences on the grid of all distinct values,
    zero-weight units included), and ``pair_dist`` (mean |x_t - x_c| over the pairs of
    ``match_matrix``, standardized like ``smd``) when a match matrix is given. Units with an
    infinite distance (covariate patterns with no treated or no control units, see ``match``)
    are left out of the distance row only.
    """
    t = treatment_indicator(data, treatment)
    X = balance_covariates(data, covariates)
    if distance is not None:
        X.insert(0, "distance", _distance_values(data, distance, allow_infinite=True))
    return _balance_of(data, X, t, weights, match_matrix)


def _balance_of(data, X, t, weights, match_matrix) -> pd.DataFrame:
    if weights is None:
        w = np.ones(len(data))
    else:
        if isinstance(weights, pd.Series):
            weights = weights.reindex(data.index)
        w = np.asarray(weights, dtype=float).reshape(-1)
        if len(w) != len(data) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InputError("weights must be finite, non-negative, one per row",
                             column="weights")
    pairs = None
    if match_matrix is not None:
        tpos = data.index.get_indexer(match_matrix.index)
        ti, ci = [], []
        for col in match_matrix.columns:
            vals = match_matrix[col]
            ok = vals.notna().to_numpy()
            cpos = data.index.get_indexer(vals[ok].tolist())
            ti.append(tpos[ok])
            ci.append(cpos)
        ti = np.concatenate(ti) if ti else np.empty(0, dtype=int)
        ci = np.concatenate(ci) if ci else np.empty(0, dtype=int)
        if np.any(ti < 0) or np.any(ci < 0):
            raise InputError("match_matrix names units that are not in the data")
        pairs = (ti, ci)
    rows = {}
    for name in X.columns:
        x = X[name].to_numpy(dtype=float)
        finite = np.isfinite(x)
        if finite.all():
            rows[name] = _balance_one(x, t, w, pairs)
            continue
        # Only the distance can be infinite: units of a covariate pattern with no treated (or no
        # control) units, whose score glm would push towards 0 (or 1). They have no place on the
        # distance scale, so the distance row is computed over the finite units.
        pos = np.cumsum(finite) - 1
        sub_pairs = None
        if pairs is not None:
            keep = finite[pairs[0]] & finite[pairs[1]]
            sub_pairs = (pos[pairs[0][keep]], pos[pairs[1][keep]])
        rows[name] = _balance_one(x[finite], t[finite], w[finite], sub_pairs)
    cols = [*BALANCE_COLUMNS, "pair_dist"]
    out = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
    if pairs is None:
        out = out.drop(columns="pair_dist")
    out.index.name = "variable"
    return out


@dataclass
class BalanceTable:
    """Balance before and after matching, side by side.

    ``table``: index = variable (``distance`` first), columns ``<stat>_before`` for the six
    ``balance`` statistics on all data and ``<stat>_after`` on the matched data, plus
    ``pair_dist_after`` (``summary.matchit``'s ``sum.all`` and ``sum.matched``); ``n``: sample sizes.
    """

    table: pd.DataFrame
    n: pd.DataFrame


def balance_table(
    result: MatchResult, data: pd.DataFrame, treatment: str, covariates: list[str]
) -> BalanceTable:
    """``summary(m)``: balance before and after matching, and the sample sizes."""
    t = treatment_indicator(data, treatment)
    X = balance_covariates(data, covariates)
    X.insert(0, "distance", _distance_values(data, result.distance, allow_infinite=True))
    before = _balance_of(data, X, t, None, None)
    after = _balance_of(data, X, t, result.weights, result.match_matrix)
    table = pd.concat([before.add_suffix("_before"), after.add_suffix("_after")], axis=1)
    return BalanceTable(table=table, n=result.n.copy())
