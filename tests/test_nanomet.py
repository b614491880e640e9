"""micromet.nanomet: study B's chapter computed outside the notebook. Its numbers equal direct
calls of micromet.survival / micromet.competing on the series (and R's on the default draw), the
published-vs-reproduced table carries every published quantity, the outputs are saved, and a real
series with small groups is shown masked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from micromet import competing, nanomet, survival
from micromet import synth_series as ss
from micromet.pipeline import load_summary
from micromet.run import round_floats
from micromet.study import load_study

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED_CSV = ROOT / "micromet" / "data" / "nanomet_published.csv"
NOTEBOOK_SOURCE = ROOT / "notebooks" / "src" / "nanomet.py"
TIME, EVENT, GROUP = "time_months", "event", "nodal_group"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("cache")
    mp.setenv("MICROMET_CACHE", str(folder))
    yield folder
    mp.undo()


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("out")


@pytest.fixture(scope="module")
def chapter(cache, out):
    return nanomet.nanomet_chapter(load_study("nanomet"), out)


def subset(data, exposed, reference):
    """The patients of two groups, reference first (built here, not with nanomet.two_groups)."""
    d = data.loc[data[GROUP].astype(str).isin([exposed, reference])].copy()
    d[GROUP] = pd.Categorical(d[GROUP].astype(str), categories=[reference, exposed])
    return d


# ---- the numbers equal direct calls of the statistical modules ---------------------------------


def test_pairwise_numbers_equal_direct_cox_and_logrank(chapter):
    data = chapter.data
    assert list(chapter.pairwise_numbers) == ["pN0(i+) vs pN0(i-)", "pN1mi vs pN0(i+)",
                                              "pN1mi vs pN0(i-)", "pN1 vs pN0(i-)"]
    for name, got in chapter.pairwise_numbers.items():
        exposed, reference = name.split(" vs ")
        d = subset(data, exposed, reference)
        row = survival.cox(d, TIME, EVENT, [GROUP], ties="efron").table.loc[
            f"{GROUP}[{exposed}]"]
        assert [got[k] for k in ("hr", "lower", "upper", "p")] == \
            [float(row[k]) for k in ("hr", "lower", "upper", "p")]
        assert got["logrank_p"] == survival.logrank(d, TIME, EVENT, GROUP).p_value
        assert got["n"] == len(d) == ((data[GROUP] == exposed) | (data[GROUP] == reference)).sum()
        assert got["events"] == int((d[EVENT] > 0).sum())
    shown = chapter.pairwise.loc["pN0(i+) vs pN0(i-)"]
    main = chapter.pairwise_numbers["pN0(i+) vs pN0(i-)"]
    assert shown["HR (95% CI)"] == f"{main['hr']:.3f} ({main['lower']:.3f}\u2013{main['upper']:.3f})"


def test_grouped_multivariable_model_equals_direct_cox(chapter):
    direct = survival.cox(chapter.data, TIME, EVENT, ["nodal_group3", "age", "pt", "grade", "er"],
                          ties="efron")
    pd.testing.assert_frame_equal(chapter.multi.table, direct.table)
    assert list(chapter.multivariable_table.index) == list(direct.table.index)
    hr, lower, upper, p = chapter.summary["any_event"]["grouped_multivariable"][
        "nodal_group3[pN0(i+)/pN1mi]"]
    assert (hr, p) == (direct.table.loc["nodal_group3[pN0(i+)/pN1mi]", "hr"],
                       direct.table.loc["nodal_group3[pN0(i+)/pN1mi]", "p"])


def test_gray_tests_equal_direct_gray_test(chapter):
    data = chapter.data
    pair = competing.gray_test(subset(data, "pN0(i+)", "pN0(i-)"), TIME, EVENT, GROUP, cause=1)
    every = competing.gray_test(data, TIME, EVENT, GROUP, cause=1)
    assert (chapter.gray.statistic, chapter.gray.df, chapter.gray.p_value) == \
        (pair.statistic, 1, pair.p_value)
    assert (chapter.gray_all.statistic, chapter.gray_all.df, chapter.gray_all.p_value) == \
        (every.statistic, 3, every.p_value)
    assert chapter.gray_table["chi-square"].tolist() == [round(pair.statistic, 3),
                                                          round(every.statistic, 3)]
    at = competing.timepoints(competing.cuminc(data, TIME, EVENT, GROUP), [24, 60, 96])
    at = at[at["cause"] == 1]
    pd.testing.assert_frame_equal(chapter.cif_at, at)
    assert len(at) == 4 * 3


def test_default_draw_equals_r(chapter):
    r = ss.DEFAULT_DRAW_R
    main = chapter.pairwise_numbers["pN0(i+) vs pN0(i-)"]
    assert main["hr"] == pytest.approx(r["hr_any_event_pN0i_plus_vs_pN0i_minus"], rel=1e-6)
    assert main["p"] == pytest.approx(r["p_any_event_pN0i_plus_vs_pN0i_minus"], rel=1e-6)
    assert chapter.pairwise_numbers["pN1mi vs pN0(i+)"]["p"] == \
        pytest.approx(r["p_any_event_pN1mi_vs_pN0i_plus"], rel=1e-6)
    grouped = chapter.multi.table.loc["nodal_group3[pN0(i+)/pN1mi]"]
    assert grouped["hr"] == pytest.approx(r["hr_any_event_grouped_multivariable"], rel=1e-6)
    assert grouped["p"] == pytest.approx(r["p_any_event_grouped_multivariable"], rel=1e-6)
    assert chapter.gray.statistic == pytest.approx(r["gray_chisq_distant"], rel=1e-6)
    assert chapter.gray.p_value == pytest.approx(r["gray_p_distant"], rel=1e-6)
    assert chapter.followup.median == pytest.approx(r["median_followup_months"], rel=1e-9)
    assert sum(chapter.groups.values()) == r["n"]
    assert chapter.groups["pN0(i-)"] + chapter.groups["pN0(i+)"] == r["n_pN0"]
    assert chapter.summary["first_events"]["distant"] == r["events_distant"]
    assert len(chapter.data) - chapter.summary["first_events"]["censored"] == r["events_any"]


def test_table_by_group_counts_and_quartiles(chapter):
    data, table = chapter.data, chapter.table_one
    assert list(table.columns) == ["pN0(i-)", "pN0(i+)", "pN1mi", "pN1"]
    for lv in table.columns:
        g = data[data[GROUP] == lv]
        assert table.loc[("Patients", "n"), lv] == f"{len(g):,}"
        q = g["age"].quantile([0.5, 0.25, 0.75]).tolist()
        assert table.loc[("Age, years", "median (IQR)"), lv] == "{:g} ({:g}-{:g})".format(*q)
        for level in data["grade"].cat.categories:
            k = int((g["grade"] == level).sum())
            assert table.loc[("Grade", level), lv] == f"{k} ({100 * k / len(g):.0f}%)"
    assert len(table) == 1 + 2 + 3 + 3 + 2 + 4  # n, two medians, pT, grade, ER, adjuvant levels


# ---- published vs reproduced ------------------------------------------------------------------

# Each row of micromet/data/nanomet_published.csv -> the row of the chapter's table showing it.
SHOWN_AS = {
    ("n", "all", "count"): "patients",
    ("n", "pN0", "count"): "pN0 patients",
    ("n", "pN0(i+)", "count"): "pN0(i+) patients",
    ("followup", "all", "median_months"): "median follow-up, months",
    ("any_event", "pN0(i+) vs pN0(i-)", "hr"): "any event HR, pN0(i+) vs pN0(i-)",
    ("any_event", "pN0(i+) vs pN0(i-)", "p"): "any event p, pN0(i+) vs pN0(i-)",
    ("any_event", "nodal_group3[pN0(i+)/pN1mi]", "hr"): "any event HR, grouped, multivariable",
    ("any_event", "nodal_group3[pN0(i+)/pN1mi]", "p"): "any event p, grouped, multivariable",
    ("distant", "pN0(i+) vs pN0(i-)", "gray_statistic"): "Gray's test chi-square, distant relapse",
    ("distant", "pN0(i+) vs pN0(i-)", "gray_p"): "Gray's test p, distant relapse",
}
# Published, but not as a number of that table: the pN0(i-) count is pN0 - pN0(i+) (both rows
# are there), and "pN1mi vs pN0(i+) not significant" is a bound, its row has our p beside it.
SHOWN_OTHERWISE = {("n", "pN0(i-)", "count"), ("any_event", "pN1mi vs pN0(i+)", "p_above")}


def reproduced(chapter) -> dict:
    """Our unrounded number of each row of SHOWN_AS, taken from the chapter's results."""
    main = chapter.pairwise_numbers["pN0(i+) vs pN0(i-)"]
    grouped = chapter.multi.table.loc["nodal_group3[pN0(i+)/pN1mi]"]
    g = chapter.groups
    return {
        "patients": len(chapter.data), "pN0 patients": g["pN0(i-)"] + g["pN0(i+)"],
        "pN0(i+) patients": g["pN0(i+)"], "median follow-up, months": chapter.followup.median,
        "any event HR, pN0(i+) vs pN0(i-)": main["hr"], "any event p, pN0(i+) vs pN0(i-)": main["p"],
        "any event HR, grouped, multivariable": float(grouped["hr"]),
        "any event p, grouped, multivariable": float(grouped["p"]),
        "Gray's test chi-square, distant relapse": chapter.gray.statistic,
        "Gray's test p, distant relapse": chapter.gray.p_value,
    }


