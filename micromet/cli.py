"""The ``micromet`` command: ``run`` a study, build the ``book``, write a ``synth``etic extract.

    micromet run studies/seer_m0i.yml [--data export.csv] [--out DIR] [--set matching.caliper=0.1 ...]
    micromet book [--studies _build/studies] [--no-strict]
    micromet compare book/seer_m0i _build/studies/seer_m0i
    micromet synth [--seed N] [--out DIR] [--scale 1.0]
    micromet sweep studies/seer_m0i.yml --grid matching.caliper=0.05,0.1,0.2 --grid matching.ratio=1,2,3
                   [--design matching] [--out DIR] [--scheduler tcp://host:8786] [--jobs N] [--yes]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from micromet.errors import InputError, MicrometError
from micromet.study import REPO_ROOT


def build_book(root: str | Path = REPO_ROOT, *, strict: bool = True,
               studies: str | Path | None = None) -> int:
    """``jupyter-book build <root> -W -n --keep-going``; the HTML goes to ``<root>/book/_build/html``.

    Without ``studies`` the committed chapters (``book/<study>/``) are rendered. With ``studies``,
    a folder of runs (``_build/studies/<name>/``, as ``make book`` writes them), the book is built
    from a staged copy of its sources in ``_build/book-src`` in which each study that has a run
    there shows that run: nothing tracked is written."""
    try:
        import jupyter_book
    except ImportError:
        raise InputError("building the book needs jupyter-book: pip install 'micromet[book]'") \
            from None
    if not jupyter_book.__version__.startswith("1."):
        raise InputError(f"jupyter-book {jupyter_book.__version__} is installed; the book needs "
                         "1.x (2.x ignores _config.yml): pip install 'jupyter-book<2'")
    root = Path(root)
    source = root if studies is None else stage_book(root, Path(studies))
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; main()",
           "build", str(source), "--path-output", str(root / "book")]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    return subprocess.call(cmd)  # a child process: Sphinx keeps global state


STAGE_DIR = Path("_build") / "book-src"
_NOT_STAGED = shutil.ignore_patterns("_build", "data", ".*")


def stage_book(root: Path, studies: Path) -> Path:
    """Copy the book's sources to ``root/_build/book-src``, each ``book/<study>/`` replaced by
    ``studies/<study>/`` where such a run exists (row-level ``data/`` folders are never copied)."""
    stage = root / STAGE_DIR
    if stage.exists():
        shutil.rmtree(stage)  # micromet's own staging folder, rebuilt on every call
    stage.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, stage / name)
    shutil.copytree(root / "book", stage / "book", ignore=_NOT_STAGED)
    for run in sorted(p for p in studies.iterdir() if (p / "results.json").is_file()) \
            if studies.is_dir() else []:
        target = stage / "book" / run.name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(run, target, ignore=_NOT_STAGED)
    return stage


def _run(args) -> int:
    from micromet.run import run_study

    run_study(args.study, data=args.data, out=args.out, overrides=args.set, kernel=args.kernel)
    return 0


def _book(args) -> int:
    return build_book(args.root, strict=not args.no_strict, studies=args.studies)


def _compare(args) -> int:
    from micromet.reproducibility import compare_results, load_results

    loaded = []
    for given in (args.expected, args.actual):
        try:
            loaded.append(load_results(given))
        except FileNotFoundError:
            raise InputError("no results.json there", file=given) from None
        except (OSError, ValueError) as exc:
            raise InputError(f"not a readable results.json ({type(exc).__name__})",
                             file=given) from None
    differences = compare_results(*loaded)
    for difference in differences:
        print(difference)
    if differences:
        print(f"{len(differences)} quantities differ beyond their tolerances", file=sys.stderr)
        return 1
    print("the results agree within the declared tolerances")
    return 0


def _synth(args) -> int:
    from micromet.sources import write_synthetic_export

    kw = {} if args.seed is None else {"seed": args.seed}
    path = write_synthetic_export(args.out, scale=args.scale, **kw)
    print(path)
    return 0


def _sweep(args) -> int:
    from micromet.sweep import run_sweep

    designs = [d.strip() for item in args.design for d in item.split(",") if d.strip()]
    result = run_sweep(args.study, args.grid, designs=designs or ["matching"],
                       overrides=args.set, data=args.data, out=args.out,
                       scheduler=args.scheduler, n_jobs=args.jobs, yes=args.yes,
                       progress=True)
    print(f"{len(result.cells)} cells: {result.computed} computed, {result.reused} from the "
          f"cache, {result.failed} failed", file=sys.stderr)
    for cell in result.cells:
        row = result.results[result.results["cell"] == cell.index].iloc[0]
        if row["status"] != "ok":
            print(f"  cell {cell.index} failed: {row['error']}", file=sys.stderr)
    for path in result.files.values():
        print(path)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="micromet", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute a study's chapters into _build/studies/<study>/ (or --out)")
    run.add_argument("study", help="a study file (studies/seer_m0i.yml) or a study name")
    run.add_argument("--data", help="a SEER*Stat export (its .dic beside it) replacing the source")
    run.add_argument("--out", help="output folder (default _build/studies/<study>/; "
                     "book/<study> refreshes the committed chapters)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a parameter, dotted keys: --set matching.caliper=0.1")
    run.add_argument("--kernel", action="store_true",
                     help="run the chapters in a Jupyter kernel instead of this process (slower; "
                          "the way Jupyter runs a notebook)")
    run.set_defaults(func=_run)

    book = sub.add_parser("book", help="build the HTML book (book/_build/html)")
    book.add_argument("--root", default=str(REPO_ROOT), help="book root (has _config.yml)")
    book.add_argument("--studies", metavar="DIR",
                      help="render the runs in DIR/<study>/ (e.g. _build/studies) instead of the "
                           "committed chapters book/<study>/")
    book.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    book.set_defaults(func=_book)

    compare = sub.add_parser(
        "compare", help="compare two results.json (or output folders) within the declared "
                        "cross-machine tolerances (micromet.reproducibility)")
    compare.add_argument("expected", help="e.g. book/seer_m0i (the committed results)")
    compare.add_argument("actual", help="e.g. _build/studies/seer_m0i (a fresh run)")
    compare.set_defaults(func=_compare)

    synth = sub.add_parser("synth", help="write a synthetic SEER*Stat label export and its .dic")
    synth.add_argument("--seed", type=int, default=None,
                       help="seed (default: micromet.synth.DEFAULT_SEED)")
    synth.add_argument("--scale", type=float, default=1.0, help="fraction of the paper's size")
    synth.add_argument("--out", default="synthetic_export", help="output folder")
    synth.set_defaults(func=_synth)

    sweep = sub.add_parser(
        "sweep", help="re-analyse a study over a grid of specifications (caliper, ratio, ...): "
                      "results table and specification curve")
    sweep.add_argument("study", help="a study file (studies/seer_m0i.yml) or a study name")
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                       help="a parameter and its values, e.g. --grid matching.caliper=0.05,0.1,"
                            "0.2,none (repeat for more keys: every combination is a cell)")
    sweep.add_argument("--design", action="append", default=[], metavar="NAME[,NAME]",
                       help="the designs compared (default: matching)")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a parameter of every cell, as for `micromet run`")
    sweep.add_argument("--data", help="a SEER*Stat export (its .dic beside it) replacing the "
                                      "source")
    sweep.add_argument("--out", help="the sweep's folder (default _build/sweeps/<study>): "
                                     "cache/, results.csv, results.json, the figure")
    sweep.add_argument("--scheduler", metavar="ADDRESS",
                       help="run the cells on a Dask cluster (tcp://host:8786; needs "
                            "micromet[sweep]) instead of the local cores")
    sweep.add_argument("--jobs", type=int, default=None,
                       help="local worker processes (default: every core)")
    sweep.add_argument("--yes", action="store_true",
                       help="run a grid larger than micromet.sweep.MAX_CELLS cells")
    sweep.set_defaults(func=_sweep)
    return p


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP received: unwinds like Ctrl-C, so that every clean-up runs."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def _quiet_unwinding() -> None:
    """While an interrupted run unwinds (the kernel shut down mid-cell), the libraries under it
    log their surprise (papermill/nbclient's "kernel died", asyncio's unretrieved task): the one
    line micromet prints says what happened."""
    for name in ("asyncio", "papermill", "traitlets", "nbclient"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def _raise_interrupted(signum, frame):
    # one interruption is enough: the clean-up that follows (shutting the kernel down, removing
    # the work folder) must not itself be interrupted, e.g. by the SIGINT that stopping a
    # kernel mid-start can send to this process group
    for handled in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(handled, signal.SIG_IGN)
    _quiet_unwinding()
    # SIGINT too becomes Interrupted, not KeyboardInterrupt: CPython remembers a
    # KeyboardInterrupt that crossed certain C calls and then ends the process by SIGINT,
    # whatever exit status main returned
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit status (0, 1 for a difference found by ``compare``, 2 for
    an error, 128 + the signal when interrupted). Called without ``argv`` (the ``micromet``
    command itself) the signal handlers stay in place until the process exits, so that no late
    signal can turn a clean interruption into a traceback."""
    entry_point = argv is None
    args = parser().parse_args(argv)
    handled = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, _raise_interrupted) for s in handled}
    try:
        status = args.func(args)
        if entry_point and args.command == "run":
            _exit_now(status)
        return status
    except MicrometError as exc:
        print(f"micromet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"micromet {args.command}: interrupted (SIGINT); {_after_interruption(args)}",
              file=sys.stderr)
        return 128 + signal.SIGINT
    except Interrupted as exc:
        print(f"micromet {args.command}: interrupted ({exc}); {_after_interruption(args)}",
              file=sys.stderr)
        return 128 + exc.signum
    finally:
        if not entry_point:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _exit_now(status: int) -> None:
    """End the ``micromet`` command as soon as its run is complete: the exit handlers run and
    the output is flushed, but Python does not then free, one by one, the ~2,000 modules and
    the objects of a study (half a second of a study A run). Only at the end of a successful
    command: the run's own clean-up is done by then."""
    import atexit
    import os

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


_UNTOUCHED = "the earlier output is as it was and nothing of this run was kept"
_RESUMABLE = ("the cells finished so far are in the sweep's cache: the same command resumes "
              "from them")


def _after_interruption(args) -> str:
    return _RESUMABLE if args.command == "sweep" else _UNTOUCHED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
