"""The specification sweep (micromet.sweep) and the engine under it (micromet.engine): tasks on
the local cores with joblib or on a Dask cluster, through one code path."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pandas as pd
import pytest

from micromet.cli import main
from micromet.engine import connect, local_jobs, map_tasks
from micromet.errors import InputError
from micromet.sweep import (
    DESIGNS,
    MAX_CELLS,
    DesignResult,
    parse_grid,
    plan_sweep,
    register_design,
    run_sweep,
)


def _square_plus(shared, task):
    return task * task + shared["offset"]


def _fails_on_three(shared, task):
    if task == 3:
        raise ValueError("three")
    return task


def test_map_tasks_gives_each_result_with_its_position_on_local_cores():
    tasks = [5, 1, 4, 2, 3]
    for n_jobs in (1, 2):
        out = dict(map_tasks(_square_plus, tasks, shared={"offset": 10}, n_jobs=n_jobs))
        assert out == {i: t * t + 10 for i, t in enumerate(tasks)}
    assert list(map_tasks(_square_plus, [], shared={"offset": 0})) == []


def test_map_tasks_lets_a_task_error_through():
    with pytest.raises(ValueError, match="three"):
        dict(map_tasks(_fails_on_three, [1, 2, 3], n_jobs=2))


def test_local_jobs_defaults_to_the_usable_cores_and_refuses_nonsense():
    assert local_jobs() >= 1 and local_jobs(3) == 3
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError):
            local_jobs(bad)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_a_clear_error_within_seconds():
    pytest.importorskip("dask.distributed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    start = time.perf_counter()
    with pytest.raises(InputError) as info:
        connect(address, timeout=2)
    assert time.perf_counter() - start < 8
    assert info.value.column == "--scheduler" and info.value.value == address
    assert "no Dask scheduler answered" in str(info.value)
    with pytest.raises(InputError, match="not a Dask scheduler address"):
        connect("nonsense://somewhere")


@pytest.fixture(scope="module")
def cluster():
    """A real Dask cluster: 2 worker processes of one thread each."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as local, \
            distributed.Client(local) as client:
        yield client


def test_map_tasks_on_dask_gives_what_joblib_gives(cluster):
    tasks = list(range(7))
    shared = {"offset": 0.5}
    local = dict(map_tasks(_square_plus, tasks, shared=shared, n_jobs=2))
    assert dict(map_tasks(_square_plus, tasks, shared=shared, scheduler=cluster)) == local
    frame = pd.DataFrame({"x": range(1000)})
    assert dict(map_tasks(_sum_plus, [1, 2], shared=frame, scheduler=cluster)) == \
        {0: 499501, 1: 499502}


def _sum_plus(frame, task):
    return int(frame["x"].sum()) + task


