"""The figure layer (micromet.plots_*): one theme and one palette keyed by group, the study's
order of groups in legends and at-risk tables, the zoomed Kaplan–Meier with its bands, the
cumulative incidence with its numbers at risk and its labelled Gray's p, the forest plot's
footnote, hi-DPI output, and the masking of small counts in the figures' texts."""

from __future__ import annotations

import io
import struct

import matplotlib

matplotlib.use("Agg")
import matplotlib as mpl  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from micromet import governance, plots_style  # noqa: E402
from micromet import survival as sv  # noqa: E402
from micromet.competing import cuminc  # noqa: E402
from micromet.plots_balance import love_plot  # noqa: E402
from micromet.plots_competing import cif_plot  # noqa: E402
from micromet.plots_forest import forest_plot, forest_rows  # noqa: E402
from micromet.plots_survival import km_plot, zoomed_ylim  # noqa: E402

# the study's clinical order, which is not the alphabetical one
LEVELS = ["pN0(i-)", "pN0(i+)", "pN1mi", "pN1"]


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(15)
    parts = []
    for lv, n, haz in zip(LEVELS, [300, 80, 60, 90], [0.002, 0.004, 0.006, 0.012]):
        t_ev, t_c = rng.exponential(1 / haz, n), rng.uniform(6, 100, n)
        status = (t_ev <= t_c).astype(int)
        cause = np.where(status == 1, rng.choice([1, 2], n, p=[0.6, 0.4]), 0)
        parts.append(pd.DataFrame({"time": np.maximum(np.minimum(t_ev, t_c).round(), 0.5),
                                   "status": status, "cause": cause, "nodal": lv}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _legend(ax):
    leg = ax.get_legend()
    return [t.get_text() for t in leg.get_texts()], leg.get_title().get_text()


def _png_width(fig) -> int:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return struct.unpack(">I", buf.getvalue()[16:20])[0]


def test_palette_is_keyed_by_the_studys_order():
    colors = plots_style.group_colors(LEVELS)
    assert list(colors) == LEVELS and len(set(colors.values())) == 4
    # a figure that leaves a group out keeps the others' colours
    order, kept = plots_style.ordered_levels(["pN1", "pN0(i-)", "pN1mi"], LEVELS)
    assert order == ["pN0(i-)", "pN1mi", "pN1"]
    assert {g: kept[g] for g in order} == {g: colors[g] for g in order}
    # groups stored as numbers match levels given as text; unknown groups come last
    order, _ = plots_style.ordered_levels([1, 0, 7], ["0", "1"])
    assert order == [0, 1, 7]


def test_km_and_cif_give_a_group_the_same_colour_in_the_studys_order(series):
    k = km_plot(series, "time", "status", "nodal", times=[0, 24, 48, 72, 96], levels=LEVELS,
                group_label="Nodal status")
    ci = cuminc(series, "time", "cause", group="nodal")
    ax = cif_plot(ci, cause=1, levels=LEVELS, group_label="Nodal status", data=series,
                  duration="time", group="nodal")
    expected = [plots_style.group_colors(LEVELS)[g] for g in LEVELS]
    km_colors = [to_hex(line.get_color()) for line in k.ax.get_lines()
                 if line.get_linestyle() == "-"]
    assert km_colors == expected
    assert [to_hex(line.get_color()) for line in ax.get_lines()] == expected
    # legends and at-risk rows in clinical order (not alphabetical), titled in words
    assert _legend(k.ax) == (LEVELS + ["95% CI"], "Nodal status")
    assert _legend(ax) == (LEVELS, "Nodal status")
    for risk_ax in (k.risk_ax, ax.risk_ax):
        rows = [t.get_text() for t in risk_ax.get_yticklabels()][::-1]
        assert rows == LEVELS
        assert [to_hex(t.get_color()) for t in risk_ax.get_yticklabels()][::-1] == expected


def test_km_is_zoomed_with_bands_censoring_and_words(series):
    k = km_plot(series, "time", "status", "nodal", times=[0, 24, 48, 72, 96], levels=LEVELS)
    table = sv.km(series, "time", "status", "nodal")
    lowest = float(np.nanmin(table["lower"]))
    bottom, top = k.ax.get_ylim()
    assert 0 < bottom <= lowest and lowest - bottom <= 0.11 and 1.0 < top < 1.05
    assert round(bottom / 0.05, 6) == round(bottom / 0.05)  # a round value
    bands = [c for c in k.ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == len(LEVELS)
    assert any(line.get_marker() == "|" for line in k.ax.get_lines())  # censoring ticks
    assert k.risk_ax.get_xlabel() == "Months since diagnosis"
    (p_text,) = [t.get_text() for t in k.ax.texts]
    assert p_text.startswith("Log-rank test, 4 groups: p")
    # two groups: "Log-rank p = ..."; without zoom, the 0-1 axis
    two = series[series["nodal"].isin(LEVELS[:2])]
    k2 = km_plot(two, "time", "status", "nodal", levels=LEVELS[:2], zoom=False, ci=False)
    assert k2.ax.get_ylim() == (0, 1.02)
    assert not [c for c in k2.ax.collections if isinstance(c, PolyCollection)]
    assert [t.get_text() for t in k2.ax.texts][0].startswith("Log-rank p ")


def test_zoomed_ylim_rounds_below_the_lowest_band():
    assert zoomed_ylim(0.83)[0] == 0.8
    assert zoomed_ylim(0.805)[0] == 0.75
    assert zoomed_ylim(0.42)[0] == 0.4
    assert zoomed_ylim(0.0)[0] == 0.0 and zoomed_ylim(np.nan)[0] == 0.0
    assert zoomed_ylim(0.97)[0] == 0.95


def test_cif_numbers_at_risk_gray_label_and_cause_words(series):
    ci = cuminc(series, "time", "cause", group="nodal")
    times = [0, 24, 48, 72, 96]
    ax = cif_plot(ci, cause=1, gray_p=0.0142, competing=True, levels=LEVELS,
                  cause_labels={1: "distant relapse", 2: "other causes"},
                  gray_label=LEVELS[:2], data=series, duration="time", group="nodal",
                  times=times)
    assert len(ax.lines) == 8
    assert "Gray's test, pN0(i-) vs pN0(i+): p = 0.014" in [t.get_text() for t in ax.texts]
    names, _ = _legend(ax)
    assert names[-2:] == ["distant relapse (solid)", "other causes (dashed)"]
    assert names[:4] == LEVELS  # four groups fill two columns; the causes a third
    nar = sv.numbers_at_risk(series, "time", "status", "nodal", times).loc[LEVELS]
    shown = sorted(t.get_text() for t in ax.risk_ax.texts)
    assert shown == sorted(f"{v:,}" for v in nar.to_numpy().ravel())
    # a precomputed table gives the same counts; a text label is taken as it is
    ax2 = cif_plot(ci, cause=1, gray_p=0.2, gray_label="all four groups", at_risk=nar)
    assert sorted(t.get_text() for t in ax2.risk_ax.texts) == shown
    assert "Gray's test, all four groups: p = 0.200" in [t.get_text() for t in ax2.texts]


def test_forest_plot_skips_artefacts_with_a_footnote():
    rows = pd.DataFrame({
        "term": ["pN0(i+)", "pN1mi", "pT: T3", "ER: negative"],
        "paper_hr": [1.35, 1.9, 1.0e5, 1.5], "paper_lower": [0.8, 1.0, 0.0, 0.9],
        "paper_upper": [2.3, 3.6, np.inf, 2.5],
        "hr": [1.29, 2.05, 3.2, "not estimable"], "lower": [0.75, 1.05, 0.6, None],
        "upper": [2.2, 4.0, 400.0, None]})
    fig = forest_plot(rows)
    ax = fig.axes[0]
    assert fig.not_drawn == [("pT: T3", "Paper", 1.0e5), ("ER: negative", "Reproduced",
                                                           pytest.approx(np.nan, nan_ok=True))]
    (note,) = [t.get_text() for t in ax.texts if t.get_text().startswith("not drawn")]
    assert "pT: T3 (paper HR 1.00e+05)" in note and "ER: negative (reproduced HR not" in note
    assert ax.get_xscale() == "log"
    assert any(list(line.get_xdata()) == [1.0, 1.0] for line in ax.lines)  # the line at 1
    squares = [line for line in ax.lines if line.get_marker() == "s"]
    circles = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(squares) == 3 and len(circles) == 3
    assert any(line.get_marker() == ">" for line in ax.lines)  # T3's upper limit is cut
    lo, hi = ax.get_xlim()
    assert lo > 0.1 and hi < 10
    assert [t.get_text() for t in ax.get_yticklabels()] == rows["term"].tolist()[::-1]


def test_forest_rows_from_the_long_comparison_table():
    long = pd.DataFrame({
        "model": ["multivariable"] * 8, "term": ["a"] * 4 + ["b"] * 4,
        "statistic": ["hr", "lower", "upper", "p"] * 2,
        "reproduced": [1.2, 0.9, 1.6, 0.2, "not estimable"] + ["not estimable"] * 3,
        "published": [1.25, 0.95, 1.7, 0.15, 1e5, 0.0, np.inf, 0.99]},
    ).set_index(["model", "term", "statistic"])
    rows = forest_rows(long)
    assert rows["term"].tolist() == ["a", "b"]
    assert rows.loc[0, "paper_hr"] == 1.25 and rows.loc[0, "hr"] == 1.2
    assert np.isnan(rows.loc[1, "hr"]) and rows.loc[1, "paper_hr"] == 1e5
    assert forest_plot(rows).not_drawn == [("b", "Paper", 1e5), ("b", "Reproduced",
                                                                  pytest.approx(np.nan,
                                                                                nan_ok=True))]


def test_small_counts_in_the_figures_are_masked(series):
    small = series.groupby("nodal").head(30)  # 30 per group: counts below 11 at late times
    k = km_plot(small, "time", "status", "nodal", times=[0, 24, 48, 72, 96], levels=LEVELS)
    before = [t.get_text() for t in k.risk_ax.texts]
    assert governance.mask_figure(k.figure, min_cell=11) > 0
    after = [t.get_text() for t in k.risk_ax.texts]
    for old, new in zip(before, after):
        assert new == ("<11" if old and 1 <= int(old.replace(",", "")) <= 10 else old)
    assert [t.get_text() for t in k.ax.texts][0].startswith("Log-rank")  # p untouched
    ci = cuminc(small, "time", "cause", group="nodal")
    ax = cif_plot(ci, cause=1, gray_p=0.5, gray_label=LEVELS[:2], levels=LEVELS, data=small,
                  duration="time", group="nodal")
    assert governance.mask_figure(ax.figure, min_cell=11) > 0
    assert "<11" in [t.get_text() for t in ax.risk_ax.texts]
    assert "Gray's test, pN0(i-) vs pN0(i+): p = 0.500" in [t.get_text() for t in ax.texts]


def test_theme_is_local_and_figures_are_hi_dpi(series):
    before = dict(mpl.rcParams)
    k = km_plot(series, "time", "status", "nodal", levels=LEVELS)
    table = pd.DataFrame({"smd_before": [0.3, 0.2], "smd_after": [0.05, 0.01]},
                         index=["distance", "age"])
    fig = love_plot(table)
    assert dict(mpl.rcParams) == before  # importing or drawing changes no global setting
    for figure in (k.figure, fig):
        assert figure.dpi == plots_style.DPI
        assert _png_width(figure) >= 1400
    # the theme's fonts stay after the figure is drawn outside the theme
    assert k.ax.xaxis.get_label().get_fontsize() >= 9
    assert min(t.get_fontsize() for t in k.ax.get_yticklabels()) >= 9
    assert min(t.get_fontsize() for t in k.risk_ax.texts) >= 9


def test_configure_inline_outside_ipython_sets_the_resolution():
    with mpl.rc_context():
        plots_style.configure_inline(dpi=150)
        assert mpl.rcParams["figure.dpi"] == 150 and mpl.rcParams["savefig.dpi"] == 150


def test_month_ticks():
    assert plots_style.month_ticks(60) == [0, 12, 24, 36, 48, 60]
    assert plots_style.month_ticks(100) == [0, 24, 48, 72, 96]
    assert plots_style.month_ticks(20) == [0, 6, 12, 18]


def test_the_theme_leaves_interactive_mode_alone():
    # a notebook's first figure starts the inline backend, which turns interactive mode on
    # inside the theme; restoring it to off would hide every later figure of the notebook
    was, dpi = mpl.is_interactive(), mpl.rcParams["figure.dpi"]
    try:
        mpl.interactive(False)
        with plots_style.theme():
            assert mpl.rcParams["figure.dpi"] == plots_style.DPI
            mpl.interactive(True)
        assert mpl.is_interactive() and mpl.rcParams["figure.dpi"] == dpi
    finally:
        mpl.interactive(was)


def test_a_note_goes_under_the_figure_and_is_masked(series):
    two = series[series["nodal"].isin(LEVELS[:2])]
    note = "Not drawn (fewer than 11 patients): pN1mi (n = 7)"
    k = km_plot(two, "time", "status", "nodal", levels=LEVELS, note=note)
    assert note in [t.get_text() for t in k.risk_ax.texts]
    ci = cuminc(two, "time", "cause", group="nodal")
    ax = cif_plot(ci, levels=LEVELS, note=note)
    assert note in [t.get_text() for t in ax.texts]
    governance.mask_figure(ax.figure, min_cell=11)
    assert "Not drawn (fewer than 11 patients): pN1mi (n = <11)" in [t.get_text()
                                                                      for t in ax.texts]


def test_long_axis_labels_go_on_two_lines():
    assert plots_style.wrap_label("Overall survival") == "Overall survival"
    assert plots_style.wrap_label("Cumulative incidence (Distant relapse (first event))") == (
        "Cumulative incidence\n(Distant relapse (first event))")
    assert max(map(len, plots_style.wrap_label("word " * 20).split("\n"))) <= 36


def test_a_title_sits_over_the_legend(series):
    k = km_plot(series, "time", "status", "nodal", levels=LEVELS, title="Overall survival")
    assert k.figure.get_suptitle() == "Overall survival"
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    k = km_plot(series, "time", "status", "nodal", ax=axes[0], levels=LEVELS, title="A",
                group_label="Nodal status")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = k.ax.get_legend().get_window_extent(renderer)
    title = k.ax.title.get_window_extent(renderer)
    assert title.y0 >= legend.y1 - 1
    assert legend.width <= 1.08 * k.ax.get_window_extent(renderer).width  # rows that fit


def test_the_power_curve_is_in_the_books_style():
    from micromet.plots_power import power_curve

    before = dict(mpl.rcParams)
    ax = power_curve([{"label": "Overall survival", "events": 82, "n_exposed": 585,
                       "n_control": 1170, "paper": 0.81, "observed": 0.85}])
    assert dict(mpl.rcParams) == before and ax.figure.dpi == plots_style.DPI
    assert _png_width(ax.figure) >= 1400
    assert min(t.get_fontsize() for t in ax.get_legend().get_texts()) >= 9
