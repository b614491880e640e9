"""Firth-penalized Cox (micromet.firth.firth_cox) against R's coxphf 1.13.4.

References: tests/reference/firth (make_firth.R committed beside them): coxphf's own ``breast``
example, a binary term without events, the ER/subtype combination of study A's Table 4, and
coxphf's 3-patient example, and SEER-like monthly times with deaths in month 0; each with profile penalized likelihood and Wald limits, and with
coxphf's default and tight convergence settings.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from micromet.errors import NotEstimableWarning
from micromet.firth import firth_cox
from micromet.survival import cox

HERE = Path(__file__).parent / "reference" / "firth"
REF = json.loads((HERE / "firth_reference.json").read_text())
RTOL = 1e-6  # the agreement: coefficients, se, limits and p to 1e-6 relative

CASES = {
    "breast": ("TIME", "CENS", ["T", "N", "G", "CD"]),
    "separation_binary": ("time", "status", ["x1", "x2"]),
    "separation_combination": ("time", "status", ["age", "er", "subtype"]),
    "tiny": ("time", "cens", ["x"]),
    # deaths in month 0 (coxphf itself returns NaN there: R was given months + 0.5, the same
    # order of times) and a rare level of 2 patients without events
    "monthly": ("months", "dead", ["age", "grade", "rare"]),
}


def load(name):
    data = pd.read_csv(HERE / f"{name}.csv")
    if name == "separation_combination":  # R's factor levels: the reference level first
        data["er"] = pd.Categorical(data["er"], ["Negative", "Positive"])
        data["subtype"] = pd.Categorical(data["subtype"], ["HR+/HER2-", "HR+/HER2+",
                                                           "HR-/HER2+", "HR-/HER2-"])
    return data


def r_terms(terms):
    """R's names (erPositive, subtypeHR-/HER2+) from micromet's (er[Positive], ...)."""
    return [t.replace("[", "").replace("]", "") for t in terms]


@pytest.fixture(scope="module", params=list(CASES))
def fitted(request):
    name = request.param
    time, status, covs = CASES[name]
    data = load(name)
    return name, {ci: firth_cox(data, time, status, covs, profile=(ci == "profile"))
                  for ci in ("profile", "wald")}


@pytest.mark.parametrize("setting", ["tight", "default"])
@pytest.mark.parametrize("ci", ["profile", "wald"])
def test_agrees_with_coxphf(fitted, setting, ci):
    name, fits = fitted
    fit = fits[ci]
    ref = REF[f"{name}/{setting}/{ci}"]
    assert r_terms(fit.terms) == ref["terms"]
    tab = fit.table.loc[fit.terms]
    ours = {"coef": tab["coef"], "se": tab["se"], "lower": tab["lower"], "upper": tab["upper"],
            "p": tab["p"]}
    tight = REF[f"{name}/tight/{ci}"]
    for key, values in ours.items():
        theirs = np.array([np.nan if v is None else v for v in ref[key]], dtype=float)
        known = ~np.isnan(theirs)  # coxphf leaves a p value NA when its own search stalls
        assert known.sum() >= len(theirs) - 1
        # coxphf's default rule stops once a step is below 1e-6 (standardized): that far from
        # the maximum its own tight run lies; the tight run is the maximum itself
        own = np.array([np.nan if v is None else v for v in tight[key]], dtype=float)
        slack = np.nan_to_num(np.abs(theirs - own)) if setting == "default" else 0.0
        a, b = values.to_numpy(), theirs
        assert np.all(np.abs(a - b)[known] <= (RTOL * np.abs(b) + slack)[known]), \
            f"{name} {setting} {ci} {key}: {a} vs {b}"
        if setting == "tight":
            np.testing.assert_allclose(a[known], b[known], rtol=RTOL)
    assert fit.ci == ("profile penalized likelihood" if ci == "profile" else "Wald")


def test_penalized_loglik_is_coxphfs_up_to_its_standardization(fitted):
    """coxphf maximizes on covariates divided by their SD, which shifts ½ log det I by
    -Σ log sd: the same likelihood, the same maximum."""
    name, fits = fitted
    time, status, covs = CASES[name]
    fit = fits["profile"]
    from micromet.design import design_matrix

    X = design_matrix(load(name), covs).X[fit.terms]
    shift = np.log(X.std(ddof=1)).sum()
    ref = REF[f"{name}/tight/profile"]["loglik"]
    np.testing.assert_allclose([fit.loglik_null - shift, fit.loglik - shift], ref, rtol=1e-9)


def test_ordinary_cox_diverges_where_firth_is_finite():
    """The separation fixtures: R's coxph runs off (|coef| > 9, an HR beyond 8,000), micromet.cox
    reports the terms not estimable, and Firth's estimates are finite."""
    for name in ("separation_binary", "separation_combination", "tiny", "monthly"):
        time, status, covs = CASES[name]
        data = load(name)
        assert max(abs(c) for c in REF[f"{name}/coxph_breslow"]["coef"]) > 9
        with pytest.warns(NotEstimableWarning):
            fit = cox(data, time, status, covs, ties="breslow")
        assert fit.not_estimable
        assert fit.table.loc[list(fit.not_estimable), "hr"].isna().all()
        firth = firth_cox(data, time, status, covs, profile=False)
        assert np.isfinite(firth.table["coef"]).all()


def test_a_single_stratum_is_no_stratum_and_strata_are_separate_risk_sets():
    data = load("breast")
    plain = firth_cox(data, "TIME", "CENS", ["T", "N", "G", "CD"], profile=False)
    one = firth_cox(data.assign(s="a"), "TIME", "CENS", ["T", "N", "G", "CD"], strata="s",
                    profile=False)
    np.testing.assert_allclose(one.table["coef"], plain.table["coef"], rtol=1e-10)
    two = firth_cox(data.assign(s=np.arange(len(data)) % 2), "TIME", "CENS",
                    ["T", "N", "G", "CD"], strata="s", profile=False)
    assert not np.allclose(two.table["coef"], plain.table["coef"], rtol=1e-3)
    # the maximum is a maximum: the penalized score vanishes there (finite differences)
    from micromet.firth import _Penalized
    from micromet.survival import _prepare, _RiskSets
    t, d, w, s, _ = _prepare(data, "TIME", "CENS", [], strata=None, weights=None, cluster=None)
    rs = _RiskSets(t, d, s, w, "breslow")
    X = data[["T", "N", "G", "CD"]].to_numpy(float)[rs.order]
    f = _Penalized(rs, X - X.mean(0), 0.5)
    b = plain.table["coef"].to_numpy()
    pl, score, _, _ = f(b)
    assert np.abs(score).max() < 1e-8
    h = 1e-6
    numeric = [(f(b + h * e)[0] - f(b - h * e)[0]) / (2 * h) for e in np.eye(4)]
    at = b + 0.1
    analytic = f(at)[1]
    numeric = [(f(at + h * e)[0] - f(at - h * e)[0]) / (2 * h) for e in np.eye(4)]
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)


def test_bad_arguments_are_named():
    data = load("breast")
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        firth_cox(data, "TIME", "CENS", ["T"], alpha=1.5)
    with pytest.raises(ValueError, match="no events"):
        firth_cox(data.assign(CENS=0), "TIME", "CENS", ["T"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        firth_cox(data, "TIME", "CENS", ["T"], profile=False)  # no warning on ordinary data
