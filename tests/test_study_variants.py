"""Study A at full scale, from the command line: another matching parameter gives a different,
consistent book. (That the default parameters reproduce the committed results is checked by
tests/test_reproducibility.py.)"""

import json
from pathlib import Path

import pytest

from micromet.cli import main

ROOT = Path(__file__).resolve().parent.parent
STUDY = ROOT / "studies" / "seer_m0i.yml"


@pytest.mark.slow
def test_ratio_one_gives_a_different_consistent_book(seer_m0i_run, tmp_path):
    out = tmp_path / "ratio1"
    assert main(["run", str(STUDY), "--out", str(out), "--set", "matching.ratio=1",
                 "--set", "chapters=[01_cohort, 02_matching, 03_overall_survival, 04_bcsm]"]) == 0
    base = json.loads((seer_m0i_run / "results.json").read_text(encoding="utf-8"))
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


@pytest.mark.slow
def test_matching_disabled_analyses_the_whole_cohort_in_every_chapter(tmp_path):
    from micromet import synth

    export = synth.synthetic_extract(20251, None, tmp_path / "cache", scale=0.05)
    out = tmp_path / "nomatch"
    assert main(["run", str(STUDY), "--data", str(export), "--out", str(out),
                 "--set", "matching.enabled=false",
                 "--set", "chapters=[01_cohort, 03_overall_survival, 04_bcsm]"]) == 0
    private = json.loads((out / "data" / "results.json").read_text(encoding="utf-8"))
    assert "matching" not in private
    final = sum(private["cohort"]["final"].values())
    assert private["os"]["n"] == private["bcsm"]["n"] == final
