"""Agreement with R, measured on the R outputs committed under tests/reference/, and the benchmark
figures under benchmarks/results/: the artifact the book's validation page shows.

``python tests/_agreement.py micromet/data/r_agreement.json`` (``make agreement``, and
``make publish``) writes it; tests/test_agreement.py checks that the committed file holds the same
comparisons, each within its tolerance, as a fresh measurement. Production code reads only the
artifact (``micromet.agreement.r_agreement``), never tests/ or benchmarks/.
"""

from __future__ import annotations

import json
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "reference"

#: Where each fixture's R outputs come from (the scripts beside them say so and check it).
VERSIONS = {
    "cmprsk": "R 4.2.2, cmprsk 2.2-11, survival 3.5-3 (make_cmprsk.R)",
    "matchit/lalonde": "R 4.2.2, MatchIt 4.5.1 with the caliper fix of 4.5.4 (README.md)",
    "describe": "R 4.2.2, stats (make_reference.R)",
    "firth": "R 4.2.2, coxphf 1.13.4 built from its CRAN source, survival 3.5-3 (make_firth.R)",
    "km": "R 4.2.2, survival 3.5-3 (make_km.R)",
}


def collect(root: Path = ROOT) -> dict:
    """Every comparison (what, R function, fixture, R and package versions, largest absolute and
    relative difference, tolerance) and the benchmark figures."""
    reference = root / "tests" / "reference"
    rows: list[dict] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows += _agreement_cmprsk(reference / "cmprsk")
        rows += _agreement_matchit(reference / "matchit" / "lalonde")
        rows += _agreement_describe(reference / "describe")
        rows += _agreement_firth(reference / "firth")
        rows += _agreement_km(reference / "km")
    benchmarks = []
    for path in sorted((root / "benchmarks" / "results").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        figures = {k: v for k, v in sorted(data.items()) if not isinstance(v, (dict, list))}
        benchmarks.append({"benchmark": path.stem, **figures})
    return {"comparisons": rows, "benchmarks": benchmarks,
            "measured_with": {"python": platform.python_version(),
                              "numpy": np.__version__, "pandas": pd.__version__}}


def within(row: dict) -> bool:
    """Whether a comparison meets its tolerance ("1e-6 rel", "1e-8 abs", "1e-8", "identical")."""
    tol = str(row["tolerance"])
    if tol == "identical":
        diff = row["max abs diff"]
        if isinstance(diff, str):  # "n of n"
            a, _, b = diff.partition(" of ")
            return a == b
        return float(diff) == 0.0
    value = float(tol.split()[0])
    if tol.endswith("rel"):
        return float(row["max rel diff"]) <= value
    if tol.endswith("abs"):
        return float(row["max abs diff"]) <= value
    return min(float(row["max abs diff"]), float(row["max rel diff"])) <= value


def _diffs(ours, theirs) -> tuple[float, float]:
    a = np.asarray(ours, dtype=float)
    b = np.asarray(theirs, dtype=float)
    abs_diff = np.abs(a - b)
    rel = abs_diff / np.maximum(np.abs(b), 1e-300)
    return float(abs_diff.max()), float(rel.max())


def _row(what, r_function, ours, theirs, tolerance, fixture) -> dict:
    a, r = _diffs(ours, theirs)
    return {"what": what, "R function": r_function, "fixture": fixture,
            "R": VERSIONS[fixture.split(":")[0]], "max abs diff": a, "max rel diff": r,
            "tolerance": tolerance}


def _by_term(values, terms) -> list[float]:
    """R outputs are named (a mapping) or in model order (a list)."""
    return [values[t] for t in terms] if isinstance(values, dict) else list(values)


def _agreement_cmprsk(folder: Path) -> list[dict]:
    data_path, ref_path = folder / "data.csv", folder / "results.json"
    from micromet import competing, survival

    data = pd.read_csv(data_path)
    ref = json.loads(ref_path.read_text(encoding="utf-8"))
    rows = []
    for cause in (1, 2):
        r = ref[f"crr_cause{cause}"]
        fit = competing.fine_gray(data, "ftime", "fstatus", ["x1", "x2"], cause=cause)
        terms = ["x1", "x2"]
        rows.append(_row(f"Fine-Gray coef, cause {cause} (n = 200, ties)", "cmprsk::crr",
                         fit.table.loc[terms, "coef"], _by_term(r["coef"], terms), "1e-6 rel",
                         "cmprsk:data.csv"))
        rows.append(_row(f"Fine-Gray se (sandwich), cause {cause}", "cmprsk::crr",
                         fit.table.loc[terms, "se"], _by_term(r["se"], terms), "1e-6 rel",
                         "cmprsk:data.csv"))
    tests = competing.gray_tests(data, "ftime", "fstatus", "x2")
    for cause in (1, 2):
        rows.append(_row(f"Gray's test statistic, cause {cause}", "cmprsk::cuminc",
                         [tests.loc[cause, "stat"]], [ref["cuminc_by_x2"]["tests"][
                             f"cause{cause}"]["stat"]], "1e-8", "cmprsk:data.csv"))
    ci = competing.cuminc(data, "ftime", "fstatus", "x2")
    est, var, r_est, r_var = [], [], [], []
    for key, curve in ref["cuminc_by_x2"]["curves"].items():
        group, cause = key.split()
        ours = ci[(ci["group"].astype(str) == group) & (ci["cause"].astype(str) == cause)]
        if len(ours) != len(curve["est"]):
            continue
        est += list(ours["estimate"])
        var += list(ours["variance"])
        r_est += curve["est"]
        r_var += curve["var"]
    if est:
        rows.append(_row("cumulative incidence estimates", "cmprsk::cuminc", est, r_est, "1e-8",
                         "cmprsk:data.csv"))
        rows.append(_row("cumulative incidence variances", "cmprsk::cuminc", var, r_var, "1e-8",
                         "cmprsk:data.csv"))
    cs = data.assign(cs_event=(data["fstatus"] == 1).astype(int))
    cox = survival.cox(cs, "ftime", "cs_event", ["x1", "x2"])
    r = ref["cause_specific_coxph_efron"]
    rows.append(_row("Cox coef (Efron, cause-specific)", "survival::coxph",
                     cox.table.loc[["x1", "x2"], "coef"], _by_term(r["coef"], ["x1", "x2"]),
                     "1e-6 rel", "cmprsk:data.csv"))
    rows.append(_row("Cox se (Efron)", "survival::coxph", cox.table.loc[["x1", "x2"], "se"],
                     _by_term(r["se"], ["x1", "x2"]), "1e-6 rel", "cmprsk:data.csv"))
    lr = survival.logrank(cs, "ftime", "cs_event", "x2")
    rows.append(_row("log-rank chi-square", "survival::survdiff", [lr.statistic],
                     [ref["survdiff_cause1_by_x2"]["chisq"]], "1e-8", "cmprsk:data.csv"))
    return rows


def _agreement_describe(folder: Path) -> list[dict]:
    from micromet import describe

    data = pd.read_csv(folder / "fixture.csv")
    ref = json.loads((folder / "reference.json").read_text(encoding="utf-8"))
    data = data[data["group"].isin(["A", "B"])]
    t = describe.table_one(data, "group", ["age", "size"], ["grade", "subtype"])
    first = t.groupby("variable", sort=False).first()
    ours = [first.loc["age", "p"], first.loc["size", "p"], first.loc["grade", "p"],
            first.loc["subtype", "p"]]
    theirs = [ref["wilcox_age"]["p"], ref["wilcox_size"]["p"], ref["chisq_grade"]["p"],
              ref["chisq_subtype"]["p"]]
    return [_row("Table 1 P values (rank-sum, chi-squared)",
                 "wilcox.test, chisq.test(correct = FALSE)", ours, theirs, "1e-8",
                 "describe:fixture.csv")]


def _agreement_matchit(folder: Path) -> list[dict]:
    from micromet import matching

    lalonde = pd.read_csv(folder / "lalonde.csv", index_col="id")
    weights = pd.read_csv(folder / "weights_patched_std_abs.csv", index_col="id")
    mm_r = pd.read_csv(folder / "match_matrix_patched_std_abs.csv", index_col="treated")
    covs = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
    res = matching.match(lalonde, "treat", covs, ratio=2, caliper=0.2)
    ours = res.match_matrix.astype(object).where(res.match_matrix.notna(), "")
    theirs = mm_r.astype(object).where(mm_r.notna(), "")
    same = int((ours.to_numpy(dtype=str) == theirs.to_numpy(dtype=str)).all(axis=1).sum())
    return [
        _row("propensity linear predictor (lalonde)", "glm(binomial)", res.distance,
             weights["distance"], "1e-8 abs", "matchit/lalonde:lalonde.csv"),
        _row("matching weights (1:2, caliper 0.2)", "MatchIt nearest", res.weights,
             weights["weight"], "1e-12 abs", "matchit/lalonde:lalonde.csv"),
        {"what": "matched sets identical (treated units)", "R function": "MatchIt nearest",
         "fixture": "matchit/lalonde:lalonde.csv", "R": VERSIONS["matchit/lalonde"],
         "max abs diff": f"{same} of {len(theirs)}", "max rel diff": None,
         "tolerance": "identical"},
    ]


def _agreement_firth(folder: Path) -> list[dict]:
    from micromet.firth import firth_cox

    ref = json.loads((folder / "firth_reference.json").read_text(encoding="utf-8"))
    cases = {"breast": ("TIME", "CENS", ["T", "N", "G", "CD"]),
             "separation_combination": ("time", "status", ["age", "er", "subtype"])}
    rows = []
    for name, (time, status, covs) in cases.items():
        data = pd.read_csv(folder / f"{name}.csv")
        if name == "separation_combination":
            data["er"] = pd.Categorical(data["er"], ["Negative", "Positive"])
            data["subtype"] = pd.Categorical(data["subtype"], ["HR+/HER2-", "HR+/HER2+",
                                                               "HR-/HER2+", "HR-/HER2-"])
        fit = firth_cox(data, time, status, covs)
        r = ref[f"{name}/tight/profile"]
        tab = fit.table.loc[fit.terms]
        keys = ("coef", "se", "lower", "upper", "p")
        ours = np.concatenate([tab[k].to_numpy() for k in keys])
        theirs = np.concatenate([np.array([np.nan if v is None else v for v in r[k]], float)
                                 for k in keys])
        known = ~np.isnan(theirs)
        rows.append(_row(f"Firth Cox: coef, se, profile limits, p ({name})", "coxphf",
                         ours[known], theirs[known], "1e-6 rel", f"firth:{name}.csv"))
    return rows


def _agreement_km(folder: Path) -> list[dict]:
    from micromet import survival

    ref = json.loads((folder / "km_reference.json").read_text(encoding="utf-8"))["lung/log"]
    lung = pd.read_csv(folder / "lung.csv")
    lung["group"] = np.where(lung["sex"] == 1, "male", "female")
    med = survival.km_median(lung, "time", "status", "group").set_index("group")
    ours, theirs = [], []
    for j, group in enumerate(ref["groups"]):
        ours += [med.loc[group, k] for k in ("median", "lower", "upper")]
        theirs += [np.inf if v == "Inf" else v for v in (ref["median"][j], ref["lower"][j],
                                                         ref["upper"][j])]
    return [_row("Kaplan-Meier median and 95% CI (lung)", "print(survfit)", ours, theirs,
                 "1e-8", "km:lung.csv")]


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "_build" / "agreement" / "r_agreement.json"
    data = collect()
    failing = [r["what"] for r in data["comparisons"] if not within(r)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, default=float) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(data['comparisons'])} comparisons, "
          f"{len(data['benchmarks'])} benchmarks"
          + (f"; OUTSIDE TOLERANCE: {failing}" if failing else ""))
    return 1 if failing else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
