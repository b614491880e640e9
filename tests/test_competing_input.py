"""Bad input, not-estimable terms, the Table-4 formatter and the CIF figure of micromet.competing."""

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from micromet.analyses import model_table, screen  # noqa: E402
from micromet.competing import (  # noqa: E402
    cuminc,
    fine_gray,
    gray_test,
    gray_tests,
    predict_cif,
    timepoints,
)
from micromet.errors import InputError, NotEstimableWarning  # noqa: E402
from micromet.plots_competing import cif_plot  # noqa: E402

REF = Path(__file__).parent / "reference" / "cmprsk"


@pytest.fixture()
def example():
    df = pd.read_csv(REF / "data.csv", float_precision="round_trip")
    df.index = [f"p{i}" for i in range(len(df))]
    return df


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------


def test_negative_time(example):
    example.loc["p5", "ftime"] = -1.0
    for call in (lambda: cuminc(example, "ftime", "fstatus"),
                 lambda: fine_gray(example, "ftime", "fstatus", ["x1"]),
                 lambda: gray_test(example, "ftime", "fstatus", "x2")):
        with pytest.raises(InputError) as err:
            call()
        assert err.value.column == "ftime" and err.value.row == "p5" and err.value.value == -1.0
        assert "negative" in str(err.value)


def test_non_numeric_time(example):
    example["ftime"] = example["ftime"].astype(object)
    example.loc["p3", "ftime"] = "abc"
    with pytest.raises(InputError) as err:
        cuminc(example, "ftime", "fstatus")
    assert err.value.row == "p3" and err.value.value == "abc"
    with pytest.raises(InputError):
        fine_gray(example, "ftime", "fstatus", ["x1"])


def test_missing_time(example):
    example.loc["p7", "ftime"] = np.nan
    with pytest.raises(InputError, match="missing follow-up time") as err:
        fine_gray(example, "ftime", "fstatus", ["x1"])
    assert err.value.row == "p7"


def test_event_code_not_integer(example):
    example["fstatus"] = example["fstatus"].astype(float)
    example.loc["p2", "fstatus"] = 1.5
    for call in (lambda: cuminc(example, "ftime", "fstatus"),
                 lambda: fine_gray(example, "ftime", "fstatus", ["x1"]),
                 lambda: gray_tests(example, "ftime", "fstatus", "x2")):
        with pytest.raises(InputError, match="not an integer") as err:
            call()
        assert err.value.column == "fstatus" and err.value.row == "p2" and err.value.value == 1.5


def test_event_code_text_or_negative(example):
    bad = example.astype({"fstatus": object})
    bad.loc["p4", "fstatus"] = "death"
    with pytest.raises(InputError) as err:
        fine_gray(bad, "ftime", "fstatus", ["x1"])
    assert err.value.value == "death"
    example.loc["p4", "fstatus"] = -1
    with pytest.raises(InputError, match="negative event code"):
        cuminc(example, "ftime", "fstatus")


def test_missing_columns_and_covariates(example):
    with pytest.raises(InputError) as err:
        cuminc(example, "time", "fstatus")
    assert err.value.column == "time"
    with pytest.raises(InputError) as err:
        fine_gray(example, "ftime", "fstatus", ["x9"])
    assert err.value.column == "x9"
    example.loc["p8", "x1"] = np.nan
    with pytest.raises(InputError) as err:
        fine_gray(example, "ftime", "fstatus", ["x1"])
    assert err.value.column == "x1" and err.value.row == "p8"


def test_no_events_of_cause_and_one_group(example):
    with pytest.raises(InputError, match="no events of cause 3"):
        fine_gray(example, "ftime", "fstatus", ["x1"], cause=3)
    example["one"] = "a"
    with pytest.raises(InputError, match="two groups"):
        gray_test(example, "ftime", "fstatus", "one")
    with pytest.raises(InputError):
        cuminc(example, "ftime", "fstatus", layout="wide")


def test_not_a_dataframe():
    with pytest.raises(InputError, match="DataFrame"):
        cuminc({"t": [1, 2]}, "t", "e")


# ------------------------------------------------------------------------------------------
# dropped and not-estimable terms
# ------------------------------------------------------------------------------------------