def test_published_vs_reproduced_has_every_published_quantity(chapter):
    published = pd.read_csv(PUBLISHED_CSV)
    table = chapter.validation
    keys = set(zip(published["quantity"], published["comparison"], published["statistic"]))
    assert keys == set(SHOWN_AS) | SHOWN_OTHERWISE  # a new published number needs a row
    for _, row in published.iterrows():
        key = (row["quantity"], row["comparison"], row["statistic"])
        if key in SHOWN_AS:
            shown = table.loc[SHOWN_AS[key]]
            assert float(shown["published"].replace(",", "")) == row["published"], key
            ours = reproduced(chapter)[SHOWN_AS[key]]
            assert shown["reproduced"] == (f"{ours:,}" if isinstance(ours, int)
                                           else f"{ours:.4g}"), key
            difference = ours - row["published"]
            assert shown["difference"] == (f"{difference:,}" if isinstance(difference, int)
                                           else f"{difference:.4g}"), key
    pn0 = float(table.loc["pN0 patients", "published"]) - \
        float(table.loc["pN0(i+) patients", "published"])
    assert pn0 == published.set_index("comparison").loc["pN0(i-)", "published"]
    bound = table.loc["any event p, pN1mi vs pN0(i+) (paper: not significant)"]
    assert bound["published"] == "" and \
        float(bound["reproduced"]) == float(f"{chapter.pairwise_numbers['pN1mi vs pN0(i+)']['p']:.4g}")


