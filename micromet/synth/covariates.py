"""The covariates of the synthetic cohort, placed so that the published margins hold exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from micromet.errors import InputError
from micromet.synth.params import SUBTYPES


def _round_total(x: np.ndarray, total: int | None = None) -> np.ndarray:
    """Round non-negative reals to integers summing to ``total`` (largest remainder)."""
    x = np.asarray(x, dtype=float)
    if total is None:
        total = int(round(x.sum()))
    base = np.floor(x).astype(np.int64)
    short = total - int(base.sum())
    if short > 0:
        order = np.argsort(-(x - base), kind="stable")[:short]
        base[order] += 1
    elif short < 0:
        order = np.argsort(x - base, kind="stable")
        order = order[base[order] > 0][:-short]
        base[order] -= 1
    return base


def _top_k(score: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros(score.size, dtype=bool)
    if k > 0:
        out[np.argsort(-score, kind="stable")[:k]] = True
    return out


def _by_rank(sorted_values: np.ndarray, score: np.ndarray) -> np.ndarray:
    out = np.empty_like(sorted_values)
    out[np.argsort(score, kind="stable")] = sorted_values
    return out


def _z(x: np.ndarray) -> np.ndarray:
    s = x.std()
    return (x - x.mean()) / (s if s > 0 else 1.0)


def _grid(n: int) -> np.ndarray:
    return special.ndtri((np.arange(n) + 0.5) / n)


def _pw(v: np.ndarray, knots_v, knots_y) -> np.ndarray:
    return np.interp(v, knots_v, knots_y)


def placed_sizes(n: int, quartiles, n_over_50: int, lower_tail: float = 1.0) -> np.ndarray:
    """Sorted integer tumour sizes (mm) whose type-7 quartiles are ``quartiles`` exactly and of
    which exactly ``n_over_50`` exceed 50 mm (lognormal-like shape, bent above 50 mm).
    ``lower_tail`` scales the log-size slope below the first quartile (< 1: fewer tiny ones)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    v = _grid(n)
    qv = np.quantile(v, [0.25, 0.5, 0.75])
    lq = np.log(np.asarray(quartiles, dtype=float))
    s_lo = lower_tail * (lq[1] - lq[0]) / (qv[1] - qv[0])
    if 0 < n_over_50 < n:
        vstar = 0.5 * (v[n - n_over_50 - 1] + v[n - n_over_50])
    else:
        vstar = v[-1] + 1.0 if n_over_50 == 0 else v[0] - 1.0
    l50 = np.log(50.5)
    s_hi = (l50 - lq[2]) / (vstar - qv[2]) if vstar > qv[2] else (lq[2] - lq[1]) / (qv[2] - qv[1])
    y = _pw(v, qv, lq)
    lo = v < qv[0]
    y[lo] = lq[0] - (qv[0] - v[lo]) * s_lo
    mid = (v > qv[2]) & (v <= vstar)
    y[mid] = lq[2] + (v[mid] - qv[2]) * s_hi
    hi = v > vstar
    y[hi] = l50 + (v[hi] - vstar) * s_hi / 2
    return np.clip(np.rint(np.exp(y)), 1, 200).astype(np.int64)


#: Tail shapes per group (quartiles are exact whatever they are). A longer old-age tail for M0
#: and a longer young tail for M0(i+) (age), and fewer very small M0(i+) tumours (size), bring
#: the Wilcoxon p values to the published 0.002 (age) and 0.617 (size).
_AGE_HIGH = {"M0": 94.0, "M0(i+)": 90.0}


_AGE_LOWER_TAIL = {"M0": 1.0, "M0(i+)": 1.07}


_SIZE_LOWER_TAIL = {"M0": 1.0, "M0(i+)": 0.87}


#: Share of the T3-T4 count that are tumours > 50 mm (T3); the rest are T4 at any size.
_T3_SHARE = {"M0": 0.8, "M0(i+)": 0.83}


def placed_ages(n: int, quartiles, low: float = 17.6, high: float = 92.0,
                lower_tail: float = 1.0) -> np.ndarray:
    """Sorted integer ages 18-89 with type-7 quartiles exactly ``quartiles`` (tails approach
    ``low`` and ``high`` exponentially, so the young and the very old are rare).
    ``lower_tail`` scales the slope below the first quartile (> 1: more young patients)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    v = _grid(n)
    qv = np.quantile(v, [0.25, 0.5, 0.75])
    q = np.asarray(quartiles, dtype=float)
    s_lo = lower_tail * (q[1] - q[0]) / (qv[1] - qv[0])
    s_hi = (q[2] - q[1]) / (qv[2] - qv[1])
    y = _pw(v, qv, q)
    lo = v < qv[0]
    y[lo] = q[0] - (q[0] - low) * -np.expm1(-(qv[0] - v[lo]) * s_lo / (q[0] - low))
    hi = v > qv[2]
    y[hi] = q[2] + (high - q[2]) * -np.expm1(-(v[hi] - qv[2]) * s_hi / (high - q[2]))
    return np.clip(np.rint(y), 18, 89).astype(np.int64)


def receptor_table(counts: dict) -> pd.DataFrame:
    """Joint (ER, PR, HER2, subtype) counts whose margins are the published ones (see module
    docstring). ``counts`` holds n, ER+, PR+, HER2+ and the four subtype counts."""
    n = counts["n"]
    sub = [counts[s] for s in SUBTYPES]
    if sum(sub) != n or counts["HR+/HER2+"] + counts["HR-/HER2+"] != counts["HER2+"]:
        raise InputError("subtype counts do not add up to n or to the HER2+ count")
    hr_pos = counts["HR+/HER2-"] + counts["HR+/HER2+"]
    c = hr_pos - counts["ER+"]          # ER-PR+
    a = counts["PR+"] - c               # ER+PR+
    b = counts["ER+"] - a               # ER+PR-
    if min(a, b, c) < 0:
        raise InputError("ER/PR counts are inconsistent with the subtype counts (HR+ = ER+ or PR+)")
    cells = np.array([a, b, c])
    her2p = _round_total(cells * np.array([1.0, 1.6, 1.3]) / (cells * [1.0, 1.6, 1.3]).sum()
                         * counts["HR+/HER2+"], counts["HR+/HER2+"])
    her2p = np.minimum(her2p, cells)
    her2p[0] += counts["HR+/HER2+"] - her2p.sum()
    rows = []
    for (er, pr), m, hp in zip([("Positive", "Positive"), ("Positive", "Negative"),
                                ("Negative", "Positive")], cells, her2p):
        rows.append((er, pr, "Negative", "HR+/HER2-", int(m - hp)))
        rows.append((er, pr, "Positive", "HR+/HER2+", int(hp)))
    rows.append(("Negative", "Negative", "Positive", "HR-/HER2+", counts["HR-/HER2+"]))
    rows.append(("Negative", "Negative", "Negative", "HR-/HER2-", counts["HR-/HER2-"]))
    return pd.DataFrame(rows, columns=["er", "pr", "her2", "subtype", "n"])
