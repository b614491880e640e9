"""The grid of a sweep: ``--grid key=v1,v2,...`` parsed, expanded into cells, and every cell's
study validated by :func:`micromet.study.load_study` before anything runs.

A value is a YAML scalar (``0.1``, ``true``, ``null``) or a flow list (``[age, grade]``: commas
inside brackets or quotes do not split values); ``none`` is read as null for a parameter that
may be null and is not text (``matching.caliper=0.05,0.2,none``). A cell may vary anything that
does not change the cohort (matching, models, covariates, analyses, seed): the sweep builds the
cohort once.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from micromet.errors import InputError
from micromet.study import Study, load_study, synthetic_request

MAX_CELLS = 50  # a larger grid runs only when asked for (--yes)


@dataclass(frozen=True)
class Cell:
    """One specification: ``design`` and ``overrides`` (dotted key -> value, in grid order) of
    the base study, the validated ``study`` they give, and whether it is the study's own choice."""

    index: int
    design: str
    overrides: dict[str, Any]
    study: Study
    study_choice: bool = False


def parse_grid(items: list[str] | None) -> dict[str, list]:
    """``["matching.ratio=1,2,3", "matching.caliper=0.1,none"]`` -> ``{"matching.ratio": [1, 2,
    3], "matching.caliper": [0.1, None]}``. An empty grid, an item without ``=``, a key given
    twice, or a key without values is an ``InputError``."""
    if not items:
        raise InputError("the grid is empty: give at least one --grid key=value1,value2,... "
                         "(e.g. --grid matching.caliper=0.05,0.1,0.2)", column="--grid")
    grid: dict[str, list] = {}
    for item in items:
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError("--grid needs key=value1,value2,... (dotted keys, e.g. "
                             "matching.ratio=1,2,3)", column="--grid", value=item)
        if key in grid:
            raise InputError(f"--grid {key} is given twice; list all its values once",
                             column=key)
        parts = [p for p in _split_values(text, key) if p.strip()]
        if not parts:
            raise InputError(f"--grid {key} has no values", column=key, value=text)
        values = [_value(key, p) for p in parts]
        if len({repr(v) for v in values}) != len(values):
            raise InputError(f"--grid {key} lists a value twice", column=key, value=text)
        grid[key] = values
    return grid


def _split_values(text: str, key: str) -> list[str]:
    """Split at the commas outside brackets, braces and quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth or quote:
        raise InputError(f"--grid {key}: unbalanced brackets or quotes", column=key, value=text)
    parts.append(text[start:])
    return parts


def _value(key: str, text: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise InputError(f"--grid {key}: not a valid YAML value", column=key,
                         value=text.strip()) from None
    if isinstance(value, str) and value.lower() == "none" and _nullable_not_text(key):
        return None
    return value


def _nullable_not_text(key: str) -> bool:
    """The parameter ``key`` may be null and is not text (``matching.caliper``)."""
    tp: Any = Study
    for part in key.split("."):
        cls = _dataclass_in(tp)
        if cls is None:
            return False
        hints = typing.get_type_hints(cls)
        if part not in hints:
            return False
        tp = hints[part]
    args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) \
        else (tp,)
    return type(None) in args and str not in args and Any not in args


def _dataclass_in(tp) -> Any:
    if dataclasses.is_dataclass(tp):
        return tp
    return next((a for a in typing.get_args(tp) if dataclasses.is_dataclass(a)), None)


def grid_size(grid: dict[str, list], designs: list[str]) -> int:
    size = len(designs)
    for values in grid.values():
        size *= len(values)
    return size


def cohort_of(study: Study) -> dict:
    """What decides the cohort (source, seed of a synthetic source, extract and criteria,
    exposure, an institutional series' mapping): equal for every cell of a sweep."""
    seed = study.seed
    if study.synthetic:
        _, seed, _ = synthetic_request(study.source, seed=study.seed, file=study.file)
    return {"source": study.source, "source_seed": seed,
            "cohort": dataclasses.asdict(study.cohort) if study.cohort else None,
            "exposure": dataclasses.asdict(study.exposure), "series": study.series}


COHORT_KEYS = ("source", "seed", "cohort", "exposure", "series")


def expand_grid(study_file: str | Path, grid: dict[str, list], designs: list[str], *,
                base: list[str] | dict | None = None, data=None) -> list[Cell]:
    """Every cell of ``designs`` x the grid (in the order given, the last key varying fastest),
    each study validated by ``load_study(study_file, base + cell overrides, data=data)``: an
    invalid key or value raises the ``InputError`` that names it, before anything runs. A cell
    that would change the cohort is refused. When no cell is the study's own choice (the
    ``matching`` design with the base study's values) that cell is added, last."""
    from micromet.studyfile import parse_overrides

    base_overrides = parse_overrides(base)
    base_study = load_study(study_file, base_overrides, data=data)
    reference = cohort_of(base_study)
    keys = list(grid)
    for key in keys:  # each value alone first, so that the error names exactly it
        for value in grid[key]:
            _validated(study_file, {**base_overrides, key: value}, data,
                       f"--grid {key}={show_value(value)}")
    cells: list[Cell] = []
    for design in designs:
        for values in itertools.product(*(grid[k] for k in keys)):
            overrides = dict(zip(keys, values))
            study = _validated(study_file, {**base_overrides, **overrides}, data,
                               f"--grid cell {cell_text(overrides)}")
            if cohort_of(study) != reference:
                changed = [k for k in keys if k.split(".")[0] in COHORT_KEYS] or keys
                raise InputError(f"--grid {changed[0]} changes the cohort, which a sweep "
                                 "builds once; vary the matching, the models, the covariates "
                                 "or the analyses (or run another sweep)", column=changed[0],
                                 value=overrides[changed[0]])
            choice = design == "matching" and study.to_dict() == base_study.to_dict()
            cells.append(Cell(len(cells), design, overrides, study, choice))
    if not any(c.study_choice for c in cells):
        cells.append(Cell(len(cells), "matching", {}, base_study, True))
    return cells


def _validated(study_file, overrides: dict, data, where: str) -> Study:
    try:
        return load_study(study_file, overrides, data=data)
    except InputError as exc:
        reason = re.sub(r"^--set [^:]*: ", "", exc.reason)
        raise InputError(f"{where}: {reason}", file=exc.file, column=exc.column,
                         value=exc.value) from None


def cell_text(overrides: dict) -> str:
    """``matching.caliper=0.1, matching.ratio=2`` (``base`` for no overrides)."""
    return ", ".join(f"{k}={show_value(v)}" for k, v in overrides.items()) or "base"


def show_value(value) -> str:
    """A grid value as it would be typed: ``null``, ``true``, ``0.1``, ``[age, grade]``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    return str(value)
