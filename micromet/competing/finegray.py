"""The Fine-Gray subdistribution hazards model, as ``cmprsk::crr`` (same weights, Newton path,
stopping rule and sandwich variance), and predicted cumulative incidence, as ``predict.crr``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse, stats

from micromet.competing.data import Z975, _events, _first_bad, _times
from micromet.design import (
    Conditioning,
    Design,
    conditioning,
    design_matrix,
    monotone_terms,
    term_name,
    term_words,
)
from micromet.errors import InputError, NotEstimableWarning, UnstableWarning
from micromet.separation import leave_out_covariates, monotone_direction
from micromet.survival import diverging_terms


class _FGData:
    """Sorted data and the censoring distribution, fixed across Newton iterations.

    Rows are sorted by time (stably). ``blk`` is the distinct-time index of each row. ``G_left``
    is Ĝ(T_i-) of crr (Ĝ(0) for T_i = 0), the censoring Kaplan-Meier with failures of any cause
    counted at risk at their own time (METHODS 2.2).
    """

    def __init__(self, t: np.ndarray, eps: np.ndarray, Z: np.ndarray):
        self.n, self.p = Z.shape
        self.t = t
        self.eps = eps  # 1 cause of interest, 0 censored, 2 competing
        self.Z = Z
        ut, start, counts = np.unique(t, return_index=True, return_counts=True)
        self.ut = ut
        self.start = start
        self.blk = np.repeat(np.arange(len(ut)), counts)
        n_at = (self.n - start).astype(float)  # T >= u
        cens = np.add.reduceat((eps == 0).astype(float), start)
        self.n_at = n_at
        self.cens = cens
        G = np.cumprod(1.0 - cens / n_at)  # Ĝ(u) at each distinct time
        G_minus = np.concatenate(([1.0], G[:-1]))  # Ĝ(u-)
        if len(ut) and ut[0] == 0:
            G_minus[0] = G[0]  # crr evaluates T = 0 at 0, not at 0-
        self.G_time = G_minus  # per distinct time
        self.G_left = G_minus[self.blk]
        fail = np.add.reduceat((eps == 1).astype(float), start)
        self.fail_blk = np.flatnonzero(fail > 0)  # distinct times with a cause-of-interest event
        self.d = fail[self.fail_blk]
        self.comp = eps == 2
        self.is_fail = eps == 1
        self.zsum_fail = Z[self.is_fail].sum(axis=0)
        # prefix helper: for each distinct time, number of failure times <= it
        self.nf_le = np.searchsorted(self.ut[self.fail_blk], self.ut, side="right")

        # segments: row i belongs to segment seg_i = number of failure times <= T_i. Row i is at
        # risk at the k-th failure time (0-based) iff k < seg_i, and a competing row is before it
        # (T_i < t_k) iff seg_i <= k. Per-segment sums therefore give every risk-set sum.
        self.m = len(self.fail_blk)
        self.seg = self.nf_le[self.blk]
        seg_start = np.searchsorted(self.seg, np.arange(self.m + 1), side="left")
        self._seg_ptr = np.append(seg_start, self.n)
        self._blk_ptr = np.append(start, self.n)
        self._rows = np.arange(self.n)
        self.Z1 = np.column_stack([np.ones(self.n), Z])  # sums of r and r Z in one product

    # running sums -----------------------------------------------------------------------
    def _group_sums(self, weights: np.ndarray, ptr: np.ndarray) -> np.ndarray:
        """Σ weights_i (1, Z_i) within consecutive row groups (boundaries ``ptr``): one sparse
        block-indicator product, O(n p), no n x n object."""
        B = sparse.csr_matrix((weights, self._rows, ptr), shape=(len(ptr) - 1, self.n))
        return np.asarray(B @ self.Z1)

    def risk_sum0(self, r: np.ndarray) -> np.ndarray:
        """S0 alone at the failure times (for the line search and the null log-likelihood)."""
        m = self.m
        seg_r = np.bincount(self.seg, weights=r, minlength=m + 1)
        seg_c = np.bincount(self.seg, weights=np.where(self.comp, r / self.G_left, 0.0),
                            minlength=m + 1)
        tail = np.cumsum(seg_r[::-1])[::-1][1:]  # segments > k
        before = np.cumsum(seg_c)[:m]  # segments <= k
        return tail + self.G_time[self.fail_blk] * before

    def risk_sums(self, r: np.ndarray):
        """S0 and S1 at the failure times (METHODS 5): the sum over T >= t (a reverse cumulative
        sum of per-segment sums) plus Ĝ(t-) times the sum of r/Ĝ(T-) over competing events
        strictly before t (a forward cumulative sum)."""
        m = self.m
        cw = np.where(self.comp, r / self.G_left, 0.0)
        seg_r = self._group_sums(r, self._seg_ptr)  # (m + 1) x (1 + p)
        seg_c = self._group_sums(cw, self._seg_ptr)
        tail = np.cumsum(seg_r[::-1], axis=0)[::-1][1:]
        before = np.cumsum(seg_c, axis=0)[:m]
        S = tail + self.G_time[self.fail_blk][:, None] * before
        return S[:, 0], S[:, 1:]

    def competing_before(self, r: np.ndarray):
        """For every distinct time u: Σ r_j/Ĝ(T_j-) and Σ r_j Z_j/Ĝ(T_j-) over competing events
        with T_j < u (P0, P1 of the variance)."""
        cw = np.where(self.comp, r / self.G_left, 0.0)
        blk = self._group_sums(cw, self._blk_ptr)
        pre = np.cumsum(blk, axis=0)
        pre = np.vstack([np.zeros((1, self.p + 1)), pre[:-1]])
        return pre[:, 0], pre[:, 1:]

    def row_weights(self, coef_time: np.ndarray) -> np.ndarray:
        """For each row i, Σ_k w_i(t_k) c_k over failure times k for a per-failure-time array
        ``c`` (shape (m,) or (m, q)): prefix sum over t_k <= T_i, plus for competing rows
        Σ_{t_k > T_i} Ĝ(t_k-) c_k / Ĝ(T_i-)."""
        c = coef_time
        Gt = self.G_time[self.fail_blk]
        zero = np.zeros((1,) + c.shape[1:])
        pre = np.concatenate([zero, np.cumsum(c, axis=0)])  # [j] = sum of first j
        gc = c * (Gt if c.ndim == 1 else Gt[:, None])
        suf = np.concatenate([np.cumsum(gc[::-1], axis=0)[::-1], zero])  # [j] = sum from j on
        j = self.nf_le[self.blk]  # failures with t_k <= T_i
        out = pre[j]
        extra = suf[j]
        if c.ndim == 1:
            out = out + np.where(self.comp, extra / self.G_left, 0.0)
        else:
            out = out + np.where(self.comp[:, None], extra / self.G_left[:, None], 0.0)
        return out


def _fg_eval(D: _FGData, beta: np.ndarray, need: str = "all"):
    """-loglik, -score and information at beta (METHODS 2.4), in O(n p^2).

    The linear predictor is shifted by its maximum (the pseudo-likelihood is invariant to it).
    At absurd coefficients (a diverging fit) risk sums can still underflow; the result is then
    non-finite, which the line search treats as a failed step, as crr does.
    """
    with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
        eta = D.Z @ beta
        shift = float(eta.max()) if len(eta) else 0.0
        r = np.exp(eta - shift)
        if need == "f":
            S0 = D.risk_sum0(r)
        else:
            S0, S1 = D.risk_sums(r)
        loglik = float(eta[D.is_fail].sum() - (D.d * (np.log(S0) + shift)).sum())
        if need == "f":
            return -loglik, None, None, None
        zbar = S1 / S0[:, None]
        score = D.zsum_fail - (D.d[:, None] * zbar).sum(axis=0)
        # information: Σ_k d_k S2_k/S0_k - Σ_k d_k zbar zbar', Σ_k d_k S2_k/S0_k = Z' diag(r a) Z
        a = D.row_weights(D.d / S0)
        info = D.Z.T @ (D.Z * (r * a)[:, None]) - (zbar * D.d[:, None]).T @ zbar
    return -loglik, -score, info, (r, S0, S1, zbar)


def _fg_variance(D: _FGData, beta: np.ndarray, info: np.ndarray, parts) -> np.ndarray:
    """crr's sandwich Ω⁻¹ Σ(η+ψ)(η+ψ)' Ω⁻¹ with the censoring term ψ (METHODS 2.6), O(n p)."""
    r, S0, S1, zbar = parts
    Z = D.Z
    d = D.d
    # eta_i
    own = np.zeros_like(Z)
    fail_rows = D.is_fail
    zbar_row = zbar[np.searchsorted(D.fail_blk, D.blk[fail_rows])]
    own[fail_rows] = Z[fail_rows] - zbar_row
    a0 = D.row_weights(d / S0)
    a1 = D.row_weights(d[:, None] * zbar / S0[:, None])
    eta = own - r[:, None] * (Z * a0[:, None] - a1)
    # psi_i
    Gt = D.G_time[D.fail_blk]
    g0 = d * Gt / S0  # per failure time
    g1 = (d * Gt / S0)[:, None] * zbar
    # suffix sums over failure times t_k >= u, for every distinct time u
    suf0 = np.concatenate([np.cumsum(g0[::-1])[::-1], [0.0]])
    suf1 = np.vstack([np.cumsum(g1[::-1], axis=0)[::-1], np.zeros((1, D.p))])
    first_ge = np.searchsorted(D.ut[D.fail_blk], D.ut, side="left")  # first k with t_k >= u
    # P0, P1: sums of r/Ĝ(T-) (times Z) over competing events with T < u, per distinct time u
    P0, P1 = D.competing_before(r)
    q = P1 * suf0[first_ge][:, None] - P0[:, None] * suf1[first_ge]  # per distinct time u
    pi = D.n_at
    cterm = (D.cens / pi**2)[:, None] * q
    cum = np.cumsum(cterm, axis=0)  # Σ_{u <= T}
    psi = -cum[D.blk]
    cens_rows = D.eps == 0
    psi[cens_rows] += (q / pi[:, None])[D.blk[cens_rows]]
    u = eta + psi
    sigma = u.T @ u
    inv = np.linalg.inv(info)
    return inv @ sigma @ inv


@dataclass
class _Fit:
    coef: np.ndarray
    loglik: float
    loglik_null: float
    score: np.ndarray
    info: np.ndarray
    converged: bool
    n_iter: int
    path: list
    parts: tuple
    message: str = ""


def _newton(D: _FGData, init: np.ndarray, gtol: float, maxiter: int) -> _Fit:
    """crr's Newton-Raphson: convergence test before the step, Armijo backtracking (METHODS 2.5)."""
    b = init.astype(float).copy()
    converged = False
    path = []
    loglik_null = -_fg_eval(D, np.zeros(D.p), need="f")[0]
    message = ""
    ll = 0
    for ll in range(maxiter + 1):
        f, g, H, parts = _fg_eval(D, b)
        path.append(b.copy())
        if np.max(np.abs(g) * np.maximum(np.abs(b), 1.0), initial=0.0) < max(abs(f), 1.0) * gtol:
            converged = True
            break
        if ll == maxiter:
            message = f"did not converge in {maxiter} iterations"
            break
        try:
            s = -np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            message = "singular information matrix"
            break
        if not np.all(np.isfinite(s)):
            message = "singular information matrix"
            break
        bn = b + s
        fn = _fg_eval(D, bn, need="f")[0]
        slope = float(np.sum(s * g))
        halvings = 0
        ok = True
        while not np.isfinite(fn) or fn > f + 1e-4 * slope:
            halvings += 1
            if halvings > 20:
                ok = False
                break
            s = s / 2.0
            bn = b + s
            fn = _fg_eval(D, bn, need="f")[0]
        if not ok:
            message = "step halving failed (20 halvings)"
            break
        b = bn
    return _Fit(coef=b, loglik=-f, loglik_null=loglik_null, score=-g, info=H,
                converged=converged, n_iter=ll, path=path, parts=parts, message=message)


