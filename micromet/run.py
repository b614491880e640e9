"""``micromet run``: execute a study's chapters with papermill, atomically.

``run_study`` validates the study (``micromet.study``), executes ``notebooks/<chapter>.ipynb`` in
the order the study lists them (parameters ``study`` and ``output_dir``, the working directory
being the output folder; what a chapter needs from an earlier one is read from that folder, so
each notebook also runs alone). The cells run in an IPython shell of this process
(``micromet.shell``: micromet imported once, the checked export handed to chapter 1 in memory) or,
with ``kernel=True``, in one ``python3`` Jupyter kernel for all the chapters
(``micromet.kernels``). It hides the injected-parameters cell from the
book (tag ``remove-cell``), strips papermill's volatile metadata, writes ``results.json``, and only
then moves the whole folder to ``_build/studies/<study>/`` (or ``out``; ``make publish`` gives
``book/<study>/``, the committed chapters). If any chapter fails, nothing is
moved and the previous output is left as it was.

The output is byte-for-byte the same for the same study file and seed: sorted keys, fixed cell
ids, rounded floats, no timestamps or paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from micromet.errors import InputError, MicrometError
from micromet.files import output_temp_dir, replace_dir, sha256_of
from micromet.outputs import check_output, output_lock, write_marker
from micromet.study import NOTEBOOKS_DIR, REPO_ROOT, Study, load_study

KERNEL = "python3"
RESULTS_FILE = "results.json"
SUMMARIES_DIR = "summaries"
FLOAT_DIGITS = 6  # significant digits of the floats in results.json


class ChapterFailed(MicrometError):
    """A chapter raised while executing; ``notebook`` is the partial output, kept for reading."""

    def __init__(self, chapter: str, message: str, notebook: Path | None = None):
        self.chapter = chapter
        self.notebook = notebook
        self.message = message
        super().__init__(f"chapter {chapter} failed: {message}")

    def __reduce__(self):  # pickled with its fields (a chapter run in a forked process)
        return (type(self), (self.chapter, self.message, self.notebook))


RUNS_DIR = REPO_ROOT / "_build" / "studies"


def default_output_dir(study: Study) -> Path:
    """``_build/studies/<name>`` (git-ignored): ``micromet book --studies _build/studies`` renders
    it; the committed chapters ``book/<name>/`` change only when asked for (``--out book/<name>``,
    ``make publish``)."""
    return RUNS_DIR / study.name


def run_study(
    study: Study | str | Path,
    *,
    data: str | Path | None = None,
    out: str | Path | None = None,
    overrides: list[str] | dict | None = None,
    notebooks_dir: str | Path = NOTEBOOKS_DIR,
    log: Callable[[str], None] | None = None,
    execution_timeout: int | None = 1800,
    kernel: bool = False,
    parallel: bool | None = None,
) -> Path:
    """Execute every chapter of ``study`` and move the outputs to ``out``; return ``out``.
    ``kernel``: run the chapters in a Jupyter kernel instead of this process (also the case
    when called from inside IPython or Jupyter). ``parallel``: two chapters that do not need
    each other (their templates' ``metadata.micromet.needs``) run at once, one in a forked copy
    of this process (``micromet.forked``); by default when the chapters run in this process on
    Linux with two CPUs or more. The outputs are the same either way."""
    if not isinstance(study, Study):
        study = load_study(study, overrides, data=data)
    elif overrides or data is not None:
        raise InputError("pass overrides and data with a study file, not with a built Study")
    log = log or _print
    if not study.synthetic:
        source = Path(study.source)
        if source.is_dir():
            raise InputError("is a folder; give the export's .csv (or .txt) file", file=source,
                             column="--data")
        if not source.is_file():
            raise InputError("data file not found", file=source, column="--data")
    notebooks_dir = Path(notebooks_dir)
    protect = [p for p in (None if study.synthetic else study.source, study.file) if p]
    out = check_output(out if out is not None else default_output_dir(study), protect=protect,
                       repo=REPO_ROOT)
    templates = []
    for chapter in study.chapters:
        path = notebooks_dir / f"{chapter}.ipynb"
        if not path.exists():
            raise InputError(f"chapter '{chapter}' has no notebook {path}", file=study.file,
                             column="chapters", value=chapter)
        templates.append((chapter, path))

    from micromet import shell

    in_process = not kernel and shell.available()
    if parallel is None:
        from micromet import forked

        parallel = forked.available()
    parallel = bool(parallel) and in_process
    with output_lock(out):
        return _execute(study, templates, out, log, execution_timeout, in_process, parallel)


#: Arguments of the study's kernel: its own logging silenced (its TCP notice; its complaints when
#: an interrupted run shuts it down are not progress: cell errors come through the notebook), and
#: micromet's chapter layer imported while the kernel starts, so that the import overlaps the
#: pre-check of the source in this process (``exec_lines`` run outside the history: each
#: notebook's execution count still starts at 1).
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL",
                    "--IPKernelApp.exec_lines=['import micromet.pipeline']"]


def _execute(study, templates, out: Path, log, execution_timeout, in_process: bool,
             parallel: bool) -> Path:
    work = output_temp_dir(out.parent, prefix=f".{out.name}.run-")
    checking = None
    with contextlib.ExitStack() as stack:
        try:
            if in_process:
                from micromet import shell

                stack.enter_context(_frozen_heap())
                if parallel:  # the source is read in a forked copy of this process meanwhile
                    from micromet.forked import Forked

                    checking = Forked(lambda: _quietly(_checked_source, study))
                # micromet's chapter layer and the shell's matplotlib backend are imported while
                # the export is read, and done before the shell and any chapter start (an import
                # running beside a chapter could change matplotlib's settings under it)
                loading = shell.preload(*CHAPTER_MODULES)
                if not study.synthetic:  # its digest, for the parameters and results.json
                    shell.in_background(sha256_of, study.source)
                _keep_source(study, work, checking)
                loading.join()
                stack.enter_context(_frozen_heap())
                runner = stack.enter_context(shell.chapter_shell())
                execute = {"engine_name": shell.register(), "shell": runner}
            else:
                from micromet.kernels import ChapterKernelManager

                # one kernel for the whole study, started now: it imports micromet while the
                # export is read
                kernel = ChapterKernelManager(kernel_name=KERNEL)
                stack.callback(_shut_down, kernel)
                asyncio.run(kernel.start_kernel(cwd=str(work), extra_arguments=KERNEL_ARGUMENTS))
                execute = {"km": kernel, "extra_arguments": KERNEL_ARGUMENTS}
                _keep_source(study, work, None, in_memory=False)
        except BaseException:
            if checking is not None:
                checking.kill()
            _stop_kernels()
            _forget(work)
            shutil.rmtree(work, ignore_errors=True)
            raise
        return _run_chapters(study, templates, work, out, log, execution_timeout, execute,
                             parallel)


def _run_chapters(study, templates, work: Path, out: Path, log, execution_timeout,
                  execute: dict, parallel: bool = False) -> Path:
    import papermill  # imported here: `micromet --help` stays fast

    parameters = {"study": injectable(study), "output_dir": "."}
    redact = {}
    if not study.synthetic:
        redact[repr(str(study.source))[1:-1]] = Path(study.source).name
    if parameters["study"].get("file") and Path(parameters["study"]["file"]).is_absolute():
        redact[repr(parameters["study"]["file"])[1:-1]] = Path(parameters["study"]["file"]).name
    plural = "s" if len(templates) != 1 else ""
    source = study.source if study.synthetic else Path(study.source).name
    log(f"micromet run {study.name}: {len(templates)} chapter{plural}, source {source}")
    started = time.perf_counter()
    # one shell (or kernel) runs every chapter: micromet and its dependencies are imported once;
    # what a chapter needs from an earlier one still goes through the output folder, so each
    # notebook also runs alone. Two chapters that do not need each other run at once when the
    # chapters run in this process and a second CPU is free (micromet.forked).
    total = len(templates)

    def run_one(number: int, chapter: str, template: Path, quiet: bool = False) -> float:
        target = work / f"{chapter}.ipynb"
        t0 = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(template), str(target), parameters=parameters, kernel_name=KERNEL,
                progress_bar=False, log_output=False, cwd=str(work),
                request_save_on_cell_execute=False,  # written once, when the chapter ends
                execution_timeout=execution_timeout, **execute)
        except papermill.PapermillExecutionError as exc:
            kept = _keep_failed(target)
            if not quiet:
                log(f"  [{number}/{total}] {chapter:<24} FAILED after "
                    f"{time.perf_counter() - t0:.1f} s")
            where = f" (executed notebook kept at {kept})" if kept else ""
            raise ChapterFailed(chapter, f"{exc.ename}: {exc.evalue}{where}", kept) from exc
        clean_notebook(target, redact)
        return time.perf_counter() - t0

    beside = None
    try:
        for step in _schedule(templates, parallel):
            (number, chapter, template), other = step[0], step[1:]
            if other:
                beside = _start_beside(run_one, *other[0])
            seconds = run_one(number, chapter, template)
            log(f"  [{number}/{total}] {chapter:<24} {seconds:6.1f} s")
            if beside is not None:
                number, chapter, _ = other[0]
                try:
                    seconds = beside.result()
                except ChapterFailed:
                    log(f"  [{number}/{total}] {chapter:<24} FAILED")
                    raise
                finally:
                    beside = None
                log(f"  [{number}/{total}] {chapter:<24} {seconds:6.1f} s"
                    " (beside the previous one)")
        _forget(work)
        write_results(work, study)
        write_marker(work, study.name)
        # checked again just before the swap: the folder may have changed during the run
        check_output(out, repo=REPO_ROOT)
        replace_dir(work, out)
    except BaseException:
        if beside is not None:
            beside.kill()  # before the work folder goes: it writes there
        _stop_kernels()  # a kernel interrupted while starting is not nbclient's to stop yet
        _forget(work)
        shutil.rmtree(work, ignore_errors=True)
        raise
    log(f"wrote {out} in {time.perf_counter() - started:.1f} s")
    return out


def chapter_needs(template: Path) -> list[str] | None:
    """The chapters whose outputs a chapter reads (its template's ``metadata.micromet.needs``);
    None when the template does not say (then it needs every chapter before it)."""
    try:
        meta = json.loads(Path(template).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return None
    needs = meta.get("micromet", {}).get("needs")
    return list(needs) if isinstance(needs, list) else None


def _schedule(templates, parallel: bool):
    """The chapters in steps: ``((number, chapter, template),)``, or two chapters to run at
    once — the next chapter and the one after it, when everything that one needs is done
    (or not part of the study) and it does not need the next one."""
    listed = [(number, chapter, Path(template))
              for number, (chapter, template) in enumerate(templates, start=1)]
    names = {chapter for _, chapter, _ in listed}
    done: set[str] = set()
    i = 0
    while i < len(listed):
        first = listed[i]
        second = listed[i + 1] if parallel and i + 1 < len(listed) else None
        if second is not None:
            needs = chapter_needs(second[2])
            if needs is None or any(n in names and n not in done for n in needs):
                second = None
        if second is None:
            yield (first,)
            done.add(first[1])
            i += 1
        else:
            yield (first, second)
            done.update((first[1], second[1]))
            i += 2


def _start_beside(run_one, number: int, chapter: str, template: Path):
    """``chapter`` executed in a forked copy of this process (``micromet.forked``)."""
    from micromet.forked import Forked

    return Forked(lambda: run_one(number, chapter, template, quiet=True))


def _forget(work: Path) -> None:
    """Drop the tidied export kept in memory for the run's chapters (the run has ended)."""
    from micromet.sources import forget_checked

    forget_checked(work)


#: What the chapters import (``micromet.pipeline``, the façade of the notebooks), the shell's
#: matplotlib backend and papermill's notebook format: imported while the source is read.
CHAPTER_MODULES = ("micromet.pipeline", "matplotlib_inline.backend_inline", "nbformat",
                   "papermill")


@contextlib.contextmanager
def _frozen_heap():
    """``gc.freeze()``: the objects alive now (micromet and its dependencies once imported) are
    left out of the garbage collector's passes until the run ends. A full pass over them costs
    about 0.1 s in this process, and more in a forked one, where touching every object copies
    the memory it shares with its parent. Unfrozen at the end, unless the process had frozen
    objects of its own before."""
    import gc

    ours = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        yield
    finally:
        if ours:
            gc.unfreeze()


def _checked_source(study: Study):
    from micromet.sources import checked_source

    return checked_source(study)


def _quietly(function, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the chapters report them
        return function(*args)


def _keep_source(study: Study, work: Path, checking, *, in_memory: bool = True) -> None:
    """The source read and checked once, before any chapter (in ``checking``, a forked process,
    or here): a bad export is named now, not from inside a chapter, and chapters 1 and 2 both
    start from it. A synthetic source that cannot be read is left to chapter 1 to report."""
    from micromet.sources import keep_checked

    try:
        frame = checking.result() if checking is not None else _quietly(_checked_source, study)
    except Exception:
        if not study.synthetic:
            raise
        return
    keep_checked(frame, work, in_memory=in_memory)


def _stop_kernels() -> None:
    """``kernels.stop_all`` when a kernel may have been started (its module imported)."""
    kernels = sys.modules.get("micromet.kernels")
    if kernels is not None:
        kernels.stop_all()


def _shut_down(kernel) -> None:
    """Stop the study's kernel (it is ours: nbclient leaves a kernel it was given running)."""
    import asyncio

    if kernel.has_kernel:
        try:
            asyncio.run(kernel.shutdown_kernel(now=True))
        except Exception:  # noqa: BLE001 - already gone; stop_all reaps it either way
            pass
    _stop_kernels()


def injectable(study: Study) -> dict:
    """The study mapping given to the notebooks; a study file inside the repository is named
    relative to it, so that executed notebooks carry no machine-specific path."""
    params = study.to_dict()
    if params.get("file"):
        path = Path(params["file"]).resolve()
        try:
            params["file"] = path.relative_to(REPO_ROOT).as_posix()
        except ValueError:
            params["file"] = str(path)
    return params


# ---- notebook clean-up --------------------------------------------------------------------------


def clean_notebook(path: str | Path, redact: dict[str, str] | None = None) -> None:
    """Hide the injected-parameters cell and strip volatile metadata, in place. ``redact``
    replaces texts in that cell (the absolute path of a real export by its name: a kept
    notebook says which file was analysed, not where it lives)."""
    import nbformat

    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": KERNEL}
    count = 0
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code" and cell.get("execution_count") is not None:
            # one kernel runs every chapter: each notebook numbers its cells from 1
            count += 1
            cell["execution_count"] = count
            for output in cell.get("outputs", []):
                if "execution_count" in output:
                    output["execution_count"] = count
        tags = list(cell.metadata.get("tags", []))
        if "injected-parameters" in tags:
            for old, new in (redact or {}).items():
                cell.source = cell.source.replace(old, new)
            if "remove-cell" not in tags:
                tags.append("remove-cell")
            cell.metadata["tags"] = tags
            cell["id"] = "injected-parameters"
        elif not cell.get("id"):
            cell["id"] = f"cell-{index}"
        for output in cell.get("outputs", []):
            output.get("metadata", {}).pop("papermill", None)
    nbformat.write(nb, str(path))


# ---- results.json -------------------------------------------------------------------------------


def collect_results(output_dir: str | Path, study: Study | None = None) -> dict:
    """Merge the chapters' summaries (``summaries/*.json``) into one mapping, floats rounded."""
    folder = Path(output_dir) / SUMMARIES_DIR
    results: dict = {}
    if study is not None:
        results["study"] = {"name": study.name, "synthetic": study.synthetic,
                            "chapters": list(study.chapters)}
        if study.synthetic:
            results["study"].update(source=study.source, seed=study.seed)
        else:  # the export's name and fingerprint, not its path on this machine
            results["study"].update(source=Path(study.source).name,
                                    source_sha256=sha256_of(study.source))
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        results[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return round_floats(results)


def write_results(output_dir: str | Path, study: Study | None = None) -> Path:
    """Write ``results.json`` (sorted keys, rounded floats, no timestamps) into ``output_dir``:
    what may be published. With a real source, whose chapters keep their unmasked numbers on
    the row-level side, ``data/results.json`` gets those."""
    output_dir = Path(output_dir)
    private = output_dir / "data"
    if (private / SUMMARIES_DIR).is_dir():
        (private / RESULTS_FILE).write_text(dumps(collect_results(private, study)),
                                            encoding="utf-8")
    path = output_dir / RESULTS_FILE
    path.write_text(dumps(collect_results(output_dir, study)), encoding="utf-8")
    return path


def dumps(obj) -> str:
    """The deterministic JSON text of ``obj`` (what results.json and the summaries hold)."""
    return json.dumps(round_floats(obj), sort_keys=True, indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"


def round_floats(obj, digits: int = FLOAT_DIGITS):
    """Floats to ``digits`` significant digits; NaN and infinities to strings (valid JSON)."""
    if isinstance(obj, dict):
        return {str(k): round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_floats(v, digits) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if hasattr(obj, "item"):  # numpy scalar
        return round_floats(obj.item(), digits)
    if isinstance(obj, float):
        if math.isnan(obj):
            return "NaN"
        if math.isinf(obj):
            return "Inf" if obj > 0 else "-Inf"
        if obj == 0:
            return 0.0
        return float(f"{obj:.{digits}g}")
    return str(obj)


def _keep_failed(notebook: Path) -> Path | None:
    """Copy a failed chapter, for reading, to a new private file (mode 0600, a unique name) in
    the temporary folder: outside the output, readable by its owner only, never overwritten."""
    if not notebook.exists():
        return None
    fd, name = tempfile.mkstemp(prefix=f"micromet-failed-{notebook.stem}-", suffix=".ipynb")
    with os.fdopen(fd, "wb") as handle:
        handle.write(notebook.read_bytes())
    return Path(name)


def _print(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
