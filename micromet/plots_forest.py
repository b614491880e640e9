"""Forest plot: the paper's hazard ratios beside the reproduced ones, term by term.

One row per term (top down in the order of ``rows``): the paper's HR and 95% CI (a grey square)
just above the reproduced one (a coloured circle), on a log scale with a line at 1. A value that
is not finite or is beyond ``exp(±max_log)`` (``|log HR| > 5``: an artefact of separation, a "10⁵"
printed by a paper) is not drawn, since it would squash every other interval to a dot; it is
listed in a footnote ("not drawn: ..."). A confidence limit beyond the axis is cut at the axis
with an arrow head.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator

from micromet.errors import InputError
from micromet.plots_style import DPI, FIG_WIDTH, footnote, legend_above, palette, themed

__all__ = ["forest_plot", "forest_rows"]

PAPER_COLOR = "0.45"
#: the candidate ticks of the log axis
_TICKS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]


def _value(x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def _drawable(hr, max_log) -> bool:
    return math.isfinite(hr) and hr > 0 and abs(math.log(hr)) <= max_log


def _show(hr) -> str:
    if not math.isfinite(hr):
        return "not estimable"
    return f"{hr:.2e}" if hr >= 1e4 or hr < 1e-3 else f"{hr:.3g}"


def forest_rows(vs_published: pd.DataFrame, model: str = "multivariable") -> pd.DataFrame:
    """The rows of :func:`forest_plot` from a long table of reproduced vs published numbers
    (``micromet.analyses.models_vs_published``: index model, term, statistic; columns
    reproduced, published): term, paper_hr/lower/upper, hr/lower/upper of ``model``."""
    table = vs_published.reset_index()
    table = table[table["model"] == model]
    out = []
    for term, part in table.groupby("term", sort=False):
        by = part.set_index("statistic")
        row = {"term": term}
        for stat in ("hr", "lower", "upper"):
            row[f"paper_{stat}"] = _value(by["published"].get(stat))
            row[stat] = _value(by["reproduced"].get(stat))
        out.append(row)
    return pd.DataFrame(out, columns=["term", "paper_hr", "paper_lower", "paper_upper", "hr",
                                      "lower", "upper"])


@themed
def forest_plot(rows: pd.DataFrame, *, label: str = "term",
                paper=("paper_hr", "paper_lower", "paper_upper"),
                reproduced=("hr", "lower", "upper"), ax=None, title: str | None = None,
                xlabel: str = "Hazard ratio (95% CI, log scale)", paper_label: str = "Paper",
                reproduced_label: str = "Reproduced", color: str | None = None,
                max_log: float = 5.0):
    """Draw the paper's and the reproduced hazard ratios per term; return the Figure.

    ``rows``: a DataFrame with the term's text in column ``label`` and the paper's HR, lower
    and upper limits in the columns ``paper`` and the reproduced ones in ``reproduced`` (a
    missing column, or a text such as "not estimable", counts as not finite). Either side of
    a term whose HR is not finite or has ``|log HR| > max_log`` is not drawn and is listed in
    the footnote (a text of the axes: ``"not drawn: ..."``). The figure's ``not_drawn``
    attribute lists them as (term, side, value)."""
    if not isinstance(rows, pd.DataFrame) or label not in rows.columns:
        raise InputError(f"forest_plot needs a DataFrame with a '{label}' column", column=label)
    color = color or palette(1)[0]
    sides = [(paper_label, paper, PAPER_COLOR, "s", 0.17),
             (reproduced_label, reproduced, color, "o", -0.17)]

    def values(row, cols):
        return tuple(_value(row[c]) if c in row.index else math.nan for c in cols)

    drawn, skipped = [], []
    for _, row in rows.iterrows():
        term = str(row[label])
        kept = []
        for name, cols, col, marker, dy in sides:
            hr, lo, hi = values(row, cols)
            if _drawable(hr, max_log):
                kept.append((name, hr, lo, hi, col, marker, dy))
            elif cols[0] in row.index:  # a side the table has, but not drawable
                skipped.append((term, name, hr))
        drawn.append((term, kept))

    shown = [(term, kept) for term, kept in drawn if kept]
    n = max(len(shown), 1)
    # the axis: round ticks around every point and finite limit drawn
    xs = [v for _, kept in shown for (_, hr, lo, hi, *_) in kept
          for v in (hr, lo, hi) if _drawable(v, max_log)]
    lo_x = min(xs + [1.0]) / 1.25
    hi_x = max(xs + [1.0]) * 1.25
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(FIG_WIDTH, 0.5 * n + 1.9), layout="constrained",
                               dpi=DPI)
    else:
        fig = ax.figure
    ax.set_xscale("log")
    ax.set_xlim(lo_x, hi_x)
    ax.axvline(1.0, color="0.3", lw=1, ls="--", zorder=1)
    for i, (_term, kept) in enumerate(shown):
        y = n - 1 - i
        for _name, hr, lo, hi, col, marker, dy in kept:
            left = lo if math.isfinite(lo) and lo >= lo_x else lo_x
            right = hi if math.isfinite(hi) and hi <= hi_x else hi_x
            ax.plot([left, right], [y + dy] * 2, color=col, lw=1.6, zorder=2,
                    solid_capstyle="butt")
            if left != lo:
                ax.plot([left], [y + dy], marker="<", color=col, ms=6, zorder=2)
            if right != hi:
                ax.plot([right], [y + dy], marker=">", color=col, ms=6, zorder=2)
            ax.plot([hr], [y + dy], marker=marker, color=col, ms=7.5, ls="none", zorder=3,
                    markeredgecolor="white", markeredgewidth=0.6)
    ax.set_yticks(range(n))
    ax.set_yticklabels([term for term, _ in shown][::-1] if shown else [""])
    ax.set_ylim(-0.7, n - 0.3)
    ticks = [t for t in _TICKS if lo_x <= t <= hi_x]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", color="0.92", zorder=0)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    handles = [Line2D([], [], color=c, marker=m, lw=1.6, ms=7.5) for _, _, c, m, _ in sides]
    legend_above(ax, handles, [s[0] for s in sides])
    if title:
        fig.suptitle(title, x=0.02, ha="left", fontweight="bold")
    if skipped:
        note = "not drawn: " + "; ".join(f"{term} ({name.lower()} HR {_show(hr)})"
                                         for term, name, hr in skipped)
        footnote(ax, note)
    fig.not_drawn = skipped
    return fig
