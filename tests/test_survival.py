"""micromet.survival against survival 3.5-3 (fixtures: tests/reference/survival/make_survival.R)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from micromet import survival as sv
from micromet.errors import InputError, NotEstimableWarning

REF_DIR = Path(__file__).parent / "reference" / "survival"
REF = json.loads((REF_DIR / "survival_reference.json").read_text())
COX_RTOL = 1e-6
LOGRANK_TOL = 1e-8


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(REF_DIR / "survival_data.csv")


def _vec(x):
    return np.atleast_1d(np.asarray(x, dtype=float))


def _r_term(term):
    """R's coefficient name for our term name: grade[III] -> gradeIII."""
    return term.replace("[", "").replace("]", "")


FULL = ["age", "size", "grade", "subtype", "group"]
COX_CASES = {
    "efron": dict(covariates=FULL),
    "breslow": dict(covariates=FULL, ties="breslow"),
    "efron_cause": dict(covariates=["age", "grade", "group"], event="cause"),
    "continuous": dict(covariates=["age", "size", "grade", "group"], duration="time_c"),
    "age_only": dict(covariates=["age"]),
    "subtype_only": dict(covariates=["subtype"]),
    "weights": dict(covariates=["age", "grade", "group"], weights="w"),
    "weights_int": dict(covariates=["age", "grade", "group"], weights="wi"),
    "weights_breslow": dict(covariates=["age", "grade", "group"], weights="w", ties="breslow"),
    "cluster": dict(covariates=["age", "size", "grade", "group"], cluster="set"),
    "cluster_breslow": dict(covariates=["age", "size", "grade", "group"], cluster="set",
                            ties="breslow"),
    "robust_rows": dict(covariates=["age", "grade", "group"], robust=True),
    "strata": dict(covariates=["age", "size", "grade", "group"], strata="st"),
    "strata_cluster_weights": dict(covariates=["age", "size", "grade", "group"], strata="st",
                                   weights="w", cluster="set"),
    "matched_strata": dict(covariates=["age", "grade", "group"], strata="set"),
}


def _fit(data, case):
    spec = dict(COX_CASES[case])
    duration = spec.pop("duration", "time")
    event = spec.pop("event", "status")
    covariates = spec.pop("covariates")
    return sv.cox(data, duration, event, covariates, **spec)


@pytest.mark.parametrize("case", list(COX_CASES))
def test_cox_agrees_with_coxph(data, case):
    fit = _fit(data, case)
    ref = REF["cox"][case]
    t = fit.table
    assert [_r_term(x) for x in t.index] == list(np.atleast_1d(ref["terms"]))
    np.testing.assert_allclose(t["coef"], _vec(ref["coef"]), rtol=COX_RTOL)
    assert fit.robust == ref["robust"]
    if ref["robust"]:
        np.testing.assert_allclose(t["robust_se"], _vec(ref["se"]), rtol=COX_RTOL)
        np.testing.assert_allclose(t["se"], _vec(ref["naive_se"]), rtol=COX_RTOL)
    else:
        assert "robust_se" not in t.columns
        np.testing.assert_allclose(t["se"], _vec(ref["se"]), rtol=COX_RTOL)
    np.testing.assert_allclose([fit.loglik_null, fit.loglik], ref["loglik"], rtol=1e-10)
    assert fit.converged
    assert fit.iterations == ref["iter"]
    assert fit.n == ref["n"] and fit.n_events == ref["nevent"]
    # the confidence interval and p use the reported (robust when robust) standard error
    se = t["robust_se"] if ref["robust"] else t["se"]
    np.testing.assert_allclose(t["lower"], np.exp(t["coef"] - 1.959963984540054 * se))
    z = t["coef"] / se
    from scipy.stats import norm

    np.testing.assert_allclose(t["p"], 2 * norm.sf(np.abs(z)), rtol=1e-10)


def test_cox_efron_and_breslow_differ_with_ties(data):
    e, b = _fit(data, "efron"), _fit(data, "breslow")
    assert np.max(np.abs(e.table["coef"] - b.table["coef"])) > 1e-4


