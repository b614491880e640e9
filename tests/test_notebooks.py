"""The chapter notebooks: templates (parameters, tags, headings), the executed chapters of
book/<study>/ (no row-level output, hidden parameters, glue keys, data notice, results.json), and a
re-run with other parameters on a small "real" export (masking, consistent results)."""

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest

from micromet.governance import row_level_outputs
from micromet.run import collect_results, run_study
from micromet.study import load_study

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted((ROOT / "notebooks").glob("*.ipynb"))
STUDY = load_study("seer_m0i")
EXECUTED = ROOT / "book" / STUDY.name
GLUE_ROLE = re.compile(r"\{glue:\w*\}`([^`]+)`")


def cells(path):
    return nbformat.read(str(path), as_version=4).cells


def tags(cell):
    return cell.metadata.get("tags", [])


def test_every_chapter_of_the_study_has_a_template():
    names = {p.stem for p in TEMPLATES}
    assert set(STUDY.chapters) <= names


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_template_shape(path):
    nb = nbformat.read(str(path), as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    params = [c for c in nb.cells if "parameters" in tags(c)]
    assert len(params) == 1 and params[0].cell_type == "code"
    for node in ast.parse(params[0].source).body:  # plain `name = value` lines only
        assert isinstance(node, ast.Assign) and len(node.targets) == 1
        assert isinstance(node.targets[0], ast.Name)
        ast.literal_eval(node.value)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not re.search(r"Markdown\(\s*f?[\"']#", cell.source), \
                "headings belong in markdown cells"
    assert any("nbval-check-output" in tags(c) for c in nb.cells)


STUDY_CHAPTERS = {c for p in sorted((ROOT / "studies").glob("*.yml"))
                  for c in load_study(p).chapters}  # study A's and study B's


def test_the_cell_length_check_covers_both_studies():
    assert {"01_cohort", "04_bcsm", "05_validation"} <= STUDY_CHAPTERS
    assert STUDY_CHAPTERS <= {p.stem for p in TEMPLATES}


@pytest.mark.parametrize("path", [p for p in TEMPLATES if p.stem in STUDY_CHAPTERS],
                         ids=lambda p: p.stem)
def test_template_cells_are_short(path):
    """Computation lives in micromet: a code cell is the statistical calls with the study's
    parameters, in a few visible lines, and the chapter's call that formats them."""
    for cell in cells(path):
        if cell.cell_type == "code":
            assert "print(" not in cell.source or "nbval-check-output" in tags(cell)
            assert len([ln for ln in cell.source.splitlines() if ln.strip()]) <= 6, \
                f"a code cell should be a few calls:\n{cell.source}"


def test_templates_are_built_from_their_sources():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make", ROOT / "notebooks" / "make.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    for path in TEMPLATES:
        src = ROOT / "notebooks" / "src" / f"{path.stem}.py"
        if not src.exists():
            continue
        built = make.cells_of(src.read_text(encoding="utf-8"))
        nb = cells(path)
        assert [(c.cell_type, tags(c), c.source) for c in nb] == \
            [(k, t, b) for k, t, b in built], f"run python notebooks/make.py ({path.name})"


def executed():
    paths = [EXECUTED / f"{c}.ipynb" for c in STUDY.chapters]
    if not all(p.exists() for p in paths):
        pytest.skip(f"{EXECUTED} has not been run (micromet run studies/{STUDY.name}.yml)")
    return paths


BOOK_STUDIES = [load_study(p) for p in sorted((ROOT / "studies").glob("*.yml"))
                if (ROOT / "book" / p.stem).is_dir()]
EXECUTED_CHAPTERS = [(s, c) for s in BOOK_STUDIES for c in s.chapters]


@pytest.mark.parametrize("study, chapter", EXECUTED_CHAPTERS,
                         ids=[f"{s.name}/{c}" for s, c in EXECUTED_CHAPTERS])
def test_executed_chapter_is_clean(study, chapter):
    path = ROOT / "book" / study.name / f"{chapter}.ipynb"
    if not path.exists():
        pytest.skip(f"{path} has not been run (micromet run studies/{study.name}.yml)")
    nb = nbformat.read(str(path), as_version=4)
    assert "papermill" not in nb.metadata
    injected = [c for c in nb.cells if "injected-parameters" in tags(c)]
    assert len(injected) == 1 and "remove-cell" in tags(injected[0])
    assert "/work/" not in injected[0].source and "/home/" not in injected[0].source
    glued, markdown_outputs = set(), []
    for cell in nb.cells:
        assert "execution" not in cell.metadata
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{chapter}: an error output"
            assert not (out["output_type"] == "stream" and out["name"] == "stderr"), \
                f"{chapter} wrote to stderr: {out['text'][:300]}"
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                glued.add(name)
            if "text/markdown" in out.get("data", {}):
                markdown_outputs.append(out["data"]["text/markdown"])
    used = {m.split("::")[-1].rsplit(":", 1)[0] for c in nb.cells if c.cell_type == "markdown"
            for m in GLUE_ROLE.findall(c.source)}
    assert used <= glued, f"{chapter}: prose uses unglued keys {sorted(used - glued)}"
    notice = "Synthetic data" if study.synthetic else "Registry data"
    assert any(notice in md for md in markdown_outputs), f"{chapter}: no data notice"
    assert row_level_outputs(nb) == []


def test_results_json_matches_the_chapters_summaries():
    executed()
    results = json.loads((EXECUTED / "results.json").read_text(encoding="utf-8"))
    assert results == collect_results(EXECUTED, STUDY)
    assert results["cohort"]["final"] == {"M0": 283503, "M0(i+)": 585}  # the synthetic margins
    assert results["matching"]["ratio"] == 2
    for section, table in (("os", "table3"), ("bcsm", "table4")):
        hr, lower, upper, p = results[section]["models"][table]["multivariable"]["m_stage[M0(i+)]"]
        assert lower < hr < upper and 0 < p <= 1
    text = (EXECUTED / "results.json").read_text(encoding="utf-8")
    assert text == json.dumps(results, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_validation_page_glues_what_the_prose_pastes():
    executed()
    nb = nbformat.read(str(EXECUTED / "05_validation.ipynb"), as_version=4)
    glued = {o.get("metadata", {}).get("scrapbook", {}).get("name") for c in nb.cells
             for o in c.get("outputs", [])}
    for page in ("validation.md",):
        text = (ROOT / "book" / page).read_text(encoding="utf-8")
        keys = re.findall(r"\{glue:any\} (\w+)\n:doc: seer_m0i/05_validation\.ipynb", text)
        assert keys and set(keys) <= glued


@pytest.mark.slow
@pytest.mark.parametrize("kernel", [False, True], ids=["shell", "kernel"])
def test_other_parameters_on_a_small_real_export_give_a_consistent_masked_book(tmp_path, kernel,
                                                                              monkeypatch):
    from micromet import sources, synth

    export = synth.synthetic_extract(20251, None, tmp_path / "cache", scale=0.1)
    reads = tmp_path / "reads"  # a file: the source may be read in a forked process
    read_source = sources.read_source

    def counted(*args, **kwargs):
        with reads.open("a") as log:
            log.write("read\n")
        return read_source(*args, **kwargs)

    monkeypatch.setattr(sources, "read_source", counted)
    out = run_study(ROOT / "studies" / "seer_m0i.yml", data=export, out=tmp_path / "book",
                    # the paper's covariates: at a tenth of the size some receptor levels have
                    # no exposed patient (separation in the propensity model, reported)
                    overrides=["matching.caliper=0.1", "chapters=[01_cohort, 02_matching, "
                               "03_overall_survival, 04_bcsm]"],
                    log=lambda m: None, kernel=kernel)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["study"]["synthetic"] is False
    assert results["matching"]["caliper_sd"] == 0.1
    matched = results["matching"]["matched"]
    assert matched["M0"] <= 2 * matched["M0(i+)"]
    assert results["os"]["n"] == matched["M0"] + matched["M0(i+)"]
    seen_mask = False
    for chapter in ("01_cohort", "02_matching", "03_overall_survival", "04_bcsm"):
        nb = nbformat.read(str(out / f"{chapter}.ipynb"), as_version=4)
        assert row_level_outputs(nb) == []
        text = json.dumps([c.get("outputs", []) for c in nb.cells])
        assert "Registry data" in text and "Synthetic data" not in text
        seen_mask |= "&lt;11" in text or "<11" in text
    assert seen_mask, "small counts of a real source must be shown as <11"
    assert (out / "data" / ".gitignore").exists()
    # the export was read once, by the run's pre-check, which kept it for chapter 1: in memory
    # when the chapters run in this process (this process read it once; nothing is left behind
    # in memory), else in data/ with the other row-level files; what reading it said is still
    # in chapter 1
    import pandas as pd

    assert reads.read_text().splitlines() == ["read"]
    assert sources._CHECKED == {}
    if not kernel:
        assert not (out / "data" / "source.parquet").exists()
        return
    kept = pd.read_parquet(out / "data" / "source.parquet")
    assert kept.attrs["n_raw"] == results["cohort"]["n_raw"] and len(kept) > 0
    assert isinstance(kept.attrs["source_warnings"], list)
