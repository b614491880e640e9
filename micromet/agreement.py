"""Agreement with R, as the test suite last measured it: the artifact ``micromet/data/
r_agreement.json`` (written by ``tests/_agreement.py`` through ``make agreement`` or
``make publish``, and checked against a fresh measurement by ``tests/test_agreement.py``).

Production code never reads ``tests/`` or ``benchmarks/``: this module only reads the artifact
that ships with the package.
"""

from __future__ import annotations

import json
from importlib import resources

import pandas as pd

from micromet.report import pretty

ARTIFACT = "r_agreement.json"


def load_agreement() -> dict:
    """The artifact: ``{"comparisons": [...], "benchmarks": [...], "measured_with": {...}}``."""
    text = resources.files("micromet").joinpath("data", ARTIFACT).read_text(encoding="utf-8")
    return json.loads(text)


def r_agreement() -> pd.DataFrame:
    """One row per comparison with R: what, the R function, the fixture, R and package versions,
    the largest absolute and relative difference and the tolerance of the numerical contract."""
    rows = load_agreement()["comparisons"]
    return pretty(pd.DataFrame(rows, dtype=object).set_index("what"), digits=3)


def benchmarks() -> pd.DataFrame:
    """The benchmark figures (``make bench``), as the artifact recorded them."""
    rows = load_agreement()["benchmarks"]
    if not rows:
        return pd.DataFrame({"note": ["no benchmark results recorded"]})
    return pd.DataFrame(rows, dtype=object).set_index("benchmark")
