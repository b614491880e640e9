"""The log-rank test and its G-rho family, as ``survival::survdiff``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from micromet.errors import InputError
from micromet.survival.coxfit import _RiskSets
from micromet.survival.data import (
    _codes,
    _durations,
    _events,
    _labels_column,
    _require_columns,
    timefix,
)


@dataclass
class LogrankResult:
    """Result of :func:`logrank`; agrees with ``survdiff``.

    ``table``: index = group level; columns n, observed, expected, oe2_e ((O-E)^2/E) and
    oe2_v ((O-E)^2/V), summed over strata as survdiff prints them.
    """

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame
    variance: np.ndarray
    rho: float = 0.0


def logrank(data, duration, event, group, *, strata=None, rho=0.0) -> LogrankResult:
    """Log-rank (``rho = 0``) or Harrington-Fleming G-rho test; = R ``survdiff``.

    At each distinct death time (within stratum) O_k, E_k = d n_k / n and the hypergeometric
    variance are accumulated, weighted by ``S(t-)^rho`` (pooled left-continuous Kaplan-Meier of
    the stratum). The chi-square drops the first group with E > 0; df = #(E > 0) - 1.
    """
    _require_columns(data, [duration, event, group, strata])
    t = timefix(_durations(data, duration))
    d = _events(data, event)
    g, levels = _codes(_labels_column(data, group, "group"))
    if strata is not None:
        s, _ = _codes(_labels_column(data, strata, "stratum"))
    else:
        s = np.zeros(len(t), dtype=np.int64)
    k = len(levels)
    if k < 2:
        raise InputError("the log-rank test needs at least two groups", column=group)

    rs = _RiskSets(t, d, s, np.ones(len(t)), "breslow")
    gs = g[rs.order]
    ds = rs.status
    nb = rs.nb
    # counts per block x group (integers in float: the cumulative sums are exact)
    cnt = np.bincount(rs.block * k + gs, minlength=nb * k).reshape(nb, k).astype(float)
    dth = np.bincount(rs.block * k + gs, weights=ds, minlength=nb * k).reshape(nb, k)
    nk = rs.rev_cumsum(cnt)  # at risk: same stratum, time >= the block's time
    b_strat = s[rs.order][rs.block_start]
    n_all = nk.sum(axis=1)
    d_all = dth.sum(axis=1)
    has = d_all > 0
    nk, n_all, d_all, dk, bs = nk[has], n_all[has], d_all[has], dth[has], b_strat[has]

    if rho != 0:
        w = np.empty(len(n_all))
        for st in np.unique(bs):
            m = bs == st
            surv = np.cumprod(1.0 - d_all[m] / n_all[m])
            w[m] = np.r_[1.0, surv[:-1]] ** rho
    else:
        w = np.ones(len(n_all))
    observed = (w[:, None] * dk).sum(axis=0)
    expected = (w[:, None] * d_all[:, None] * nk / n_all[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(n_all > 1, w**2 * d_all * (n_all - d_all) / (n_all - 1) / n_all, 0.0)
    V = np.diag((c[:, None] * nk).sum(axis=0)) - (c[:, None] * nk / n_all[:, None]).T @ nk
    pos = np.flatnonzero(expected > 0)
    df = max(len(pos) - 1, 0)
    if df < 1:
        stat = 0.0
    else:
        keep = pos[1:]
        oe = (observed - expected)[keep]
        stat = float(oe @ np.linalg.solve(V[np.ix_(keep, keep)], oe))
    p = float(stats.chi2.sf(stat, df)) if df >= 1 else float("nan")
    oe = observed - expected
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pd.DataFrame(
            {
                "n": np.bincount(g, minlength=k),
                "observed": observed,
                "expected": expected,
                "oe2_e": oe**2 / expected,
                "oe2_v": oe**2 / np.diag(V),
            },
            index=pd.Index(levels, name=group),
        )
    return LogrankResult(statistic=stat, df=df, p_value=p, table=table, variance=V, rho=rho)
