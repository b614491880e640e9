"""Chapter 6 (how robust is the answer): its numbers equal direct calls of micromet.power,
micromet.evalue, micromet.bootstrap and micromet.weighting on the run's own analysed sets."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from micromet import bootstrap, evalue, power, survival, weighting
from micromet.chapters.robustness import RARE_BELOW
from micromet.study import load_study

TERM = "m_stage[M0(i+)]"
RESULTS_ROUNDING = 1e-5  # results.json keeps 6 significant digits (micromet.run.round_floats)


@pytest.fixture(scope="module")
def run(seer_m0i_run):
    results = json.loads((seer_m0i_run / "results.json").read_text(encoding="utf-8"))
    private = json.loads((seer_m0i_run / "data" / "results.json").read_text(encoding="utf-8")) \
        if (seer_m0i_run / "data" / "results.json").is_file() else results
    matched = pd.read_parquet(seer_m0i_run / "data" / "matched.parquet")
    return results, private, matched


def test_power_is_schoenfeld_on_the_matched_set(run):
    results, _, matched = run
    study = load_study("seer_m0i")
    got = results["robustness"]["power"]
    exposed = int((matched["m_stage"].astype(str) == "M0(i+)").sum())
    control = len(matched) - exposed
    deaths = int((matched["vital"] != 0).sum())
    assert got["os"]["events"] == deaths == results["os"]["events"]
    assert got["os"]["detectable_80"] == pytest.approx(
        power.minimum_detectable_hr(deaths, exposed, control, power=0.8), rel=RESULTS_ROUNDING)
    paper = study.published["os"]["models"]["table3"]["multivariable"][TERM][0]
    assert got["os"]["paper_estimate"] == paper
    assert got["os"]["power_paper_schoenfeld"] == pytest.approx(
        power.schoenfeld_power(paper, deaths, exposed, control), rel=RESULTS_ROUNDING)
    bc = int((matched["event"] == 1).sum())
    assert got["bcsm"]["events"] == bc == results["bcsm"]["events_cause"]


def test_evalues_are_evalues_hr_of_the_multivariable_estimate(run):
    results, _, matched = run
    hr, lower, upper, _ = results["os"]["models"]["table3"]["multivariable"][TERM]
    rare = (matched["vital"] != 0).mean() < RARE_BELOW
    direct = evalue.evalue_hr(hr, lower, upper, rare=bool(rare))
    (got,) = [v for k, v in results["robustness"]["evalues"].items() if k.startswith("os:")]
    assert got["evalue"] == pytest.approx(direct.evalue, rel=RESULTS_ROUNDING)
    assert got["evalue_ci"] == pytest.approx(direct.evalue_ci, rel=RESULTS_ROUNDING)
    (shr,) = [v for k, v in results["robustness"]["evalues"].items() if k.startswith("bcsm:")]
    assert shr["evalue"] is None  # no agreed conversion of an SHR: no number


def test_bootstrap_is_the_seeded_matched_set_bootstrap(run):
    results, _, matched = run
    study = load_study("seer_m0i")
    covs = results["os"]["models"]["table3"]["multivariable_covariates"]
    fit = bootstrap.cox_fitter(matched, "time_months", "vital", covs, ties="efron")
    direct = bootstrap.matched_bootstrap(matched, fit, B=study.robustness.bootstrap,
                                         seed=study.seed).table.loc[TERM]
    got = results["robustness"]["bootstrap"]["os"]
    assert got["bootstrap_lower"] == pytest.approx(direct["hr_lower"], rel=RESULTS_ROUNDING)
    assert got["bootstrap_upper"] == pytest.approx(direct["hr_upper"], rel=RESULTS_ROUNDING)
    assert got["B"] == 1000 and got["replicates"] == 1000


def test_att_weighted_cox_equals_a_direct_weighted_fit(seer_m0i_run, run):
    results = run[0]
    study = load_study("seer_m0i")
    cohort = pd.read_parquet(seer_m0i_run / "data" / "cohort.parquet")
    cohort["t"] = (cohort["m_stage"].astype(str) == "M0(i+)").astype(int)
    w = weighting.propensity_weights(cohort, "t", study.matching_covariates, estimand="ATT")
    cohort["w"] = w["weight"].to_numpy()
    direct = survival.cox(cohort, "time_months", "vital", ["m_stage"], weights="w").table
    hr, lower, upper, p = results["robustness"]["weighting"]["os ATT"]
    assert (hr, lower, upper) == pytest.approx(
        (direct.loc[TERM, "hr"], direct.loc[TERM, "lower"], direct.loc[TERM, "upper"]),
        rel=RESULTS_ROUNDING)
    assert "os ATO" in results["robustness"]["weighting"]
