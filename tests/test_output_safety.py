"""micromet never deletes or overwrites what it did not create (micromet.outputs): every refusal
happens before any work, names the folder, prints no traceback, and leaves everything as it was;
a second run into the same output is refused; SIGTERM/SIGHUP/SIGINT leave the earlier output
intact and nothing of the run behind; a failed chapter is kept in a private file."""

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from micromet.cli import main
from micromet.outputs import MARKER, output_lock
from micromet.reproducibility import byte_differences

STUDY_B = str(ROOT / "studies" / "nanomet.yml")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(capsys, *argv) -> str:
    """Run the command; it must exit 2 with one error line and no traceback."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("micromet ") and "error:" in err, err
    assert "Traceback" not in err
    return err


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".run-" in p.name or p.suffix == ".lock")


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A finished study-B output, as an earlier run left it."""
    out = tmp_path_factory.mktemp("earlier") / "nanomet"
    assert main(["run", STUDY_B, "--out", str(out)]) == 0
    return out


def test_a_folder_holding_a_users_file_is_refused_and_the_file_remains(tmp_path, capsys):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "thesis.txt").write_text("four years of work")
    err = refused(capsys, "run", STUDY_B, "--out", str(folder))
    assert "thesis" in err and "did not create" in err
    assert (folder / "thesis.txt").read_text() == "four years of work"
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.txt"]
    assert leftovers(tmp_path) == []


def test_a_regular_file_as_out_is_refused(tmp_path, capsys):
    target = tmp_path / "results"
    target.write_text("mine")
    err = refused(capsys, "run", STUDY_B, "--out", str(target))
    assert "is a file" in err and target.read_text() == "mine"


def test_a_symbolic_link_as_out_is_refused(tmp_path, capsys):
    real = tmp_path / "real"
    real.mkdir()
    (real / "keep.txt").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(real)
    assert "symbolic link" in refused(capsys, "run", STUDY_B, "--out", str(link))
    assert (real / "keep.txt").exists() and link.is_symlink()


@pytest.mark.parametrize("where", ["folder", "parent"])
def test_the_folder_of_the_export_is_refused(tmp_path, capsys, where):
    export = tmp_path / "exports" / "seer"
    export.mkdir(parents=True)
    (export / "case_listing.csv").write_text("a,b\n1,2\n")
    (export / "case_listing.dic").write_text("[x]\n")
    before = snapshot(tmp_path / "exports")
    out = export if where == "folder" else export.parent
    err = refused(capsys, "run", str(ROOT / "studies" / "seer_m0i.yml"), "--data",
                  str(export / "case_listing.csv"), "--out", str(out))
    assert "case_listing.csv" in err
    assert snapshot(tmp_path / "exports") == before


def test_the_folder_of_the_study_file_is_refused(tmp_path, capsys):
    study = tmp_path / "mine.yml"
    study.write_text(Path(STUDY_B).read_text())
    err = refused(capsys, "run", str(study), "--out", str(tmp_path))
    assert "mine.yml" in err and study.exists()


@pytest.mark.parametrize("which", ["cwd", "home", "repository", "root", "parent of repository"])
def test_guarded_folders_are_refused(tmp_path, capsys, monkeypatch, which):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    out = {"cwd": ".", "home": "~", "repository": str(ROOT), "root": "/",
           "parent of repository": str(ROOT.parent)}[which]
    err = refused(capsys, "run", STUDY_B, "--out", out)
    assert "parents" in err or "did not create" in err


def test_a_study_name_that_is_not_a_slug_is_refused(tmp_path, capsys):
    err = refused(capsys, "run", STUDY_B, "--set", "name=../../x")
    assert "'name'" in err and "../../x" in err
    assert not (ROOT / "x").exists() and not (ROOT.parent / "x").exists()


def test_an_earlier_output_is_replaced_and_a_file_added_to_it_is_protected(earlier, capsys):
    before = snapshot(earlier)
    assert (earlier / MARKER).is_file()
    assert main(["run", STUDY_B, "--out", str(earlier)]) == 0
    capsys.readouterr()
    assert snapshot(earlier) == before  # same machine, same inputs: the same bytes
    (earlier / "notes.txt").write_text("my notes")
    err = refused(capsys, "run", STUDY_B, "--out", str(earlier))
    assert "notes.txt" in err and (earlier / "notes.txt").read_text() == "my notes"
    (earlier / "notes.txt").unlink()


