"""Folders micromet creates: made where they will be renamed into place, with ordinary permissions.

``tempfile.mkdtemp`` creates its folder with mode 0700; a folder that is then renamed into place as
an output (a study's output, a cached synthetic extract) would stay unreadable by anyone else.
``output_temp_dir`` gives it the mode ``mkdir`` would have given it (0755 under the usual umask 022).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def default_dir_mode() -> int:
    """0o777 less the process umask: what ``os.mkdir`` gives a new folder (0o755 under umask 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def output_temp_dir(parent: str | Path, prefix: str) -> Path:
    """A new, uniquely named folder in ``parent`` (created if needed) that will be renamed into
    place as an output: the permissions of an ordinarily created folder, not mkdtemp's 0700."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, default_dir_mode())
    return path


def sha256_of(path: str | Path) -> str:
    """The SHA-256 of a file, in hex (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
