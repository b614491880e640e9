"""The SEER*Stat case-listing schema micromet reads: variable names and their aliases, the labels of
each coded variable and how they group into the analysis levels, the analysis columns.
"""

from __future__ import annotations

#: Other spellings of a variable -> the canonical name used everywhere in micromet.
#: The Nov 2024 database calls the EOD 2018 TNM variables "... Recode (2018+)" (SEER_SCHEMA §2);
#: some analysis code writes "Sequence Number"; some databases label the ER/PR recodes "(2010+)"
#: (SEER_SCHEMA §3.6).  "Age recode with single ages and 85+" is *not* an alias: its top code
#: (85+) means something else than "90+".
ALIASES: dict[str, str] = {
    "Derived EOD 2018 T Recode (2018+)": "Derived EOD 2018 T (2018+)",
    "Derived EOD 2018 N Recode (2018+)": "Derived EOD 2018 N (2018+)",
    "Derived EOD 2018 M Recode (2018+)": "Derived EOD 2018 M (2018+)",
    "Derived EOD 2018 Stage Group Recode (2018+)": "Derived EOD 2018 Stage Group (2018+)",
    "Sequence Number": "Sequence number",
    "ER Status Recode Breast Cancer (2010+)": "ER Status Recode Breast Cancer (1990+)",
    "PR Status Recode Breast Cancer (2010+)": "PR Status Recode Breast Cancer (1990+)",
}


PATIENT_ID = "Patient ID"


AGE = "Age recode with single ages and 90+"


SEX = "Sex"


YEAR = "Year of diagnosis"


HISTOLOGY = "Histologic Type ICD-O-3"


T_STAGE = "Derived EOD 2018 T (2018+)"


N_STAGE = "Derived EOD 2018 N (2018+)"


M_STAGE = "Derived EOD 2018 M (2018+)"


TUMOR_SIZE = "Tumor Size Summary (2016+)"


ER = "ER Status Recode Breast Cancer (1990+)"


PR = "PR Status Recode Breast Cancer (1990+)"


HER2 = "Derived HER2 Recode (2010+)"


SUBTYPE = "Breast Subtype (2010+)"


SURVIVAL = "Survival months"


VITAL = "Vital status recode (study cutoff used)"


CAUSE_SPECIFIC = "SEER cause-specific death classification"


OTHER_CAUSE = "SEER other cause of death classification"


#: The three grade variables of 2018+ cases; ``tidy(grade=...)`` takes a name or a short key.
GRADE_VARIABLES: dict[str, str] = {
    "derived summary": "Derived Summary Grade 2018 (2018+)",
    "pathological": "Grade Pathological (2018+)",
    "clinical": "Grade Clinical (2018+)",
}


DEFAULT_GRADE = GRADE_VARIABLES["derived summary"]


#: Columns tidy needs (the grade column chosen is added to these).
REQUIRED_COLUMNS: tuple[str, ...] = (
    PATIENT_ID, AGE, SEX, YEAR, HISTOLOGY, T_STAGE, N_STAGE, M_STAGE, TUMOR_SIZE, ER, PR, HER2,
    SUBTYPE, SURVIVAL, VITAL, CAUSE_SPECIFIC, OTHER_CAUSE,
)


BLANK = "Blank(s)"


SEX_LABELS: dict[str, str] = {"Female": "Female", "Male": "Male"}


HISTOLOGY_LEVELS = ["IDC", "Other"]


#: Histology codes counted as invasive ductal carcinoma (8500 IDC NOS, 8522 duct + lobular).
IDC_CODES = frozenset({"8500", "8522"})


GRADE_LEVELS = ["I-II", "III"]


GRADE_GROUPS: dict[str, str | None] = {
    "1": "I-II", "2": "I-II", "A": "I-II", "B": "I-II",
    "3": "III", "C": "III",
    "9": None, "D": None, "L": None, "M": None, "H": None, BLANK: None,
}


#: Tumor Size Summary (2016+), NAACCR item 756: 001-989 are millimetres; these are not sizes.
TUMOR_SIZE_MISSING = frozenset({"000", "990", "998", "999", BLANK})


RECEPTOR_LEVELS = ["Negative", "Positive"]


RECEPTOR_GROUPS: dict[str, str | None] = {
    "Positive": "Positive", "Negative": "Negative",
    "Borderline/Unknown": None, "Recode not available": None, "Unknown": None, BLANK: None,
}


SUBTYPE_LEVELS = ["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-"]


