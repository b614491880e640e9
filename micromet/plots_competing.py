"""Cumulative incidence figure (a paper's Figure 4): one curve per group, Gray's p in the corner.

Draws a :func:`micromet.competing.cuminc` frame as R's ``plot.cuminc`` does (step functions that
start at 0 and end at each group's last follow-up), optionally with the competing cause dashed.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from micromet.errors import InputError
from micromet.formatting import fmt_p
from micromet.plots_style import group_colors

__all__ = ["cif_plot"]


def _step_xy(cur: pd.DataFrame, layout: str, last_time) -> tuple[np.ndarray, np.ndarray]:
    t = cur["time"].to_numpy(dtype=float)
    y = cur["estimate"].to_numpy(dtype=float)
    if layout == "steps":  # cmprsk's duplicated corners already draw the steps
        return t, y
    # jumps: make the corners, and carry the last value to the last follow-up time
    tt = np.repeat(t, 2)[1:]
    yy = np.repeat(y, 2)[:-1]
    if last_time is not None and np.isfinite(last_time) and last_time > t[-1]:
        tt = np.append(tt, last_time)
        yy = np.append(yy, y[-1])
    return tt, yy


def cif_plot(
    ci_frame: pd.DataFrame,
    *,
    cause: int = 1,
    gray_p: float | None = None,
    ax=None,
    competing: bool = False,
    labels: dict | None = None,
    cause_labels: dict | None = None,
    colors: dict | None = None,
    xlabel: str = "Months",
    ylabel: str | None = None,
    title: str | None = None,
    ylim: tuple | None = None,
):
    """Plot the cumulative incidence of ``cause`` per group; return the matplotlib Axes.

    ``gray_p``: Gray's test p-value, printed as "Gray's test p = 0.042". ``competing=True`` adds
    the other causes as dashed curves in the group's colour. ``labels`` maps group values to
    legend labels, ``cause_labels`` cause codes to names (e.g. ``{2: "other causes"}``),
    ``colors`` group values to colours.
    """
    need = {"group", "cause", "time", "estimate"}
    if not need <= set(ci_frame.columns):
        raise InputError(f"not a cuminc frame: needs columns {sorted(need)}")
    if cause not in set(ci_frame["cause"]):
        raise InputError(f"no curve for cause {cause}", column="cause", value=cause)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    layout = ci_frame.attrs.get("layout", "steps")
    last = ci_frame.attrs.get("last_time", {})
    groups = list(dict.fromkeys(ci_frame["group"]))
    palette = list(group_colors(groups).values())
    other = [c for c in dict.fromkeys(ci_frame["cause"]) if c != cause] if competing else []
    for i, g in enumerate(groups):
        color = (colors or {}).get(g, palette[i % len(palette)])
        name = str((labels or {}).get(g, g))
        for c, style in [(cause, "-")] + [(c, "--") for c in other]:
            cur = ci_frame[(ci_frame["group"] == g) & (ci_frame["cause"] == c)]
            if cur.empty:
                continue
            x, y = _step_xy(cur, layout, last.get((g, c)))
            cname = (cause_labels or {}).get(c, f"cause {c}")
            label = name if c == cause else f"{name} ({cname})"
            ax.plot(x, y, linestyle=style, color=color, label=label, linewidth=1.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or "Cumulative incidence"
                  + (f" ({(cause_labels or {}).get(cause, f'cause {cause}')})"))
    ax.set_xlim(left=0)
    ax.set_ylim(ylim or (0, None))
    if title:
        ax.set_title(title)
    if gray_p is not None:
        ax.text(0.03, 0.95, f"Gray's test {fmt_p(gray_p, label='p')}", transform=ax.transAxes,
                va="top", ha="left")
    if len(groups) > 1 or other:
        ax.legend(frameon=False, loc="lower right")
    return ax
