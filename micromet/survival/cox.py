"""Cox regression as ``survival::coxph``, with monotone likelihood found and reported (or dropped,
or fitted by Firth's penalized likelihood).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from micromet.design import (
    Conditioning,
    Design,
    conditioning,
    design_matrix,
    monotone_terms,
    term_words,
)
from micromet.errors import InputError, NotEstimableWarning, UnstableWarning
from micromet.separation import leave_out_covariates, monotone_direction
from micromet.survival.coxfit import _newton, _RiskSets, _score_residuals
from micromet.survival.data import (
    EPS,
    ITER_MAX,
    TOLER_INF,
    Z975,
    _codes,
    _durations,
    _events,
    _labels_column,
    _numeric_column,
    _require_columns,
    timefix,
)


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
