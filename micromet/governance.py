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
            "not the published results. See {doc}`Run it on your own data </book/reproduce>` to "
            "run the analysis on "
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


# A number that is a count by its context: "n = 7", "M0: 5" (a label and its count), "3 rows",
# "2 treated", "1 control": never a code or a word ("cause 1", "Grade unknown (9)", "0 or 1",
# "M0", "T3", "0.14", "18-89").
_NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+)(?![\w.]|,\d)"
_COUNT_NOUNS = (r"patients?|rows?|records?|cases?|deaths?|events?|treated|controls?|units?|"
                r"women|people|persons?|subjects?")
_COUNT_IN_TEXT = re.compile(
    rf"(?:(?<=\bn = )|(?<=\bn=)|(?<=[\w)\]]: )){_NUMBER}"
    rf"|(?<![\w.,<\-]){_NUMBER}(?= (?:{_COUNT_NOUNS})\b)")
# a text that is nothing but a number (a number at risk, a count in a table drawn as a figure)
_WHOLE_COUNT = re.compile(r"^\s*(\d{1,3}(?:,\d{3})+|\d+)\s*$")


def mask_counts_in_text(text: str, *, min_cell: int = 11, real: bool = True) -> str:
    """Mask the small counts of free text ("no events among grade[III] (n = 7)" -> "(n = <11)",
    "3 rows (2 treated, 1 control)"), by their context only: codes and words ("cause 1",
    "Grade unknown (9)", "numerically 0 or 1") are never touched."""
    if not real:
        return text

    def repl(m):
        number = m.group(1) or m.group(2)
        return masked_label(min_cell) if is_small(int(number.replace(",", "")),
                                                  min_cell) else m.group(0)

    whole = _WHOLE_COUNT.match(text)
    if whole:
        return masked_label(min_cell) if is_small(int(whole.group(1).replace(",", "")),
                                                  min_cell) else text
    return _COUNT_IN_TEXT.sub(repl, text)


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


# ---- complementary suppression ------------------------------------------------------------------

#: What a count withheld to protect a small one (secondary suppression) is shown as.
SUPPRESSED = "*"
SUPPRESSED_NOTE = ("* withheld so that no count below {min_cell} can be worked out from the "
                   "counts shown (complementary suppression)")


def protect(values: dict, equations: list[dict], *, min_cell: int = 11) -> dict:
    """The cells to withhold so that no small count can be worked out from the others.

    ``values``: ``{cell: count}``; ``equations``: linear relations that the published numbers
    satisfy, each ``{cell: coefficient}`` whose weighted sum is zero (a total and its parts:
    ``{total: 1, part_a: -1, part_b: -1}``; a flow step: ``{before: 1, excluded: -1,
    after: -1}``). Counts 1 .. ``min_cell - 1`` are withheld (primary suppression, shown as
    ``<min_cell``). Then, as long as some withheld small count is pinned to a single value by
    the equations and the published counts (its range under linear programming, with every
    small count known to lie in 1 .. ``min_cell - 1``, holds one integer), the smallest
    published count of an equation that pins it is withheld too (secondary suppression, shown
    as ``*``). Returns ``{cell: "<min_cell" | "*"}``."""
    primary = [c for c, v in values.items() if is_small(v, min_cell)]
    withheld = set(primary)
    while True:
        pinned = next((c for c in primary if not _has_room(c, values, equations, withheld,
                                                            set(primary), min_cell)), None)
        if pinned is None:
            break
        # withhold a published count of an equation that holds the pinned one; if those are all
        # withheld already, one of an equation that holds any withheld count (the pin comes
        # through it)
        direct = [eq for eq in equations if pinned in eq]
        through = [eq for eq in equations if any(c in withheld for c in eq)]
        for tier in (direct, through):
            candidates = [(values[c], str(c), c) for eq in tier
                          for c in eq if c not in withheld and values.get(c) is not None]
            if candidates:
                break
        if not candidates:
            break  # every related count is withheld already
        withheld.add(min(candidates, key=lambda t: (t[0] <= 0, t[0], t[1]))[2])
    label = masked_label(min_cell)
    return {c: (label if c in set(primary) else SUPPRESSED) for c in withheld}


