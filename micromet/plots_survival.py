"""Kaplan-Meier figure with a numbers-at-risk table and the log-rank p (the paper's Figure 3).

Drawn from :func:`micromet.survival.km` and :func:`micromet.survival.numbers_at_risk` (not
lifelines' plotting), so the curve, its pointwise 95% band, the censoring marks, the counts and the
p are the numbers the tables report. The y axis is zoomed to the data (its lower limit is a round
value below the lowest band), groups are drawn, coloured and listed in the study's order
(``levels``, :mod:`micromet.plots_style`), the legend sits above the curves. Nothing random: the
same data give the same figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from micromet import survival as sv
from micromet.formatting import fmt_p
from micromet.plots_style import (
    DPI,
    FIG_WIDTH,
    SMALL,
    footnote,
    legend_above,
    ordered_levels,
    panel_title,
    text_in_free_corner,
    themed,
    wrap_label,
)

XLABEL = "Months since diagnosis"


@dataclass
class KMPlot:
    """The figure, the curve axes and the numbers-at-risk axes of :func:`km_plot`."""

    figure: plt.Figure
    ax: plt.Axes
    risk_ax: plt.Axes
    p_value: float | None


def zoomed_ylim(lowest: float) -> tuple[float, float]:
    """y limits of a survival axis: from a round value (a multiple of 0.1, or of 0.05 when the
    curves stay above 0.7) below ``lowest`` to just above 1."""
    if not np.isfinite(lowest):
        lowest = 0.0
    lowest = min(max(lowest, 0.0), 1.0)
    step = 0.05 if lowest > 0.7 else 0.1
    bottom = max(0.0, math.floor((lowest - 0.01) / step + 1e-9) * step)
    return round(bottom, 2), 1.0 + 0.02 * (1.0 - bottom)


def risk_axes_below(ax, k: int):
    """An axes for a numbers-at-risk table of ``k`` rows under ``ax`` (when ``ax`` was given)."""
    return ax.inset_axes([0, -0.24 - 0.09 * k, 1, 0.06 * k + 0.04])


def draw_at_risk(risk_ax, nar: pd.DataFrame, order, colors: dict, labels: dict, times,
                 xlim, xlabel: str) -> None:
    """The numbers-at-risk table: one row per group (in ``order``, top down, in the group's
    colour), one column per time, each count a text of ``risk_ax`` (so that
    :func:`micromet.governance.mask_figure` masks the small ones)."""
    k = len(order)
    for i, level in enumerate(order):
        for t in times:
            value = nar.loc[level, t]
            text = "" if pd.isna(value) else f"{int(value):,}"
            risk_ax.text(t, k - 1 - i, text, ha="center", va="center", color=colors[level],
                         fontsize=SMALL)
    risk_ax.set_ylim(-0.5, k - 0.5)
    risk_ax.set_xlim(xlim)
    risk_ax.set_yticks(range(k))
    risk_ax.set_yticklabels([str(labels.get(lv, lv)) for lv in reversed(order)])
    for tick, level in zip(risk_ax.get_yticklabels(), reversed(order)):
        tick.set_color(colors[level])
        tick.set_fontsize(SMALL)
    risk_ax.tick_params(axis="both", length=0)
    risk_ax.tick_params(axis="y", pad=8)
    risk_ax.tick_params(axis="x", labelbottom=True)
    risk_ax.set_xticks(list(times))
    risk_ax.set_xticklabels([f"{t:g}" for t in times])
    risk_ax.set_xlabel(xlabel)
    for side in ("top", "right", "left", "bottom"):
        risk_ax.spines[side].set_visible(False)
    risk_ax.set_title("Number at risk", loc="left", fontsize=SMALL, fontweight="normal")


def _new_figure(k: int, height: float = 4.4):
    """A figure of the book's width: the curves above, a numbers-at-risk table of ``k`` rows."""
    risk_height = 0.55 + 0.28 * k
    fig, (ax, risk_ax) = plt.subplots(
        2, 1, figsize=(FIG_WIDTH, height + risk_height), height_ratios=[height, risk_height],
        sharex=True, layout="constrained", dpi=DPI,
    )
    return fig, ax, risk_ax