# ---- the sweep ---------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
STUDY = ROOT / "studies" / "seer_m0i.yml"
SMALL = "source=synthetic://seer_m0i?seed=34&scale=0.1"  # 58 M0(i+), 28,350 M0 after criteria


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory):
    """The small synthetic extract, generated once into a temporary cache for this module."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MICROMET_CACHE", str(folder))
        yield folder


def sweep(out, grid, *, overrides=(), **kw):
    return run_sweep(STUDY, grid, overrides=[SMALL, *overrides], out=out, **kw)


def test_parse_grid_reads_yaml_values_and_none_where_null_is_meant():
    grid = parse_grid(["matching.caliper=0.05,0.2,none", "matching.ratio=1,2,3",
                       "matching.replace=false,true", "models.selection=none,all",
                       "matching.covariates=[age, grade],[age]"])
    assert grid == {"matching.caliper": [0.05, 0.2, None], "matching.ratio": [1, 2, 3],
                    "matching.replace": [False, True], "models.selection": ["none", "all"],
                    "matching.covariates": [["age", "grade"], ["age"]]}


@pytest.mark.parametrize("items, words", [
    ([], "the grid is empty"),
    (["matching.ratio"], "needs key=value1,value2"),
    (["matching.ratio="], "has no values"),
    (["matching.ratio=1", "matching.ratio=2"], "given twice"),
    (["matching.ratio=1,1"], "lists a value twice"),
    (["matching.covariates=[age,grade"], "unbalanced"),
])
def test_parse_grid_refuses_a_malformed_grid(items, words):
    with pytest.raises(InputError, match=words):
        parse_grid(items)


def test_plan_validates_every_cell_and_adds_the_studys_own_choice():
    cells = plan_sweep(STUDY, ["matching.caliper=0.05,0.1", "matching.ratio=1,3"],
                       overrides=[SMALL])
    assert [(c.overrides, c.study_choice) for c in cells] == [
        ({"matching.caliper": 0.05, "matching.ratio": 1}, False),
        ({"matching.caliper": 0.05, "matching.ratio": 3}, False),
        ({"matching.caliper": 0.1, "matching.ratio": 1}, False),
        ({"matching.caliper": 0.1, "matching.ratio": 3}, False),
        ({}, True)]  # caliper 0.2, 1:2: the study's choice, not in the grid, added last
    assert [c.study.matching.ratio for c in cells] == [1, 3, 1, 3, 2]
    assert cells[-1].study.matching.caliper == 0.2
    inside = plan_sweep(STUDY, ["matching.caliper=0.1,0.2", "matching.ratio=2"])
    assert [c.study_choice for c in inside] == [False, True]


@pytest.mark.parametrize("grid, column, value, words", [
    (["matching.caliper=0.1,abc"], "matching.caliper", "abc", "must be a number or null"),
    (["matching.ratio=1,0"], "matching.ratio", 0, "at least 1"),
    (["matching.colour=1,2"], "matching.colour", None, "unknown parameter"),
    (["nonsense=1"], "nonsense", None, "unknown parameter"),
    (["cohort.years=[2018, 2020]"], "cohort.years", [2018, 2020], "changes the cohort"),
])
def test_an_invalid_key_or_value_is_named_before_anything_runs(tmp_path, grid, column, value,
                                                                 words, capsys):
    with pytest.raises(InputError) as info:
        plan_sweep(STUDY, grid)
    assert info.value.column == column and words in str(info.value)
    if value is not None:
        assert info.value.value == value
    out = tmp_path / "out"
    args = ["sweep", str(STUDY), "--out", str(out)]
    assert main(args + [a for g in grid for a in ("--grid", g)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("micromet sweep: error:") and column in err and words in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_an_empty_grid_an_unknown_design_and_a_large_grid_are_refused(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(STUDY), "--out", str(out)]) == 2
    assert "the grid is empty" in capsys.readouterr().err
    assert main(["sweep", str(STUDY), "--out", str(out), "--grid", "matching.ratio=1",
                 "--design", "matching,iptw_nope"]) == 2
    assert "unknown design (known: iptw_att, matching, overlap" in capsys.readouterr().err
    big = ["--grid", "matching.ratio=1,2,3,4,5,6,7,8,9,10",
           "--grid", "matching.caliper=0.05,0.1,0.15,0.2,0.25,0.3"]
    assert main(["sweep", str(STUDY), "--out", str(out), *big]) == 2
    err = capsys.readouterr().err
    assert f"the grid has 60 cells, more than {MAX_CELLS}" in err and "--yes" in err
    assert not out.exists()
    cells = plan_sweep(STUDY, [b for b in big if b != "--grid"], yes=True)
    assert len(cells) == 60  # the study's choice (caliper 0.2, ratio 2) is one of them
    assert [c.overrides for c in cells if c.study_choice] == [
        {"matching.ratio": 2, "matching.caliper": 0.2}]


def test_an_unreachable_scheduler_stops_the_sweep_and_nothing_is_written(tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "out"
    start = time.perf_counter()
    code = main(["sweep", str(STUDY), "--out", str(out), "--grid", "matching.ratio=1,2",
                 "--scheduler", f"tcp://127.0.0.1:{_free_port()}"])
    assert code == 2 and time.perf_counter() - start < 15
    err = capsys.readouterr().err
    assert "no Dask scheduler answered" in err and "Traceback" not in err
    assert not out.exists()


GRID = ["matching.caliper=0.05,none", "matching.ratio=1,3", "matching.replace=false,true"]


def test_the_studys_own_cell_gives_what_the_chapters_give(small_cache, tmp_path):
    from micromet import pipeline
    from micromet.study import load_study

    result = sweep(tmp_path / "sweep", ["matching.ratio=1,2"], n_jobs=1)
    study = load_study(STUDY, [SMALL])
    chapters = tmp_path / "chapters"
    pipeline.cohort_chapter(study, chapters)
    matched = pipeline.matching_chapter(study, chapters)
    os_, bcsm = pipeline.os_chapter(study, chapters), pipeline.bcsm_chapter(study, chapters)
    mine = result.results[result.results["study_choice"]].set_index(["outcome", "adjustment"])
    term = "m_stage[M0(i+)]"
    for outcome, chapter in (("os", os_), ("bcsm", bcsm)):
        for adjustment, table in (("univariable", chapter.uni),
                                  ("multivariable", chapter.multi.table)):
            row = mine.loc[(outcome, adjustment)]
            for column, ours in (("hr", "estimate"), ("lower", "lower"), ("upper", "upper"),
                                 ("p", "p")):
                assert row[ours] == pytest.approx(table.loc[term, column], rel=1e-12)
        assert mine.loc[(outcome, "multivariable"), "n"] == len(chapter.data)
    assert mine.loc[("os", "univariable"), "events"] == os_.summary["events"]
    assert mine.loc[("bcsm", "univariable"), "events"] == bcsm.summary["events_cause"]
    assert mine["max_abs_smd"].iloc[0] == pytest.approx(
        matched.summary["max_abs_smd_after"], rel=1e-12)
    ratio_one = result.results[result.results["matching.ratio"] == 1]
    assert (ratio_one["n"] == 2 * ratio_one["n_exposed"]).all()  # 1:1, every one matched
    assert (result.results["status"] == "ok").all()


def test_a_dask_cluster_gives_exactly_what_the_local_cores_give(small_cache, tmp_path,
                                                                  cluster):
    local = sweep(tmp_path / "local", GRID, n_jobs=2)
    remote = sweep(tmp_path / "dask", GRID, scheduler=cluster)
    assert remote.computed == local.computed == 9 and remote.reused == 0
    pd.testing.assert_frame_equal(remote.results, local.results, check_exact=True)
    assert (tmp_path / "dask" / "results.json").read_bytes() == \
        (tmp_path / "local" / "results.json").read_bytes()
    assert (tmp_path / "dask" / "results.csv").read_bytes() == \
        (tmp_path / "local" / "results.csv").read_bytes()
    # and the cells differ where the specification does: 1:1 vs 1:3
    ratio = local.results.groupby("matching.ratio")["n"].first()
    assert ratio[3] > ratio[1]


def test_an_interrupted_sweep_resumes_from_its_cache(small_cache, tmp_path):
    out = tmp_path / "sweep"
    first = sweep(out, GRID, only=[0, 5, 8], n_jobs=2)  # part of the grid, then "interrupted"
    assert (first.computed, first.reused) == (3, 0)
    assert len(list((out / "cache").glob("*.json"))) == 3
    whole = sweep(out, GRID, n_jobs=2)
    assert (whole.computed, whole.reused, whole.failed) == (6, 3, 0)
    again = sweep(out, GRID, n_jobs=2)
    assert (again.computed, again.reused) == (0, 9)
    fresh = sweep(tmp_path / "fresh", GRID, n_jobs=2)
    pd.testing.assert_frame_equal(whole.results, fresh.results, check_exact=True)
    pd.testing.assert_frame_equal(again.results, fresh.results, check_exact=True)
    # a cache entry cut short (a writer killed mid-way) is computed again, not trusted
    victim = sorted((out / "cache").glob("*.json"))[0]
    victim.write_text(victim.read_text()[:40])
    assert sweep(out, GRID, n_jobs=2).computed == 1
    # another study parameter is another cell: not taken from the cache
    other = sweep(out, GRID, overrides=["models.selection=all"], n_jobs=2)
    assert other.computed == 9


def test_a_failed_cell_is_recorded_and_the_sweep_goes_on(small_cache, tmp_path):
    # with replacement MatchIt gives no matched sets, so a Cox model clustered on them fails
    out = tmp_path / "sweep"
    result = sweep(out, ["matching.replace=false,true", "matching.ratio=1,2"],
                   overrides=["models.cluster=subclass"], n_jobs=2)
    frame = result.results
    assert result.failed == 2 and result.computed == 4
    failed = frame[frame["status"] == "failed"]
    assert set(failed["matching.replace"]) == {True} and set(failed["outcome"]) == {"os"}
    assert failed["error"].str.contains("missing cluster id").all()
    assert failed["estimate"].isna().all()
    done = frame[frame["status"] == "ok"]
    assert done["estimate"].notna().all() and done["error"].isna().all()
    assert len(done) == 12  # the 2 good cells x 2 outcomes x 2 adjustments, and bcsm of the 2
    assert len(list((out / "cache").glob("*.json"))) == 2  # failures are tried again next time
    assert sweep(out, ["matching.replace=false,true", "matching.ratio=1,2"],
                 overrides=["models.cluster=subclass"], n_jobs=2).computed == 2


def test_a_failing_design_is_recorded_too(small_cache, tmp_path, monkeypatch):
    def broken(data, treatment, covariates, study):
        raise ArithmeticError("no design today")

    monkeypatch.setitem(DESIGNS, "broken", broken)
    result = sweep(tmp_path / "sweep", ["matching.ratio=1"], designs=["broken"], n_jobs=1)
    frame = result.results
    mine = frame[frame["design"] == "broken"]
    assert len(mine) == 4 and (mine["status"] == "failed").all()
    assert (mine["error"] == "ArithmeticError: no design today").all()
    assert mine["n"].isna().all()
    assert (frame.loc[frame["study_choice"], "status"] == "ok").all()  # the study's cell ran


def test_a_design_plugs_into_the_registry(small_cache, tmp_path, monkeypatch):
    def everyone(data, treatment, covariates, study):
        return DesignResult(data=data.drop(columns=[treatment]), weights=None,
                            max_abs_smd=0.0, info={})

    monkeypatch.setitem(DESIGNS, "everyone", everyone)
    with pytest.raises(ValueError, match="already registered"):
        register_design("everyone", lambda *a: None)
    result = sweep(tmp_path / "sweep", ["matching.ratio=2"], designs=["matching", "everyone"],
                   n_jobs=1)
    by_design = result.results.groupby("design")["n"].first()
    assert by_design["everyone"] > 10 * by_design["matching"]  # the whole cohort
    assert list(result.results.drop_duplicates("cell")["design"]) == ["matching", "everyone"]


def test_a_weighting_design_gets_weighted_cox_and_fine_gray_models(small_cache, tmp_path,
                                                                   monkeypatch):
    """Unit weights give the unweighted Cox model exactly; the weighted Fine-Gray fit (finegray
    + weighted coxph, which estimates the same SHR as crr with another censoring weight) is
    close to crr's; the registered weighting designs run and balance the covariates."""
    def everyone(data, treatment, covariates, study):
        return DesignResult(data=data.drop(columns=[treatment]), weights=None, max_abs_smd=0.0)

    def weighted(data, treatment, covariates, study):  # every weight 1: the same Cox model
        return DesignResult(data=data.drop(columns=[treatment]).assign(w=1.0), weights="w",
                            max_abs_smd=0.0)

    monkeypatch.setitem(DESIGNS, "everyone", everyone)
    monkeypatch.setitem(DESIGNS, "weighted", weighted)
    result = sweep(tmp_path / "sweep", ["matching.ratio=2"],
                   designs=["everyone", "weighted", "iptw_att", "overlap"], n_jobs=1)
    frame = result.results.set_index(["design", "outcome", "adjustment"])
    for adjustment in ("univariable", "multivariable"):
        plain, weighted_row = (frame.loc[(d, "os", adjustment)] for d in ("everyone",
                                                                          "weighted"))
        assert weighted_row["status"] == "ok"
        for column in ("estimate", "lower", "upper", "p"):
            assert weighted_row[column] == pytest.approx(plain[column], rel=1e-9)
        bcsm = frame.loc[("weighted", "bcsm", adjustment)]
        assert bcsm["status"] == "ok"
        assert bcsm["estimate"] == pytest.approx(frame.loc[("everyone", "bcsm", adjustment),
                                                           "estimate"], rel=0.05)
    for design in ("iptw_att", "overlap"):
        rows = frame.loc[design]
        assert (rows["status"] == "ok").all(), rows["error"].tolist()
        assert rows["max_abs_smd"].max() < 1e-3  # a logistic fit's weights balance its means (to
        # its convergence tolerance)


