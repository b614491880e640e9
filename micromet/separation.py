"""Monotone likelihood in any direction, found by linear programming before a model is fitted.

A Cox or Fine–Gray partial likelihood has no maximum (some coefficients run off to ±infinity)
exactly when there is a direction ``d ≠ 0`` along which every event's linear predictor is at
least that of everyone in its risk set, with at least one strict inequality (Heinze & Schemper
2001, *Biometrics* 57:114–119). For a single binary term that is "no events in one level"; for a
combination of terms it is what printed the paper's HR of 5.48×10⁵ and SHR of 5.64×10³.

``monotone_direction`` solves ``max Σ (xᵢ − xⱼ)·d`` subject to ``(xᵢ − xⱼ)·d ≥ 0`` for every
event ``i`` and every ``j`` in its risk set, ``−1 ≤ d ≤ 1`` (SciPy's HiGHS). A positive optimum is
such a direction. Risk sets: Cox, those still at risk (within the stratum); Fine–Gray, crr's
subdistribution risk sets (still at risk, or failed of a competing cause before; the censoring
weights are positive and do not change the condition).

The program is built on distinct covariate patterns and is linear in their number: instead of one
constraint per (event pattern, risk-set pattern) pair, running maxima of the linear predictor over
the nested risk sets carry the comparison (``_constraints``), so a registry cohort with continuous
covariates is tested over all its terms. Past ``MAX_CONSTRAINTS`` rows the test is restricted to
the binary terms (``d`` zero on the others): exact for combinations of categories, such as ER with
the HR-negative subtypes; directions through continuous terms are then left to the single-term
check and to the check of the fitted path (``micromet.survival.diverging_terms``). ``test`` in the
result says which was run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MAX_CONSTRAINTS = 400_000  # above this the LP is restricted to the binary terms
TOL = 1e-7


@dataclass
class Monotone:
    """A direction of monotone likelihood: the terms involved and the patients it singles out."""

    terms: list[str]
    direction: dict[str, float]
    test: str  # "linear programming (all terms)" or "... (binary terms)"
    n_low: int  # patients whose linear predictor along d lies below every event's
    events_low: int  # events among them (0 by construction)
    binary: bool = True  # every term involved is a 0/1 indicator
    low: np.ndarray | None = field(default=None, repr=False)  # rows of those patients (mask)

    def sentence(self, event_name: str = "events", *, data: pd.DataFrame | None = None,
                 covariate_of: dict | None = None, labels: dict | None = None) -> str:
        """Why the terms are not estimable, in words.

        With ``data`` (the rows given to :func:`monotone_direction`, with the model's
        covariates) the patients the direction singles out are named by what they share
        ("no breast-cancer deaths among patients with ER status Negative and PR status Positive
        (n = 3): ER status and Breast subtype cannot be estimated together"); ``covariate_of``
        maps terms to covariates and ``labels`` covariates to readable names."""
        if data is not None and self.low is not None and self.n_low and self.binary:
            said = _pattern(data, self.low, labels or {})
            if said:
                return (f"not estimable: no {event_name} among patients with {said} "
                        f"(n = {self.n_low:,}): {_covariates(self.terms, covariate_of, labels)} "
                        f"cannot be estimated together (the likelihood rises without bound "
                        f"along their combination; found by {self.test})")
        combo = ", ".join(self.terms[:-1]) + (" and " if len(self.terms) > 1 else "") + \
            self.terms[-1]
        together = "cannot be estimated together" if len(self.terms) > 1 else \
            "cannot be estimated"
        if not (self.binary and self.n_low):
            return (f"not estimable: {combo} {together}: every one of the {event_name} has the "
                    f"highest value of {'their combination' if len(self.terms) > 1 else 'it'} "
                    f"among the patients still at risk (the likelihood rises without bound; "
                    f"found by {self.test})")
        return (f"not estimable: no {event_name} among the {self.n_low:,} patients "
                f"{_describe(self.direction)}: {combo} {together} (the "
                f"likelihood rises without bound along their combination; found by "
                f"{self.test})")


def _pattern(data: pd.DataFrame, low: np.ndarray, labels: dict) -> str:
    """The fewest shared traits that single out the rows ``low`` ("ER status Negative and PR
    status Positive"): among the categorical values every one of those rows has, the one that
    leaves the fewest other rows is taken, then the next, until the description names exactly
    those rows (or no trait narrows it further). Said in column order."""
    low = np.asarray(low, dtype=bool)
    rows = data.loc[low]
    traits = []
    for col in data.columns:
        values = rows[col]
        if pd.api.types.is_numeric_dtype(values) and not isinstance(
                values.dtype, pd.CategoricalDtype) and data[col].nunique() > 2:
            continue
        if len(values) == 0 or values.isna().any() or values.nunique() != 1:
            continue
        level = values.iloc[0]
        inside = (data[col] == level).to_numpy()
        if not inside.all():
            traits.append((col, level, inside))
    chosen, current = [], np.ones(len(data), dtype=bool)
    while traits and (current != low).any():
        col, level, inside = min(traits, key=lambda t: int((current & t[2]).sum()))
        if (current & inside).sum() == current.sum():
            break
        chosen.append((col, level))
        current &= inside
        traits = [t for t in traits if t[0] != col]
    order = {c: i for i, c in enumerate(data.columns)}
    return " and ".join(f"{labels.get(c, c)} {v}" for c, v in sorted(chosen,
                                                                     key=lambda cv: order[cv[0]]))


def _covariates(terms, covariate_of, labels) -> str:
    """The covariates of ``terms`` in words: "ER status and Breast subtype (HR-/HER2+,
    HR-/HER2-)" (levels named when only some of a covariate's terms are involved)."""
    covariate_of = covariate_of or {}
    labels = labels or {}
    groups: dict[str, list[str]] = {}
    for term in terms:
        cov = covariate_of.get(term, term)
        level = term[len(cov) + 1:-1] if term.startswith(cov + "[") else None
        groups.setdefault(cov, [])
        if level:
            groups[cov].append(level)
    said = []
    for cov, levels in groups.items():
        name = labels.get(cov, cov)
        said.append(f"{name} ({', '.join(levels)})" if len(levels) > 1 else name)
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]


