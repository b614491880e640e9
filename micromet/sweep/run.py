"""``micromet sweep``: a grid of specifications of one study, each cell a cached, pure task.

:func:`run_sweep` validates every cell first (:mod:`micromet.sweep.grid`), reaches the Dask
scheduler if one is given, builds the cohort ONCE (the chapters' own functions:
``sources.analysis_frame``, ``restrict_extract``, ``cohort.build_cohort``), then runs the cells
not yet in the cache (:func:`micromet.engine.map_tasks`: joblib on the local cores, or Dask),
writing each result atomically into ``<out>/cache/<key>.json`` as it arrives, so an interrupted
sweep resumes where it stopped. A failed cell is recorded with its error (and not cached: it is
tried again next time). The results are one tidy frame (a row per cell, outcome and adjustment),
saved as ``results.csv`` and ``results.json``, with the specification curve
``specification_curve.png``.

With a real source the results hold unmasked counts (analysed n, events): like ``<out>/data/`` of
a run they are for the analyst's folder, not for publication.
"""

from __future__ import annotations

import io
import json
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from micromet.errors import InputError
from micromet.files import write_atomic
from micromet.outputs import MARKER, check_output, is_micromet_output, output_lock
from micromet.study import REPO_ROOT, Study
from micromet.sweep.cells import CellTask, analysis_columns, cell_key, data_hash, fit_cell
from micromet.sweep.designs import get_design
from micromet.sweep.grid import MAX_CELLS, Cell, expand_grid, grid_size, parse_grid

SWEEPS_DIR = REPO_ROOT / "_build" / "sweeps"
CACHE_DIR = "cache"
RESULTS_CSV, RESULTS_JSON, FIGURE = "results.csv", "results.json", "specification_curve.png"
ADJUSTMENTS = ("univariable", "multivariable")


@dataclass
class SweepResult:
    """A finished sweep: the tidy ``results``, its ``cells``, how many cells were ``computed``
    now, ``reused`` from the cache or ``failed``, the ``files`` written, and the ``seconds``
    of each step (``plan``: validation, reaching the scheduler; ``cohort``: source to cohort,
    once; ``cells``: the cells computed; ``write``: results and figure)."""

    results: pd.DataFrame
    cells: list[Cell]
    computed: int
    reused: int
    failed: int
    out: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def plan_sweep(study: str | Path, grid: Sequence[str] | dict, *,
               designs: Sequence[str] = ("matching",), overrides=None, data=None,
               yes: bool = False, max_cells: int = MAX_CELLS) -> list[Cell]:
    """The validated cells of a sweep, before anything runs: the grid parsed (``["key=v1,v2",
    ...]`` or a mapping of key to values), the designs known, the size within ``max_cells``
    unless ``yes``, and every cell's study built by ``load_study``."""
    grid = parse_grid(list(grid)) if not isinstance(grid, dict) else dict(grid)
    if not grid:
        parse_grid([])  # the empty-grid error
    designs = list(dict.fromkeys(designs))
    if not designs:
        raise InputError("no design given (e.g. --design matching)", column="--design")
    for name in designs:
        get_design(name)
    size = grid_size(grid, designs)
    if size > max_cells and not yes:
        raise InputError(f"the grid has {size} cells, more than {max_cells}; run them all with "
                         "--yes, or give fewer values", column="--grid", value=size)
    return expand_grid(study, grid, designs, base=overrides, data=data)


def sweep_cohort(study: Study) -> pd.DataFrame:
    """The study's cohort as chapter 1 builds it (source read and tidied once, extract, criteria
    in order, exposure levels), restricted to the two compared groups as chapter 2 does, with
    the 0/1 exposure column ``sources.TREATED``."""
    from micromet import cohort as cohort_mod
    from micromet.sources import TREATED, analysis_frame, exposure_categorical, restrict_extract

    if study.series is not None:
        raise InputError("micromet sweep re-matches a SEER study's cohort; this study reads an "
                         "institutional series", file=study.file, column="series")
    e = study.exposure
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # `micromet run` reports the source's warnings
        frame = analysis_frame(study)
        extract, _ = restrict_extract(frame, study)
        criteria = list(study.cohort.criteria) if study.cohort else []
        built = cohort_mod.build_cohort(extract, criteria, e.column,
                                        levels=e.levels or [e.reference, e.exposed])
        cohort = exposure_categorical(built.data, study)
    cohort = cohort[cohort[e.column].isin([e.reference, e.exposed])].copy()
    cohort[TREATED] = (cohort[e.column].astype("object") == e.exposed).astype(int)
    return cohort


