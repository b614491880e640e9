"""Running many independent tasks: on the local cores with joblib, or on a Dask cluster.

:func:`map_tasks` is the one code path: ``fn(shared, task)`` for every task, the results yielded
as they finish, each with its task's position. ``shared`` (a DataFrame, say) is sent once: joblib
memory-maps its large arrays for the local worker processes, Dask scatters it to every worker.

    for i, result in map_tasks(fit_cell, cells, shared=frame):              # joblib, local cores
    for i, result in map_tasks(fit_cell, cells, shared=frame, scheduler="tcp://host:8786")

An exception raised by ``fn`` is not caught here: a caller that wants a failed task recorded
catches it inside ``fn`` (as :mod:`micromet.sweep` does). Dask is optional
(``pip install 'micromet[sweep]'``); :func:`connect` reaches a scheduler or says clearly why not.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from micromet.errors import InputError

CONNECT_TIMEOUT = 4.0  # seconds to reach a scheduler before giving up
SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")  # Dask's address schemes


def local_jobs(n_jobs: int | None = None) -> int:
    """The number of local worker processes: ``n_jobs``, else the cores this process may use."""
    if n_jobs is not None:
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
            raise InputError(f"the number of jobs must be a positive integer, got {n_jobs!r}",
                             column="--jobs", value=n_jobs)
        return n_jobs
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - macOS has no sched_getaffinity
        return max(os.cpu_count() or 1, 1)


def connect(address: str, *, timeout: float = CONNECT_TIMEOUT):
    """A ``dask.distributed.Client`` of the scheduler at ``address`` (``tcp://host:8786``), or
    an ``InputError`` within about ``timeout`` seconds: Dask not installed, an address Dask
    cannot read, or no scheduler answering there."""
    scheme = re.match(r"([a-z]+)://\S+$", str(address))
    if scheme is None or scheme[1] not in SCHEMES:
        raise InputError(f"not a Dask scheduler address (scheme://host:port, the scheme one of "
                         f"{', '.join(SCHEMES)}; e.g. tcp://host:8786)", column="--scheduler",
                         value=address)
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError("running on a Dask cluster needs dask.distributed: "
                         "pip install 'micromet[sweep]'", column="--scheduler",
                         value=address) from None
    try:
        return Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"no Dask scheduler answered within {timeout:g} s "
                         f"({type(exc).__name__}); start one with `dask scheduler` and "
                         "workers with `dask worker ADDRESS`", column="--scheduler",
                         value=address) from None
    except ValueError as exc:
        raise InputError(f"not a scheduler address Dask can use ({exc}); e.g. "
                         "tcp://host:8786", column="--scheduler", value=address) from None


def map_tasks(fn: Callable[[Any, Any], Any], tasks: Sequence, *, shared: Any = None,
              scheduler=None, n_jobs: int | None = None) -> Iterator[tuple[int, Any]]:
    """``(i, fn(shared, tasks[i]))`` for every task, in the order they finish.

    ``scheduler``: None (joblib's process pool on ``n_jobs`` local cores, default all), a Dask
    scheduler address, or a ``dask.distributed.Client`` already connected (kept open). One
    task, or ``n_jobs=1`` without a scheduler, runs in this process."""
    tasks = list(tasks)
    if not tasks:
        return
    if scheduler is None:
        yield from _map_joblib(fn, tasks, shared, local_jobs(n_jobs))
        return
    client, own = (connect(scheduler), True) if isinstance(scheduler, str) else (scheduler, False)
    try:
        yield from _map_dask(client, fn, tasks, shared)
    finally:
        if own:
            client.close()


def _indexed(fn, shared, i, task):
    return i, fn(shared, task)


def _map_joblib(fn, tasks, shared, n_jobs) -> Iterator[tuple[int, Any]]:
    if n_jobs == 1 or len(tasks) == 1:
        for i, task in enumerate(tasks):
            yield i, fn(shared, task)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=min(n_jobs, len(tasks)), backend="loky",
                        return_as="generator_unordered")
    yield from parallel(delayed(_indexed)(fn, shared, i, task) for i, task in enumerate(tasks))


def _map_dask(client, fn, tasks, shared) -> Iterator[tuple[int, Any]]:
    from dask.distributed import as_completed

    shared_future = None if shared is None else client.scatter(shared, broadcast=True,
                                                                hash=False)
    futures = [client.submit(_indexed, fn, shared_future, i, task, pure=False)
               for i, task in enumerate(tasks)]
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.cancel([*futures, *([shared_future] if shared_future is not None else [])])
