"""Propensity-score matching and balance diagnostics with MatchIt's semantics.

``match`` agrees with R's ``MatchIt::matchit(method = "nearest", distance = "glm")`` as CRAN
MatchIt >= 4.5.4 computes it (METHODS.md section 1): the propensity model is a logistic
regression fitted like ``glm(family = binomial)`` (here converged fully, see ``fit_propensity``);
the distance is its linear predictor (``link = "linear.logit"``) or its fitted probability;
treated units are matched in rounds (every treated unit gets its first control before any gets a
second) in ``m.order``, each to the nearest available control in the sorted order of all units,
the left (lower) candidate winning an equal gap; the caliper is in standard deviations of the
distance over all units (``std.caliper = TRUE``) or absolute, and inclusive. Weights and
subclasses are MatchIt's ATT weights (``weights.matrix``) and pair subclasses.

``balance`` agrees with the ``sum.all`` / ``sum.matched`` tables of ``summary.matchit``
(``standardize = TRUE``, ATT) to rounding; ``balance_table`` puts the two side by side.

Nothing here is translated from MatchIt's code; it follows the formulas of METHODS.md.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from micromet.design import Conditioning, conditioning, design_matrix, is_categorical, term_name
from micromet.errors import InputError, NotEstimableWarning, UnstableWarning

SQRT_EPS = math.sqrt(np.finfo(float).eps)  # R's sqrt(.Machine$double.eps) = 1.49e-8
M_ORDERS = ("largest", "smallest", "data", "random")
ABS_MODES = ("exact", "int_trunc")
SAMPLE_SIZE_ROWS = ["All", "Matched (ESS)", "Matched", "Unmatched", "Discarded"]
BALANCE_COLUMNS = ["mean_treated", "mean_control", "smd", "var_ratio", "ecdf_mean", "ecdf_max"]


class MatchingWarning(UserWarning):
    """Matching left treated units without a control, or could not give every unit ``ratio``."""


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# propensity model: logistic regression by IRLS, like glm(binomial)
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# nearest-neighbour matching (MatchIt >= 4.5.4, METHODS 1.3-1.4)
# --------------------------------------------------------------------------------------------


def _find(parent: list[int], x: int) -> int:
    """Root of x with path compression (the "next available position" structure)."""
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


def nearest_neighbor(
    distance: np.ndarray,
    treated: np.ndarray,
    order: np.ndarray,
    *,
    ratio: int = 1,
    caliper: float | None = None,
    replace: bool = False,
    abs_mode: str = "exact",
    row_check_451: bool = False,
) -> np.ndarray:
    """The match matrix, by position: row i = ``order``-independent treated unit number i (data
    order), column r = position of its (r+1)-th control or -1.

    ``order`` lists treated unit numbers (0..n1-1, data order) in processing order. Cost
    O(n log n): one stable sort of all units, then for every treated unit and round a
    "nearest available control to the left/right" lookup in union-find structures over sorted
    positions (used controls and treated units are skipped in amortized constant time).
    ``abs_mode="int_trunc"`` emulates the integer ``abs()`` of MatchIt 4.5.1-4.5.3 (METHODS 1.5),
    only to compare with fixtures made by that build. ``row_check_451=True`` emulates the other
    4.5.1-4.5.2 defect (kosukeimai/MatchIt#159, fixed in 4.5.3): from round 2 on, a treated unit's
    walk should skip the controls already in its row, but 4.5.1 compares 0-based with 1-based
    indexes and so skips instead the unit that *follows* each of them in data order (with
    replacement the same control is then matched again and again).
    """
    d = np.asarray(distance, dtype=float)
    tr = np.asarray(treated, dtype=bool)
    n = len(d)
    sort_idx = np.argsort(d, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[sort_idx] = np.arange(n)
    treated_units = np.flatnonzero(tr)
    is_ctrl_sorted = ~tr[sort_idx]
    # left structure: slot q+1 stands for sorted position q, slot 0 = "none to the left"
    lp = np.arange(n + 1)
    lp[1:][~is_ctrl_sorted] = np.flatnonzero(~is_ctrl_sorted)
    # right structure: slot q = sorted position q, slot n = "none to the right"
    rp = np.arange(n + 1)
    rp[:-1][~is_ctrl_sorted] = np.flatnonzero(~is_ctrl_sorted) + 1
    lp = lp.tolist()
    rp = rp.tolist()
    ds = d[sort_idx].tolist()
    unit_at = sort_idx.tolist()
    n_available = int(is_ctrl_sorted.sum())
    truncate = abs_mode == "int_trunc"

    def A(x: float):
        if truncate and math.isfinite(x):
            return abs(math.trunc(x))
        return abs(x)

    cal = caliper
    mm = np.full((len(treated_units), ratio), -1, dtype=np.int64)
    track = replace or row_check_451
    rows: list[set] = [set() for _ in treated_units] if track else []
    pos_of = rank[treated_units].tolist()
    order_list = [int(i) for i in order]
    done = False
    for r in range(ratio):
        if done:
            break
        for i in order_list:
            p = pos_of[i]
            dt = ds[p]
            # left: nearest available control at a sorted position < p
            x = p
            left = -1
            while True:
                root = _find(lp, x)
                if root == 0:
                    break
                q = root - 1
                if track and unit_at[q] in rows[i]:
                    x = q
                    continue
                left = q
                break
            if left >= 0 and cal is not None and A(dt - ds[left]) > cal:
                left = -1
            x = p + 1
            right = -1
            while True:
                root = _find(rp, x)
                if root == n:
                    break
                q = root
                if track and unit_at[q] in rows[i]:
                    x = q + 1
                    continue
                right = q
                break
            if right >= 0 and cal is not None and A(dt - ds[right]) > cal:
                right = -1
            if left >= 0 and right >= 0:
                chosen = left if A(ds[left] - dt) <= A(ds[right] - dt) else right
            elif left >= 0:
                chosen = left
            elif right >= 0:
                chosen = right
            else:
                continue
            unit = unit_at[chosen]
            mm[i, r] = unit
            if track:
                rows[i].add(unit + 1 if row_check_451 else unit)
            if not replace:
                lp[chosen + 1] = chosen
                rp[chosen] = chosen + 1
                n_available -= 1
                if n_available == 0:
                    done = True
                    break
    return mm


def matching_weights(mm: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """MatchIt's ATT weights from a positional match matrix (METHODS 1.4).

    Matched treated units 1, unmatched 0; a control gets the sum over its treated units t of
    1/k_t (k_t = controls t received), rescaled so the nonzero control weights average 1.
    """
    tr = np.asarray(treated, dtype=bool)
    w = np.zeros(len(tr))
    treated_units = np.flatnonzero(tr)
    k = (mm >= 0).sum(axis=1)
    w[treated_units[k > 0]] = 1.0
    for r in range(mm.shape[1]):
        has = mm[:, r] >= 0
        np.add.at(w, mm[has, r], 1.0 / k[has])
    ctrl = ~tr
    wc = w[ctrl]
    total = wc.sum()
    if total > 0:
        w[ctrl] = wc * (np.count_nonzero(wc) / total)
    return w


@dataclass
class MatchResult:
    """What ``matchit`` returns, for nearest-neighbour matching.

    ``distance``: the distance used (index of data); ``caliper``: absolute caliper on the distance
    scale or None; ``match_matrix``: index = treated labels in data order, columns 1..ratio,
    values = control labels or NA; ``weights``; ``subclass`` (nullable Int64; the pair sets
    numbered 1..K in the data order of their treated unit; all NA with replacement, as MatchIt
    gives no subclass then); ``matched``: the rows with weight > 0 plus columns ``weights``,
    ``subclass``, ``distance`` (like ``match.data``); ``unmatched_treated``: labels of treated
    units that found no control; ``propensity``: the ``PropensityFit`` (None for a supplied
    distance); ``n``: sample sizes as in ``summary.matchit`` (rows All, Matched (ESS), Matched,
    Unmatched, Discarded; columns Control, Treated).
    """

    distance: pd.Series
    caliper: float | None
    match_matrix: pd.DataFrame
    weights: pd.Series
    subclass: pd.Series
    matched: pd.DataFrame
    unmatched_treated: list
    propensity: PropensityFit | None
    n: pd.DataFrame
    treated: pd.Series
    ratio: int = 1
    replace: bool = False
    m_order: str = "largest"
    abs_mode: str = "exact"
    info: dict = field(default_factory=dict)


def sample_sizes(weights: np.ndarray, treated: np.ndarray) -> pd.DataFrame:
    """``summary.matchit``'s sample-size table (no discarding, no sampling weights)."""
    w = np.asarray(weights, dtype=float)
    tr = np.asarray(treated, dtype=bool)
    out = {}
    for name, g in (("Control", ~tr), ("Treated", tr)):
        wg = w[g]
        s2 = float(np.sum(wg**2))
        out[name] = [
            float(g.sum()),
            float(wg.sum() ** 2 / s2) if s2 > 0 else 0.0,
            float(np.count_nonzero(wg > 0)),
            float(np.count_nonzero(wg == 0)),
            0.0,
        ]
    return pd.DataFrame(out, index=SAMPLE_SIZE_ROWS)


def _check_names(data: pd.DataFrame, covariates: list[str]) -> None:
    missing = [c for c in covariates if c not in data.columns]
    if missing:
        raise InputError(
            f"covariate not in the data (columns are: {', '.join(map(str, data.columns))})",
            column=missing[0],
        )


def _distance_values(data: pd.DataFrame, distance, *, allow_infinite: bool = False) -> np.ndarray:
    if isinstance(distance, pd.Series):
        if not distance.index.equals(data.index):
            missing = data.index.difference(distance.index)
            if len(missing):
                raise InputError("distance has no value for a row", column="distance",
                                 row=missing[0])
            distance = distance.reindex(data.index)
        d = distance.to_numpy(dtype=float, na_value=np.nan)
    else:
        d = np.asarray(distance, dtype=float).reshape(-1)
        if len(d) != len(data):
            raise InputError(
                f"distance has {len(d)} values for {len(data)} rows", column="distance"
            )
    bad = np.isnan(d) if allow_infinite else ~np.isfinite(d)
    if bad.any():
        raise InputError("distance must be finite", column="distance",
                         row=data.index[np.argmax(bad)], value=float(d[np.argmax(bad)]))
    return d


def match(
    data: pd.DataFrame,
    treatment: str,
    covariates: list[str],
    *,
    ratio: int = 1,
    caliper: float | None = None,
    std_caliper: bool = True,
    replace: bool = False,
    m_order: str = "largest",
    distance="linear_logit",
    seed: int | None = None,
    abs_mode: str = "exact",
    row_check_451: bool = False,
    convergence: str = "glm",
) -> MatchResult:
    """Nearest-neighbour propensity-score matching (ATT), as ``MatchIt::matchit`` >= 4.5.4.

    Equivalent R call: ``matchit(treat ~ covariates, data, method = "nearest", distance = "glm",
    link = "linear.logit" | "logit", ratio, caliper, std.caliper, replace, m.order)``.
    ``distance``: "linear_logit" (the logit of the propensity score, the linear predictor),
    "logit" (the propensity score itself), or a precomputed Series (index of data) / array.
    ``caliper``: in standard deviations of the distance over all units when ``std_caliper``
    (sample SD, n-1), else absolute; a control is acceptable when |d_t - d_c| <= caliper. (With
    separation in the propensity model the separated units' distance is infinite; the SD is then
    taken over the finite distances, and those units are never within a caliper.)
    ``m_order="random"`` uses ``seed`` (numpy's generator: not R's random order).
    ``abs_mode="int_trunc"`` emulates the integer-abs bug of MatchIt 4.5.1-4.5.3 (Debian's build),
    for comparisons with that build only, as is ``row_check_451=True`` (its other ratio > 1
    defect, see ``nearest_neighbor``). ``convergence``: see ``fit_propensity``.
    Treated units without an acceptable control are left unmatched (weight 0), listed in
    ``.unmatched_treated`` and announced by a ``MatchingWarning``.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError("data must be a pandas DataFrame")
    if not data.index.is_unique:
        raise InputError("the data index must be unique (it labels the matched units)")
    if isinstance(ratio, bool) or not isinstance(ratio, (int, np.integer)) or ratio < 1:
        raise InputError(f"ratio must be a positive integer, got {ratio!r}")
    ratio = int(ratio)
    if m_order not in M_ORDERS:
        raise InputError(f"m_order must be one of {', '.join(M_ORDERS)}, got {m_order!r}")
    if abs_mode not in ABS_MODES:
        raise InputError(f"abs_mode must be one of {', '.join(ABS_MODES)}, got {abs_mode!r}")
    if caliper is not None:
        if not isinstance(caliper, (int, float, np.floating, np.integer)) or not caliper > 0:
            raise InputError(f"caliper must be a positive number, got {caliper!r}")
        if math.isinf(caliper):
            caliper = None
    treated = treatment_indicator(data, treatment)
    fit = None
    if isinstance(distance, str):
        if distance not in ("linear_logit", "logit"):
            raise InputError(
                f"distance must be 'linear_logit', 'logit' or a Series, got {distance!r}"
            )
        fit = fit_propensity(data, treatment, covariates, convergence=convergence)
        d = (fit.linear_predictor if distance == "linear_logit" else fit.fitted).to_numpy()
    else:
        _check_names(data, covariates)  # the covariates are only named (for balance) here
        d = _distance_values(data, distance)
    caliper_abs = None
    if caliper is not None:
        if std_caliper:
            finite = d[np.isfinite(d)]
            caliper_abs = float(caliper) * float(np.std(finite, ddof=1))
        else:
            caliper_abs = float(caliper)
    n1 = int(treated.sum())
    n0 = len(treated) - n1
    if m_order == "data" or replace:
        order = np.arange(n1)  # with replacement the order cannot matter (MatchIt uses "data")
    elif m_order == "random":
        order = np.random.default_rng(seed).permutation(n1)
    elif m_order == "largest":
        order = np.argsort(-d[treated], kind="stable")
    else:
        order = np.argsort(d[treated], kind="stable")
    if not replace:
        if n0 < n1:
            warnings.warn(
                "Fewer control units than treated units; not all treated units will get a match.",
                MatchingWarning,
                stacklevel=2,
            )
        elif n0 < ratio * n1:
            warnings.warn(f"Not all treated units will get {ratio} matches.", MatchingWarning,
                          stacklevel=2)
    mm = nearest_neighbor(d, treated, order, ratio=ratio, caliper=caliper_abs, replace=replace,
                          abs_mode=abs_mode, row_check_451=row_check_451)
    w = matching_weights(mm, treated)
    labels = data.index
    treated_labels = labels[treated]
    mm_labels = np.empty(mm.shape, dtype=object)
    mm_labels[:] = pd.NA
    has = mm >= 0
    mm_labels[has] = np.asarray(labels, dtype=object)[mm[has]]
    match_matrix = pd.DataFrame(mm_labels, index=treated_labels,
                                columns=pd.RangeIndex(1, ratio + 1))
    match_matrix.index.name = labels.name
    subclass = pd.Series(pd.NA, index=labels, dtype="Int64", name="subclass")
    matched_treated = np.flatnonzero(has.any(axis=1))
    if not replace:
        sub = np.full(len(labels), -1, dtype=np.int64)
        tpos = np.flatnonzero(treated)
        for k, i in enumerate(matched_treated, start=1):
            sub[tpos[i]] = k
            sub[mm[i][mm[i] >= 0]] = k
        subclass = pd.Series(pd.array(np.where(sub > 0, sub, 0), dtype="Int64"), index=labels,
                             name="subclass")
        subclass[sub <= 0] = pd.NA
    unmatched = list(treated_labels[~has.any(axis=1)])
    if unmatched:
        why = "within the caliper" if caliper_abs is not None else "available"
        warnings.warn(  # which ones: .unmatched_treated (row labels identify patients)
            f"{len(unmatched)} of {n1} treated units have no control {why} and are left "
            "unmatched (weight 0)",
            MatchingWarning,
            stacklevel=2,
        )
    weights = pd.Series(w, index=labels, name="weights")
    dist = pd.Series(d, index=labels, name="distance")
    keep = w > 0
    matched = data.loc[keep].copy()
    matched["weights"] = weights[keep]
    matched["subclass"] = subclass[keep]
    if "distance" not in matched.columns:
        matched["distance"] = dist[keep]
    return MatchResult(
        distance=dist,
        caliper=caliper_abs,
        match_matrix=match_matrix,
        weights=weights,
        subclass=subclass,
        matched=matched,
        unmatched_treated=unmatched,
        propensity=fit,
        n=sample_sizes(w, treated),
        treated=pd.Series(treated, index=labels, name=treatment),
        ratio=ratio,
        replace=replace,
        m_order=m_order,
        abs_mode=abs_mode,
        info={"positions": mm, "order": order},
    )


# --------------------------------------------------------------------------------------------
# balance: summary.matchit (METHODS 1.6)
# --------------------------------------------------------------------------------------------


def balance_covariates(data: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """Covariates as ``summary.matchit`` sees them: numeric columns as they are, categorical ones
    expanded to a dummy for every level (``contrasts = FALSE``), named ``col[level]`` with the
    levels in ``design_matrix``'s order. Missing or non-finite values raise ``InputError``."""
    _check_names(data, covariates)
    cols: dict[str, np.ndarray] = {}
    for cov in covariates:
        s = data[cov]
        if is_categorical(s):
            cat = s if isinstance(s.dtype, pd.CategoricalDtype) else pd.Categorical(s)
            cat = pd.Categorical(cat)
            if not isinstance(s.dtype, pd.CategoricalDtype):
                # design_matrix's order for non-categoricals: sorted observed values
                cat = cat.set_categories(sorted(cat.categories.tolist()))
            codes = cat.codes
            if (codes < 0).any():
                row = data.index[np.argmax(codes < 0)]
                raise InputError("missing value in a covariate", column=cov, row=row)
            for k, level in enumerate(cat.categories):
                cols[term_name(cov, level)] = (codes == k).astype(float)
        else:
            x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            bad = ~np.isfinite(x)
            if bad.any():
                row = data.index[np.argmax(bad)]
                value = s.loc[row]
                raise InputError("missing or non-numeric value in a covariate", column=cov,
                                 row=row, value=None if pd.isna(value) else value)
            cols[cov] = x
    return pd.DataFrame(cols, index=data.index)


def _wvar(x: np.ndarray, w: np.ndarray, binary: bool) -> float:
    w = w / w.sum()
    m = float(np.sum(w * x))
    if binary:
        return m * (1.0 - m)
    return float(np.sum(w * (x - m) ** 2) / (1.0 - np.sum(w**2)))


def _pooled_sd(x: np.ndarray, t: np.ndarray, binary: bool) -> float:
    """MatchIt's fallback SD (proportional contributions, unit sampling weights)."""
    n = len(x)
    if binary:
        v = 0.0
        for g in (t, ~t):
            sx = float(x[g].sum())
            v += sx * (1.0 - sx / g.sum()) / n
        return math.sqrt(v)
    xc = x.copy()
    for g in (t, ~t):
        xc[g] = xc[g] - xc[g].mean()
    return math.sqrt(float(np.sum(xc**2) / n) / (1.0 - 1.0 / n))


def _ecdf_stats(x: np.ndarray, t: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    wn = w.astype(float).copy()
    wn[t] = wn[t] / wn[t].sum()
    wn[~t] = -wn[~t] / wn[~t].sum()
    order = np.argsort(x, kind="stable")
    xs = x[order]
    cum = np.cumsum(wn[order])
    last = np.append(xs[1:] != xs[:-1], True)
    ediff = np.abs(cum[last])
    return float(ediff.mean()), float(ediff.max())


def _balance_one(x, t, w, pairs) -> list[float]:
    binary = bool(np.all((x == 0) | (x == 1)))
    wt, wc = w[t], w[~t]
    too_small = np.count_nonzero(wt) < 2 and np.count_nonzero(wc) < 2
    mt = float(np.sum(x[t] * wt) / wt.sum()) if wt.sum() > 0 else np.nan
    mc = float(np.sum(x[~t] * wc) / wc.sum()) if wc.sum() > 0 else np.nan
    mdiff = mt - mc
    pair = np.nan
    raw_pair = np.nan
    if pairs is not None:
        ti, ci = pairs
        raw_pair = float(np.mean(np.abs(x[ti] - x[ci]))) if len(ti) else np.nan
    smd = np.nan
    if abs(mdiff) > SQRT_EPS:
        if not too_small:
            sd = math.sqrt(_wvar(x[t], np.ones(int(t.sum())), binary))
            if not math.isfinite(sd) or sd < SQRT_EPS:
                sd = _pooled_sd(x, t, binary)
            smd = mdiff / sd
            pair = raw_pair / sd if abs(raw_pair) > 1e-8 else raw_pair
    else:
        smd = mdiff
        pair = raw_pair
    var_ratio = ecdf_mean = ecdf_max = np.nan
    if binary:
        ecdf_mean = ecdf_max = abs(mdiff)
    elif not too_small:
        var_ratio = _wvar(x[t], wt, False) / _wvar(x[~t], wc, False)
        ecdf_mean, ecdf_max = _ecdf_stats(x, t, w)
    return [mt, mc, smd, var_ratio, ecdf_mean, ecdf_max, pair]


def balance(
    data: pd.DataFrame,
    treatment: str,
    covariates: list[str],
    weights=None,
    *,
    distance=None,
    match_matrix: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Covariate balance between treated and control units, as ``summary.matchit`` (ATT).

    Without ``weights`` this is ``summary(m)$sum.all``; with the matching weights it is
    ``$sum.matched``. Index: ``distance`` first when a distance is given, then the covariates
    with every level of a categorical one (``col[level]``). Columns: ``mean_treated``,
    ``mean_control`` (weighted means), ``smd`` (standardized by the SD of the *unmatched* treated
    group, sqrt(p(1-p)) for a 0/1 variable; a difference within 1.49e-8 of zero is left
    unstandardized), ``var_ratio`` (weighted variances treated/control; NaN for 0/1 variables),
    ``ecdf_mean``/``ecdf_max`` (weighted eCDF differences on the grid of all distinct values,
    zero-weight units included), and ``pair_dist`` (mean |x_t - x_c| over the pairs of
    ``match_matrix``, standardized like ``smd``) when a match matrix is given. Units with an
    infinite distance (covariate patterns with no treated or no control units, see ``match``)
    are left out of the distance row only.
    """
    t = treatment_indicator(data, treatment)
    X = balance_covariates(data, covariates)
    if distance is not None:
        X.insert(0, "distance", _distance_values(data, distance, allow_infinite=True))
    return _balance_of(data, X, t, weights, match_matrix)


def _balance_of(data, X, t, weights, match_matrix) -> pd.DataFrame:
    if weights is None:
        w = np.ones(len(data))
    else:
        if isinstance(weights, pd.Series):
            weights = weights.reindex(data.index)
        w = np.asarray(weights, dtype=float).reshape(-1)
        if len(w) != len(data) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InputError("weights must be finite, non-negative, one per row",
                             column="weights")
    pairs = None
    if match_matrix is not None:
        tpos = data.index.get_indexer(match_matrix.index)
        ti, ci = [], []
        for col in match_matrix.columns:
            vals = match_matrix[col]
            ok = vals.notna().to_numpy()
            cpos = data.index.get_indexer(vals[ok].tolist())
            ti.append(tpos[ok])
            ci.append(cpos)
        ti = np.concatenate(ti) if ti else np.empty(0, dtype=int)
        ci = np.concatenate(ci) if ci else np.empty(0, dtype=int)
        if np.any(ti < 0) or np.any(ci < 0):
            raise InputError("match_matrix names units that are not in the data")
        pairs = (ti, ci)
    rows = {}
    for name in X.columns:
        x = X[name].to_numpy(dtype=float)
        finite = np.isfinite(x)
        if finite.all():
            rows[name] = _balance_one(x, t, w, pairs)
            continue
        # Only the distance can be infinite: units of a covariate pattern with no treated (or no
        # control) units, whose score glm would push towards 0 (or 1). They have no place on the
        # distance scale, so the distance row is computed over the finite units.
        pos = np.cumsum(finite) - 1
        sub_pairs = None
        if pairs is not None:
            keep = finite[pairs[0]] & finite[pairs[1]]
            sub_pairs = (pos[pairs[0][keep]], pos[pairs[1][keep]])
        rows[name] = _balance_one(x[finite], t[finite], w[finite], sub_pairs)
    cols = [*BALANCE_COLUMNS, "pair_dist"]
    out = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
    if pairs is None:
        out = out.drop(columns="pair_dist")
    out.index.name = "variable"
    return out


@dataclass
class BalanceTable:
    """Balance before and after matching, side by side.

    ``table``: index = variable (``distance`` first), columns ``<stat>_before`` for the six
    ``balance`` statistics on all data and ``<stat>_after`` on the matched data, plus
    ``pair_dist_after`` (``summary.matchit``'s ``sum.all`` and ``sum.matched``); ``n``: sample sizes.
    """

    table: pd.DataFrame
    n: pd.DataFrame


def balance_table(
    result: MatchResult, data: pd.DataFrame, treatment: str, covariates: list[str]
) -> BalanceTable:
    """``summary(m)``: balance before and after matching, and the sample sizes."""
    t = treatment_indicator(data, treatment)
    X = balance_covariates(data, covariates)
    X.insert(0, "distance", _distance_values(data, result.distance, allow_infinite=True))
    before = _balance_of(data, X, t, None, None)
    after = _balance_of(data, X, t, result.weights, result.match_matrix)
    table = pd.concat([before.add_suffix("_before"), after.add_suffix("_after")], axis=1)
    return BalanceTable(table=table, n=result.n.copy())
