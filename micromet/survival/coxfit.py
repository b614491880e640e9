"""The Cox partial likelihood on sorted risk sets: score, information, ``coxph``'s Newton-Raphson
(coxfit6) with its LDL' factorization, and score residuals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from micromet.survival.data import EPS, ITER_MAX, TOLER_CHOL


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


def _newton(rs, X, *, eps=EPS, iter_max=ITER_MAX, evaluate=None) -> _Fit:
    """coxph's Newton-Raphson (coxfit6, and agfit4 for counting-process data: the same steps,
    stopping rule and step halving). ``evaluate(beta) -> _Pass`` replaces the right-censored
    partial likelihood of ``rs`` (e.g. by the weighted Fine-Gray one)."""
    p = X.shape[1]
    if evaluate is None:
        def evaluate(b):
            return _cox_pass(rs, X, b)
    beta = np.zeros(p)
    cur = evaluate(beta)
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
        nxt = evaluate(new_beta)
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