def _describe(direction: dict[str, float]) -> str:
    """The patients a direction puts lowest, said with its terms ("without er[Positive], ...")."""
    without = [t for t, v in direction.items() if v > 0]
    with_ = [t for t, v in direction.items() if v < 0]
    parts = []
    if without:
        parts.append("without " + " or ".join(without))
    if with_:
        parts.append("with " + " and ".join(with_))
    return " and ".join(parts)


def monotone_direction(X: pd.DataFrame, time, event, *, competing=None, strata=None,
                       max_constraints: int = MAX_CONSTRAINTS) -> Monotone | None:
    """A direction of monotone likelihood for the terms of ``X``, or None.

    ``event``: True for the events of interest. ``competing``: True for competing events
    (Fine–Gray risk sets); None for Cox. ``strata``: stratum codes (Cox) or None."""
    if X.shape[1] == 0:
        return None
    t = np.asarray(time, dtype=float)
    ev = np.asarray(event, dtype=bool)
    if not ev.any():
        return None
    comp = np.zeros(len(t), bool) if competing is None else np.asarray(competing, dtype=bool)
    s = np.zeros(len(t), np.int64) if strata is None else pd.factorize(np.asarray(strata))[0]
    values = X.to_numpy(dtype=float)
    binary = np.all((values == 0) | (values == 1), axis=0)
    columns = list(range(values.shape[1]))
    test = "linear programming over all terms"
    A = _constraints(values[:, columns], t, ev, comp, s, max_constraints)
    if A is None:
        columns = [j for j in range(values.shape[1]) if binary[j]]
        test = "linear programming over the binary terms"
        if not columns:
            return None
        A = _constraints(values[:, columns], t, ev, comp, s, None)
    if A is None or len(A) == 0:
        return None
    k = len(columns)
    d = _solve(A, list(range(k)))
    if d is None:
        return None
    # an irreducible set of terms: leave out each one in turn while a direction remains
    support = [j for j in range(k) if d[j] != 0]
    for j in list(support):
        if len(support) == 1:
            break
        trial = _solve(A, [i for i in support if i != j])
        if trial is not None:
            support.remove(j)
            d = trial
    terms = [X.columns[columns[j]] for j in range(k) if d[j] != 0]
    lp = values[:, columns] @ d
    low = lp < lp[ev].min() - 1e-9
    return Monotone(terms=terms, direction={X.columns[columns[j]]: float(d[j])
                                            for j in range(k) if d[j] != 0},
                    test=test, n_low=int(low.sum()), events_low=int((low & ev).sum()),
                    binary=all(binary[columns[j]] for j in range(k) if d[j] != 0), low=low)