SUBTYPE_GROUPS: dict[str, str | None] = {
    **{level: level for level in SUBTYPE_LEVELS},
    "Unknown": None, "Recode not available": None, BLANK: None,
}


T_LEVELS = ["T1-T2", "T3-T4"]


T_GROUPS: dict[str, str | None] = {
    **dict.fromkeys(["T1mi", "T1a", "T1b", "T1c", "T1", "T2"], "T1-T2"),
    **dict.fromkeys(["T3", "T4", "T4a", "T4b", "T4c", "T4d"], "T3-T4"),
    **dict.fromkeys(["TX", "T0", "Tis", "Tis(DCIS)", "Tis(Paget)", "Tis(LAMN)", "88", BLANK]),
}


N_LEVELS = ["N0", "N1-N3"]


N_GROUPS: dict[str, str | None] = {
    **dict.fromkeys(["N0", "N0(i+)", "N0(mol+)"], "N0"),
    **dict.fromkeys(
        ["N1mi", "N1", "N1a", "N1b", "N1c", "N2", "N2a", "N2b", "N3", "N3a", "N3b", "N3c"],
        "N1-N3",
    ),
    **dict.fromkeys(["NX", "88", BLANK]),
}


#: Labels of Derived EOD 2018 M (kept as they are in ``m_stage``; SEER_SCHEMA §3.4).
M_LABELS = frozenset(
    ["M0", "M0(i+)", "M1", "88", BLANK]
    + [f"M1{x}{y}" for x in "abcd" for y in ("", "(0)", "(1)")]
)


#: "Survival months" values that mean unknown: the label, and SEER*Stat's internal code 9999
#: (an unformatted/numeric export without a [Format] section writes the code).
SURVIVAL_UNKNOWN = frozenset({"Unknown", "9999"})


VITAL_CODES: dict[str, int] = {"Alive": 0, "Dead": 1}


CS_CANCER = "Dead (attributable to this cancer dx)"


OC_OTHER = "Dead (attributable to causes other than this cancer dx)"


UNKNOWN_COD = "Dead (missing/unknown COD)"


NOT_SEQ = "N/A not seq 0-59"


CAUSE_SPECIFIC_LABELS = frozenset({"Alive or dead of other cause", CS_CANCER, UNKNOWN_COD, NOT_SEQ})


OTHER_CAUSE_LABELS = frozenset({"Alive or dead due to cancer", OC_OTHER, UNKNOWN_COD, NOT_SEQ})


DEATH_CAUSE_LEVELS = ["alive", "breast cancer", "other cause", "unknown"]


#: death_cause -> event code (cmprsk coding; None = cause unknown, event <NA>).
EVENT_CODES: dict[str, int | None] = {
    "alive": 0, "breast cancer": 1, "other cause": 2, "unknown": None,
}


#: The columns of the analysis frame that :func:`tidy` returns (what a study may name).
ANALYSIS_COLUMNS = (
    "patient_id", "age", "sex", "year", "histology", "histology_code", "grade", "grade_label",
    "tumor_size_mm", "er", "pr", "her2", "subtype", "t_stage", "t_label", "n_stage", "n_label",
    "m_stage", "time_months", "vital", "death_cause", "event",
)


def death_cause_of(vital: str, cause_specific: str, other_cause: str) -> str | None:
    """The cause of death from the vital status and the two SEER classifications.

    Alive -> "alive"; dead with the cause-specific classification "Dead (attributable to this
    cancer dx)" -> "breast cancer"; dead with the other-cause classification "Dead (attributable
    to causes other than this cancer dx)" -> "other cause"; dead with a missing/unknown cause of
    death -> "unknown". A record whose classification is "N/A not seq 0-59" (a tumour outside
    sequence 0-59) has no cause-of-death record at all: "unknown" whether the patient is alive or
    dead, as SEER*Stat leaves such records out of cause-specific survival. Any other combination
    contradicts itself and gives None (the caller raises).
    """
    if NOT_SEQ in (cause_specific, other_cause):
        return "unknown"
    cancer = cause_specific == CS_CANCER
    other = other_cause == OC_OTHER
    if vital == "Alive":  # alive yet a recorded cause of death: the record contradicts itself
        return None if (cancer or other or UNKNOWN_COD in (cause_specific, other_cause)) \
            else "alive"
    if cancer and not other:
        return "breast cancer"
    if other and not cancer:
        return "other cause"
    if not (cancer or other) and (
        UNKNOWN_COD in (cause_specific, other_cause) or NOT_SEQ in (cause_specific, other_cause)
    ):
        return "unknown"
    return None
