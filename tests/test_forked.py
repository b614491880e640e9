"""micromet.forked: work in a forked copy of the process, its result or its error back."""

import os
import threading

import pytest

from micromet import forked
from micromet.errors import InputError

pytestmark = pytest.mark.skipif(not forked.available(), reason="needs Linux and two CPUs")


def test_the_child_returns_its_value_from_another_process():
    job = forked.Forked(lambda: {"pid": os.getpid(), "data": b"x" * 3_000_000})
    value = job.result()
    assert value["pid"] != os.getpid() and value["data"] == b"x" * 3_000_000


def test_an_input_error_comes_back_with_its_file_column_row_and_value():
    def bad():
        raise InputError("not a label", file="export.csv", column="Sex", row=17, value="X")

    with pytest.raises(InputError) as info:
        forked.Forked(bad).result()
    err = info.value
    assert (err.file, err.column, err.row, err.value, err.reason) == (
        "export.csv", "Sex", 17, "X", "not a label")
    assert str(err) == "file 'export.csv', column 'Sex', row 17, value 'X': not a label"


def test_what_cannot_be_pickled_comes_back_as_its_text():
    with pytest.raises(RuntimeError, match="PicklingError|TypeError|AttributeError"):
        forked.Forked(lambda: threading.Lock()).result()


def test_a_killed_child_is_reaped():
    import time

    job = forked.Forked(lambda: time.sleep(60))
    pid = job.pid
    job.kill()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