@dataclass
class _Program:
    """``A_ub z <= 0`` over ``z = (d, u, w)``: the direction ``d`` (k terms) and, per stratum,
    the running maxima ``u`` and ``w`` of the linear predictor over the risk sets; ``c`` is
    ``Σ (x_event − x_at_risk)`` over every (event pattern, at-risk pattern) pair, the objective;
    ``scale`` the largest spread of a term (for the tolerance)."""

    A: object  # scipy.sparse CSR matrix
    k: int
    c: np.ndarray
    scale: float

    def __len__(self) -> int:
        return self.A.shape[0]


def _solve(program: _Program, free: list[int]) -> np.ndarray | None:
    """A direction with every event's linear predictor at least its risk set's, not all equal,
    zero outside ``free``; None if none."""
    from scipy.optimize import linprog

    k, n = program.k, program.A.shape[1]
    bounds = [(-1, 1) if j in free else (0, 0) for j in range(k)] + [(None, None)] * (n - k)
    objective = np.concatenate([-program.c, np.zeros(n - k)])
    res = linprog(objective, A_ub=program.A, b_ub=np.zeros(program.A.shape[0]), bounds=bounds,
                  method="highs")
    if res.status != 0 or -res.fun <= TOL * max(1.0, program.scale):
        return None
    d = res.x[:k]
    return np.where(np.abs(d) > 1e-6, d, 0.0)


def _constraints(values, t, ev, comp, s, limit) -> _Program | None:
    """The linear program of :func:`monotone_direction`, of size linear in the number of distinct
    covariate patterns (None past ``limit`` rows).

    "Every event pattern q lies at least as high as every pattern p of its risk set" is written
    with running maxima instead of one row per (q, p) pair: the patterns still at risk at the
    first event time of q form a set that shrinks as that time grows, so ``u_l`` (one per distinct
    first event time, ``u_l >= u_(l+1)``) bounds the patterns whose last time reaches level l and
    ``x_q·d >= u_l(q)``; crr's patients failed of a competing cause before the last event time of
    q form a set that grows with that time, bounded the same way by ``w``. Exact: the pairs'
    constraints hold if and only if the running maxima's do."""
    from scipy import sparse

    k = values.shape[1]
    rows, cols, vals = [], [], []
    n_rows, n_vars = 0, k
    objective = np.zeros(k)
    scale = float(np.ptp(values, axis=0).max()) if len(values) else 0.0

    def add(block_cols, block_vals):
        """Rows ``sum(vals * z[cols]) <= 0``: one per row of the (r, m) arrays."""
        nonlocal n_rows
        r = block_cols.shape[0]
        rows.append(np.repeat(np.arange(n_rows, n_rows + r), block_cols.shape[1]))
        cols.append(block_cols.ravel())
        vals.append(block_vals.ravel())
        n_rows += r

    for stratum in np.unique(s):
        inside = s == stratum
        v, tt, e, c = values[inside], t[inside], ev[inside], comp[inside]
        if not e.any():
            continue
        codes, uniques = pd.factorize(pd.MultiIndex.from_arrays(v.T) if v.shape[1] > 1
                                      else pd.Index(v[:, 0]))
        patterns = np.asarray([list(u) if isinstance(u, tuple) else [u] for u in uniques],
                              dtype=float)
        n_pat = len(patterns)
        last = np.full(n_pat, -np.inf)
        np.maximum.at(last, codes, tt)
        first_ev = np.full(n_pat, np.inf)
        np.minimum.at(first_ev, codes[e], tt[e])
        last_ev = np.full(n_pat, -np.inf)
        np.maximum.at(last_ev, codes[e], tt[e])
        q = np.flatnonzero(np.isfinite(first_ev))  # the event patterns
        # Cox part: at risk at the first event time of q
        levels = np.unique(first_ev[q])
        p = np.flatnonzero(last >= levels[0])
        blocks = [(levels, q, np.searchsorted(levels, first_ev[q]), p,
                   np.searchsorted(levels, last[p], side="right") - 1, -1)]
        if c.any():  # Fine-Gray: failed of a competing cause before the last event time of q
            first_comp = np.full(n_pat, np.inf)
            np.minimum.at(first_comp, codes[c], tt[c])
            marks = np.unique(last_ev[q])
            pc_ = np.flatnonzero(first_comp < marks[-1])
            if len(pc_):
                blocks.append((marks, q, np.searchsorted(marks, last_ev[q]), pc_,
                               np.searchsorted(marks, first_comp[pc_], side="right"), +1))
        count = sum(len(b[1]) + len(b[3]) + len(b[0]) - 1 for b in blocks)
        if limit is not None and n_rows + count > limit:
            return None
        for lv, qq, lq, pp, lp_, step in blocks:  # levels, event patterns, their levels, ...
            base = n_vars
            n_vars += len(lv)
            # x_q·d - m_l(q) >= 0   ->   -x_q·d + m_l(q) <= 0
            add(np.column_stack([np.tile(np.arange(k), (len(qq), 1)), base + lq]),
                np.column_stack([-patterns[qq], np.ones(len(qq))]))
            # x_p·d - m_l(p) <= 0
            add(np.column_stack([np.tile(np.arange(k), (len(pp), 1)), base + lp_]),
                np.column_stack([patterns[pp], -np.ones(len(pp))]))
            # the chain: u_(l+1) <= u_l (step -1: shrinking sets), w_l <= w_(l+1) (step +1)
            lo = np.arange(len(lv) - 1)
            if len(lo):
                bigger, smaller = (lo, lo + 1) if step < 0 else (lo + 1, lo)
                add(np.column_stack([base + smaller, base + bigger]),
                    np.column_stack([np.ones(len(lo)), -np.ones(len(lo))]))
        objective += _pair_sums(patterns, q, first_ev, last_ev, last,
                                first_comp if c.any() else None)
    if n_rows == 0:
        return _Program(A=sparse.csr_matrix((0, k)), k=k, c=objective, scale=scale)
    A = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_rows, n_vars))
    A.eliminate_zeros()
    return _Program(A=A, k=k, c=objective, scale=scale)


