"""The specification sweep: one study re-analysed over a grid of choices (caliper, ratio,
replacement, design, ...), each cell a pure, cached task run on the local cores or a Dask cluster.

    from micromet.sweep import run_sweep
    result = run_sweep("studies/seer_m0i.yml", ["matching.caliper=0.05,0.1,0.2,none",
                                                "matching.ratio=1,2,3"], out="sweeps/a")
    result.results   # tidy: a row per cell, outcome (os, bcsm) and adjustment

* :mod:`micromet.sweep.grid` — ``--grid`` parsed and expanded, every cell validated;
* :mod:`micromet.sweep.designs` — the designs (``matching``; weighting designs plug in);
* :mod:`micromet.sweep.cells` — one cell as a pure task, and its cache key;
* :mod:`micromet.sweep.run` — the sweep: cohort once, cache, engine, results, figure.
"""

from micromet.sweep.cells import CellTask, cell_key, data_hash, fit_cell
from micromet.sweep.designs import (
    DESIGNS,
    DesignResult,
    get_design,
    matching_design,
    register_design,
)
from micromet.sweep.grid import MAX_CELLS, Cell, expand_grid, parse_grid
from micromet.sweep.run import SweepResult, plan_sweep, results_frame, run_sweep, sweep_cohort

__all__ = [
    "Cell",
    "CellTask",
    "DESIGNS",
    "DesignResult",
    "MAX_CELLS",
    "SweepResult",
    "cell_key",
    "data_hash",
    "expand_grid",
    "fit_cell",
    "get_design",
    "matching_design",
    "parse_grid",
    "plan_sweep",
    "register_design",
    "results_frame",
    "run_sweep",
    "sweep_cohort",
]
