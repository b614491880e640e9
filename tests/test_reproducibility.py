"""The reproducibility contract in two layers (micromet.reproducibility), each shown to fail on a
deliberately perturbed value.

(a) same machine, same inputs: a study run twice gives byte-identical output folders;
(b) the committed results (book/<study>/results.json) against a fresh run on this machine agree
    within the tolerances declared in micromet.reproducibility.TOLERANCES.
"""

import copy
import json
import shutil
import subprocess

import pytest
from conftest import ROOT, run_fresh

from micromet.cli import main
from micromet.reproducibility import (
    NOT_ESTIMABLE,
    TOLERANCES,
    byte_differences,
    compare_results,
    load_results,
    quantity_kind,
)

STUDIES = ("seer_m0i", "nanomet")


def committed(name: str) -> dict:
    """book/<name>/results.json as committed (HEAD), else the working tree's copy."""
    path = f"book/{name}/results.json"
    try:
        text = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        text = (ROOT / path).read_text(encoding="utf-8")
    return json.loads(text)


@pytest.fixture(scope="module")
def nanomet_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("nanomet")
    return run_fresh("nanomet", base / "first"), run_fresh("nanomet", base / "second")


# ---- layer (a): bytes ---------------------------------------------------------------------------


@pytest.mark.slow
def test_a_study_run_twice_on_this_machine_gives_identical_bytes(seer_m0i_run,
                                                                 seer_m0i_second_run):
    assert byte_differences(seer_m0i_run, seer_m0i_second_run) == []


def test_study_b_run_twice_gives_identical_bytes(nanomet_runs):
    first, second = nanomet_runs
    assert sorted(p.name for p in first.iterdir()) == sorted(p.name for p in second.iterdir())
    assert byte_differences(first, second) == []


def test_layer_a_fails_on_one_changed_byte(nanomet_runs, tmp_path):
    first, _ = nanomet_runs
    copy_dir = tmp_path / "copy"
    shutil.copytree(first, copy_dir)
    assert byte_differences(first, copy_dir) == []
    target = copy_dir / "results.json"
    data = bytearray(target.read_bytes())
    position = data.index(b"0.")  # a digit of some number
    data[position] = ord("1")
    target.write_bytes(bytes(data))
    assert byte_differences(first, copy_dir) == ["results.json: contents differ"]
    (copy_dir / "03_overall_survival.ipynb").unlink()
    assert "03_overall_survival.ipynb: only in" in " ".join(byte_differences(first, copy_dir))


# ---- layer (b): tolerances ----------------------------------------------------------------------


@pytest.mark.slow
def test_committed_study_a_results_agree_with_a_fresh_run_within_tolerances(seer_m0i_run):
    differences = compare_results(committed("seer_m0i"), load_results(seer_m0i_run))
    assert differences == [], "\n".join(map(str, differences))


def test_committed_study_b_results_agree_with_a_fresh_run_within_tolerances(nanomet_runs):
    differences = compare_results(committed("nanomet"), load_results(nanomet_runs[0]))
    assert differences == [], "\n".join(map(str, differences))


def leaves(obj, path=()):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from leaves(value, (*path, str(key)))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from leaves(value, (*path, str(i)))
    else:
        yield path, obj


def put(obj, path, value):
    for key in path[:-1]:
        obj = obj[int(key)] if isinstance(obj, list) else obj[key]
    if isinstance(obj, list):
        obj[int(path[-1])] = value
    else:
        obj[path[-1]] = value


def first_of_kind(results, kind, where=None):
    for path, value in leaves(results):
        if quantity_kind(path, value) == kind and value not in (0, 0.0) \
                and (where is None or where in path):
            return path, value
    raise AssertionError(f"no {kind} in the results")


@pytest.mark.parametrize("name", STUDIES)
def test_every_number_of_the_results_has_a_declared_kind(name):
    kinds = {quantity_kind(path, value) for path, value in leaves(committed(name))}
    assert kinds <= set(TOLERANCES)
    assert {"count", "estimate", "p"} <= kinds