@themed
def km_plot(
    data,
    duration,
    event,
    group,
    *,
    times=(0, 12, 24, 36, 48, 60),
    p_value=None,
    ax=None,
    labels=None,
    colors=None,
    xlabel=XLABEL,
    ylabel="Overall survival",
    title=None,
    censor_marks=True,
    ci=True,
    levels=None,
    group_label=None,
    p_label=None,
    zoom=True,
    note=None,
) -> KMPlot:
    """Kaplan-Meier curves per ``group`` with their pointwise 95% bands and a numbers-at-risk
    table underneath.

    ``times``: the x ticks and the columns of the at-risk table. ``p_value``: None computes
    the log-rank test (:func:`micromet.survival.logrank`) and prints it in a free corner of the
    panel ("Log-rank p = 0.33"; with more than two groups "Log-rank test, 4 groups: p = ...",
    or ``p_label`` + " = ..."); a number prints that number; False prints nothing.
    ``levels``: the study's groups in clinical order, reference first: the order of the legend
    and of the at-risk rows, and the colours (:func:`micromet.plots_style.group_colors`, the
    same in every figure of the study). ``group_label``: the legend's title in words ("Nodal
    status"; none by default). ``labels`` maps group levels to legend text; ``colors`` (a list
    in the order drawn, or a dict by level) overrides the palette. ``ci`` (default on) draws the
    log-scale 95% bands of :func:`micromet.survival.km`; ``zoom`` (default on) starts the y axis
    at a round value below the lowest band instead of 0. ``note``: a footnote under the figure
    (e.g. the groups not drawn because they are small). Returns :class:`KMPlot`.
    """
    table = sv.km(data, duration, event, group)
    order, palette = ordered_levels(table.attrs["levels"], levels)
    if isinstance(colors, dict):
        palette = {**palette, **colors}
    elif colors:
        colors = list(colors)
        palette = {lv: colors[i % len(colors)] for i, lv in enumerate(order)}
    nar = sv.numbers_at_risk(data, duration, event, group, times)
    labels = dict(labels or {})
    if p_value is None:
        p_value = sv.logrank(data, duration, event, group).p_value
    elif p_value is False:
        p_value = None

    k = len(order)
    own = ax is None
    if own:
        fig, ax, risk_ax = _new_figure(k)
    else:
        fig = ax.figure
        risk_ax = risk_axes_below(ax, k)
    xmax = max(max(times), float(table["time"].max()))

    handles, curves, lowest = [], [], []
    for level in order:
        color = palette[level]
        part = table[table["group"] == level]
        x = np.r_[0.0, part["time"].to_numpy(dtype=float)]
        y = np.r_[1.0, part["survival"].to_numpy(dtype=float)]
        (line,) = ax.step(x, y, where="post", color=color, lw=1.8,
                          label=str(labels.get(level, level)))
        handles.append(line)
        curves.append((x, y))
        lowest.append(np.nanmin(y))
        if ci:
            lo = np.r_[1.0, part["lower"].to_numpy(dtype=float)]
            hi = np.r_[1.0, part["upper"].to_numpy(dtype=float)]
            ax.fill_between(x, lo, hi, step="post", color=color, alpha=0.15, lw=0)
            curves += [(x, lo), (x, hi)]
            if np.isfinite(lo).any():
                lowest.append(np.nanmin(lo))
        if censor_marks:
            c = part[part["n_censor"] > 0]
            ax.plot(c["time"], c["survival"], ls="none", marker="|", ms=5, mew=1.0,
                    color=color)

    pad = 0.04 * (xmax - min(times))  # room for the first column of counts
    ax.set_xlim(min(times) - pad, xmax + pad)
    ax.set_ylim(zoomed_ylim(min(lowest)) if zoom and lowest else (0, 1.02))
    ax.set_xticks(list(times))
    ax.set_ylabel(wrap_label(ylabel))
    names = [str(labels.get(lv, lv)) for lv in order]
    if ci:  # say once what the bands are
        handles = [*handles, Line2D([], [], color="0.55", lw=7, alpha=0.3)]
        names = [*names, "95% CI"]
    legend_above(ax, handles, names, title=group_label)
    if title:
        panel_title(ax, title, own=own)
    draw_at_risk(risk_ax, nar, order, palette, labels, list(times), ax.get_xlim(), xlabel)
    ax.tick_params(axis="x", labelbottom=False)
    if not own:
        ax.set_xlabel("")
    if note:
        footnote(risk_ax, note)
    if p_value is not None:
        prefix = p_label or ("Log-rank p" if k <= 2 else f"Log-rank test, {k} groups: p")
        text = fmt_p(p_value, 2, label=prefix) if np.isfinite(p_value) else ""
        text_in_free_corner(ax, text, curves)

    return KMPlot(figure=fig, ax=ax, risk_ax=risk_ax, p_value=p_value)
