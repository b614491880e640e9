"""The specification curve of a sweep: the exposure's HR (overall survival, Cox) and SHR
(breast-cancer mortality, Fine-Gray) with their 95% CIs in every cell, sorted by estimate, the
study's own choice marked; under each curve, which choices made each cell (one row per value of
each grid key and design).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from micromet.errors import InputError
from micromet.plots_style import palette

CHOICE_COLOR, OTHER_COLOR = palette(4)[3], palette(4)[0]


def _value_text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "none"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    return f"{value:g}" if isinstance(value, float) else str(value)


def specification_curve(results: pd.DataFrame, keys: list[str], *,
                        adjustment: str = "multivariable", labels: dict | None = None):
    """A matplotlib ``Figure``: for each outcome of ``results`` (the tidy frame of
    :func:`micromet.sweep.run_sweep`), the estimate and CI of each cell with an estimate,
    sorted, on a log scale with a line at 1, the study's choice in red; below it a dot for each
    choice (``design`` and the grid ``keys``) that made the cell. Cells without an estimate
    (failed, not estimable) are counted in the panel's title. ``labels``: outcome -> title."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    needed = {"outcome", "adjustment", "estimate", "lower", "upper", "study_choice", "design",
              "measure"}
    if not needed <= set(results.columns):
        raise InputError(f"a sweep's results need the columns {', '.join(sorted(needed))}")
    rows = results[results["adjustment"] == adjustment]
    outcomes = list(dict.fromkeys(rows["outcome"]))
    if not outcomes:
        raise InputError(f"no {adjustment} results to draw")
    dims = ["design", *keys]
    choices = [(d, v) for d in dims for v in dict.fromkeys(_value_text(x) for x in rows[d])]
    fig = Figure(figsize=(5.2 * len(outcomes), 3.4 + 0.22 * len(choices)))
    grid = fig.add_gridspec(2, len(outcomes), height_ratios=[3.2, 0.22 * len(choices) + 0.3],
                            hspace=0.05, wspace=0.28)
    for j, outcome in enumerate(outcomes):
        part = rows[rows["outcome"] == outcome]
        drawn = part[part["estimate"].notna()].sort_values(["estimate", "cell"], kind="stable")
        top = fig.add_subplot(grid[0, j])
        bottom = fig.add_subplot(grid[1, j], sharex=top)
        x = np.arange(len(drawn))
        est = drawn["estimate"].to_numpy(float)
        low = drawn["lower"].to_numpy(float)
        up = drawn["upper"].to_numpy(float)
        ok = np.isfinite(low) & np.isfinite(up)
        mine = drawn["study_choice"].to_numpy(bool)
        colors = np.where(mine, CHOICE_COLOR, OTHER_COLOR)
        top.vlines(x[ok], low[ok], up[ok], colors=colors[ok], linewidth=1.2)
        top.scatter(x[~mine], est[~mine], color=OTHER_COLOR, s=18, zorder=3, label="cell")
        if mine.any():
            top.scatter(x[mine], est[mine], color=CHOICE_COLOR, marker="D", s=36, zorder=4,
                        label="the study's choice")
        top.axhline(1.0, color="0.4", linestyle="--", linewidth=0.8)
        if len(drawn) and np.all(est > 0) and np.all(low[ok] > 0):
            top.set_yscale("log")
            top.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            top.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            top.yaxis.set_minor_formatter(NullFormatter())
        measure = part["measure"].iloc[0]
        missing = len(part) - len(drawn)
        title = (labels or {}).get(outcome, outcome)
        title += f" ({adjustment} {measure})"
        if missing:
            title += f"\n{missing} cell(s) without an estimate not shown"
        top.set_title(title, fontsize=10)
        top.set_ylabel(f"{measure} (95% CI)")
        top.tick_params(axis="x", labelbottom=False)
        top.grid(axis="y", color="0.92")
        for i, (dim, value) in enumerate(choices):
            y = len(choices) - 1 - i
            hit = np.array([_value_text(v) == value for v in drawn[dim]], dtype=bool)
            bottom.scatter(x[hit], np.full(hit.sum(), y), s=10,
                           color=np.where(mine[hit], CHOICE_COLOR, "0.25"))
        bottom.set_yticks(range(len(choices)))
        bottom.set_yticklabels([f"{d} = {v}" for d, v in reversed(choices)] if j == 0 else [],
                               fontsize=8)
        bottom.set_ylim(-0.6, len(choices) - 0.4)
        bottom.set_xlabel("cells, sorted by estimate")
        bottom.set_xlim(-0.7, max(len(drawn), 1) - 0.3)
        bottom.set_xticks([])
    handles, names = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=2, frameon=False, fontsize=8)
    fig.subplots_adjust(left=0.3 if len(outcomes) == 1 else 0.18, right=0.98, top=0.86,
                        bottom=0.08)
    return fig