def run_sweep(study: str | Path, grid: Sequence[str] | dict, *,
              designs: Sequence[str] = ("matching",), overrides=None, data=None,
              out: str | Path | None = None, scheduler=None, n_jobs: int | None = None,
              yes: bool = False, max_cells: int = MAX_CELLS, progress: bool = False,
              figure: bool = True, only: Sequence[int] | None = None) -> SweepResult:
    """Run a sweep of ``study`` (a study file or name) over ``grid`` x ``designs``.

    ``out``: the sweep's folder (default ``_build/sweeps/<study>``), holding ``cache/`` and the
    results; ``scheduler``: a Dask scheduler address (or a connected ``Client``), else joblib
    on ``n_jobs`` local cores; ``only``: run just these cells (their indexes), e.g. part of a
    grid. Every check (grid, values, designs, size, output folder, scheduler) is made before
    anything is written."""
    from micromet.engine import connect, map_tasks
    from micromet.sources import TREATED

    clock = _Clock()
    cells = plan_sweep(study, grid, designs=designs, overrides=overrides, data=data, yes=yes,
                       max_cells=max_cells)
    base = next(c.study for c in cells if c.study_choice)
    run_cells = cells if only is None else [cells[i] for i in only]
    protect = [p for p in (None if base.synthetic else base.source, base.file) if p]
    out = check_output(out if out is not None else SWEEPS_DIR / base.name, protect=protect,
                       repo=REPO_ROOT)
    client, own = None, False
    if isinstance(scheduler, str):
        client, own = connect(scheduler), True
    elif scheduler is not None:
        client = scheduler
    clock.lap("plan")
    try:
        cohort = sweep_cohort(base)
        columns = list(dict.fromkeys(c for cell in cells for c in analysis_columns(cell.study)))
        shared = cohort[[*columns, TREATED]]
        sha = data_hash(shared)
        keys = {c.index: cell_key(sha, c.study, c.design) for c in cells}
        clock.lap("cohort")
        cache = out / CACHE_DIR
        with output_lock(out):
            _mark(out, base.name, [f"{CACHE_DIR}/{k}.json" for k in keys.values()]
                  + [RESULTS_CSV, RESULTS_JSON, FIGURE])
            found = {c.index: r for c in run_cells if (r := _cached(cache, keys[c.index]))}
            todo = [c for c in run_cells if c.index not in found]
            tasks = [CellTask(keys[c.index], get_design(c.design), c.study, TREATED)
                     for c in todo]
            bar = _progress(len(tasks)) if progress and tasks else None
            computed = {}
            try:
                for i, result in map_tasks(fit_cell, tasks, shared=shared, scheduler=client,
                                           n_jobs=n_jobs):
                    text = json.dumps(result, indent=1, sort_keys=True, default=_plain)
                    if result["status"] == "ok":
                        write_atomic(cache / f"{tasks[i].key}.json", text + "\n")
                    computed[todo[i].index] = json.loads(text)
                    if bar is not None:
                        bar.update()
            finally:
                if bar is not None:
                    bar.close()
            clock.lap("cells")
            results = {**found, **computed}
            frame = results_frame(run_cells, results)
            files = {"csv": out / RESULTS_CSV, "json": out / RESULTS_JSON}
            write_atomic(files["csv"], frame.to_csv(index=False, lineterminator="\n"))
            write_atomic(files["json"],
                         json.dumps(_records(frame), indent=1, default=_plain) + "\n")
            if figure:
                from micromet.plots_sweep import specification_curve

                fig = specification_curve(frame, _grid_keys(cells), labels={
                    name: o.label for name, o in base.outcomes.items()})
                buffer = io.BytesIO()
                fig.savefig(buffer, format="png", dpi=120, metadata={"Software": None})
                files["figure"] = write_atomic(out / FIGURE, buffer.getvalue())
            clock.lap("write")
    finally:
        if own:
            client.close()
    failed = sum(1 for r in results.values() if r["status"] != "ok")
    return SweepResult(results=frame, cells=run_cells, computed=len(computed),
                       reused=len(found), failed=failed, out=out, files=files,
                       seconds=clock.laps)


