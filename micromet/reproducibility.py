"""Reproducibility: the two layers of micromet's contract, as functions the tests and users call.

(a) **Same machine, same inputs: byte-identical outputs.** ``byte_differences(a, b)`` lists every
    file of two output folders that is missing from one or differs in a single byte.
(b) **Committed outputs against a fresh run on any machine: agreement within declared tolerances.**
    Floating point is not bit-reproducible across CPUs and BLAS kernels (vector width, fused
    multiply-add, summation order), so ``compare_results(expected, actual)`` parses two
    ``results.json`` and compares each quantity with the tolerance of its kind, declared once in
    ``TOLERANCES``: counts and text exactly; estimates (HR, SHR, CI limits, SEs, statistics,
    probabilities, SMDs) and p values with the relative tolerances below. A term reported as not
    estimable (``NOT_ESTIMABLE``) is compared as such, never as a number.

Why these tolerances: well-conditioned estimates agree across machines to about 1e-12. The book
prints three significant digits; the tolerances sit at least ten times below that, so a fresh run
within them prints the same table. A p value is a steep function of its z statistic (at p = 1e-12 a
change of 1e-5 in z moves p by 7e-5 relative), hence its own, wider relative tolerance.

``micromet compare EXPECTED ACTUAL`` (two ``results.json`` or two output folders) runs layer (b)
from the command line, and exits 1 when anything differs beyond its tolerance.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from micromet.files import sha256_of

NOT_ESTIMABLE = "not estimable"

# Sections of results.json whose entries are term rows [estimate, lower, upper, p].
MODEL_SECTIONS = frozenset({"univariable", "multivariable", "grouped_multivariable", "pairwise"})
TERM_ROW_P_INDEX = 3


@dataclass(frozen=True)
class Tolerance:
    """``|a - b| <= max(rtol * max(|a|, |b|), atol)``; ``exact`` compares with ``==``."""

    what: str
    rtol: float = 0.0
    atol: float = 0.0
    exact: bool = False

    def holds(self, a, b) -> bool:
        if self.exact:
            return a == b
        if a == b:  # also equal infinities
            return True
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
            return False
        return abs(a - b) <= max(self.rtol * max(abs(a), abs(b)), self.atol)

    def describe(self) -> str:
        if self.exact:
            return "exact"
        parts = [f"relative {self.rtol:.0e}"] if self.rtol else []
        if self.atol:
            parts.append(f"absolute {self.atol:.0e} near zero")
        return ", ".join(parts)


# The one place where the cross-machine tolerances are declared (README and validation page quote it).
TOLERANCES: dict[str, Tolerance] = {
    "count": Tolerance("counts (patients, events, matched sets, degrees of freedom)", exact=True),
    "text": Tolerance("labels, flags and terms reported as not estimable", exact=True),
    "estimate": Tolerance("estimates: HR/SHR, CI limits, SEs, statistics, probabilities, SMDs",
                          rtol=1e-4, atol=1e-9),
    "p": Tolerance("p values", rtol=1e-3),
}


@dataclass(frozen=True)
class Difference:
    """One quantity that differs beyond its tolerance (or is present on one side only)."""

    path: tuple[str, ...]
    expected: object
    actual: object
    kind: str

    def __str__(self) -> str:
        where = " > ".join(self.path) or "(top level)"
        if self.kind == "missing":
            return f"{where}: only in the expected results ({_short(self.expected)})"
        if self.kind == "extra":
            return f"{where}: only in the actual results ({_short(self.actual)})"
        tol = TOLERANCES[self.kind].describe() if self.kind in TOLERANCES else self.kind
        return (f"{where}: expected {_short(self.expected)}, got {_short(self.actual)} "
                f"({self.kind}, tolerance {tol})")


def quantity_kind(path: tuple[str, ...], value) -> str:
    """The tolerance class of one leaf of results.json, from its value and its place."""
    if value is None or isinstance(value, (str, bool)):
        return "text"
    if isinstance(value, int):
        return "count"
    if path and path[-1] == "p":
        return "p"
    if (len(path) >= 3 and path[-3] in MODEL_SECTIONS
            and path[-1] == str(TERM_ROW_P_INDEX)):
        return "p"
    return "estimate"


def compare_results(expected: Mapping, actual: Mapping) -> list[Difference]:
    """Every quantity of ``actual`` that differs from ``expected`` beyond its declared tolerance.

    Mappings are compared key by key, lists element by element; a term reported as not estimable on
    one side and as a number on the other is a difference whatever the number."""
    return list(_compare((), expected, actual))


def _compare(path: tuple[str, ...], a, b) -> Iterator[Difference]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b), key=str):
            sub = (*path, str(key))
            if key not in b:
                yield Difference(sub, a[key], None, "missing")
            elif key not in a:
                yield Difference(sub, None, b[key], "extra")
            else:
                yield from _compare(sub, a[key], b[key])
        return
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            sub = (*path, str(i))
            if i >= len(b):
                yield Difference(sub, a[i], None, "missing")
            elif i >= len(a):
                yield Difference(sub, None, b[i], "extra")
            else:
                yield from _compare(sub, a[i], b[i])
        return
    kind_a, kind_b = quantity_kind(path, a), quantity_kind(path, b)
    if (isinstance(a, (Mapping, list)) or isinstance(b, (Mapping, list))
            or (kind_a != kind_b and {kind_a, kind_b} & {"text", "count"})):
        # a structure against a leaf, text (e.g. "not estimable") against a number, or a
        # count against a float: never within any tolerance
        yield Difference(path, a, b, "text" if "text" in (kind_a, kind_b) else kind_a)
        return
    if not TOLERANCES[kind_a].holds(a, b):
        yield Difference(path, a, b, kind_a)


def load_results(path: str | Path) -> dict:
    """A results.json, given as the file or as the output folder that holds it."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    return json.loads(path.read_text(encoding="utf-8"))


# ---- layer (a): bytes ---------------------------------------------------------------------------


def byte_differences(first: str | Path, second: str | Path) -> list[str]:
    """Relative paths of the files that two output folders do not share byte for byte."""
    first, second = Path(first), Path(second)
    files_a = {p.relative_to(first).as_posix(): p for p in first.rglob("*") if p.is_file()}
    files_b = {p.relative_to(second).as_posix(): p for p in second.rglob("*") if p.is_file()}
    out = []
    for name in sorted(set(files_a) | set(files_b)):
        if name not in files_b:
            out.append(f"{name}: only in {first}")
        elif name not in files_a:
            out.append(f"{name}: only in {second}")
        elif sha256_of(files_a[name]) != sha256_of(files_b[name]):
            out.append(f"{name}: contents differ")
    return out


def _short(value) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def tolerance_table() -> str:
    """The declared tolerances as a Markdown table (README and the validation page)."""
    rows = ["| quantity | tolerance |", "|---|---|"]
    rows += [f"| {tol.what} | {tol.describe()} |" for tol in TOLERANCES.values()]
    return "\n".join(rows)