LOGRANK_CASES = {
    "group": dict(group="group"),
    "subtype": dict(group="subtype"),
    "grade_strata": dict(group="grade", strata="st"),
    "subtype_rho1": dict(group="subtype", rho=1),
    "group_cause": dict(group="group", event="cause"),
    "group_continuous": dict(group="group", duration="time_c"),
}


@pytest.mark.parametrize("case", list(LOGRANK_CASES))
def test_logrank_agrees_with_survdiff(data, case):
    spec = dict(LOGRANK_CASES[case])
    res = sv.logrank(data, spec.pop("duration", "time"), spec.pop("event", "status"),
                     spec.pop("group"), **spec)
    ref = REF["survdiff"][case]
    assert abs(res.statistic - ref["chisq"]) <= LOGRANK_TOL * max(1.0, ref["chisq"])
    assert res.df == ref["df"]
    assert abs(res.p_value - ref["p"]) <= LOGRANK_TOL
    np.testing.assert_allclose(res.table["observed"], ref["obs"], atol=LOGRANK_TOL)
    np.testing.assert_allclose(res.table["expected"], ref["exp"], atol=LOGRANK_TOL)
    np.testing.assert_allclose(res.variance.ravel(order="F"), ref["var"], atol=LOGRANK_TOL)
    np.testing.assert_array_equal(res.table["n"], ref["n"])


def test_km_agrees_with_survfit(data):
    tab = sv.km(data, "time", "status", "group")
    ref = REF["km"]
    assert ref["conf_type"] == "log"
    assert list(tab["group"]) == ref["group"]
    np.testing.assert_array_equal(tab["time"], ref["time"])
    for ours, theirs in [("n_risk", "n_risk"), ("n_event", "n_event"), ("n_censor", "n_censor")]:
        np.testing.assert_array_equal(tab[ours], ref[theirs])
    np.testing.assert_allclose(tab["survival"], ref["surv"], rtol=1e-12)
    std_err = np.array(ref["std_err"], dtype=float)  # survfit: se of log S
    np.testing.assert_allclose(tab["se"], tab["survival"] * std_err, rtol=1e-12)
    np.testing.assert_allclose(tab["lower"], np.array(ref["lower"], float), rtol=1e-12)
    np.testing.assert_allclose(tab["upper"], np.array(ref["upper"], float), rtol=1e-12)


