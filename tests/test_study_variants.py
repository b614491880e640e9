"""Study A at full scale, from the command line: the same seed reproduces the committed
results.json byte for byte, and another matching parameter gives a different, consistent book."""

import json
import subprocess
from pathlib import Path

import pytest

from micromet.cli import main

ROOT = Path(__file__).resolve().parent.parent
STUDY = ROOT / "studies" / "seer_m0i.yml"
COMMITTED = "book/seer_m0i/results.json"


def committed_results() -> bytes:
    """results.json as committed (HEAD), else the working tree's copy."""
    try:
        return subprocess.run(["git", "show", f"HEAD:{COMMITTED}"], cwd=ROOT, check=True,
                              capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return (ROOT / COMMITTED).read_bytes()


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("default") / "seer_m0i"
    assert main(["run", str(STUDY), "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_same_seed_reproduces_the_committed_results_byte_for_byte(default_run):
    assert (default_run / "results.json").read_bytes() == committed_results()


@pytest.mark.slow
def test_ratio_one_gives_a_different_consistent_book(default_run, tmp_path):
    out = tmp_path / "ratio1"
    assert main(["run", str(STUDY), "--out", str(out), "--set", "matching.ratio=1",
                 "--set", "chapters=[01_cohort, 02_matching, 03_overall_survival, 04_bcsm]"]) == 0
    base = json.loads((default_run / "results.json").read_text(encoding="utf-8"))
    new = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert new["cohort"] == base["cohort"]  # the cohort does not depend on matching
    assert new["matching"]["ratio"] == 1 and base["matching"]["ratio"] == 2
    matched, before = new["matching"]["matched"], base["matching"]["matched"]
    assert matched["M0(i+)"] == before["M0(i+)"] == 585  # every M0(i+) finds a control ...
    assert matched["M0"] == 585 and before["M0"] == 1170  # ... one instead of two
    n = matched["M0"] + matched["M0(i+)"]
    for section in ("os", "bcsm"):
        assert new[section]["n"] == n
        hr, lower, upper, p = new[section]["univariable"]["m_stage[M0(i+)]"]
        assert lower < hr < upper and 0 < p <= 1
        assert new[section]["univariable"] != base[section]["univariable"]
    for chapter in ("01_cohort", "02_matching", "03_overall_survival", "04_bcsm"):
        assert (out / f"{chapter}.ipynb").exists()
    assert not (out / "05_validation.ipynb").exists()
