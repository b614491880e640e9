"""Overall survival: Kaplan-Meier, log-rank and Cox regression that agree with R's survival 3.5-3.

What agrees with what (checked against fixtures made by ``tests/reference/survival/make_survival.R``):

* :func:`logrank` = ``survdiff(Surv(time, status) ~ group + strata(s), rho = rho)``;
* :func:`cox` = ``coxph(Surv(time, status) ~ ..., ties = "efron"|"breslow", weights =, cluster =,
  strata =)``: the same Newton-Raphson (start at 0, step halving when the log-likelihood falls,
  converged when ``|1 - loglik_old / loglik_new| <= 1e-9``, at most 20 iterations), the same
  ``robust`` default (on with a cluster or with non-integer weights) and the same grouped
  dfbeta sandwich variance;
* :func:`km` = ``survfit(Surv(time, status) ~ group)`` with ``conf.type = "log"`` (survfit's
  default): ``lower, upper = S * exp(-/+ 1.96 * sigma)``, ``sigma`` the Greenwood standard error of
  ``log S``, the upper limit cut at 1; :func:`survival_at` = ``summary(fit, times = ...)``;
* :func:`median_followup` = ``quantile(survfit(Surv(time, 1 - status) ~ 1))`` (reverse
  Kaplan-Meier);
* :func:`ph_test` = ``cox.zph(fit, transform = "km")`` (survival 3.x score test for adding
  ``x * g(t)``).

Table 3 of study A (each covariate alone, then the multivariable model of the selected ones,
in the paper's layout) is built by :func:`micromet.analyses.screen_and_fit` and
:func:`micromet.analyses.format_models`, the same builder as Fine-Gray's Table 4.

Monotone likelihood (a level without events, a term that separates the events): the term is
reported as "not estimable: ..." (``CoxResult.not_estimable`` and a
:class:`~micromet.errors.NotEstimableWarning`), its row is NaN and the other terms are fitted
without it. :func:`separation_check` (before the fit) and :func:`diverging_terms` (after it) are
written so that Fine-Gray can use them too.

Times are made equal when they differ by less than ``sqrt(machine eps)`` (R's ``timefix = TRUE``).
``event`` may be any numeric or boolean column; every non-zero value is an event.

Every fit sorts the data once; each Newton iteration is a few cumulative sums over the sorted
rows plus one ``X' diag(v) X`` product, so the cost per iteration is O(n p^2) after an
O(n log n) sort. Tied deaths are handled in blocks (Efron's correction runs over the number of
deaths, never over pairs of rows).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse, stats

from micromet.design import (
    Conditioning,
    Design,
    conditioning,
    design_matrix,
    is_categorical,
    levels_of,
    monotone_terms,
    term_words,
)
from micromet.errors import InputError, NotEstimableWarning, UnstableWarning
from micromet.separation import leave_out_covariates, monotone_direction

__all__ = [
    "CoxResult", "FollowUp", "LogrankResult", "PHTestResult",
    "cox", "diverging_terms", "km", "logrank",
    "km_median", "median_followup", "numbers_at_risk", "ph_test",
    "separation_check",
    "survival_at", "timefix",
]

EPS = 1e-9  # coxph.control(eps)
TOLER_CHOL = np.finfo(float).eps ** 0.75  # coxph.control(toler.chol)
TOLER_INF = np.sqrt(EPS)  # coxph.control(toler.inf)
ITER_MAX = 20  # coxph.control(iter.max)
TIMEFIX_TOL = np.sqrt(np.finfo(float).eps)
Z975 = stats.norm.ppf(0.975)


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


def _require_columns(data, columns):
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(data).__name__}")
    for col in columns:
        if col is not None and col not in data.columns:
            raise InputError(
                f"column not in the data (columns are: {', '.join(map(str, data.columns))})",
                column=col,
            )


def _numeric_column(data: pd.DataFrame, col: str, what: str) -> np.ndarray:
    s = data[col]
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=float)
    vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(vals)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            f"{what} must be a finite number ({int(bad.sum())} rows are not)",
            column=col,
            row=data.index[i],
            value=None if pd.isna(s.iloc[i]) else s.iloc[i],
        )
    return vals


def _durations(data, col) -> np.ndarray:
    t = _numeric_column(data, col, "the follow-up time")
    neg = t < 0
    if neg.any():
        i = int(np.argmax(neg))
        raise InputError(
            "the follow-up time must not be negative", column=col, row=data.index[i], value=t[i]
        )
    return t


def _events(data, col) -> np.ndarray:
    """Event indicator: any non-zero value is an event (R's Surv with status 0/1 or 0/1/2...)."""
    e = _numeric_column(data, col, "the event indicator")
    neg = e < 0
    if neg.any():
        i = int(np.argmax(neg))
        raise InputError(
            "the event indicator must be 0 (censored) or a positive code",
            column=col,
            row=data.index[i],
            value=e[i],
        )
    present = set(np.unique(e[np.isfinite(e)]).tolist())
    if present == {1.0, 2.0}:
        # R's Surv() reads a status of only 1s and 2s as 1 = censored, 2 = event; counting
        # every row as an event (any non-zero) would be silently wrong, and guessing either
        # way could be: ask for 0/1
        raise InputError(
            "the event indicator holds only 1 and 2: R's Surv() reads that as 1 = censored, "
            "2 = event, while here any non-zero is an event; recode it to 0 = censored, "
            "1 = event (or, for causes, 0 = censored, 1, 2, ... = cause)", column=col,
            value="1/2")
    return (e != 0).astype(float)


def _labels_column(data, col, what) -> np.ndarray:
    s = data[col]
    bad = s.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"missing {what}", column=col, row=data.index[i])
    return s.to_numpy()


def _codes(values) -> tuple[np.ndarray, list]:
    """Integer codes 0..k-1 of a label column, in R factor order (category order, else sorted)."""
    s = pd.Series(values)
    lv = levels_of(s) if is_categorical(s) else sorted(pd.unique(s).tolist())
    if isinstance(s.dtype, pd.CategoricalDtype):
        lv = [x for x in lv if (s == x).any()]
    code = pd.Categorical(s, categories=lv).codes.astype(np.int64)
    return code, lv