@dataclass
class FineGrayResult:
    """A Fine-Gray model (``cmprsk::crr``).

    ``table``: index = term; columns coef, se, hr, lower, upper, p (95% CI; p = 2(1 - Φ(|z|)) as
    crr), with NaN rows for terms that could not be estimated (reason in ``not_estimable``).
    ``var``, ``info``, ``score`` are over the fitted terms (``terms``). ``uftime`` and ``bfitj`` are
    the distinct cause-of-interest event times and the Breslow jumps of the baseline cumulative
    subdistribution hazard (crr's ``uftime``/``bfitj``); ``path`` the coefficients after each
    Newton step (``path[0]`` = start).
    """

    table: pd.DataFrame
    coef: pd.Series
    var: pd.DataFrame
    loglik: float
    loglik_null: float
    converged: bool
    n_iter: int
    score: np.ndarray
    info: np.ndarray
    uftime: np.ndarray
    bfitj: np.ndarray
    path: list
    cause: int
    n: int
    n_events: int
    n_competing: int
    n_censored: int
    terms: list
    not_estimable: dict
    dropped: dict
    design: Design = field(repr=False)
    message: str = ""
    conditioning: Conditioning | None = None  # scaled condition number and VIFs

    @property
    def pseudo_lrt(self) -> float:
        """-2 (loglik_null - loglik), crr's "pseudo likelihood ratio test" on len(terms) df."""
        return -2.0 * (self.loglik_null - self.loglik)


