"""A synthetic institutional series for study B (nanomet), with known truth.

The paper (seeds/000_*) reports n = 702 consecutive patients with whole-axilla dissection and
8 years of median follow-up; the 377 pN0 cases were re-examined and 13% of them (49) turned out
pN0(i+), leaving 328 pN0(i-). The other 325 patients were pN1mi or pN1; the part of the paper we
have gives no split, so the generator assumes **60 pN1mi and 265 pN1** (a parameter).

Generating model (all parameters in :data:`DEFAULT_PARAMS`; months throughout):

* nodal group: exact counts, in random order.
* age ~ Normal(57, 12) rounded, kept in [28, 88]; tumour size (mm) log-normal with a median that
  rises with the nodal group (15, 21, 21, 25 mm), rounded, pT1 <= 20 < pT2 <= 50 < pT3; grade 3
  more frequent in the node-positive groups; ER negative more frequent with higher grade;
  adjuvant therapy (none / endocrine / chemo / chemo+endocrine) by nodal status, grade and ER.
  Therapy is recorded only: it has no effect on the hazards.
* first adverse events: five competing exponential cause-specific hazards (local, regional,
  distant, contralateral, death without a prior event), each ``rate * exp(lp)``. The relapse
  hazards (local, regional, distant) have ``lp = log HR(nodal group, cause) + size, grade, ER and
  age effects``, the nodal HRs being smaller for distant relapse (2.0 for pN0(i+)) than for
  loco-regional relapse (3.0), so that any-event HRs and Gray's test for distant relapse both
  land near the paper; contralateral cancer has no covariate effect; death depends on age only.
  The reference profile is pN0(i-), 15 mm, grade 1-2, ER positive, age 57. The expected
  (large-sample) and the default draw's estimates are in :data:`CALIBRATION` and
  :data:`DEFAULT_DRAW_R`.
* censoring: administrative, uniform between 54 and 150 months after surgery, and loss to
  follow-up at a constant rate; the reverse Kaplan-Meier median follow-up is about 98 months
  (the paper: 8 years; the default draw: 97.8).

Only ``numpy.random.Generator.random`` (uniform doubles from PCG64, the simplest and steadiest of
numpy's streams) is drawn; normals are ``scipy.special.ndtri`` of uniforms. Every variable has its
own column of uniforms, so changing one parameter does not reshuffle the others.

The CSV uses the institution's own names and codes (``case_no``, ``fu_days``, ``first_event`` in
{none, local, regional, distant, contralateral, death}, ``nodal_status`` in {N0i-, N0i+, N1mi,
N1}, ...), which ``studies/nanomet.yml`` maps to the analysis frame through
:func:`micromet.series.read_series`. ``truth.json`` beside the CSV records the seed, the full
parameters, the counts, the published values and, for the default parameters, the calibrated
large-sample values and (for the default seed) R's estimates on the draw.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtri

from micromet.errors import InputError
from micromet.files import build_once, write_atomic

DEFAULT_SEED = 1522  # the seed in 1..3000 whose draw lands nearest the paper (see CALIBRATION)

GROUPS = ("pN0(i-)", "pN0(i+)", "pN1mi", "pN1")
GROUP_CODES = {"pN0(i-)": "N0i-", "pN0(i+)": "N0i+", "pN1mi": "N1mi", "pN1": "N1"}
CAUSES = ("local", "regional", "distant", "contralateral", "death")
RELAPSES = ("local", "regional", "distant")
DAYS_PER_MONTH = 365.25 / 12

DEFAULT_PARAMS: dict = {
    "n": {"pN0(i-)": 328, "pN0(i+)": 49, "pN1mi": 60, "pN1": 265},
    "age": {"mean": 57.0, "sd": 12.0, "min": 28, "max": 88},
    "size_median_mm": {"pN0(i-)": 15.0, "pN0(i+)": 21.0, "pN1mi": 21.0, "pN1": 25.0},
    "size_log_sd": 0.5,
    "p_grade3": {"pN0(i-)": 0.22, "pN0(i+)": 0.40, "pN1mi": 0.38, "pN1": 0.38},
    "p_grade1_if_not3": 0.35,
    "p_er_negative": {"1": 0.08, "2": 0.18, "3": 0.45},
    "p_chemo": {"node_negative": 0.12, "node_negative_high_risk": 0.40, "node_positive": 0.70},
    "p_endocrine_if_er_positive": 0.80,
    # cause-specific hazards per month for the reference profile
    "rate": {
        "local": 0.0005,
        "regional": 0.0002,
        "distant": 0.0007,
        "contralateral": 0.0003,
        "death": 0.0004,
    },
    # relapse hazards (local, regional, distant): hazard ratio of each nodal group vs pN0(i-)
    "hr_nodal": {
        "local": {"pN0(i+)": 3.0, "pN1mi": 3.1, "pN1": 3.2},
        "regional": {"pN0(i+)": 3.0, "pN1mi": 3.1, "pN1": 3.2},
        "distant": {"pN0(i+)": 2.0, "pN1mi": 2.1, "pN1": 2.6},
    },
    "hr_size_per_doubling": 1.5,
    "hr_grade3": 1.5,
    "hr_er_negative": 1.3,
    "hr_relapse_age_per_10y": 0.92,
    "hr_death_age_per_10y": 2.2,
    "admin_followup_months": [54.0, 150.0],
    "loss_rate_per_year": 0.01,
}

PUBLISHED = {
    "n": 702,
    "n_pN0": 377,
    "n_pN0_i_plus": 49,
    "share_pN0_i_plus": 0.13,
    "median_followup_months": 96.0,
    "hr_any_event_pN0i_plus_vs_pN0i_minus": 2.51,
    "p_any_event_pN0i_plus_vs_pN0i_minus": 0.00019,
    "hr_any_event_grouped_multivariable": 2.16,
    "p_any_event_grouped_multivariable": 0.0005,
    "gray_chisq_distant": 5.54,
    "gray_p_distant": 0.019,
}

# From tests/fixtures/series/calibrate.py (R 4.2.2, survival 3.5-3, cmprsk 2.2-11): large-sample
# values of the default parameters (one draw with every count x100), the spread over seeds
# 1..3000 at n = 702 (medians; quantiles in tests/fixtures/series/reference/calibration.json),
# and the chosen seed. The HRs are from Cox models of any first adverse event (Efron ties): pN0(i+)
# vs pN0(i-) among pN0 patients; pN1mi vs pN0(i+); pN0(i+)/pN1mi grouped vs pN0(i-) adjusted for
# pN1, age, pT, grade and ER. Gray's test: distant relapse, pN0(i+) vs pN0(i-), other first events
# competing. Regenerate these after changing DEFAULT_PARAMS.
CALIBRATION: dict = {
    "large_sample": {
        "hr_any_event_pN0i_plus_vs_pN0i_minus": 2.498,
        "hr_any_event_pN1mi_vs_pN0i_plus": 1.012,
        "hr_any_event_grouped_multivariable": 2.152,
        "gray_chisq_distant_expected_at_n377": 5.21,
        "median_followup_months": 98.4,
    },
    "median_over_seeds_1_3000": {
        "hr_any_event_pN0i_plus_vs_pN0i_minus": 2.489,
        "p_any_event_pN0i_plus_vs_pN0i_minus": 0.0001704,
        "hr_any_event_pN1mi_vs_pN0i_plus": 1.018,
        "hr_any_event_grouped_multivariable": 2.165,
        "p_any_event_grouped_multivariable": 4.324e-05,
        "gray_chisq_distant": 3.953,
        "median_followup_months": 97.91,
    },
    "chosen_seed": 1522,
}

# R's estimates on the default draw (seed 1522, default parameters), to 17 digits:
# tests/fixtures/series/reference/default_draw.csv, made by reference/nanomet_stats.R.
DEFAULT_DRAW_R: dict = {
    "n": 702,
    "n_pN0": 377,
    "n_pN0_i_plus": 49,
    "events_any": 241,
    "events_distant": 86,
    "coef_any_event_pN0i_plus_vs_pN0i_minus": 0.94854402624640843,
    "se_any_event_pN0i_plus_vs_pN0i_minus": 0.24511062347151219,
    "hr_any_event_pN0i_plus_vs_pN0i_minus": 2.5819476732585276,
    "p_any_event_pN0i_plus_vs_pN0i_minus": 0.00010889745244075604,
    "hr_any_event_pN1mi_vs_pN0i_plus": 0.94504161590643321,
    "p_any_event_pN1mi_vs_pN0i_plus": 0.84550485522223251,
    "coef_any_event_grouped_multivariable": 0.72046950212262295,
    "se_any_event_grouped_multivariable": 0.19618282151849059,
    "hr_any_event_grouped_multivariable": 2.0553979978641737,
    "p_any_event_grouped_multivariable": 0.00024024623542150464,
    "gray_chisq_distant": 6.004099212041158,
    "gray_p_distant": 0.014272678881004142,
    "median_followup_months": 97.774127310061601,
}

CSV_COLUMNS = [
    "case_no", "age_at_dx", "tumour_mm", "pT", "grade", "er", "nodal_status", "adjuvant",
    "fu_days", "first_event",
]


def resolve_params(params: dict | None = None) -> dict:
    """The default parameters updated (one level deep for sections) by ``params``."""
    out = copy.deepcopy(DEFAULT_PARAMS)
    for key, value in (params or {}).items():
        if key not in out:
            raise InputError(f"unknown synthetic-series parameter (known: {sorted(out)})",
                             column=key, value=value)
        if isinstance(out[key], dict) and isinstance(value, dict):
            unknown = sorted(set(value) - set(out[key]))
            if unknown:
                raise InputError(f"unknown keys {unknown} in synthetic-series parameter",
                                 column=key, value=value)
            out[key].update(value)
        else:
            out[key] = value
    counts = out["n"]
    if any(not isinstance(counts[g], int) or counts[g] < 0 for g in GROUPS) or sum(
        counts.values()
    ) == 0:
        raise InputError("group counts must be non-negative integers, not all 0", column="n",
                         value=counts)
    return out


def params_hash(seed: int, params: dict | None = None) -> str:
    """A short hash of the seed and the resolved parameters (names the cache entry)."""
    blob = json.dumps({"seed": int(seed), "params": resolve_params(params)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _normal(u: np.ndarray) -> np.ndarray:
    return ndtri(np.clip(u, 1e-12, 1 - 1e-12))


def simulate_series(seed: int = DEFAULT_SEED, params: dict | None = None) -> pd.DataFrame:
    """The synthetic series as the CSV's frame (institution's column names and codes)."""
    p = resolve_params(params)
    n_by = [p["n"][g] for g in GROUPS]
    n = int(sum(n_by))
    rng = np.random.default_rng(int(seed))
    u = rng.random((n, 16))  # one column of uniforms per variable (see module docstring)

    group = np.repeat(np.arange(len(GROUPS)), n_by)[np.argsort(u[:, 0], kind="stable")]
    gname = np.array(GROUPS, dtype=object)[group]

    a = p["age"]
    age = np.clip(np.rint(a["mean"] + a["sd"] * _normal(u[:, 1])), a["min"], a["max"])

    med = np.array([p["size_median_mm"][g] for g in GROUPS])[group]
    size = np.clip(np.rint(np.exp(np.log(med) + p["size_log_sd"] * _normal(u[:, 2]))), 1, 120)
    pt = np.where(size <= 20, "pT1", np.where(size <= 50, "pT2", "pT3"))

    p3 = np.array([p["p_grade3"][g] for g in GROUPS])[group]
    grade = np.where(u[:, 3] < p3, 3, np.where(u[:, 4] < p["p_grade1_if_not3"], 1, 2))

    p_erneg = np.array([p["p_er_negative"][str(k)] for k in (1, 2, 3)])[grade - 1]
    er_neg = u[:, 5] < p_erneg

    node_pos = group >= 2
    high_risk = (grade == 3) | er_neg | (size > 20)
    pc = p["p_chemo"]
    p_chemo = np.where(node_pos, pc["node_positive"],
                       np.where(high_risk, pc["node_negative_high_risk"], pc["node_negative"]))
    chemo = u[:, 6] < p_chemo
    endo = (~er_neg) & (u[:, 7] < p["p_endocrine_if_er_positive"])
    adjuvant = np.select([chemo & endo, chemo, endo], ["chemo+endocrine", "chemo", "endocrine"],
                         "none")

    lp_covariates = (
        np.log(p["hr_size_per_doubling"]) * np.log2(size / 15.0)
        + np.log(p["hr_grade3"]) * (grade == 3)
        + np.log(p["hr_er_negative"]) * er_neg
        + np.log(p["hr_relapse_age_per_10y"]) * (age - 57.0) / 10.0
    )
    lp = {
        c: np.log(np.array([1.0] + [p["hr_nodal"][c][g] for g in GROUPS[1:]]))[group]
        + lp_covariates
        for c in RELAPSES
    }
    lp |= {
        "contralateral": np.zeros(n),
        "death": np.log(p["hr_death_age_per_10y"]) * (age - 57.0) / 10.0,
    }
    times = np.column_stack([
        -np.log1p(-u[:, 8 + j]) / (p["rate"][c] * np.exp(lp[c])) for j, c in enumerate(CAUSES)
    ])
    first = np.argmin(times, axis=1)
    t_event = times[np.arange(n), first]

    lo, hi = p["admin_followup_months"]
    admin = lo + (hi - lo) * u[:, 13]
    loss_rate = p["loss_rate_per_year"] / 12.0
    loss = -np.log1p(-u[:, 14]) / loss_rate if loss_rate > 0 else np.full(n, np.inf)
    censor = np.minimum(admin, loss)
    observed = t_event <= censor
    t = np.where(observed, t_event, censor)
    fu_days = np.maximum(1, np.ceil(t * DAYS_PER_MONTH)).astype(int)
    first_event = np.where(observed, np.array(CAUSES, dtype=object)[first], "none")

    width = max(4, len(str(n)))
    return pd.DataFrame({
        "case_no": [f"NM{i + 1:0{width}d}" for i in range(n)],
        "age_at_dx": age.astype(int),
        "tumour_mm": size.astype(int),
        "pT": pt,
        "grade": grade.astype(int),
        "er": np.where(er_neg, "neg", "pos"),
        "nodal_status": [GROUP_CODES[g] for g in gname],
        "adjuvant": adjuvant,
        "fu_days": fu_days,
        "first_event": first_event,
    })[CSV_COLUMNS]


def truth(seed: int = DEFAULT_SEED, params: dict | None = None,
          frame: pd.DataFrame | None = None) -> dict:
    """What the generator knows: seed, parameters, counts, published values, calibration."""
    p = resolve_params(params)
    if frame is None:
        frame = simulate_series(seed, params)
    default = p == DEFAULT_PARAMS
    groups = {g: int((frame["nodal_status"] == GROUP_CODES[g]).sum()) for g in GROUPS}
    events = frame["first_event"].value_counts().reindex(("none",) + CAUSES, fill_value=0)
    return {
        "synthetic": True,
        "generator": "micromet.synth_series",
        "seed": int(seed),
        "params_hash": params_hash(seed, params),
        "params": p,
        "split_note": (
            "The paper's abstract and introduction give n = 702, 377 pN0 of which 13% (49) "
            "pN0(i+); they do not split the other 325 between pN1mi and pN1. "
            "Assumed here: params.n."
        ),
        "counts": {
            "n": int(len(frame)),
            "pN0": groups["pN0(i-)"] + groups["pN0(i+)"],
            "groups": groups,
            "first_events": {k: int(v) for k, v in events.items()},
        },
        "true_conditional_hr_relapse": p["hr_nodal"],
        "published": PUBLISHED,
        "calibration": CALIBRATION if default else None,
        "draw_r": DEFAULT_DRAW_R if (default and int(seed) == DEFAULT_SEED) else None,
    }


def write_series(path, *, seed: int = DEFAULT_SEED, params: dict | None = None,
                 truth_path=None) -> Path:
    """Write the synthetic series CSV to ``path`` and its truth (JSON) beside it.

    ``truth_path`` defaults to ``<path stem>.truth.json`` in the same folder. Both files are
    written under temporary names and moved in only when complete.
    """
    path = Path(path)
    truth_path = Path(truth_path) if truth_path else path.with_name(path.stem + ".truth.json")
    frame = simulate_series(seed, params)
    info = truth(seed, params, frame)
    write_atomic(truth_path, json.dumps(info, indent=2, sort_keys=False))
    write_atomic(path, frame.to_csv(index=False, lineterminator="\n"))
    return path


def synthetic_series(seed: int = DEFAULT_SEED, params: dict | None = None,
                     cache_dir=None) -> Path:
    """The path of the synthetic series CSV for ``seed`` and ``params``, generated on first use.

    It lives in ``<cache_dir>/nanomet-<hash>/nanomet.csv`` (``cache_dir`` by default
    :func:`micromet.sources.cache_dir`) with ``truth.json`` beside it; the
    folder is built under a temporary name and renamed into place, so a reader never sees a
    half-written series (two concurrent writers produce identical files; the first rename wins).
    """
    if cache_dir is None:
        from micromet import sources  # here: sources imports the generators too

        cache_dir = sources.cache_dir()
    folder = Path(cache_dir) / f"nanomet-{params_hash(seed, params)}"
    csv = folder / "nanomet.csv"

    def complete(where: Path) -> bool:
        return (where / "nanomet.csv").is_file() and (where / "truth.json").is_file()

    build_once(folder, lambda tmp: write_series(tmp / "nanomet.csv", seed=seed, params=params,
                                                truth_path=tmp / "truth.json"), complete)
    return csv