class _Clock:
    def __init__(self):
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self._last = now


def _plain(value):
    """numpy scalars (a design's counts) as Python numbers for JSON."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _grid_keys(cells: list[Cell]) -> list[str]:
    return list(dict.fromkeys(k for c in cells for k in c.overrides))


def results_frame(cells: list[Cell], results: dict[int, dict]) -> pd.DataFrame:
    """The tidy frame: one row per cell, outcome and adjustment (univariable, multivariable),
    in cell order; the grid's keys as columns; the rows of a failed design, or of an outcome
    whose fit failed, have ``status`` "failed" and the ``error``."""
    keys = _grid_keys(cells)
    rows = []
    for cell in cells:
        r = results[cell.index]
        head = {"cell": cell.index, "design": cell.design,
                **{k: cell.overrides.get(k, _current(cell.study, k)) for k in keys},
                "seed": cell.study.seed, "study_choice": cell.study_choice}
        counts = {k: r.get(k) for k in ("n", "n_exposed", "n_reference", "unmatched_exposed",
                                        "max_abs_smd")}
        models = {(m["outcome"], m["adjustment"]): m for m in r.get("models", [])}
        for outcome in cell.study.outcomes:
            for adjustment in ADJUSTMENTS:
                m = models.get((outcome, adjustment), {})
                # the design failed (no models at all), or this outcome's fit did
                error = m.get("error") or (None if models else r["error"])
                analysis = cell.study.analysis_for(outcome)
                rows.append({**head, "status": "failed" if error else "ok", "error": error,
                             "outcome": outcome, "model": analysis.model,
                             "measure": "HR" if analysis.model == "cox" else "SHR",
                             "adjustment": adjustment, "term": m.get("term"),
                             "estimate": m.get("estimate"), "lower": m.get("lower"),
                             "upper": m.get("upper"), "p": m.get("p"),
                             "estimable": bool(m.get("estimable", False)),
                             "note": m.get("note"),
                             "covariates": m.get("covariates"), **counts,
                             "events": m.get("events"), "key": r["key"]})
    frame = pd.DataFrame(rows)
    for column in ("n", "n_exposed", "n_reference", "unmatched_exposed", "events"):
        frame[column] = frame[column].astype("Int64")
    for column in ("estimate", "lower", "upper", "p", "max_abs_smd"):
        frame[column] = frame[column].astype(float)
    return frame


def _current(study: Study, key: str):
    """The value of a dotted parameter in ``study`` (for the study's own cell)."""
    node = study
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
    return node


def _records(frame: pd.DataFrame) -> list[dict]:
    out = []
    for row in frame.astype(object).to_dict("records"):
        out.append({k: (None if v is pd.NA or (isinstance(v, float) and v != v) else v)
                    for k, v in row.items()})
    return out


def _cached(cache: Path, key: str) -> dict | None:
    path = cache / f"{key}.json"
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # absent, or not a whole result: computed again
    return result if result.get("key") == key and result.get("status") == "ok" else None


def _mark(out: Path, name: str, files: list[str]) -> None:
    """Mark ``out`` as micromet's, listing every file this sweep may write (and those an earlier
    sweep into it listed) before any is written, so that an interrupted sweep resumes."""
    listed = set(files)
    if is_micromet_output(out):
        _, _, listing = (out / MARKER).read_text(encoding="utf-8").partition("\nfiles:\n")
        listed |= {line.strip() for line in listing.splitlines() if line.strip()}
    text = (f"This folder was written by `micromet sweep` (study {name}).\nmicromet adds to it "
            "on the next sweep into it; it never writes into a folder without this file, nor "
            "over files it did not write (listed below).\n\nfiles:\n"
            + "".join(f"  {f}\n" for f in sorted(listed)))
    write_atomic(out / MARKER, text)


def _progress(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="micromet sweep", unit="cell", file=sys.stderr,
                dynamic_ncols=True)


