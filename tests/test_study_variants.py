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
        (table,) = new[section]["models"].values()
        hr, lower, upper, p = table["univariable"]["m_stage[M0(i+)]"]
        assert lower < hr < upper and 0 < p <= 1
        assert new[section]["models"] != base[section]["models"]
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


def _estimates(section: dict) -> dict[str, object]:
    """Every row of every regression table of an outcome's summary, by table, model and term."""
    return {f"{name}:{model}:{term}": row for name, table in section["models"].items()
            for model in ("univariable", "multivariable") for term, row in table[model].items()}


def _no_monotone_estimate(results: dict) -> list[str]:
    """Tables 3 and 4: every term is either "not estimable" or an estimate with |log HR| <= 5
    and finite limits (the paper's 5.48e5, 2.41e3 ... would fail)."""
    import math

    bad = []
    for section in ("os", "bcsm"):
        for key, row in _estimates(results[section]).items():
            if row == "not estimable":
                continue
            hr, lower, upper, _ = row
            if not (abs(math.log(hr)) <= 5 and math.isfinite(lower) and math.isfinite(upper)
                    and lower > 0):
                bad.append(f"{section} {key}: {row}")
    return bad


def test_default_draw_prints_no_monotone_estimate(seer_m0i_run):
    results = json.loads((seer_m0i_run / "results.json").read_text(encoding="utf-8"))
    assert _no_monotone_estimate(results) == []


@pytest.mark.slow
def test_another_draw_prints_no_monotone_estimate_and_firth_is_used_when_asked(tmp_path):
    """Issue 13: on any seed, Tables 3 and 4 never show an estimate for a term whose likelihood
    is monotone; with models.on_separation = firth the Cox tables are Firth's (Fine-Gray keeps
    reporting, and says so)."""
    out = tmp_path / "seed68"
    chapters = "chapters=[01_cohort, 02_matching, 03_overall_survival, 04_bcsm]"
    assert main(["run", str(STUDY), "--out", str(out), "--set",
                 "source=synthetic://seer_m0i?seed=68", "--set", chapters]) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert _no_monotone_estimate(results) == []
    firth = tmp_path / "firth"
    assert main(["run", str(STUDY), "--out", str(firth), "--set",
                 "source=synthetic://seer_m0i?seed=68", "--set", chapters,
                 "--set", "models.on_separation=firth"]) == 0
    with_firth = json.loads((firth / "results.json").read_text(encoding="utf-8"))
    assert _no_monotone_estimate(with_firth) == []
    assert with_firth["cohort"] == results["cohort"]
    assert with_firth["matching"] == results["matching"]
    os_terms = _estimates(with_firth["os"])
    if any(v == "not estimable" for v in _estimates(results["os"]).values()):
        # the ordinary fit had to report a term: Firth estimates every one, and says why
        assert all(v != "not estimable" for v in os_terms.values())
        notebook = (firth / "03_overall_survival.ipynb").read_text(encoding="utf-8")
        assert "Firth" in notebook
    else:  # nothing separated: the option changes nothing
        assert os_terms == _estimates(results["os"])
