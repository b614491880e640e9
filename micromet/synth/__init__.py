"""A synthetic SEER*Stat case-listing export for study A (M0 vs M0(i+)), with known truth.

``write_seer_extract(directory, seed=...)`` writes a label export (CSV: quoted header, comma,
CRLF, values quoted only when they hold a comma) and its ``.dic`` exactly as SEER*Stat would for
the Nov 2024 database (SEER_SCHEMA §1, §4, §7), plus ``truth.json`` with the parameters used.
It is read back by ``micromet.seer.read_export`` + ``tidy`` like any real export, so the whole
pipeline is exercised on it. Nothing in it is a real patient: every row is drawn from a seeded
``numpy.random.default_rng``, and the same seed gives the same bytes.

Scale and margins (the paper, Luo et al., Results and Table 1)
----------------------------------------------------------------
324,571 rows: 323,891 M0 and 680 M0(i+). After the paper's criteria (``micromet.cohort.
PAPER_CRITERIA``) 283,503 M0 and 585 M0(i+) remain and every categorical count of Table 1 is
reproduced exactly, in each group:

* ER, PR, HER2 and subtype jointly. HR+ means ER+ or PR+, and the HER2 part of the subtype is
  the HER2 column. Given the published margins the (ER, PR) table is *determined*: every ER+ and
  every PR+ tumour is HR+, so among HR+ tumours ER-PR+ = HR+ - ER+, ER+PR+ = PR+ - (ER-PR+),
  ER+PR- = ER+ - (ER+PR+) (M0: 2,466 / 210,148 / 32,004; M0(i+): 1 / 433 / 69), and all HR-
  tumours are ER-PR-. The only freedom left is how the HR+/HER2+ count splits over the three HR+
  (ER, PR) cells: it is allocated in proportion to cell size x relative HER2+ propensity
  (ER+PR+ 1.0, ER+PR- 1.6, ER-PR+ 1.3), rounded by largest remainder (``receptor_table``).
* histology, grade, T and N: exact counts, placed by ranking a latent score so that the
  associations are mild and plausible (standard normal noise plus): tumour size rank  +0.35 for
  HER2+ or triple-negative; grade III  +1.3 triple-negative, +0.9 HER2+, +0.6 ER+PR-, +0.3 size;
  N1-N3  +0.8 size, +0.2 grade III, +0.5 T4; histology "Other"  +0.6 HR+, -0.4 grade III; age
  -0.3 triple-negative, -0.2 HER2+, -0.1 grade III.
* The sorted age and size values of a group are a fixed grid (only their assignment to rows is
  random), so the Wilcoxon p values do not depend on the seed; the tail shapes were chosen so
  that they print as published: age 0.002, size 0.617.
* tumour size and T agree (AJCC 8): 1 mm T1mi, 2-5 T1a, 6-10 T1b, 11-20 T1c, 21-50 T2,
  > 50 T3; T4 (a-d) at any size. 80% (M0) / 83% (M0(i+)) of the T3-T4 count are tumours
  > 50 mm (T3), the rest T4 chosen among the larger tumours.
* age (single years 18-89) and size (mm): the sorted values are a fixed normal-quantile grid
  mapped piecewise so that R's type-7 quartiles are exactly the published ones (M0 age 63
  (53-72), size 16 (10-26); M0(i+) 61 (52-70), 16 (10-27)); above 50 mm the size scale bends so
  that exactly the planned number of tumours is > 50 mm.

Excluded rows (``exclusion_plan()``): the paper gives only totals (40,388 M0, 95 M0(i+)
excluded). Each excluded row fails exactly one criterion, the one it is counted under in the
flow (in the criteria order: female, age 18-89, grade known, not Tis or T0, complete information,
known cause of death). The split is a plausible guess for a 2018-2022 SEER 17 breast extract:
men ~0.9% of cases, 90+ ~1.8%, unknown/non-Nottingham grade ~5.4% (9, Blank(s), D, L/M/H), Tis or
T0 with an invasive record ~0.3%, incomplete size/receptors/T/N/survival ~3.9%, dead of unknown
cause ~0.1%. Their covariates are drawn like the included rows of their group and then the
failing field is overwritten (e.g. ``Tumor Size Summary`` 999, ``Derived HER2 Recode``
Borderline/Unknown with subtype Unknown, ``Survival months`` Unknown for death-certificate-only
cases).

Outcomes (``simulate_outcomes``)
--------------------------------
Diagnosis 2018-2022 (year weights in ``SynthParams``; month and day uniform), administrative
follow-up to 31 Dec 2022, so survival months are 0-59. Breast-cancer death follows the
Fine & Gray (1999, section 5) simulation design, which has proportional subdistribution
hazards exactly::

    P(cause 1 | Z) = 1 - (1 - p)^exp(eta1),
    F1(t | Z)      = 1 - [1 - p (1 - exp(-rate_bc t))]^exp(eta1),

cause-1 times drawn from F1(t | Z) / F1(inf | Z); the others have cause 2 (death from other
causes) with time ~ Exponential(rate_other exp(eta2)). eta2 uses the multivariable Cox estimates
of the paper's Table 3 (age 1.075, size 1.024, grade III 3.065, N1-N3 1.672, M0(i+) 0.805). eta1
uses the generator's true SHRs ``TRUE_SHR_BC``: the paper's multivariable Fine-Gray estimates of
Table 4 for M0(i+) 1.273, age 1.038/year, size 1.042/mm, grade III 1.874, PR+ 0.701, HR+/HER2+
0.825, T3-T4 0.291 and N1-N3 2.170, but *not* its ER and HR-negative subtype SHRs (ER+ 2.41e3,
HR-/HER2+ 2.27e3, triple-negative 5.64e3). Those are artefacts of a monotone likelihood: ER-PR+
tumours, the only ones telling ER from the HR-negative subtypes, are a handful in the paper's
matched set (one M0(i+) patient and her controls), and with no breast-cancer death among them the
ER coefficient runs off to infinity and the HR-negative subtypes follow it; taken as truth they
would mean almost no breast-cancer deaths among ER-PR+ tumours. The generator uses
plausible effects from the breast-cancer literature instead: ER+ 0.70, HR-/HER2+ 0.883 and
triple-negative 1.62, which, with PR+ 0.701, make ER-PR+ 1.43, ER+PR- 1.43, HR-/HER2+ 1.80 and
triple-negative 3.30 times the subdistribution hazard of an ER+PR+ HR+/HER2- tumour. (The paper's
published numbers stay in ``studies/seer_m0i.yml``, ``published``.) Both linear predictors are
centred at a reference patient (60 years, 16 mm, ER+PR+, all other covariates at their reference
level), so ``p_bc`` is the eventual breast-cancer-death probability of that patient. ``p_bc`` and
``rate_other`` were calibrated (``calibrate``, on the covariate mix drawn with
``CALIBRATION_SEED``) so that a 1:2 matched set (585 M0(i+) plus 1,170
M0 with the M0(i+) covariate mix) expects the published 47 breast-cancer and 35 other deaths.

The default seed (``DEFAULT_SEED`` = 34) was chosen, among seeds 1-70, as the draw whose 1:2
matched set (``micromet.matching.match``, caliper 0.2, the paper's ten covariates) lands nearest
the published event counts (ties to the lower seed; 58 lands on the same counts): 1,755 matched
rows with 82 deaths, 47 from breast cancer and 35 from other causes, as in the paper; its
univariable matched estimates for M0(i+) are OS HR 0.794 and SHR 0.897 (paper 0.803 and 1.386).
``benchmarks/seed_search.py`` repeats that search. A single realization with ~80 events is noisy:
seeds 1-5 give 50/26, 46/42, 36/32, 42/32 and 52/30 breast-cancer/other deaths, and seeds 1-70
matched SHRs from 0.60 to 2.30 around the true 1.273. Every matched set holds 3 ER-PR+ patients
(the one ER-PR+ M0(i+) patient and her two controls), and in 64 of the 70 draws, the default
among them, none of the three dies of breast cancer: a Fine-Gray model with ER and subtype then
meets the paper's monotone likelihood on the matched set although the true SHRs are moderate.
The full cohort has about 6,600 breast-cancer and 6,300 other deaths (about 50 breast-cancer
deaths among its 2,467 ER-PR+ patients); median survival months 26 (IQR 12-42), as in the paper;
M0(i+) diagnoses lean to the earlier years (``year_weights_m0i``), as the paper's longer matched
follow-up suggests.
"""