def _has_room(cell, values, equations, withheld, primary, min_cell) -> bool:
    """True when ``cell`` can take at least two integer values given the published counts."""
    from scipy.optimize import linprog

    unknown = sorted(withheld, key=str)
    index = {c: i for i, c in enumerate(unknown)}
    rows, rhs = [], []
    for eq in equations:
        if not any(c in index for c in eq):
            continue
        row = np.zeros(len(unknown))
        const = 0.0
        for c, coef in eq.items():
            if c in index:
                row[index[c]] += coef
            else:
                const += coef * float(values[c])
        rows.append(row)
        rhs.append(-const)
    if not rows:
        return True
    bounds = [(1, min_cell - 1) if c in primary else (0, None) for c in unknown]
    objective = np.zeros(len(unknown))
    objective[index[cell]] = 1.0
    low = linprog(objective, A_eq=np.array(rows), b_eq=np.array(rhs), bounds=bounds,
                  method="highs")
    high = linprog(-objective, A_eq=np.array(rows), b_eq=np.array(rhs), bounds=bounds,
                   method="highs")
    if low.status != 0 or high.status != 0:
        return False  # infeasible or unbounded: be safe, withhold more
    return np.floor(-high.fun + 1e-9) - np.ceil(low.fun - 1e-9) >= 1


def flow_equations(flow: pd.DataFrame, levels: list) -> tuple[dict, list[dict]]:
    """The cells of a flow table (``build_cohort``'s) and the relations between them: each
    step's remaining = the previous remaining − its excluded, overall and per group, and the
    overall count = the sum of the groups' (where it is). Cells are ``(row, column)``."""
    values, equations = {}, []
    columns = ["remaining", "excluded"] + [f"{k}[{g}]" for g in levels
                                           for k in ("remaining", "excluded")]
    for i, row in flow.reset_index(drop=True).iterrows():
        for col in columns:
            if col in row.index and not pd.isna(row[col]):
                values[(i, col)] = int(row[col])
    n = len(flow)
    for i in range(1, n):
        for suffix in [""] + [f"[{g}]" for g in levels]:
            cells = [(i - 1, f"remaining{suffix}"), (i, f"excluded{suffix}"),
                     (i, f"remaining{suffix}")]
            if all(c in values for c in cells):
                equations.append({cells[0]: 1, cells[1]: -1, cells[2]: -1})
    for i in range(n):
        for kind in ("remaining", "excluded"):
            parts = [(i, f"{kind}[{g}]") for g in levels]
            total = (i, kind)
            if total in values and all(p in values for p in parts) \
                    and values[total] == sum(values[p] for p in parts):
                eq = {total: 1}
                eq.update({p: -1 for p in parts})
                equations.append(eq)
    return values, equations


def table_equations(counts: dict, n: list) -> tuple[dict, list[dict]]:
    """Cells and relations of a descriptive table's counts (``{variable: {"counts": {level:
    [per group]}}}``, ``n`` per group): the levels of a variable add up to the group's n.
    Cells are ``("n", j)`` and ``(variable, level, j)``."""
    values = {("n", j): int(v) for j, v in enumerate(n)}
    equations = []
    for var, block in counts.items():
        levels = block.get("counts", {})
        for j in range(len(n)):
            cells = {(var, str(level), j): int(per_group[j])
                     for level, per_group in levels.items()}
            values.update(cells)
            if sum(cells.values()) == int(n[j]):
                eq = {("n", j): 1}
                eq.update({c: -1 for c in cells})
                equations.append(eq)
    return values, equations


_NOT_COUNTS = frozenset({"df", "ratio", "cause", "seed", "min_cell", "time"})


def mask_leaves(obj, *, min_cell: int = 11, real: bool = True, key: str | None = None):
    """Every count (an integer that is not a degree of freedom, ratio, cause code, seed or time)
    of a nested summary or headline masked when small: what a real source may publish."""
    if not real:
        return obj
    if isinstance(obj, dict):
        return {k: mask_leaves(v, min_cell=min_cell, key=str(k)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [mask_leaves(v, min_cell=min_cell, key=key) for v in obj]
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, (bool, np.bool_)) \
            and key not in _NOT_COUNTS:
        return mask_count(int(obj), min_cell=min_cell, real=True)
    return obj