@pytest.mark.parametrize("name", STUDIES)
def test_layer_b_fails_on_each_perturbed_kind_and_passes_within_tolerance(name):
    base = committed(name)
    assert compare_results(base, copy.deepcopy(base)) == []
    for kind, perturb in (
        ("count", lambda v: v + 1),
        ("estimate", lambda v: v * (1 + 3 * TOLERANCES["estimate"].rtol)),
        ("p", lambda v: v * (1 + 3 * TOLERANCES["p"].rtol)),
    ):
        path, value = first_of_kind(base, kind)
        changed = copy.deepcopy(base)
        put(changed, path, perturb(value))
        found = compare_results(base, changed)
        assert [(d.path, d.kind) for d in found] == [(path, kind)], kind
        assert " > ".join(path) in str(found[0])
    for kind in ("estimate", "p"):  # a tenth of the tolerance is not a difference
        path, value = first_of_kind(base, kind)
        changed = copy.deepcopy(base)
        put(changed, path, value * (1 + TOLERANCES[kind].rtol / 10))
        assert compare_results(base, changed) == []


def test_a_term_not_estimable_is_compared_as_such_never_as_a_number():
    base = committed("seer_m0i")
    path = ("bcsm", "models", "table4", "multivariable", "m_stage[M0(i+)]")
    flagged = copy.deepcopy(base)
    put(flagged, path, NOT_ESTIMABLE)
    assert compare_results(flagged, copy.deepcopy(flagged)) == []
    for a, b in ((base, flagged), (flagged, base)):
        found = compare_results(a, b)
        assert [d.path for d in found] == [path] and found[0].kind == "text"
    # not estimable with a huge number beside it on the other side: still a difference
    huge = copy.deepcopy(base)
    put(huge, path, [1e9, 1e-3, float("inf"), 0.99])
    assert [d.path for d in compare_results(flagged, huge)] == [path]


def test_a_term_missing_on_one_side_is_a_difference():
    base = committed("seer_m0i")
    fewer = copy.deepcopy(base)
    del fewer["os"]["models"]["table3"]["univariable"]["age"]
    found = compare_results(base, fewer)
    assert [(d.path, d.kind) for d in found] == [
        (("os", "models", "table3", "univariable", "age"), "missing")]
    assert [d.kind for d in compare_results(fewer, base)] == ["extra"]


def test_compare_command_exit_codes(tmp_path, capsys):
    base = committed("nanomet")
    (tmp_path / "a.json").write_text(json.dumps(base), encoding="utf-8")
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "a.json")]) == 0
    path, value = first_of_kind(base, "count")
    put(base, path, value + 1)
    (tmp_path / "b.json").write_text(json.dumps(base), encoding="utf-8")
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 1
    err = capsys.readouterr()
    assert " > ".join(path) in err.out
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_the_tolerances_are_stated_in_the_readme_and_the_validation_page():
    from micromet.reproducibility import tolerance_table

    table = tolerance_table()
    for page in (ROOT / "README.md", ROOT / "book" / "validation.md"):
        assert table in page.read_text(encoding="utf-8"), page.name


def test_output_folders_are_readable_by_others(nanomet_runs, tmp_path):
    import os
    import stat

    from micromet.files import default_dir_mode, output_temp_dir

    first, _ = nanomet_runs
    assert stat.S_IMODE(first.stat().st_mode) == default_dir_mode()
    old = os.umask(0o022)
    try:
        made = output_temp_dir(tmp_path / "new" / "parent", prefix=".x-")
        assert stat.S_IMODE(made.stat().st_mode) == 0o755
    finally:
        os.umask(old)


def test_atomic_writes(tmp_path):
    import os
    import stat

    from micromet.files import build_once, replace_dir, write_atomic

    old = os.umask(0o022)
    try:
        path = write_atomic(tmp_path / "new" / "a.json", "é\n")
        assert path.read_bytes() == "é\n".encode() and stat.S_IMODE(path.stat().st_mode) == 0o644
    finally:
        os.umask(old)
    write_atomic(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01" and sorted(os.listdir(path.parent)) == ["a.json"]
    # a folder in place of an earlier one, the earlier one gone
    new, target = tmp_path / "n", tmp_path / "t"
    new.mkdir()
    (new / "x").write_text("new")
    target.mkdir()
    (target / "y").write_text("old")
    replace_dir(new, target)
    assert sorted(os.listdir(target)) == ["x"] and not new.exists()
    assert not [p for p in os.listdir(tmp_path) if ".old-" in p]
    # a cached folder: built once, an incomplete one replaced, no temporary folder left
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "done").write_text("yes")

    def complete(folder):
        return (folder / "done").is_file()

    cache = tmp_path / "cache" / "thing"
    cache.mkdir(parents=True)
    (cache / "half").write_text("interrupted")
    assert build_once(cache, build, complete) == cache and len(calls) == 1
    assert sorted(os.listdir(cache)) == ["done"]
    build_once(cache, build, complete)
    assert len(calls) == 1 and os.listdir(cache.parent) == ["thing"]
