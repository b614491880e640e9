"""Study B end to end: ``micromet run studies/nanomet.yml`` executes the same chapter notebooks as
study A on the default synthetic series; its results equal R's estimates on that draw."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from micromet import synth_series as ss

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run_output(tmp_path_factory):
    from micromet.run import run_study

    tmp = tmp_path_factory.mktemp("nanomet")
    mp = pytest.MonkeyPatch()
    mp.setenv("MICROMET_CACHE", str(tmp / "cache"))
    try:
        out = run_study(ROOT / "studies" / "nanomet.yml", out=tmp / "out", log=lambda s: None)
    finally:
        mp.undo()
    return out


@pytest.mark.slow
def test_results_equal_r_on_the_default_draw(run_output):
    results = json.loads((run_output / "results.json").read_text())
    r = ss.DEFAULT_DRAW_R
    assert results["study"]["synthetic"] is True
    assert results["cohort"]["n"] == 702
    assert results["cohort"]["final"] == {"pN0(i-)": 328, "pN0(i+)": 49, "pN1mi": 60,
                                          "pN1": 265}
    any_event, distant = results["any_event"], results["distant"]
    main = any_event["comparisons"]["pN0(i+) vs pN0(i-)"]
    assert main[0] == pytest.approx(r["hr_any_event_pN0i_plus_vs_pN0i_minus"], rel=1e-5)
    assert main[3] == pytest.approx(r["p_any_event_pN0i_plus_vs_pN0i_minus"], rel=1e-5)
    mi = any_event["comparisons"]["pN1mi vs pN0(i+)"]
    assert mi[0] == pytest.approx(r["hr_any_event_pN1mi_vs_pN0i_plus"], rel=1e-5)
    grouped = any_event["models"]["grouped"]["multivariable"]["nodal_group3[pN0(i+)/pN1mi]"]
    assert grouped[0] == pytest.approx(r["hr_any_event_grouped_multivariable"], rel=1e-5)
    assert grouped[3] == pytest.approx(r["p_any_event_grouped_multivariable"], rel=1e-5)
    gray = distant["gray"]
    assert gray["groups"] == ["pN0(i-)", "pN0(i+)"] and gray["df"] == 1
    assert gray["statistic"] == pytest.approx(r["gray_chisq_distant"], rel=1e-5)
    assert distant["gray_all_groups"]["df"] == 3
    assert any_event["followup"]["median"] == pytest.approx(r["median_followup_months"],
                                                            rel=1e-5)


@pytest.mark.slow
def test_notebooks_are_clean(run_output):
    chapters = ["01_cohort", "03_overall_survival", "04_bcsm", "05_validation", "06_robustness"]
    assert sorted(p.stem for p in run_output.glob("*.ipynb")) == chapters
    glued, checked_text = set(), ""
    for chapter in chapters:
        nb = nbformat.read(str(run_output / f"{chapter}.ipynb"), as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        assert not [o for o in outputs if o.output_type == "error"], chapter
        assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"], \
            chapter
        checked = [c for c in nb.cells if "nbval-check-output" in c.metadata.get("tags", [])]
        assert len(checked) == 1, chapter
        checked_text += "".join(o.get("text", "") for o in checked[0].outputs)
        glued |= {o["metadata"]["scrapbook"]["name"] for o in outputs
                  if "scrapbook" in o.get("metadata", {})}
    assert "'pN0(i+) vs pN0(i-)': [2.582," in checked_text
    assert "Gray p: 0.014" in checked_text
    assert {"n_final_exposed", "comparisons_text", "gray_chisq", "validation_headline"} <= glued
    assert (run_output / "data" / ".gitignore").is_file()  # row-level data never committed
