"""Bootstrap of a matched analysis that resamples whole matched sets (Austin & Small 2014).

Austin & Small (2014, Stat Med 33:4306-4319), "The use of bootstrapping when using propensity-
score matching without replacement: a simulation study": the standard errors of an effect
estimated in a matched sample are best estimated by drawing, with replacement, as many **matched
sets** as there are (each a treated patient and its controls, MatchIt's ``subclass``), keeping
every member of a drawn set, and refitting the model on each such sample. The spread of the
replicate estimates gives the standard error, and their 2.5th and 97.5th percentiles the 95%
(percentile) confidence interval.

* :func:`matched_bootstrap` does the resampling for any ``fit``: a callable that takes the
  resampled DataFrame and returns a number, a Series or a dict of numbers - or, much faster, a
  prepared fitter from :func:`cox_fitter` or :func:`fine_gray_fitter`, which build the design
  matrix and the checks once and refit each replicate on row positions only.
* The draws come from ``numpy.random.default_rng(seed)``, all of them before any fit, so the
  result depends only on ``seed`` and ``B``.
* Each replicate is analysed as the full function analyses data (``cox`` or ``fine_gray``
  with ``on_separation="report"``): a term that cannot be estimated in a replicate (constant,
  a level without events or with all of them, a coefficient that runs off to infinity) is NaN
  in that replicate and the other terms are fitted without it. (Separation that only a
  continuous term or a combination of terms produces, which ``cox`` finds beforehand by linear
  programming, is found here through the divergence of the fit.) A term's interval uses the
  replicates in which it was estimated (column ``n``); a warning says how many were not.
* Percentile limits are R's ``quantile(type = 7)`` of the replicates (numpy's default linear
  interpolation), the standard error their SD (``n - 1``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from micromet.competing.data import _events as _cause_codes
from micromet.competing.data import _times
from micromet.competing.finegray import _diverging, _FGData, fine_gray
from micromet.competing.finegray import _newton as _crr_newton
from micromet.design import design_matrix
from micromet.errors import InputError
from micromet.survival.cox import cox, diverging_terms
from micromet.survival.coxfit import _newton as _cox_newton
from micromet.survival.coxfit import _RiskSets
from micromet.survival.data import _durations, timefix
from micromet.survival.data import _events as _event_indicator


@dataclass
class BootstrapResult:
    """Replicates and percentile intervals of a matched-set bootstrap.

    ``estimate``: the fit on the matched data themselves. ``replicates``: one row per replicate
    (B rows), one column per quantity. ``table``: index = quantity; columns estimate, se
    (SD of the replicates), lower, upper (percentile limits at ``1 - alpha``), n (replicates
    used) and, for coefficients of a Cox or Fine-Gray fitter, hr, hr_lower, hr_upper.
    ``n_failed``: replicates in which at least one quantity could not be estimated (NaN).
    """

    estimate: pd.Series
    replicates: pd.DataFrame
    table: pd.DataFrame
    B: int
    seed: int | None
    n_sets: int
    n_failed: int
    alpha: float


class _Fitter:
    """A model prepared once on the matched data; ``on_rows(positions)`` refits it on those rows
    (positions into the data, with repeats) and returns its coefficients (NaN if not
    estimable)."""

    exponentiate = True

    def __init__(self, data, duration, event, covariates, result):
        self.terms = list(result.terms)
        self.table = result.table  # the fit on the data themselves
        design = design_matrix(data, list(covariates))
        self.X = design.X[self.terms].to_numpy(dtype=float)
        self.binary = np.all((self.X == 0) | (self.X == 1), axis=0)
        self.estimate = result.table.loc[self.terms, "coef"].to_numpy(dtype=float)

    def on_rows(self, rows: np.ndarray) -> np.ndarray:
        """Coefficients of the model refitted on ``rows``, as the full function would fit them
        on ``data.iloc[rows]``: constant terms and binary terms whose level has no events (or
        every event) are left out, then terms that diverge (or are aliased) are left out and
        the rest refitted; the terms left out are NaN."""
        X, events = self.X[rows], self._events(rows)
        p = X.shape[1]
        out = np.full(p, np.nan)
        if not events.any():
            return out
        keep = X.min(axis=0) < X.max(axis=0)
        n_in = X[:, self.binary].sum(axis=0)
        e_in = X[:, self.binary].T @ events
        n_ev = events.sum()
        mono = ((n_in > 0) & (e_in == 0)) | ((len(X) - n_in > 0) & (n_ev - e_in == 0))
        keep[np.flatnonzero(self.binary)[mono]] = False
        for _ in range(p + 1):
            idx = np.flatnonzero(keep)
            if not len(idx):
                return out
            beta, bad = self._fit(rows, idx)
            if not bad.any():
                out[idx] = beta
                return out
            keep[idx[bad]] = False
        return out


class CoxFitter(_Fitter):
    """:func:`micromet.survival.cox` prepared for refitting on resampled rows (coxph: Efron or
    Breslow ties, coxph's Newton-Raphson; model-based fit only, no variance)."""

    def __init__(self, data, duration, event, covariates, *, ties="efron"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = cox(data, duration, event, list(covariates), ties=ties)
        super().__init__(data, duration, event, covariates, result)
        self.ties = ties
        self.t = timefix(_durations(data, duration))
        self.d = _event_indicator(data, event)

    def _events(self, rows):
        return self.d[rows]

    def _fit(self, rows, idx):
        t, d = self.t[rows], self.d[rows]
        rs = _RiskSets(t, d, np.zeros(len(t), np.int64), np.ones(len(t)), self.ties)
        Xs = self.X[rows][:, idx][rs.order]
        Xs = Xs - Xs.mean(axis=0)
        fit = _cox_newton(rs, Xs)
        if fit.singular_start is not None and fit.singular_start.any():
            return fit.beta, np.asarray(fit.singular_start, bool)
        names = [self.terms[j] for j in idx]
        more = diverging_terms(names, fit.beta, fit.score, fit.var, spread=np.ptp(Xs, axis=0),
                               converged=fit.converged, singular=fit.singular)
        return fit.beta, np.array([n in more for n in names])


class FineGrayFitter(_Fitter):
    """:func:`micromet.competing.fine_gray` (``cmprsk::crr``) prepared for refitting on
    resampled rows (crr's weights, Newton path and stopping rule; coefficients only)."""

    def __init__(self, data, duration, event, covariates, *, cause=1, gtol=1e-6, maxiter=10):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fine_gray(data, duration, event, list(covariates), cause=cause,
                               gtol=gtol, maxiter=maxiter)
        super().__init__(data, duration, event, covariates, result)
        self.t = _times(data, duration)
        e = _cause_codes(data, event)
        self.eps = np.where(e == cause, 1, np.where(e == 0, 0, 2))
        self.gtol, self.maxiter = gtol, maxiter

    def _events(self, rows):
        return (self.eps[rows] == 1).astype(float)

    def _fit(self, rows, idx):
        t, eps = self.t[rows], self.eps[rows]
        order = np.argsort(t, kind="stable")
        D = _FGData(t[order], eps[order], self.X[rows][:, idx][order])
        fit = _crr_newton(D, np.zeros(len(idx)), self.gtol, self.maxiter)
        names = [self.terms[j] for j in idx]
        more = _diverging(names, fit, D.Z)
        return fit.coef, np.array([n in more for n in names])


def cox_fitter(data: pd.DataFrame, duration: str, event: str, covariates: list[str], *,
               ties: str = "efron") -> CoxFitter:
    """A Cox model (``survival::coxph``) prepared once for :func:`matched_bootstrap`: the terms
    are those :func:`micromet.survival.cox` estimates on ``data``."""
    return CoxFitter(data, duration, event, covariates, ties=ties)


def fine_gray_fitter(data: pd.DataFrame, duration: str, event: str, covariates: list[str], *,
                     cause: int = 1) -> FineGrayFitter:
    """A Fine-Gray model (``cmprsk::crr``) prepared once for :func:`matched_bootstrap`: the
    terms are those :func:`micromet.competing.fine_gray` estimates on ``data``."""
    return FineGrayFitter(data, duration, event, covariates, cause=cause)


def _as_series(value) -> pd.Series:
    try:
        if isinstance(value, pd.Series):
            return value.astype(float)
        if isinstance(value, dict):
            return pd.Series(value, dtype=float)
        if np.ndim(value) == 0:
            return pd.Series({"estimate": float(value)})
    except (TypeError, ValueError):
        pass
    raise InputError("fit must return a number, a Series or a dict of numbers",
                     value=type(value).__name__)


def matched_bootstrap(matched: pd.DataFrame, fit, *, set_column: str = "subclass",
                      B: int = 1000, seed: int | None = 0,
                      alpha: float = 0.05) -> BootstrapResult:
    """Bootstrap ``fit`` by resampling whole matched sets of ``matched`` with replacement
    (Austin & Small 2014): percentile confidence intervals and the replicate estimates.

    ``matched``: the matched data, one row per patient, with the matched-set column
    ``set_column`` (MatchIt's ``subclass``; ``micromet.matching.match(...).matched`` has it).
    ``fit``: a prepared fitter (:func:`cox_fitter`, :func:`fine_gray_fitter`) or any callable
    ``fit(data) -> number | Series | dict`` applied to each resampled DataFrame (its rows
    repeated as drawn, index reset). Deterministic for a given ``seed`` and ``B``. One process:
    with a prepared fitter, B = 1000 of a Cox and a Fine-Gray model on study A's matched set
    (1,755 patients) take about 4 s (``benchmarks/bench_bootstrap.py``); spreading them over
    two processes was slower.
    """
    if not isinstance(matched, pd.DataFrame):
        raise InputError(f"matched must be a DataFrame, not {type(matched).__name__}")
    if set_column not in matched.columns:
        raise InputError("matched-set column not in the data", column=set_column)
    sets = matched[set_column]
    if sets.isna().any():
        row = matched.index[int(np.argmax(sets.isna().to_numpy()))]
        raise InputError("a row has no matched set", column=set_column, row=row)
    if not (isinstance(B, int | np.integer) and B >= 2):
        raise InputError("B must be an integer of at least 2", value=B)
    if not 0 < alpha < 1:
        raise InputError("alpha must lie between 0 and 1", value=alpha)
    codes, uniques = pd.factorize(sets, sort=True)
    S = len(uniques)
    if S < 2:
        raise InputError("the bootstrap needs at least two matched sets", column=set_column)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, S, size=(int(B), S))
    counts = np.zeros((int(B), S), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(int(B)), S), draws.ravel()), 1)

    prepared = hasattr(fit, "on_rows")
    if prepared:
        names = list(fit.terms)
        estimate = pd.Series(fit.estimate, index=names, dtype=float)
        rows_of = np.arange(len(codes))
        reps = np.array([fit.on_rows(np.repeat(rows_of, c[codes])) for c in counts])
    else:
        estimate = _as_series(fit(matched))
        names = list(estimate.index)
        reps = np.full((int(B), len(names)), np.nan)
        for b in range(int(B)):
            rows = np.repeat(np.arange(len(codes)), counts[b][codes])
            sample = matched.iloc[rows].reset_index(drop=True)
            try:
                value = _as_series(fit(sample)).reindex(names)
            except (ArithmeticError, ValueError, np.linalg.LinAlgError):
                continue
            reps[b] = value.to_numpy(dtype=float)
    replicates = pd.DataFrame(reps, columns=names)
    replicates.index.name = "replicate"
    missing = (~np.isfinite(reps)).sum(axis=0)
    failed = int((~np.isfinite(reps)).any(axis=1).sum())
    if failed:
        which = ", ".join(f"{n} ({k})" for n, k in zip(names, missing) if k)
        warnings.warn(f"bootstrap: in {failed} of {B} replicates a term could not be estimated "
                      f"(replicates per term: {which}); each term's interval uses the "
                      f"replicates in which it was estimated", RuntimeWarning, stacklevel=2)
    rows = []
    for j, name in enumerate(names):
        x = reps[:, j]
        x = x[np.isfinite(x)]
        if len(x) >= 2:
            lo, hi = np.quantile(x, [alpha / 2, 1 - alpha / 2])
            se = float(np.std(x, ddof=1))
        else:
            lo = hi = se = math.nan
        rows.append({"estimate": float(estimate[name]), "se": se, "lower": float(lo),
                     "upper": float(hi), "n": int(len(x))})
    table = pd.DataFrame(rows, index=pd.Index(names, name="term"))
    if prepared and getattr(fit, "exponentiate", False):
        table["hr"] = np.exp(table["estimate"])
        table["hr_lower"] = np.exp(table["lower"])
        table["hr_upper"] = np.exp(table["upper"])
    return BootstrapResult(estimate=estimate, replicates=replicates, table=table, B=int(B),
                           seed=seed, n_sets=S, n_failed=failed, alpha=alpha)