def _pair_sums(patterns, q, first_ev, last_ev, last, first_comp) -> np.ndarray:
    """``Σ_q Σ_(p in R(q)) (x_q − x_p)``, the objective: over the patterns at risk at q's first
    event time and (Fine–Gray) over those failed of a competing cause before its last one, by
    sorted running sums. A pattern in both sets counts twice: any positive weights give a
    positive optimum exactly when a direction exists."""
    k = patterns.shape[1]

    def running(key):
        order = np.argsort(key, kind="stable")
        return key[order], np.vstack([np.zeros(k), np.cumsum(patterns[order], axis=0)])

    keys, sums = running(last)  # at risk: last >= first event time of q
    j = np.searchsorted(keys, first_ev[q], side="left")
    count = (len(keys) - j).astype(float)
    total = sums[-1] - sums[j]
    if first_comp is not None:  # failed of a competing cause: first_comp < last event time of q
        keys, sums = running(first_comp)
        j = np.searchsorted(keys, last_ev[q], side="left")
        count = count + j
        total = total + sums[j]
    return (count[:, None] * patterns[q] - total).sum(axis=0)


def leave_out_covariates(not_est: dict, design, labels: dict | None = None):
    """``on_separation="drop"`` (Cox and Fine-Gray): every term of a covariate with a
    non-estimable term is left out, so that no level is silently merged into the reference.
    Returns (not_estimable, terms still in the model)."""
    labels = labels or {}
    out = dict(not_est)
    gone = {design.covariate_of.get(t, t) for t in not_est}
    for cov in gone:
        for term in design.all_terms:
            if design.covariate_of.get(term, term) == cov and term not in out:
                out[term] = (f"not estimable: {labels.get(cov, cov)} was left out of the model "
                             f"because another of its terms cannot be estimated")
    names = ", ".join(labels.get(c, c) for c in sorted(gone))
    for term, why in list(out.items()):
        if design.covariate_of.get(term, term) in gone and "left out" not in why:
            out[term] = f"{why}; {names} left out of the model (on_separation: drop)"
    return out, [t for t in design.terms if t not in out]