def _wald_table(terms_all, coef: dict, se: dict) -> pd.DataFrame:
    rows = []
    for term in terms_all:
        b = coef.get(term, np.nan)
        s = se.get(term, np.nan)
        z = b / s if np.isfinite(b) and np.isfinite(s) and s > 0 else np.nan
        p = 2.0 * (1.0 - stats.norm.cdf(abs(z))) if np.isfinite(z) else np.nan
        rows.append({"coef": b, "se": s, "hr": np.exp(b), "lower": np.exp(b - Z975 * s),
                     "upper": np.exp(b + Z975 * s), "p": p})
    return pd.DataFrame(rows, index=pd.Index(list(terms_all), name="term"),
                        columns=["coef", "se", "hr", "lower", "upper", "p"])


def _diverging(terms: list, res: _Fit, Z: np.ndarray) -> dict:
    """Terms whose coefficient runs off to infinity (monotone pseudo-likelihood).

    * Converged fits: the check of the Cox fits, ``micromet.survival.diverging_terms`` (coxph's
      ``toler.inf`` rule on the Newton step still to take, and a log hazard ratio across the
      term's range beyond 8), so both models flag the same situations.
    * Fits that did not converge: terms whose log hazard ratio across their range exceeds 8 and
      whose Newton steps are not shrinking (the last step at least half the one before, after at
      least two steps) - the signature of a monotone likelihood, which a slow or deliberately
      truncated path (small ``maxiter``) does not have.
    """
    if not terms:
        return {}
    spread = Z.max(axis=0) - Z.min(axis=0) if len(Z) else np.ones(len(terms))
    big = np.abs(res.coef) * spread > 8.0
    message = ("not estimable: the coefficient of {} grows without bound (monotone likelihood: "
               "the events are separated by {} together with other terms)")
    if not res.converged:
        if len(res.path) < 3:
            return {}
        last = np.abs(res.path[-1] - res.path[-2])
        prev = np.abs(res.path[-2] - res.path[-3])
        moving = (last >= 0.5 * prev) & (last * spread > 0.5)
        return {tm: message.format(tm, tm) for j, tm in enumerate(terms) if big[j] and moving[j]}
    inv = np.linalg.pinv(res.info)
    return diverging_terms(terms, res.coef, res.score, inv, converged=True, spread=spread)


