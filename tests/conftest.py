"""Shared fixtures: fresh full-scale runs of the studies; and the check that the test run leaves
``git status`` as it found it.

``make test`` writes ``git status --porcelain`` to a file before its first step (nbval, the study
runs, the book) and names it in ``$MICROMET_GIT_STATUS_BEFORE``; ``tests/test_tree_clean.py``,
moved to the end of the session, compares the status then with that record (or, when pytest is
run alone, with the status at the start of the session)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAST = "test_tree_clean.py"


def git_status() -> str | None:
    """``git status --porcelain`` of the checkout, or None when it is not a git repository."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                          capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def pytest_configure(config):
    config.git_status_at_start = git_status()


def pytest_collection_modifyitems(session, config, items):
    """The clean-tree check runs after every other test."""
    items.sort(key=lambda item: item.path.name == LAST)


def run_fresh(name: str, out: Path, *overrides: str) -> Path:
    from micromet.run import run_study

    return run_study(ROOT / "studies" / f"{name}.yml", out=out, overrides=list(overrides),
                     log=lambda message: None)


@pytest.fixture(scope="session")
def seer_m0i_run(tmp_path_factory) -> Path:
    """Study A at full scale with its default parameters, run afresh into a temporary folder."""
    return run_fresh("seer_m0i", tmp_path_factory.mktemp("runs") / "seer_m0i")


@pytest.fixture(scope="session")
def seer_m0i_second_run(tmp_path_factory) -> Path:
    """Study A run a second time on this machine: the one `make test` wrote into _build/studies
    just before pytest started (it says so in $MICROMET_FRESH_RUNS), or another temporary run
    (an older run there may come from older code)."""
    fresh = os.environ.get("MICROMET_FRESH_RUNS")
    made = Path(fresh) / "seer_m0i" if fresh else None
    if made is not None and (made / "results.json").is_file():
        return made
    return run_fresh("seer_m0i", tmp_path_factory.mktemp("runs2") / "seer_m0i")
