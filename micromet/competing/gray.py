"""Gray's test of equal cumulative incidence across groups, as ``cmprsk::cuminc``'s tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from micromet.competing.data import _events, _labels, _times
from micromet.errors import InputError


@dataclass
class GrayTestResult:
    """Gray's test of equal cumulative incidence across groups (``cuminc(...)$Tests``)."""

    statistic: float
    df: int
    p_value: float
    cause: int
    score: np.ndarray = field(repr=False, default=None)
    variance: np.ndarray = field(repr=False, default=None)


def _gray_stratum(t, e, g, ngroups: int, cause: int, rho: float):
    """Score vector (K-1) and its variance ((K-1)x(K-1)) of one stratum (METHODS 3.4)."""
    K = ngroups
    ut, start = np.unique(t, return_index=True)
    # counts per distinct time x group
    tidx = np.repeat(np.arange(len(ut)), np.diff(np.append(start, len(t))))
    shape = (len(ut), K)
    n_at = np.zeros(shape)
    d1 = np.zeros(shape)
    d2 = np.zeros(shape)
    np.add.at(n_at, (tidx, g), 1.0)
    np.add.at(d1, (tidx, g), (e == cause).astype(float))
    np.add.at(d2, (tidx, g), ((e != 0) & (e != cause)).astype(float))
    R = np.cumsum(n_at[::-1], axis=0)[::-1]  # at risk, T >= t
    keep = (d1 + d2).sum(axis=1) > 0
    R, d1, d2 = R[keep], d1[keep], d2[keep]
    T = len(R)
    if T == 0:
        return np.zeros(K - 1), np.zeros((K - 1, K - 1))
    live = R > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(live, (R - d1 - d2) / R, 1.0)
        S = np.cumprod(factor, axis=0)
        Sm = np.vstack([np.ones((1, K)), S[:-1]])
        dF = np.where(live, Sm * d1 / R, 0.0)
        F = np.cumsum(dF, axis=0)
        Fm = np.vstack([np.zeros((1, K)), F[:-1]])
        n1 = d1.sum(axis=1)
        h = np.where(live, R / Sm, 0.0)
        tr = h.sum(axis=1)
        tq = np.where(live, R * (1.0 - Fm) / Sm, 0.0).sum(axis=1)
        f = np.cumsum(n1 / tr)
        fm = np.concatenate(([0.0], f[:-1]))
        fb = (1.0 - fm) ** rho
        A = -fb[:, None, None] * h[:, :, None] * h[:, None, :] / tr[:, None, None]
        A[:, np.arange(K), np.arange(K)] += fb[:, None] * h
        a = np.where(n1 > 0, n1 / (tr * (1.0 - fm)), 0.0)
        C = np.cumsum(A * a[:, None, None], axis=0)
        score = (fb[:, None] * np.where(
            live, d1 - n1[:, None] * R * (1.0 - Fm) / (Sm * tq[:, None]), 0.0)).sum(axis=0)
        # cause-of-interest events
        m1 = live & (n1 > 0)[:, None]
        t4 = np.where(S > 0, 1.0 - (1.0 - f[:, None]) / S, 1.0)
        t5 = np.where(n1[:, None] == 1, 1.0, 1.0 - (n1[:, None] - 1.0) / (tr[:, None] * Sm - 1.0))
        t3 = np.where(m1, t5 * Sm * n1[:, None] / (tr[:, None] * R), 0.0)
        t4 = np.where(m1, t4, 0.0)
        v3 = (t4**2 * t3).sum(axis=0)
        # b[t, k, i] = A[t, i, k] - t4[t, k] C[t, i, k]
        b = np.swapaxes(A, 1, 2)[:, :, : K - 1] - t4[:, :, None] * np.swapaxes(C, 1, 2)[:, :, : K - 1]
        b = np.where(m1[:, :, None], b, 0.0)
        v2 = np.einsum("tki,tk->ik", b, t4 * t3)
        V = np.einsum("tki,tkj,tk->ij", b, b, t3)
        # other-cause events
        m2 = (S > 0) & (d2 > 0) & live
        t4o = np.where(m2, (1.0 - f[:, None]) / S, 0.0)
        t5o = np.where(d2 <= 1, 1.0, 1.0 - (d2 - 1.0) / (R - 1.0))
        t3o = np.where(m2, t5o * Sm**2 * d2 / R**2, 0.0)
        v3 = v3 + (t4o**2 * t3o).sum(axis=0)
        bo = t4o[:, :, None] * np.swapaxes(C, 1, 2)[:, :, : K - 1]
        v2 = v2 - np.einsum("tki,tk->ik", bo, t4o * t3o)
        V = V + np.einsum("tki,tkj,tk->ij", bo, bo, t3o)
    Cend = C[-1][: K - 1, :]  # C_ik, i <= K-1
    V = V + (Cend * v3[None, :]) @ Cend.T + Cend @ v2.T + v2 @ Cend.T
    return score[: K - 1], V


