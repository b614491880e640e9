"""Propensity weights, balance after weighting, weighted Cox and weighted Fine-Gray against R.

Fixtures: tests/reference/weighting/make_weighting.R (R 4.2.2, survival 3.5-3): a small (300
rows) and a large (2,000 rows) data set with whole-month times (heavy ties between events and
censorings), a continuous covariate, a 2-level and a 3-level factor, a binary exposure and
causes 0/1/2; ATT weights of controls from 0.04 to 12.7, overlap weights, and arbitrary case
weights between 0.05 and 6. The balance statistics are cobalt's documented definitions written
out in base R (cobalt is not packaged for Debian).
"""

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from micromet import competing
from micromet import survival as sv
from micromet.competing.weighted import fine_gray_weighted
from micromet.errors import InputError
from micromet.weighting import propensity_weights, weighted_balance, weights_from_propensity

REF_DIR = Path(__file__).parent / "reference" / "weighting"
REF = json.loads((REF_DIR / "weighting_reference.json").read_text())
RTOL = 1e-6
COVS = ["age", "size", "grade", "subtype"]
MODEL = ["treat", "age", "grade", "subtype"]
SIZES = ["small", "large"]


@pytest.fixture(scope="module", params=SIZES)
def case(request):
    return request.param, pd.read_csv(REF_DIR / f"{request.param}.csv"), REF[request.param]


def _r_terms(index):
    return [t.replace("[", "").replace("]", "") for t in index]


def test_propensity_scores_and_weights_agree_with_glm(case):
    _, d, ref = case
    att = propensity_weights(d, "treat", COVS, estimand="ATT")
    np.testing.assert_allclose(att["propensity"], ref["ps"], rtol=1e-10)
    np.testing.assert_allclose(att["weight"], d["w_att"], rtol=1e-10)  # R's, 15 digits
    ato = propensity_weights(d, "treat", COVS, estimand="ato")
    np.testing.assert_allclose(ato["weight"], d["w_ato"], rtol=1e-10)
    assert (att.loc[d["treat"] == 1, "weight"] == 1).all()
    ps = ato["propensity"]
    assert np.allclose(ato["weight"], np.where(d["treat"] == 1, 1 - ps, ps), rtol=0, atol=0)
    assert list(att.index) == list(d.index)