def test_level_without_events_is_not_estimable(example):
    example["site"] = "common"
    rare = example.index[(example["fstatus"] != 1)][:6]
    example.loc[rare, "site"] = "rare"
    with pytest.warns(NotEstimableWarning, match=r"site\[rare\]"):
        fit = fine_gray(example, "ftime", "fstatus", ["x1", "site", "x2"])
    assert "site[rare]" in fit.not_estimable
    assert fit.not_estimable["site[rare]"].startswith("not estimable: no events of cause 1 among patients with site[rare]")
    assert list(fit.table.index) == ["x1", "site[rare]", "x2"]
    assert fit.table.loc["site[rare]"].isna().all()
    assert fit.terms == ["x1", "x2"]
    # the rest is fitted exactly as without the term
    without = fine_gray(example, "ftime", "fstatus", ["x1", "x2"])
    np.testing.assert_allclose(fit.coef.to_numpy(), without.coef.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("maxiter", [10, 60])
def test_diverging_coefficient_is_not_estimable(maxiter):
    # cause-1 events always have the largest z of those at risk: the likelihood is monotone in z
    n = 60
    t = np.arange(1.0, n + 1)
    z = -t + np.random.default_rng(3).normal(scale=0.1, size=n)
    e = np.where(np.arange(n) % 3 == 0, 1, 0)
    x = np.random.default_rng(4).normal(size=n)
    df = pd.DataFrame({"t": t, "e": e, "z": z, "x": x})
    with pytest.warns(NotEstimableWarning, match="without bound"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no numpy overflow noise either
            fit = fine_gray(df, "t", "e", ["z", "x"], maxiter=maxiter)
    assert "z" in fit.not_estimable and fit.table.loc["z"].isna().all()
    assert fit.terms == ["x"] and np.isfinite(fit.table.loc["x", "se"])


def test_aliased_and_constant_terms_dropped(example):
    example["x1_twice"] = 2 * example["x1"]
    example["const"] = 1.0
    fit = fine_gray(example, "ftime", "fstatus", ["x1", "x1_twice", "const", "x2"])
    assert set(fit.dropped) == {"x1_twice", "const"}
    assert fit.table.loc[["x1_twice", "const"]].isna().all().all()
    ref = fine_gray(example, "ftime", "fstatus", ["x1", "x2"])
    np.testing.assert_allclose(fit.coef.to_numpy(), ref.coef.to_numpy(), rtol=1e-12)


def test_predict_cif_checks_levels(example):
    example["arm"] = np.where(example["x2"] == 1, "B", "A")
    fit = fine_gray(example, "ftime", "fstatus", ["x1", "arm"])
    same = fine_gray(example, "ftime", "fstatus", ["x1", "x2"])
    a = predict_cif(fit, pd.DataFrame({"x1": [0.5], "arm": ["B"]}))
    b = predict_cif(same, {"x1": 0.5, "x2": 1})
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-12)
    assert np.all(np.diff(a.iloc[:, 0].to_numpy()) >= 0)
    with pytest.raises(InputError, match="level not seen"):
        predict_cif(fit, pd.DataFrame({"x1": [0.5], "arm": ["C"]}))


def test_cuminc_group_labels_and_timepoints_range(example):
    example["arm"] = pd.Categorical(np.where(example["x2"] == 1, "treated", "control"),
                                    categories=["treated", "control"])
    ci = cuminc(example, "ftime", "fstatus", group="arm")
    assert list(dict.fromkeys(ci["group"])) == ["treated", "control"]
    tp = timepoints(ci, [-0.5, 0, 5, 1000])
    assert tp.loc[tp["time"] == -0.5, "estimate"].isna().all()
    assert tp.loc[tp["time"] == 1000, "estimate"].isna().all()
    assert (tp.loc[tp["time"] == 0, "estimate"] == 0).all()
    assert tp.loc[tp["time"] == 5, "estimate"].notna().all()


# ------------------------------------------------------------------------------------------
# Table 4 and Figure 4
# ------------------------------------------------------------------------------------------


def test_the_table_4_builder_with_fine_gray(example):
    """Fine-Gray's Table 4 comes from the Table 3 builder (micromet.analyses.screen and
    model_table), as Cox's does."""
    example["arm"] = np.where(example["x2"] == 1, "B", "A")
    example["noise"] = np.random.default_rng(1).normal(size=len(example))

    def fit(data, covariates):
        return fine_gray(data, "ftime", "fstatus", covariates)

    covs = ["x1", "noise"]  # the exposure: arm
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        uni, multi, chosen, notes = screen(fit, example, covs, "arm", force_exposure=False)
        table = model_table(uni, multi, example, covs, "arm")
    assert chosen == ["x1", "arm"] and notes == []
    assert list(table.index) == [("x1", "per unit"), ("noise", "per unit"), ("arm", "A"),
                                 ("arm", "B")]
    assert list(table.columns) == [("Univariable", "HR (95% CI)"), ("Univariable", "p"),
                                   ("Multivariable", "HR (95% CI)"), ("Multivariable", "p")]
    uni_noise = fine_gray(example, "ftime", "fstatus", ["noise"]).table.loc["noise", "p"]
    assert uni_noise >= 0.05  # so noise is left out of the multivariable model
    assert table.loc[("noise", "per unit"), ("Multivariable", "HR (95% CI)")] == "-"
    direct = fine_gray(example, "ftime", "fstatus", ["x1", "arm"]).table
    hr, lo, hi = direct.loc["x1", ["hr", "lower", "upper"]]
    assert table.loc[("x1", "per unit"), ("Multivariable", "HR (95% CI)")] == (
        f"{hr:.3f} ({lo:.3f}\u2013{hi:.3f})")
    assert table.loc[("x1", "per unit"), ("Multivariable", "p")] == "<0.001"
    uni_arm = fine_gray(example, "ftime", "fstatus", ["arm"]).table.loc["arm[B]"]
    assert table.loc[("arm", "B"), ("Univariable", "HR (95% CI)")].startswith(
        f"{uni_arm['hr']:.3f} (")
    assert table.loc[("arm", "B"), ("Univariable", "p")] == f"{uni_arm['p']:.3f}"
    assert table.loc[("arm", "A"), ("Univariable", "HR (95% CI)")] == "1 (reference)"
    _, full, _, _ = screen(fit, example, covs, "arm", selection="all")
    assert model_table(uni, full, example, covs, "arm").loc[
        ("noise", "per unit"), ("Multivariable", "HR (95% CI)")] != "-"
    _, alone, chosen, _ = screen(fit, example, covs, "arm", selection="none")
    assert chosen == ["arm"]
    assert model_table(uni, alone, example, covs, "arm").loc[
        ("x1", "per unit"), ("Multivariable", "HR (95% CI)")] == "-"
    with pytest.raises(InputError):
        screen(fit, example, covs, "arm", selection="all of them")


def test_cif_plot(example):
    ci = cuminc(example, "ftime", "fstatus", group="x2")
    p = gray_test(example, "ftime", "fstatus", "x2").p_value
    fig, ax = plt.subplots()
    out = cif_plot(ci, cause=1, gray_p=p, ax=ax, labels={0: "x2 = 0", 1: "x2 = 1"})
    assert out is ax
    assert len(ax.lines) == 2
    assert any("Gray's test p = 0.042" in t.get_text() for t in ax.texts)
    x, y = ax.lines[0].get_data()
    cur = ci[(ci["group"] == 0) & (ci["cause"] == 1)]
    np.testing.assert_array_equal(y, cur["estimate"].to_numpy())
    plt.close(fig)
    fig, ax = plt.subplots()
    cif_plot(cuminc(example, "ftime", "fstatus", group="x2", layout="jumps"), ax=ax,
             competing=True)
    assert len(ax.lines) == 4
    assert sorted(line.get_linestyle() for line in ax.lines) == ["-", "-", "--", "--"]
    plt.close(fig)
    with pytest.raises(InputError):
        cif_plot(ci, cause=5)


def test_no_covariates_left(example):
    null = fine_gray(example, "ftime", "fstatus", [])
    assert null.table.empty and null.converged
    assert null.loglik == pytest.approx(-394.2785752239184, rel=1e-12)  # crr loglik.null
    example["site"] = np.where(example["fstatus"] == 1, "a", "b")
    with pytest.warns(NotEstimableWarning):
        fit = fine_gray(example, "ftime", "fstatus", ["site"])
    assert fit.terms == [] and fit.table.loc["site[b]"].isna().all()
    np.testing.assert_allclose(fit.bfitj, null.bfitj, rtol=1e-14)


def test_unused_group_level_is_not_a_group(example):
    # R: cuminc(ftime, fstatus, factor(x2, levels = c(0, 1, 2))) gives the same curves and tests
    # (stat 4.128267, df 1 for cause 1) as with the two levels present
    example["arm"] = pd.Categorical(example["x2"], categories=[0, 1, 2])
    a = gray_test(example, "ftime", "fstatus", "arm")
    b = gray_test(example, "ftime", "fstatus", "x2")
    assert a.df == 1 and a.statistic == pytest.approx(4.128267109834354, rel=1e-10)
    assert a.statistic == b.statistic
    ci = cuminc(example, "ftime", "fstatus", group="arm")
    assert set(ci["group"]) == {0, 1}
    pd.testing.assert_frame_equal(ci.attrs["tests"], gray_tests(example, "ftime", "fstatus", "x2"))


def test_jumps_layout_ends_at_last_follow_up(example):
    jumps = cuminc(example, "ftime", "fstatus", group="x2", layout="jumps")
    steps = cuminc(example, "ftime", "fstatus", group="x2")
    for (g, c), cur in jumps.groupby(["group", "cause"]):
        last = steps[(steps["group"] == g) & (steps["cause"] == c)].iloc[-1]
        assert cur["time"].iloc[-1] == last["time"]
        assert cur["estimate"].iloc[-1] == last["estimate"]
    # timepoints work on a copy without the attrs too
    bare = pd.DataFrame(jumps.to_dict("list"))
    pd.testing.assert_frame_equal(timepoints(bare, [0, 5, 14.9, 15, 15.5]),
                                  timepoints(steps, [0, 5, 14.9, 15, 15.5]))
