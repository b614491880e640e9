"""cox.zph agreement, the Table 3 procedure and the Kaplan-Meier figure."""

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


def test_univariable_screen_fits_each_covariate_alone(data):
    uni = sv.univariable_screen(data, "time", "status", FULL)
    np.testing.assert_allclose(uni.table.loc["age", "coef"], REF["cox"]["age_only"]["coef"],
                               rtol=1e-6)
    np.testing.assert_allclose(uni.table.loc[["subtype[B]", "subtype[C]", "subtype[D]"], "coef"],
                               REF["cox"]["subtype_only"]["coef"], rtol=1e-6)
    # selection: any term with p < 0.05 (group is far from it, age is far below)
    assert "age" in uni.selected() and "group" not in uni.selected()
    for cov, fit in uni.fits.items():
        assert (cov in uni.selected()) == bool((fit.table["p"] < 0.05).any())
        assert (cov in uni.selected(rule="wald")) == (uni.covariate_p[cov] < 0.05)


def test_multivariable_takes_the_selected_covariates(data):
    uni = sv.univariable_screen(data, "time", "status", FULL)
    multi = sv.multivariable(data, "time", "status", screen=uni)
    assert multi.covariates == uni.selected()
    explicit = sv.multivariable(data, "time", "status", ["age", "group"])
    assert list(explicit.table.index) == ["age", "group[M0(i+)]"]
    with pytest.raises(InputError):
        sv.multivariable(data, "time", "status")


def test_format_cox_table_layout(with_her2):
    covs = ["age", "grade", "her2", "group"]
    with pytest.warns(NotEstimableWarning):
        uni = sv.univariable_screen(with_her2, "time", "status", covs)
        multi = sv.multivariable(with_her2, "time", "status", ["age", "grade", "her2"])
    assert "her2[Positive]" in uni.not_estimable
    out = sv.format_cox_table(uni, multi, labels={"age": "Age (per year)", "grade": "Grade"})
    assert list(out.columns) == ["Variable", "Univariable HR (95% CI)", "Univariable P",
                                 "Multivariable HR (95% CI)", "Multivariable P"]
    assert out.loc["grade[III]", "Variable"] == "Grade (III vs I-II)"
    assert out.loc["age", "Variable"] == "Age (per year)"
    row = multi.table.loc["age"]
    assert out.loc["age", "Multivariable HR (95% CI)"] == (
        f"{row['hr']:.3f} ({row['lower']:.3f}–{row['upper']:.3f})")
    assert out.loc["age", "Univariable P"] == "<0.001"
    p_group = uni.table.loc["group[M0(i+)]", "p"]
    assert out.loc["group[M0(i+)]", "Univariable P"] == f"{p_group:.3f}"
    assert out.loc["group[M0(i+)]", "Multivariable HR (95% CI)"] == "–"
    assert out.loc["her2[Positive]", "Univariable HR (95% CI)"] == "not estimable"
    assert out.loc["her2[Positive]", "Multivariable HR (95% CI)"] == "not estimable"
    data = sv.cox_table_data(uni, multi)
    assert data.loc["her2[Positive]", "uni_note"].startswith("not estimable: no events among")
    assert data.loc["her2[Positive]", "multi_note"].startswith("not estimable: no events among")
    assert not data.loc["group[M0(i+)]", "in_multivariable"]
    assert data.loc["age", "multi_p"] == multi.table.loc["age", "p"]


def test_format_cox_table_takes_plain_tables(data):
    # the layout Fine-Gray reuses: tables with coef/hr/lower/upper/p and a design
    uni = sv.univariable_screen(data, "time", "status", ["age", "grade"])
    multi = sv.cox(data, "time", "status", ["age", "grade"])
    a = sv.format_cox_table(uni, multi)
    b = sv.format_cox_table(uni.table, multi.table, design=uni.design, digits=3)
    pd.testing.assert_frame_equal(a, b)


# ------------------------------------------------------------------ figure


def test_km_plot_draws_curves_risk_table_and_p(data):
    k = km_plot(data, "time", "status", "group", times=[0, 12, 24, 36, 48, 60])
    assert k.p_value == pytest.approx(REF["survdiff"]["group"]["p"], abs=1e-12)
    texts = [t.get_text() for t in k.ax.texts]
    assert "Log-rank P = 0.78" in texts
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
