"""Design matrices shared by matching, survival and competing risks.

One place turns a DataFrame and a list of covariates into the numeric matrix a model sees, so
every model names its terms the same way and none repeats this code:

* numeric columns enter as they are;
* categorical, string or boolean columns become treatment-coded dummies named ``col[level]``,
  the first level being the reference (the category order of a pandas Categorical, else the
  sorted levels), as R's ``model.matrix`` does with treatment contrasts;
* columns that are constant, or a linear combination of earlier columns, are dropped and reported,
  the way ``glm``/``coxph`` report them as ``NA`` (aliased) coefficients: R's pivoted QR
  (LINPACK ``dqrdc2``) keeps the columns in order and moves a column whose remaining norm is below
  ``tol`` times its original norm to the end, i.e. the *later* column of a dependent set is dropped;
* missing or non-finite values are an error naming the column and the row.

``monotone_terms`` finds the binary terms whose level has no events (or holds every event): the
monotone-likelihood case in which Cox and Fine-Gray estimates run off to infinity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from micromet.errors import InputError

ALIAS_TOL = 1e-7


def term_name(covariate: str, level) -> str:
    """The name of the dummy for ``level`` of ``covariate``: ``col[level]``."""
    return f"{covariate}[{level}]"


def is_categorical(series: pd.Series) -> bool:
    """True for Categorical, string/object and boolean columns (they are expanded to dummies)."""
    return (
        isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(series.dtype)
        or pd.api.types.is_string_dtype(series.dtype)
        or pd.api.types.is_bool_dtype(series.dtype)
    )


def levels_of(series: pd.Series) -> list:
    """Levels in model order: category order for a Categorical, else sorted observed values."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return list(series.cat.categories)
    return sorted(pd.unique(series.dropna()).tolist())


@dataclass
class Design:
    """A model matrix and what was done to build it.

    ``X`` holds the kept terms (float, index of the input). ``covariate_of`` maps every term,
    kept or dropped, to its covariate; ``reference`` maps each categorical covariate to its
    reference level; ``aliased`` and ``constant`` list the dropped terms.
    """

    X: pd.DataFrame
    covariate_of: dict[str, str]
    reference: dict[str, object] = field(default_factory=dict)
    levels: dict[str, list] = field(default_factory=dict)
    aliased: list[str] = field(default_factory=list)
    constant: list[str] = field(default_factory=list)
    all_terms: list[str] = field(default_factory=list)

    @property
    def terms(self) -> list[str]:
        return list(self.X.columns)

    @property
    def dropped(self) -> dict[str, str]:
        """Dropped term -> reason, for reports."""
        out = {t: "constant: no variation in the data" for t in self.constant}
        out.update({t: "aliased: a linear combination of earlier terms" for t in self.aliased})
        return out


