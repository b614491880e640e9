"""micromet.matching against fixtures made with the installed R (MatchIt 4.5.1, Debian).

See tests/reference/matchit/README.md: the ``int_*`` cases use integer distances, on which the
integer-abs bug of 4.5.1 is inert, so they hold for CRAN MatchIt >= 4.5.4 and are checked in
both abs modes; the ``glm_*`` cases are checked against the ``abs_mode="int_trunc"`` emulation
(matches) and, bug-free, the glm fit and the summary() tables.
"""

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from micromet.matching import MatchingWarning, balance, match

FIXTURES = json.loads(
    (Path(__file__).parent / "reference" / "matchit" / "fixtures.json").read_text()
)
CASES = {c["name"]: c for c in FIXTURES["cases"]}

ARGS = {
    "int_r1": dict(ratio=1),
    "int_r2_cal2abs": dict(ratio=2, caliper=2, std_caliper=False),
    "int_r3_cal05": dict(ratio=3, caliper=0.5),
    "int_r2_smallest": dict(ratio=2, caliper=1, std_caliper=False, m_order="smallest"),
    "int_r2_data": dict(ratio=2, caliper=1, std_caliper=False, m_order="data"),
    "int_r1_replace": dict(ratio=1, replace=True),
    "int_r1_replace_cal": dict(ratio=1, replace=True, caliper=1, std_caliper=False),
    "int_r3_replace_cal": dict(ratio=3, replace=True, caliper=1, std_caliper=False),
    "int_small_r2": dict(ratio=2),
    "glm_r1": dict(ratio=1),
    "glm_r2_cal": dict(ratio=2, caliper=0.2),
    "glm_r3_cal": dict(ratio=3, caliper=0.5),
    "glm_r2_prob_cal": dict(ratio=2, caliper=0.2, distance="logit"),
    "glm_r2_smallest": dict(ratio=2, caliper=0.2, m_order="smallest"),
    "glm_r2_data": dict(ratio=2, m_order="data"),
    "glm_r1_replace_cal": dict(ratio=1, replace=True, caliper=0.2),
    "glm_r2_replace_cal": dict(ratio=2, replace=True, caliper=0.2),
    "glm_aliased_r1": dict(ratio=1),
}
# MatchIt 4.5.1 with replace=TRUE and ratio > 1 repeats a control within a treated unit's row
# (kosukeimai/MatchIt#159, fixed in 4.5.3): matched exactly only by the row_check_451 emulation.
REPEATS_BUG = {"int_r3_replace_cal", "glm_r2_replace_cal"}
LEGACY = dict(abs_mode="int_trunc", row_check_451=True)  # Debian's MatchIt 4.5.1
SUBTYPES = ["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-"]
COLS = {
    "mean_treated": "Means Treated",
    "mean_control": "Means Control",
    "smd": "Std. Mean Diff.",
    "var_ratio": "Var. Ratio",
    "ecdf_mean": "eCDF Mean",
    "ecdf_max": "eCDF Max",
    "pair_dist": "Std. Pair Dist.",
}


def _frame(key: str) -> pd.DataFrame:
    cols = FIXTURES[key]
    df = pd.DataFrame({k: v for k, v in cols.items()})
    return df.set_index("id")


def _setup(name: str):
    case = CASES[name]
    if case["family"] == "glm":
        data, covs = _frame("data_glm"), ["x1", "x2", "x3", "x4"]
    elif case["family"] == "glm_aliased":
        data, covs = _frame("data_aliased"), ["age", "her2", "subtype"]
        data["subtype"] = pd.Categorical(data["subtype"], SUBTYPES)
    elif case["family"] == "int_small":
        data, covs = _frame("data_small"), ["x"]
    else:
        data, covs = _frame("data_int"), ["x", "g"]
    args = dict(ARGS[name])
    if not case["family"].startswith("glm"):
        args["distance"] = data["dist"]
    return case, data, covs, args


def _run(data, covs, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MatchingWarning)
        return match(data, "treat", covs, **kwargs)


def _r_name(ours: str) -> str:
    """micromet's ``x3[b]`` is R's ``x3b``."""
    return re.sub(r"\[(.*)\]$", r"\1", ours)


def _r_match_matrix(case, ratio) -> list[list[str]]:
    return [
        [c if c is not None else "" for c in row["controls"]] + [""] * (ratio - len(row["controls"]))
        for row in case["match_matrix"]
    ]


def _our_match_matrix(res) -> list[list[str]]:
    mm = res.match_matrix
    return mm.astype(object).where(mm.notna(), "").values.tolist()


def _check_matching(case, data, res):
    ratio = res.ratio
    assert list(res.match_matrix.index) == [r["treated"] for r in case["match_matrix"]]
    assert _our_match_matrix(res) == _r_match_matrix(case, ratio)
    np.testing.assert_allclose(res.weights.to_numpy(), np.array(case["weights"], dtype=float),
                               rtol=0, atol=1e-14)
    if case["caliper"] is None:
        assert res.caliper is None
    else:
        assert res.caliper == pytest.approx(case["caliper"], rel=1e-12)
    if case["subclass"] is None:
        assert res.subclass.isna().all()
    else:
        r_sub = pd.Series(case["subclass"], index=data.index, dtype=object)
        assert (res.subclass.isna().to_numpy() == r_sub.isna().to_numpy()).all()
        groups_r = {frozenset(g.index) for _, g in r_sub.dropna().groupby(r_sub.dropna())}
        ours = res.subclass.dropna()
        groups_o = {frozenset(g.index) for _, g in ours.groupby(ours)}
        assert groups_r == groups_o
    nn = case["nn"]
    for row, c, t in zip(nn["rows"], nn["Control"], nn["Treated"]):
        if row == "All (ESS)":
            continue
        assert res.n.loc[row, "Control"] == pytest.approx(c, rel=1e-12)
        assert res.n.loc[row, "Treated"] == pytest.approx(t, rel=1e-12)


