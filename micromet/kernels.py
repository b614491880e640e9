"""The Jupyter kernels that execute a study's chapters, owned by micromet until they are gone.

``micromet run`` gives papermill (through nbclient) one ``ChapterKernelManager`` for the whole
study: the first chapter starts the kernel, the next ones reuse it (micromet is imported once),
and the run shuts it down at the end. When a run is interrupted while a kernel is still starting,
nbclient has not yet taken charge of it and would leave it running (in a work folder that the
clean-up removes). So ``ChapterKernelManager`` records each kernel it launches and ``stop_all``
kills whatever is still alive. The kernel's own stderr (its logging, its complaints
on being stopped mid-start) does not reach the user's terminal: cell errors come back through the
notebook.
"""

from __future__ import annotations

import contextlib
import subprocess
from typing import Any

from jupyter_client.manager import AsyncKernelManager

_LIVE: set[subprocess.Popen] = set()


class ChapterKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernels are recorded for ``stop_all`` and whose stderr is
    discarded."""

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        kw["stderr"] = subprocess.DEVNULL
        await super()._async_launch_kernel(kernel_cmd, **kw)
        process = getattr(self.provisioner, "process", None)
        if process is not None:
            _LIVE.add(process)


def stop_all() -> None:
    """Kill every kernel a ``ChapterKernelManager`` launched that has not exited, and reap it."""
    for process in list(_LIVE):
        if process.poll() is None:
            with contextlib.suppress(OSError):
                process.kill()
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                process.wait(timeout=10)
        _LIVE.discard(process)
