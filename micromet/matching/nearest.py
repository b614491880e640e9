"""Nearest-neighbour matching on the propensity score, as ``MatchIt::matchit(method = "nearest")``
(>= 4.5.4; the 4.5.1 behaviour on request), with its weights and sample sizes.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from micromet.errors import InputError
from micromet.matching.propensity import (
    MatchingWarning,
    PropensityFit,
    fit_propensity,
    treatment_indicator,
)

M_ORDERS = ("largest", "smallest", "data", "random")


ABS_MODES = ("exact", "int_trunc")


SAMPLE_SIZE_ROWS = ["All", "Matched (ESS)", "Matched", "Unmatched", "Discarded"]


def _find(parent: list[int], x: int) -> int:
    """Root of x with path compression (the "next available position" structure)."""
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


def nearest_neighbor(
    distance: np.ndarray,
    treated: np.ndarray,
    order: np.ndarray,
    *,
    ratio: int = 1,
    caliper: float | None = None,
    replace: bool = False,
    abs_mode: str = "exact",
    row_check_451: bool = False,
) -> np.ndarray:
    """The match matrix, by position: row i = ``order``-independent treated unit number i (data
    order), column r = position of its (r+1)-th control or -1.

    ``order`` lists treated unit numbers (0..n1-1, data order) in processing order. Cost
    O(n log n): one stable sort of all units, then for every treated unit and round a
    "nearest available control to the left/right" lookup in union-find structures over sorted
    positions (used controls and treated units are skipped in amortized constant time).
    ``abs_mode="int_trunc"`` emulates the integer ``abs()`` of MatchIt 4.5.1-4.5.3 (METHODS 1.5),
    only to compare with fixtures made by that build. ``row_check_451=True`` emulates the other
    4.5.1-4.5.2 defect (kosukeimai/MatchIt#159, fixed in 4.5.3): from round 2 on, a treated unit's
    walk should skip the controls already in its row, but 4.5.1 compares 0-based with 1-based
    indexes and so skips instead the unit that *follows* each of them in data order (with
    replacement the same control is then matched again and again).
    """
    d = np.asarray(distance, dtype=float)
    tr = np.asarray(treated, dtype=bool)
    n = len(d)
    sort_idx = np.argsort(d, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[sort_idx] = np.arange(n)
    treated_units = np.flatnonzero(tr)
    is_ctrl_sorted = ~tr[sort_idx]
    # left structure: slot q+1 stands for sorted position q, slot 0 = "none to the left"
    lp = np.arange(n + 1)
    lp[1:][~is_ctrl_sorted] = np.flatnonzero(~is_ctrl_sorted)
    # right structure: slot q = sorted position q, slot n = "none to the right"
    rp = np.arange(n + 1)
    rp[:-1][~is_ctrl_sorted] = np.flatnonzero(~is_ctrl_sorted) + 1
    lp = lp.tolist()
    rp = rp.tolist()
    ds = d[sort_idx].tolist()
    unit_at = sort_idx.tolist()
    n_available = int(is_ctrl_sorted.sum())
    truncate = abs_mode == "int_trunc"

    def A(x: float):
        if truncate and math.isfinite(x):
            return abs(math.trunc(x))
        return abs(x)

    cal = caliper
    mm = np.full((len(treated_units), ratio), -1, dtype=np.int64)
    track = replace or row_check_451
    rows: list[set] = [set() for _ in treated_units] if track else []
    pos_of = rank[treated_units].tolist()
    order_list = [int(i) for i in order]
    done = False
    for r in range(ratio):
        if done:
            break
        for i in order_list:
            p = pos_of[i]
            dt = ds[p]
            # left: nearest available control at a sorted position < p
            x = p
            left = -1
            while True:
                root = _find(lp, x)
                if root == 0:
                    break
                q = root - 1
                if track and unit_at[q] in rows[i]:
                    x = q
                    continue
                left = q
                break
            if left >= 0 and cal is not None and A(dt - ds[left]) > cal:
                left = -1
            x = p + 1
            right = -1
            while True:
                root = _find(rp, x)
                if root == n:
                    break
                q = root
                if track and unit_at[q] in rows[i]:
                    x = q + 1
                    continue
                right = q
                break
            if right >= 0 and cal is not None and A(dt - ds[right]) > cal:
                right = -1
            if left >= 0 and right >= 0:
                chosen = left if A(ds[left] - dt) <= A(ds[right] - dt) else right
            elif left >= 0:
                chosen = left
            elif right >= 0:
                chosen = right
            else:
                continue
            unit = unit_at[chosen]
            mm[i, r] = unit
            if track:
                rows[i].add(unit + 1 if row_check_451 else unit)
            if not replace:
                lp[chosen + 1] = chosen
                rp[chosen] = chosen + 1
                n_available -= 1
                if n_available == 0:
                    done = True
                    break
    return mm


def matching_weights(mm: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """MatchIt's ATT weights from a positional match matrix (METHODS 1.4).

    Matched treated units 1, unmatched 0; a control gets the sum over its treated units t of
    1/k_t (k_t = controls t received), rescaled so the nonzero control weights average 1.
    """
    tr = np.asarray(treated, dtype=bool)
    w = np.zeros(len(tr))
    treated_units = np.flatnonzero(tr)
    k = (mm >= 0).sum(axis=1)
    w[treated_units[k > 0]] = 1.0
    for r in range(mm.shape[1]):
        has = mm[:, r] >= 0
        np.add.at(w, mm[has, r], 1.0 / k[has])
    ctrl = ~tr
    wc = w[ctrl]
    total = wc.sum()
    if total > 0:
        w[ctrl] = wc * (np.count_nonzero(wc) / total)
    return w


@dataclass
class MatchResult:
    """What ``matchit`` returns, for nearest-neighbour matching.

    ``distance``: the distance used (index of data); ``caliper``: absolute caliper on the distance
    scale or None; ``match_matrix``: index = treated labels in data order, columns 1..ratio,
    values = control labels or NA; ``weights``; ``subclass`` (nullable Int64; the pair sets
    numbered 1..K in the data order of their treated unit; all NA with replacement, as MatchIt
    gives no subclass then); ``matched``: the rows with weight > 0 plus columns ``weights``,
    ``subclass``, ``distance`` (like ``match.data``); ``unmatched_treated``: labels of treated
    units that found no control; ``propensity``: the ``PropensityFit`` (None for a supplied
    distance); ``n``: sample sizes as in ``summary.matchit`` (rows All, Matched (ESS), Matched,
    Unmatched, Discarded; columns Control, Treated).
    """

    distance: pd.Series
    caliper: float | None
    match_matrix: pd.DataFrame
    weights: pd.Series
    subclass: pd.Series
    matched: pd.DataFrame
    unmatched_treated: list
    propensity: PropensityFit | None
    n: pd.DataFrame
    treated: pd.Series
    ratio: int = 1
    replace: bool = False
    m_order: str = "largest"
    abs_mode: str = "exact"
    info: dict = field(default_factory=dict)


def sample_sizes(weights: np.ndarray, treated: np.ndarray) -> pd.DataFrame:
    """``summary.matchit``'s sample-size table (no discarding, no sampling weights)."""
    w = np.asarray(weights, dtype=float)
    tr = np.asarray(treated, dtype=bool)
    out = {}
    for name, g in (("Control", ~tr), ("Treated", tr)):
        wg = w[g]
        s2 = float(np.sum(wg**2))
        out[name] = [
            float(g.sum()),
            float(wg.sum() ** 2 / s2) if s2 > 0 else 0.0,
            float(np.count_nonzero(wg > 0)),
            float(np.count_nonzero(wg == 0)),
            0.0,
        ]
    return pd.DataFrame(out, index=SAMPLE_SIZE_ROWS)


def _check_names(data: pd.DataFrame, covariates: list[str]) -> None:
    missing = [c for c in covariates if c not in data.columns]
    if missing:
        raise InputError(
            f"covariate not in the data (columns are: {', '.join(map(str, data.columns))})",
            column=missing[0],
        )


def _distance_values(data: pd.DataFrame, distance, *, allow_infinite: bool = False) -> np.ndarray:
    if isinstance(distance, pd.Series):
        if not distance.index.equals(data.index):
            missing = data.index.difference(distance.index)
            if len(missing):
                raise InputError("distance has no value for a row", column="distance",
                                 row=missing[0])
            distance = distance.reindex(data.index)
        d = distance.to_numpy(dtype=float, na_value=np.nan)
    else:
        d = np.asarray(distance, dtype=float).reshape(-1)
        if len(d) != len(data):
            raise InputError(
                f"distance has {len(d)} values for {len(data)} rows", column="distance"
            )
    bad = np.isnan(d) if allow_infinite else ~np.isfinite(d)
    if bad.any():
        raise InputError("distance must be finite", column="distance",
                         row=data.index[np.argmax(bad)], value=float(d[np.argmax(bad)]))
    return d


def match(
    data: pd.DataFrame,
    treatment: str,
    covariates: list[str],
    *,
    ratio: int = 1,
    caliper: float | None = None,
    std_caliper: bool = True,
    replace: bool = False,
    m_order: str = "largest",
    distance="linear_logit",
    seed: int | None = None,
    abs_mode: str = "exact",
    row_check_451: bool = False,
    convergence: str = "glm",
) -> MatchResult:
    """Nearest-neighbour propensity-score matching (ATT), as ``MatchIt::matchit`` >= 4.5.4.

    Equivalent R call: ``matchit(treat ~ covariates, data, method = "nearest", distance = "glm",
    link = "linear.logit" | "logit", ratio, caliper, std.caliper, replace, m.order)``.
    ``distance``: "linear_logit" (the logit of the propensity score, the linear predictor),
    "logit" (the propensity score itself), or a precomputed Series (index of data) / array.
    ``caliper``: in standard deviations of the distance over all units when ``std_caliper``
    (sample SD, n-1), else absolute; a control is acceptable when |d_t - d_c| <= caliper. (With
    separation in the propensity model the separated units' distance is infinite; the SD is then
    taken over the finite distances, and those units are never within a caliper.)
    ``m_order="random"`` uses ``seed`` (numpy's generator: not R's random order).
    ``abs_mode="int_trunc"`` emulates the integer-abs bug of MatchIt 4.5.1-4.5.3 (Debian's build),
    for comparisons with that build only, as is ``row_check_451=True`` (its other ratio > 1
    defect, see ``nearest_neighbor``). ``convergence``: see ``fit_propensity``.
    Treated units without an acceptable control are left unmatched (weight 0), listed in
    ``.unmatched_treated`` and announced by a ``MatchingWarning``.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame")
    if not data.index.is_unique:
        raise InputError("the data index must be unique (it labels the matched units)")
    if isinstance(ratio, bool) or not isinstance(ratio, (int, np.integer)) or ratio < 1:
        raise InputError(f"ratio must be a positive integer, got {ratio!r}")
    ratio = int(ratio)
    if m_order not in M_ORDERS:
        raise InputError(f"m_order must be one of {', '.join(M_ORDERS)}, got {m_order!r}")
    if abs_mode not in ABS_MODES:
        raise InputError(f"abs_mode must be one of {', '.join(ABS_MODES)}, got {abs_mode!r}")
    if caliper is not None:
        if not isinstance(caliper, (int, float, np.floating, np.integer)) or not caliper > 0:
            raise InputError(f"caliper must be a positive number, got {caliper!r}")
        if math.isinf(caliper):
            caliper = None
    treated = treatment_indicator(data, treatment)
    fit = None
    if isinstance(distance, str):
        if distance not in ("linear_logit", "logit"):
            raise InputError(
                f"distance must be 'linear_logit', 'logit' or a Series, got {distance!r}"
            )
        fit = fit_propensity(data, treatment, covariates, convergence=convergence)
        d = (fit.linear_predictor if distance == "linear_logit" else fit.fitted).to_numpy()
    else:
        _check_names(data, covariates)  # the covariates are only named (for balance) here
        d = _distance_values(data, distance)
    caliper_abs = None
    if caliper is not None:
        if std_caliper:
            finite = d[np.isfinite(d)]
            caliper_abs = float(caliper) * float(np.std(finite, ddof=1))
        else:
            caliper_abs = float(caliper)
    n1 = int(treated.sum())
    n0 = len(treated) - n1
    if m_order == "data" or replace:
        order = np.arange(n1)  # with replacement the order cannot matter (MatchIt uses "data")
    elif m_order == "random":
        order = np.random.default_rng(seed).permutation(n1)
    elif m_order == "largest":
        order = np.argsort(-d[treated], kind="stable")
    else:
        order = np.argsort(d[treated], kind="stable")
    if not replace:
        if n0 < n1:
            warnings.warn(
                "Fewer control units than treated units; not all treated units will get a match.",
                MatchingWarning,
                stacklevel=2,
            )
        elif n0 < ratio * n1:
            warnings.warn(f"Not all treated units will get {ratio} matches.", MatchingWarning,
                          stacklevel=2)
    mm = nearest_neighbor(d, treated, order, ratio=ratio, caliper=caliper_abs, replace=replace,
                          abs_mode=abs_mode, row_check_451=row_check_451)
    w = matching_weights(mm, treated)
    labels = data.index
    treated_labels = labels[treated]
    mm_labels = np.empty(mm.shape, dtype=object)
    mm_labels[:] = pd.NA
    has = mm >= 0
    mm_labels[has] = np.asarray(labels, dtype=object)[mm[has]]
    match_matrix = pd.DataFrame(mm_labels, index=treated_labels,
                                columns=pd.RangeIndex(1, ratio + 1))
    match_matrix.index.name = labels.name
    subclass = pd.Series(pd.NA, index=labels, dtype="Int64", name="subclass")
    matched_treated = np.flatnonzero(has.any(axis=1))
    if not replace:
        sub = np.full(len(labels), -1, dtype=np.int64)
        tpos = np.flatnonzero(treated)
        for k, i in enumerate(matched_treated, start=1):
            sub[tpos[i]] = k
            sub[mm[i][mm[i] >= 0]] = k
        subclass = pd.Series(pd.array(np.where(sub > 0, sub, 0), dtype="Int64"), index=labels,
                             name="subclass")
        subclass[sub <= 0] = pd.NA
    unmatched = list(treated_labels[~has.any(axis=1)])
    if unmatched:
        why = "within the caliper" if caliper_abs is not None else "available"
        warnings.warn(  # which ones: .unmatched_treated (row labels identify patients)
            f"{len(unmatched)} of {n1} treated units have no control {why} and are left "
            "unmatched (weight 0)",
            MatchingWarning,
            stacklevel=2,
        )
    weights = pd.Series(w, index=labels, name="weights")
    dist = pd.Series(d, index=labels, name="distance")
    keep = w > 0
    matched = data.loc[keep].copy()
    matched["weights"] = weights[keep]
    matched["subclass"] = subclass[keep]
    if "distance" not in matched.columns:
        matched["distance"] = dist[keep]
    return MatchResult(
        distance=dist,
        caliper=caliper_abs,
        match_matrix=match_matrix,
        weights=weights,
        subclass=subclass,
        matched=matched,
        unmatched_treated=unmatched,
        propensity=fit,
        n=sample_sizes(w, treated),
        treated=pd.Series(treated, index=labels, name=treatment),
        ratio=ratio,
        replace=replace,
        m_order=m_order,
        abs_mode=abs_mode,
        info={"positions": mm, "order": order},
    )