from __future__ import annotations

from micromet.synth.covariates import (  # noqa: F401
    _AGE_HIGH,
    _AGE_LOWER_TAIL,
    _SIZE_LOWER_TAIL,
    _T3_SHARE,
    _by_rank,
    _grid,
    _pw,
    _round_total,
    _top_k,
    _z,
    placed_ages,
    placed_sizes,
    receptor_table,
)
from micromet.synth.export import (  # noqa: F401
    _AGE_LABELS,
    _HIST_LABELS,
    _LATERALITY,
    _MARITAL,
    _N_POS,
    _OTHER_COD,
    _OTHER_HIST,
    _RACE,
    _SEQUENCE,
    _SITE,
    _STAGE,
    _T4,
    CS_ALIVE,
    CS_DEAD,
    FLAG_DCO,
    FLAG_INC_CANNOT,
    FLAG_INC_COULD,
    FLAG_MORE,
    FLAG_ZERO,
    OC_ALIVE,
    OC_DEAD,
    UNKNOWN_COD,
    _apply_exclusion,
    _block_labels,
    _choice,
    _csv_bytes,
    _group_rows,
    _lookup,
    _n_class,
    _outcome_labels,
    _stage_group,
    _t_class,
    _t_label,
    _take,
    cli_synth,
    dic_text,
    generate_rows,
    synthetic_extract,
    truth_summary,
    write_seer_extract,
)
from micromet.synth.outcomes import (  # noqa: F401
    _centred_term,
    _core_frame,
    _followup,
    _included_core,
    calibrate,
    event_probabilities,
    expected_matched_events,
    linear_predictors,
    simulate_outcomes,
)
from micromet.synth.params import (  # noqa: F401
    _EXCLUSIONS,
    CALIBRATION_SEED,
    DATABASE_NAME,
    DEFAULT_SEED,
    EXPORT_COLUMNS,
    EXPORT_STEM,
    GENERATOR_VERSION,
    GROUPS,
    PUBLISHED_COUNTS,
    PUBLISHED_QUARTILES,
    RAW_TOTALS,
    SUBTYPES,
    TABLE3_MULTIVARIABLE,
    TRUE_SHR_BC,
    SynthParams,
    exclusion_plan,
)

__all__ = [
    "exclusion_plan",
    "SynthParams",
    "placed_sizes",
    "placed_ages",
    "receptor_table",
    "linear_predictors",
    "event_probabilities",
    "simulate_outcomes",
    "expected_matched_events",
    "calibrate",
    "generate_rows",
    "dic_text",
    "write_seer_extract",
    "truth_summary",
    "synthetic_extract",
    "cli_synth",
]
