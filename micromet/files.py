"""Files and folders micromet writes atomically: made under a temporary name beside their place and
renamed into it (``os.replace``), so a reader never sees half of one, with ordinary permissions.

* :func:`write_atomic` — one file (text or bytes);
* :func:`build_once` — a cached folder (a synthetic extract or series), built once;
* :func:`replace_dir` — a folder put in place of an earlier one (a study's output).

``tempfile.mkdtemp`` creates its folder with mode 0700 (``mkstemp`` its file with 0600); a folder
or file that is then renamed into place as an output would stay unreadable by anyone else.
``output_temp_dir`` and ``write_atomic`` give it the mode ``mkdir`` or ``open`` would have given
it (0755 and 0644 under the usual umask 022).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def default_dir_mode() -> int:
    """0o777 less the process umask: what ``os.mkdir`` gives a new folder (0o755 under umask 022)."""
    return 0o777 & ~_umask()


def default_file_mode() -> int:
    """0o666 less the process umask: what ``open(..., "w")`` gives a new file (0o644 under umask
    022)."""
    return 0o666 & ~_umask()


def output_temp_dir(parent: str | Path, prefix: str) -> Path:
    """A new, uniquely named folder in ``parent`` (created if needed) that will be renamed into
    place as an output: the permissions of an ordinarily created folder, not mkdtemp's 0700."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, default_dir_mode())
    return path


def write_atomic(path: str | Path, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` (text, encoded with ``encoding`` and no newline translation, or bytes) to
    ``path``: into a temporary file in the same folder (created if needed), then renamed over
    ``path``, so a reader finds the old file or the whole new one, never half. The file gets
    the permissions of an ordinarily created one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode(encoding) if isinstance(data, str) else data)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def replace_dir(new: str | Path, target: str | Path) -> None:
    """Put the folder ``new`` at ``target``; an earlier ``target`` is moved aside first and
    removed only after the swap (put back if the swap fails)."""
    new, target = Path(new), Path(target)
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_once(target: str | Path, build: Callable[[Path], object],
               complete: Callable[[Path], bool]) -> Path:
    """The folder ``target``, built once: unless ``complete(target)``, ``build(tmp)`` fills a new
    temporary folder beside it (``.tmp-<name>-...``, :func:`output_temp_dir`) that is then
    renamed into place. Two writers at once build identical folders: the first rename wins and
    the other copy is discarded; an incomplete folder (an interrupted writer's) is replaced."""
    target = Path(target)
    if complete(target):
        return target
    tmp = output_temp_dir(target.parent, prefix=f".tmp-{target.name}-")
    try:
        build(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # the folder exists: another writer won, or it is stale and incomplete
            if not complete(target):
                replace_dir(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


#: Digests already computed in this process, by (resolved path, size, modification time in ns).
_DIGESTS: dict[tuple[str, int, int], str] = {}


def sha256_of(path: str | Path) -> str:
    """The SHA-256 of a file, in hex (read in 1 MiB blocks; computed once per process for a
    file whose size and modification time have not changed)."""
    path = Path(path)
    info = path.stat()
    key = (str(path.resolve()), info.st_size, info.st_mtime_ns)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)  # hashlib lets other threads run meanwhile
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]
