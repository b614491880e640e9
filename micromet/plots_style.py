"""One style and one palette for every figure of the book, from seaborn.

**Theme.** :data:`THEME` is seaborn's ``ticks`` style at the ``notebook`` scale (text 11-12 pt,
never below 9 pt at the book's figure width, :data:`FIG_WIDTH` = 7.2 in) with the resolution of the
book (:data:`DPI` = 200: a figure 7.2 in wide is a PNG of about 1,440 px). It is applied by
:func:`theme`, a context manager that every plot function of ``micromet.plots_*`` enters while it
draws (and in which it renders the figure once, so that ticks created later keep the style):
importing micromet or drawing one of its figures never changes the user's global matplotlib
settings. Figures are created with ``dpi=DPI``, so the inline backend's PNG is hi-DPI without any
set-up.

**Palette.** Groups get colours by their position in the study's order of levels (reference group
first) from seaborn's colour-blind-safe palette: :func:`group_colors` gives a group the same colour
in the Kaplan–Meier, the cumulative-incidence and any other figure of a study, provided every
figure is given the study's ``levels`` (a figure that leaves out a small group keeps the colours of
the others).

**Notebooks.** A chapter calls :func:`configure_inline` once (after its imports): PNG output
(``InlineBackend.figure_formats = {"png"}``, ``bbox_inches="tight"``) and ``figure.dpi`` /
``savefig.dpi`` = 200 for figures drawn outside micromet. SVG is not used: a Kaplan–Meier curve of a
registry has thousands of steps.
"""

from __future__ import annotations

import contextlib
import functools
import math
import textwrap
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import seaborn as sns

PALETTE = "colorblind"
#: resolution of the book's figures (dots per inch)
DPI = 200
#: width of the book's figures (inches): 7.2 in at 200 dpi is about 1,440 px
FIG_WIDTH = 7.2
#: the smallest text drawn (pt at the figure size): still legible at a 420 px phone width
SMALL = 10

#: the rc parameters of the book's figures: seaborn "ticks" + "notebook" (set once, applied by
#: :func:`theme` only)
THEME: dict = {
    **sns.axes_style("ticks"),
    **sns.plotting_context("notebook"),
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "savefig.bbox": "tight",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlelocation": "left",
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "font.size": 11,
}


@contextlib.contextmanager
def theme():
    """The book's theme (:data:`THEME`) for the duration of a ``with`` block only.

    Only the parameters of the theme are set and put back (not ``matplotlib.rc_context``, which
    restores every parameter: a figure drawn first in a notebook starts the inline backend,
    which turns ``interactive`` on; restoring it to off would keep every later figure of the
    notebook from being shown)."""
    saved = {key: mpl.rcParams[key] for key in THEME}
    try:
        mpl.rcParams.update(THEME)
        yield
    finally:
        mpl.rcParams.update(saved)


def themed(func):
    """Decorator: run a plot function inside :func:`theme`, and lay its figure out once inside
    the theme (ticks are created lazily at the first draw and would otherwise take the global
    settings; ``draw_without_rendering``: everything a draw decides, without the pixels)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with theme():
            out = func(*args, **kwargs)
            fig = _figure_of(out)
            if fig is not None:
                fig.draw_without_rendering()
        return out

    return wrapper


def _figure_of(out):
    for obj in (out, getattr(out, "figure", None), getattr(getattr(out, "figure", None),
                                                            "figure", None)):
        if isinstance(obj, mpl.figure.Figure):
            return obj
    return None


def palette(n: int) -> list[str]:
    """``n`` colours (hex) of the book's palette, in its fixed order."""
    return sns.color_palette(PALETTE, n_colors=max(int(n), 1)).as_hex()


def group_colors(levels: Sequence) -> dict:
    """{level: colour} for the groups of a figure, in the order given (reference first)."""
    levels = list(levels)
    return dict(zip(levels, palette(len(levels)), strict=True))


def ordered_levels(present: Sequence, levels: Sequence | None = None) -> tuple[list, dict]:
    """The groups ``present`` in a figure in the study's order ``levels`` (others after, in their
    order), and their colours keyed by group: the colour of a group is that of its position in
    ``levels``, so it does not change when a figure leaves a group out."""
    present = list(dict.fromkeys(present))
    if levels is None:
        full = present
    else:
        levels = list(levels)
        keys = {str(v): v for v in present}
        # a level given as text matches a group stored as a number ("1" and 1)
        matched = [keys[str(lv)] if lv not in present and str(lv) in keys else lv
                   for lv in levels]
        full = list(dict.fromkeys(matched + present))
    colors = group_colors(full)
    return [g for g in full if g in present], colors


def legend_above(ax, handles, labels, *, title=None, ncol=None, fontsize=None):
    """A legend above the axes, left-aligned, so it never covers a curve: in one row when it
    fits the width of the axes, else in as few rows as fit."""
    n = len(labels)
    renderer = ax.figure.canvas.get_renderer()
    width = ax.get_window_extent(renderer).width
    for cols in ([ncol] if ncol else range(n if n <= 5 else math.ceil(n / 2), 0, -1)):
        legend = ax.legend(handles, labels, title=title, loc="lower left",
                           bbox_to_anchor=(0, 1.02), ncol=cols, frameon=False, borderaxespad=0,
                           handlelength=1.8, columnspacing=1.2, alignment="left",
                           fontsize=fontsize, title_fontsize=fontsize)
        if legend.get_window_extent(renderer).width <= 1.08 * width:
            break
    return legend


