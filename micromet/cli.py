"""The ``micromet`` command: ``run`` a study, build the ``book``, write a ``synth``etic extract.

    micromet run studies/seer_m0i.yml [--data export.csv] [--out DIR] [--set matching.caliper=0.1 ...]
    micromet book [--no-strict]
    micromet synth [--seed N] [--out DIR] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from micromet.errors import MicrometError
from micromet.study import REPO_ROOT


def build_book(root: str | Path = REPO_ROOT, *, strict: bool = True) -> int:
    """``jupyter-book build <root> -W -n --keep-going``; the HTML goes to ``book/_build/html``."""
    root = Path(root)
    cmd = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; main()",
           "build", str(root), "--path-output", str(root / "book")]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    return subprocess.call(cmd)


def _run(args) -> int:
    from micromet.run import run_study

    run_study(args.study, data=args.data, out=args.out, overrides=args.set)
    return 0


def _book(args) -> int:
    return build_book(args.root, strict=not args.no_strict)


def _synth(args) -> int:
    from micromet.pipeline import write_synthetic_export

    kw = {} if args.seed is None else {"seed": args.seed}
    path = write_synthetic_export(args.out, scale=args.scale, **kw)
    print(path)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="micromet", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute a study's chapters into book/<study>/ (or --out)")
    run.add_argument("study", help="a study file (studies/seer_m0i.yml) or a study name")
    run.add_argument("--data", help="a SEER*Stat export (its .dic beside it) replacing the source")
    run.add_argument("--out", help="output folder (default book/<study>/)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a parameter, dotted keys: --set matching.caliper=0.1")
    run.set_defaults(func=_run)

    book = sub.add_parser("book", help="build the HTML book (book/_build/html)")
    book.add_argument("--root", default=str(REPO_ROOT), help="book root (has _config.yml)")
    book.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    book.set_defaults(func=_book)

    synth = sub.add_parser("synth", help="write a synthetic SEER*Stat label export and its .dic")
    synth.add_argument("--seed", type=int, default=None,
                       help="seed (default: micromet.synth.DEFAULT_SEED)")
    synth.add_argument("--scale", type=float, default=1.0, help="fraction of the paper's size")
    synth.add_argument("--out", default="synthetic_export", help="output folder")
    synth.set_defaults(func=_synth)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except MicrometError as exc:
        print(f"micromet {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