def test_published_vs_reproduced_shows_the_chapter_numbers(chapter):
    table = chapter.validation
    main = chapter.pairwise_numbers["pN0(i+) vs pN0(i-)"]
    grouped = chapter.multi.table.loc["nodal_group3[pN0(i+)/pN1mi]"]
    expect = {
        "patients": f"{len(chapter.data):,}",
        "median follow-up, months": f"{chapter.followup.median:.4g}",
        "any event HR, pN0(i+) vs pN0(i-)": f"{main['hr']:.4g}",
        "any event p, grouped, multivariable": f"{grouped['p']:.4g}",
        "Gray's test chi-square, distant relapse": f"{chapter.gray.statistic:.4g}",
    }
    for quantity, text in expect.items():
        assert table.loc[quantity, "reproduced"] == text
    truth = ss.CALIBRATION["large_sample"]
    assert table.loc["any event HR, pN0(i+) vs pN0(i-)", "truth (synthetic)"] == \
        f"{truth['hr_any_event_pN0i_plus_vs_pN0i_minus']:.4g}"
    assert chapter.glue["nanomet_validation"] is table


# ---- saved outputs, glue, headline ------------------------------------------------------------


def test_outputs_glue_and_headline(chapter, out):
    assert load_summary(out, "nanomet") == json.loads(json.dumps(round_floats(chapter.summary)))
    assert (out / "data" / "cohort.parquet").is_file() and (out / "data" / ".gitignore").is_file()
    prose = NOTEBOOK_SOURCE.read_text(encoding="utf-8")
    used = set(re.findall(r"\{glue:\w*\}`([^`]+)`", prose))
    assert used and used <= set(chapter.glue)
    assert chapter.glue["hr_exposed"] == chapter.pairwise.loc["pN0(i+) vs pN0(i-)", "HR (95% CI)"]
    assert chapter.glue["gray_chisq"] == f"{chapter.gray.statistic:.2f}"
    assert chapter.headline == {
        "patients by group": {k: f"{v:,}" for k, v in chapter.groups.items()},
        "median follow-up": round(chapter.followup.median, 1),
        "HR pN0(i+) vs pN0(i-)": round(chapter.pairwise_numbers["pN0(i+) vs pN0(i-)"]["hr"], 3),
        "HR grouped, multivariable": round(
            float(chapter.multi.table.loc["nodal_group3[pN0(i+)/pN1mi]", "hr"]), 3),
        "Gray chi-square": round(chapter.gray.statistic, 3),
    }
    assert chapter.first_events["patients"].tolist() == \
        [str(v) for v in chapter.summary["first_events"].values()]


