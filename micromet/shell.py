"""A study's chapters executed in the micromet process: a papermill engine over an IPython shell.

``micromet run`` executes every chapter with papermill (parameters injected, the executed
notebook written by papermill). By default the code cells run here, in an IPython shell of this
process (``ChapterShell``), instead of in a separate Jupyter kernel: micromet and its dependencies
are imported once, by the process that has already read and checked the export, and the tidied
export is handed to chapter 1 in memory instead of through a file. The shell records what a
Jupyter kernel would send (text written to stdout and stderr, displayed data, the value of a
cell's last expression, an error and its traceback) as the cells' outputs in the form nbclient
gives them (nbformat 4), so a chapter reads the same either way.

``engine="kernel"`` (``micromet run --kernel``) runs them in a Jupyter kernel instead
(:mod:`micromet.kernels`); that is also what happens when micromet is called from inside IPython
or Jupyter, whose shell is the one IPython allows per process.

What the shell changes in this process is put back when the run ends: the IPython shell instance,
``__main__``, the prompts and builtins IPython adds, matplotlib's backend and rc parameters, the
warning filters, stdout and stderr; the last chapter's variables are dropped.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import io
import signal
import sys
import threading
import warnings
from collections.abc import Iterator

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.history import HistoryManager
from IPython.core.interactiveshell import InteractiveShell

ENGINE_NAME = "micromet-shell"


class _Outputs:
    """The outputs of the cell being executed, as nbformat 4 dictionaries."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        last = self.items[-1] if self.items else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text  # consecutive writes are one output, as nbclient makes them
        else:
            self.items.append({"output_type": "stream", "name": name, "text": text})

    def display(self, data: dict, metadata: dict | None) -> None:
        self.items.append({"output_type": "display_data", "data": _json_data(data),
                           "metadata": dict(metadata or {})})

    def result(self, data: dict, metadata: dict | None, count: int) -> None:
        self.items.append({"output_type": "execute_result", "data": _json_data(data),
                           "metadata": dict(metadata or {}), "execution_count": count})

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        self.items.append({"output_type": "error", "ename": ename, "evalue": evalue,
                           "traceback": list(traceback)})

    def clear(self) -> None:
        self.items.clear()


def _json_data(data: dict) -> dict:
    """Binary representations (PNG, JPEG) base64-encoded, as a kernel sends them."""
    out = {}
    for mime, value in data.items():
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        out[mime] = value
    return out


