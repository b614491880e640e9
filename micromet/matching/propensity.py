"""The propensity model: logistic regression as ``glm(family = binomial)`` (the iterations and stopping
rule that reproduce MatchIt's distance), with separation found exactly and conditioning reported.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from micromet.design import Conditioning, conditioning, design_matrix
from micromet.errors import InputError, NotEstimableWarning, UnstableWarning

SQRT_EPS = math.sqrt(np.finfo(float).eps)  # R's sqrt(.Machine$double.eps) = 1.49e-8


class MatchingWarning(UserWarning):
    """Matching left treated units without a control, or could not give every unit ``ratio``."""


def treatment_indicator(data: pd.DataFrame, treatment: str) -> np.ndarray:
    """The treatment column as a boolean array (1/True = treated); both groups must be present."""
    if treatment not in data.columns:
        raise InputError("treatment column not in the data", column=treatment)
    s = data[treatment]
    if s.isna().any():
        row = s.index[np.argmax(s.isna().to_numpy())]
        raise InputError("missing treatment value", column=treatment, row=row)
    if pd.api.types.is_bool_dtype(s.dtype):
        t = s.to_numpy(dtype=bool)
    else:
        vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = ~((vals == 0) | (vals == 1))
        if bad.any():
            row = s.index[np.argmax(bad)]
            raise InputError(
                "treatment must be 0/1 or boolean", column=treatment, row=row, value=s.loc[row]
            )
        t = vals == 1
    if t.all() or not t.any():
        raise InputError(
            "treatment must have both treated (1) and control (0) units", column=treatment
        )
    return t


@dataclass
class Separation:
    """Quasi-complete separation found in the propensity model.

    ``rows`` are the index labels whose fitted probability is 0 or 1 in the limit (a covariate
    pattern with no treated or no control units); ``terms`` the coefficients that run off to
    -inf/+inf along the separating direction (``direction``, on the original scale of the terms).
    """

    rows: list
    n_treated: int
    n_control: int
    terms: list[str]
    direction: dict[str, float]
    message: str


@dataclass
class PropensityFit:
    """A logistic propensity model, the result ``glm(treat ~ ..., family = binomial)`` gives.

    ``table``: index = term (``(Intercept)`` first, then the design's terms in order, aliased and
    constant ones included with NaN, as glm reports them as NA), columns ``coef``, ``se`` (binomial
    dispersion 1), ``z``, ``note``. ``linear_predictor`` and ``fitted`` have the index of the data;
    with separation, the separated rows have linear predictor -inf/+inf and probability 0/1.
    """

    table: pd.DataFrame
    linear_predictor: pd.Series
    fitted: pd.Series
    aliased: list[str]
    constant: list[str]
    converged: bool
    iterations: int
    deviance: float
    separation: Separation | None = None
    conditioning: Conditioning | None = None  # scaled condition number and VIFs of the design

    @property
    def coefficients(self) -> pd.Series:
        return self.table["coef"]


def _linear_predictor(X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """X @ beta accumulated column by column: identical rows give bit-identical results."""
    eta = np.zeros(X.shape[0])
    for j in range(X.shape[1]):
        eta += X[:, j] * beta[j]
    return eta


def _glm_deviance(y: np.ndarray, eta: np.ndarray) -> float:
    """Binomial deviance from the fitted probabilities, as glm's ``dev.resids`` computes it."""
    # -2 sum(y log(mu) + (1 - y) log(1 - mu)), written to stay finite for large |eta|
    return float(2.0 * np.sum(np.logaddexp(0.0, np.where(y == 1, -eta, eta))))


_BLOCK = 1024


