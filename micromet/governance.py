"""Data governance: small-cell masking, the synthetic-data notice, and a row-level output check.

Real SEER rows are case-level data under a data-use agreement. The book shows aggregates only, and
when the source is real a count between 1 and ``min_cell - 1`` is shown as ``"<11"`` (for
``min_cell = 11``), in tables and figures alike; its percentage is hidden with it. A synthetic
source is announced at the top of every chapter that shows it.

``row_level_outputs`` scans an executed notebook for outputs that look like row listings (a
``patient_id`` anywhere, or a table longer than an aggregate table can be); the tests run it over
every executed chapter.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

ID_COLUMNS = ("patient_id", "Patient ID")
# An aggregate table of this book has at most a few dozen rows (Table 1: ~25, numbers at risk:
# one row per time point and group); a row listing of a cohort has hundreds or more.
MAX_AGGREGATE_ROWS = 100

_COUNT_TEXT = re.compile(r"^\s*(\d[\d,]*)(\s*\(.*\))?\s*$")


def masked_label(min_cell: int) -> str:
    return f"<{min_cell}"


def is_small(count, min_cell: int) -> bool:
    """True for a count in 1 .. min_cell - 1 (zero is not disclosive and stays)."""
    try:
        value = float(count)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(value) and 1 <= value < min_cell)


def mask_count(count, *, min_cell: int = 11, real: bool = True):
    """``count`` itself, or ``"<min_cell"`` when the source is real and the count is small."""
    if real and is_small(count, min_cell):
        return masked_label(min_cell)
    return count


def mask_text(text, *, min_cell: int = 11, real: bool = True):
    """Mask ``"5"`` or ``"5 (0.85%)"`` (a count, optionally with its percentage) -> ``"<11"``."""
    if not real or not isinstance(text, str):
        return text
    m = _COUNT_TEXT.match(text)
    if m is None:
        return text
    count = int(m.group(1).replace(",", ""))
    return masked_label(min_cell) if is_small(count, min_cell) else text


def mask_table(
    table: pd.DataFrame,
    columns=None,
    *,
    min_cell: int = 11,
    real: bool = True,
) -> pd.DataFrame:
    """A copy of ``table`` with small counts masked in ``columns`` (default: every integer or
    count-text column). Non-count columns (p values, HRs, medians) are never touched."""
    out = table.copy()
    if not real:
        return out
    cols = list(out.columns) if columns is None else list(columns)

    def cell(v):
        if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
            return mask_count(int(v), min_cell=min_cell, real=True)
        if isinstance(v, str):
            return mask_text(v, min_cell=min_cell, real=True)
        return v

    for col in cols:
        series = out[col]
        if not (pd.api.types.is_integer_dtype(series.dtype)
                or pd.api.types.is_object_dtype(series.dtype)
                or pd.api.types.is_string_dtype(series.dtype)):
            continue  # floats: proportions, p values, estimates are not counts
        masked = series.astype(object).map(cell)
        if not masked.equals(series.astype(object)):
            out[col] = masked
    return out


def mask_counts_mapping(counts: dict, *, min_cell: int = 11, real: bool = True) -> dict:
    """Mask the values of ``{label: count}`` (flow boxes, numbers of events)."""
    return {k: mask_count(v, min_cell=min_cell, real=real) for k, v in counts.items()}


def data_notice(synthetic: bool, *, source: str = "", min_cell: int = 11) -> str:
    """The MyST admonition put at the top of each chapter (rendered from a markdown output)."""
    if synthetic:
        return (
            "```{admonition} Synthetic data\n:class: warning\n"
            "The numbers on this page come from **synthetic** data generated from a seed "
            f"(`{source}`), not from real patients. They imitate the published study; they are "
            "not the published results. See *Run it on your own data* to run the analysis on "
            "real data.\n```"
        )
    return (
        "```{admonition} Registry data\n:class: note\n"
        "Aggregates of a real registry export. Counts from 1 to "
        f"{min_cell - 1} are shown as `<{min_cell}`; no row-level data are shown.\n```"
    )


def row_level_outputs(
    notebook: str | Path | dict,
    *,
    max_rows: int = MAX_AGGREGATE_ROWS,
    id_columns=ID_COLUMNS,
) -> list[str]:
    """Problems found in an executed notebook's outputs: identifiers or row listings.

    Flags (a) any output text that names an identifier column, (b) an HTML table with more than
    ``max_rows`` body rows or a pandas footer ``N rows x M columns`` with N > ``max_rows``,
    (c) a plain-text output (without an HTML table beside it) of more than ``max_rows`` lines.
    """
    nb = notebook if isinstance(notebook, dict) else json.loads(Path(notebook).read_text("utf-8"))
    problems = []
    for index, cell in enumerate(nb.get("cells", [])):
        for output in cell.get("outputs", []):
            texts = []
            if output.get("output_type") == "stream":
                texts.append(("text/plain", _join(output.get("text", ""))))
            data = output.get("data", {})
            has_html = "text/html" in data
            for mime, value in data.items():
                if mime.startswith("text/") or mime.endswith("json"):
                    texts.append((mime, _join(value)))
            for mime, text in texts:
                where = f"cell {index} ({mime})"
                for name in id_columns:
                    if name in text:
                        problems.append(f"{where}: shows identifier column '{name}'")
                if mime == "text/html":
                    for table in re.findall(r"<table.*?</table>", text, flags=re.S):
                        body = re.search(r"<tbody>(.*?)</tbody>", table, flags=re.S)
                        rows = len(re.findall(r"<tr", body.group(1) if body else table))
                        if rows > max_rows:
                            problems.append(f"{where}: a table of {rows} rows (row listing?)")
                for m in re.finditer(r"(\d[\d,]*)\s+rows\s+[×x]\s+\d+\s+columns", text):
                    rows = int(m.group(1).replace(",", ""))
                    if rows > max_rows:
                        problems.append(f"{where}: a DataFrame of {rows} rows (row listing?)")
                # a wide table's text repr wraps its columns: its HTML twin is counted instead
                if mime == "text/plain" and not has_html and text.count("\n") > max_rows:
                    problems.append(f"{where}: {text.count(chr(10))} lines of text output")
    return problems


def _join(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


# a count standing alone: not part of a word (M0, N1, T3) nor of a decimal number (0.14)
_FIGURE_COUNT = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})*|\d+)(?![\w.]|,\d)")


def mask_counts_in_text(text: str, *, min_cell: int = 11, real: bool = True) -> str:
    """Mask every standalone small count in free text ("no events among grade[III] (n = 7)")."""
    if not real:
        return text

    def repl(m):
        return masked_label(min_cell) if is_small(int(m.group(1).replace(",", "")),
                                                  min_cell) else m.group(0)

    return _FIGURE_COUNT.sub(repl, text)


def mask_figure(figure, *, min_cell: int = 11, real: bool = True) -> int:
    """Mask small counts written as text in a matplotlib figure (numbers at risk, flowchart
    boxes): every integer 1 .. min_cell-1 in ``ax.texts`` / ``figure.texts`` becomes
    ``<min_cell``. Tick labels (times, probabilities) are axes, not counts, and stay.
    Returns how many texts were changed."""
    if not real:
        return 0
    changed = 0
    texts = list(figure.texts)
    for ax in figure.get_axes():
        texts += list(ax.texts)
    for text in texts:
        old = text.get_text()
        new = mask_counts_in_text(old, min_cell=min_cell, real=True)
        if new != old:
            text.set_text(new)
            changed += 1
    return changed
