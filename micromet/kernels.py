"""The Jupyter kernels that execute a study's chapters, owned by micromet until they are gone.

``micromet run`` gives papermill (through nbclient) one ``ChapterKernelManager`` for the whole
study: the first chapter starts the kernel, the next ones reuse it (micromet is imported once),
and the run shuts it down at the end. When a run is interrupted while a kernel is still starting,
nbclient has not yet taken charge of it and would leave it running (in a work folder that the
clean-up removes). So ``ChapterKernelManager`` records each kernel it launches and ``stop_all``
kills whatever is still alive. The kernel's own stderr (its logging, its complaints
on being stopped mid-start) does not reach the user's terminal: cell errors come back through the
notebook.

Each chapter is a new client of that kernel (nbclient makes one per notebook). jupyter_client's
``wait_for_ready`` ends by waiting for 0.2 s of silence on IOPub; ``ChapterKernelClient`` waits
instead for the kernel's ``idle`` status of its own ``kernel_info`` request, which says the same
(IOPub is connected and the request's messages are through) without the fixed pause: 0.2 s per
chapter.
"""

from __future__ import annotations

import contextlib
import math
import subprocess
import time
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager

_LIVE: set[subprocess.Popen] = set()


class ChapterKernelClient(AsyncKernelClient):
    """An ``AsyncKernelClient`` ready as soon as the kernel has answered its ``kernel_info``
    request on the shell channel and reported ``idle`` for it on IOPub."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (math.inf if timeout is None else timeout)
        while True:
            msg_id = self.kernel_info()
            reply = await self._reply_to(msg_id, deadline)
            if reply is not None and await self._idle_after(msg_id):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    async def _reply_to(self, msg_id: str, deadline: float) -> dict | None:
        """The shell reply to ``msg_id`` (None after 1 s without one)."""
        while True:
            try:
                msg = await self.get_shell_msg(timeout=min(1.0, max(deadline - time.monotonic(),
                                                                    0.01)))
            except Empty:
                return None
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    async def _idle_after(self, msg_id: str) -> bool:
        """True once IOPub says ``idle`` for ``msg_id``; False if IOPub stays silent 0.2 s
        (not connected yet: the request is sent again)."""
        while True:
            try:
                msg = await self.get_iopub_msg(timeout=0.2)
            except Empty:
                return False
            if (msg["msg_type"] == "status" and msg["parent_header"].get("msg_id") == msg_id
                    and msg["content"].get("execution_state") == "idle"):
                return True


class ChapterKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernels are recorded for ``stop_all``, whose stderr is
    discarded and whose clients are ``ChapterKernelClient``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client_factory = ChapterKernelClient

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