def _by_reason(not_est: dict) -> dict[str, list[str]]:
    """Terms grouped by their (shared) reason, so that one reason is said once."""
    out: dict[str, list[str]] = {}
    for term, why in not_est.items():
        out.setdefault(why, []).append(term)
    return out


def fine_gray(
    data: pd.DataFrame,
    duration: str,
    event: str,
    covariates: list[str],
    *,
    cause: int = 1,
    gtol: float = 1e-6,
    maxiter: int = 10,
    init=None,
    variance: bool = True,
    on_separation: str = "report",
    labels: dict | None = None,
    event_name: str | None = None,
) -> FineGrayResult:
    """Fine-Gray proportional subdistribution hazards model, agreeing with ``cmprsk::crr``.

    ``crr(ftime, fstatus, cov1 = model matrix of covariates, failcode = cause, cencode = 0,
    gtol, maxiter, init)``: same weights, same Newton path and stopping rule, same sandwich variance
    (METHODS 2), computed in O(n log n). Covariates go through ``micromet.design.design_matrix``
    (categorical columns expanded to ``col[level]``; constant or aliased terms dropped and reported
    in ``dropped``). Binary terms whose level has no event of ``cause`` (or all of them), and terms
    whose coefficient runs off to infinity, are reported as "not estimable: ..." (NaN row, message
    in ``not_estimable``, a ``NotEstimableWarning``) and the model is fitted without them;
    separation by a combination of terms is found before fitting by linear programming on crr's
    risk sets (:mod:`micromet.separation`). ``on_separation="drop"`` leaves the covariates
    involved out altogether, as :func:`micromet.survival.cox` does ("firth" is for Cox models
    only: there is no Firth-penalized Fine-Gray model in R to agree with). ``labels`` and
    ``event_name`` word the messages.
    """
    if on_separation not in ("report", "drop"):
        raise InputError(f"on_separation must be 'report' or 'drop' for a Fine-Gray model, not "
                         f"{on_separation!r} (Firth's correction is for Cox models)")
    t = _times(data, duration)
    e = _events(data, event)
    cause = int(cause)
    if not np.any(e == cause):
        raise InputError(f"no events of cause {cause} in the data", column=event)
    des = design_matrix(data, list(covariates))
    X = des.X
    not_est = monotone_terms(X, e == cause, event_name=event_name or f"events of cause {cause}",
                             words=term_words(des, labels))
    terms = [c for c in X.columns if c not in not_est]
    # separation by a combination of terms, on crr's subdistribution risk sets (LP)
    for _ in range(len(terms)):
        found = monotone_direction(X[terms], t, e == cause, competing=(e != cause) & (e != 0))
        if found is None:
            break
        why = found.sentence(event_name or f"events of cause {cause}",
                             data=data[[c for c in covariates if c in data.columns]],
                             covariate_of=des.covariate_of, labels=labels)
        not_est.update({tm: why for tm in found.terms})
        terms = [c for c in terms if c not in found.terms]
    if not_est and on_separation == "drop":
        not_est, terms = leave_out_covariates(not_est, des, labels)
    order = np.argsort(t, kind="stable")
    eps = np.where(e == cause, 1, np.where(e == 0, 0, 2))[order]
    ts = t[order]

    def fit(terms_now):
        Z = X[terms_now].to_numpy(dtype=float)[order] if terms_now else np.zeros((len(ts), 0))
        D = _FGData(ts, eps, Z)
        b0 = np.zeros(len(terms_now)) if init is None else _init_for(init, X.columns, terms_now)
        return D, _newton(D, b0, gtol, maxiter)

    D, res = fit(terms)
    # divergence: a coefficient running off to infinity is not an estimate; drop and refit
    for _ in range(len(terms)):
        run_off = _diverging(terms, res, D.Z)
        if not run_off:
            break
        not_est.update(run_off)
        terms = [tm for tm in terms if tm not in run_off]
        if on_separation == "drop":
            not_est, terms = leave_out_covariates(not_est, des, labels)
        D, res = fit(terms)
    for why, tms in _by_reason(not_est).items():
        warnings.warn(f"Fine-Gray, cause {cause}: {', '.join(tms)}: {why}", NotEstimableWarning,
                      stacklevel=2)
    if not res.converged:
        warnings.warn(f"Fine-Gray, cause {cause}: {res.message}", RuntimeWarning, stacklevel=2)

    p = len(terms)
    if variance and p:
        try:
            V = _fg_variance(D, res.coef, res.info, res.parts)
        except np.linalg.LinAlgError:
            V = np.full((p, p), np.nan)
    else:
        V = np.full((p, p), np.nan)
    se = np.sqrt(np.diag(V)) if p else np.zeros(0)
    coef = dict(zip(terms, res.coef))
    try:
        naive = np.linalg.solve(res.info, np.eye(p)) if p else np.zeros((0, 0))
    except np.linalg.LinAlgError:
        naive = np.full((p, p), np.inf)
    cond = conditioning(naive, X[terms])
    if cond.unstable:
        warnings.warn(f"Fine-Gray, cause {cause}: " + cond.sentence("the Fine-Gray model"),
                      UnstableWarning, stacklevel=2)
    table = _wald_table(list(des.all_terms), coef, dict(zip(terms, se)))
    # Breslow jumps of the baseline cumulative subdistribution hazard at the fitted coefficients
    r_parts = res.parts
    S0 = r_parts[1]
    eta_shift = float((D.Z @ res.coef).max()) if D.n else 0.0
    bfitj = D.d / (S0 * np.exp(eta_shift))
    return FineGrayResult(
        table=table,
        coef=pd.Series(res.coef, index=terms, name="coef"),
        var=pd.DataFrame(V, index=terms, columns=terms),
        loglik=res.loglik,
        loglik_null=res.loglik_null,
        converged=res.converged,
        n_iter=res.n_iter,
        score=res.score,
        info=res.info,
        uftime=D.ut[D.fail_blk],
        bfitj=bfitj,
        path=res.path,
        cause=cause,
        n=len(t),
        n_events=int((e == cause).sum()),
        n_competing=int(((e != cause) & (e != 0)).sum()),
        n_censored=int((e == 0).sum()),
        terms=terms,
        not_estimable=not_est,
        dropped=des.dropped,
        design=des,
        message=res.message,
        conditioning=cond,
    )


