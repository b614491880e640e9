"""The study flowchart (CONSORT style, like the paper's Figure 1), drawn with matplotlib only.

A column of boxes runs from the extracted rows (with the count per group) down to the final
cohort; each criterion that removed rows gets a box on the side with the number excluded (per
group); the last row of boxes gives the final cohort per group.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from micromet.errors import InputError
from micromet.plots_style import DPI, FIG_WIDTH, themed

#: Exclusion-box texts for the paper's criteria (``micromet.cohort.PAPER_CRITERIA``).
PAPER_STEP_LABELS = {
    "female": "Male patients",
    "age 18-89": "Age <18 or >89 years",
    "grade known": "Grade unknown (9), undifferentiated (D),\nnuclear grade (L/M/H) or blank",
    "not Tis or T0": "T stage Tis or T0",
    "complete information": "Incomplete clinical or pathological\ninformation",
    "known cause of death": "Unknown cause of death",
}

_BOX = {"boxstyle": "square,pad=0.5", "facecolor": "white", "edgecolor": "black",
        "linewidth": 1.0}


def _fmt(n) -> str:
    """A count with thousands separators; a withheld count ("<11", "*") as it is."""
    if isinstance(n, str):
        return n
    return "NA" if n is None or pd.isna(n) else f"{int(n):,}"


def _groups_of(flow: pd.DataFrame) -> list[str]:
    return [c[len("remaining["):-1] for c in flow.columns if c.startswith("remaining[")]


@themed
def flowchart(flow: pd.DataFrame, group_labels=None, *, step_labels=None,
              source="Patients extracted from SEER (2018-2022)", final="Final cohort",
              hide_empty=False, figsize=None):
    """Draw the flow table of ``micromet.cohort.build_cohort`` as a flowchart; return the Figure.

    ``group_labels`` maps group levels to display names (default: the levels); ``step_labels``
    maps criterion names to the text of their exclusion box (default "Excluded: <name>");
    ``hide_empty`` leaves out criteria that removed nobody.
    """
    need = {"step", "excluded", "remaining"}
    if not isinstance(flow, pd.DataFrame) or not need <= set(flow.columns) or len(flow) < 1:
        raise InputError("flowchart needs the flow table of build_cohort (step, excluded, "
                         "remaining, per-group columns)")
    groups = _groups_of(flow)
    group_labels = dict(group_labels or {})
    step_labels = dict(step_labels or {})

    def per_group(row, kind):
        if not groups:
            return ""
        return "\n" + "; ".join(f"{group_labels.get(g, g)}: {_fmt(row[f'{kind}[{g}]'])}"
                                for g in groups)

    first = flow.iloc[0]
    steps = flow.iloc[1:]
    if hide_empty:
        steps = steps[steps["excluded"].fillna(0) > 0]
    n_steps = len(steps)
    height = 2.0 + 1.25 * n_steps + 1.6
    # drawn at about the width of a book page so that the text is read at its own size
    fig, ax = plt.subplots(figsize=figsize or (FIG_WIDTH, max(3.5, 0.78 * height)), dpi=DPI)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, height)
    ax.axis("off")
    x_main, x_side = 3.2, 7.4
    y = height - 0.8
    ax.text(x_main, y, f"{source}\nn = {_fmt(first['remaining'])}{per_group(first, 'remaining')}",
            ha="center", va="center", fontsize=10, bbox=_BOX)
    y_top = y - 0.6
    arrow = {"arrowstyle": "<|-", "color": "black", "lw": 1.0, "shrinkA": 2, "shrinkB": 0}
    for _, row in steps.iterrows():
        y -= 1.25
        text = step_labels.get(row["step"], f"Excluded by criterion: {row['step']}")
        ax.annotate(f"{text}\nn = {_fmt(row['excluded'])}{per_group(row, 'excluded')}",
                    xy=(x_main, y), xytext=(x_side, y), ha="center", va="center", fontsize=9.5,
                    bbox=_BOX, arrowprops=arrow)
    y_final = y - 1.6
    y_split = y_final + 0.8
    ax.plot([x_main, x_main], [y_top, y_split], color="black", lw=1.0)
    last = flow.iloc[-1]
    if groups:
        width = 8.0 / len(groups)
        xs = [1.0 + width * (i + 0.5) for i in range(len(groups))]
        ax.plot([min(xs + [x_main]), max(xs + [x_main])], [y_split, y_split], color="black",
                lw=1.0)
        for xg, g in zip(xs, groups):
            ax.annotate(f"{final}: {group_labels.get(g, g)}\nn = "
                        f"{_fmt(last[f'remaining[{g}]'])}", xy=(xg, y_split),
                        xytext=(xg, y_final), ha="center", va="center", fontsize=10, bbox=_BOX,
                        arrowprops=arrow)
    else:
        ax.annotate(f"{final}\nn = {_fmt(last['remaining'])}", xy=(x_main, y_split),
                    xytext=(x_main, y_final), ha="center", va="center", fontsize=10, bbox=_BOX,
                    arrowprops=arrow)
    fig.tight_layout()
    return fig
