"""Where ``micromet run`` may write: only into a folder it creates or one it created before.

Every output folder carries a marker file, ``.micromet-output``, written by the run that made it.
Before any work, ``check_output`` refuses an output that is

* a file, or a symbolic link;
* a folder that is not empty and has no marker (a folder of the user's, the repository, a
  folder of the export);
* the filesystem root, the home folder, the repository or the current folder, or one of their
  ancestors;
* the folder that holds the ``--data`` file or the study file, or one of its ancestors;

and ``output_lock`` refuses a second run into the same output while one is under way. Nothing is
touched before these checks pass.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from micromet.errors import InputError

MARKER = ".micromet-output"
MARKER_TEXT = ("This folder was written by `micromet run` (study {name}).\n"
               "micromet replaces it on the next run into it; it never writes into a folder "
               "without this file, nor over files it did not write (listed below).\n\nfiles:\n")


class OutputRefused(InputError):
    """The output folder given is not one micromet may write into."""


def is_micromet_output(folder: Path) -> bool:
    return (folder / MARKER).is_file() and not (folder / MARKER).is_symlink()


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if not p.is_dir() and p.name != MARKER)


def write_marker(folder: Path, study_name: str) -> None:
    """Mark ``folder`` as micromet's, with the list of the files the run wrote into it."""
    text = MARKER_TEXT.format(name=study_name) + "".join(f"  {f}\n" for f in _files(folder))
    (folder / MARKER).write_text(text, encoding="utf-8")


def foreign_files(folder: Path) -> list[str]:
    """Files in a marked output folder that its run did not write (added since, by someone)."""
    text = (folder / MARKER).read_text(encoding="utf-8", errors="replace")
    _, _, listing = text.partition("\nfiles:\n")
    written = {line.strip() for line in listing.splitlines() if line.strip()}
    return [f for f in _files(folder) if f not in written]


def _within(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or lies inside it."""
    return path == folder or folder in path.parents


def check_output(out: str | Path, *, protect: list[str | Path] = (), repo: Path | None = None,
                 option: str = "--out") -> Path:
    """The resolved output folder, or ``OutputRefused`` naming why it may not be written.

    ``protect``: files that must survive the run (the data file, the study file): the output
    may not be, or contain, their folder."""
    given = Path(out).expanduser()
    if given.is_symlink():
        raise OutputRefused("is a symbolic link; give a folder", file=given, column=option)
    out = given.resolve()
    if out.exists() and not out.is_dir():
        raise OutputRefused("is a file, not a folder; micromet writes its output into a folder "
                            "of its own", file=given, column=option)
    guarded = {Path(out.anchor): "the filesystem root", Path.home().resolve(): "your home folder",
               Path.cwd().resolve(): "the current folder"}
    if repo is not None:
        guarded[repo.resolve()] = "the micromet repository"
    for folder, what in guarded.items():
        if _within(folder, out):
            raise OutputRefused(f"is {what} or one of its parents; give a folder of its own, "
                                "e.g. results/<study>", file=given, column=option)
    for path in protect:
        path = Path(path).expanduser().resolve()
        if _within(path, out):
            raise OutputRefused(f"holds {path.name}, which the run reads; give another folder",
                                file=given, column=option)
    if out.is_dir() and any(out.iterdir()) and not is_micromet_output(out):
        raise OutputRefused(f"is a folder that micromet did not create (no {MARKER} in it) and "
                            "is not empty; micromet never overwrites what it did not create: "
                            "give a new or empty folder", file=given, column=option)
    if out.is_dir() and is_micromet_output(out):
        added = foreign_files(out)
        if added:
            raise OutputRefused(f"holds {len(added)} file(s) that micromet did not write (e.g. "
                                f"{added[0]!r}); move them elsewhere or give another folder",
                                file=given, column=option)
    return out


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[Path]:
    """Hold an exclusive lock on ``out`` for the run; a second run into it is refused at once."""
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out.parent / f".{out.name}.lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise OutputRefused("another micromet run is writing this output now; wait for "
                                    "it to finish", file=out, column="--out") from None
            raise
        # the lock file may have been removed by the run that held it: lock the current one
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)