class _Stream(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` while a cell runs: what is written becomes a stream output."""

    def __init__(self, outputs: _Outputs, name: str) -> None:
        self._outputs = outputs
        self._name = name

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        self._outputs.stream(self._name, str(text))
        return len(text)


class _DisplayPublisher(DisplayPublisher):
    """``display(...)``: a display_data output of the current cell."""

    outputs: _Outputs | None = None

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False,
                **kwargs) -> None:
        if self.outputs is not None:
            self.outputs.display(data, metadata)

    def clear_output(self, wait=False) -> None:
        if self.outputs is not None:
            self.outputs.clear()


class _DisplayHook(DisplayHook):
    """The value of a cell's last expression: an execute_result output (nothing printed)."""

    outputs: _Outputs | None = None

    def write_output_prompt(self) -> None:
        pass

    def write_format_data(self, format_dict, md_dict=None) -> None:
        if self.outputs is not None:
            self.outputs.result(format_dict, md_dict, self.shell.execution_count)

    def finish_displayhook(self) -> None:
        pass


class ChapterShell(InteractiveShell):
    """The IPython shell that runs a study's chapters in this process: no history file, no
    startup files, outputs recorded for the notebook."""

    displayhook_class = _DisplayHook
    display_pub_class = _DisplayPublisher

    outputs: _Outputs | None = None

    def init_history(self) -> None:
        """No history file: the cells are in the notebook."""
        self.history_manager = HistoryManager(shell=self, parent=self, enabled=False)
        self.configurables.append(self.history_manager)

    def enable_gui(self, gui=None) -> None:
        """No event loop: figures are inline (the only backend a chapter uses)."""

    def _showtraceback(self, etype, evalue, stb) -> None:
        if self.outputs is not None:
            self.outputs.error(getattr(etype, "__name__", str(etype)), str(evalue), stb)

    def clear_namespace(self) -> None:
        """Forget the variables of the previous chapter (``reset`` without its garbage
        collection and history: 0.1 s a chapter)."""
        hidden = self.user_ns_hidden
        for name in [n for n in self.user_ns if n not in hidden]:
            del self.user_ns[name]
        self.last_execution_result = None  # holds the last cell's value

    def run_code_cell(self, source: str, timeout: int | None = None) -> tuple[list[dict], bool]:
        """Execute ``source`` as a notebook cell: (its outputs, whether it raised)."""
        outputs = _Outputs()
        self.outputs = self.display_pub.outputs = self.displayhook.outputs = outputs
        stdout, stderr = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Stream(outputs, "stdout"), _Stream(outputs, "stderr")
        try:
            with _time_limit(timeout):
                result = self.run_cell(source, store_history=True)
        finally:
            sys.stdout, sys.stderr = stdout, stderr
            self.outputs = self.display_pub.outputs = self.displayhook.outputs = None
        error = result.error_in_exec
        if error is not None and not isinstance(error, Exception):
            raise error  # an interruption (a signal, Ctrl-C) ends the run, not just the cell
        failed = result.error_before_exec is not None or error is not None
        return outputs.items, failed


@contextlib.contextmanager
def _time_limit(seconds: int | None) -> Iterator[None]:
    """``TimeoutError`` in the cell after ``seconds`` (main thread only, where signals are)."""
    if not seconds or threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"the cell ran longer than {seconds} s (execution_timeout)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def in_background(function, *args) -> threading.Thread:
    """``function(*args)`` in a background thread, its result and errors dropped: work whose
    result a chapter will ask for again (an import, a file's digest, memoized), started while
    this process reads the export."""

    def call():
        with contextlib.suppress(Exception):
            function(*args)

    thread = threading.Thread(target=call, name=getattr(function, "__name__", "micromet"),
                              daemon=True)
    thread.start()
    return thread


def preload(*modules: str) -> threading.Thread:
    """Import ``modules`` in a background thread (an import error is left for the chapter)."""
    import importlib

    def load(*names):
        for name in names:
            importlib.import_module(name)

    return in_background(load, *modules)


def available() -> bool:
    """False inside IPython or Jupyter (one shell per process: the kernel engine is used)."""
    return not InteractiveShell.initialized()


class ZMQLikeChapterShell(ChapterShell):
    """The ``ChapterShell`` a run uses, named as libraries expect a notebook's shell to be named:
    pandas tells a Jupyter frontend from a terminal by "zmq" in the name of the shell's type, and
    formats tables and categoricals for a notebook only then (columns not fitted to the width of
    whatever terminal ``micromet run`` was started from)."""


@contextlib.contextmanager
def _pandas_as_in_a_kernel() -> Iterator[None]:
    """pandas' display options as a kernel has them: pandas, imported here outside IPython,
    chose ``display.max_columns = 0`` (fit to the terminal); imported in a kernel it chooses
    20."""
    import pandas as pd

    with pd.option_context("display.max_columns", 20):
        yield


@contextlib.contextmanager
def chapter_shell() -> Iterator[ChapterShell]:
    """A ``ChapterShell`` for one run, with the inline matplotlib backend; everything it changes
    in the process is put back on leaving."""
    import matplotlib
    import matplotlib.pyplot as plt
    from IPython.core.pylabtools import select_figure_formats

    if not available():
        raise RuntimeError("an IPython shell is already running in this process")
    backend = matplotlib.get_backend()
    with warnings.catch_warnings(), matplotlib.rc_context(), _process_state(), \
            _pandas_as_in_a_kernel():
        _kernel_warnings()
        # cache_size=0: no Out/_N history of results, which would keep a chapter's frames
        shell = ZMQLikeChapterShell.instance(colors="nocolor", cache_size=0)
        try:
            shell.enable_matplotlib("inline")
            # a new kernel's figure formats; matplotlib-inline sets them only the first time a
            # shell of the process asks for the inline backend
            select_figure_formats(shell, {"png"}, bbox_inches="tight")
            yield shell
        finally:
            plt.close("all")
            shell.clear_namespace()  # the last chapter's frames are not kept until exit
            atexit.unregister(shell.atexit_operations)
            shell.restore_sys_module_state()
            ZMQLikeChapterShell.clear_instance()
            ChapterShell.clear_instance()
            InteractiveShell.clear_instance()
            with contextlib.suppress(Exception):
                plt.switch_backend(backend)


@contextlib.contextmanager
def _process_state() -> Iterator[None]:
    """What creating an IPython shell changes in the process, put back on leaving: the
    ``__main__`` module (the shell puts its namespace there; multiprocessing's spawn, as Dask
    uses it, needs the real one), the interactive prompts ``sys.ps1``-``ps3`` (their presence
    tells libraries that Python is interactive), the last error of a cell (``sys.last_*``, whose
    traceback would keep a chapter's frames) and the builtins ``__IPYTHON__`` and ``display``."""
    import builtins

    main = sys.modules.get("__main__")
    state = ("ps1", "ps2", "ps3", "last_type", "last_value", "last_traceback", "last_exc")
    prompts = {name: getattr(sys, name) for name in state if hasattr(sys, name)}
    added = {name: builtins.__dict__[name] for name in ("__IPYTHON__", "display")
             if name in builtins.__dict__}
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main
        for name in state:
            if name in prompts:
                setattr(sys, name, prompts[name])
            elif hasattr(sys, name):
                delattr(sys, name)
        for name in ("__IPYTHON__", "display"):
            if name in added:
                builtins.__dict__[name] = added[name]
            else:
                builtins.__dict__.pop(name, None)


def _kernel_warnings() -> None:
    """The warning filters of a new Python process (those of a kernel), whatever the caller's
    (a test runner's, say), and warnings written to the cell's stderr as a kernel writes them."""
    warnings.resetwarnings()
    for category in (ResourceWarning, ImportWarning, PendingDeprecationWarning,
                     DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")

    def show(message, category, filename, lineno, file=None, line=None):
        text = warnings.formatwarning(message, category, filename, lineno, line)
        (file or sys.stderr).write(text)

    warnings.showwarning = show


def _engine():
    from papermill.engines import Engine

    class ShellEngine(Engine):
        """papermill engine: the cells run in the current ``ChapterShell`` (given as ``shell``),
        one after the other, stopping at the first error as nbclient does."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, shell=None,
                                     execution_timeout=None, **kwargs):
            shell.clear_namespace()  # each chapter starts from an empty namespace
            for index, cell in enumerate(nb_man.nb.cells):
                if cell.cell_type != "code":
                    continue
                nb_man.cell_start(cell, index)
                try:
                    outputs, failed = shell.run_code_cell(cell.source, execution_timeout)
                    cell.outputs = [_node(o) for o in outputs]
                    cell.execution_count = shell.execution_count - 1
                    if failed:
                        nb_man.cell_exception(cell, index)
                        break
                finally:
                    nb_man.cell_complete(cell, index)

    return ShellEngine


def _node(output: dict):
    import nbformat

    return nbformat.from_dict(output)


def register() -> str:
    """Register the engine with papermill (once); its name."""
    from papermill.engines import papermill_engines

    if ENGINE_NAME not in papermill_engines._engines:
        papermill_engines.register(ENGINE_NAME, _engine())
    return ENGINE_NAME
