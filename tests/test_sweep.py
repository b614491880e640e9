"""The specification sweep (micromet.sweep) and the engine under it (micromet.engine): tasks on
the local cores with joblib or on a Dask cluster, through one code path."""

from __future__ import annotations

import socket
import time

import pandas as pd
import pytest

from micromet.engine import connect, local_jobs, map_tasks
from micromet.errors import InputError


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
                                  dashboard_address=None) as local, \
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
