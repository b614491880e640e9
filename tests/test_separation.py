"""Monotone likelihood in any direction (micromet.separation): the linear-programming check finds
separation by a combination of terms, for Cox (with strata) and Fine-Gray (crr's risk sets),
names the terms and the patients, and the rest of the model is fitted without them."""

import warnings

import numpy as np
import pandas as pd
import pytest

from micromet.competing import fine_gray
from micromet.design import design_matrix
from micromet.errors import NotEstimableWarning, UnstableWarning
from micromet.separation import monotone_direction
from micromet.survival import cox


def er_subtype_data(seed=0, n=400, separated=True):
    """ER and subtype as in study A: ER-negative patients of an HR-positive subtype (ER-/PR+)
    are the only ones telling ER from the HR-negative subtypes; with ``separated`` they have no
    event of cause 1."""
    rng = np.random.default_rng(seed)
    subtype = rng.choice(["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-"], n,
                         p=[0.6, 0.15, 0.1, 0.15])
    er = np.where(np.char.startswith(subtype.astype(str), "HR+"), "Positive", "Negative")
    odd = rng.choice(np.flatnonzero(er == "Positive"), 3, replace=False)
    er[odd] = "Negative"  # ER-/PR+: HR-positive subtype, ER negative
    time = rng.exponential(40, n).round(1) + 0.1
    event = rng.choice([0, 1, 2], n, p=[0.6, 0.25, 0.15])
    if separated:
        event[odd] = np.where(rng.random(3) < 0.5, 0, 2)
    else:
        event[odd[0]] = 1
    hr_positive = np.char.startswith(subtype.astype(str), "HR+")
    pr = np.where(hr_positive & (rng.random(n) < 0.85), "Positive", "Negative")
    pr[odd] = "Positive"  # HR+ with ER- means PR+
    return pd.DataFrame({"time": time, "event": event, "er": er, "pr": pr,
                         "subtype": pd.Categorical(subtype, categories=[
                             "HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-"]),
                         "size": rng.normal(20, 5, n)})


def test_fine_gray_reports_the_er_subtype_combination_and_fits_the_rest():
    data = er_subtype_data()
    with pytest.warns(NotEstimableWarning,
                      match=r"no events of cause 1 among patients with er Negative and subtype "
                            r"HR\+/HER2- \(n = 3\)"):
        fit = fine_gray(data, "time", "event", ["size", "er", "subtype"], cause=1)
    assert set(fit.not_estimable) == {"er[Positive]", "subtype[HR-/HER2+]",
                                      "subtype[HR-/HER2-]"}
    assert fit.table.loc[list(fit.not_estimable)].isna().all().all()
    assert np.isfinite(fit.table.loc[["size", "subtype[HR+/HER2+]"], "se"]).all()
    alone = fine_gray(data, "time", "event", ["size", "subtype"], cause=1)  # no separation
    assert alone.not_estimable == {}
    # a single event among the ER-/PR+ patients removes the separation; what is left is a design
    # in which ER and the HR-negative subtypes nearly coincide: estimable, but flagged unstable
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotEstimableWarning)
        with pytest.warns(UnstableWarning, match=r"variance inflation er\[Positive\]"):
            ok = fine_gray(er_subtype_data(separated=False), "time", "event",
                           ["size", "er", "subtype"], cause=1)
    assert ok.not_estimable == {} and ok.conditioning.unstable


LABELS = {"er": "ER status", "pr": "PR status", "subtype": "Breast subtype", "size": "Size"}


def test_the_sentence_names_the_patients_as_a_clinician_would():
    """Study A's Table 4 configuration: the note says who has no breast-cancer deaths (ER-/PR+,
    by what they share) and which covariates cannot be estimated together, in the study's
    words, for Fine-Gray and for its Cox analogue."""
    data = er_subtype_data()
    covs = ["size", "er", "pr", "subtype"]
    expected = ("not estimable: no breast-cancer deaths among patients with ER status Negative "
                "and PR status Positive (n = 3): ER status and Breast subtype (HR-/HER2+, "
                "HR-/HER2-) cannot be estimated together")
    with pytest.warns(NotEstimableWarning, match=r"no breast-cancer deaths among patients"):
        fg = fine_gray(data, "time", "event", covs, cause=1, labels=LABELS,
                       event_name="breast-cancer deaths")
    cs = data.assign(bc=(data["event"] == 1).astype(int))
    with pytest.warns(NotEstimableWarning, match=r"no breast-cancer deaths among patients"):
        cx = cox(cs, "time", "bc", covs, labels=LABELS, event_name="breast-cancer deaths")
    for fit in (fg, cx):
        assert set(fit.not_estimable) == {"er[Positive]", "subtype[HR-/HER2+]",
                                          "subtype[HR-/HER2-]"}
        for why in fit.not_estimable.values():
            assert why.startswith(expected), why
        assert np.isfinite(fit.table.loc[["size", "pr[Positive]", "subtype[HR+/HER2+]"],
                                         "hr"]).all()


def test_on_separation_drop_leaves_the_covariates_out_and_firth_fits_them():
    data = er_subtype_data().assign(bc=lambda d: (d["event"] == 1).astype(int))
    covs = ["size", "er", "pr", "subtype"]
    with pytest.warns(NotEstimableWarning, match="left out of the model"):
        dropped = cox(data, "time", "bc", covs, on_separation="drop", labels=LABELS)
    # every subtype term goes, not only the two HR- ones: no level merged into the reference
    assert set(dropped.not_estimable) == {"er[Positive]", "subtype[HR+/HER2+]",
                                          "subtype[HR-/HER2+]", "subtype[HR-/HER2-]"}
    assert dropped.terms == ["size", "pr[Positive]"]
    alone = cox(data, "time", "bc", ["size", "pr"])
    np.testing.assert_allclose(dropped.table.loc[dropped.terms, "coef"],
                               alone.table.loc[alone.terms, "coef"], rtol=1e-12)
    with pytest.warns(NotEstimableWarning, match="Firth's penalized likelihood"):
        firth = cox(data, "time", "bc", covs, on_separation="firth", labels=LABELS)
    assert firth.ci == "profile penalized likelihood"
    hr = firth.table["hr"]
    assert np.isfinite(hr).all() and (np.abs(np.log(hr)) < 5).all()
    with pytest.raises(ValueError, match="Firth's correction is for Cox models"):
        fine_gray(data, "time", "event", covs, on_separation="firth")
    with pytest.raises(ValueError, match="on_separation must be one of"):
        cox(data, "time", "bc", covs, on_separation="ignore")


def test_no_single_term_separates_the_combination():
    data = er_subtype_data()
    X = design_matrix(data, ["er", "subtype"]).X
    ev = (data["event"] == 1).to_numpy()
    for term in X.columns:  # every term alone has events in both levels
        x = X[term].to_numpy() == 1
        assert ev[x].any() and ev[~x].any()
    found = monotone_direction(X, data["time"], ev, competing=data["event"] == 2)
    assert found is not None and found.n_low == 3 and found.events_low == 0
    restricted = monotone_direction(X, data["time"], ev, competing=data["event"] == 2,
                                    max_constraints=0)
    assert restricted.terms == found.terms and "binary terms" in restricted.test


def test_cox_with_strata_finds_the_combination_within_strata():
    data = er_subtype_data(seed=4)
    data["death"] = (data["event"] != 0).astype(int)
    rows = data.index[(data["er"] == "Negative")
                      & data["subtype"].astype(str).str.startswith("HR+")]
    data.loc[rows, "death"] = 0
    data["centre"] = np.arange(len(data)) % 2
    with pytest.warns(NotEstimableWarning, match="cannot be estimated together"):
        fit = cox(data, "time", "death", ["size", "er", "subtype"], strata="centre")
    assert {"er[Positive]", "subtype[HR-/HER2+]", "subtype[HR-/HER2-]"} <= set(fit.not_estimable)
    assert np.isfinite(fit.table.loc["size", "coef"])


@pytest.mark.parametrize("seed", range(10))
def test_ordinary_data_have_no_monotone_direction(seed):
    rng = np.random.default_rng(seed)
    n = 300
    data = pd.DataFrame({"t": rng.exponential(10, n), "e": rng.integers(0, 3, n),
                         "x": rng.normal(size=n), "g": rng.choice(list("abc"), n),
                         "b": rng.integers(0, 2, n)})
    X = design_matrix(data, ["x", "g", "b"]).X
    assert monotone_direction(X, data["t"], data["e"] != 0) is None
    assert monotone_direction(X, data["t"], data["e"] == 1, competing=data["e"] == 2) is None


def test_conditioning_flags_collinear_designs_and_passes_orthogonal_ones():
    from micromet.design import VIF_THRESHOLD, conditioning

    rng = np.random.default_rng(7)
    n = 500
    a = rng.normal(size=n)
    X = pd.DataFrame({"a": a, "b": a + rng.normal(scale=0.01, size=n), "c": rng.normal(size=n)})
    var = np.linalg.inv(X.T @ X / n)
    cond = conditioning(var, X)
    assert cond.unstable and cond.vif["a"] > VIF_THRESHOLD and cond.vif["c"] < 1.1
    assert cond.scaled_condition_number > 1_000
    assert "unstable" in cond.sentence() and "a " in cond.sentence()
    # VIF = 1 / (1 - R^2) of each column on the others, by least squares
    others = np.column_stack([np.ones(n), X["b"], X["c"]])
    resid = X["a"] - others @ np.linalg.lstsq(others, X["a"], rcond=None)[0]
    r2 = 1 - resid.var() / X["a"].var()
    assert cond.vif["a"] == pytest.approx(1 / (1 - r2), rel=1e-8)
    Y = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n)})
    ok = conditioning(np.linalg.inv(Y.T @ Y / n), Y)
    assert not ok.unstable and ok.scaled_condition_number < 1.5


def test_an_unstable_model_says_so_in_a_warning():
    from micromet.errors import UnstableWarning

    rng = np.random.default_rng(8)
    n = 400
    x = rng.normal(size=n)
    data = pd.DataFrame({"t": rng.exponential(10, n), "e": rng.integers(0, 2, n), "x": x,
                         "x_noisy": x + rng.normal(scale=0.005, size=n)})
    with pytest.warns(UnstableWarning, match="ill-conditioned"):
        fit = cox(data, "t", "e", ["x", "x_noisy"])
    assert fit.conditioning.unstable


def test_the_papers_artefacts_are_marked_on_the_published_versus_reproduced_pages():
    from micromet.pipeline import (
        ARTEFACT,
        models_vs_published,
        published_artefacts,
    )
    from micromet.study import load_study

    study = load_study("seer_m0i")
    table3 = published_artefacts(study.published["os"]["models"]["table3"])
    table4 = published_artefacts(study.published["bcsm"]["models"]["table4"])
    assert [t.split(" (")[0] for t in table3] == ["er[Positive]", "her2[Positive]",
                                                  "subtype[HR+/HER2+]", "subtype[HR-/HER2-]"]
    assert [t.split(" (")[0] for t in table4] == ["er[Positive]", "subtype[HR-/HER2+]",
                                                  "subtype[HR-/HER2-]"]
    uni = pd.DataFrame({"hr": [0.5, 1.2], "lower": [0.3, 0.9], "upper": [0.8, 1.6],
                        "p": [0.01, 0.2]}, index=["er[Positive]", "age"])
    shown = models_vs_published(uni, None, {"univariable": {
        "er[Positive]": [548000.0, 0, float("inf"), 0.996], "age": [1.1, 0.9, 1.4, 0.3]}})
    flat = shown.reset_index()
    er = flat[flat["term"] == "er[Positive]"]
    assert (er["difference"] == ARTEFACT).all()
    assert (flat[flat["term"] == "age"]["difference"] != ARTEFACT).all()


def _pairwise_direction_exists(values, t, ev, comp, strata) -> bool:
    """The program written out pair by pair (every event row against every row of its risk set),
    as Heinze & Schemper state it: a reference for the running-maxima program."""
    from scipy.optimize import linprog

    rows = []
    for s in np.unique(strata):
        inside = np.flatnonzero(strata == s)
        for i in inside[ev[inside]]:
            at_risk = inside[(t[inside] >= t[i]) | (comp[inside] & (t[inside] < t[i]))]
            rows.append(values[i] - values[at_risk])
    A = np.vstack(rows)
    res = linprog(-A.sum(axis=0), A_ub=-A, b_ub=np.zeros(len(A)),
                  bounds=[(-1, 1)] * values.shape[1], method="highs")
    return res.status == 0 and -res.fun > 1e-7 * max(1.0, float(np.abs(A).max()))


@pytest.mark.parametrize("seed", range(40))
def test_the_running_maxima_program_agrees_with_the_pairwise_one(seed):
    """Cox, Cox with strata and Fine-Gray, with and without a separating combination: the linear
    program of size linear in the patterns finds a direction exactly when the pairwise one does,
    and the direction it reports is one (every event at least as high as its risk set)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 120))
    data = pd.DataFrame({"x": rng.normal(size=n).round(1), "g": rng.choice(list("abc"), n),
                         "b": rng.integers(0, 2, n)})
    X = design_matrix(data, ["x", "g", "b"] if seed % 2 else ["g", "b"]).X
    t = rng.integers(1, 15, n).astype(float)
    e = rng.choice([0, 1, 2], n, p=[0.5, 0.2, 0.3])
    if seed % 3 == 0:  # no events of cause 1 in one level of b: separation
        e[(X["b"] == 0).to_numpy() & (e == 1)] = 0
    values = X.to_numpy(dtype=float)
    ev = e == 1
    if not ev.any():
        ev[0] = True
    none = np.zeros(n, dtype=bool)
    cases = [(None, None, none, np.zeros(n, int)), (e == 2, None, e == 2, np.zeros(n, int)),
             (None, np.arange(n) % 2, none, np.arange(n) % 2)]
    for competing, strata, comp, s in cases:
        found = monotone_direction(X, t, ev, competing=competing, strata=strata)
        assert (found is not None) == _pairwise_direction_exists(values, t, ev, comp, s)
        if found is not None:
            d = np.array([found.direction.get(c, 0.0) for c in X.columns])
            lp = values @ d
            for i in np.flatnonzero(ev):
                at_risk = (s == s[i]) & ((t >= t[i]) | (comp & (t < t[i])))
                assert lp[i] >= lp[at_risk].max() - 1e-9


def test_the_program_is_linear_in_the_patterns():
    from micromet.separation import _constraints

    rng = np.random.default_rng(1)
    n = 5_000
    values = rng.normal(size=(n, 3)).round(2)  # ~5,000 distinct patterns
    t = rng.exponential(10, n)
    e = rng.choice([0, 1, 2], n, p=[0.5, 0.3, 0.2])
    program = _constraints(values, t, e == 1, e == 2, np.zeros(n, int), None)
    assert len(program) <= 5 * n  # pairwise: ~ (events x at risk) / 2, millions