def timefix(times: np.ndarray) -> np.ndarray:
    """Make times that differ only by rounding error equal, as R's ``aeqSurv`` (timefix=TRUE).

    Sorted distinct times whose gap is at most ``sqrt(eps)``, absolutely or relative to the mean
    absolute time, are merged into the smaller one.
    """
    y = np.unique(times[np.isfinite(times)])
    if len(y) < 2:
        return times
    dy = np.diff(y)
    scale = np.mean(np.abs(y))
    tied = (dy <= TIMEFIX_TOL) | ((dy / scale if scale > 0 else dy) <= TIMEFIX_TOL)
    if not tied.any():
        return times
    cuts = y[np.concatenate([[True], ~tied])]
    idx = np.searchsorted(cuts, times, side="right") - 1
    return cuts[np.clip(idx, 0, len(cuts) - 1)]


# --------------------------------------------------------------------------------------------
# log-rank (survdiff)
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Cox model: sorted risk-set machinery shared by the fit, the residuals and cox.zph
# --------------------------------------------------------------------------------------------


class _RiskSets:
    """Rows sorted by (stratum, time) and grouped into blocks of equal (stratum, time).

    All risk-set sums are cumulative sums over blocks within a stratum: ``rev`` sums run from
    the latest time down (who is at risk), ``fwd`` sums from the earliest time up (what a row
    has been exposed to).
    """

    def __init__(self, time, status, strata, weights, method):
        order = np.lexsort((time, strata))
        self.order = order
        t, s = time[order], strata[order]
        self.status = status[order]
        self.w = weights[order]
        n = len(t)
        new = np.ones(n, dtype=bool)
        new[1:] = (t[1:] != t[:-1]) | (s[1:] != s[:-1])
        self.block = np.cumsum(new) - 1
        nb = int(self.block[-1]) + 1 if n else 0
        self.nb = nb
        starts = np.flatnonzero(new)
        self.block_start = starts
        self.block_time = t[starts]
        bstrat = s[starts]
        last = np.r_[bstrat[1:] != bstrat[:-1], True] if nb else np.zeros(0, bool)
        first = np.r_[True, bstrat[1:] != bstrat[:-1]] if nb else np.zeros(0, bool)
        last_idx = np.flatnonzero(last)
        first_idx = np.flatnonzero(first)
        # for block b: index just past the last block of its stratum / first block of its stratum
        sid = np.cumsum(first) - 1
        self.strat_end = last_idx[sid] + 1
        self.strat_begin = first_idx[sid]
        self.m = np.bincount(self.block, weights=self.status, minlength=nb)  # deaths per block
        self.wd = np.bincount(self.block, weights=self.status * self.w, minlength=nb)
        self.death_blocks = np.flatnonzero(self.m > 0)
        m_int = self.m[self.death_blocks].astype(np.int64)
        # one "sub-step" per death: Efron's l = 0..m-1 within each tied death block
        self.sub_block = np.repeat(self.death_blocks, m_int)
        l_idx = np.arange(len(self.sub_block)) - np.repeat(np.cumsum(m_int) - m_int, m_int)
        if method == "efron":
            self.frac = l_idx / np.repeat(m_int, m_int).astype(float)
        else:
            self.frac = np.zeros(len(self.sub_block))
        self.wbar = self.wd[self.sub_block] / self.m[self.sub_block]
        # block indicator (blocks x rows) as CSR; its data are replaced by row weights
        self._indptr = np.r_[starts, n].astype(np.int64)
        self._indices = np.arange(n, dtype=np.int64)

    def block_matmul(self, r, X):
        """Per-block sums of ``r[:, None] * X`` (a sparse product: O(n p), no n x p temporary)."""
        A = sparse.csr_matrix((r, self._indices, self._indptr), shape=(self.nb, len(r)))
        return np.asarray(A @ X)

    def rev_cumsum(self, x):
        """Sum over blocks with time >= this block's time in the same stratum (axis 0)."""
        rev = np.cumsum(x[::-1], axis=0)[::-1]
        pad = np.concatenate([rev, np.zeros((1,) + rev.shape[1:])])
        return rev - pad[self.strat_end]

    def fwd_cumsum(self, x):
        """Sum over blocks with time <= this block's time in the same stratum (axis 0)."""
        fwd = np.cumsum(x, axis=0)
        pad = np.concatenate([np.zeros((1,) + fwd.shape[1:]), fwd])
        return fwd - pad[self.strat_begin]

    def block_sum(self, x):
        if x.ndim == 1:
            return np.bincount(self.block, weights=x, minlength=self.nb)
        return np.add.reduceat(x, self.block_start, axis=0)


@dataclass
class _Pass:
    loglik: float
    score: np.ndarray
    info: np.ndarray
    eta: np.ndarray = None
    risk: np.ndarray = None
    xbar: np.ndarray = None  # per sub-step
    s0: np.ndarray = None  # per sub-step
    H: np.ndarray = None  # per row: cumulative hazard weight sum_{t <= T} wbar / s0 (Efron adj.)


def _cox_pass(rs: _RiskSets, X: np.ndarray, beta: np.ndarray, *, keep=False) -> _Pass:
    """Log partial likelihood, score and information at ``beta`` (X sorted and centred).

    A step that overflows ``exp`` gives a non-finite log-likelihood, which the Newton loop
    answers with step halving (as coxfit6 does), so floating-point warnings are silenced here.
    """
    with np.errstate(all="ignore"):
        return _cox_pass_unguarded(rs, X, beta, keep=keep)