def panel_title(ax, title: str, *, own: bool) -> None:
    """A figure's title: above everything (left, bold) when micromet made the figure, else the
    title of ``ax`` lifted over the legend that :func:`legend_above` put above the axes."""
    if own:
        ax.figure.suptitle(title, x=0.02, ha="left", fontweight="bold")
        return
    pad = 6.0
    legend = ax.get_legend()
    if legend is not None:
        fig = ax.figure
        fig.draw_without_rendering()
        pad += legend.get_window_extent().height * 72 / fig.dpi
    ax.set_title(title, pad=pad)


def footnote(ax, text: str, *, width: int = 95):
    """``text`` (wrapped at ``width`` characters) under the x-axis label of ``ax``, from the
    figure's left edge: a text of the axes, so that a constrained layout makes room for it and
    :func:`micromet.governance.mask_figure` reads it."""
    return ax.annotate(textwrap.fill(text, width, subsequent_indent="  "), xy=(0.0, 0.0),
                       xycoords=("figure fraction", ax.xaxis.label), xytext=(4, -6),
                       textcoords="offset points", ha="left", va="top", fontsize=SMALL,
                       color="0.25")


def wrap_label(text: str, width: int = 36) -> str:
    """An axis label on two lines when it is longer than ``width`` characters (a y label longer
    than its axes runs into the table beneath): broken before its first parenthesis if it has
    one, else between words."""
    if len(text) <= width:
        return text
    head, sep, tail = text.partition(" (")
    if sep and len(head) <= width:
        return "\n".join([head, *textwrap.wrap("(" + tail, width)])
    return textwrap.fill(text, width)


def month_ticks(t_max: float, step: float | None = None) -> list[float]:
    """Ticks of a time axis in months: every 12 (24, 36, 60, 120) months up to ``t_max``, at most
    8 of them, starting at 0."""
    t_max = float(t_max) if t_max and math.isfinite(t_max) else 12.0
    if step is None:
        step = next((s for s in (6, 12, 24, 36, 60, 120, 240) if t_max / s <= 7), 480)
        if step == 6 and t_max > 24:
            step = 12
    n = int(math.floor(t_max / step + 1e-9))
    return [float(step * i) for i in range(n + 1)]


def configure_inline(dpi: int = DPI, formats=("png",)) -> None:
    """Set up a notebook's inline figures once (a chapter calls it after its imports): PNG at
    ``dpi`` (``InlineBackend.figure_formats`` and ``figure.dpi`` / ``savefig.dpi``), cropped to
    the drawing (``bbox_inches="tight"``). Outside IPython only the rc parameters are set."""
    mpl.rcParams["figure.dpi"] = dpi
    mpl.rcParams["savefig.dpi"] = dpi
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    from IPython.core.pylabtools import select_figure_formats

    select_figure_formats(shell, set(formats), bbox_inches="tight")


# Balance figures: before matching (open marks) and after (filled), in the palette's red and blue.
BEFORE_COLOR, AFTER_COLOR = palette(4)[3], palette(4)[0]


def _hits(curves, x0, x1, y0, y1) -> int:
    """How many points of the step curves (``where="post"``) sampled across [x0, x1] fall in
    the box [x0, x1] x [y0, y1]."""
    grid = np.linspace(x0, x1, 80)
    hits = 0
    for x, y in curves:
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if len(x) == 0:
            continue
        i = np.searchsorted(x, grid, side="right") - 1
        inside = (i >= 0) & (grid <= x[-1])
        yy = y[np.clip(i, 0, len(y) - 1)][inside]
        hits += int(np.sum((yy >= y0) & (yy <= y1)))
    return hits


def _corner_text(ax, text, corner, **kwargs):
    """``text`` in a corner of ``ax`` ("lower left", "upper right", ...; axes coordinates),
    inset a little."""
    vert, horiz = corner.split()
    x, ha = (0.02, "left") if horiz == "left" else (0.98, "right")
    y, va = (0.04, "bottom") if vert == "lower" else (0.96, "top")
    return ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, **kwargs)


def text_in_free_corner(ax, text, curves, corners=("lower left", "upper right", "lower right",
                                                   "upper left"), **kwargs):
    """Write ``text`` in the first of ``corners`` of ``ax`` where it covers no curve (measured on
    the figure as laid out), else where it covers the fewest points. ``curves``: (x, y) arrays
    of step functions in data coordinates."""
    fig = ax.figure
    fig.draw_without_rendering()  # lay it out: the text's size in data units depends on it
    renderer = fig.canvas.get_renderer()
    to_data = ax.transData.inverted()
    best = None
    for corner in corners:
        artist = _corner_text(ax, text, corner, **kwargs)
        (x0, y0), (x1, y1) = to_data.transform(artist.get_window_extent(renderer).get_points())
        hits = _hits(curves, min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1))
        artist.remove()
        if best is None or hits < best[0]:
            best = (hits, corner)
        if hits == 0:
            break
    return _corner_text(ax, text, best[1], **kwargs)
