"""Agreement with R on the reference outputs committed under ``tests/reference``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from micromet.report import pretty


def r_agreement(root: Path | None = None) -> pd.DataFrame:
    """Agreement with R, measured now on the R outputs committed under ``tests/reference/``
    (the cmprsk example of METHODS 6 and MatchIt's lalonde example), plus the summaries tests
    and benchmarks may leave (``tests/reference/**/agreement.json``, ``benchmarks/results/*.json``).

    One row per comparison: what, the R function, the largest absolute and relative difference,
    and the tolerance of the numerical contract (DESIGN.md)."""
    from micromet.study import REPO_ROOT

    root = Path(root) if root is not None else REPO_ROOT
    rows: list[dict] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows += _agreement_cmprsk(root / "tests" / "reference" / "cmprsk")
        rows += _agreement_matchit(root / "tests" / "reference" / "matchit" / "lalonde")
        rows += _agreement_describe(root / "tests" / "reference" / "describe")
    for path in sorted((root / "tests" / "reference").glob("**/agreement.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for rec in data if isinstance(data, list) else [data]:
            rows.append({"what": f"{path.parent.name}: {rec.get('quantity', '')}", **rec})
    for path in sorted((root / "benchmarks" / "results").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        figures = ", ".join(f"{k} {v}" for k, v in sorted(data.items())
                            if not isinstance(v, (dict, list)))
        rows.append({"what": f"benchmark {path.stem}", "R function": "", "note": figures})
    if not rows:
        return pd.DataFrame({"note": ["no R reference outputs found under tests/reference/"]})
    return pretty(pd.DataFrame(rows, dtype=object).set_index("what"), digits=3)


def _diffs(ours, theirs) -> tuple[float, float]:
    a = np.asarray(ours, dtype=float)
    b = np.asarray(theirs, dtype=float)
    abs_diff = np.abs(a - b)
    rel = abs_diff / np.maximum(np.abs(b), 1e-300)
    return float(abs_diff.max()), float(rel.max())


def _row(what, r_function, ours, theirs, tolerance) -> dict:
    a, r = _diffs(ours, theirs)
    return {"what": what, "R function": r_function, "max abs diff": a, "max rel diff": r,
            "tolerance": tolerance}


def _by_term(values, terms) -> list[float]:
    """R outputs are named (a mapping) or in model order (a list)."""
    return [values[t] for t in terms] if isinstance(values, dict) else list(values)


def _agreement_cmprsk(folder: Path) -> list[dict]:
    data_path, ref_path = folder / "data.csv", folder / "results.json"
    if not (data_path.exists() and ref_path.exists()):
        return []
    from micromet import competing, survival

    data = pd.read_csv(data_path)
    ref = json.loads(ref_path.read_text(encoding="utf-8"))
    rows = []
    for cause in (1, 2):
        r = ref[f"crr_cause{cause}"]
        fit = competing.fine_gray(data, "ftime", "fstatus", ["x1", "x2"], cause=cause)
        terms = ["x1", "x2"]
        rows.append(_row(f"Fine-Gray coef, cause {cause} (n = 200, ties)", "cmprsk::crr",
                         fit.table.loc[terms, "coef"], _by_term(r["coef"], terms), "1e-6 rel"))
        rows.append(_row(f"Fine-Gray se (sandwich), cause {cause}", "cmprsk::crr",
                         fit.table.loc[terms, "se"], _by_term(r["se"], terms), "1e-6 rel"))
    tests = competing.gray_tests(data, "ftime", "fstatus", "x2")
    for cause in (1, 2):
        rows.append(_row(f"Gray's test statistic, cause {cause}", "cmprsk::cuminc",
                         [tests.loc[cause, "stat"]], [ref["cuminc_by_x2"]["tests"][
                             f"cause{cause}"]["stat"]], "1e-8"))
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
        rows.append(_row("cumulative incidence estimates", "cmprsk::cuminc", est, r_est, "1e-8"))
        rows.append(_row("cumulative incidence variances", "cmprsk::cuminc", var, r_var, "1e-8"))
    cs = data.assign(cs_event=(data["fstatus"] == 1).astype(int))
    cox = survival.cox(cs, "ftime", "cs_event", ["x1", "x2"])
    r = ref["cause_specific_coxph_efron"]
    rows.append(_row("Cox coef (Efron, cause-specific)", "survival::coxph",
                     cox.table.loc[["x1", "x2"], "coef"], _by_term(r["coef"], ["x1", "x2"]),
                     "1e-6 rel"))
    rows.append(_row("Cox se (Efron)", "survival::coxph", cox.table.loc[["x1", "x2"], "se"],
                     _by_term(r["se"], ["x1", "x2"]), "1e-6 rel"))
    lr = survival.logrank(cs, "ftime", "cs_event", "x2")
    rows.append(_row("log-rank chi-square", "survival::survdiff", [lr.statistic],
                     [ref["survdiff_cause1_by_x2"]["chisq"]], "1e-8"))
    return rows


def _agreement_describe(folder: Path) -> list[dict]:
    if not (folder / "fixture.csv").exists() or not (folder / "reference.json").exists():
        return []
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
                 "wilcox.test, chisq.test(correct = FALSE)", ours, theirs, "1e-8")]


def _agreement_matchit(folder: Path) -> list[dict]:
    if not (folder / "lalonde.csv").exists():
        return []
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
             weights["distance"], "1e-8 abs"),
        _row("matching weights (1:2, caliper 0.2)", "MatchIt nearest", res.weights,
             weights["weight"], "identical"),
        {"what": "matched sets identical (treated units)", "R function": "MatchIt nearest",
         "max abs diff": f"{same} of {len(theirs)}", "tolerance": "identical"},
    ]