def _cox_pass_unguarded(rs, X, beta, *, keep=False) -> _Pass:
    p = X.shape[1]
    eta = X @ beta if p else np.zeros(len(rs.w))
    with np.errstate(over="ignore"):
        e = np.exp(eta)
    r = rs.w * e
    B0 = rs.block_sum(r)
    S0 = rs.rev_cumsum(B0)
    D0 = rs.block_sum(r * rs.status)
    sb, f, wbar = rs.sub_block, rs.frac, rs.wbar
    s0 = S0[sb] - f * D0[sb]
    with np.errstate(divide="ignore", invalid="ignore"):
        loglik = float(np.sum(rs.w * rs.status * eta) - np.sum(wbar * np.log(s0)))
    if p:
        S1 = rs.rev_cumsum(rs.block_matmul(r, X))
        D1 = rs.block_matmul(r * rs.status, X)
        s1 = S1[sb] - f[:, None] * D1[sb]
        with np.errstate(divide="ignore", invalid="ignore"):
            xbar = s1 / s0[:, None]
        score = (rs.w * rs.status) @ X - wbar @ xbar
    else:
        xbar = np.zeros((len(sb), 0))
        score = np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.bincount(sb, weights=wbar / s0, minlength=rs.nb)
        h_own = np.bincount(sb, weights=wbar * f / s0, minlength=rs.nb)
    Hb = rs.fwd_cumsum(h)
    H = Hb[rs.block] - rs.status * h_own[rs.block]
    if p:
        # X' diag(r H) X as Y'Y (r H >= 0): a symmetric rank-k update, half the work
        Y = X * np.sqrt(np.maximum(r * H, 0.0))[:, None]
        info = Y.T @ Y - (xbar * wbar[:, None]).T @ xbar
    else:
        info = np.zeros((0, 0))
    out = _Pass(loglik=loglik, score=score, info=info)
    if keep:
        out.eta, out.risk, out.xbar, out.s0, out.H = eta, r, xbar, s0, H
    return out


def _ldl(A: np.ndarray, toler: float):
    """LDL' factorisation with R ``cholesky2`` semantics: a pivot below ``toler`` times the
    largest diagonal is set to zero (its coefficient is then not updated, its variance is 0)."""
    n = A.shape[0]
    M = np.array(A, dtype=float)
    dmax = max((M[i, i] for i in range(n)), default=0.0)
    eps = toler if dmax <= 0 else dmax * toler
    L = np.eye(n)
    D = np.zeros(n)
    for i in range(n):
        pivot = M[i, i]
        if not np.isfinite(pivot) or pivot < eps:
            D[i] = 0.0
            continue
        D[i] = pivot
        col = M[i + 1 :, i] / pivot
        L[i + 1 :, i] = col
        M[i + 1 :, i + 1 :] -= np.outer(col, M[i, i + 1 :])
    return L, D


def _ldl_solve(L, D, b):
    n = len(D)
    y = np.linalg.solve(L, b) if n else b
    z = np.where(D > 0, y / np.where(D > 0, D, 1.0), 0.0)
    x = np.linalg.solve(L.T, z) if n else z
    return x


def _ldl_inverse(L, D):
    n = len(D)
    Linv = np.linalg.solve(L, np.eye(n)) if n else np.zeros((0, 0))
    Dinv = np.where(D > 0, 1.0 / np.where(D > 0, D, 1.0), 0.0)
    return Linv.T @ (Dinv[:, None] * Linv)


@dataclass
class _Fit:
    beta: np.ndarray
    var: np.ndarray
    loglik: float
    loglik_null: float
    converged: bool
    iterations: int
    score: np.ndarray
    singular: np.ndarray  # pivots set to zero at the end
    singular_start: np.ndarray = None  # pivots set to zero at beta = 0: not identifiable


def _newton(rs, X, *, eps=EPS, iter_max=ITER_MAX) -> _Fit:
    """coxph's Newton-Raphson (coxfit6): see module docstring."""
    p = X.shape[1]
    beta = np.zeros(p)
    cur = _cox_pass(rs, X, beta)
    loglik_null = cur.loglik
    if p == 0:
        return _Fit(beta, np.zeros((0, 0)), cur.loglik, cur.loglik, True, 0, cur.score,
                    np.zeros(0, bool))
    L, D = _ldl(cur.info, TOLER_CHOL)
    singular_start = D <= 0
    new_beta = beta + _ldl_solve(L, D, cur.score)
    old_lik = cur.loglik
    halving = 0
    converged = False
    it = 0
    for it in range(1, iter_max + 1):
        nxt = _cox_pass(rs, X, new_beta)
        finite = (
            np.isfinite(nxt.loglik) and np.all(np.isfinite(nxt.score))
            and np.all(np.isfinite(nxt.info))
        )
        if finite and abs(1 - old_lik / nxt.loglik) <= eps and halving == 0:
            converged = True
            break
        if it == iter_max:
            break
        if not finite or nxt.loglik < old_lik:
            halving += 1
            new_beta = (new_beta + halving * beta) / (halving + 1.0)
        else:
            halving = 0
            old_lik = nxt.loglik
            beta = new_beta
            L, D = _ldl(nxt.info, TOLER_CHOL)
            new_beta = beta + _ldl_solve(L, D, nxt.score)
    L, D = _ldl(nxt.info, TOLER_CHOL)
    var = _ldl_inverse(L, D)
    return _Fit(new_beta, var, nxt.loglik, loglik_null, converged, it, nxt.score, D <= 0,
                singular_start)


