"""Cumulative incidence figure (a paper's Figure 4): one curve per group, Gray's p in a corner,
the numbers at risk beneath.

Draws a :func:`micromet.competing.cuminc` frame as R's ``plot.cuminc`` does (step functions that
start at 0 and end at each group's last follow-up), optionally with the competing cause dashed.
Groups are drawn, coloured and listed in the study's order (``levels``, the colours of
:mod:`micromet.plots_style`, as in the Kaplan–Meier figure); the legend sits above the curves and
names the causes in words.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from micromet import survival as sv
from micromet.errors import InputError
from micromet.formatting import fmt_p
from micromet.plots_style import (
    DPI,
    FIG_WIDTH,
    footnote,
    legend_above,
    month_ticks,
    ordered_levels,
    panel_title,
    text_in_free_corner,
    themed,
    wrap_label,
)
from micromet.plots_survival import XLABEL, _new_figure, draw_at_risk, risk_axes_below

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


def _at_risk(data, duration, group, times, at_risk):
    """The numbers at risk (index = group, columns = ``times``): ``at_risk`` as given, or counted
    from ``data`` (follow-up time >= t, as :func:`micromet.survival.numbers_at_risk`)."""
    if at_risk is not None:
        table = pd.DataFrame(at_risk)
        table.columns = [float(c) for c in table.columns]
        return table
    frame = pd.DataFrame({"t": data[duration].to_numpy(), "e": 0,
                          "g": data[group].astype("object").to_numpy()})
    return sv.numbers_at_risk(frame, "t", "e", "g", times)


@themed
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
    xlabel: str = XLABEL,
    ylabel: str | None = None,
    title: str | None = None,
    ylim: tuple | None = None,
    levels=None,
    group_label: str | None = None,
    gray_label=None,
    data: pd.DataFrame | None = None,
    duration: str = "time",
    group: str = "group",
    at_risk: pd.DataFrame | None = None,
    times=None,
    note: str | None = None,
):
    """Plot the cumulative incidence of ``cause`` per group; return the matplotlib Axes.

    ``gray_p``: Gray's test p-value, printed as "Gray's test p = 0.042", or with ``gray_label``
    (the groups it compares: a text or a list of groups) "Gray's test, pN0(i-) vs pN0(i+): p =
    0.014" — so a two-group p on a figure of four groups says which two. ``competing=True`` adds
    the other causes as dashed curves in the group's colour; the legend then names the causes in
    words: "<cause> (solid)", "<other> (dashed)". ``labels`` maps group values to legend labels,
    ``cause_labels`` cause codes to names (e.g. ``{1: "breast cancer", 2: "other causes"}``),
    ``colors`` group values to colours. ``levels``: the study's groups in clinical order,
    reference first (legend order and colours, as in :func:`micromet.plots_survival.km_plot`);
    ``group_label``: the legend's title in words.

    Numbers at risk beneath the curves, at the x ticks ``times`` (default: every 12 or 24
    months of the follow-up): from ``data`` (a frame with the follow-up time in column
    ``duration`` and the group in column ``group``; the rows of the patients drawn) or from a
    precomputed ``at_risk`` table (index = group, columns = times, as
    :func:`micromet.survival.numbers_at_risk` returns). The Axes of the table is ``ax.risk_ax``.
    ``note``: a footnote under the figure (e.g. the groups not drawn because they are small).
    """
    need = {"group", "cause", "time", "estimate"}
    if not need <= set(ci_frame.columns):
        raise InputError(f"not a cuminc frame: needs columns {sorted(need)}")
    if cause not in set(ci_frame["cause"]):
        raise InputError(f"no curve for cause {cause}", column="cause", value=cause)
    if data is not None:
        missing = [c for c in (duration, group) if c not in data.columns]
        if missing:
            raise InputError("cif_plot: data has no column for the numbers at risk",
                             column=missing[0])
    layout = ci_frame.attrs.get("layout", "steps")
    last = ci_frame.attrs.get("last_time", {})
    order, palette = ordered_levels(list(dict.fromkeys(ci_frame["group"])), levels)
    palette = {**palette, **(colors or {})}
    labels = dict(labels or {})
    cause_labels = dict(cause_labels or {})
    other = [c for c in dict.fromkeys(ci_frame["cause"]) if c != cause] if competing else []
    t_max = float(ci_frame["time"].max())
    with_risk = data is not None or at_risk is not None
    if times is None:
        times = (list(at_risk.columns) if at_risk is not None
                 else month_ticks(float(data[duration].max()) if data is not None else t_max))
    times = [float(t) for t in times]

    own = ax is None
    if own:
        if with_risk:
            fig, ax, risk_ax = _new_figure(len(order))
        else:
            fig, ax = plt.subplots(figsize=(FIG_WIDTH, 4.8), layout="constrained", dpi=DPI)
    elif with_risk:
        risk_ax = risk_axes_below(ax, len(order))
    curves = []
    for g in order:
        color = palette[g]
        name = str(labels.get(g, g))
        for c, style in [(cause, "-")] + [(c, "--") for c in other]:
            cur = ci_frame[(ci_frame["group"] == g) & (ci_frame["cause"] == c)]
            if cur.empty:
                continue
            x, y = _step_xy(cur, layout, last.get((g, c)))
            cname = cause_labels.get(c, f"cause {c}")
            label = name if c == cause else f"{name} ({cname})"
            ax.plot(x, y, linestyle=style, color=color, label=label, linewidth=1.8)
            curves.append((x, y))
    cause_name = cause_labels.get(cause, f"cause {cause}")
    ax.set_ylabel(wrap_label(ylabel or f"Cumulative incidence ({cause_name})"))
    ax.set_ylim(ylim or (0, None))
    if with_risk:
        pad = 0.04 * (max(max(times), t_max) - min(times))
        ax.set_xlim(min(times) - pad, max(max(times), t_max) + pad)
        ax.set_xticks(times)
    else:
        ax.set_xlim(left=0)
        ax.set_xlabel(xlabel)

    # the legend: the groups (solid, in their colours), then the causes in words
    handles = [Line2D([], [], color=palette[g], lw=1.8) for g in order]
    names = [str(labels.get(g, g)) for g in order]
    if other:
        if len(order) % 2 and len(order) > 1:  # the causes start a column of their own
            handles.append(Line2D([], [], color="none"))
            names.append("")
        handles.append(Line2D([], [], color="0.35", lw=1.8))
        names.append(f"{cause_name} (solid)")
        for c in other:
            handles.append(Line2D([], [], color="0.35", lw=1.8, linestyle="--"))
            names.append(f"{cause_labels.get(c, f'cause {c}')} (dashed)")
    if len(order) > 1 or other:
        legend_above(ax, handles, names, title=group_label,
                     ncol=-(-len(names) // 2) if other else None)
    if title:
        panel_title(ax, title, own=own)

    if with_risk:
        nar = _at_risk(data, duration, group, times, at_risk)
        nar = nar.reindex(index=order)
        draw_at_risk(risk_ax, nar, order, palette, labels, times, ax.get_xlim(), xlabel)
        ax.tick_params(axis="x", labelbottom=False)
        ax.set_xlabel("")
        ax.risk_ax = risk_ax
    else:
        ax.risk_ax = None
    if note:
        footnote(ax.risk_ax or ax, note)
    if gray_p is not None:
        if gray_label is not None and not isinstance(gray_label, str):
            gray_label = " vs ".join(str(labels.get(g, g)) for g in gray_label)
        text = (f"Gray's test, {gray_label}: {fmt_p(gray_p, label='p')}" if gray_label
                else f"Gray's test {fmt_p(gray_p, label='p')}")
        text_in_free_corner(ax, text, curves,
                            corners=("upper left", "lower right", "upper right", "lower left"))

    return ax
