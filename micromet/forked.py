"""Work run in a forked copy of this process, beside what this process runs meanwhile.

``micromet run`` executes two chapters at once when neither needs the other (the overall
survival and the competing-risks chapters both need only the cohort and the matched set): the
second runs in a child made by ``fork``, which starts with everything the parent has imported and
computed, so it costs no start-up, and each writes its own files into the run's work folder. Only
on Linux (``fork`` of a process with threads is not safe on macOS), with at least two CPUs.

The child's result (or the exception it raised) comes back pickled through a pipe; the child never returns into the parent's
code (it ends with ``os._exit``, whatever happens), dies with the default action of SIGINT,
SIGTERM and SIGHUP, and is killed by the kernel if the parent dies first. ``Forked.kill`` stops
and reaps it (a run interrupted or failed while the child works).
"""

from __future__ import annotations

import os
import pickle
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
    """``function()`` running in a forked child; ``result()`` returns what it returned or
    raises what it raised."""

    def __init__(self, function: Callable[[], object]) -> None:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child: measured by the parent's tests
            _child(function, read, write)
        os.close(write)
        self.pid: int | None = pid
        self._read = read

    def result(self):
        """Wait for the child: what ``function()`` returned; what it raised is raised here
        (an exception that cannot be pickled comes as ``RuntimeError`` with its text)."""
        chunks = []
        try:
            while block := os.read(self._read, 1 << 20):
                chunks.append(block)
        except BaseException:  # interrupted while waiting: the child is stopped, not awaited
            self.kill()
            raise
        self._reap()
        if not chunks:
            raise RuntimeError("the forked process ended without a result")
        try:
            outcome = pickle.loads(b"".join(chunks))
        except Exception as exc:  # noqa: BLE001 - an exception that cannot be rebuilt here
            raise RuntimeError(f"the forked process's result cannot be read: {exc}") from None
        if outcome["ok"]:
            return outcome["value"]
        raise outcome["error"]

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
            outcome = {"ok": True, "value": function()}
        except BaseException as exc:  # noqa: BLE001 - raised again in the parent
            outcome = {"ok": False, "error": exc}
        try:
            data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
            error = outcome.get("error", exc)
            data = pickle.dumps({"ok": False, "error": RuntimeError(
                f"{type(error).__name__}: {error}")})
        view = memoryview(data)
        while view:
            view = view[os.write(write, view):]
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
