"""Kaplan-Meier figure with a numbers-at-risk table and the log-rank P (the paper's Figure 3).

Drawn from :func:`micromet.survival.km` and :func:`micromet.survival.numbers_at_risk` (not
lifelines' plotting), so the curve, the censoring marks, the counts and the P are the numbers
the tables report. Nothing random: the same data give the same figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from micromet import survival as sv
from micromet.formatting import fmt_p
from micromet.plots_style import group_colors


@dataclass
class KMPlot:
    """The figure, the curve axes and the numbers-at-risk axes of :func:`km_plot`."""

    figure: plt.Figure
    ax: plt.Axes
    risk_ax: plt.Axes
    p_value: float | None


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
    xlabel="Time (months)",
    ylabel="Overall survival",
    title=None,
    censor_marks=True,
    ci=False,
) -> KMPlot:
    """Kaplan-Meier curves per ``group`` with a numbers-at-risk table underneath.

    ``times``: the x ticks and the columns of the at-risk table. ``p_value``: None computes
    the log-rank test (:func:`micromet.survival.logrank`) and prints it in the panel; a number
    prints that number; False prints nothing. ``labels`` maps group levels to legend text.
    ``ci`` adds the 95% log-scale bands. Returns :class:`KMPlot`.
    """
    table = sv.km(data, duration, event, group)
    levels = table.attrs["levels"]
    nar = sv.numbers_at_risk(data, duration, event, group, times)
    labels = dict(labels or {})
    colors = list(colors or group_colors(levels).values())
    if p_value is None:
        p_value = sv.logrank(data, duration, event, group).p_value
    elif p_value is False:
        p_value = None

    if ax is None:
        fig, (ax, risk_ax) = plt.subplots(
            2, 1, figsize=(7, 6), height_ratios=[4, 0.45 + 0.3 * len(levels)], sharex=True,
            layout="constrained",
        )
    else:
        fig = ax.figure
        risk_ax = ax.inset_axes([0, -0.22 - 0.09 * len(levels), 1, 0.06 * len(levels) + 0.04])
    xmax = max(max(times), float(table["time"].max()))

    for i, level in enumerate(levels):
        color = colors[i % len(colors)]
        part = table[table["group"] == level]
        x = np.r_[0.0, part["time"].to_numpy()]
        y = np.r_[1.0, part["survival"].to_numpy()]
        ax.step(x, y, where="post", color=color, lw=1.6, label=str(labels.get(level, level)))
        if ci:
            lo = np.r_[1.0, part["lower"].to_numpy()]
            hi = np.r_[1.0, part["upper"].to_numpy()]
            ax.fill_between(x, lo, hi, step="post", color=color, alpha=0.15, lw=0)
        if censor_marks:
            c = part[part["n_censor"] > 0]
            ax.plot(c["time"], c["survival"], ls="none", marker="|", ms=6, color=color)

    pad = 0.04 * (xmax - min(times))  # room for the first column of counts
    ax.set_xlim(min(times) - pad, xmax + pad)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(list(times))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(loc="lower left", frameon=False, title=group)
    ax.spines[["top", "right"]].set_visible(False)
    if p_value is not None:
        # top right unless the curves are still up there at the end (high survival: bottom right)
        low = float(table["survival"].min()) if len(table) else 1.0
        y, va = (0.30, "bottom") if low > 0.45 else (0.95, "top")
        # "Log-rank P = 0.78": two decimals, three below 0.01, "P < 0.001" below that
        text = fmt_p(p_value, 2, label="Log-rank P") if np.isfinite(p_value) else ""
        ax.text(0.97, y, text, transform=ax.transAxes, ha="right", va=va)

    # numbers at risk: one row per group, one column per time
    k = len(levels)
    for i, level in enumerate(levels):
        color = colors[i % len(colors)]
        for t in times:
            risk_ax.text(t, k - 1 - i, f"{int(nar.loc[level, t]):,}", ha="center",
                         va="center", color=color, fontsize=9)
    risk_ax.set_ylim(-0.5, k - 0.5)
    risk_ax.set_xlim(ax.get_xlim())
    risk_ax.set_yticks(range(k))
    risk_ax.set_yticklabels([str(labels.get(lv, lv)) for lv in reversed(levels)])
    for tick, i in zip(risk_ax.get_yticklabels(), reversed(range(k))):
        tick.set_color(colors[i % len(colors)])
    risk_ax.tick_params(axis="both", length=0)
    risk_ax.tick_params(axis="y", pad=8)
    risk_ax.tick_params(axis="x", labelbottom=True)
    risk_ax.set_xticks(list(times))
    risk_ax.set_xlabel(xlabel)
    for side in ("top", "right", "left", "bottom"):
        risk_ax.spines[side].set_visible(False)
    risk_ax.set_title("Number at risk", loc="left", fontsize=9)
    if ax is not None:
        ax.tick_params(axis="x", labelbottom=False)
    return KMPlot(figure=fig, ax=ax, risk_ax=risk_ax, p_value=p_value)
