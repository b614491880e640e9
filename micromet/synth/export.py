"""Writing the synthetic cohort as a SEER*Stat label export (CSV, ``.dic``, ``truth.json``),
cached by seed and parameters.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from micromet.errors import InputError
from micromet.files import build_once
from micromet.synth.outcomes import _core_frame, _followup, _included_core, simulate_outcomes
from micromet.synth.params import (
    DATABASE_NAME,
    DEFAULT_SEED,
    EXPORT_COLUMNS,
    EXPORT_STEM,
    GENERATOR_VERSION,
    GROUPS,
    SynthParams,
    exclusion_plan,
)

_HIST_LABELS = {
    "8500": "Infiltrating duct carcinoma, NOS",
    "8522": "Infiltrating duct and lobular carcinoma",
    "8520": "Lobular carcinoma, NOS",
    "8480": "Mucinous adenocarcinoma",
    "8211": "Tubular adenocarcinoma",
    "8507": "Invasive micropapillary carcinoma",
    "8575": "Metaplastic carcinoma, NOS",
    "8140": "Adenocarcinoma, NOS",
    "8201": "Cribriform carcinoma, NOS",
    "8523": "Infiltrating duct mixed with other types of carcinoma",
    "8524": "Infiltrating lobular mixed with other types of carcinoma",
    "8510": "Medullary carcinoma, NOS",
    "8541": "Paget disease and infiltrating duct carcinoma of breast",
    "8010": "Carcinoma, NOS",
    "8540": "Paget disease, mammary",
}


_OTHER_HIST = (["8520", "8480", "8211", "8507", "8575", "8140", "8201", "8523", "8524", "8510",
                "8541", "8010"],
               [55, 8, 4, 4, 3, 5, 2, 9, 6, 1, 1, 2])


_RACE = (["White", "Black", "Asian or Pacific Islander", "American Indian/Alaska Native",
          "Unknown"], [74, 11, 13, 1, 1])


_MARITAL = (["Married (including common law)", "Single (never married)", "Divorced", "Widowed",
             "Separated", "Unmarried or Domestic Partner", "Unknown"],
            [51, 16, 11, 12, 1, 0.5, 8.5])


_SITE = (["C50.0-Nipple", "C50.1-Central portion of breast", "C50.2-Upper-inner quadrant of breast",
          "C50.3-Lower-inner quadrant of breast", "C50.4-Upper-outer quadrant of breast",
          "C50.5-Lower-outer quadrant of breast", "C50.6-Axillary tail of breast",
          "C50.8-Overlapping lesion of breast", "C50.9-Breast, NOS"],
         [0.4, 4.5, 11, 5.5, 34, 7, 0.6, 20, 17])


_LATERALITY = (["Left - origin of primary", "Right - origin of primary",
                "Paired site, but no information concerning laterality",
                "Bilateral, single primary", "Only one side - side unspecified"],
               [50.6, 49.0, 0.2, 0.1, 0.1])


_SEQUENCE = (["One primary only", "1st of 2 or more primaries", "2nd of 2 or more primaries",
              "3rd of 3 or more primaries", "4th of 4 or more primaries"],
             [79, 7, 11, 2.6, 0.4])


_N_POS = (["N1mi", "N1a", "N1", "N1b", "N1c", "N2a", "N2", "N2b", "N3a", "N3b", "N3c", "N3"],
          [14, 52, 2, 1, 1, 14, 0.5, 1, 8, 2, 3.5, 0.5])


_T4 = (["T4a", "T4b", "T4c", "T4d"], [8, 55, 5, 32])


_OTHER_COD = (["Diseases of Heart", "Cerebrovascular Diseases",
               "Chronic Obstructive Pulmonary Disease and Allied Cond",
               "Alzheimers (ICD-9 and 10 only)", "Diabetes Mellitus", "Other Cause of Death",
               "Lung and Bronchus", "Accidents and Adverse Effects", "Pancreas",
               "Colon excluding Rectum", "Ovary", "Nephritis, Nephrotic Syndrome and Nephrosis",
               "Septicemia", "Pneumonia and Influenza", "Hypertension without Heart Disease",
               "Chronic Liver Disease and Cirrhosis", "Miscellaneous Malignant Cancer",
               "Non-Hodgkin Lymphoma"],
              [26, 7, 6, 6, 3, 14, 10, 3, 4, 2, 2, 2, 2, 3, 3, 1, 4, 2])


CS_ALIVE = "Alive or dead of other cause"


CS_DEAD = "Dead (attributable to this cancer dx)"


OC_ALIVE = "Alive or dead due to cancer"


OC_DEAD = "Dead (attributable to causes other than this cancer dx)"


UNKNOWN_COD = "Dead (missing/unknown COD)"


FLAG_MORE = "Complete dates are available and there are more than 0 days of survival"


FLAG_ZERO = "Complete dates are available and there are 0 days of survival"


FLAG_INC_CANNOT = "Incomplete dates are available and there cannot be zero days of follow-up"


FLAG_INC_COULD = "Incomplete dates are available and there could be zero days of follow-up"


FLAG_DCO = "Not calculated because a Death Certificate Only or Autopsy Only case"


def _choice(rng, spec, n):
    labels, w = spec
    w = np.asarray(w, dtype=float)
    return np.asarray(labels, dtype=object)[rng.choice(len(labels), size=n, p=w / w.sum())]


def _t_label(size, t4, t4_label):
    lab = np.select([size <= 1, size <= 5, size <= 10, size <= 20, size <= 50],
                    ["T1mi", "T1a", "T1b", "T1c", "T2"], "T3").astype(object)
    lab[t4] = t4_label[t4]
    return lab


def _lookup(values: np.ndarray, func) -> np.ndarray:
    """Apply ``func`` to each distinct value of an object array (fast for few distinct values)."""
    codes, uniques = pd.factorize(values)
    return np.asarray([func(u) for u in uniques], dtype=object)[codes]


def _t_class(t: str) -> str:
    if t in ("T0", "T1", "T1mi", "T1a", "T1b", "T1c"):
        return "T1"
    if t.startswith("Tis"):
        return "Tis"
    return t[:2] if t[:2] in ("T2", "T3", "T4") else "TX"


def _n_class(n: str) -> str:
    if n == "N1mi":
        return "N1mi"
    return n[:2] if n[:2] in ("N0", "N1", "N2", "N3") else "NX"


_STAGE = {  # anatomic AJCC 8th stage groups (M0)
    ("T1", "N0"): "1A", ("T1", "N1mi"): "1B", ("T1", "N1"): "2A", ("T2", "N0"): "2A",
    ("T2", "N1mi"): "2B", ("T2", "N1"): "2B", ("T3", "N0"): "2B", ("T1", "N2"): "3A",
    ("T2", "N2"): "3A", ("T3", "N1mi"): "3A", ("T3", "N1"): "3A", ("T3", "N2"): "3A",
    ("Tis", "N0"): "0",
}


def _stage_group(t_lab, n_lab):
    """Derived EOD 2018 Stage Group (anatomic AJCC 8th; 99 when T or N is unknown)."""
    tc = _lookup(np.asarray(t_lab, dtype=object), _t_class)
    nc = _lookup(np.asarray(n_lab, dtype=object), _n_class)

    def stage(pair: str) -> str:
        t, n = pair.split("|")
        if t == "TX" or n == "NX":
            return "99"
        if n == "N3":
            return "3C"
        if t == "T4":
            return "3B"
        return _STAGE.get((t, n), "99")

    return _lookup(tc + "|" + nc, stage)


_AGE_LABELS = np.array([f"{a:02d} years" for a in range(90)] + ["90+ years"], dtype=object)


def _block_labels(core: dict, group: str, rng: np.random.Generator) -> dict:
    """Export label columns for a block of rows from its core variables."""
    n = core["age"].size
    age = core["age"]
    hist = np.where(rng.random(n) < 0.93, "8500", "8522").astype(object)
    oth = core["other_histology"]
    hist[oth] = _choice(rng, _OTHER_HIST, int(oth.sum()))
    u = rng.random(n)
    g12 = np.where(u < 0.31, "1", np.where(u < 0.98, "2", np.where(u < 0.99, "A", "B")))
    g3 = np.where(rng.random(n) < 0.98, "3", "C")
    summary = np.where(core["grade3"], g3, g12).astype(object)
    path = np.where(rng.random(n) < 0.9, summary, "9").astype(object)
    clin = np.where(rng.random(n) < 0.55, summary, "9").astype(object)
    t4_label = _choice(rng, _T4, n)
    t_lab = _t_label(core["tumor_size_mm"], core["t4"], t4_label)
    u = rng.random(n)
    n0_lab = np.where(u < 0.94, "N0", np.where(u < 0.99, "N0(i+)", "N0(mol+)"))
    n_lab = np.where(core["nodes"], _choice(rng, _N_POS, n), n0_lab).astype(object)
    return {
        "Age recode with single ages and 90+": _AGE_LABELS[np.minimum(age, 90)],
        "Sex": np.full(n, "Female", dtype=object),
        "Race recode (W, B, AI, API)": _choice(rng, _RACE, n),
        "Marital status at diagnosis": _choice(rng, _MARITAL, n),
        "Primary Site - labeled": _choice(rng, _SITE, n),
        "Histologic Type ICD-O-3": hist,
        "Grade Clinical (2018+)": clin,
        "Grade Pathological (2018+)": path,
        "Derived Summary Grade 2018 (2018+)": summary,
        "Derived EOD 2018 T Recode (2018+)": t_lab,
        "Derived EOD 2018 N Recode (2018+)": n_lab,
        "Derived EOD 2018 M Recode (2018+)": np.full(n, group, dtype=object),
        "Tumor Size Summary (2016+)": np.char.zfill(core["tumor_size_mm"].astype(str), 3)
        .astype(object),
        "ER Status Recode Breast Cancer (1990+)": core["er"].astype(object),
        "PR Status Recode Breast Cancer (1990+)": core["pr"].astype(object),
        "Derived HER2 Recode (2010+)": core["her2"].astype(object),
        "Breast Subtype (2010+)": core["subtype"].astype(object),
        "Laterality": _choice(rng, _LATERALITY, n),
        "Sequence number": _choice(rng, _SEQUENCE, n),
    }


def _take(core: dict, idx: np.ndarray) -> dict:
    return {k: v[idx].copy() for k, v in core.items()}


def _apply_exclusion(lab: dict, core: dict, reason: str, rng: np.random.Generator) -> None:
    """Overwrite the fields that make a block of rows fail ``reason`` (in place)."""
    n = core["age"].size
    if n == 0:
        return

    def put(col, values):
        lab[col] = np.broadcast_to(np.asarray(values, dtype=object), (n,)).copy()

    if reason == "male":
        put("Sex", "Male")
    elif reason == "age 90+":
        core["age"] = rng.integers(90, 99, size=n)
        put("Age recode with single ages and 90+", "90+ years")
    elif reason == "age under 18":
        core["age"] = rng.integers(15, 18, size=n)
        put("Age recode with single ages and 90+", _AGE_LABELS[core["age"]])
    elif reason.startswith("grade"):
        if reason.startswith("grade 9"):
            g = np.full(n, "9", dtype=object)
        elif reason.startswith("grade Blank"):
            g = np.full(n, "Blank(s)", dtype=object)
        elif reason.startswith("grade D"):
            g = np.full(n, "D", dtype=object)
        else:
            g = _choice(rng, (["L", "M", "H"], [25, 45, 30]), n)
        put("Derived Summary Grade 2018 (2018+)", g)
        put("Grade Pathological (2018+)", g)
        put("Grade Clinical (2018+)", np.where(g == "Blank(s)", "Blank(s)", "9"))
    elif reason == "T0":
        put("Derived EOD 2018 T Recode (2018+)", "T0")
        put("Derived EOD 2018 N Recode (2018+)", _choice(rng, (["N1a", "N1mi", "N2a"],
                                                                [70, 20, 10]), n))
        put("Tumor Size Summary (2016+)", "000")
    elif reason == "Tis(DCIS)":
        put("Derived EOD 2018 T Recode (2018+)", "Tis(DCIS)")
        put("Derived EOD 2018 N Recode (2018+)", "N0")
    elif reason == "Tis(Paget)":
        put("Derived EOD 2018 T Recode (2018+)", "Tis(Paget)")
        put("Derived EOD 2018 N Recode (2018+)", "N0")
        put("Histologic Type ICD-O-3", "8540")
    elif reason == "size unknown (999)":
        put("Tumor Size Summary (2016+)", "999")
    elif reason.startswith("size 990"):
        put("Tumor Size Summary (2016+)", "990")
        put("Derived EOD 2018 T Recode (2018+)", "T1mi")
    elif reason.startswith("size 998"):
        put("Tumor Size Summary (2016+)", "998")
        put("Derived EOD 2018 T Recode (2018+)", "T4d")
    elif reason.startswith("size 000"):
        put("Tumor Size Summary (2016+)", "000")
        put("Derived EOD 2018 T Recode (2018+)", "T1")
    elif reason.startswith("ER/PR"):
        u = rng.random(n)
        er = lab["ER Status Recode Breast Cancer (1990+)"].copy()
        pr = lab["PR Status Recode Breast Cancer (1990+)"].copy()
        pr[u < 0.75] = "Borderline/Unknown"
        er[u > 0.45] = "Borderline/Unknown"
        lab["ER Status Recode Breast Cancer (1990+)"] = er
        lab["PR Status Recode Breast Cancer (1990+)"] = pr
        put("Breast Subtype (2010+)", "Unknown")
    elif reason.startswith("HER2"):
        put("Derived HER2 Recode (2010+)", "Borderline/Unknown")
        put("Breast Subtype (2010+)", "Unknown")
    elif reason.startswith("T unknown"):
        put("Derived EOD 2018 T Recode (2018+)", "TX")
    elif reason.startswith("N unknown"):
        put("Derived EOD 2018 N Recode (2018+)", "NX")
    elif reason in ("survival unknown (DCO)", "dead, cause unknown"):
        pass  # handled with the outcomes
    else:  # pragma: no cover - the plan is fixed above
        raise ValueError(reason)


def _outcome_labels(time, cause, rng, *, dco=None, unknown_cod=None) -> dict:
    n = time.size
    months = np.floor(time).astype(np.int64)
    dead = cause > 0
    vital = np.where(dead, "Dead", "Alive").astype(object)
    cs = np.where(cause == 1, CS_DEAD, CS_ALIVE).astype(object)
    oc = np.where(cause == 2, OC_DEAD, OC_ALIVE).astype(object)
    cod = np.full(n, "Alive", dtype=object)
    cod[cause == 1] = "Breast"
    cod[cause == 2] = _choice(rng, _OTHER_COD, int((cause == 2).sum()))
    u = rng.random(n)
    flag = np.full(n, FLAG_MORE, dtype=object)
    flag[(months == 0) & (time < 1 / 30.4)] = FLAG_ZERO
    incomplete = u < 0.015
    flag[incomplete & (months >= 1)] = FLAG_INC_CANNOT
    flag[incomplete & (months == 0)] = FLAG_INC_COULD
    surv = np.char.zfill(months.astype(str), 4).astype(object)
    if unknown_cod is not None and unknown_cod.any():
        cs[unknown_cod] = UNKNOWN_COD
        oc[unknown_cod] = UNKNOWN_COD
        cod[unknown_cod] = "State DC not available or state DC available but no COD"
    if dco is not None and dco.any():
        surv[dco] = "Unknown"
        flag[dco] = FLAG_DCO
    return {
        "Survival months": surv,
        "Survival months flag": flag,
        "Vital status recode (study cutoff used)": vital,
        "SEER cause-specific death classification": cs,
        "SEER other cause of death classification": oc,
        "COD to site recode": cod,
    }


def _group_rows(group: str, scale_g: float, params: SynthParams, rng: np.random.Generator):
    """All rows of one group (included and excluded) as a dict of label columns + truth."""
    core = _included_core(group, scale_g, rng)
    n_inc = core["age"].size
    lab = _block_labels(core, group, rng)
    blocks_core = [core]
    blocks_lab = [lab]
    reasons = [np.full(n_inc, "", dtype=object)]
    plan = exclusion_plan(scale_g, 1.0)  # both columns at this group's scale; use its own
    for _, row in plan.iterrows():
        m = int(row[group])
        if m == 0:
            continue
        src = rng.integers(0, max(n_inc, 1), size=m)
        c = _take(core, src)
        ell = _block_labels(c, group, rng)
        _apply_exclusion(ell, c, row["reason"], rng)
        blocks_core.append(c)
        blocks_lab.append(ell)
        reasons.append(np.full(m, row["reason"], dtype=object))
    core_all = {k: np.concatenate([b[k] for b in blocks_core]) for k in core}
    lab_all = {k: np.concatenate([b[k] for b in blocks_lab]) for k in lab}
    reason = np.concatenate(reasons)
    n = reason.size
    weights = params.year_weights_m0i if group == "M0(i+)" else params.year_weights_m0
    year, followup = _followup(n, weights, rng)
    time, cause = simulate_outcomes(_core_frame(core_all, group), followup, params, rng)
    unknown_cod = reason == "dead, cause unknown"
    dco = reason == "survival unknown (DCO)"
    forced = (unknown_cod | dco) & (cause == 0)
    # rows excluded for an unknown cause or a DCO record are deaths by definition
    time[forced] = followup[forced] * rng.random(int(forced.sum()))
    cause[forced] = np.where(rng.random(int(forced.sum())) < 0.6, 1, 2)
    lab_all.update(_outcome_labels(time, cause, rng, dco=dco, unknown_cod=unknown_cod))
    lab_all["Year of diagnosis"] = year.astype(str).astype(object)
    codes = lab_all["Histologic Type ICD-O-3"]
    lab_all["ICD-O-3 Hist/behav"] = _lookup(codes, lambda c: f"{c}/3: {_HIST_LABELS[c]}")
    lab_all["Derived EOD 2018 Stage Group Recode (2018+)"] = _stage_group(
        lab_all["Derived EOD 2018 T Recode (2018+)"], lab_all["Derived EOD 2018 N Recode (2018+)"])
    seq = lab_all["Sequence number"]
    lab_all["First malignant primary indicator"] = np.where(
        np.isin(seq, ["One primary only", "1st of 2 or more primaries"]), "Yes", "No"
    ).astype(object)
    truth = pd.DataFrame({"group": group, "excluded_for": reason, "time": time, "cause": cause,
                          "followup": followup})
    return lab_all, truth


def generate_rows(seed: int = DEFAULT_SEED, params: SynthParams | None = None, scale: float = 1.0):
    """The synthetic export as a DataFrame of label strings (columns ``EXPORT_COLUMNS``, rows
    sorted by Patient ID) and a truth frame aligned with it (group, excluded_for, continuous
    time, cause, potential follow-up)."""
    params = params or SynthParams()
    if not scale > 0:
        raise InputError(f"scale must be positive, got {scale}")
    rng = np.random.default_rng(seed)
    labs, truths = [], []
    for group in GROUPS:
        scale_g = scale * (params.m0i_factor if group == "M0(i+)" else 1.0)
        lab, truth = _group_rows(group, scale_g, params, rng)
        labs.append(lab)
        truths.append(truth)
    truth = pd.concat(truths, ignore_index=True)
    n = len(truth)
    ids = rng.choice(np.arange(1, 10 * n + 1000), size=n, replace=False)
    order = np.argsort(ids, kind="stable")
    columns = {"Patient ID": np.char.zfill(ids[order].astype(str), 8).astype(object)}
    for c in EXPORT_COLUMNS[1:]:
        columns[c] = np.concatenate([lab[c] for lab in labs])[order]
    raw = pd.DataFrame(columns)
    truth = truth.iloc[order].reset_index(drop=True)
    truth.insert(0, "patient_id", columns["Patient ID"])
    return raw, truth


def dic_text(output_filename: str, columns=EXPORT_COLUMNS) -> str:
    """The ``.dic`` of a label export (SEER_SCHEMA §1.1), CRLF line endings."""
    lines = [
        "[System]",
        f"Output filename=C:\\Users\\synthetic\\Documents\\SEER\\{output_filename}",
        "Matrix filename=Case Listing Session-1 Matrix-1",
        f"Database name={DATABASE_NAME}",
        "Title1=Breast M0 and M0(i+), 2018-2022 (SYNTHETIC) - generated by micromet.synth, "
        "not SEER data",
        "",
        "[Session Options]",
        "Type=Case Listing",
        "",
        "[Export Options]",
        "GZipped=false",
        "Variable format=labels",
        "File format=DOS/Windows",
        "Field delimiter=comma",
        "Missing character=space",
        "Fields with delimiter in quotes=true",
        "Remove thousands separators=true",
        "Flags included=false",
        "Variable names included=true",
        "Column Variables as Stats=false",
        "",
        "[Variables]",
    ]
    for i, name in enumerate(columns, start=1):
        lines += [f"Var{i}Name={name}", f"Var{i}DisplayType=Formatted"]
    return "\r\n".join(lines) + "\r\n"


def _csv_bytes(raw: pd.DataFrame) -> bytes:
    """Label-export bytes: quoted header, comma, CRLF, a value quoted only if it holds a comma.

    Fast path: adjacent columns are joined through their joint distinct values (most label
    columns have few), so only a handful of full-length string concatenations remain.
    """
    n = len(raw)
    limit = max(n // 8, 64)
    blocks = []
    cur_codes = cur_uni = None
    for c in raw.columns:
        codes, uni = pd.factorize(raw[c].to_numpy(dtype=object))
        uni = np.array([f'"{u}"' if "," in u else u for u in uni], dtype=object)
        if cur_codes is None:
            cur_codes, cur_uni = codes, uni
            continue
        m = len(uni)
        jc, ju = pd.factorize(cur_codes.astype(np.int64) * m + codes)
        if len(ju) > limit:
            blocks.append((cur_codes, cur_uni))
            cur_codes, cur_uni = codes, uni
        else:
            cur_uni = np.array([cur_uni[j // m] + "," + uni[j % m] for j in ju.tolist()],
                               dtype=object)
            cur_codes = jc
    blocks.append((cur_codes, cur_uni))
    acc = None
    for codes, uni in blocks:
        v = uni[codes]
        acc = v if acc is None else acc + "," + v
    header = ",".join(f'"{c}"' for c in raw.columns)
    return (header + "\r\n" + "\r\n".join(acc.tolist()) + "\r\n").encode("utf-8")


def write_seer_extract(directory, *, seed: int = DEFAULT_SEED, params: SynthParams | dict | None = None,
                       scale: float = 1.0) -> Path:
    """Write the synthetic label export, its ``.dic`` and ``truth.json`` into ``directory``;
    return the path of the CSV. Deterministic: the same seed, params and scale give the same
    bytes. ``scale`` (fraction of rows, for fast tests) scales every count."""
    if not isinstance(params, SynthParams):
        params = SynthParams.from_dict(params)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    raw, truth = generate_rows(seed, params, scale)
    csv_path = directory / f"{EXPORT_STEM}.csv"
    csv_path.write_bytes(_csv_bytes(raw))
    (directory / f"{EXPORT_STEM}.dic").write_bytes(dic_text(csv_path.name).encode("utf-8"))
    (directory / "truth.json").write_text(json.dumps(truth_summary(seed, params, scale, truth),
                                                     indent=1, sort_keys=True) + "\n")
    return csv_path


def truth_summary(seed: int, params: SynthParams, scale: float, truth: pd.DataFrame) -> dict:
    """What ``truth.json`` holds: the generating parameters (hazard ratios and their logs),
    the model, the counts of excluded rows and of simulated events."""
    inc = truth["excluded_for"] == ""
    return {
        "synthetic": True,
        "generator": "micromet.synth", "generator_version": GENERATOR_VERSION,
        "seed": int(seed), "scale": float(scale),
        "params": params.to_dict(),
        "log_shr_bc": {k: float(np.log(v)) for k, v in params.shr_bc.items()},
        "log_hr_other": {k: float(np.log(v)) for k, v in params.hr_other.items()},
        "model": (
            "Fine & Gray (1999) design: P(cause 1|Z) = 1-(1-p_bc)^exp(eta1); F1(t|Z) = "
            "1-[1-p_bc(1-exp(-rate_bc t))]^exp(eta1); cause-2 time ~ Exp(rate_other exp(eta2)); "
            "eta centred at the reference patient; time in months; administrative censoring at "
            "31 Dec 2022"),
        "rows": int(len(truth)),
        "rows_by_group": {g: int((truth["group"] == g).sum()) for g in GROUPS},
        "included_by_group": {g: int(((truth["group"] == g) & inc).sum()) for g in GROUPS},
        "excluded": {
            f"{g}: {r}": int(c)
            for (g, r), c in truth[~inc].groupby(["group", "excluded_for"]).size().items()},
        "events_included": {
            g: {str(k): int(v) for k, v in
                truth[inc & (truth["group"] == g)]["cause"].value_counts().sort_index().items()}
            for g in GROUPS},
    }


def synthetic_extract(seed: int = DEFAULT_SEED, params: SynthParams | dict | None = None,
                      cache_dir=None, *, scale: float = 1.0) -> Path:
    """Path of the synthetic export for (seed, params, scale), generated once into a cache
    directory keyed by their hash (default :func:`micromet.sources.cache_dir`).
    Written into a temporary directory and renamed into place, so a reader never sees half."""
    if not isinstance(params, SynthParams):
        params = SynthParams.from_dict(params)
    if cache_dir is None:
        from micromet import sources  # here: sources imports the generators too

        cache_dir = sources.cache_dir()
    target = Path(cache_dir) / f"seer_m0i-{params.key(seed, scale)}"
    csv_path = target / f"{EXPORT_STEM}.csv"

    def complete(folder: Path) -> bool:
        return (folder / f"{EXPORT_STEM}.csv").exists() and (folder / f"{EXPORT_STEM}.dic").exists()

    build_once(target, lambda tmp: write_seer_extract(tmp, seed=seed, params=params, scale=scale),
               complete)
    return csv_path


def cli_synth(out_dir, seed: int = DEFAULT_SEED, n_scale: float = 1.0) -> Path:
    """Console entry (``micromet synth``): write the synthetic export into ``out_dir``."""
    return write_seer_extract(out_dir, seed=seed, scale=n_scale)
