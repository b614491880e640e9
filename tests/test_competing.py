"""micromet.competing against cmprsk 2.2-11 (R 4.2.2): crr, cuminc, timepoints, Gray's test.

References in tests/reference/cmprsk/:
* results.json + data.csv: the shared worked example (METHODS 6);
* fixtures.json + fixtures_<name>.csv: made by make_cmprsk.R (heavy ties with times at 0, no
  censoring, three causes, K = 3 groups with strata and rho != 0, a categorical covariate, a
  singular Gray variance, strong effects, monthly times).
Tolerances are DESIGN's: cuminc and Gray's test 1e-8, crr 1e-6 relative.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from micromet.competing import (
    cuminc,
    fine_gray,
    gray_test,
    gray_tests,
    predict_cif,
    timepoints,
)

REF = Path(__file__).parent / "reference" / "cmprsk"
CRR_RTOL = 1e-6
CI_TOL = 1e-8

EXAMPLE = json.loads((REF / "results.json").read_text())
FIXTURES = json.loads((REF / "fixtures.json").read_text())
NAMES = [k for k, v in FIXTURES.items() if isinstance(v, dict)]


def _arr(x):
    return np.array([[np.nan if v is None else v for v in row] if isinstance(row, list)
                     else (np.nan if row is None else row) for row in np.atleast_1d(x)], dtype=float)


def rel_close(ours, ref, rtol=CRR_RTOL, floor=1e-12):
    ours = np.asarray(ours, float)
    ref = np.asarray(ref, float)
    assert ours.shape == ref.shape
    scale = np.maximum(np.abs(ref), floor)
    worst = np.max(np.abs(ours - ref) / scale) if ref.size else 0.0
    assert worst <= rtol, f"largest relative difference {worst:.3g} > {rtol:g}"


@pytest.fixture(scope="module")
def example():
    return pd.read_csv(REF / "data.csv", float_precision="round_trip")


def fixture_data(name):
    return pd.read_csv(REF / f"fixtures_{name}.csv", float_precision="round_trip")


# ------------------------------------------------------------------------------------------
# crr on the worked example
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cause", [1, 2])
def test_crr_example(example, cause):
    R = EXAMPLE[f"crr_cause{cause}"]
    fit = fine_gray(example, "ftime", "fstatus", ["x1", "x2"], cause=cause)
    assert fit.converged is True
    rel_close(fit.coef.to_numpy(), [R["coef"]["x1"], R["coef"]["x2"]])
    rel_close(fit.table["se"].to_numpy(), R["se"])
    rel_close(fit.var.to_numpy(), R["var"])
    rel_close(fit.loglik, R["loglik"])
    rel_close(fit.table["p"].to_numpy(), [R["p_value_raw"]["x1"], R["p_value_raw"]["x2"]])
    assert list(fit.table.columns) == ["coef", "se", "hr", "lower", "upper", "p"]
    assert list(fit.table.index) == ["x1", "x2"]


TRUNCATED = pytest.mark.filterwarnings("ignore:Fine-Gray.*did not converge:RuntimeWarning")


@TRUNCATED
def test_crr_example_details(example):
    R = EXAMPLE["crr_cause1"]
    fit = fine_gray(example, "ftime", "fstatus", ["x1", "x2"], cause=1)
    rel_close(fit.loglik_null, R["loglik_null"])
    rel_close(fit.pseudo_lrt, R["pseudo_LRT"], rtol=1e-6)
    rel_close(fit.info, R["inf"])
    # crr stops with a tiny but non-zero score: compare it absolutely on the loglik scale
    assert np.max(np.abs(fit.score - np.array(R["score_at_fit"]))) < 1e-6
    np.testing.assert_array_equal(fit.uftime, R["uftime"])
    rel_close(fit.bfitj, R["bfitj"])
    z = fit.coef / fit.table.loc[fit.terms, "se"]
    rel_close(z.to_numpy(), [R["z"]["x1"], R["z"]["x2"]])
    # Newton path: coef after k steps, crr(..., maxiter = k)
    for step in R["newton_path"]:
        k = step["maxiter"]
        short = fine_gray(example, "ftime", "fstatus", ["x1", "x2"], maxiter=k, variance=False)
        assert short.converged == step["converged"], k
        if k > 0:
            rel_close(short.coef.to_numpy(), step["coef"])
        rel_close(short.loglik, step["loglik"])
        rel_close(short.score, step["score"], rtol=1e-6, floor=1e-3)
    assert fit.n_iter == 3
    pred = predict_cif(fit, pd.DataFrame({"x1": [0.0, 1.0], "x2": [0, 1]}))
    rel_close(pred.iloc[:, 0].to_numpy(), R["predict_cif"]["cov_00"])
    rel_close(pred.iloc[:, 1].to_numpy(), R["predict_cif"]["cov_11"])
    np.testing.assert_array_equal(pred.index.to_numpy(), R["predict_cif"]["times"])


# ------------------------------------------------------------------------------------------
# cuminc / timepoints / Gray on the worked example
# ------------------------------------------------------------------------------------------


def _curve(ci, group, cause):
    return ci[(ci["group"] == group) & (ci["cause"] == cause)]


def _check_curves(ci, ref_curves, group_of):
    assert len(ref_curves) == ci.groupby(["group", "cause"]).ngroups
    for name, cur in ref_curves.items():
        g, c = name.split()
        ours = _curve(ci, group_of(g), int(c))
        np.testing.assert_array_equal(ours["time"].to_numpy(), _arr(cur["time"]))
        np.testing.assert_allclose(ours["estimate"].to_numpy(), _arr(cur["est"]), rtol=0,
                                   atol=CI_TOL)
        np.testing.assert_allclose(ours["variance"].to_numpy(), _arr(cur["var"]), rtol=0,
                                   atol=CI_TOL)


def _check_timepoints(ci, ref, group_of):
    tp = timepoints(ci, ref["times"])
    names = ref.get("est_rownames", ref.get("rownames"))
    est = _arr(ref["est"])
    var = _arr(ref["var"])
    for row, name in enumerate(names):
        g, c = name.split()
        ours = _curve(tp, group_of(g), int(c))
        np.testing.assert_array_equal(ours["time"].to_numpy(), np.asarray(ref["times"], float))
        np.testing.assert_allclose(ours["estimate"].to_numpy(), est[row], rtol=0, atol=CI_TOL)
        np.testing.assert_allclose(ours["variance"].to_numpy(), var[row], rtol=0, atol=CI_TOL)
        np.testing.assert_array_equal(np.isnan(ours["estimate"].to_numpy()), np.isnan(est[row]))


def test_cuminc_example_by_group(example):
    ref = EXAMPLE["cuminc_by_x2"]
    ci = cuminc(example, "ftime", "fstatus", group="x2")
    # cmprsk's curve order: cause outer, group inner
    order = list(dict.fromkeys(zip(ci["group"], ci["cause"])))
    assert order == [(0, 1), (1, 1), (0, 2), (1, 2)]
    _check_curves(ci, ref["curves"], int)
    _check_timepoints(ci, ref["timepoints"], int)


def test_cuminc_example_overall(example):
    ref = EXAMPLE["cuminc_overall"]
    ci = cuminc(example, "ftime", "fstatus")
    _check_curves(ci, ref["curves"], lambda g: "all")
    _check_timepoints(ci, ref["timepoints"], lambda g: "all")


def test_gray_example(example):
    ref = EXAMPLE["cuminc_by_x2"]["tests"]
    for cause in (1, 2):
        res = gray_test(example, "ftime", "fstatus", "x2", cause=cause)
        r = ref[f"cause{cause}"]
        assert res.df == 1
        assert abs(res.statistic - r["stat"]) <= CI_TOL * max(1, abs(r["stat"]))
        assert abs(res.p_value - r["pv"]) <= CI_TOL
    table = gray_tests(example, "ftime", "fstatus", "x2")
    assert list(table.columns) == ["stat", "pv", "df"]
    np.testing.assert_allclose(table["stat"], [ref["cause1"]["stat"], ref["cause2"]["stat"]],
                               rtol=CI_TOL)
    attrs = cuminc(example, "ftime", "fstatus", group="x2").attrs["tests"]
    pd.testing.assert_frame_equal(attrs, table)


def test_cuminc_jumps_layout_and_timepoints(example):
    steps = cuminc(example, "ftime", "fstatus", group="x2")
    jumps = cuminc(example, "ftime", "fstatus", group="x2", layout="jumps")
    times = np.linspace(-1, 16, 69)
    a = timepoints(steps, times)
    b = timepoints(jumps, times)
    pd.testing.assert_frame_equal(a, b)
    # jumps: one row at 0, then one per event time of the cause
    j01 = _curve(jumps, 0, 1)
    assert j01["time"].iloc[0] == 0 and j01["estimate"].iloc[0] == 0
    assert np.all(np.diff(j01["time"].to_numpy()) > 0)


# ------------------------------------------------------------------------------------------
# the make_cmprsk.R fixtures
# ------------------------------------------------------------------------------------------


@TRUNCATED
@pytest.mark.parametrize("name", NAMES)
def test_crr_fixtures(name):
    R = FIXTURES[name]
    data = fixture_data(name)
    for key, ref in R["crr"].items():
        cause = int(key.removeprefix("cause"))
        fit = fine_gray(data, "ftime", "fstatus", ["x1", "x2"], cause=cause)
        assert fit.converged == ref["converged"]
        rel_close(fit.coef.to_numpy(), ref["coef"])
        rel_close(fit.var.to_numpy(), ref["var"])
        rel_close(fit.table["se"].to_numpy(), ref["se"])
        rel_close(fit.table["p"].to_numpy(), ref["p_value_raw"])
        rel_close(fit.info, ref["inf"])
        rel_close(fit.loglik, ref["loglik"])
        rel_close(fit.loglik_null, ref["loglik_null"])
        np.testing.assert_array_equal(fit.uftime, np.atleast_1d(ref["uftime"]))
        rel_close(fit.bfitj, np.atleast_1d(ref["bfitj"]))
        newdata = pd.DataFrame(np.array(ref["predict_newdata"]), columns=["x1", "x2"])
        rel_close(predict_cif(fit, newdata).to_numpy(), np.array(ref["predict_cif"]))
        for step in ref.get("newton_path", []):
            short = fine_gray(data, "ftime", "fstatus", ["x1", "x2"], cause=cause,
                              maxiter=step["maxiter"], variance=False)
            assert short.converged == step["converged"]
            rel_close(short.coef.to_numpy(), step["coef"], floor=1e-8)
            rel_close(short.loglik, step["loglik"])


@pytest.mark.parametrize("name", NAMES)
def test_crr_categorical_fixtures(name):
    ref = FIXTURES[name]["crr_stage"]
    data = fixture_data(name)
    fit = fine_gray(data, "ftime", "fstatus", ["x1", "stage", "x2"], cause=1)
    assert fit.terms == ["x1", "stage[II]", "stage[III]", "x2"]
    assert ref["terms"] == ["x1", "stageII", "stageIII", "x2"]
    rel_close(fit.coef.to_numpy(), ref["coef"])
    rel_close(fit.var.to_numpy(), ref["var"])
    rel_close(fit.loglik, ref["loglik"])
    # predict with a model matrix row: recover stage from the dummies
    nd = np.array(ref["predict_newdata"])
    rows = pd.DataFrame({"x1": nd[:, 0], "x2": nd[:, 3],
                         "stage": np.where(nd[:, 2] == 1, "III", np.where(nd[:, 1] == 1, "II", "I"))})
    integer_rows = np.all((nd[:, 1:3] == 0) | (nd[:, 1:3] == 1), axis=1) & (nd[:, 1:3].sum(1) <= 1)
    pred = predict_cif(fit, rows).to_numpy()
    rel_close(pred[:, integer_rows], np.array(ref["predict_cif"])[:, integer_rows])


@pytest.mark.parametrize("name", NAMES)
def test_cuminc_fixtures(name):
    R = FIXTURES[name]
    data = fixture_data(name)
    ci = cuminc(data, "ftime", "fstatus")
    _check_curves(ci, R["cuminc_overall"]["curves"], lambda g: "all")
    _check_timepoints(ci, R["cuminc_overall"]["timepoints"], lambda g: "all")
    if "cuminc_grp" in R:
        ci = cuminc(data, "ftime", "fstatus", group="grp")
        _check_curves(ci, R["cuminc_grp"]["curves"], int)
        _check_timepoints(ci, R["cuminc_grp"]["timepoints"], int)
        ref = R["cuminc_grp"]["tests"]
        tests = ci.attrs["tests"]
        assert [str(c) for c in tests.index] == ref["cause"]
        np.testing.assert_allclose(tests["stat"], ref["stat"], rtol=CI_TOL, atol=CI_TOL)
        np.testing.assert_allclose(tests["pv"], ref["pv"], rtol=0, atol=CI_TOL)
        np.testing.assert_array_equal(tests["df"], ref["df"])


GRAY_CASES = [
    ("gray_x2", dict(group="x2")),
    ("gray_grp_strata", dict(group="grp", strata="stratum")),
    ("gray_grp_strata_rho1", dict(group="grp", strata="stratum", rho=1.0)),
    ("gray_grp_rho_m05", dict(group="grp", rho=-0.5)),
]


GRAY_PARAMS = [(name, key, kw) for name in NAMES for key, kw in GRAY_CASES if key in FIXTURES[name]]


@pytest.mark.parametrize("name,key,kw", GRAY_PARAMS, ids=[f"{n}-{k}" for n, k, _ in GRAY_PARAMS])
def test_gray_fixtures(name, key, kw):
    ref = FIXTURES[name][key]
    data = fixture_data(name)
    table = gray_tests(data, "ftime", "fstatus", **kw)
    np.testing.assert_allclose(table["stat"], ref["stat"], rtol=CI_TOL, atol=CI_TOL)
    np.testing.assert_allclose(table["pv"], ref["pv"], rtol=0, atol=CI_TOL)
    np.testing.assert_array_equal(table["df"], ref["df"])
    for cause, stat in zip(ref["cause"], ref["stat"]):
        one = gray_test(data, "ftime", "fstatus", cause=int(cause), **kw)
        assert abs(one.statistic - stat) <= CI_TOL * max(1, abs(stat))


def test_gray_singular_reports_minus_one():
    ref = FIXTURES["singular"]["cuminc_grp"]["tests"]
    assert ref["stat"] == [-1, -1]
    res = gray_test(fixture_data("singular"), "ftime", "fstatus", "grp", cause=1)
    assert res.statistic == -1 and res.p_value == 1 and res.df == 2


def test_fixture_coverage():
    """The fixtures hold what their names promise (ties at 0, three causes, K = 3, ...)."""
    ties = fixture_data("ties")
    assert (ties["ftime"] == 0).any() and ((ties["ftime"] == 0) & (ties["fstatus"] == 0)).any()
    assert ties["grp"].nunique() == 3
    assert (fixture_data("nocens")["fstatus"] != 0).all()
    assert set(fixture_data("three_causes")["fstatus"]) == {0, 1, 2, 3}
    assert fixture_data("strata")["stratum"].nunique() == 3
    assert fixture_data("monthly")["ftime"].max() == 59


def test_variance_right_above_crr_overflow(example):
    """crr's variance overflows 32-bit integers above 46,340 at risk (METHODS 2.6); ours must not.

    Replicating the example 250 times (n = 50,000) leaves Ĝ, the coefficients and every η_i, ψ_i
    unchanged while Ω and Σ(η+ψ)(η+ψ)' grow 250-fold, so the right variance is crr's / 250.
    """
    big = pd.concat([example] * 250, ignore_index=True)
    fit = fine_gray(big, "ftime", "fstatus", ["x1", "x2"], cause=1)
    R = EXAMPLE["crr_cause1"]
    rel_close(fit.coef.to_numpy(), [R["coef"]["x1"], R["coef"]["x2"]])
    rel_close(fit.var.to_numpy() * 250, R["var"], rtol=1e-9)


@TRUNCATED
@pytest.mark.parametrize("name", NAMES)
def test_crr_backtracking_path(name):
    """Started at (3, 3), Newton overshoots and crr halves its steps (Armijo, METHODS 2.5): the
    coefficients after every k = 0..6 steps agree with crr(..., init = c(3, 3), maxiter = k)."""
    ref = FIXTURES[name]["crr_init"]
    data = fixture_data(name)
    fit = fine_gray(data, "ftime", "fstatus", ["x1", "x2"], init=ref["init"])
    assert fit.converged == ref["converged"]
    rel_close(fit.coef.to_numpy(), ref["coef"])
    rel_close(fit.var.to_numpy(), ref["var"])
    for step in ref["newton_path"]:
        short = fine_gray(data, "ftime", "fstatus", ["x1", "x2"], init=ref["init"],
                          maxiter=step["maxiter"], variance=False)
        assert short.converged == step["converged"]
        rel_close(short.coef.to_numpy(), step["coef"])
        rel_close(short.loglik, step["loglik"])


def test_backtracking_happens(monkeypatch):
    """The init = (3, 3) fixtures do exercise the step halving (more line-search evaluations
    than Newton steps), so the test above covers it."""
    import micromet.competing.finegray as competing

    calls = []
    real = competing._fg_eval

    def counting(D, beta, need="all"):
        calls.append(need)
        return real(D, beta, need)

    monkeypatch.setattr(competing, "_fg_eval", counting)
    fit = fine_gray(fixture_data("ties"), "ftime", "fstatus", ["x1", "x2"], init=[3, 3])
    line_search = calls.count("f") - 1  # minus the null log-likelihood
    assert line_search > fit.n_iter
