"""Read a SEER*Stat case-listing export and turn it into the analysis frame.

A SEER*Stat case listing is exported as two files: the data (``.txt``/``.csv``, perhaps gzipped)
and a dictionary ``.dic`` beside it that says how the data were written (delimiter, header,
labels or numeric codes, gzip) and names the variables in column order (see
``shared/SEER_SCHEMA.md`` §1). Two public functions:

* :func:`read_export` reads both and returns the *raw frame*: one row per exported tumour record,
  every value kept as text exactly as SEER*Stat labels it (zero padding kept, the label ``NA``
  stays ``"NA"``, surrounding blanks stripped), numeric codes decoded to labels through the
  ``[Format=...]`` sections of the ``.dic``, and column names made canonical (:data:`ALIASES`).
  This is what R users get with ``read.csv(..., colClasses = "character")`` or
  ``SEER2R::read.SeerStat(..., UseVarLabelsInData = TRUE)``.
* :func:`tidy` turns the raw frame into the analysis frame of ``notes/TIDY.md``: ages, tumour size
  and survival as numbers, the grouped categories used by the published analysis, and the
  competing-risk event code (0 censored, 1 breast-cancer death, 2 other death; cmprsk's coding).

Every recoding rule is written once, as a table (a dict) below, and applied to the distinct values
of a column only, so a full-scale extract (325,000 rows) is read and tidied in a few seconds.

Bad input raises :class:`micromet.errors.InputError` naming the file, column, 1-based data row
(or line) and value. Nothing is written anywhere: both functions only return frames.
"""

from __future__ import annotations

from micromet.seer.dic import (  # noqa: F401
    _VAR_KEY,
    _VARIABLE_SECTIONS,
    DELIMITERS,
    VARIABLE_FORMATS,
    Dictionary,
    _decode_text,
    find_dic,
    read_dic,
)
from micromet.seer.export import (  # noqa: F401
    _GZIP_MAGIC,
    _bad_line,
    _decode_codes,
    _first_record,
    _is_gzip,
    _looks_like_header,
    _open_text,
    _read_export,
    _read_table,
    _WrongFieldCount,
    read_export,
)
from micromet.seer.schema import (  # noqa: F401
    AGE,
    ALIASES,
    ANALYSIS_COLUMNS,
    BLANK,
    CAUSE_SPECIFIC,
    CAUSE_SPECIFIC_LABELS,
    CS_CANCER,
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
    NOT_SEQ,
    OC_OTHER,
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
    UNKNOWN_COD,
    VITAL,
    VITAL_CODES,
    YEAR,
    death_cause_of,
)
from micromet.seer.tidy import (  # noqa: F401
    _AGE_LABEL,
    _AGE_TOP,
    _DIGITS,
    AGE_TOP,
    _age_value,
    _Column,
    _grade_column,
    _int_text,
    _refuse_duplicates,
    _size_value,
    _survival_value,
    _year_value,
    check_followup,
    tidy,
)

__all__ = [
    "ALIASES",
    "REQUIRED_COLUMNS",
    "GRADE_VARIABLES",
    "Dictionary",
    "read_dic",
    "find_dic",
    "read_export",
    "tidy",
]