def _score_residuals(rs: _RiskSets, X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Score residuals per (sorted) row, unweighted (R ``residuals(fit, "score")``).

    U_i = delta_i (x_i - mean_l xbar_l) - exp(eta_i) sum_{t <= T_i} sum_l c_il wbar / s0_l
    (x_i - xbar_l), with c_il = 1 - l/m for a row dying at t under Efron, else 1.
    """
    ps = _cox_pass(rs, X, beta, keep=True)
    sb, f, wbar, s0, xbar = rs.sub_block, rs.frac, rs.wbar, ps.s0, ps.xbar
    nb, p = rs.nb, X.shape[1]
    g = np.zeros((nb, p))
    g_own = np.zeros((nb, p))
    xavg = np.zeros((nb, p))
    for j in range(p):
        g[:, j] = np.bincount(sb, weights=wbar * xbar[:, j] / s0, minlength=nb)
        g_own[:, j] = np.bincount(sb, weights=wbar * f * xbar[:, j] / s0, minlength=nb)
        xavg[:, j] = np.bincount(sb, weights=xbar[:, j], minlength=nb)
    with np.errstate(divide="ignore", invalid="ignore"):
        xavg = xavg / np.where(rs.m > 0, rs.m, 1.0)[:, None]
    G = rs.fwd_cumsum(g)[rs.block] - rs.status[:, None] * g_own[rs.block]
    e = np.exp(ps.eta)
    U = rs.status[:, None] * (X - xavg[rs.block]) - e[:, None] * (X * ps.H[:, None] - G)
    return U


# --------------------------------------------------------------------------------------------
# monotone likelihood (separation)
# --------------------------------------------------------------------------------------------


def separation_check(X: pd.DataFrame, event, time=None, strata=None, *,
                     event_name: str = "events", words: dict | None = None) -> dict[str, str]:
    """Terms whose partial likelihood is monotone (the estimate runs off to +/- infinity).

    * Binary terms: no events in the level, or every event in it (``design.monotone_terms``).
    * With ``time`` (Cox risk sets, within ``strata``): any term such that every event has the
      largest (or every event the smallest) value of the term among those still at risk, with
      at least one strict; one term alone then separates the events (continuous separation).

    Returns ``{term: "not estimable: ..."}``. Needs only ``X`` and ``event`` for the binary
    check, so Fine-Gray can reuse it (with ``time=None``), then call :func:`diverging_terms`
    after its fit for separation that only a combination of terms produces.
    """
    ev = np.asarray(event, dtype=float) != 0
    out = monotone_terms(X, ev, event_name=event_name, words=words)
    if time is None or not ev.any():
        return out
    t = np.asarray(time, dtype=float)
    s = np.zeros(len(t), np.int64) if strata is None else _codes(np.asarray(strata))[0]
    rs = _RiskSets(t, ev.astype(float), s, np.ones(len(t)), "breslow")
    dead_rows = rs.status > 0
    for term in X.columns:
        if term in out:
            continue
        x = X[term].to_numpy(dtype=float)[rs.order]
        bmax = np.maximum.reduceat(x, rs.block_start)
        bmin = np.minimum.reduceat(x, rs.block_start)
        # running max/min over blocks with time >= t in the stratum, from the last block down
        rmax = _rev_cum_extreme(bmax, rs, np.maximum)
        rmin = _rev_cum_extreme(bmin, rs, np.minimum)
        xd = x[dead_rows]
        bd = rs.block[dead_rows]
        top = np.all(xd >= rmax[bd]) and np.any(rmin[bd] < rmax[bd])
        bottom = np.all(xd <= rmin[bd]) and np.any(rmin[bd] < rmax[bd])
        if top or bottom:
            side = "largest" if top else "smallest"
            out[term] = (
                f"not estimable: {term} separates the events perfectly (every event has the "
                f"{side} {term} of those still at risk)"
            )
    return out


def _rev_cum_extreme(b, rs, ufunc):
    out = np.empty_like(b)
    ends = np.unique(rs.strat_end)
    start = 0
    for end in ends:  # one pass per stratum
        seg = b[start:end][::-1]
        out[start:end] = ufunc.accumulate(seg)[::-1]
        start = end
    return out


def diverging_terms(terms, coef, score, var, *, spread=None, converged=True, eps=EPS,
                    toler_inf=TOLER_INF, singular=None, big=8.0) -> dict[str, str]:
    """Terms whose coefficient looks infinite after a fit (coxph's ``toler.inf`` check).

    A term is suspect when the Newton step still to be taken, ``|score' var|``, exceeds both
    ``eps`` and ``toler_inf * |coef|`` (R then warns "Loglik converged before variable ...;
    coefficient may be infinite"), when its information pivot vanished (singular), or when the
    fit did not converge. It is flagged when, in addition, ``|coef| * spread`` (the log hazard
    ratio across the observed range of the term; ``spread`` defaults to 1) exceeds ``big``
    (8: a hazard ratio of about 3000 between the extremes), so that an ordinary coefficient
    on a small scale is never taken for a diverging one.
    """
    coef = np.asarray(coef, float)
    spread = np.ones(len(coef)) if spread is None else np.asarray(spread, float)
    step = np.abs(np.asarray(score, float) @ np.asarray(var, float))
    suspect = (step > eps) & (step > toler_inf * np.abs(coef))
    if singular is not None:
        suspect |= np.asarray(singular, bool)
    if not converged:
        suspect |= True
    out = {}
    for j, term in enumerate(terms):
        if suspect[j] and np.abs(coef[j]) * spread[j] > big:
            out[term] = (
                f"not estimable: the coefficient of {term} grows without bound (monotone "
                f"likelihood: the events are separated by {term} together with other terms)"
            )
    return out


# --------------------------------------------------------------------------------------------
# cox
# --------------------------------------------------------------------------------------------


@dataclass
class CoxResult:
    """Result of :func:`cox`; agrees with ``survival::coxph``.

    ``table``: index = every term of the design (in design order), columns coef, se, hr, lower,
    upper, p (and robust_se when ``robust``). With ``robust``, ``se`` is the model-based se
    (R's ``se(coef)``) and lower/upper/p use ``robust_se``, as ``summary.coxph`` does. Terms that
    were dropped (aliased, constant) or not estimable have NaN rows; their reasons are in
    ``dropped`` and ``not_estimable``.
    """

    table: pd.DataFrame
    loglik: float
    loglik_null: float
    converged: bool
    iterations: int
    n: int
    n_events: int
    not_estimable: dict[str, str]
    dropped: dict[str, str]
    var: pd.DataFrame
    ties: str
    robust: bool
    covariate_of: dict[str, str] = field(default_factory=dict)
    reference: dict[str, object] = field(default_factory=dict)
    covariates: list[str] = field(default_factory=list)
    naive_var: pd.DataFrame | None = None
    conditioning: Conditioning | None = None  # scaled condition number and VIFs
    _model: dict | None = field(default=None, repr=False)  # sorted data for ph_test

    @property
    def terms(self) -> list[str]:
        """Fitted (estimable) terms."""
        return list(self.var.index)

    def lr_test(self):
        """Likelihood-ratio test of all fitted terms: (statistic, df, p)."""
        stat = 2 * (self.loglik - self.loglik_null)
        df = len(self.terms)
        return stat, df, float(stats.chi2.sf(stat, df)) if df else float("nan")

    def wald_test(self, terms=None):
        """Wald chi-square for ``terms`` (default all fitted terms) with the reported variance:
        (statistic, df, p), as ``summary.coxph``'s "Wald test"."""
        terms = self.terms if terms is None else [t for t in terms if t in self.var.index]
        if not terms:
            return float("nan"), 0, float("nan")
        b = self.table.loc[terms, "coef"].to_numpy()
        V = self.var.loc[terms, terms].to_numpy()
        stat = float(b @ np.linalg.solve(V, b))
        return stat, len(terms), float(stats.chi2.sf(stat, len(terms)))


def _prepare(data, duration, event, covariates, *, strata, weights, cluster):
    _require_columns(data, [duration, event, strata, weights, cluster, *covariates])
    t = timefix(_durations(data, duration))
    d = _events(data, event)
    if weights is not None:
        w = _numeric_column(data, weights, "a case weight")
        if (w < 0).any():
            i = int(np.argmax(w < 0))
            raise InputError("case weights must not be negative", column=weights,
                             row=data.index[i], value=w[i])
    else:
        w = np.ones(len(t))
    s = (_codes(_labels_column(data, strata, "stratum"))[0] if strata is not None
         else np.zeros(len(t), np.int64))
    cl = (_codes(_labels_column(data, cluster, "cluster id"))[0] if cluster is not None
          else None)
    return t, d, w, s, cl


def cox(
    data: pd.DataFrame,
    duration: str,
    event: str,
    covariates: list[str],
    *,
    ties: str = "efron",
    cluster: str | None = None,
    strata: str | None = None,
    weights: str | None = None,
    robust: bool | None = None,
    on_separation: str = "report",
    labels: dict | None = None,
    event_name: str = "events",
):
    """Cox proportional hazards model; = ``coxph(Surv(duration, event != 0) ~ covariates +
    strata(strata), weights = weights, cluster = cluster, ties = ties)``.

    ``robust`` defaults as in coxph: on when ``cluster`` is given or the weights are not all
    integers; without ``cluster`` the robust clusters are the rows.

    Monotone likelihood (a level without events, a term or a combination of terms that
    separates the events; found before fitting by :mod:`micromet.separation`, and on the fitted
    path) is never printed as an estimate. ``on_separation`` says what happens then:

    * ``"report"`` (default): the terms involved are reported in ``not_estimable`` (and a
      :class:`NotEstimableWarning` saying which patients single them out) and the other terms
      are fitted without them;
    * ``"drop"``: the covariates involved are left out of the model altogether (all their
      terms, so that no level is silently merged into the reference) and reported;
    * ``"firth"``: the whole model is fitted by Firth's penalized likelihood instead
      (:func:`micromet.firth.firth_cox`, as R's ``coxphf``: Breslow ties, profile penalized
      likelihood limits and p values, no weights or robust variance); a
      :class:`NotEstimableWarning` says why. Returns a :class:`micromet.firth.FirthResult`.

    ``labels`` (covariate → readable name) and ``event_name`` ("deaths") word those messages.
    """
    if ties not in ("efron", "breslow"):
        raise InputError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    if on_separation not in ON_SEPARATION:
        raise InputError(f"on_separation must be one of {', '.join(ON_SEPARATION)}, not "
                         f"{on_separation!r}")
    covariates = list(covariates)
    t, d, w, s, cl = _prepare(data, duration, event, covariates, strata=strata,
                              weights=weights, cluster=cluster)
    n = len(t)
    if n == 0:
        raise InputError("no rows to fit")
    design = design_matrix(data, covariates)
    if robust is None:
        robust = cluster is not None or bool(np.any(w != np.floor(w)))
    if not d.any():
        raise InputError("no events: a Cox model needs at least one event", column=event)

    not_est = separation_check(design.X, d, time=t, strata=s, event_name=event_name,
                               words=term_words(design, labels))
    terms = [c for c in design.terms if c not in not_est]
    # separation by a combination of terms (LP on the risk sets)
    described = data[[c for c in covariates if c in data.columns]]
    for _ in range(len(terms)):
        found = monotone_direction(design.X[terms], t, d != 0, strata=s)
        if found is None:
            break
        why = found.sentence(event_name, data=described, covariate_of=design.covariate_of,
                             labels=labels)
        not_est.update({tm: why for tm in found.terms})
        terms = [c for c in terms if c not in found.terms]
    if not_est and on_separation == "firth":
        return _firth_instead(data, duration, event, covariates, strata, not_est, design,
                              weights, cluster)
    if not_est and on_separation == "drop":
        not_est, terms = leave_out_covariates(not_est, design, labels)
    rs = _RiskSets(t, d, s, w, ties)
    dropped = dict(design.dropped)
    while True:
        fit, Xc = _fit_terms(design, terms, rs, w)
        if fit.singular_start is not None and fit.singular_start.any():
            # no information at all (coxph's NA): e.g. constant within every stratum
            for j in np.flatnonzero(fit.singular_start):
                dropped[terms[j]] = (
                    "aliased: no variation within the strata (or a linear combination of "
                    "other terms within them)"
                )
            terms = [c for c in terms if c not in dropped]
            continue
        spread = np.ptp(Xc, axis=0) if terms else None
        more = diverging_terms(terms, fit.beta, fit.score, fit.var, spread=spread,
                               converged=fit.converged, singular=fit.singular)
        if not more:
            break
        if on_separation == "firth":
            return _firth_instead(data, duration, event, covariates, strata,
                                  {**not_est, **more}, design, weights, cluster)
        not_est.update(more)
        terms = [c for c in terms if c not in more]
        if on_separation == "drop":
            not_est, terms = leave_out_covariates(not_est, design, labels)
    for msg in dict.fromkeys(not_est.values()):
        warnings.warn(msg, NotEstimableWarning, stacklevel=2)
    if not fit.converged:
        warnings.warn(
            f"the Cox model did not converge in {ITER_MAX} iterations", RuntimeWarning,
            stacklevel=2,
        )
    var = fit.var
    naive = None
    if robust and terms:
        U = _score_residuals(rs, Xc, fit.beta)
        dfb = (rs.w[:, None] * U) @ fit.var
        if cl is not None:
            groups = cl[rs.order]
            k = int(groups.max()) + 1
            dfb = np.column_stack([np.bincount(groups, weights=dfb[:, j], minlength=k)
                                   for j in range(dfb.shape[1])])
        naive, var = var, dfb.T @ dfb
    table = _coef_table(design.all_terms, terms, fit.beta, var, naive)
    var_df = pd.DataFrame(var, index=terms, columns=terms)
    cond = conditioning(fit.var, design.X[terms])
    if cond.unstable:
        warnings.warn(cond.sentence("the Cox model"), UnstableWarning, stacklevel=2)
    return CoxResult(
        table=table,
        loglik=fit.loglik,
        loglik_null=fit.loglik_null,
        converged=fit.converged,
        iterations=fit.iterations,
        n=n,
        n_events=int(d.sum()),
        not_estimable=not_est,
        dropped=dropped,
        var=var_df,
        ties=ties,
        robust=bool(robust),
        covariate_of=dict(design.covariate_of),
        conditioning=cond,
        reference=dict(design.reference),
        covariates=covariates,
        naive_var=None if naive is None else pd.DataFrame(naive, index=terms, columns=terms),
        _model={"rs": rs, "X": Xc, "beta": fit.beta, "terms": list(terms),
                "time": t[rs.order]},
    )


ON_SEPARATION = ("report", "drop", "firth")


def _firth_instead(data, duration, event, covariates, strata, not_est, design, weights,
                   cluster):
    """``on_separation="firth"``: Firth's penalized Cox model of every term, and why."""
    from micromet.firth import firth_cox

    why = "; ".join(dict.fromkeys(v.removeprefix("not estimable: ") for v in not_est.values()))
    extra = ""
    if weights is not None or cluster is not None:
        extra = " Case weights and the robust (cluster) variance are not used by Firth's fit."
    warnings.warn(
        f"Firth's penalized likelihood (coxphf, Breslow ties, profile-likelihood intervals) "
        f"was used for the Cox model because its ordinary estimates would be infinite: "
        f"{why}.{extra}", NotEstimableWarning, stacklevel=3)
    keep = [c for c in covariates
            if any(design.covariate_of.get(t) == c for t in design.terms)]
    return firth_cox(data, duration, event, keep, strata=strata)


def _fit_terms(design: Design, terms, rs: _RiskSets, w):
    X = design.X[terms].to_numpy(dtype=float) if terms else np.zeros((len(w), 0))
    X = X[rs.order]
    if terms:
        ws = rs.w
        X = X - (ws @ X) / ws.sum() if ws.sum() > 0 else X
    return _newton(rs, X), X


def _coef_table(all_terms, terms, beta, var, naive=None) -> pd.DataFrame:
    rows = pd.DataFrame(index=pd.Index(list(all_terms), name="term"),
                        columns=["coef", "se", "hr", "lower", "upper", "p"], dtype=float)
    if naive is not None:
        rows["robust_se"] = np.nan
    if terms:
        se_used = np.sqrt(np.diag(var))
        se = np.sqrt(np.diag(naive)) if naive is not None else se_used
        with np.errstate(divide="ignore", invalid="ignore"):
            z = beta / se_used
        rows.loc[terms, "coef"] = beta
        rows.loc[terms, "se"] = se
        rows.loc[terms, "hr"] = np.exp(beta)
        rows.loc[terms, "lower"] = np.exp(beta - Z975 * se_used)
        rows.loc[terms, "upper"] = np.exp(beta + Z975 * se_used)
        rows.loc[terms, "p"] = stats.chi2.sf(z**2, 1)
        if naive is not None:
            rows.loc[terms, "robust_se"] = se_used
    return rows


# --------------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------------


CONF_TYPES = ("log", "log-log", "plain")


def _confidence(surv, sigma, conf_type):
    """survfit's pointwise limits from S and the Greenwood se of log S (``std.err``)."""
    if conf_type not in CONF_TYPES:
        raise InputError(f"conf_type must be one of {', '.join(CONF_TYPES)}", value=conf_type)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if conf_type == "log":
            lower = np.where(surv > 0, surv * np.exp(-Z975 * sigma), np.nan)
            upper = np.where(surv > 0, np.minimum(surv * np.exp(Z975 * sigma), 1.0), np.nan)
        elif conf_type == "plain":
            half = Z975 * sigma * surv
            lower = np.clip(surv - half, 0.0, 1.0)
            upper = np.clip(surv + half, 0.0, 1.0)
        else:  # log-log: symmetric on log(-log S); S = 1 gives 1, S = 0 gives NaN
            special = (surv == 0) | (surv == 1)
            fill = np.where(surv == 0, np.nan, 1.0)
            xx = np.where(special, 0.1, surv)
            shift = Z975 * sigma / np.log(xx)
            lower = np.where(special, fill, np.exp(-np.exp(np.log(-np.log(xx)) - shift)))
            upper = np.where(special, fill, np.exp(-np.exp(np.log(-np.log(xx)) + shift)))
    return lower, upper


def _km_one(t, d, conf_type="log"):
    times, inv = np.unique(t, return_inverse=True)
    n_event = np.bincount(inv, weights=d, minlength=len(times))
    n_total = np.bincount(inv, minlength=len(times)).astype(float)
    n_censor = n_total - n_event
    n_risk = np.cumsum(n_total[::-1])[::-1]
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    sigma = np.sqrt(np.cumsum(inc))  # Greenwood se of log S (survfit's std.err)
    lower, upper = _confidence(surv, sigma, conf_type)
    with np.errstate(invalid="ignore", over="ignore"):
        se = surv * sigma
    return pd.DataFrame(
        {
            "time": times,
            "n_risk": n_risk.astype(np.int64),
            "n_event": n_event.astype(np.int64),
            "n_censor": n_censor.astype(np.int64),
            "survival": surv,
            "se": se,
            "lower": lower,
            "upper": upper,
        }
    )


def km(data, duration, event, group=None, *, conf_type: str = "log") -> pd.DataFrame:
    """Kaplan-Meier table; = ``survfit(Surv(duration, event != 0) ~ group, conf.type=)``.

    One row per distinct time (per group): time, n_risk, n_event, n_censor, survival, se
    (Greenwood standard error of S, as ``summary.survfit`` prints ``std.err``), and the 95%
    limits of ``conf_type``: "log" (survfit's default, ``S exp(-/+1.96 sigma)`` cut at 1, sigma
    the Greenwood se of log S; NaN where S = 0), "log-log" (symmetric on log(-log S)) or
    "plain" (``S -/+ 1.96 S sigma`` within [0, 1]). With ``group`` the first column is the group.
    """
    _require_columns(data, [duration, event, group])
    t = timefix(_durations(data, duration))
    d = _events(data, event)
    if group is None:
        return _km_one(t, d, conf_type)
    g, levels = _codes(_labels_column(data, group, "group"))
    parts = []
    for i, lv in enumerate(levels):
        part = _km_one(t[g == i], d[g == i], conf_type)
        part.insert(0, "group", lv)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out.attrs["group"] = group
    out.attrs["levels"] = levels
    return out


def km_median(data, duration, event, group=None, *, conf_type: str = "log") -> pd.DataFrame:
    """Median survival with its 95% confidence interval, per group; = ``print(survfit(...))``.

    Columns n, events, median, lower, upper (NaN: "not reached"). The median is the first time
    at which S falls to 0.5 or below; where S equals 0.5 exactly over an interval, the midpoint
    of that interval (survfit's rule). The limits are the same quantities of the lower and upper
    confidence curves (``conf_type`` as in :func:`km`)."""
    table = km(data, duration, event, group, conf_type=conf_type)
    pieces = ([(g, table[table["group"] == g]) for g in table.attrs.get("levels", [])]
              if group is not None else [(None, table)])
    rows = []
    for g, tab in pieces:
        times = tab["time"].to_numpy(dtype=float)
        row = {} if g is None else {"group": g}
        row.update(n=int(tab["n_risk"].iloc[0]) if len(tab) else 0,
                   events=int(tab["n_event"].sum()),
                   median=_quantile_time(times, tab["survival"].to_numpy(dtype=float)),
                   lower=_quantile_time(times, tab["lower"].to_numpy(dtype=float)),
                   upper=_quantile_time(times, tab["upper"].to_numpy(dtype=float)))
        rows.append(row)
    return pd.DataFrame(rows)


def _quantile_time(times, curve, p: float = 0.5) -> float:
    """First time the step curve reaches ``p`` or below; the midpoint to the next step where it
    sits exactly at ``p`` (within survfit's tolerance); NaN if never."""
    tol = np.sqrt(np.finfo(float).eps)
    curve = np.where(np.isnan(curve), np.inf, curve)  # no limit: the curve has not reached p
    below = np.flatnonzero(curve <= p + tol)
    if len(below) == 0:
        return float("nan")
    k = below[0]
    if abs(curve[k] - p) < tol:
        later = np.flatnonzero((np.arange(len(curve)) > k) & (curve < curve[k] - tol))
        if len(later):
            return float((times[k] + times[later[0]]) / 2)
    return float(times[k])


def survival_at(km_table: pd.DataFrame, times=(12, 36, 60)) -> pd.DataFrame:
    """Survival at given times from a :func:`km` table; = ``summary(survfit(...), times=)``.

    Per group and time: survival, se, lower, upper of the last step at or before the time,
    n_risk at the time and n_event since the previous requested time. Times after the last
    follow-up of a group give NaN (R's summary drops them).
    """
    times = np.asarray(list(times), dtype=float)
    if "group" in km_table.columns:
        groups = km_table.attrs.get("levels") or list(pd.unique(km_table["group"]))
        pieces = [(g, km_table[km_table["group"] == g]) for g in groups]
    else:
        pieces = [(None, km_table)]
    rows = []
    for g, tab in pieces:
        tt = tab["time"].to_numpy()
        total = int(tab["n_risk"].iloc[0]) if len(tab) else 0
        prev_events = 0
        cum_events = np.cumsum(tab["n_event"].to_numpy())
        for x in times:
            i = np.searchsorted(tt, x, side="right") - 1  # last time <= x
            j = np.searchsorted(tt, x, side="left")  # first time >= x
            beyond = len(tt) == 0 or x > tt[-1]
            row = {"time": x}
            if g is not None:
                row = {"group": g, **row}
            if beyond:
                row.update(n_risk=0, n_event=np.nan, survival=np.nan, se=np.nan,
                           lower=np.nan, upper=np.nan)
            else:
                ev = int(cum_events[i]) if i >= 0 else 0
                row["n_risk"] = int(tab["n_risk"].iloc[j]) if j < len(tt) else 0
                row["n_event"] = ev - prev_events
                prev_events = ev
                if i < 0:
                    row.update(survival=1.0, se=0.0, lower=1.0, upper=1.0)
                    row["n_risk"] = total
                else:
                    rec = tab.iloc[i]
                    row.update(survival=rec["survival"], se=rec["se"], lower=rec["lower"],
                               upper=rec["upper"])
            rows.append(row)
    return pd.DataFrame(rows)


def _quantile_from_curve(times, surv, q):
    """survfit's quantile: the first time with S < 1 - q; when S equals 1 - q (within
    sqrt(eps)) on a stretch of the curve, the midpoint of the first time of that stretch and
    the time after it (the stretch's last time when the curve ends there)."""
    target = 1 - q
    hit = np.flatnonzero(np.abs(surv - target) < TIMEFIX_TOL)
    if len(hit):
        i0, i1 = hit[0], hit[-1]
        after = i1 + 1 if i1 + 1 < len(times) else i1
        return 0.5 * (float(times[i0]) + float(times[after]))
    below = np.flatnonzero(surv < target)
    return float(times[below[0]]) if len(below) else float("nan")


@dataclass
class FollowUp:
    """Median follow-up (reverse Kaplan-Meier) with its interquartile range and the maximum."""

    median: float
    q1: float
    q3: float
    maximum: float
    n: int

    def __str__(self):
        return f"{self.median:g} ({self.q1:g}-{self.q3:g})"


def median_followup(data, duration, event) -> FollowUp:
    """Median follow-up by the reverse Kaplan-Meier method (censoring is the "event"), with IQR;
    = ``quantile(survfit(Surv(time, status == 0) ~ 1), c(.25, .5, .75))``."""
    _require_columns(data, [duration, event])
    t = timefix(_durations(data, duration))
    d = _events(data, event)
    tab = _km_one(t, 1.0 - d)
    tt, ss = tab["time"].to_numpy(), tab["survival"].to_numpy()
    return FollowUp(
        median=_quantile_from_curve(tt, ss, 0.5),
        q1=_quantile_from_curve(tt, ss, 0.25),
        q3=_quantile_from_curve(tt, ss, 0.75),
        maximum=float(t.max()) if len(t) else float("nan"),
        n=len(t),
    )


def numbers_at_risk(data, duration, event, group=None, times=(0, 12, 24, 36, 48, 60)):
    """Number still at risk (follow-up time >= t) per group at each of ``times``.

    Returns a DataFrame: index = group level (or "All"), columns = times.
    """
    _require_columns(data, [duration, event, group])
    t = timefix(_durations(data, duration))
    _events(data, event)
    times = list(times)
    if group is None:
        st = np.sort(t)
        counts = [[len(st) - np.searchsorted(st, x, side="left") for x in times]]
        return pd.DataFrame(counts, index=pd.Index(["All"], name="group"), columns=times)
    g, levels = _codes(_labels_column(data, group, "group"))
    rows = []
    for i in range(len(levels)):
        st = np.sort(t[g == i])
        rows.append([len(st) - np.searchsorted(st, x, side="left") for x in times])
    return pd.DataFrame(rows, index=pd.Index(levels, name=group), columns=times)


# --------------------------------------------------------------------------------------------
# proportional hazards: cox.zph
# --------------------------------------------------------------------------------------------


@dataclass
class PHTestResult:
    """Result of :func:`ph_test`; ``table`` = ``cox.zph(fit)$table``: index = covariate and
    "GLOBAL", columns chisq, df, p."""

    table: pd.DataFrame
    transform: str


def _time_transform(time, status, transform):
    if transform == "identity":
        return time.astype(float)
    if transform == "log":
        return np.log(time)
    if transform == "rank":
        return stats.rankdata(time)
    if transform == "km":
        tab = _km_one(time, status)
        # left-continuous Kaplan-Meier of all the data (strata and weights ignored, as in R)
        i = np.searchsorted(tab["time"].to_numpy(), time, side="left")
        return 1.0 - np.r_[1.0, tab["survival"].to_numpy()][i]
    raise InputError(f"transform must be 'km', 'identity', 'rank' or 'log', not {transform!r}")


def ph_test(fit, *args, transform: str = "km", **kwargs) -> PHTestResult:
    """Test of proportional hazards; = ``cox.zph(fit, transform = "km")`` of survival 3.x.

    ``fit`` is a :class:`CoxResult` (further positional arguments are then ignored), or pass
    the arguments of :func:`cox` instead (``ph_test(data, duration, event, covariates, ...)``). For each covariate (all its
    dummies together) the score test of adding ``x * g(t)`` at the fitted coefficients, with
    ``g(t) = 1 - KM(t-)`` centred on its mean over the events ("km", the default; also
    "identity", "rank", "log"); "GLOBAL" tests all terms together. Efron or Breslow ties,
    weights and strata as in the fit; the model-based information is used even for robust fits.
    """
    if not isinstance(fit, CoxResult):
        fit = cox(fit, *args, **kwargs)
    m = fit._model
    rs, X, beta, terms = m["rs"], m["X"], m["beta"], m["terms"]
    if not terms:
        raise InputError("the Cox model has no estimable term to test")
    time = m["time"]
    status = rs.status
    tt = _time_transform(time, status, transform)
    gtime = tt - tt[status > 0].mean()
    g_block = np.zeros(rs.nb)
    g_block[rs.block] = gtime
    p = len(terms)
    with np.errstate(all="ignore"):
        ps = _cox_pass(rs, X, beta, keep=True)
        sb, f, wbar, s0, xbar = rs.sub_block, rs.frac, rs.wbar, ps.s0, ps.xbar
        r = ps.risk

        def info(c):  # sum over deaths of c(t) * wbar * (s2/s0 - xbar xbar')
            h = np.bincount(sb, weights=c[sb] * wbar / s0, minlength=rs.nb)
            h_own = np.bincount(sb, weights=c[sb] * wbar * f / s0, minlength=rs.nb)
            H = rs.fwd_cumsum(h)[rs.block] - status * h_own[rs.block]
            return (X * (r * H)[:, None]).T @ X - (xbar * (c[sb] * wbar)[:, None]).T @ xbar

        # score of the x * g(t) terms: sum over deaths of g(t) (x_i - xbar)
        contrib = rs.block_sum(X * (rs.w * status)[:, None])
        for j in range(p):
            contrib[:, j] -= np.bincount(sb, weights=wbar * xbar[:, j], minlength=rs.nb)
        u = g_block @ contrib
        ones = np.ones(rs.nb)
        i11, i12, i22 = info(ones), info(g_block), info(g_block**2)
    imat = np.block([[i11, i12], [i12.T, i22]])
    covs = list(dict.fromkeys(fit.covariate_of[t] for t in terms))
    rows = []
    for cov in covs:
        jj = [j for j, t in enumerate(terms) if fit.covariate_of[t] == cov]
        kk = list(range(p)) + [p + j for j in jj]
        uu = np.r_[np.zeros(p), u[jj]]
        rows.append((cov, float(uu @ np.linalg.solve(imat[np.ix_(kk, kk)], uu)), len(jj)))
    uu = np.r_[np.zeros(p), u]
    rows.append(("GLOBAL", float(uu @ np.linalg.solve(imat, uu)), p))
    table = pd.DataFrame(rows, columns=["term", "chisq", "df"]).set_index("term")
    table["p"] = stats.chi2.sf(table["chisq"], table["df"])
    return PHTestResult(table=table, transform=transform)
