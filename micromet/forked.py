"""Work run in a forked copy of this process, beside what this process runs meanwhile.

``micromet run`` executes two chapters at once when neither needs the other (the overall
survival and the competing-risks chapters both need only the cohort and the matched set): the
second runs in a child made by ``fork``, which starts with everything the parent has imported and
computed, so it costs no start-up, and each writes its own files into the run's work folder. Only
on Linux (``fork`` of a process with threads is not safe on macOS), with at least two CPUs.

The child's result comes back as JSON through a pipe; the child never returns into the parent's
code (it ends with ``os._exit``, whatever happens), dies with the default action of SIGINT,
SIGTERM and SIGHUP, and is killed by the kernel if the parent dies first. ``Forked.kill`` stops
and reaps it (a run interrupted or failed while the child works).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available() -> bool:
    """Whether work can be forked here: Linux, at least two CPUs."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and cpus() >= 2


class Forked:
    """``function()`` (returning something JSON can write) running in a forked child."""

    def __init__(self, function: Callable[[], object]) -> None:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child: measured by the parent's tests
            _child(function, read, write)
        os.close(write)
        self.pid: int | None = pid
        self._read = read

    def result(self) -> dict:
        """Wait for the child: ``{"ok": True, "value": ...}`` or ``{"ok": False, "error":
        "<type>: <message>"}``."""
        chunks = []
        try:
            while block := os.read(self._read, 1 << 16):
                chunks.append(block)
        except BaseException:  # interrupted while waiting: the child is stopped, not awaited
            self.kill()
            raise
        self._reap()
        if not chunks:
            return {"ok": False, "error": "the forked chapter ended without a result"}
        return json.loads(b"".join(chunks))

    def kill(self) -> None:
        """Stop the child now (if it still runs) and reap it."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reap()

    def _reap(self) -> None:
        if self.pid is not None:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = None
        if self._read is not None:
            os.close(self._read)
            self._read = None


def _child(function: Callable[[], object], read: int, write: int) -> None:  # pragma: no cover
    status = 70  # EX_SOFTWARE unless the result was written
    try:
        os.close(read)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        _die_with_parent()
        try:
            result = {"ok": True, "value": function()}
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(result).encode("utf-8")
        while data:
            data = data[os.write(write, data):]
        status = 0
    finally:
        os._exit(status)


def _die_with_parent() -> None:  # pragma: no cover - the child
    """prctl(PR_SET_PDEATHSIG, SIGKILL): the child does not outlive a parent killed outright."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass
