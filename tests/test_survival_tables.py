"""cox.zph agreement, the Table 3 procedure (micromet.analyses, Cox) and the Kaplan-Meier figure."""

import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from micromet import survival as sv  # noqa: E402
from micromet.analyses import (  # noqa: E402
    model_table,
    screen,
    screen_and_fit,
)
from micromet.errors import InputError, NotEstimableWarning  # noqa: E402
from micromet.plots_survival import km_plot  # noqa: E402
from micromet.report import fmt_p  # noqa: E402

REF_DIR = Path(__file__).parent / "reference" / "survival"
REF = json.loads((REF_DIR / "survival_reference.json").read_text())
FULL = ["age", "size", "grade", "subtype", "group"]


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(REF_DIR / "survival_data.csv")


ZPH_CASES = {
    "km": dict(covariates=FULL, transform="km"),
    "identity": dict(covariates=FULL, transform="identity"),
    "km_breslow": dict(covariates=["age", "grade", "group"], ties="breslow"),
    "km_strata_weights": dict(covariates=["age", "grade", "group"], strata="st", weights="wi"),
    "km_continuous": dict(covariates=["age", "size", "group"], duration="time_c"),
}


@pytest.mark.parametrize("case", list(ZPH_CASES))
def test_ph_test_agrees_with_cox_zph(data, case):
    spec = dict(ZPH_CASES[case])
    transform = spec.pop("transform", "km")
    fit = sv.cox(data, spec.pop("duration", "time"), "status", spec.pop("covariates"), **spec)
    res = sv.ph_test(fit, transform=transform)
    ref = REF["zph"][case]
    assert list(res.table.index) == ref["rows"]
    np.testing.assert_array_equal(res.table["df"], ref["df"])
    np.testing.assert_allclose(res.table["chisq"], ref["chisq"], rtol=1e-8)
    np.testing.assert_allclose(res.table["p"], ref["p"], rtol=1e-8)


def test_ph_test_refits_from_data(data):
    a = sv.ph_test(data, "time", "status", FULL)
    np.testing.assert_allclose(a.table["chisq"], REF["zph"]["km"]["chisq"], rtol=1e-8)
    with pytest.raises(InputError, match="transform"):
        sv.ph_test(data, "time", "status", ["age"], transform="weird")


# ------------------------------------------------------------------ Table 3


@pytest.fixture(scope="module")
def with_her2(data):
    d = data.copy()
    d["her2"] = np.where((d["status"] == 0) & (d.index % 5 == 0), "Positive", "Negative")
    return d


def cox_fit(data, covariates):
    return sv.cox(data, "time", "status", covariates)


COVS = ["age", "size", "grade", "subtype"]  # exposure: group


def test_screen_fits_each_covariate_alone_and_selects_by_univariable_p(data):
    uni, multi, chosen, notes = screen(cox_fit, data, COVS, "group", force_exposure=False)
    np.testing.assert_allclose(uni.loc["age", "coef"], REF["cox"]["age_only"]["coef"], rtol=1e-6)
    np.testing.assert_allclose(uni.loc[["subtype[B]", "subtype[C]", "subtype[D]"], "coef"],
                               REF["cox"]["subtype_only"]["coef"], rtol=1e-6)
    assert list(uni.index)[-1] == "group[M0(i+)]" and notes == []  # the exposure last
    # selection: any term with p < 0.05 (group is far from it, age is far below)
    assert "age" in chosen and "group" not in chosen
    for cov in COVS + ["group"]:
        alone = sv.cox(data, "time", "status", [cov]).table
        assert (cov in chosen) == bool((alone["p"] < 0.05).any()), cov
    assert multi.covariates == chosen
    # the exposure is forced in unless told otherwise
    _, forced, chosen_forced, _ = screen(cox_fit, data, COVS, "group")
    assert chosen_forced == chosen + ["group"] and forced.covariates == chosen_forced


def test_the_multivariable_model_takes_the_selected_covariates(data):
    _, every, chosen, _ = screen(cox_fit, data, ["age"], "group", selection="all")
    assert chosen == ["age", "group"] and list(every.table.index) == ["age", "group[M0(i+)]"]
    _, alone, chosen, _ = screen(cox_fit, data, ["age"], "group", selection="none")
    assert chosen == ["group"] and list(alone.table.index) == ["group[M0(i+)]"]
    _, nothing, chosen, _ = screen(cox_fit, data, ["age"], "group", selection="none",
                                   force_exposure=False)
    assert chosen == [] and nothing is None
    # covariates fixed in advance: those and the exposure, whatever the screen says
    _, fixed, chosen, _ = screen(cox_fit, data, ["age", "size", "grade"], "group",
                                 force_exposure=False, multivariable=["grade"])
    assert chosen == ["grade", "group"] and list(fixed.table.index) == ["grade[III]",
                                                                         "group[M0(i+)]"]
    with pytest.raises(InputError, match="selection"):
        screen(cox_fit, data, ["age"], "group", selection="all of them")


def test_model_table_layout(with_her2):
    covs = ["age", "grade", "her2"]
    with pytest.warns(NotEstimableWarning):  # cox warns; the builder keeps it as a note
        sv.cox(with_her2, "time", "status", ["her2"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the not-estimable warnings are collected as notes
        uni, multi, chosen, notes = screen(cox_fit, with_her2, covs, "group", selection="all")
    assert chosen == ["age", "grade", "her2", "group"]
    assert "her2[Positive]" in uni.attrs["not_estimable"]
    assert uni.attrs["not_estimable"]["her2[Positive]"].startswith("not estimable: no events")
    assert "her2[Positive]" in multi.not_estimable
    assert any("her2" in n for n in notes)
    labels = {"age": "Age (per year)", "grade": "Grade"}
    out = model_table(uni, multi, with_her2, covs, "group", labels)
    assert list(out.columns) == [("Univariable", "HR (95% CI)"), ("Univariable", "p"),
                                 ("Multivariable", "HR (95% CI)"), ("Multivariable", "p")]
    assert list(out.index) == [("Age (per year)", "per unit"), ("Grade", "I-II"),
                               ("Grade", "III"), ("her2", "Negative"), ("her2", "Positive"),
                               ("group", "M0"), ("group", "M0(i+)")]
    assert out.loc[("Grade", "I-II")].tolist() == ["1 (reference)", "", "1 (reference)", ""]
    row = multi.table.loc["age"]
    assert out.loc[("Age (per year)", "per unit"), ("Multivariable", "HR (95% CI)")] == (
        f"{row['hr']:.3f} ({row['lower']:.3f}\u2013{row['upper']:.3f})")
    assert out.loc[("Age (per year)", "per unit"), ("Univariable", "p")] == "<0.001"
    p_group = uni.loc["group[M0(i+)]", "p"]
    assert out.loc[("group", "M0(i+)"), ("Univariable", "p")] == f"{p_group:.3f}"
    for model in ("Univariable", "Multivariable"):
        assert out.loc[("her2", "Positive"), (model, "HR (95% CI)")] == "not estimable"
        assert out.loc[("her2", "Positive"), (model, "p")] == "NA"
    # a covariate left out of the multivariable model
    uni, multi, chosen, _ = screen(cox_fit, with_her2, covs, "group", force_exposure=False)
    assert "group" not in chosen and "her2" not in chosen  # her2's p is missing: not selected
    out = model_table(uni, multi, with_her2, covs, "group")
    assert out.loc[("group", "M0(i+)"), "Multivariable"].tolist() == ["-", "-"]
    assert out.loc[("group", "M0"), "Multivariable"].tolist() == ["-", "-"]
    assert out.loc[("grade", "I-II"), ("Univariable", "HR (95% CI)")] == "1 (reference)"
    # the result or its table: the same table
    pd.testing.assert_frame_equal(out, model_table(uni, multi.table, with_her2, covs, "group"))


def test_screen_and_fit_uses_the_studys_rules_and_the_table_its_labels(data):
    from micromet.study import load_study

    study = load_study("seer_m0i")
    frame = data.rename(columns={"group": "m_stage", "size": "tumor_size_mm"})
    covs = ["age", "tumor_size_mm", "grade"]
    uni, multi, chosen, _ = screen_and_fit(cox_fit, frame, study, covs)
    m = study.models
    assert chosen == screen(cox_fit, frame, covs, "m_stage", selection=m.selection,
                            selection_p=m.selection_p, force_exposure=m.force_exposure)[2]
    shown = model_table(uni, multi, frame, covs, "m_stage", study.label)
    assert study.label("tumor_size_mm") in shown.index.get_level_values("variable")


# ------------------------------------------------------------------ figure


def test_km_plot_draws_curves_risk_table_and_p(data):
    k = km_plot(data, "time", "status", "group", times=[0, 12, 24, 36, 48, 60])
    assert k.p_value == pytest.approx(REF["survdiff"]["group"]["p"], abs=1e-12)
    texts = [t.get_text() for t in k.ax.texts]
    assert "Log-rank p = 0.78" in texts
    counts = sorted(t.get_text() for t in k.risk_ax.texts)
    nar = sv.numbers_at_risk(data, "time", "status", "group", [0, 12, 24, 36, 48, 60])
    assert counts == sorted(f"{v:,}" for v in nar.to_numpy().ravel())
    # the last step of each curve is the Kaplan-Meier estimate
    tab = sv.km(data, "time", "status", "group")
    line = k.ax.get_lines()[0]
    assert line.get_ydata()[-1] == tab[tab["group"] == "M0"]["survival"].iloc[-1]
    plt.close(k.figure)


def test_km_plot_on_given_axes_and_without_p(data):
    fig, ax = plt.subplots()
    k = km_plot(data, "time", "status", "subtype", ax=ax, p_value=False, ci=True)
    assert k.ax is ax and k.p_value is None and not ax.texts
    plt.close(fig)


def test_the_figures_p_values():
    # the KM panel: two decimals, three below 0.01; the CIF panel: three decimals
    assert fmt_p(0.7812, 2, label="Log-rank P") == "Log-rank P = 0.78"
    assert fmt_p(0.0042, 2, label="Log-rank P") == "Log-rank P = 0.004"
    assert fmt_p(1e-5, 2, label="Log-rank P") == "Log-rank P < 0.001"
    assert fmt_p(0.04213, label="p") == "p = 0.042" and fmt_p(None, label="p") == "p = NA"
    assert fmt_p(2e-4, label="p") == "p < 0.001"


def test_no_warning_leaks_from_ordinary_fits(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sv.cox(data, "time", "status", FULL)
        sv.logrank(data, "time", "status", "group")
        sv.km(data, "time", "status", "group")
