"""The power curve of the robustness chapter: how likely the design was to detect each effect.

For each outcome, the power of the two-sided test of the exposure (Schoenfeld's approximation,
``micromet.power.schoenfeld_power``) against the true hazard ratio, on a log axis from 1/4 to 4,
with 80% marked and the paper's and this run's estimates shown on the curve.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from micromet.formatting import fmt_p  # noqa: F401  (one number style for the figure texts)
from micromet.plots_style import DPI, FIG_WIDTH, SMALL, palette, themed


@themed
def power_curve(curves: list[dict], *, alpha: float = 0.05, ax=None):
    """Plot power against the true HR, one line per outcome; return the matplotlib Axes.

    ``curves``: dicts with ``label`` (the outcome in words), ``events``, ``n_exposed``,
    ``n_control``, and optionally ``paper`` and ``observed`` (HRs marked on the line) and
    ``events_text`` (the number of events as it may be shown, e.g. masked)."""
    from micromet import power

    if ax is None:
        _, ax = plt.subplots(figsize=(FIG_WIDTH, 4.4), dpi=DPI)
    hr = np.exp(np.linspace(np.log(0.25), np.log(4.0), 241))
    colors = palette(max(len(curves), 1))
    for color, c in zip(colors, curves, strict=False):
        y = [power.schoenfeld_power(h, c["events"], c["n_exposed"], c["n_control"], alpha)
             for h in hr]
        ax.plot(hr, y, color=color, lw=2, label=f"{c['label']} ({c.get('events_text', format(c['events'], ','))} events)")
        for key, marker, words in (("paper", "s", "paper's estimate"),
                                   ("observed", "o", "this run's estimate")):
            value = c.get(key)
            if value is None or not np.isfinite(value) or not 0.25 <= value <= 4:
                continue
            p = power.schoenfeld_power(value, c["events"], c["n_exposed"], c["n_control"], alpha)
            ax.plot([value], [p], marker=marker, ms=7, color=color,
                    mfc="white" if key == "paper" else color, ls="none",
                    label=f"{words}, {c['label'].lower()}: {value:.2f} ({100 * p:.0f}%)")
    ax.axhline(0.8, color="0.5", lw=1, ls="--")
    ax.text(0.26, 0.81, "80% power", color="0.4", fontsize=SMALL, va="bottom")
    ax.axvline(1.0, color="0.7", lw=1)
    ax.set_xscale("log")
    ticks = [0.25, 0.5, 0.75, 1, 1.5, 2, 4]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlim(0.25, 4)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("True hazard ratio of the exposure (log scale)")
    ax.set_ylabel(f"Power (two-sided, level {alpha:g})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), fontsize=SMALL, frameon=False,
              ncol=1)
    ax.figure.tight_layout()
    return ax