def test_figures(chapter):
    import matplotlib.pyplot as plt

    km = nanomet.km_figure(chapter)
    cif = nanomet.cif_figure(chapter)
    assert len(km.get_axes()) == 2 and len(cif.get_axes()) == 1
    plt.close("all")


# ---- a real series with a small group is masked -----------------------------------------------


def test_real_series_with_a_small_group_is_masked(cache, tmp_path):
    raw = pd.read_csv(ss.synthetic_series(cache_dir=cache), dtype=str, keep_default_na=False)
    small = raw[raw["nodal_status"] == "N0i+"].head(9)  # 9 pN0(i+) patients: below 11
    real = pd.concat([raw[raw["nodal_status"] != "N0i+"], small])
    assert (small["first_event"] != "none").sum() >= 2  # the Cox model still has events
    csv = tmp_path / "series.csv"
    real.to_csv(csv, index=False)
    result = nanomet.nanomet_chapter(load_study("nanomet", data=csv), tmp_path / "out")
    assert not result.study.synthetic
    assert result.groups["pN0(i+)"] == 9
    assert result.table_one.loc[("Patients", "n"), "pN0(i+)"] == "<11"
    assert result.glue["n_exposed"] == "<11"
    assert result.headline["patients by group"]["pN0(i+)"] == "<11"
    assert result.validation.loc["pN0(i+) patients", "reproduced"] == "<11"
    assert result.validation.loc["pN0(i+) patients", "difference"] == ""
    assert "truth (synthetic)" not in result.validation.columns
    figure = nanomet.km_figure(result)
    texts = [t.get_text() for ax in figure.get_axes() for t in ax.texts]
    assert "<11" in texts
    assert not [t for t in texts if re.fullmatch(r"[1-9]|10", t.strip())]
    import matplotlib.pyplot as plt

    plt.close("all")
    assert np.isfinite(result.pairwise_numbers["pN0(i+) vs pN0(i-)"]["hr"])


def test_median_and_survival_at_horizons_by_group(chapter):
    """Study B shows the median time free of any event (or "not reached") with its 95% CI per
    nodal group, and event-free survival at the study's horizons, as survfit gives them."""
    s = chapter.study
    o = nanomet.any_event_outcome(s)
    direct = survival.km_median(chapter.data, o.time, o.event, s.exposure.column)
    assert list(chapter.median_table.index) == list(direct["group"])
    for _, r in direct.iterrows():
        shown = chapter.median_table.loc[r["group"], "median, months"]
        assert shown == ("not reached" if not np.isfinite(r["median"]) else f"{r['median']:g}")
        assert chapter.summary["any_event"]["median"][r["group"]][0] == (
            None if not np.isfinite(r["median"]) else pytest.approx(r["median"]))
    times = sorted({t for _, t in chapter.survival_table.index})
    assert times == [float(t) for t in s.models.horizon_months]
    km = survival.km(chapter.data, o.time, o.event, s.exposure.column)
    at = survival.survival_at(km, s.models.horizon_months)
    np.testing.assert_allclose(chapter.survival_table["survival"].to_numpy(),
                               at["survival"].round(4).to_numpy())