def test_survival_at_agrees_with_summary_survfit(data):
    at = sv.survival_at(sv.km(data, "time", "status", "group"), times=[0.5, 12, 36, 60])
    ref = REF["km"]["at"]
    assert list(at["group"]) == ref["group"]
    np.testing.assert_array_equal(at["time"], ref["time"])
    np.testing.assert_array_equal(at["n_risk"], ref["n_risk"])
    np.testing.assert_array_equal(at["n_event"], ref["n_event"])
    np.testing.assert_allclose(at["survival"], ref["surv"], rtol=1e-12)
    np.testing.assert_allclose(at["se"], ref["std_err"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(at["lower"], ref["lower"], rtol=1e-12)
    np.testing.assert_allclose(at["upper"], ref["upper"], rtol=1e-12)


def test_survival_after_last_follow_up_is_nan(data):
    at = sv.survival_at(sv.km(data, "time", "status"), times=[12, 61])
    assert np.isfinite(at["survival"].iloc[0]) and np.isnan(at["survival"].iloc[1])


def test_median_followup_is_reverse_km_quantile(data):
    fu = sv.median_followup(data, "time", "status")
    assert [fu.q1, fu.median, fu.q3] == REF["followup"]["quantile"]
    assert fu.maximum == REF["followup"]["max"]


def test_quantile_on_a_flat_stretch_is_a_midpoint_like_survfit():
    ref = REF["quantile_flat"]
    tiny = pd.DataFrame({"t": ref["time"], "s": ref["status"]})
    tab = sv.km(tiny, "t", "s")
    got = [sv._quantile_from_curve(tab["time"].to_numpy(), tab["survival"].to_numpy(), q)
           for q in (0.25, 0.5, 0.75)]
    assert got == ref["quantile"]


def test_numbers_at_risk_counts_follow_up_at_least_t(data):
    nar = sv.numbers_at_risk(data, "time", "status", "group", [0, 12, 60, 61])
    for g in ["M0", "M0(i+)"]:
        t = data.loc[data["group"] == g, "time"]
        assert list(nar.loc[g]) == [int((t >= x).sum()) for x in [0, 12, 60, 61]]
    at = sv.survival_at(sv.km(data, "time", "status", "group"), [12])
    assert list(at["n_risk"]) == list(nar[12])


# ------------------------------------------------------------------ monotone likelihood


def test_level_without_events_is_not_estimable_and_the_rest_is_fitted(data):
    d = data.copy()
    d["her2"] = np.where((d["status"] == 0) & (d.index % 5 == 0), "Positive", "Negative")
    with pytest.warns(NotEstimableWarning, match="no events among patients with her2"):
        fit = sv.cox(d, "time", "status", ["age", "her2"])
    assert fit.not_estimable["her2[Positive]"].startswith("not estimable: no events among")
    assert fit.table.loc["her2[Positive]"].isna().all()
    ref = REF["cox"]["age_only"]  # the model without the non-estimable term
    np.testing.assert_allclose(fit.table.loc["age", "coef"], ref["coef"], rtol=COX_RTOL)
    np.testing.assert_allclose(fit.table.loc["age", "se"], ref["se"], rtol=COX_RTOL)


def test_continuous_perfect_predictor_is_not_estimable(data):
    d = data.copy()
    rng = np.random.default_rng(1)
    # every event has the highest marker of those still at risk (continuous times: no ties)
    d["marker"] = np.where(d["status"] == 1, 100 - d["time_c"], -1000 + rng.normal(size=len(d)))
    with pytest.warns(NotEstimableWarning, match="marker separates the events"):
        fit = sv.cox(d, "time_c", "status", ["age", "marker"])
    assert "marker" in fit.not_estimable and fit.table.loc["marker"].isna().all()
    alone = sv.cox(d, "time_c", "status", ["age"])
    np.testing.assert_allclose(fit.table.loc["age"], alone.table.loc["age"])
    # with monthly times the tied deaths keep the estimate finite but huge: coxph runs out of
    # iterations and warns "one or more coefficients may be infinite"; so do we
    with pytest.warns(NotEstimableWarning, match="marker grows without bound"):
        fit = sv.cox(d, "time", "status", ["age", "marker"])
    np.testing.assert_allclose(fit.table.loc["age", "coef"], REF["cox"]["age_only"]["coef"],
                               rtol=COX_RTOL)


def test_separation_by_a_combination_is_caught_before_the_fit():
    rng = np.random.default_rng(3)
    x1, x2, x3 = rng.normal(size=(3, 200))
    d = pd.DataFrame({"t": 10 * np.exp(-(x1 + x2)), "e": rng.random(200) < 0.7,
                      "x1": x1, "x2": x2, "x3": x3})
    assert sv.separation_check(d[["x1", "x2", "x3"]], d["e"], time=d["t"]) == {}
    # no single term separates the events (above); x1 + x2 does: the linear-programming check
    with pytest.warns(NotEstimableWarning, match="x1 and x2 cannot be estimated together.*"
                                                 "linear programming"):
        fit = sv.cox(d, "t", "e", ["x1", "x2", "x3"])
    assert set(fit.not_estimable) == {"x1", "x2"}
    alone = sv.cox(d, "t", "e", ["x3"])
    np.testing.assert_allclose(fit.table.loc["x3", "coef"], alone.table.loc["x3", "coef"])


def test_ordinary_fit_with_small_scale_covariate_is_not_flagged(data):
    d = data.copy()
    d["age_centuries"] = d["age"] / 100.0  # coefficient ~ 2.8 per century: large but finite
    d["age_millennia"] = d["age"] / 1000.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotEstimableWarning)
        fit = sv.cox(d, "time", "status", ["age_millennia"])
    np.testing.assert_allclose(fit.table.loc["age_millennia", "coef"],
                               1000 * REF["cox"]["age_only"]["coef"], rtol=COX_RTOL)


def test_aliased_terms_are_dropped_and_reported(data):
    d = data.copy()
    d["age2"] = d["age"] * 2
    fit = sv.cox(d, "time", "status", ["age", "age2"])
    assert "age2" in fit.dropped and fit.table.loc["age2"].isna().all()


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("func", ["cox", "logrank", "km"])
def test_missing_column_names_the_column(data, func):
    with pytest.raises(InputError, match="column 'nope'"):
        if func == "cox":
            sv.cox(data, "nope", "status", ["age"])
        elif func == "logrank":
            sv.logrank(data, "time", "status", "nope")
        else:
            sv.km(data, "time", "nope")


def test_non_numeric_time_names_row_and_value(data):
    d = data.head(20).copy()
    d["time"] = d["time"].astype(object)
    d.loc[7, "time"] = "abc"
    with pytest.raises(InputError, match=r"column 'time', row 7, value 'abc'") as err:
        sv.cox(d, "time", "status", ["age"])
    assert err.value.row == 7 and err.value.column == "time"


def test_negative_time_is_an_error(data):
    d = data.head(20).copy()
    d.loc[3, "time"] = -1
    with pytest.raises(InputError, match="negative"):
        sv.logrank(d, "time", "status", "group")
    with pytest.raises(InputError, match="row 3"):
        sv.km(d, "time", "status")


def test_missing_covariate_value_and_bad_weights(data):
    d = data.head(50).copy()
    d.loc[4, "age"] = np.nan
    with pytest.raises(InputError, match="column 'age', row 4"):
        sv.cox(d, "time", "status", ["age"])
    d = data.head(50).copy()
    d.loc[5, "w"] = -1.0
    with pytest.raises(InputError, match="weights"):
        sv.cox(d, "time", "status", ["age"], weights="w")
    with pytest.raises(InputError, match="ties"):
        sv.cox(data, "time", "status", ["age"], ties="exact")


def test_index_labels_are_kept_in_row_errors(data):
    d = data.head(10).copy()
    d.index = [f"p{i}" for i in range(10)]
    d.loc["p4", "status"] = np.nan
    with pytest.raises(InputError, match="row p4"):
        sv.cox(d, "time", "status", ["age"])


# ------------------------------------------------------------------ independent checks


def _cox_quadratic_reference(t, d, X, beta, ties):
    """O(n^2) Efron/Breslow log-likelihood written directly from the formula (tests only)."""
    eta = X @ beta
    ll = 0.0
    for tt in np.unique(t[d == 1]):
        dead = (t == tt) & (d == 1)
        risk = t >= tt
        m = dead.sum()
        s0 = np.exp(eta[risk]).sum()
        d0 = np.exp(eta[dead]).sum()
        ll += eta[dead].sum()
        for k in range(m):
            frac = k / m if ties == "efron" else 0.0
            ll -= np.log(s0 - frac * d0)
    return ll


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_loglik_matches_quadratic_formula(data, ties):
    fit = sv.cox(data, "time", "status", ["age", "size"], ties=ties)
    X = data[["age", "size"]].to_numpy(float)
    ll = _cox_quadratic_reference(data["time"].to_numpy(float), data["status"].to_numpy(),
                                  X, fit.table["coef"].to_numpy(), ties)
    assert abs(ll - fit.loglik) < 1e-9 * abs(ll)


def test_timefix_merges_near_equal_times():
    t = np.array([1.0, 1.0 + 1e-13, 2.0, 3.0])
    out = sv.timefix(t)
    assert out[0] == out[1] == 1.0 and list(out[2:]) == [2.0, 3.0]


# ------------------------------------------------------------------ edge cases


def test_null_model_has_the_null_loglik(data):
    fit = sv.cox(data, "time", "status", [])
    assert fit.table.empty and fit.converged
    assert fit.loglik == fit.loglik_null
    np.testing.assert_allclose(fit.loglik, REF["cox"]["age_only"]["loglik"][0], rtol=1e-12)


def test_no_events_is_an_input_error(data):
    d = data.assign(status=0)
    with pytest.raises(InputError, match="no events"):
        sv.cox(d, "time", "status", ["age"])
    res = sv.logrank(d, "time", "status", "group")
    assert res.statistic == 0 and res.df == 0 and np.isnan(res.p_value)


def test_constant_covariate_is_dropped(data):
    fit = sv.cox(data.assign(const=1.0), "time", "status", ["age", "const"])
    assert fit.dropped == {"const": "constant: no variation in the data"}
    assert fit.table.loc["const"].isna().all()
    np.testing.assert_allclose(fit.table.loc["age", "coef"], REF["cox"]["age_only"]["coef"],
                               rtol=COX_RTOL)


def test_km_confidence_limits_undefined_where_survival_is_zero():
    tiny = pd.DataFrame({"t": [1, 2, 3, 3], "e": [1, 0, 1, 1]})
    tab = sv.km(tiny, "t", "e")
    assert list(tab["survival"]) == [0.75, 0.75, 0.0]
    assert np.isnan(tab["lower"].iloc[-1]) and np.isnan(tab["upper"].iloc[-1])


def test_logrank_needs_two_groups(data):
    with pytest.raises(InputError, match="two groups"):
        sv.logrank(data.assign(one="x"), "time", "status", "one")


def test_explicit_robust_false_with_cluster_gives_model_variance(data):
    fit = sv.cox(data, "time", "status", ["age", "size", "grade", "group"], cluster="set",
                 robust=False)
    assert not fit.robust and "robust_se" not in fit.table.columns
    np.testing.assert_allclose(fit.table["se"], REF["cox"]["cluster"]["naive_se"], rtol=COX_RTOL)


def test_boolean_event_and_input_order_do_not_matter(data):
    shuffled = data.sample(frac=1.0, random_state=5).assign(dead=lambda x: x["status"] == 1)
    fit = sv.cox(shuffled, "time", "dead", FULL)
    np.testing.assert_allclose(fit.table["coef"], REF["cox"]["efron"]["coef"], rtol=COX_RTOL)


def test_term_constant_within_strata_is_aliased_like_coxph(data):
    # coxph(Surv(time, status) ~ age + size + grade + group + strata(grade)) prints gradeIII NA
    fit = sv.cox(data, "time", "status", ["age", "size", "grade", "group"], strata="grade")
    assert fit.dropped["grade[III]"].startswith("aliased: no variation within the strata")
    assert fit.table.loc["grade[III]"].isna().all()
    again = sv.cox(data, "time", "status", ["age", "size", "group"], strata="grade")
    pd.testing.assert_frame_equal(fit.table.drop(index="grade[III]"), again.table)


def test_separation_check_without_time_is_the_binary_check(data):
    # the form Fine-Gray reuses: X and the event indicator only
    X = pd.DataFrame({"lvl": (data["status"] == 0) & (data.index % 4 == 0),
                      "all": data["status"] == 1}).astype(float)
    out = sv.separation_check(X, data["status"])
    assert out["lvl"].startswith("not estimable: no events among patients with lvl")
    assert out["all"].startswith("not estimable: all events are among patients with all")


def test_separation_within_strata_is_found(data):
    # within each stratum the events have the largest marker still at risk, overall they do not
    d = data.copy()
    shift = np.where(d["st"] == "s1", 0.0, 1000.0)
    d["marker"] = shift + np.where(d["status"] == 1, 100 - d["time_c"], -500)
    X = d[["marker"]]
    assert "marker" not in sv.separation_check(X, d["status"], time=d["time_c"])
    found = sv.separation_check(X, d["status"], time=d["time_c"], strata=d["st"])
    assert "marker" in found


def test_numbers_at_risk_overall(data):
    nar = sv.numbers_at_risk(data, "time", "status", times=[0, 30])
    assert list(nar.index) == ["All"]
    assert list(nar.loc["All"]) == [len(data), int((data["time"] >= 30).sum())]


def test_an_event_column_coded_1_2_as_surv_reads_it_is_refused_not_counted_as_all_events():
    import pandas as pd

    from micromet.errors import InputError
    from micromet.survival import cox, km, logrank

    data = pd.DataFrame({"t": [1.0, 2, 3, 4, 5, 6], "status": [1, 2, 1, 2, 2, 1],
                         "g": ["a", "b", "a", "b", "a", "b"], "x": [0.1, 0.5, 0.2, 0.9, 0.3, 0.4]})
    for call in (lambda: cox(data, "t", "status", ["x"]), lambda: km(data, "t", "status", "g"),
                 lambda: logrank(data, "t", "status", "g")):
        with pytest.raises(InputError, match="only 1 and 2") as info:
            call()
        assert info.value.column == "status"
    recoded = data.assign(status=data["status"] - 1)  # 0/1: accepted
    assert km(recoded, "t", "status", "g")["n_event"].sum() == 3
