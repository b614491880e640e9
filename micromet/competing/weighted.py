"""Fine-Gray regression with case weights (e.g. propensity-score weights) and a cluster-robust
variance, as R's ``survival::finegray`` followed by a weighted, clustered ``coxph``.

Agrees with (survival 3.5-3; the expansion is the same in every version from 2.44 to 3.8)::

    fg  <- finegray(Surv(time, factor(event)) ~ ., data, etype = "<cause>")
    fit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ covariates, data = fg,
                 weights = fgwt * w, cluster = id, ties = "efron" | "breslow")

(``finegray(..., weights = w)`` followed by ``weights = fgwt`` is the same model.) It is not
``cmprsk::crr`` (:func:`micromet.competing.fine_gray`): the censoring distribution, the ties and
the variance differ (METHODS 4.3-4.4).

The model, written from the formulas (no expanded data are built):

* Censoring distribution Ĝ: the Kaplan-Meier of censoring, **unweighted** (finegray() never
  passes the case weights to it), with events removed from the risk set before the censorings
  at a tied time (finegray's -0.2 shift of event times): at a censoring time c the number at
  risk is #{T > c} + #{T = c, censored}.
* Risk set at a cause-``cause`` event time t: everyone with T >= t, with weight ``w_i``, and
  everyone with a competing event before t, with weight ``w_i Ĝ(t-)/Ĝ(T_i-)`` (finegray's
  piecewise-constant weight of the censoring interval that holds t).
* Partial likelihood with Efron's (default, as coxph) or Breslow's handling of tied events, the
  events weighted by ``w_i``; coxph's Newton-Raphson (init 0, |1 - l_old/l_new| <= 1e-9, step
  halving).
* Variance: the robust sandwich ``D'D`` of coxph, ``D`` the weighted score residuals of every
  subject (all of its finegray rows) times the inverse information, summed within ``cluster``
  (default: each subject its own cluster, i.e. ``cluster = id``). There is no term for the
  estimation of Ĝ (crr has one; coxph has not). ``se`` is the model-based one (coxph's
  ``se(coef)``); the confidence limits and p use ``robust_se``, as ``summary.coxph`` does.

Every risk-set sum is a running sum over the data sorted by time (METHODS 5), so the cost grows
like n log n, as for the unweighted model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from micromet.competing.data import Z975, _events, _times
from micromet.competing.finegray import _FGData
from micromet.design import Design, design_matrix, monotone_terms, term_words
from micromet.errors import InputError, NotEstimableWarning
from micromet.survival.cox import diverging_terms
from micromet.survival.coxfit import _newton, _Pass
from micromet.survival.data import _codes, _labels_column, _numeric_column, timefix


def finegray_censoring(t_sorted: np.ndarray, eps_sorted: np.ndarray, start: np.ndarray,
                       n_at: np.ndarray) -> np.ndarray:
    """Ĝ(u-) at every distinct time u (in order) with finegray()'s convention: unweighted,
    events leave the censoring risk set before the censorings at a tied time."""
    cens = np.add.reduceat((eps_sorted == 0).astype(float), start)
    events = np.add.reduceat((eps_sorted != 0).astype(float), start)
    at_risk = n_at - events  # T > u, plus those censored at u
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(cens > 0, 1.0 - cens / np.where(at_risk > 0, at_risk, 1.0), 1.0)
    G = np.cumprod(factor)
    return np.concatenate(([1.0], G[:-1]))


class _WFGData(_FGData):
    """Sorted data, finegray()'s Ĝ, case weights and the per-event-time structure of ties."""

    def __init__(self, t, eps, Z, w, method):
        super().__init__(t, eps, Z)
        self.G_time = finegray_censoring(t, eps, self.start, self.n_at)
        self.G_left = self.G_time[self.blk]
        self.w = w
        fail = self.is_fail
        # failure-time index (0..m-1) of every failing row
        self.kf = np.searchsorted(self.fail_blk, self.blk[fail])
        self.count = np.bincount(self.kf, minlength=self.m).astype(np.int64)
        wsum = np.bincount(self.kf, weights=w[fail], minlength=self.m)
        self.wbar = wsum / self.count
        # one sub-step per tied event: Efron's l = 0..m_k - 1
        self.sub = np.repeat(np.arange(self.m), self.count)
        l_idx = np.arange(len(self.sub)) - np.repeat(np.cumsum(self.count) - self.count,
                                                     self.count)
        self.frac = (l_idx / np.repeat(self.count, self.count) if method == "efron"
                     else np.zeros(len(self.sub)))
        self.wf = w[fail]
        self.Zf = Z[fail]
        self.wzsum = self.wf @ self.Zf

    def evaluate(self, beta: np.ndarray, *, keep: bool = False):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
            return self._evaluate(beta, keep)

    def _evaluate(self, beta, keep):
        Z, m, sub, frac = self.Z, self.m, self.sub, self.frac
        eta = Z @ beta
        shift = float(eta.max()) if len(eta) else 0.0
        r = self.w * np.exp(eta - shift)
        S0, S1 = self.risk_sums(r)
        rf = r[self.is_fail]
        D0 = np.bincount(self.kf, weights=rf, minlength=m)
        D1 = np.zeros((m, self.p))
        np.add.at(D1, self.kf, rf[:, None] * self.Zf)
        s0 = S0[sub] - frac * D0[sub]
        s1 = S1[sub] - frac[:, None] * D1[sub]
        wb = self.wbar[sub]
        loglik = float(self.wf @ (eta[self.is_fail] - shift) - wb @ np.log(s0))
        xbar = s1 / s0[:, None]
        score = self.wzsum - wb @ xbar
        A = np.bincount(sub, weights=wb / s0, minlength=m)
        B = np.bincount(sub, weights=wb * frac / s0, minlength=m)
        a = self.row_weights(A)
        a[self.is_fail] -= B[self.kf]
        info = Z.T @ (Z * (r * a)[:, None]) - (xbar * wb[:, None]).T @ xbar
        out = _Pass(loglik=loglik, score=score, info=info)
        if keep:
            out.eta, out.risk, out.xbar, out.s0, out.H = eta, r, xbar, s0, a
        return out

    def score_residuals(self, beta: np.ndarray) -> np.ndarray:
        """Weighted score residual of every (sorted) subject, summed over its finegray rows:
        w_i d_i (z_i - mean_l xbar_kl) - r_i sum_k f_ik sum_l c_ikl (wbar_k / s0_kl)
        (z_i - xbar_kl), f_ik = 1 or Ĝ(t_k-)/Ĝ(T_i-), c = 1 - l/m_k for i's own tied events."""
        ps = self.evaluate(beta, keep=True)
        m, sub, frac, p = self.m, self.sub, self.frac, self.p
        wb, s0, xbar, r, a = self.wbar[sub], ps.s0, ps.xbar, ps.risk, ps.H
        C = np.zeros((m, p))
        E = np.zeros((m, p))
        xavg = np.zeros((m, p))
        np.add.at(C, sub, (wb / s0)[:, None] * xbar)
        np.add.at(E, sub, (wb * frac / s0)[:, None] * xbar)
        np.add.at(xavg, sub, xbar)
        xavg /= self.count[:, None]
        b = self.row_weights(C)
        b[self.is_fail] -= E[self.kf]
        U = -(r[:, None] * (self.Z * a[:, None] - b))
        U[self.is_fail] += self.wf[:, None] * (self.Zf - xavg[self.kf])
        return U, ps


