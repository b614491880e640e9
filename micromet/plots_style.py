"""One palette for every figure of the book, from seaborn.

Groups get colours by their position in the study's order of levels (reference group first), from
seaborn's colour-blind-safe palette, so that a group has the same colour in the Kaplan–Meier, the
cumulative-incidence and any other figure of a study.
"""

from __future__ import annotations

from collections.abc import Sequence

import seaborn as sns

PALETTE = "colorblind"


def palette(n: int) -> list[str]:
    """``n`` colours (hex) of the book's palette, in its fixed order."""
    return sns.color_palette(PALETTE, n_colors=max(int(n), 1)).as_hex()


def group_colors(levels: Sequence) -> dict:
    """{level: colour} for the groups of a figure, in the order given (reference first)."""
    levels = list(levels)
    return dict(zip(levels, palette(len(levels)), strict=True))


# Balance figures: before matching (open marks) and after (filled), in the palette's red and blue.
BEFORE_COLOR, AFTER_COLOR = palette(4)[3], palette(4)[0]
