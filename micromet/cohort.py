"""Cohort construction: ordered, named, declarative inclusion criteria and the flow table.

A criterion is a small mapping that can live in a YAML study file::

    - {name: female, column: sex, in: [Female]}
    - {name: age 18-89, column: age, between: [18, 89]}
    - {name: grade known, notna: [grade]}
    - {name: not Tis or T0, column: t_label, not_in: [T0, Tis, Tis(DCIS), Tis(Paget)]}

Each criterion has a ``name`` and exactly one rule:

========================  ==========================================================  ==========
rule                      keeps a row when                                            missing
========================  ==========================================================  ==========
``in: [v, ...]``          the value of ``column`` is one of the values                excluded
``not_in: [v, ...]``      the value is none of the values                             kept
``equals: v``             the value equals ``v``                                      excluded
``between: [lo, hi]``     lo <= value <= hi (numeric, both ends included)             excluded
``min: lo`` / ``max: hi`` value >= lo / value <= hi                                   excluded
``notna: [c1, c2, ...]``  every listed column is known (no ``column`` key)            excluded
========================  ==========================================================  ==========

Criteria are applied in order; the flow table counts, for each step, the rows it removes among
those still in, overall and per group (the rows of the exposure groups), as a CONSORT flowchart
does (``micromet.plots_flow.flowchart``). A criterion naming an unknown column or with a malformed
rule is an ``InputError`` that names the criterion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from micromet.design import levels_of
from micromet.errors import InputError

RULES = ("in", "not_in", "equals", "between", "min", "max", "notna")
_ALLOWED_KEYS = set(RULES) | {"name", "column", "description"}

#: The paper's criteria (Luo et al., Methods "Inclusion and Exclusion Criteria"), in order, on
#: the analysis frame of ``micromet.seer.tidy``. Grade known means Derived Summary Grade 1, 2,
#: 3, A, B or C (9, D, L/M/H and Blank(s) are unknown for the paper).
PAPER_CRITERIA = (
    {"name": "female", "column": "sex", "in": ["Female"]},
    {"name": "age 18-89", "column": "age", "between": [18, 89]},
    {"name": "grade known", "notna": ["grade"]},
    {"name": "not Tis or T0", "column": "t_label",
     "not_in": ["T0", "Tis", "Tis(DCIS)", "Tis(Paget)", "Tis(LAMN)"]},
    {"name": "complete information",
     "notna": ["tumor_size_mm", "er", "pr", "her2", "subtype", "t_stage", "n_stage",
               "time_months"]},
    {"name": "known cause of death", "notna": ["event"]},
)


@dataclass
class CohortResult:
    """``data``: the rows that meet every criterion (index of the input kept); ``flow``: one row
    per step (``extracted`` first), columns step, excluded, remaining, ``excluded[g]``,
    ``remaining[g]`` per group level ``g``; ``excluded_by``: for each removed row (index of the
    input) the name of the criterion that removed it."""

    data: pd.DataFrame
    flow: pd.DataFrame
    excluded_by: pd.Series
    group: str | None
    levels: list


def _fail(criterion, message, column=None):
    name = criterion.get("name") if isinstance(criterion, Mapping) else None
    label = f"criterion {name!r}" if name else "criterion"
    raise InputError(f"{label}: {message}", column=column)


def validate_criteria(criteria, columns=None) -> list[dict]:
    """Check the criteria (names, one rule each, well-formed arguments, and, when ``columns``
    is given, that every column exists). Returns them as a list of plain dicts."""
    if isinstance(criteria, Mapping) or not isinstance(criteria, Sequence):
        raise InputError("criteria must be a list of mappings")
    out, names = [], set()
    for i, crit in enumerate(criteria, start=1):
        if not isinstance(crit, Mapping):
            raise InputError(f"criterion {i} is not a mapping: {crit!r}")
        name = crit.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"criterion {i} has no name: {dict(crit)!r}")
        if name in names:
            _fail(crit, "the name is used twice")
        names.add(name)
        unknown = set(crit) - _ALLOWED_KEYS
        if unknown:
            _fail(crit, f"unknown key(s) {sorted(unknown)}; a rule is one of {list(RULES)}")
        rules = [r for r in RULES if r in crit]
        if len(rules) != 1:
            _fail(crit, f"needs exactly one rule of {list(RULES)}, found {rules}")
        rule = rules[0]
        arg = crit[rule]
        if rule == "notna":
            if "column" in crit:
                _fail(crit, "a notna rule lists its columns itself: notna: [col, ...]")
            if isinstance(arg, str):
                arg = [arg]
            if not isinstance(arg, Sequence) or not arg or not all(
                    isinstance(c, str) for c in arg):
                _fail(crit, f"notna needs a non-empty list of column names, got {arg!r}")
            cols = list(arg)
        else:
            col = crit.get("column")
            if not isinstance(col, str):
                _fail(crit, f"rule {rule!r} needs a column name")
            cols = [col]
            if rule in ("in", "not_in"):
                if isinstance(arg, str | bytes) or not isinstance(arg, Sequence) or not arg:
                    _fail(crit, f"{rule} needs a non-empty list of values, got {arg!r}", col)
                arg = list(arg)
            elif rule == "between":
                if (isinstance(arg, str) or not isinstance(arg, Sequence) or len(arg) != 2
                        or not all(_is_number(a) for a in arg) or arg[0] > arg[1]):
                    _fail(crit, f"between needs [low, high] numbers, low <= high, got {arg!r}", col)
                arg = [float(arg[0]), float(arg[1])]
            elif rule in ("min", "max"):
                if not _is_number(arg):
                    _fail(crit, f"{rule} needs a number, got {arg!r}", col)
        if columns is not None:
            for c in cols:
                if c not in columns:
                    _fail(crit, f"unknown column {c!r}", c)
        clean = {"name": name, rule: arg}
        if rule != "notna":
            clean["column"] = crit["column"]
        if "description" in crit:
            clean["description"] = crit["description"]
        out.append(clean)
    return out


def _is_number(x) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool) \
        and np.isfinite(x)


def criterion_mask(frame: pd.DataFrame, criterion: Mapping) -> np.ndarray:
    """Boolean array: rows of ``frame`` that meet one (validated) criterion."""
    if "notna" in criterion:
        return frame[list(criterion["notna"])].notna().all(axis=1).to_numpy()
    col = criterion["column"]
    s = frame[col]
    try:
        if "in" in criterion:
            return s.isin(criterion["in"]).to_numpy() & s.notna().to_numpy()
        if "not_in" in criterion:
            return ~s.isin(criterion["not_in"]).to_numpy() | s.isna().to_numpy()
        if "equals" in criterion:
            return (s == criterion["equals"]).fillna(False).to_numpy(dtype=bool)
        x = pd.to_numeric(s, errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as err:
        _fail(criterion, f"cannot apply the rule to column {col!r}: {err}", col)
    with np.errstate(invalid="ignore"):
        if "between" in criterion:
            lo, hi = criterion["between"]
            return (x >= lo) & (x <= hi)
        if "min" in criterion:
            return x >= criterion["min"]
        return x <= criterion["max"]


def _check_not_emptied(rows: list[dict], levels: list, group: str | None) -> None:
    """A cohort with nobody left, or with a compared group emptied, stops here, naming the step
    that emptied it (not later, in a model, as a KeyError)."""
    columns = [("remaining", "the cohort")] + [(f"remaining[{g}]", f"the {group} = {g} group")
                                               for g in levels]
    for key, what in columns:
        for r in rows:
            if r[key] == 0:
                where = ("the data hold no patient" if r["step"] == "extracted" else
                         f"criterion '{r['step']}' excluded every remaining patient")
                raise InputError(f"{what} is empty: {where}; check the criteria and the "
                                 "export", column=group if key != "remaining" else None,
                                 value=r["step"])


def build_cohort(frame: pd.DataFrame, criteria=PAPER_CRITERIA, group: str | None = "m_stage",
                 *, levels=None) -> CohortResult:
    """Apply ``criteria`` in order to ``frame``; return the cohort and its flow table.

    ``group`` (a column, or None) gives the per-group counts of the flow; ``levels`` its levels
    in order (default: category order, else sorted observed values). Rows whose group is not
    one of ``levels`` count in the totals only.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError("build_cohort needs a DataFrame")
    crits = validate_criteria(criteria, columns=frame.columns)
    if group is not None:
        if group not in frame.columns:
            raise InputError(f"group column {group!r} not in the data", column=group)
        levels = list(levels) if levels is not None else levels_of(frame[group])
        gvals = frame[group].to_numpy(dtype=object)
        gmask = {g: gvals == g for g in levels}
    else:
        levels, gmask = [], {}
    keep = np.ones(len(frame), dtype=bool)
    excluded_by = np.full(len(frame), None, dtype=object)

    def row(step, removed):
        r = {"step": step,
             "excluded": None if removed is None else int(removed.sum()),
             "remaining": int(keep.sum())}
        for g in levels:
            r[f"excluded[{g}]"] = None if removed is None else int((removed & gmask[g]).sum())
            r[f"remaining[{g}]"] = int((keep & gmask[g]).sum())
        return r

    rows = [row("extracted", None)]
    for crit in crits:
        ok = criterion_mask(frame, crit)
        removed = keep & ~ok
        excluded_by[removed] = crit["name"]
        keep &= ok
        rows.append(row(crit["name"], removed))
    _check_not_emptied(rows, levels, group)
    flow = pd.DataFrame(rows)
    for c in flow.columns:
        if c.startswith("excluded"):
            flow[c] = flow[c].astype("Int64")
    gone = ~keep
    return CohortResult(
        data=frame.loc[keep],
        flow=flow,
        excluded_by=pd.Series(excluded_by[gone], index=frame.index[gone], name="excluded_by"),
        group=group,
        levels=levels,
    )
