"""Love plot: absolute standardized mean differences before and after matching.

The figure of ``cobalt::love.plot(m, abs = TRUE, thresholds = c(m = 0.1))`` and of study A's
Figure 2: one row per variable (the propensity ``distance`` first), the absolute SMD of all data
and of the matched data, and a dashed line at the threshold (0.1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from micromet.errors import InputError
from micromet.plots_style import AFTER_COLOR, BEFORE_COLOR


def love_plot(balance_table, threshold: float = 0.1, ax=None, *, title: str | None = None):
    """Draw |SMD| before and after matching; return the matplotlib Figure.

    ``balance_table``: a ``micromet.matching.BalanceTable`` or its ``.table`` (a DataFrame with
    columns ``smd_before`` and ``smd_after``, index = variable). Variables are drawn top to
    bottom in the table's order. ``ax``: an Axes to draw into (else a new figure).
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
        fig, ax = plt.subplots(figsize=(6.0, 0.32 * len(labels) + 1.4))
    else:
        fig = ax.figure
    for yi, b, a in zip(y, before, after):
        ax.plot([b, a], [yi, yi], color="0.8", linewidth=1, zorder=1)
    ax.scatter(before, y, facecolors="white", edgecolors=BEFORE_COLOR, label="All data", zorder=2)
    ax.scatter(after, y, color=AFTER_COLOR, label="Matched", zorder=3)
    ax.axvline(threshold, color="0.3", linestyle="--", linewidth=1,
               label=f"|SMD| = {threshold:g}")
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_xlabel("Absolute standardized mean difference")
    ax.set_xlim(left=0)
    ax.grid(axis="x", color="0.92")
    ax.legend(loc="best", frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
