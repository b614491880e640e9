"""From the export's labels to the analysis frame: each variable recoded to the study's levels, with
every unusable value named (file, column, 1-based row, value).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from micromet.errors import InputError
from micromet.seer.schema import (
    AGE,
    CAUSE_SPECIFIC,
    CAUSE_SPECIFIC_LABELS,
    DEATH_CAUSE_LEVELS,
    DEFAULT_GRADE,
    ER,
    EVENT_CODES,
    GRADE_GROUPS,
    GRADE_LEVELS,
    GRADE_VARIABLES,
    HER2,
    HISTOLOGY,
    HISTOLOGY_LEVELS,
    IDC_CODES,
    M_LABELS,
    M_STAGE,
    N_GROUPS,
    N_LEVELS,
    N_STAGE,
    OTHER_CAUSE,
    OTHER_CAUSE_LABELS,
    PATIENT_ID,
    PR,
    RECEPTOR_GROUPS,
    RECEPTOR_LEVELS,
    REQUIRED_COLUMNS,
    SEX,
    SEX_LABELS,
    SUBTYPE,
    SUBTYPE_GROUPS,
    SUBTYPE_LEVELS,
    SURVIVAL,
    SURVIVAL_UNKNOWN,
    T_GROUPS,
    T_LEVELS,
    T_STAGE,
    TUMOR_SIZE,
    TUMOR_SIZE_MISSING,
    VITAL,
    VITAL_CODES,
    YEAR,
    death_cause_of,
)

AGE_TOP = 90  # "Age recode with single ages and 90+": 00 years .. 89 years, 90+ years


_AGE_LABEL = re.compile(r"^(\d{1,3}) years?$")


_AGE_TOP = re.compile(r"^(\d{1,3})\+ years?$")


_DIGITS = re.compile(r"^\d+$")


def _age_value(label: str):
    """'62 years' -> 62 (00-89 years), '90+ years' -> 90, 'Unknown' -> NaN; anything else
    (e.g. '150 years', '85+ years') is not a label of the age recode: None."""
    if label == "Unknown":
        return np.nan
    m = _AGE_LABEL.match(label)
    if m:
        age = int(m.group(1))
        return float(age) if age < AGE_TOP else None
    m = _AGE_TOP.match(label)
    return float(AGE_TOP) if m and int(m.group(1)) == AGE_TOP else None


def _size_value(label: str):
    if label in TUMOR_SIZE_MISSING:
        return np.nan
    if len(label) == 3 and label.isdigit() and 1 <= int(label) <= 989:
        return float(int(label))  # 001-989: millimetres
    return None


def _survival_value(label: str):
    if label in SURVIVAL_UNKNOWN:
        return np.nan
    return float(int(label)) if _DIGITS.match(label) else None


def _year_value(label: str):
    return int(label) if len(label) == 4 and label.isdigit() else None


def _refuse_duplicates(raw: pd.DataFrame, file, ids: np.ndarray) -> None:
    """A record repeated field for field (a listing exported twice, files concatenated) would be
    counted twice: refused, naming the first repeated row. (One patient may have several records
    with different fields: one per primary tumour.) Only the records whose Patient ID occurs more
    than once can repeat one another (``ids``: the Patient IDs' factor codes): the others are not
    compared."""
    shared = np.flatnonzero(np.bincount(ids)[ids] > 1)
    if len(shared) == 0:
        return
    repeated = raw.iloc[shared].duplicated(keep="first").to_numpy()
    if repeated.any():
        first = int(shared[np.flatnonzero(repeated)[0]])
        raise InputError(f"{int(repeated.sum()):,} records repeat an earlier record field for "
                         "field (the first repeat is this row); remove the repeats (an export "
                         "saved twice, or files joined together?)", file=file, row=first + 1)


def check_followup(frame: pd.DataFrame, last_year: int, *, file=None) -> None:
    """Survival months no longer than the database's follow-up allows: a case diagnosed in year
    ``Y`` and followed to the end of ``last_year`` has at most ``(last_year - Y) * 12 + 11``
    complete months (SEER's survival months). ``InputError`` names the first row beyond it."""
    time = frame["time_months"].to_numpy(dtype=float)
    year = frame["year"].to_numpy(dtype=float, na_value=np.nan)
    limit = (last_year - year) * 12 + 11
    bad = (time < 0) | (time > limit)
    bad &= ~np.isnan(time)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"survival of {time[i]:g} months is impossible for a case diagnosed in "
            f"{int(year[i])} and followed to the end of {last_year} (at most {limit[i]:g}); "
            f"{int(bad.sum()):,} records are beyond the follow-up", file=file, column=SURVIVAL,
            row=i + 1, value=_int_text(time[i]))


def _int_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class _Column:
    """One raw column, factorized once: rules run on its distinct values only."""

    def __init__(self, raw: pd.DataFrame, name: str, file):
        self.name = name
        self.file = file
        values = raw[name]
        if isinstance(values.dtype, pd.CategoricalDtype) and not values.hasnans:
            # read_export(..., categorical=True): the labels are made once; their integer
            # codes factorized (fast), so that the labels come in order of first appearance
            # as pandas.factorize gives them (the first bad label found is the earliest)
            self.codes, used = pd.factorize(values.cat.codes.to_numpy(), sort=False)
            self.uniques = np.asarray(values.cat.categories, dtype=object)[used]
        else:
            self.codes, self.uniques = pd.factorize(values.to_numpy(dtype=object), sort=False,
                                                    use_na_sentinel=False)
        for k, label in enumerate(self.uniques):
            if not isinstance(label, str):
                self.fail(k, "not text: SEER labels must be read as text (read_export does, or "
                             "pandas.read_csv(..., dtype=str, keep_default_na=False))")

    def fail(self, k: int, reason: str):
        row = int(np.flatnonzero(self.codes == k)[0]) + 1
        raise InputError(reason, file=self.file, column=self.name, row=row,
                         value=self.uniques[k])

    def map_values(self, rule, reason: str, dtype=float) -> np.ndarray:
        """Apply ``rule`` (label -> value, None = invalid) to each distinct value."""
        out = []
        for k, label in enumerate(self.uniques):
            value = rule(label)
            if value is None:
                self.fail(k, reason)
            out.append(value)
        return np.asarray(out, dtype=dtype)[self.codes]

    def categorical(self, table: dict, levels: list[str], index) -> pd.Series:
        """Group labels through ``table`` (label -> level or None) into a Categorical."""
        level_code = {level: i for i, level in enumerate(levels)}
        mapped = np.empty(len(self.uniques), dtype=np.int64)
        for k, label in enumerate(self.uniques):
            if label not in table:
                self.fail(k, "label not in micromet's recoding table for this column")
            group = table[label]
            mapped[k] = -1 if group is None else level_code[group]
        return pd.Series(pd.Categorical.from_codes(mapped[self.codes], levels), index=index)

    def check(self, allowed, reason="label not in micromet's recoding table for this column"):
        for k, label in enumerate(self.uniques):
            if label not in allowed:
                self.fail(k, reason)

    def as_str(self, index) -> pd.Series:
        return pd.Series(np.asarray(self.uniques, dtype=object)[self.codes], index=index,
                         dtype=object)


def _grade_column(grade: str) -> str:
    if grade in GRADE_VARIABLES.values():
        return grade
    key = grade.strip().lower()
    key = {"summary": "derived summary", "derived": "derived summary"}.get(key, key)
    if key in GRADE_VARIABLES:
        return GRADE_VARIABLES[key]
    raise InputError(f"grade must be one of {sorted(GRADE_VARIABLES.values())} "
                     f"(or {sorted(GRADE_VARIABLES)})", value=grade)


def tidy(raw: pd.DataFrame, grade: str = DEFAULT_GRADE) -> pd.DataFrame:
    """The analysis frame of a raw export (``notes/TIDY.md``); one row per raw row, same index.

    Parameters
    ----------
    raw : DataFrame
        As returned by :func:`read_export` (canonical column names, labels as text).
    grade : str
        The grade variable: ``"Derived Summary Grade 2018 (2018+)"`` (the default),
        ``"Grade Pathological (2018+)"`` or ``"Grade Clinical (2018+)"``, or the short keys
        ``"derived summary"``, ``"pathological"``, ``"clinical"``.

    Returns
    -------
    DataFrame with columns ``patient_id, age, sex, year, histology, histology_code, grade,
    grade_label, tumor_size_mm, er, pr, her2, subtype, t_stage, t_label, n_stage, n_label,
    m_stage, time_months, vital, death_cause, event``. Grouping rules are the tables of this
    module (GRADE_GROUPS, T_GROUPS, N_GROUPS, RECEPTOR_GROUPS, SUBTYPE_GROUPS, TUMOR_SIZE_MISSING,
    ...). ``event`` is cmprsk's coding: 0 censored, 1 breast-cancer death, 2 other-cause death,
    <NA> when the cause of death is unknown.

    Raises
    ------
    InputError
        A required column is missing; a label that no table knows; a survival time that is not a
        whole number of months (``"Unknown"`` is allowed and becomes NaN); a contradictory vital
        status / cause-of-death combination. The message names file, column, 1-based data row and
        value.
    """
    file = raw.attrs.get("file")
    grade_name = _grade_column(grade)
    missing = [c for c in (*REQUIRED_COLUMNS, grade_name) if c not in raw.columns]
    if missing:
        raise InputError(
            "required column missing (have: " + ", ".join(map(str, raw.columns)) + ")",
            file=file, column=missing[0])
    index = raw.index
    col = {name: _Column(raw, name, file) for name in (*REQUIRED_COLUMNS, grade_name)}
    _refuse_duplicates(raw, file, col[PATIENT_ID].codes)

    out = {}
    out["patient_id"] = pd.Series(raw[PATIENT_ID].to_numpy(dtype=object), index=index)
    out["age"] = pd.Series(col[AGE].map_values(
        _age_value, "not a label of the age recode ('00 years' to '89 years', '90+ years' or "
                    "'Unknown')"), index=index)
    col[SEX].check(SEX_LABELS)
    out["sex"] = col[SEX].as_str(index)
    year = col[YEAR].map_values(_year_value, "not a 4-digit year", dtype=np.int64)
    out["year"] = pd.Series(pd.array(year, dtype="Int64"), index=index)

    hist = col[HISTOLOGY]
    hist.check({u for u in hist.uniques if len(u) == 4 and u.isdigit()},
               "not a 4-digit ICD-O-3 histology code")
    out["histology"] = hist.categorical(
        {u: ("IDC" if u in IDC_CODES else "Other") for u in hist.uniques}, HISTOLOGY_LEVELS,
        index)
    out["histology_code"] = hist.as_str(index)

    out["grade"] = col[grade_name].categorical(GRADE_GROUPS, GRADE_LEVELS, index)
    out["grade_label"] = col[grade_name].as_str(index)
    out["tumor_size_mm"] = pd.Series(col[TUMOR_SIZE].map_values(
        _size_value, "not a Tumor Size Summary code (000-999 or Blank(s))"), index=index)
    out["er"] = col[ER].categorical(RECEPTOR_GROUPS, RECEPTOR_LEVELS, index)
    out["pr"] = col[PR].categorical(RECEPTOR_GROUPS, RECEPTOR_LEVELS, index)
    out["her2"] = col[HER2].categorical(RECEPTOR_GROUPS, RECEPTOR_LEVELS, index)
    out["subtype"] = col[SUBTYPE].categorical(SUBTYPE_GROUPS, SUBTYPE_LEVELS, index)
    out["t_stage"] = col[T_STAGE].categorical(T_GROUPS, T_LEVELS, index)
    out["t_label"] = col[T_STAGE].as_str(index)
    out["n_stage"] = col[N_STAGE].categorical(N_GROUPS, N_LEVELS, index)
    out["n_label"] = col[N_STAGE].as_str(index)
    col[M_STAGE].check(M_LABELS)
    out["m_stage"] = col[M_STAGE].as_str(index)
    out["time_months"] = pd.Series(col[SURVIVAL].map_values(
        _survival_value, "survival time is not a whole number of months or 'Unknown'"),
        index=index)

    vital = col[VITAL]
    vital.check(VITAL_CODES, "vital status is neither 'Alive' nor 'Dead'")
    out["vital"] = pd.Series(
        np.array([VITAL_CODES[u] for u in vital.uniques], dtype=np.int8)[vital.codes],
        index=index)
    col[CAUSE_SPECIFIC].check(CAUSE_SPECIFIC_LABELS)
    col[OTHER_CAUSE].check(OTHER_CAUSE_LABELS)

    # death cause per distinct (vital, cause-specific, other-cause) combination
    triple = (vital.codes.astype(np.int64) * len(col[CAUSE_SPECIFIC].uniques)
              + col[CAUSE_SPECIFIC].codes) * len(col[OTHER_CAUSE].uniques) + col[OTHER_CAUSE].codes
    combo_codes, combos = pd.factorize(triple, sort=False)
    cause_code = np.empty(len(combos), dtype=np.int64)
    event_code = np.empty(len(combos), dtype=np.int64)
    for k in range(len(combos)):
        first = int(np.flatnonzero(combo_codes == k)[0])
        v = vital.uniques[vital.codes[first]]
        cs = col[CAUSE_SPECIFIC].uniques[col[CAUSE_SPECIFIC].codes[first]]
        oc = col[OTHER_CAUSE].uniques[col[OTHER_CAUSE].codes[first]]
        cause = death_cause_of(v, cs, oc)
        if cause is None:
            raise InputError(
                f"vital status {v!r}, cause-specific {cs!r} and other-cause {oc!r} contradict "
                "each other", file=file, column=CAUSE_SPECIFIC, row=first + 1, value=cs)
        cause_code[k] = DEATH_CAUSE_LEVELS.index(cause)
        event = EVENT_CODES[cause]
        event_code[k] = -1 if event is None else event
    out["death_cause"] = pd.Series(
        pd.Categorical.from_codes(cause_code[combo_codes], DEATH_CAUSE_LEVELS), index=index)
    ev = event_code[combo_codes]
    out["event"] = pd.Series(pd.arrays.IntegerArray(np.where(ev < 0, 0, ev), ev < 0),
                             index=index)
    return pd.DataFrame(out, index=index)