INT_CASES = [n for n in ARGS if not n.startswith("glm") and n not in REPEATS_BUG]
GLM_CASES = [n for n in ARGS if n.startswith("glm") and n not in REPEATS_BUG]


@pytest.mark.parametrize("name", sorted(REPEATS_BUG))
def test_replacement_with_ratio_above_one_reproduced_by_the_451_emulation(name):
    case, data, covs, args = _setup(name)
    _check_matching(case, data, _run(data, covs, **LEGACY, **args))


@pytest.mark.parametrize("name", sorted(REPEATS_BUG))
def test_replacement_with_ratio_above_one_differs_from_451_only_by_its_repeat_bug(name):
    case, data, covs, args = _setup(name)
    abs_mode = "int_trunc" if name.startswith("glm") else "exact"
    res = _run(data, covs, abs_mode=abs_mode, **args)
    r_mm = _r_match_matrix(case, args["ratio"])
    ours = _our_match_matrix(res)
    # R 4.5.1 repeats the first control in every round; we do not
    assert all(len(set(row)) == 1 for row in r_mm)
    assert all(len(set(c for c in row if c)) == len([c for c in row if c]) for row in ours)
    assert [row[0] for row in ours] == [row[0] for row in r_mm]
    assert res.n.loc["Matched", "Treated"] == case["nn"]["Treated"][3]


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("name", INT_CASES)
def test_integer_distance_cases_exact_and_451_emulation(name, legacy):
    """On integer distances the 4.5.1 defects are inert: MatchIt >= 4.5.4 logic agrees."""
    case, data, covs, args = _setup(name)
    res = _run(data, covs, **(LEGACY if legacy else {}), **args)
    _check_matching(case, data, res)


@pytest.mark.parametrize("name", GLM_CASES)
def test_glm_cases_with_451_emulation(name):
    case, data, covs, args = _setup(name)
    res = _run(data, covs, **LEGACY, **args)
    d_r = np.array(case["distance"], dtype=float)
    assert np.max(np.abs(res.distance.to_numpy() - d_r)) < 1e-10
    _check_matching(case, data, res)
    # matching alone, on R's own distance
    res_r = _run(data, covs, **LEGACY, **{**args, "distance": pd.Series(d_r, index=data.index)})
    _check_matching(case, data, res_r)


def test_glm_coefficients_agree():
    case, data, covs, _ = _setup("glm_r2_cal")
    res = _run(data, covs, ratio=2, caliper=0.2)
    coef = res.propensity.coefficients
    for term, value in coef.items():
        expected = float(case["glm_coefficients"][_r_name(term)])
        assert value == pytest.approx(expected, rel=1e-10, abs=1e-13), term


def test_aliased_subtype_dummy_reported_like_glm_na():
    """her2[Positive] = subtype[HR+/HER2+] + subtype[HR-/HER2+]: glm gives the later one NA."""
    case, data, covs, _ = _setup("glm_aliased_r1")
    res = _run(data, covs)
    fit = res.propensity
    assert fit.aliased == ["subtype[HR-/HER2+]"]
    assert case["glm_coefficients"]["subtypeHR-/HER2+"] is None
    assert np.isnan(fit.coefficients["subtype[HR-/HER2+]"])
    assert fit.table.loc["subtype[HR-/HER2+]", "note"].startswith("aliased")
    for term, value in fit.coefficients.drop("subtype[HR-/HER2+]").items():
        expected = float(case["glm_coefficients"][_r_name(term)])
        assert value == pytest.approx(expected, rel=1e-10, abs=1e-13), term
    d_r = np.array(case["distance"], dtype=float)
    assert np.max(np.abs(res.distance.to_numpy() - d_r)) < 1e-10


def test_bug_matters_in_glm_cases():
    """The emulation is not vacuous: the exact mode gives other matches on these data."""
    case, data, covs, args = _setup("glm_r2_cal")
    res = _run(data, covs, abs_mode="exact", **args)
    assert _our_match_matrix(res) != _r_match_matrix(case, 2)


def _compare_summary(ours: pd.DataFrame, r_rows: list[dict]) -> float:
    assert [_r_name(i) for i in ours.index] == [r["row"] for r in r_rows]
    worst = 0.0
    for name, r in zip(ours.index, r_rows):
        for col in ours.columns:
            expected = r[COLS[col]]
            got = ours.loc[name, col]
            if expected is None:
                assert np.isnan(got), (name, col)
                continue
            expected = float(expected)
            rel = abs(got - expected) / max(1.0, abs(expected))
            assert rel <= 1e-8, (name, col, got, expected)
            worst = max(worst, rel)
    return worst


@pytest.mark.parametrize("name", list(ARGS))
def test_balance_agrees_with_summary_matchit(name):
    case, data, covs, _ = _setup(name)
    d = pd.Series(np.array(case["distance"], dtype=float), index=data.index)
    w = pd.Series(np.array(case["weights"], dtype=float), index=data.index)
    ratio = ARGS[name]["ratio"]
    mm = pd.DataFrame(_r_match_matrix(case, ratio), index=[r["treated"] for r in
                                                           case["match_matrix"]],
                      columns=range(1, ratio + 1)).replace("", pd.NA)
    before = balance(data, "treat", covs, distance=d)
    _compare_summary(before, case["summary_all"])
    after = balance(data, "treat", covs, w, distance=d, match_matrix=mm)
    _compare_summary(after, case["summary_matched"])
