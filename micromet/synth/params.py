"""The synthetic extract's targets and true effects: the paper's published counts and quartiles,
the generator's hazard ratios, the exclusion plan and ``SynthParams``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

import pandas as pd

from micromet.errors import InputError

DEFAULT_SEED = 34  # see the module docstring: the draw nearest the published matched counts


CALIBRATION_SEED = 20251  # the covariate mix on which p_bc and rate_other were calibrated


#: Part of the cache key: bump whenever the bytes written for a given seed and params change.
GENERATOR_VERSION = "4"


GROUPS = ("M0", "M0(i+)")


DATABASE_NAME = (
    "Incidence - SEER Research Data, 17 Registries, Nov 2024 Sub (2000-2022) - Linked To County "
    "Attributes - Time Dependent (1990-2023) Income/Rurality, 1969-2023 Counties"
)


EXPORT_STEM = "seer_m0i_synthetic"


#: Export columns in order (TIDY.md), with the Nov 2024 "Recode" EOD names.
EXPORT_COLUMNS = [
    "Patient ID",
    "Age recode with single ages and 90+",
    "Sex",
    "Year of diagnosis",
    "Race recode (W, B, AI, API)",
    "Marital status at diagnosis",
    "Primary Site - labeled",
    "Histologic Type ICD-O-3",
    "ICD-O-3 Hist/behav",
    "Grade Clinical (2018+)",
    "Grade Pathological (2018+)",
    "Derived Summary Grade 2018 (2018+)",
    "Derived EOD 2018 T Recode (2018+)",
    "Derived EOD 2018 N Recode (2018+)",
    "Derived EOD 2018 M Recode (2018+)",
    "Derived EOD 2018 Stage Group Recode (2018+)",
    "Tumor Size Summary (2016+)",
    "ER Status Recode Breast Cancer (1990+)",
    "PR Status Recode Breast Cancer (1990+)",
    "Derived HER2 Recode (2010+)",
    "Breast Subtype (2010+)",
    "Laterality",
    "Sequence number",
    "First malignant primary indicator",
    "Survival months",
    "Survival months flag",
    "Vital status recode (study cutoff used)",
    "SEER cause-specific death classification",
    "SEER other cause of death classification",
    "COD to site recode",
]


SUBTYPES = ("HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-")


#: Published Table 1 counts per group (after the criteria).
PUBLISHED_COUNTS = {
    "M0": {
        "n": 283503, "IDC": 239129, "grade III": 81005, "ER+": 242152, "PR+": 212614,
        "HER2+": 35894, "HR+/HER2-": 218830, "HR+/HER2+": 25788, "HR-/HER2+": 10106,
        "HR-/HER2-": 28779, "T3-T4": 19596, "N1-N3": 73982,
    },
    "M0(i+)": {
        "n": 585, "IDC": 490, "grade III": 177, "ER+": 502, "PR+": 434, "HER2+": 75,
        "HR+/HER2-": 450, "HR+/HER2+": 53, "HR-/HER2+": 22, "HR-/HER2-": 60, "T3-T4": 39,
        "N1-N3": 171,
    },
}


#: Published medians and quartiles (age in years, size in mm).
PUBLISHED_QUARTILES = {
    "M0": {"age": (53, 63, 72), "tumor_size_mm": (10, 16, 26)},
    "M0(i+)": {"age": (52, 61, 70), "tumor_size_mm": (10, 16, 27)},
}


RAW_TOTALS = {"M0": 323891, "M0(i+)": 680}


#: The generator's true subdistribution hazard ratios of breast-cancer death (the default
#: ``SynthParams.shr_bc``). Not the paper's Table 4 as published (that lives in
#: ``studies/seer_m0i.yml: published``): eight terms are the paper's multivariable Fine-Gray
#: estimates, but its ER and HR-negative subtype SHRs (2.41e3, 2.27e3, 5.64e3) are artefacts of a
#: monotone likelihood and are replaced by plausible effects (module docstring, "Outcomes").
#: Because ER-PR- tumours also carry the ``er`` and ``pr`` terms, the subtype SHRs below are
#: set through contrasts with an ER+PR+ HR+/HER2- tumour: ER-PR+ 1/0.70 = 1.43, HR-/HER2+
#: 0.883/(0.70 x 0.701) = 1.80, triple-negative 1.62/(0.70 x 0.701) = 3.30.
TRUE_SHR_BC = {
    "age": 1.038,                  # paper
    "tumor_size_mm": 1.042,        # paper
    "grade[III]": 1.874,           # paper
    "er[Positive]": 0.70,          # not the paper's 2.41e3
    "pr[Positive]": 0.701,         # paper
    "subtype[HR+/HER2+]": 0.825,   # paper
    "subtype[HR-/HER2+]": 0.883,   # not the paper's 2.27e3; HR-/HER2+ vs ER+PR+ 1.80
    "subtype[HR-/HER2-]": 1.62,    # not the paper's 5.64e3; triple-negative vs ER+PR+ 3.30
    "t_stage[T3-T4]": 0.291,       # paper
    "n_stage[N1-N3]": 2.170,       # paper
    "m_stage[M0(i+)]": 1.273,      # paper
}


#: Paper Table 3, multivariable Cox for overall survival (used for deaths from other causes).
TABLE3_MULTIVARIABLE = {
    "age": 1.075,
    "tumor_size_mm": 1.024,
    "grade[III]": 3.065,
    "n_stage[N1-N3]": 1.672,
    "m_stage[M0(i+)]": 0.805,
}


# (step, reason, M0, M0(i+), what is written). Steps in PAPER_CRITERIA order.
_EXCLUSIONS = [
    ("female", "male", 3023, 1, "Sex = Male"),
    ("age 18-89", "age 90+", 5858, 3, "Age = 90+ years"),
    ("age 18-89", "age under 18", 12, 0, "Age = 15-17 years"),
    ("grade known", "grade 9 (unknown)", 12180, 28, "Derived Summary Grade = 9"),
    ("grade known", "grade Blank(s)", 1740, 4, "Derived Summary Grade = Blank(s)"),
    ("grade known", "grade D (undifferentiated terminology)", 350, 1, "Derived Summary Grade = D"),
    ("grade known", "grade L/M/H (nuclear grade)", 3136, 7, "Derived Summary Grade = L, M or H"),
    ("not Tis or T0", "T0", 420, 1, "T = T0 (node-positive), size 000"),
    ("not Tis or T0", "Tis(DCIS)", 310, 1, "T = Tis(DCIS)"),
    ("not Tis or T0", "Tis(Paget)", 378, 1, "T = Tis(Paget), histology 8540"),
    ("complete information", "size unknown (999)", 3900, 14, "Tumor Size Summary = 999"),
    ("complete information", "size 990 (microscopic focus)", 420, 2, "Tumor Size = 990, T1mi"),
    ("complete information", "size 998 (diffuse)", 160, 1, "Tumor Size = 998, T4d"),
    ("complete information", "size 000 (no mass found)", 240, 1, "Tumor Size = 000, T1"),
    ("complete information", "ER/PR borderline/unknown", 1250, 5,
     "ER and/or PR Borderline/Unknown, subtype Unknown"),
    ("complete information", "HER2 borderline/unknown", 4200, 15,
     "HER2 Borderline/Unknown, subtype Unknown"),
    ("complete information", "T unknown (TX)", 520, 2, "T = TX, stage group 99"),
    ("complete information", "N unknown (NX)", 1750, 6, "N = NX, stage group 99"),
    ("complete information", "survival unknown (DCO)", 191, 1,
     "Survival months = Unknown (death certificate only), dead"),
    ("known cause of death", "dead, cause unknown", 350, 1,
     "Dead (missing/unknown COD) in both classifications"),
]


def exclusion_plan(scale: float = 1.0, m0i_factor: float = 1.0) -> pd.DataFrame:
    """The excluded rows of the synthetic extract by criterion and reason, per group.

    Columns: step (the criterion under which the row is counted in the flow), reason, M0,
    M0(i+), written (what the row carries). At ``scale=1`` the totals are the paper's:
    40,388 M0 and 95 M0(i+).
    """
    rows = []
    for step, reason, n0, n1, what in _EXCLUSIONS:
        rows.append({
            "step": step, "reason": reason,
            "M0": int(round(n0 * scale)), "M0(i+)": int(round(n1 * scale * m0i_factor)),
            "written": what,
        })
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SynthParams:
    """Parameters of the synthetic extract (defaults: the true effects, calibrated rates).

    ``shr_bc``: subdistribution hazard ratios of breast-cancer death (``TRUE_SHR_BC``: the
    paper's Table 4 except ER and the HR-negative subtypes);
    ``hr_other``: hazard ratios of death from other causes given that cause (Table 3, OS).
    Keys are design-matrix term names (``age``, ``tumor_size_mm``, ``grade[III]``, ...); the
    linear predictors are centred at ``reference`` (numeric covariates subtract the value,
    dummies subtract 1 when the reference has that level). ``p_bc``: eventual probability of
    breast-cancer death of the reference patient; ``rate_bc`` (per month) sets the timing of
    those deaths; ``rate_other`` (per month): hazard of other-cause death of the reference
    patient. ``year_weights``: diagnosis years 2018-2022 per group. ``m0i_factor`` multiplies
    every M0(i+) count (a larger exposed group for power checks; 1 = the paper).
    """

    shr_bc: dict = field(default_factory=lambda: dict(TRUE_SHR_BC))
    hr_other: dict = field(default_factory=lambda: dict(TABLE3_MULTIVARIABLE))
    p_bc: float = 0.01429
    rate_bc: float = 0.025
    rate_other: float = 0.0002291
    reference: dict = field(default_factory=lambda: {
        "age": 60.0, "tumor_size_mm": 16.0, "er": "Positive", "pr": "Positive"})
    year_weights_m0: tuple = (0.185, 0.19, 0.18, 0.215, 0.23)
    year_weights_m0i: tuple = (0.26, 0.23, 0.19, 0.17, 0.15)
    m0i_factor: float = 1.0

    def __post_init__(self):
        if not 0 < self.p_bc < 1:
            raise InputError(f"p_bc must be in (0, 1), got {self.p_bc}")
        for name in ("rate_bc", "rate_other", "m0i_factor"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("year_weights_m0", "year_weights_m0i"):
            w = getattr(self, name)
            if len(w) != 5 or min(w) < 0 or sum(w) <= 0:
                raise InputError(f"{name} must be 5 non-negative weights (2018-2022), got {w}")
        for table in (self.shr_bc, self.hr_other):
            for term, hr in table.items():
                if not (isinstance(hr, int | float) and hr > 0):
                    raise InputError(f"hazard ratio of {term!r} must be positive, got {hr!r}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["year_weights_m0"] = list(self.year_weights_m0)
        d["year_weights_m0i"] = list(self.year_weights_m0i)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> SynthParams:
        if d is None:
            return cls()
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InputError(f"unknown synthetic parameter(s): {sorted(unknown)}")
        d = dict(d)
        for name in ("year_weights_m0", "year_weights_m0i"):
            if name in d:
                d[name] = tuple(d[name])
        return cls(**d)

    def key(self, seed: int, scale: float = 1.0) -> str:
        """A short hash of seed, scale, parameters and generator version (the cache key)."""
        text = json.dumps({"seed": int(seed), "scale": float(scale), "params": self.to_dict(),
                           "version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
