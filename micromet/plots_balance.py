"""Love plot: absolute standardized mean differences before and after matching.

The figure of ``cobalt::love.plot(m, abs = TRUE, thresholds = c(m = 0.1))`` and of study A's
Figure 2: one row per variable (the propensity ``distance`` first), the absolute SMD of all data
and of the matched data, and a dashed line at the threshold (0.1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from micromet.errors import InputError
from micromet.plots_style import AFTER_COLOR, BEFORE_COLOR, DPI, FIG_WIDTH, legend_above, themed


@themed
def love_plot(balance_table, threshold: float = 0.1, ax=None, *, title: str | None = None,
              before_label: str = "All data", after_label: str = "Matched"):
    """Draw |SMD| before and after matching; return the matplotlib Figure.

    ``balance_table``: a ``micromet.matching.BalanceTable`` or its ``.table`` (a DataFrame with
    columns ``smd_before`` and ``smd_after``, index = variable). Variables are drawn top to
    bottom in the table's order. ``ax``: an Axes to draw into (else a new figure of the book's
    width). ``before_label`` / ``after_label``: the legend's words for the open and the filled
    marks (e.g. "Before weighting", "Weighted"). The legend sits above the axes.
    """
    import matplotlib.pyplot as plt

    table = getattr(balance_table, "table", balance_table)
    if not isinstance(table, pd.DataFrame) or not {"smd_before", "smd_after"} <= set(
        table.columns
    ):
        raise InputError("love_plot needs a balance table with smd_before and smd_after columns")
    before = table["smd_before"].abs().to_numpy(dtype=float)
    after = table["smd_after"].abs().to_numpy(dtype=float)
    labels = [str(v) for v in table.index]
    y = np.arange(len(labels))[::-1]
    if ax is None:
        fig, ax = plt.subplots(figsize=(FIG_WIDTH, 0.34 * len(labels) + 1.7),
                               layout="constrained", dpi=DPI)
    else:
        fig = ax.figure
    for yi, b, a in zip(y, before, after):
        ax.plot([b, a], [yi, yi], color="0.8", linewidth=1, zorder=1)
    ax.scatter(before, y, facecolors="white", edgecolors=BEFORE_COLOR, linewidths=1.5, s=42,
               label=before_label, zorder=2)
    ax.scatter(after, y, color=AFTER_COLOR, s=42, label=after_label, zorder=3)
    ax.axvline(threshold, color="0.3", linestyle="--", linewidth=1,
               label=f"|SMD| = {threshold:g}")
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_xlabel("Absolute standardized mean difference")
    ax.set_xlim(left=0)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.grid(axis="x", color="0.92")
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    handles, names = ax.get_legend_handles_labels()
    legend_above(ax, handles, names)
    if title:
        fig.suptitle(title, x=0.02, ha="left", fontweight="bold")
    return fig
