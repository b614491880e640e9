"""Study B end to end: ``micromet run studies/nanomet.yml`` executes notebooks/nanomet.ipynb on
the default synthetic series; its results equal R's estimates on that draw."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import nbformat
import pytest

from micromet import synth_series as ss

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run_output(tmp_path_factory):
    from micromet import study as study_mod

    fields = {f.name for f in dataclasses.fields(study_mod.Study)}
    if not {"series", "comparisons", "grouped_model"} <= fields:
        pytest.skip("the study schema has no study-B sections (series, comparisons, ...) yet")
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
    nm = results["nanomet"]
    assert results["study"]["synthetic"] is True
    assert nm["n"] == 702
    assert nm["groups"] == {"pN0(i-)": 328, "pN0(i+)": 49, "pN1mi": 60, "pN1": 265}
    main = nm["any_event"]["pairwise"]["pN0(i+) vs pN0(i-)"]
    assert main["hr"] == pytest.approx(r["hr_any_event_pN0i_plus_vs_pN0i_minus"], rel=1e-5)
    assert main["p"] == pytest.approx(r["p_any_event_pN0i_plus_vs_pN0i_minus"], rel=1e-5)
    mi = nm["any_event"]["pairwise"]["pN1mi vs pN0(i+)"]
    assert mi["hr"] == pytest.approx(r["hr_any_event_pN1mi_vs_pN0i_plus"], rel=1e-5)
    grouped = nm["any_event"]["grouped_multivariable"]["nodal_group3[pN0(i+)/pN1mi]"]
    assert grouped[0] == pytest.approx(r["hr_any_event_grouped_multivariable"], rel=1e-5)
    assert grouped[3] == pytest.approx(r["p_any_event_grouped_multivariable"], rel=1e-5)
    gray = nm["distant"]["gray"]
    assert gray["groups"] == ["pN0(i-)", "pN0(i+)"] and gray["df"] == 1
    assert gray["statistic"] == pytest.approx(r["gray_chisq_distant"], rel=1e-5)
    assert nm["distant"]["gray_all_groups"]["df"] == 3
    assert nm["followup"]["median"] == pytest.approx(r["median_followup_months"], rel=1e-5)


@pytest.mark.slow
def test_notebook_is_clean(run_output):
    nb = nbformat.read(str(run_output / "nanomet.ipynb"), as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    checked = [c for c in nb.cells if "nbval-check-output" in c.metadata.get("tags", [])]
    assert len(checked) == 1
    text = "".join(o.get("text", "") for o in checked[0].outputs)
    assert "HR pN0(i+) vs pN0(i-): 2.582" in text
    assert "Gray chi-square: 6.004" in text
    glued = {o["metadata"]["scrapbook"]["name"] for o in outputs
             if "scrapbook" in o.get("metadata", {})}
    assert {"hr_exposed", "hr_grouped", "gray_chisq", "n_exposed"} <= glued
    assert (run_output / "data" / ".gitignore").is_file()  # row-level data never committed
