"""Study B (nanomet) through the same chapters as study A: its numbers equal direct calls of
micromet.survival / micromet.competing on the series (and R's on the default draw), the
published-vs-reproduced table is built from the study file's `published` alone and carries every
published value, and a real series with a small group is shown masked."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

from micromet import competing, survival
from micromet import pipeline as mm
from micromet import synth_series as ss
from micromet.study import load_study

matplotlib.use("Agg")

TIME, EVENT, GROUP = "time_months", "event", "nodal_group"
PAIRS = ["pN0(i+) vs pN0(i-)", "pN1mi vs pN0(i+)", "pN1mi vs pN0(i-)", "pN1 vs pN0(i-)"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("MICROMET_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


def run_chapters(study, out):
    return {"cohort": mm.cohort_chapter(study, out), "any": mm.os_chapter(study, out),
            "distant": mm.bcsm_chapter(study, out), "validation": mm.validation_chapter(study, out)}


@pytest.fixture(scope="module")
def chapters(cache, tmp_path_factory):
    return run_chapters(load_study("nanomet"), tmp_path_factory.mktemp("out"))


def subset(data, reference, exposed):
    """The patients of two groups, reference first (built here, not with the chapter's code)."""
    d = data.loc[data[GROUP].astype(str).isin([exposed, reference])].copy()
    d[GROUP] = pd.Categorical(d[GROUP].astype(str), categories=[reference, exposed])
    return d


def test_the_study_file_declares_what_the_notebook_once_hard_coded():
    s = load_study("nanomet")
    assert s.chapters == ["01_cohort", "03_overall_survival", "04_bcsm", "05_validation",
                          "06_robustness"]
    assert [c.name for c in s.comparisons] == PAIRS
    assert s.analyses["grouped"].exposure == "nodal_group3"
    assert s.analyses_of("distant") == {}  # no Fine-Gray model in the paper


def test_comparisons_equal_direct_cox_and_logrank(chapters):
    result = chapters["any"]
    data = result.data
    assert list(result.comparisons.index) == PAIRS
    for name in PAIRS:
        exposed, reference = name.split(" vs ")
        d = subset(data, reference, exposed)
        row = survival.cox(d, TIME, EVENT, [GROUP], ties="efron").table.loc[f"{GROUP}[{exposed}]"]
        assert result.summary["comparisons"][name] == [float(row[k]) for k in
                                                       ("hr", "lower", "upper", "p")]
        assert result.summary["comparison_tests"][name] == \
            survival.logrank(d, TIME, EVENT, GROUP).p_value
        shown = result.comparisons.loc[name]
        assert shown["patients"] == f"{len(d):,}"
        assert shown["events"] == f"{int((d[EVENT] > 0).sum()):,}"
        assert shown["HR (95% CI)"] == \
            f"{row['hr']:.3f} ({row['lower']:.3f}\u2013{row['upper']:.3f})"


def test_grouped_multivariable_model_equals_direct_cox(chapters):
    table = chapters["any"].tables["grouped"]
    direct = survival.cox(chapters["any"].data, TIME, EVENT,
                          ["age", "pt", "grade", "er", "nodal_group3"], ties="efron")
    pd.testing.assert_frame_equal(table.multi.table, direct.table)
    assert table.term == "nodal_group3[pN0(i+)/pN1mi]"
    row = direct.table.loc[table.term]
    assert chapters["any"].summary["models"]["grouped"]["multivariable"][table.term] == \
        [float(row[k]) for k in ("hr", "lower", "upper", "p")]


def test_gray_tests_equal_direct_gray_test(chapters):
    result = chapters["distant"]
    data = result.data
    pair = competing.gray_test(subset(data, "pN0(i-)", "pN0(i+)"), TIME, EVENT, GROUP, cause=1)
    every = competing.gray_test(data, TIME, EVENT, GROUP, cause=1)
    assert (result.gray.statistic, result.gray.df, result.gray.p_value) == \
        (pair.statistic, 1, pair.p_value)
    assert (result.gray_all.statistic, result.gray_all.df, result.gray_all.p_value) == \
        (every.statistic, 3, every.p_value)
    assert result.gray_table["chi-square"].tolist() == [round(pair.statistic, 3),
                                                         round(every.statistic, 3)]
    at = competing.timepoints(competing.cuminc(data, TIME, EVENT, GROUP), [24, 60, 96])
    assert len(result.cif_table) == len(at[at["cause"] == 1]) == 4 * 3


def test_default_draw_equals_r(chapters):
    r = ss.DEFAULT_DRAW_R
    any_event, distant = chapters["any"].summary, chapters["distant"]
    main = any_event["comparisons"]["pN0(i+) vs pN0(i-)"]
    assert main[0] == pytest.approx(r["hr_any_event_pN0i_plus_vs_pN0i_minus"], rel=1e-6)
    assert main[3] == pytest.approx(r["p_any_event_pN0i_plus_vs_pN0i_minus"], rel=1e-6)
    assert any_event["comparisons"]["pN1mi vs pN0(i+)"][3] == \
        pytest.approx(r["p_any_event_pN1mi_vs_pN0i_plus"], rel=1e-6)
    grouped = any_event["models"]["grouped"]["multivariable"]["nodal_group3[pN0(i+)/pN1mi]"]
    assert grouped[0] == pytest.approx(r["hr_any_event_grouped_multivariable"], rel=1e-6)
    assert grouped[3] == pytest.approx(r["p_any_event_grouped_multivariable"], rel=1e-6)
    assert distant.gray.statistic == pytest.approx(r["gray_chisq_distant"], rel=1e-6)
    assert distant.gray.p_value == pytest.approx(r["gray_p_distant"], rel=1e-6)
    assert any_event["followup"]["median"] == pytest.approx(r["median_followup_months"],
                                                            rel=1e-9)
    final = chapters["cohort"].summary["final"]
    assert sum(final.values()) == r["n"] and final["pN0(i-)"] + final["pN0(i+)"] == r["n_pN0"]
    assert distant.summary["events_cause"] == r["events_distant"]
    assert any_event["events"] == r["events_any"]


def test_table_one_has_the_four_groups(chapters):
    table = chapters["cohort"].table_one
    assert [c.split(" (n = ")[0] for c in table.columns[:4]] == \
        ["pN0(i-)", "pN0(i+)", "pN1mi", "pN1"]
    assert chapters["cohort"].table_one_vs_published.empty  # the paper gives no Table 1


def leaves(mapping, path=()):
    for key, value in mapping.items():
        if isinstance(value, dict):
            yield from leaves(value, (*path, key))
        else:
            yield (*path, key), value


def test_every_published_value_is_shown_beside_ours(chapters):
    """The validation chapter is built from `published` alone: every published value appears in
    the headline table (with ours beside it) or in one of the paper's tables."""
    study = chapters["any"].study
    headline = chapters["validation"].tables["headline"]
    shown = set(headline["published"].astype(str))
    for path, value in leaves(study.published):
        for v in value if isinstance(value, list) else [value]:
            if v is None:
                continue
            text = f"{v:,}" if isinstance(v, int) else f"{v:.4g}" if isinstance(v, float) \
                else str(v)
            assert text in shown, (path, text)
    row = headline.loc["Any first adverse event: pN0(i+) vs pN0(i-), HR"]
    ours = chapters["any"].summary["comparisons"]["pN0(i+) vs pN0(i-)"][0]
    assert row["published"] == "2.51" and row["reproduced"] == f"{ours:.4g}"
    assert row["difference"] == f"{ours - 2.51:.4g}"
    bound = headline.loc["Any first adverse event: pN1mi vs pN0(i+), p"]
    assert bound["published"] == ">0.05" and bound["difference"] in ("", None)
    gray = headline.loc["Distant relapse (first event): Gray's test: chi-square"]
    assert gray["reproduced"] == f"{chapters['distant'].gray.statistic:.4g}"
    assert chapters["validation"].headline["quantities compared"] == len(headline)


def test_medians_and_survival_at_horizons_by_group(chapters):
    result = chapters["any"]
    s = result.study
    direct = survival.km_median(result.data, TIME, EVENT, GROUP)
    assert set(result.median_table.index) == set(direct["group"])
    for _, r in direct.iterrows():
        assert result.summary["median"][r["group"]][0] == (
            None if not np.isfinite(r["median"]) else pytest.approx(r["median"]))
    times = sorted({int(t) for _, t in result.survival_table.index})
    assert times == [int(t) for t in s.models.horizon_months]
    assert list(dict.fromkeys(g for g, _ in result.survival_table.index)) == \
        ["pN0(i-)", "pN0(i+)", "pN1mi", "pN1"]  # the study's order, not alphabetical
    assert list(result.median_table.index) == ["pN0(i-)", "pN0(i+)", "pN1mi", "pN1"]


def test_real_series_with_a_small_group_is_masked(cache, tmp_path):
    raw = pd.read_csv(ss.synthetic_series(cache_dir=mm.cache_dir()),
                      dtype=str, keep_default_na=False)
    small = raw[raw["nodal_status"] == "N0i+"].head(9)  # 9 pN0(i+) patients: below 11
    real = pd.concat([raw[raw["nodal_status"] != "N0i+"], small])
    assert (small["first_event"] != "none").sum() >= 2  # the Cox model still has events
    csv = tmp_path / "series.csv"
    real.to_csv(csv, index=False)
    study = load_study("nanomet", data=csv)
    result = run_chapters(study, tmp_path / "out")
    assert not study.synthetic
    assert result["cohort"].summary["final"]["pN0(i+)"] == "<11"
    assert result["cohort"].glue["n_final_exposed"] == "<11"
    assert result["any"].comparisons.loc["pN0(i+) vs pN0(i-)", "patients"] != "<11"
    headline = result["validation"].tables["headline"]
    assert headline.loc["Cohort: final cohort: pN0(i+)", "reproduced"] == "<11"
    assert headline.loc["Cohort: final cohort: pN0(i+)", "difference"] in ("", None)
    figure = mm.km_figure(result["any"])
    texts = [t.get_text() for ax in figure.get_axes() for t in ax.texts]
    assert not [t for t in texts if re.fullmatch(r"[1-9]|10", t.strip())]
    import matplotlib.pyplot as plt

    plt.close("all")