def _check_complete(data: pd.DataFrame, col: str) -> None:
    s = data[col]
    bad = s.isna()
    if not is_categorical(s):
        vals = pd.to_numeric(s, errors="coerce")
        bad = bad | ~np.isfinite(vals.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row = bad.index[np.argmax(bad.to_numpy())]
        raise InputError(
            f"missing or non-numeric value in a model covariate ({int(bad.sum())} rows)",
            column=col,
            row=row,
            value=None if pd.isna(s.loc[row]) else s.loc[row],
        )


def _r_factor(M: np.ndarray, block: int = 4096) -> np.ndarray:
    """The R of a QR decomposition of a tall matrix, by blocks of rows (tall-skinny QR).

    R of the stacked block R's is R of ``M`` (up to signs): faster than one LAPACK call on a
    284,000-row matrix and with the same backward stability.
    """
    n = M.shape[0]
    if n <= 2 * block:
        return np.linalg.qr(M, mode="r")
    parts = [np.linalg.qr(M[i : i + block], mode="r") for i in range(0, n, block)]
    return np.linalg.qr(np.vstack(parts), mode="r")


def aliased_columns(X: np.ndarray, *, intercept: bool = True, tol: float = ALIAS_TOL) -> list[int]:
    """Indexes of columns that are (numerically) linear combinations of earlier columns.

    The choice of R's ``dqrdc2`` limited pivoting, which keeps the columns in order and drops the
    later column of a dependent set: a column is aliased when the norm of what remains of it after
    projection on the kept earlier columns (and an intercept column, when ``intercept`` is true, so
    that a constant column counts as aliased) is at most ``tol`` times its own norm.

    One Householder QR of the whole matrix (``X = Q R``) does the O(n p^2) work; since
    ``X[:, S] = Q R[:, S]`` for any set of columns S, each re-check after dropping a column is a QR
    of a p x p matrix.
    """
    X = np.asarray(X, dtype=float)
    n, p = X.shape
    if p == 0 or n == 0:
        return list(range(p)) if n == 0 else []
    lead = 1 if intercept else 0
    M = np.hstack([np.ones((n, 1)), X]) if intercept else X
    R_full = _r_factor(M)
    norms = np.sqrt(np.einsum("ij,ij->j", R_full, R_full))[lead:]
    kept = list(range(p))
    out: list[int] = []
    start = 0
    while True:
        cols = list(range(lead)) + [j + lead for j in kept]
        if not cols:
            break
        diag = np.abs(np.diag(np.linalg.qr(R_full[:, cols], mode="r")))
        diag = np.concatenate([diag, np.zeros(len(cols) - len(diag))])[lead:]
        found = None
        for pos in range(start, len(kept)):
            j = kept[pos]
            if norms[j] == 0 or diag[pos] <= tol * norms[j]:
                found = pos
                break
        if found is None:
            break
        out.append(kept.pop(found))
        start = found
    return sorted(out)


def design_matrix(
    data: pd.DataFrame,
    covariates: list[str],
    *,
    check_aliasing: bool = True,
    tol: float = ALIAS_TOL,
) -> Design:
    """Build the model matrix of ``covariates`` (no intercept column; see module docstring).

    The alias check always includes an intercept, because every model here has one explicitly
    (logistic) or implicitly (Cox and Fine-Gray are invariant to a constant shift), so a
    constant column is never identifiable.
    """
    missing = [c for c in covariates if c not in data.columns]
    if missing:
        raise InputError(
            f"covariate not in the data (columns are: {', '.join(map(str, data.columns))})",
            column=missing[0],
        )
    cols: dict[str, np.ndarray] = {}
    covariate_of: dict[str, str] = {}
    reference: dict[str, object] = {}
    levels: dict[str, list] = {}
    for cov in covariates:
        _check_complete(data, cov)
        s = data[cov]
        if is_categorical(s):
            lv = levels_of(s)
            levels[cov] = lv
            if not lv:
                continue
            reference[cov] = lv[0]
            values = s.to_numpy()
            for level in lv[1:]:
                name = term_name(cov, level)
                cols[name] = (values == level).astype(float)
                covariate_of[name] = cov
        else:
            cols[cov] = pd.to_numeric(s).to_numpy(dtype=float)
            covariate_of[cov] = cov
    names = list(cols)
    M = np.column_stack([cols[c] for c in names]) if names else np.empty((len(data), 0))
    constant: list[str] = []
    aliased: list[str] = []
    if check_aliasing and names:
        drop = aliased_columns(M, intercept=True, tol=tol)
        for j in drop:
            col = M[:, j]
            if np.all(col == col[0]) if len(col) else True:
                constant.append(names[j])
            else:
                aliased.append(names[j])
    keep = [c for c in names if c not in set(constant) | set(aliased)]
    X = pd.DataFrame({c: cols[c] for c in keep}, index=data.index, columns=keep)
    return Design(
        X=X,
        covariate_of=covariate_of,
        reference=reference,
        levels=levels,
        aliased=aliased,
        constant=constant,
        all_terms=names,
    )


def monotone_terms(X: pd.DataFrame, event, *, event_name: str = "events",
                   words: dict[str, str] | None = None) -> dict[str, str]:
    """Binary (0/1) terms whose likelihood is monotone: no events in the level, or all of them.

    Returns term -> a reader's message such as ``"not estimable: no events among patients with
    her2[Positive] (n = 12)"``; ``words`` names a term in words ("HER2 status Positive", see
    :func:`term_words`) and ``event_name`` the events ("deaths"). Cox and Fine-Gray estimates
    for such a term diverge (R prints HRs like 5e5 with CI 0-Inf); callers report them as not
    estimable instead.
    """
    ev = np.asarray(event, dtype=bool)
    words = words or {}
    out: dict[str, str] = {}
    for term in X.columns:
        x = X[term].to_numpy()
        if not np.all((x == 0) | (x == 1)):
            continue
        inside = x == 1
        n_in, n_out = int(inside.sum()), int((~inside).sum())
        e_in, e_out = int(ev[inside].sum()), int(ev[~inside].sum())
        said = words.get(term, term)
        if n_in and e_in == 0:
            out[term] = f"not estimable: no {event_name} among patients with {said} (n = {n_in:,})"
        elif n_out and e_out == 0:
            out[term] = (f"not estimable: all {event_name} are among patients with {said} "
                         f"(none among the other {n_out:,} patients)")
    return out


def term_words(design: Design, labels: dict | None = None) -> dict[str, str]:
    """Each term of ``design`` in words: ``er[Positive]`` -> "ER status Positive" (with
    ``labels`` = covariate -> name), a numeric term -> its covariate's name; a term whose
    covariate has no label stays as it is."""
    labels = labels or {}
    out = {}
    for term in design.all_terms:
        cov = design.covariate_of.get(term, term)
        if cov not in labels:
            out[term] = term
            continue
        name = labels[cov]
        out[term] = f"{name} {term[len(cov) + 1:-1]}" if term.startswith(cov + "[") else name
    return out


# ---- conditioning -----------------------------------------------------------------------------

#: Above these a model's notes warn that its estimates are unstable. The scaled condition number
#: is that of the information matrix scaled to unit diagonal (a correlation-like matrix of the
#: estimates): 1 for orthogonal terms; Belsley, Kuh & Welsch call 30 "moderate to strong"
#: dependence for the design's square root, so 1,000 here (= 30² roughly) for the information.
#: A variance inflation factor above 10 is the usual rule for collinearity.
CONDITION_THRESHOLD = 1_000.0
VIF_THRESHOLD = 10.0


@dataclass(frozen=True)
class Conditioning:
    """How well a fitted model's terms are separated from one another."""

    scaled_condition_number: float
    vif: dict[str, float]

    @property
    def unstable(self) -> bool:
        return (self.scaled_condition_number > CONDITION_THRESHOLD
                or any(v > VIF_THRESHOLD for v in self.vif.values()))

    def sentence(self, model: str = "the model") -> str:
        high = {t: v for t, v in self.vif.items() if v > VIF_THRESHOLD}
        parts = [f"scaled condition number {self.scaled_condition_number:,.0f}"]
        if high:
            parts.append("variance inflation " + ", ".join(f"{t} {v:.0f}"
                                                           for t, v in high.items()))
        return (f"unstable: {model} is ill-conditioned ({'; '.join(parts)}; thresholds "
                f"{CONDITION_THRESHOLD:,.0f} and {VIF_THRESHOLD:g}): its estimates may change "
                "with small changes of the data or of the arithmetic")


def conditioning(variance, X: pd.DataFrame) -> Conditioning:
    """The scaled condition number of a model — that of the correlation matrix of its estimates
    (``variance``, the model-based inverse information, scaled to unit diagonal) — and the
    variance inflation factors of its design ``X`` (the diagonal of the inverse correlation
    matrix of the columns)."""
    info = np.asarray(variance, dtype=float)
    terms = list(X.columns)
    if info.size == 0 or len(terms) == 0 or not np.all(np.isfinite(info)):
        return Conditioning(1.0 if info.size == 0 else float("inf"), {})
    scale = np.sqrt(np.abs(np.diag(info)))
    scale[scale == 0] = 1.0
    scaled = info / np.outer(scale, scale)
    eig = np.linalg.eigvalsh((scaled + scaled.T) / 2)
    kappa = float(eig.max() / eig.min()) if eig.min() > 0 else float("inf")
    vif: dict[str, float] = {}
    if len(terms) == 1:
        vif = {terms[0]: 1.0}
    else:
        values = X.to_numpy(dtype=float)
        sd = values.std(axis=0)
        if np.all(sd > 0):
            corr = np.corrcoef(values, rowvar=False)
            try:
                # diag(R^-1) by Cholesky solves, not by inverting R
                chol = np.linalg.cholesky(corr)
                inv_diag = np.sum(np.linalg.solve(chol, np.eye(len(terms))) ** 2, axis=0)
                vif = {t: float(v) for t, v in zip(terms, inv_diag, strict=True)}
            except np.linalg.LinAlgError:
                vif = {t: float("inf") for t in terms}
    return Conditioning(kappa, vif)