def test_the_results_files_and_the_specification_curve(small_cache, tmp_path):
    import json

    from micromet.plots_sweep import CHOICE_COLOR, specification_curve

    out = tmp_path / "sweep"
    result = sweep(out, ["matching.caliper=0.05,none", "matching.ratio=1,2"], n_jobs=2)
    frame = result.results
    assert len(frame) == 5 * 2 * 2  # 4 cells and the study's (caliper 0.2), 2 outcomes, 2 fits
    assert list(result.seconds) == ["plan", "cohort", "cells", "write"]
    assert all(s >= 0 for s in result.seconds.values())
    assert list(frame.columns[:6]) == ["cell", "design", "matching.caliper", "matching.ratio",
                                       "seed", "study_choice"]
    assert set(frame["measure"]) == {"HR", "SHR"} and frame["key"].str.len().eq(64).all()
    on_disk = pd.read_csv(out / "results.csv")
    assert len(on_disk) == len(frame) and list(on_disk.columns) == list(frame.columns)
    assert on_disk["estimate"].tolist() == pytest.approx(frame["estimate"].tolist(), rel=1e-15)
    records = json.loads((out / "results.json").read_text())
    assert [r["estimate"] for r in records] == frame["estimate"].tolist()
    assert (out / "specification_curve.png").read_bytes()[:4] == b"\x89PNG"
    figure = specification_curve(frame, ["matching.caliper", "matching.ratio"])
    top = [ax for ax in figure.axes if ax.get_title()]
    assert len(top) == 2 and "HR" in top[0].get_title() and "SHR" in top[1].get_title()
    marked = [c for ax in top for c in ax.collections
              if c.get_label() == "the study's choice"]
    assert len(marked) == 2
    import matplotlib.colors as mcolors
    assert mcolors.to_hex(marked[0].get_facecolor()[0]) == CHOICE_COLOR
    # sorted by estimate: the points of each panel go up
    for ax in top:
        points = sorted((x, y) for c in ax.collections if c.get_offsets().size
                        for x, y in c.get_offsets())
        assert [y for _, y in points] == sorted(y for _, y in points)


def test_a_sweep_writes_only_into_a_folder_of_its_own(small_cache, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    args = ["sweep", str(STUDY), "--grid", "matching.ratio=1", "--set", SMALL]
    assert main([*args, "--out", str(mine)]) == 2
    assert "micromet did not create" in capsys.readouterr().err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    out = tmp_path / "out"
    assert main([*args, "--out", str(out), "--jobs", "1"]) == 0
    captured = capsys.readouterr()
    assert "2 cells: 2 computed, 0 from the cache, 0 failed" in captured.err
    assert str(out / "results.csv") in captured.out
    assert main([*args, "--out", str(out), "--jobs", "1"]) == 0  # its own folder: resumed
    assert "0 computed, 2 from the cache" in capsys.readouterr().err
