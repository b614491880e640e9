"""The agreement-with-R artifact the book shows (micromet/data/r_agreement.json) holds the same
comparisons as a fresh measurement on tests/reference/, each within its tolerance, and names
its fixtures and R versions; production code reads only the artifact."""

import json
import re

import pytest
from _agreement import ROOT, collect, within

from micromet.agreement import benchmarks, load_agreement, r_agreement

FRESH = ROOT / "_build" / "agreement" / "r_agreement.json"


@pytest.fixture(scope="module")
def fresh():
    data = collect()
    FRESH.parent.mkdir(parents=True, exist_ok=True)  # `make agreement` copies it from here
    FRESH.write_text(json.dumps(data, indent=1, default=float) + "\n", encoding="utf-8")
    return data


def test_every_fresh_comparison_is_within_its_tolerance(fresh):
    assert len(fresh["comparisons"]) >= 15
    outside = [r["what"] for r in fresh["comparisons"] if not within(r)]
    assert outside == []


def test_the_committed_artifact_is_current(fresh):
    committed = load_agreement()
    key = ("what", "R function", "fixture", "R", "tolerance")
    assert [tuple(r[k] for k in key) for r in committed["comparisons"]] == \
        [tuple(r[k] for k in key) for r in fresh["comparisons"]], "run make agreement"
    assert all(within(r) for r in committed["comparisons"])
    assert committed["benchmarks"] == fresh["benchmarks"], "run make agreement"
    for row in committed["comparisons"]:
        assert (ROOT / "tests" / "reference" / row["fixture"].replace(":", "/")).is_file()


def test_within_fails_outside_the_tolerance():
    row = {"tolerance": "1e-6 rel", "max abs diff": 1.0, "max rel diff": 2e-6}
    assert not within(row) and within(dict(row, **{"max rel diff": 1e-7}))
    assert not within({"tolerance": "identical", "max abs diff": "184 of 185"})
    assert not within({"tolerance": "1e-8", "max abs diff": 1e-7, "max rel diff": 1e-7})


def test_the_book_reads_the_artifact_only():
    table = r_agreement()
    assert "Firth Cox: coef, se, profile limits, p (breast)" in table.index
    assert set(table.columns) >= {"R function", "fixture", "R", "tolerance"}
    assert not benchmarks().empty
    reads = re.compile(r"""/\s*["'](tests|benchmarks)["']|["'](tests|benchmarks)/""")
    assert reads.search('root / "tests" / "reference"') and reads.search("'benchmarks/x'")
    for path in (ROOT / "micromet").rglob("*.py"):
        assert not reads.search(path.read_text(encoding="utf-8")), path