def _init_for(init, all_terms, terms_now) -> np.ndarray:
    if isinstance(init, dict | pd.Series):
        return np.array([float(init.get(t, 0.0)) for t in terms_now])
    arr = np.asarray(init, dtype=float)
    if arr.shape != (len(all_terms),):
        raise InputError(f"init must have one value per term ({len(all_terms)}), not {arr.shape}")
    idx = [list(all_terms).index(t) for t in terms_now]
    return arr[idx]


def _newdata_matrix(result: FineGrayResult, newdata: pd.DataFrame) -> np.ndarray:
    des = result.design
    cols = []
    for term in result.terms:
        cov = des.covariate_of[term]
        if cov not in newdata.columns:
            raise InputError("covariate missing from newdata", column=cov)
        if cov == term and cov not in des.levels:
            vals = pd.to_numeric(newdata[cov], errors="coerce").to_numpy(dtype=float)
            _first_bad(newdata[cov], ~np.isfinite(vals), cov, "not a finite number")
            cols.append(vals)
        else:
            level = next(lv for lv in des.levels[cov] if term_name(cov, lv) == term)
            s = newdata[cov]
            unknown = ~s.isin(des.levels[cov]).to_numpy()
            _first_bad(s, unknown, cov, "level not seen when fitting the model")
            cols.append((s.to_numpy() == level).astype(float))
    return np.column_stack(cols) if cols else np.zeros((len(newdata), 0))


def predict_cif(result: FineGrayResult, newdata) -> pd.DataFrame:
    """Cumulative incidence of the cause from the model, as ``predict.crr``.

    CIF(t) = 1 - exp(-exp(z'β) Σ_{t_k <= t} bfitj_k) at the distinct event times ``uftime``.
    ``newdata``: a DataFrame (or dict of values) with the covariates. Returns a DataFrame with index
    time and one column per row of ``newdata`` (its index labels).
    """
    if isinstance(newdata, dict):
        newdata = pd.DataFrame({k: np.atleast_1d(v) for k, v in newdata.items()})
    Z = _newdata_matrix(result, newdata)
    lp = Z @ result.coef.to_numpy()
    cum = np.cumsum(result.bfitj)
    cif = 1.0 - np.exp(-np.outer(cum, np.exp(lp)))
    return pd.DataFrame(cif, index=pd.Index(result.uftime, name="time"), columns=newdata.index)