@pytest.mark.parametrize("estimand, denom", [("att", "treated"), ("ato", "pooled")])
def test_weighted_smd_agrees_with_cobalt_definition(case, estimand, denom):
    _, d, ref = case
    rb = ref[f"balance_{estimand}"]
    b = weighted_balance(d, "treat", COVS, f"w_{estimand}", s_d_denom=denom, binary="std")
    assert list(b.index) == list(rb)  # cobalt: 2-level factor as its 2nd level, else each level
    for col in ("mean_treated", "mean_control", "sd_denominator", "smd"):
        got = b[col].to_numpy()
        want = np.array([rb[k][col] for k in rb])
        # overlap weights balance the propensity model's covariates exactly (Li et al. 2018):
        # their SMDs are ~1e-16, so an absolute tolerance as well
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12, err_msg=col)
    np.testing.assert_allclose(b["diff_unadjusted"],
                               [rb[k]["smd_unadjusted"] for k in rb], rtol=RTOL)
    assert list(b["type"]) == ["binary" if rb[k]["binary"] else "continuous" for k in rb]
    # binary = "raw" (cobalt's default) leaves differences in proportion for binary variables
    raw = weighted_balance(d, "treat", COVS, f"w_{estimand}", s_d_denom=denom)
    binary = raw["type"] == "binary"
    np.testing.assert_allclose(raw.loc[binary, "diff"],
                               raw.loc[binary, "mean_treated"] - raw.loc[binary, "mean_control"],
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(raw.loc[~binary, "diff"], b.loc[~binary, "diff"], rtol=1e-12)


def test_overlap_weights_balance_the_model_covariates_exactly(case):
    _, d, _ = case
    w = propensity_weights(d, "treat", COVS, estimand="ATO")["weight"]
    b = weighted_balance(d, "treat", COVS, w.to_numpy(), s_d_denom="pooled")
    assert b["smd"].abs().max() < 1e-7
    # ATT weights improve balance but not exactly; unweighted it is far off
    un = weighted_balance(d, "treat", COVS, np.ones(len(d)))
    assert un["smd"].abs().max() > 0.2


COX_CASES = {
    "cox_att": dict(weights="w_att", robust=True),
    "cox_ato": dict(weights="w_ato", robust=True),
    "cox_case_breslow": dict(weights="w_case", robust=True, ties="breslow"),
    "cox_att_cluster": dict(weights="w_att", cluster="set"),
    "cox_att_treat": dict(weights="w_att", robust=True, covariates=["treat"]),
}


@pytest.mark.parametrize("name", list(COX_CASES))
def test_weighted_cox_robust_agrees_with_coxph(case, name):
    _, d, ref = case
    spec = dict(COX_CASES[name])
    covs = spec.pop("covariates", MODEL)
    fit = sv.cox(d, "time", "status", covs, **spec)
    r = ref[name]
    t = fit.table
    assert _r_terms(t.index) == list(np.atleast_1d(r["terms"]))
    for ours, theirs in (("coef", "coef"), ("se", "se"), ("robust_se", "robust_se"),
                         ("p", "p")):
        np.testing.assert_allclose(t[ours], np.atleast_1d(r[theirs]), rtol=RTOL, err_msg=ours)
    np.testing.assert_allclose([fit.loglik_null, fit.loglik], r["loglik"], rtol=1e-10)
    assert fit.iterations == r["iter"]


FG_CASES = {
    "fg_att": dict(weights="w_att"),
    "fg_ato": dict(weights="w_ato"),
    "fg_case": dict(weights="w_case"),
    "fg_att_breslow": dict(weights="w_att", ties="breslow"),
    "fg_att_cluster": dict(weights="w_att", cluster="set"),
    "fg_unweighted": dict(),
    "fg_att_via_finegray_weights": dict(weights="w_att"),
    "fg_att_treat": dict(weights="w_att", covariates=["treat"]),
}


@pytest.mark.parametrize("name", list(FG_CASES))
def test_weighted_fine_gray_agrees_with_coxph_on_finegray_data(case, name):
    _, d, ref = case
    spec = dict(FG_CASES[name])
    covs = spec.pop("covariates", MODEL)
    fit = fine_gray_weighted(d, "time", "event", covs, cause=1, **spec)
    r = ref[name]
    t = fit.table
    assert _r_terms(t.index) == list(np.atleast_1d(r["terms"]))
    for col in ("coef", "se", "robust_se", "p"):
        np.testing.assert_allclose(t[col], np.atleast_1d(r[col]), rtol=RTOL, err_msg=col)
    np.testing.assert_allclose([fit.loglik_null, fit.loglik], r["loglik"], rtol=1e-10)
    assert fit.iterations == r["iter"]
    assert fit.converged
    # the interval and p use the robust standard error
    z = t["coef"] / t["robust_se"]
    np.testing.assert_allclose(t["lower"], np.exp(t["coef"] - 1.959963984540054 *
                                                  t["robust_se"]), rtol=1e-12)
    np.testing.assert_allclose(t["p"], [math.erfc(abs(v) / math.sqrt(2)) for v in z],
                               rtol=1e-9)


def test_weighted_fine_gray_is_not_crr():
    # unweighted, with Breslow ties, the model differs from crr only by Ĝ's tie convention
    # and the variance (METHODS 4.3-4.4): close, not equal, on data with tied times
    d = pd.read_csv(REF_DIR / "small.csv")
    ours = fine_gray_weighted(d, "time", "event", MODEL, ties="breslow").table
    crr = competing.fine_gray(d, "time", "event", MODEL).table
    rel = np.abs(ours["coef"] / crr["coef"] - 1)
    assert rel.max() < 0.05 and rel.max() > 1e-8


def test_integer_weights_equal_duplicated_rows_only_without_censoring():
    # finegray() leaves the case weights out of the censoring distribution Ĝ: a weight of 2 is
    # the subject twice only where Ĝ does not matter (no censoring: Ĝ = 1), with Breslow ties
    # (Efron's tie correction counts rows, as in coxph)
    d = pd.read_csv(REF_DIR / "small.csv")
    d["k"] = np.random.default_rng(3).integers(1, 3, len(d))
    for data, same in ((d[d["event"] != 0], True), (d, False)):
        dup = data.loc[data.index.repeat(data["k"])].reset_index(drop=True)
        a = fine_gray_weighted(data, "time", "event", MODEL, weights="k", ties="breslow")
        b = fine_gray_weighted(dup, "time", "event", MODEL, ties="breslow")
        close = np.allclose(a.table["coef"], b.table["coef"], rtol=1e-9)
        assert close == same
        if same:
            np.testing.assert_allclose(a.table["se"], b.table["se"], rtol=1e-9)


def test_weights_enter_up_to_a_constant_factor():
    d = pd.read_csv(REF_DIR / "small.csv")
    d["w10"] = 10 * d["w_att"]
    a = fine_gray_weighted(d, "time", "event", MODEL, weights="w_att").table
    b = fine_gray_weighted(d, "time", "event", MODEL, weights="w10").table
    np.testing.assert_allclose(b["coef"], a["coef"], rtol=1e-9)
    np.testing.assert_allclose(b["robust_se"], a["robust_se"], rtol=1e-9)
    np.testing.assert_allclose(b["se"], a["se"] / math.sqrt(10), rtol=1e-9)


def test_bad_input_is_named():
    d = pd.read_csv(REF_DIR / "small.csv")
    bad = d.copy()
    bad.loc[5, "w_att"] = -1.0
    with pytest.raises(InputError, match="w_att"):
        fine_gray_weighted(bad, "time", "event", MODEL, weights="w_att")
    with pytest.raises(InputError, match="nope"):
        fine_gray_weighted(d, "time", "event", MODEL, weights="nope")
    with pytest.raises(InputError, match="nope"):
        fine_gray_weighted(d, "time", "event", MODEL, cluster="nope")
    with pytest.raises(InputError, match="ties"):
        fine_gray_weighted(d, "time", "event", MODEL, ties="exact")
    with pytest.raises(InputError, match="cause 3"):
        fine_gray_weighted(d, "time", "event", MODEL, cause=3)
    with pytest.raises(InputError, match="s_d_denom"):
        weighted_balance(d, "treat", COVS, "w_att", s_d_denom="all")
    with pytest.raises(InputError, match="w_att"):
        weighted_balance(bad, "treat", COVS, "w_att")
    with pytest.raises(InputError, match="estimand"):
        weights_from_propensity([0.2, 0.5], [1, 0], "ATE")
    with pytest.raises(InputError, match="infinite"):
        weights_from_propensity([0.2, 1.0], [1, 0], "ATT")
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        weights_from_propensity([0.2, 1.5], [1, 0], "ATO")


def test_level_without_events_is_not_estimable():
    d = pd.read_csv(REF_DIR / "small.csv")
    d["rare"] = np.where(np.arange(len(d)) < 8, "yes", "no")
    d.loc[d["rare"] == "yes", "event"] = 0
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        fit = fine_gray_weighted(d, "time", "event", ["treat", "rare"], weights="w_att")
    assert "rare[yes]" in fit.not_estimable
    assert np.isnan(fit.table.loc["rare[yes]", "coef"])
    assert np.isfinite(fit.table.loc["treat", "coef"])