def _weighted_crossprod(Z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Z' diag(w) Z summed over row blocks: small BLAS calls stay single-threaded, which keeps
    the cost steady on a loaded machine (a threaded BLAS on tall thin products can be 10x
    slower there)."""
    p = Z.shape[1]
    H = np.zeros((p, p))
    for start in range(0, Z.shape[0], _BLOCK):
        zb = Z[start:start + _BLOCK]
        H += (zb * w[start:start + _BLOCK, None]).T @ zb
    return H


def _crossvec(Z: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Z' r without BLAS threads."""
    return np.einsum("ij,i->j", Z, r)


GLM_EPSILON = 1e-8  # glm.control(epsilon)


GLM_MAXIT = 25  # glm.control(maxit)


def _irls(X: np.ndarray, y: np.ndarray, *, convergence: str = "glm", tol: float = 1e-11,
          maxit: int = 100):
    """Newton-Raphson (= IRLS for the canonical logit link) for the logistic likelihood.

    Starts like glm from ``mustart = (y + 0.5) / 2``; the first step is the weighted least-squares
    fit to the working response, later steps are Newton steps, so the iterates are glm's iterates
    (up to rounding). Columns are scaled for the solves.

    ``convergence="glm"`` stops where glm stops: at the first iterate whose deviance changed by
    less than ``epsilon = 1e-8`` relative (|dev - dev_old| / (|dev| + 0.1)), so the linear
    predictor agrees with glm's to rounding (glm's iterate can be ~3e-8 from the optimum, which
    full convergence would not reproduce). ``convergence="full"`` iterates until the linear
    predictor changes by less than ``tol``. Both stop after ``maxit`` iterations at most
    (glm: 25). Returns beta, converged, iterations, the information matrix (unscaled X), and
    the largest change in the linear predictor that one more Newton step would make: tiny at an
    optimum, about 1 when a separated direction keeps running off (the trigger for the exact
    separation check).
    """
    n, p = X.shape
    if convergence == "glm":
        maxit = GLM_MAXIT
    scale = np.max(np.abs(X), axis=0)
    scale[scale == 0] = 1.0
    Z = X / scale
    mu = (y + 0.5) / 2.0
    eta = np.log(mu / (1.0 - mu))
    dev = _glm_deviance(y, eta)
    w = mu * (1.0 - mu)
    H = _weighted_crossprod(Z, w)
    gamma = np.linalg.solve(H, _crossvec(Z, (eta + (y - mu) / w) * w))
    converged = False
    it = 0
    while True:
        it += 1
        eta_new = _linear_predictor(Z, gamma)
        dev_new = _glm_deviance(y, eta_new)
        if convergence == "glm":
            if abs(dev_new - dev) / (abs(dev_new) + 0.1) < GLM_EPSILON:
                converged = True
        elif it > 1 and float(np.max(np.abs(eta_new - eta))) <= tol:
            converged = True
        eta, dev = eta_new, dev_new
        if converged or it >= maxit:
            break
        mu = 1.0 / (1.0 + np.exp(-eta))
        w = mu * (1.0 - mu)
        H = _weighted_crossprod(Z, w)
        try:
            gamma = gamma + np.linalg.solve(H, _crossvec(Z, y - mu))
        except np.linalg.LinAlgError:
            break
    beta = gamma / scale
    mu = 1.0 / (1.0 + np.exp(-eta))
    w = mu * (1.0 - mu)
    info = _weighted_crossprod(X, w)
    try:
        H = _weighted_crossprod(Z, w)
        step = np.linalg.solve(H, _crossvec(Z, y - mu))
        next_change = float(np.max(np.abs(_linear_predictor(Z, step))))
    except np.linalg.LinAlgError:
        next_change = np.inf
    return beta, converged, it, info, next_change


def _max_separation(S: np.ndarray, rows: np.ndarray) -> tuple[float, np.ndarray]:
    """max sum_i S_i b over ``rows`` s.t. S_i b >= 0 for those rows, |b_j| <= 1 (an LP).

    Solved by constraint generation: the LP is solved on a subset of the rows (the minority
    class and a sample of the others), every row is then checked, and the most violated rows are
    added until none is violated -- the optimum of the full LP, at the cost of a few small ones.
    """
    from scipy.optimize import linprog

    Sr = S[rows]
    c = -Sr.sum(axis=0)
    p = S.shape[1]
    positive = np.flatnonzero(Sr[:, 0] > 0)
    negative = np.flatnonzero(Sr[:, 0] < 0)
    small, large = (positive, negative) if len(positive) <= len(negative) else (negative, positive)
    rng = np.random.default_rng(0)
    take = large if len(large) <= 2000 else rng.choice(large, 2000, replace=False)
    active = np.union1d(small, take)
    b = np.zeros(p)
    value = 0.0
    for _ in range(100):
        A = np.unique(Sr[active], axis=0)
        res = linprog(c, A_ub=-A, b_ub=np.zeros(len(A)), bounds=[(-1.0, 1.0)] * p,
                      method="highs")
        if res.status != 0:
            return 0.0, np.zeros(p)
        b, value = res.x, -res.fun
        slack = np.einsum("ij,j->i", Sr, b)
        violated = np.flatnonzero(slack < -1e-9)
        if len(violated) == 0:
            break
        worst = violated[np.argsort(slack[violated], kind="stable")[:2000]]
        active = np.union1d(active, worst)
    return value, b


def _separating_rows(Z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows separated by some direction b (s_i z_i'b >= 0 for all i, > 0 for these rows).

    Konis' linear program: maximize sum_i s_i z_i'b subject to s_i z_i'b >= 0 and |b_j| <= 1,
    s_i = +1 for treated, -1 for control, repeated on the remaining rows until no further row is
    separated. Returns a boolean mask of separated rows and the summed direction (scale of Z).
    """
    S = Z * np.where(y == 1, 1.0, -1.0)[:, None]
    separated = np.zeros(len(S), dtype=bool)
    direction = np.zeros(Z.shape[1])
    for _ in range(Z.shape[1] + 1):
        rest = np.flatnonzero(~separated)
        if len(rest) == 0:
            break
        value, b = _max_separation(S, rest)
        if value <= 1e-7:
            break
        new = (~separated) & (np.einsum("ij,j->i", S, b) > 1e-6)
        if not new.any():
            break
        separated |= new
        direction += b
    return separated, direction


def _inverse_information(info: np.ndarray) -> np.ndarray:
    """The model-based variance: the inverse information by Cholesky solves (NaN if singular)."""
    from scipy import linalg

    try:
        return linalg.cho_solve(linalg.cho_factor(info), np.eye(len(info)))
    except (linalg.LinAlgError, ValueError):
        return np.full(info.shape, np.nan)


def fit_propensity(
    data: pd.DataFrame, treatment: str, covariates: list[str], *, convergence: str = "glm"
) -> PropensityFit:
    """Logistic regression of ``treatment`` on ``covariates`` (an intercept added).

    Agrees with ``glm(treat ~ covariates, family = binomial)`` (the model MatchIt fits with
    ``distance = "glm"``): with ``convergence="glm"`` (default) the iterations stop where glm's
    stop, and the linear predictor agrees with glm's to rounding (lalonde: 1e-13), which is what
    reproduces MatchIt's matches; ``convergence="full"`` iterates to the optimum (on lalonde glm's
    answer is 3.3e-8 from it in the linear predictor). Aliased and constant terms are dropped as
    glm's pivoted QR drops them (reported, coefficient NaN).

    Separation (a covariate pattern with only treated or only control units): glm warns "fitted
    probabilities numerically 0 or 1 occurred" and stops wherever its iterations left the
    diverging coefficients. Here the separated rows are found exactly (a linear program), their
    linear predictor is set to its limit -inf/+inf (probability 0/1), the model is refitted on the
    other rows (whose linear predictor has a finite limit), and a ``NotEstimableWarning`` names the
    terms and rows; ``.separation`` holds the details.
    """
    y = treatment_indicator(data, treatment).astype(float)
    design = design_matrix(data, covariates)
    terms = ["(Intercept)", *design.terms]
    X = np.column_stack([np.ones(len(data)), design.X.to_numpy(dtype=float)])
    if convergence not in ("glm", "full"):
        raise InputError(f"convergence must be 'glm' or 'full', got {convergence!r}")
    beta, converged, iterations, info, next_change = _irls(X, y, convergence=convergence)
    eta = _linear_predictor(X, beta)
    separation = None
    kept_terms = list(terms)
    cols = list(range(len(terms)))
    se = None
    suspicious = (not converged) or next_change > 1e-4
    if suspicious:
        scale = np.max(np.abs(X), axis=0)
        scale[scale == 0] = 1.0
        sep_mask, direction = _separating_rows(X / scale, y)
        if sep_mask.any():
            direction = direction / scale
            sep_terms = [terms[j] for j in range(len(terms)) if abs(direction[j]) > 1e-9]
            rows = list(data.index[sep_mask])
            n_t = int(y[sep_mask].sum())
            n_c = int(len(rows) - n_t)
            keep = ~sep_mask
            if keep.sum() == 0 or y[keep].min() == y[keep].max():
                raise InputError(
                    "the propensity model separates treated and control units completely "
                    f"(terms: {', '.join(sep_terms)}); matching on it is meaningless",
                    column=treatment,
                )
            from micromet.design import aliased_columns

            Xk = X[keep]
            drop = set(aliased_columns(Xk[:, 1:], intercept=True))
            cols = [0] + [j + 1 for j in range(Xk.shape[1] - 1) if j not in drop]
            beta_k, converged, iterations, info, _ = _irls(Xk[:, cols], y[keep],
                                                          convergence=convergence)
            beta = np.full(len(terms), np.nan)
            beta[cols] = beta_k
            eta_k = _linear_predictor(X[:, cols], beta_k)
            eta = np.where(sep_mask, np.where(y == 1, np.inf, -np.inf), eta_k)
            kept_terms = [terms[j] for j in cols]
            # the rows themselves are in .separation.rows, never in a message: a row label of
            # an export identifies one patient
            message = (
                "fitted probabilities numerically 0 or 1 occurred: "
                f"{len(rows)} rows ({n_t} treated, {n_c} control) are separated by "
                f"{' + '.join(sep_terms)}; their propensity is 0 or 1 "
                "(linear predictor -inf/+inf) and the other coefficients are fitted without them"
            )
            separation = Separation(
                rows=rows,
                n_treated=n_t,
                n_control=n_c,
                terms=sep_terms,
                direction={terms[j]: float(direction[j]) for j in range(len(terms))},
                message=message,
            )
            warnings.warn(message, NotEstimableWarning, stacklevel=2)
            cov_k = _inverse_information(info)
            se = np.full(len(terms), np.nan)
            se[cols] = np.sqrt(np.diag(cov_k))
    cov_k = _inverse_information(info)
    if se is None:
        se = np.sqrt(np.diag(cov_k))
    fitted_terms = [terms[j] for j in cols]
    cond = None
    if len(fitted_terms) > 1 and np.all(np.isfinite(cov_k)):
        cond = conditioning(cov_k[1:, 1:], design.X[fitted_terms[1:]])
        if cond.unstable:
            warnings.warn(cond.sentence("the propensity model"), UnstableWarning, stacklevel=2)
    if not converged:
        warnings.warn(
            "propensity model: IRLS did not converge", NotEstimableWarning, stacklevel=2
        )
    elif separation is None and np.any(np.abs(eta) > 36.04):
        warnings.warn(
            "fitted probabilities numerically 0 or 1 occurred (no separation found)",
            NotEstimableWarning,
            stacklevel=2,
        )
    full_terms = ["(Intercept)", *design.all_terms]
    coef = pd.Series(np.nan, index=full_terms)
    ses = pd.Series(np.nan, index=full_terms)
    for j, t in enumerate(terms):
        coef[t] = beta[j]
        ses[t] = se[j]
    note = pd.Series("", index=full_terms, dtype=object)
    for t in design.aliased:
        note[t] = "aliased (a linear combination of earlier terms)"
    for t in design.constant:
        note[t] = "constant"
    if separation is not None:
        for t in separation.terms:
            if t not in kept_terms:
                note[t] = "separation: runs off to infinity"
            else:
                note[t] = "separation: direction of divergence"
    table = pd.DataFrame({"coef": coef, "se": ses, "z": coef / ses, "note": note})
    table.index.name = "term"
    mu = np.where(np.isinf(eta), (eta > 0).astype(float), 1.0 / (1.0 + np.exp(-eta)))
    finite = np.isfinite(eta)
    dev = _glm_deviance(y[finite], eta[finite])
    return PropensityFit(
        table=table,
        linear_predictor=pd.Series(eta, index=data.index, name="linear_predictor"),
        fitted=pd.Series(mu, index=data.index, name="propensity"),
        aliased=list(design.aliased),
        constant=list(design.constant),
        converged=bool(converged),
        iterations=int(iterations),
        deviance=dev,
        separation=separation,
        conditioning=cond,
    )
