"""The test run leaves the checkout as it found it: `git status --porcelain` is unchanged (nbval
runs on a copy of the committed chapters, the studies run into _build/studies, the book builds
into book/_build, all git-ignored). Runs last (tests/conftest.py)."""

import os
from pathlib import Path

import pytest
from conftest import git_status


def test_the_test_run_leaves_git_status_unchanged(request):
    now = git_status()
    if now is None:
        pytest.skip("not a git checkout: nothing to compare")
    record = os.environ.get("MICROMET_GIT_STATUS_BEFORE")
    if record and Path(record).is_file():  # written by `make test` before its first step
        before = Path(record).read_text(encoding="utf-8")
    else:
        before = request.config.git_status_at_start
    assert now == before, f"the test run changed the checkout:\nbefore:\n{before}\nafter:\n{now}"