@dataclass
class WeightedFineGrayResult:
    """A Fine-Gray model fitted as ``coxph`` on ``finegray()`` data with case weights.

    ``table``: index = every term of the design; columns coef, se (model-based, coxph's
    ``se(coef)``), hr, lower, upper, p, robust_se (lower/upper/p use robust_se). ``var`` is the
    robust variance, ``naive_var`` the inverse information.
    """

    table: pd.DataFrame
    var: pd.DataFrame
    naive_var: pd.DataFrame
    loglik: float
    loglik_null: float
    converged: bool
    iterations: int
    cause: int
    ties: str
    n: int
    n_events: int
    n_competing: int
    n_censored: int
    n_clusters: int
    terms: list
    not_estimable: dict
    dropped: dict
    design: Design = field(repr=False)


def _case_weights(data, weights):
    if weights is None:
        return np.ones(len(data))
    if weights not in data.columns:
        raise InputError("weights column not in the data", column=weights)
    w = _numeric_column(data, weights, "a case weight")
    neg = w < 0
    if neg.any():
        i = int(np.argmax(neg))
        raise InputError("case weights must not be negative", column=weights,
                         row=data.index[i], value=w[i])
    return w


def fine_gray_weighted(
    data: pd.DataFrame,
    duration: str,
    event: str,
    covariates: list[str],
    *,
    cause: int = 1,
    weights: str | None = None,
    cluster: str | None = None,
    ties: str = "efron",
) -> WeightedFineGrayResult:
    """Fine-Gray model with case ``weights`` and a cluster-robust variance; = R's
    ``coxph(Surv(fgstart, fgstop, fgstatus) ~ covariates, weights = fgwt * w, cluster = id,
    ties = ties)`` on ``finegray(Surv(time, factor(event)) ~ ., data, etype = cause)``, with
    ``cluster = <cluster column>`` instead of ``id`` when ``cluster`` is given.

    See the module docstring for the model. ``event``: 0 censored, ``cause`` the event of
    interest, any other code a competing event. Binary terms whose level has no event of
    ``cause`` (or all of them), and terms whose coefficient runs off to infinity, are reported
    in ``not_estimable`` (NaN rows, a ``NotEstimableWarning``) and left out of the fit.
    """
    if ties not in ("efron", "breslow"):
        raise InputError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    t = timefix(_times(data, duration))
    e = _events(data, event)
    cause = int(cause)
    if not np.any(e == cause):
        raise InputError(f"no events of cause {cause} in the data", column=event)
    w = _case_weights(data, weights)
    if cluster is not None:
        if cluster not in data.columns:
            raise InputError("cluster column not in the data", column=cluster)
        cl = _codes(_labels_column(data, cluster, "cluster id"))[0]
    else:
        cl = np.arange(len(data))
    des = design_matrix(data, list(covariates))
    X = des.X
    not_est = monotone_terms(X, (e == cause) & (w > 0), event_name=f"events of cause {cause}",
                             words=term_words(des))
    terms = [c for c in X.columns if c not in not_est]
    order = np.argsort(t, kind="stable")
    eps = np.where(e == cause, 1, np.where(e == 0, 0, 2))[order]

    def fit(terms_now):
        Z = X[terms_now].to_numpy(dtype=float)[order] if terms_now else np.zeros((len(t), 0))
        if terms_now:
            Z = Z - (w[order] @ Z) / w.sum()  # coxph centres the covariates
        D = _WFGData(t[order], eps, Z, w[order], ties)
        return D, _newton(None, Z, evaluate=D.evaluate)

    D, res = fit(terms)
    for _ in range(len(terms)):
        spread = np.ptp(D.Z, axis=0) if terms else None
        more = diverging_terms(terms, res.beta, res.score, res.var, spread=spread,
                               converged=res.converged, singular=res.singular)
        if not more:
            break
        not_est.update(more)
        terms = [c for c in terms if c not in more]
        D, res = fit(terms)
    for why in dict.fromkeys(not_est.values()):
        warnings.warn(f"Fine-Gray (weighted), cause {cause}: {why}", NotEstimableWarning,
                      stacklevel=2)
    if not res.converged:
        warnings.warn(f"the weighted Fine-Gray model did not converge in {res.iterations} "
                      "iterations", RuntimeWarning, stacklevel=2)
    p = len(terms)
    naive = res.var
    if p:
        U, _ = D.score_residuals(res.beta)
        dfb = U @ naive
        groups = cl[order]
        k = int(groups.max()) + 1
        dfb = np.column_stack([np.bincount(groups, weights=dfb[:, j], minlength=k)
                               for j in range(p)])
        robust = dfb.T @ dfb
    else:
        robust = np.zeros((0, 0))
    table = _table(des.all_terms, terms, res.beta, robust, naive)
    return WeightedFineGrayResult(
        table=table,
        var=pd.DataFrame(robust, index=terms, columns=terms),
        naive_var=pd.DataFrame(naive, index=terms, columns=terms),
        loglik=res.loglik,
        loglik_null=res.loglik_null,
        converged=res.converged,
        iterations=res.iterations,
        cause=cause,
        ties=ties,
        n=len(t),
        n_events=int((e == cause).sum()),
        n_competing=int(((e != cause) & (e != 0)).sum()),
        n_censored=int((e == 0).sum()),
        n_clusters=int(len(np.unique(cl))),
        terms=terms,
        not_estimable=not_est,
        dropped=des.dropped,
        design=des,
    )


def _table(all_terms, terms, beta, var, naive) -> pd.DataFrame:
    out = pd.DataFrame(index=pd.Index(list(all_terms), name="term"),
                       columns=["coef", "se", "hr", "lower", "upper", "p", "robust_se"],
                       dtype=float)
    if terms:
        rse = np.sqrt(np.diag(var))
        z = beta / rse
        out.loc[terms, "coef"] = beta
        out.loc[terms, "se"] = np.sqrt(np.diag(naive))
        out.loc[terms, "hr"] = np.exp(beta)
        out.loc[terms, "lower"] = np.exp(beta - Z975 * rse)
        out.loc[terms, "upper"] = np.exp(beta + Z975 * rse)
        out.loc[terms, "p"] = stats.chi2.sf(z**2, 1)
        out.loc[terms, "robust_se"] = rse
    return out