def test_an_empty_folder_of_the_users_may_be_used(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert main(["run", STUDY_B, "--out", str(out), "--set", "chapters=[01_cohort]"]) == 0
    assert (out / MARKER).is_file() and (out / "results.json").is_file()
    assert stat.S_IMODE(out.stat().st_mode) & 0o055 == 0o055  # readable by others


def test_a_second_run_into_the_same_output_is_refused(earlier, capsys):
    before = snapshot(earlier)
    with output_lock(earlier):
        err = refused(capsys, "run", STUDY_B, "--out", str(earlier))
    assert "another micromet run" in err
    assert snapshot(earlier) == before
    assert leftovers(earlier.parent) == []


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "moment"), [
    (signal.SIGTERM, 0.1), (signal.SIGTERM, 1.5), (signal.SIGTERM, "data/cohort.parquet"),
    (signal.SIGHUP, 1.5), (signal.SIGINT, 1.5), (signal.SIGINT, 0.1),
    (signal.SIGINT, "data/cohort.parquet")])
def test_a_signal_leaves_the_earlier_output_and_nothing_else(earlier, tmp_path, signum, moment):
    """``moment``: seconds after the run's work folder appears (the kernel starting), or a file
    that a chapter writes into it (the signal then comes inside that chapter, whatever the
    speed of the machine)."""
    out = tmp_path / "nanomet"
    import shutil

    shutil.copytree(earlier, out)
    before = snapshot(out)
    proc = subprocess.Popen([sys.executable, "-m", "micromet.cli", "run", STUDY_B, "--out",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the run has started its work folder
        if any(".run-" in p.name for p in tmp_path.iterdir()):
            break
        time.sleep(0.05)
    if isinstance(moment, str):  # inside the chapter that writes this file
        while time.monotonic() < deadline and proc.poll() is None and not any(
                (p / moment).exists() for p in tmp_path.iterdir() if ".run-" in p.name):
            time.sleep(0.01)
    else:
        time.sleep(moment)  # at kernel start
    assert proc.poll() is None, "the run ended before the signal: nothing was interrupted"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("micromet run: interrupted") and "Traceback" not in err, err
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []
    assert byte_differences(earlier, out) == []
    if Path("/proc").is_dir():  # the chapter's kernel is gone too (its cwd was the work folder)
        time.sleep(0.5)
        for cwd in Path("/proc").glob("[0-9]*/cwd"):
            try:
                assert str(tmp_path) not in os.readlink(cwd), f"kernel left running: {cwd}"
            except OSError:
                continue


def test_a_failed_chapter_is_kept_in_a_private_file_named_in_the_message(tmp_path):
    import nbformat

    from micromet.run import ChapterFailed, run_study

    templates = tmp_path / "templates"
    templates.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("study = None\noutput_dir = '.'",
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("raise ValueError('chapter broke')")]
    nbformat.write(nb, str(templates / "01_cohort.ipynb"))
    kept = []
    for _ in range(2):
        with pytest.raises(ChapterFailed) as info:
            run_study(STUDY_B, out=tmp_path / "out", notebooks_dir=templates,
                      overrides=["chapters=[01_cohort]"], log=lambda message: None)
        path = info.value.notebook
        assert path is not None and str(path) in str(info.value)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        kept.append(path)
    assert kept[0] != kept[1] and all(p.exists() for p in kept)
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []
    for path in kept:
        path.unlink()


def test_the_command_ends_at_once_with_its_whole_log_and_status(tmp_path):
    """`micromet run` ends its process as soon as the run is complete (without Python's slow
    teardown): its log is complete on a pipe, its status 0, its output in place."""
    out = tmp_path / "nanomet"
    proc = subprocess.run([sys.executable, "-m", "micromet.cli", "run", STUDY_B, "--out",
                           str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()  # the progress log
    assert lines[0].startswith("micromet run nanomet:") and lines[-1].startswith(f"wrote {out}")
    assert (out / "results.json").is_file() and leftovers(tmp_path) == []
