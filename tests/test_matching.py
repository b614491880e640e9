"""micromet.matching against MatchIt on lalonde (CRAN MatchIt >= 4.5.4 logic, METHODS.md 1.9).

Reference: tests/reference/matchit/lalonde/ (copied from the shared reference, build
``patched_std_abs``: MatchIt 4.5.1 with the std::abs fix = the logic of CRAN >= 4.5.4).
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from micromet.matching import (
    MatchingWarning,
    balance,
    balance_table,
    fit_propensity,
    match,
)

REF = Path(__file__).parent / "reference" / "matchit" / "lalonde"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
R_TERM = {"(Intercept)": "(Intercept)", "race[hispan]": "racehispan", "race[white]": "racewhite"}
R_ROW = {"race[black]": "raceblack", "race[hispan]": "racehispan", "race[white]": "racewhite"}
R_COL = {
    "mean_treated": "Means Treated",
    "mean_control": "Means Control",
    "smd": "Std. Mean Diff.",
    "var_ratio": "Var. Ratio",
    "ecdf_mean": "eCDF Mean",
    "ecdf_max": "eCDF Max",
    "pair_dist": "Std. Pair Dist.",
}


@pytest.fixture(scope="module")
def lalonde():
    return pd.read_csv(REF / "lalonde.csv", index_col="id")


@pytest.fixture(scope="module")
def r_weights():
    return pd.read_csv(REF / "weights_patched_std_abs.csv", index_col="id")


@pytest.fixture(scope="module")
def r_result():
    return json.loads((REF / "matchit_result_patched_std_abs.json").read_text())


@pytest.fixture(scope="module")
def r_match_matrix():
    return pd.read_csv(REF / "match_matrix_patched_std_abs.csv", index_col="treated")


def _quiet_match(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MatchingWarning)
        return match(*args, **kwargs)


def _as_strings(mm: pd.DataFrame) -> np.ndarray:
    return mm.astype(object).where(mm.notna(), "").to_numpy()


def test_matching_alone_on_saved_distance(lalonde, r_weights, r_match_matrix, r_result):
    res = _quiet_match(
        lalonde, "treat", COVS, ratio=2, caliper=0.2, distance=r_weights["distance"]
    )
    assert res.caliper == pytest.approx(r_result["caliper_on_distance_scale"], rel=1e-15)
    assert list(res.match_matrix.index) == list(r_match_matrix.index)
    assert (_as_strings(res.match_matrix) == _as_strings(r_match_matrix)).all()
    np.testing.assert_allclose(res.weights.to_numpy(), r_weights["weight"].to_numpy(),
                               rtol=0, atol=1e-14)


def test_glm_fit_agrees_with_r(lalonde, r_weights, r_result):
    fit = fit_propensity(lalonde, "treat", COVS)
    assert fit.converged
    for term, coef in fit.coefficients.items():
        expected = r_result["glm_coefficients"][R_TERM.get(term, term)]
        assert coef == pytest.approx(expected, rel=1e-10, abs=1e-14), term
    lp = fit.linear_predictor.to_numpy()
    assert np.max(np.abs(lp - r_weights["distance"].to_numpy())) < 1e-10
    assert np.max(np.abs(fit.fitted.to_numpy() - r_weights["ps"].to_numpy())) < 1e-10


def test_full_convergence_reaches_the_optimum(lalonde, r_weights):
    """glm stops ~3e-8 short of the optimum on lalonde; 'full' goes all the way."""
    full = fit_propensity(lalonde, "treat", COVS, convergence="full")
    gap = np.max(np.abs(full.linear_predictor.to_numpy() - r_weights["distance"].to_numpy()))
    assert 1e-9 < gap < 1e-7
    X = np.column_stack([np.ones(len(lalonde)), lalonde[["age", "educ"]].to_numpy(float)])
    mu = full.fitted.to_numpy()
    score = X.T @ (lalonde["treat"].to_numpy() - mu)
    assert np.max(np.abs(score)) < 1e-8


def test_full_pipeline_matches_matchit(lalonde, r_weights, r_match_matrix, r_result):
    with pytest.warns(MatchingWarning, match="68 of 185 treated units"):
        res = match(lalonde, "treat", COVS, ratio=2, caliper=0.2)
    assert np.max(np.abs(res.distance.to_numpy() - r_weights["distance"].to_numpy())) < 1e-10
    assert (_as_strings(res.match_matrix) == _as_strings(r_match_matrix)).all()
    np.testing.assert_allclose(res.weights.to_numpy(), r_weights["weight"].to_numpy(),
                               rtol=0, atol=1e-14)
    assert len(res.unmatched_treated) == 68
    assert res.unmatched_treated[:3] == ["NSW1", "NSW3", "NSW5"]
    # subclasses: the same partition as R's (labels differ: R sorts treated row numbers as text)
    r_sub = r_weights["subclass"]
    ours = res.subclass
    assert (ours.isna().to_numpy() == r_sub.isna().to_numpy()).all()
    pairs_r = {frozenset(g.index) for _, g in r_sub.dropna().groupby(r_sub.dropna())}
    pairs_o = {frozenset(g.index) for _, g in ours.dropna().groupby(ours.dropna())}
    assert pairs_r == pairs_o
    # sample sizes
    for row in r_result["sample_sizes"]:
        if row["row"] == "All (ESS)":
            continue
        for col in ("Control", "Treated"):
            assert res.n.loc[row["row"], col] == pytest.approx(row[col], rel=1e-14)
    assert set(res.matched.index) == set(res.weights.index[res.weights > 0])
    assert {"weights", "subclass", "distance"} <= set(res.matched.columns)


def _compare_summary(ours: pd.DataFrame, r_rows: list[dict], columns: list[str]):
    assert list(ours.index) == [
        {v: k for k, v in R_ROW.items()}.get(r["row"], r["row"]) for r in r_rows
    ]
    worst = 0.0
    for r in r_rows:
        name = {v: k for k, v in R_ROW.items()}.get(r["row"], r["row"])
        for col in columns:
            expected = r[R_COL[col]]
            got = ours.loc[name, col]
            if expected is None:
                assert np.isnan(got), (name, col)
            else:
                diff = abs(got - expected)
                assert diff <= 1e-8 * max(1.0, abs(expected)), (name, col, got, expected)
                worst = max(worst, diff / max(1.0, abs(expected)))
    return worst


def test_balance_all_and_matched_agree_with_summary_matchit(lalonde, r_weights, r_result,
                                                            r_match_matrix):
    res = _quiet_match(lalonde, "treat", COVS, ratio=2, caliper=0.2)
    before = balance(lalonde, "treat", COVS, distance=res.distance)
    cols = ["mean_treated", "mean_control", "smd", "var_ratio", "ecdf_mean", "ecdf_max"]
    assert list(before.columns) == cols
    _compare_summary(before, r_result["summary_all"], cols)
    after = balance(lalonde, "treat", COVS, res.weights, distance=res.distance,
                    match_matrix=res.match_matrix)
    _compare_summary(after, r_result["summary_matched"], [*cols, "pair_dist"])
    # the same from R's own weights and match matrix (separates balance from matching)
    after_r = balance(lalonde, "treat", COVS, r_weights["weight"],
                      distance=r_weights["distance"], match_matrix=r_match_matrix)
    _compare_summary(after_r, r_result["summary_matched"], [*cols, "pair_dist"])


def test_balance_table_side_by_side(lalonde, r_result):
    res = _quiet_match(lalonde, "treat", COVS, ratio=2, caliper=0.2)
    bt = balance_table(res, lalonde, "treat", COVS)
    assert bt.table.index[0] == "distance"
    assert {"smd_before", "smd_after", "var_ratio_after", "pair_dist_after"} <= set(
        bt.table.columns
    )
    smd_after = {r["row"]: r["Std. Mean Diff."] for r in r_result["summary_matched"]}
    assert bt.table.loc["age", "smd_after"] == pytest.approx(smd_after["age"], rel=1e-9)
    assert bt.n.loc["Matched", "Treated"] == 117


def test_propensity_model_carries_its_conditioning(lalonde):
    """Every propensity fit reports the scaled condition number and VIFs of its design (variance
    by Cholesky solves); lalonde's is well conditioned, a near-copy of a covariate is flagged."""
    from micromet.errors import UnstableWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", UnstableWarning)
        fit = fit_propensity(lalonde, "treat", COVS)
    assert fit.conditioning is not None and not fit.conditioning.unstable
    assert set(fit.conditioning.vif) == set(fit.coefficients.index[1:])
    assert all(v >= 1 for v in fit.conditioning.vif.values())
    rng = np.random.default_rng(3)
    near = lalonde.assign(age2=lalonde["age"] + rng.normal(0, 0.05, len(lalonde)))
    with pytest.warns(UnstableWarning, match=r"the propensity model is ill-conditioned.*age2"):
        bad = fit_propensity(near, "treat", [*COVS, "age2"])
    assert bad.conditioning.unstable and bad.conditioning.vif["age2"] > 10