def _rank(V: np.ndarray, tol: float = 1e-7) -> int:
    """Rank as R's qr() (LINPACK dqrdc2 limited pivoting, tol 1e-7) decides it."""
    if V.size == 0:
        return 0
    from micromet.design import aliased_columns

    return V.shape[1] - len(aliased_columns(V, intercept=False, tol=tol))


def _gray_core(t, e, g, ngroups, strata_codes, cause, rho) -> GrayTestResult:
    present = np.unique(g)  # as R's factor(group): levels without subjects are not groups
    if len(present) < ngroups:
        g = np.searchsorted(present, g)
    K = len(present)
    s = np.zeros(K - 1)
    V = np.zeros((K - 1, K - 1))
    for st in np.unique(strata_codes):
        m = strata_codes == st
        ss, vv = _gray_stratum(t[m], e[m], g[m], K, cause, rho)
        s += ss
        V += vv
    df = K - 1
    if not np.all(np.isfinite(V)) or _rank(V) < df:
        stat = -1.0
    else:
        stat = float(s @ np.linalg.solve(V, s))
    p = float(1.0 - stats.chi2.cdf(stat, df)) if stat >= 0 else 1.0
    return GrayTestResult(statistic=stat, df=df, p_value=p, cause=cause, score=s, variance=V)


def _gray_table(t, e, g, K, causes, data, strata, order, rho) -> pd.DataFrame:
    if strata is None:
        sc = np.zeros(len(t), dtype=np.int64)
    else:
        sc = _labels(data, strata)[0][order]
    res = [_gray_core(t, e, g, K, sc, c, rho) for c in causes]
    return pd.DataFrame(
        {"stat": [r.statistic for r in res], "pv": [r.p_value for r in res],
         "df": [r.df for r in res]},
        index=pd.Index(causes, name="cause"),
    )


def _gray_inputs(data, duration, event, group, strata):
    t = _times(data, duration)
    e = _events(data, event)
    g, glevels = _labels(data, group)
    sc = _labels(data, strata)[0] if strata is not None else np.zeros(len(t), dtype=np.int64)
    order = np.argsort(t, kind="stable")
    return t[order], e[order], g[order], sc[order], glevels


def gray_test(
    data: pd.DataFrame,
    duration: str,
    event: str,
    group: str,
    cause: int = 1,
    strata: str | None = None,
    rho: float = 0.0,
) -> GrayTestResult:
    """Gray's K-sample test for the cumulative incidence of ``cause`` (``cmprsk::cuminc`` Tests).

    K groups (df = K - 1), strata summed, weight (1 - F(t-))^rho. A singular variance gives
    statistic -1 and p = 1, as R reports it. p = 1 - pchisq(stat, K - 1) as in R.
    """
    t, e, g, sc, glevels = _gray_inputs(data, duration, event, group, strata)
    if len(np.unique(g)) < 2:
        raise InputError("Gray's test needs at least two groups", column=group)
    return _gray_core(t, e, g, len(glevels), sc, int(cause), rho)


def gray_tests(
    data: pd.DataFrame,
    duration: str,
    event: str,
    group: str,
    strata: str | None = None,
    rho: float = 0.0,
) -> pd.DataFrame:
    """Gray's test for every cause, like ``cuminc(...)$Tests``: index cause; columns stat, pv, df."""
    t, e, g, sc, glevels = _gray_inputs(data, duration, event, group, strata)
    if len(np.unique(g)) < 2:
        raise InputError("Gray's test needs at least two groups", column=group)
    causes = sorted(int(c) for c in np.unique(e[e != 0]))
    res = [_gray_core(t, e, g, len(glevels), sc, c, rho) for c in causes]
    return pd.DataFrame(
        {"stat": [r.statistic for r in res], "pv": [r.p_value for r in res],
         "df": [r.df for r in res]},
        index=pd.Index(causes, name="cause"),
    )
