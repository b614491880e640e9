"""Firth-penalized Cox regression (Heinze & Schemper 2001); agrees with R's ``coxphf`` 1.13.

When the partial likelihood is monotone (a term, or a combination of terms, separates the events:
see :mod:`micromet.separation`) the ordinary Cox estimate is infinite. Firth's penalty
``penalty · log det I(β)`` (``penalty`` = 1/2: Jeffreys' prior) removes the first-order bias of
the estimate and keeps it finite: the penalized log partial likelihood

    l*(β) = l(β) + ½ log det I(β)

tends to −∞ along a direction of separation, because the information ``I`` vanishes there.
Its score is ``U*_r = U_r + ½ tr(I⁻¹ ∂I/∂β_r)``; ``∂I/∂β_r`` is, event by event, the third
central moment of the covariates over the risk set (weights ``exp(xβ)``), computed here in
O(n·p²) with the same reverse/forward cumulative sums as the Cox score.

* Ties: Breslow (coxphf has no other).
* Estimate: the maximum of ``l*``, by Newton steps with ``I(β)`` as the curvature (as coxphf),
  each step capped at 0.5 in units of the covariate's standard deviation and halved while ``l*``
  does not increase.
* Standard errors: ``sqrt(diag(I(β̂)⁻¹))`` (Cholesky solves), coxphf's ``var``.
* Confidence limits and p values: profile penalized likelihood (coxphf's default ``pl = TRUE``):
  the limits are where ``2 (l*(β̂) − max l*(β | β_k = c)) = χ²₁(1 − α)``, the p value is the
  penalized likelihood-ratio test of ``β_k = 0`` (the penalty keeps the full information
  matrix). With ``profile=False``: Wald limits and p, as coxphf's ``pl = FALSE``.

Agreement with ``coxphf`` 1.13.4 (coefficients, se, limits, p to 1e-6 relative) is tested on
its ``breast`` example and on fixtures with separation: ``tests/reference/firth`` (R script
``make_firth.R`` committed beside them).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, optimize, stats

from micromet.design import Conditioning, conditioning, design_matrix
from micromet.errors import InputError

STEP_MAX = 0.5  # coxphf's maxstep, in standard deviations of the covariate
TOL = 1e-10  # largest change of a standardized coefficient at convergence
ITER_MAX = 500
HALVINGS = 30


@dataclass
class FirthResult:
    """Result of :func:`firth_cox`; agrees with ``coxphf::coxphf``.

    ``table``: index = every term of the design, columns coef, se, hr, lower, upper, p (terms
    dropped as aliased or constant have NaN rows, their reasons in ``dropped``). ``loglik``:
    the penalized log partial likelihood at the estimate and ``loglik_null`` at β = 0
    (coxphf's ``loglik[2]`` and ``loglik[1]``). ``ci``: "profile penalized likelihood" or
    "Wald"."""

    table: pd.DataFrame
    var: pd.DataFrame
    loglik: float
    loglik_null: float
    iterations: int
    converged: bool
    n: int
    n_events: int
    ci: str
    alpha: float
    penalty: float
    dropped: dict[str, str]
    covariate_of: dict[str, str]
    reference: dict[str, object]
    conditioning: Conditioning | None = None
    method: str = "Firth-penalized Cox (Breslow ties)"

    @property
    def terms(self) -> list[str]:
        return list(self.var.index)

    @property
    def not_estimable(self) -> dict[str, str]:
        """Always empty: Firth's estimate is finite (kept for the Cox result's interface)."""
        return {}


class _Penalized:
    """The penalized log partial likelihood of one data set and its score, at any β."""

    def __init__(self, rs, X: np.ndarray, penalty: float):
        self.rs, self.X, self.penalty = rs, X, penalty

    def __call__(self, beta: np.ndarray):
        """(l*, U*, I, Cholesky factor of I) at ``beta``; l* = -inf where I is singular."""
        from micromet.survival import _cox_pass

        rs, X = self.rs, self.X
        ps = _cox_pass(rs, X, beta, keep=True)
        info = ps.info
        try:
            chol = linalg.cho_factor(info, lower=True, check_finite=True)
        except (linalg.LinAlgError, ValueError):
            return -np.inf, None, info, None
        logdet = 2.0 * np.sum(np.log(np.diag(chol[0])))
        pl = ps.loglik + self.penalty * logdet
        if not np.isfinite(pl):
            return -np.inf, None, info, None
        A = linalg.cho_solve(chol, np.eye(len(beta)))  # I^-1 by Cholesky solves
        r, H, s0, xbar = ps.risk, ps.H, ps.s0, ps.xbar
        sb, wbar = rs.sub_block, rs.wbar
        XA = X @ A
        q = np.einsum("ij,ij->i", XA, X)  # x_i' A x_i
        # sum over events of E_t[(x'Ax) x] : sum_i r_i q_i H_i x_i
        term1 = (r * q * H) @ X
        # sum over events of E_t[x] E_t[x'Ax]
        T0 = rs.rev_cumsum(rs.block_sum(r * q))
        term2 = (wbar * T0[sb] / s0) @ xbar
        # sum over events of E_t[x x'] A E_t[x] : sum_i r_i x_i (x_i' A G_i)
        nb, p = rs.nb, X.shape[1]
        g = np.zeros((nb, p))
        for j in range(p):
            g[:, j] = np.bincount(sb, weights=wbar * xbar[:, j] / s0, minlength=nb)
        G = rs.fwd_cumsum(g)[rs.block]
        term3 = (r * np.einsum("ij,ij->i", XA, G)) @ X
        # sum over events of E_t[x] (E_t[x]' A E_t[x])
        term4 = (wbar * np.einsum("ij,jk,ik->i", xbar, A, xbar)) @ xbar
        score = ps.score + self.penalty * (term1 - term2 - 2.0 * (term3 - term4))
        return pl, score, info, chol


def _maximize(f: _Penalized, beta: np.ndarray, free: np.ndarray, sd: np.ndarray, *,
              tol: float = TOL, iter_max: int = ITER_MAX):
    """Maximize l* over the coordinates ``free`` (the others stay where they are).

    Returns (beta, l*, score, info, chol, converged, iterations)."""
    beta = beta.astype(float).copy()
    pl, U, info, chol = f(beta)
    if not np.isfinite(pl):
        raise FloatingPointError("the information matrix is singular at the starting values")
    idx = np.flatnonzero(free)
    for it in range(1, iter_max + 1):
        if idx.size == 0:
            return beta, pl, U, info, chol, True, 0
        step = np.zeros_like(beta)
        step[idx] = linalg.solve(info[np.ix_(idx, idx)], U[idx], assume_a="pos")
        big = np.abs(step) * sd
        cap = np.where(big > STEP_MAX, STEP_MAX / np.where(big > 0, big, 1.0), 1.0)
        step *= cap
        new = beta + step
        for _ in range(HALVINGS):
            npl, nU, nI, nchol = f(new)
            if np.isfinite(npl) and npl >= pl - 1e-12 * max(1.0, abs(pl)):
                break
            step /= 2.0
            new = beta + step
        else:
            return beta, pl, U, info, chol, False, it
        beta, pl, U, info, chol = new, npl, nU, nI, nchol
        if np.max(np.abs(step) * sd) <= tol:
            return beta, pl, U, info, chol, True, it
    return beta, pl, U, info, chol, False, iter_max


def firth_cox(
    data: pd.DataFrame,
    duration: str,
    event: str,
    covariates: list[str],
    *,
    strata: str | None = None,
    alpha: float = 0.05,
    profile: bool = True,
    penalty: float = 0.5,
) -> FirthResult:
    """Firth-penalized Cox model; = ``coxphf(Surv(duration, event != 0) ~ covariates, data,
    pl = profile, alpha = alpha, penalty = penalty)`` (coxphf 1.13.4, Breslow ties).

    ``strata``: separate baseline hazards (coxphf has no strata; the penalty then uses the
    information summed over the strata). Returns a :class:`FirthResult`."""
    from micromet.survival import _prepare, _RiskSets

    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, not {alpha!r}")
    covariates = list(covariates)
    t, d, w, s, _ = _prepare(data, duration, event, covariates, strata=strata, weights=None,
                             cluster=None)
    if len(t) == 0:
        raise InputError("no rows to fit")
    if not d.any():
        raise InputError("no events: a Cox model needs at least one event", column=event)
    design = design_matrix(data, covariates)
    terms = list(design.X.columns)
    rs = _RiskSets(t, d, s, w, "breslow")
    X = design.X[terms].to_numpy(dtype=float)[rs.order]
    X = X - X.mean(axis=0)
    sd = X.std(axis=0, ddof=1) if len(X) > 1 else np.ones(X.shape[1])
    sd = np.where(sd > 0, sd, 1.0)
    f = _Penalized(rs, X, penalty)
    p = len(terms)
    null_pl = f(np.zeros(p))[0]
    beta, pl, _, _, chol, converged, iters = _maximize(f, np.zeros(p), np.ones(p, bool), sd)
    if not converged:
        warnings.warn("Firth's penalized Cox model did not converge", RuntimeWarning,
                      stacklevel=2)
    V = linalg.cho_solve(chol, np.eye(p))
    se = np.sqrt(np.diag(V))
    if profile:
        chi = stats.chi2.ppf(1 - alpha, 1)
        lower, upper, pv = np.empty(p), np.empty(p), np.empty(p)
        for k in range(p):
            lower[k] = _profile_limit(f, beta, pl, k, -1, chi, se[k], sd)
            upper[k] = _profile_limit(f, beta, pl, k, +1, chi, se[k], sd)
            pv[k] = _penalized_lr_p(f, beta, pl, k, sd)
        ci = "profile penalized likelihood"
    else:
        z = stats.norm.ppf(1 - alpha / 2)
        lower, upper = beta - z * se, beta + z * se
        pv = stats.chi2.sf((beta / se) ** 2, 1)
        ci = "Wald"
    table = pd.DataFrame(index=pd.Index(list(design.all_terms), name="term"),
                         columns=["coef", "se", "hr", "lower", "upper", "p"], dtype=float)
    table.loc[terms, "coef"] = beta
    table.loc[terms, "se"] = se
    table.loc[terms, "hr"] = np.exp(beta)
    table.loc[terms, "lower"] = np.exp(lower)
    table.loc[terms, "upper"] = np.exp(upper)
    table.loc[terms, "p"] = pv
    return FirthResult(
        table=table, var=pd.DataFrame(V, index=terms, columns=terms), loglik=float(pl),
        loglik_null=float(null_pl), iterations=iters, converged=converged, n=len(t),
        n_events=int(d.sum()), ci=ci, alpha=alpha, penalty=penalty,
        dropped=dict(design.dropped), covariate_of=dict(design.covariate_of),
        reference=dict(design.reference), conditioning=conditioning(V, design.X[terms]),
    )


def _profile(f, beta_hat, k, c, sd, start=None):
    """max l* with β_k fixed at ``c`` (the others free): (l*, β)."""
    b = (beta_hat if start is None else start).copy()
    b[k] = c
    free = np.ones(len(b), bool)
    free[k] = False
    b, pl, *_ = _maximize(f, b, free, sd)
    return pl, b


def _profile_limit(f, beta_hat, pl_hat, k, side, chi, se, sd):
    """The profile penalized likelihood limit of β_k on ``side`` (-1 lower, +1 upper)."""
    target = pl_hat - chi / 2.0
    start = beta_hat.copy()
    delta = max(se, 1e-3 / sd[k]) * np.sqrt(chi)
    near = beta_hat[k]
    for _ in range(60):
        c = beta_hat[k] + side * delta
        try:
            val, start = _profile(f, beta_hat, k, c, sd, start)
        except FloatingPointError:
            val = -np.inf
        if val < target:
            break
        near = c
        delta *= 2.0
    else:
        return side * np.inf
    cache = {}

    def g(c):
        try:
            val, cache["start"] = _profile(f, beta_hat, k, c, sd, cache.get("start", start))
        except FloatingPointError:
            val = -np.inf
        return val - target if np.isfinite(val) else -1e300

    lo, hi = sorted((near, c))
    return optimize.brentq(g, lo, hi, xtol=1e-13, rtol=1e-14, maxiter=200)


def _penalized_lr_p(f, beta_hat, pl_hat, k, sd):
    """Penalized likelihood-ratio test of β_k = 0 (coxphf's profile p value)."""
    try:
        pl0, _ = _profile(f, beta_hat, k, 0.0, sd)
    except FloatingPointError:
        return float("nan")
    return float(stats.chi2.sf(max(2.0 * (pl_hat - pl0), 0.0), 1))
