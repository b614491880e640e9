"""Write the chapter templates notebooks/NN_*.ipynb from their sources notebooks/src/NN_*.py.

The sources are plain "percent" scripts (a first line ``# micromet: needs=[...]`` names the chapters
whose outputs the chapter reads): a line ``# %%`` starts a code cell, ``# %% [markdown]`` a
markdown cell (each of its lines starts with ``# ``); ``tags=["a", "b"]`` after either sets cell tags.
Cell ids are fixed (``<chapter>-<n>``), the kernelspec is ``python3``, so the templates and everything
papermill writes from them are byte-for-byte reproducible. Run: ``python notebooks/make.py``.
"""

import json
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")
#: ``# micromet: needs=["01_cohort", ...]`` before the first cell: the chapters whose outputs this one
#: reads (notebook metadata ``micromet.needs``; ``micromet run`` runs two chapters that do not need
#: each other at once). Without it a chapter needs every chapter before it.
NEEDS = re.compile(r"^# micromet: needs=(?P<needs>\[.*\])\s*$")


def cells_of(text: str):
    cells, kind, tags, lines = [], None, [], []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in body.split("\n"))
        cells.append((kind, tags, body))

    for line in text.split("\n"):
        m = HEADER.match(line)
        if m:
            flush()
            kind = "markdown" if m.group("md") else "code"
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def build(src: Path) -> Path:
    stem = src.stem
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    text = src.read_text(encoding="utf-8")
    for line in text.split("\n"):
        if line.startswith("# %%"):
            break
        m = NEEDS.match(line)
        if m:
            nb.metadata["micromet"] = {"needs": json.loads(m.group("needs"))}
    for n, (kind, tags, body) in enumerate(cells_of(text)):
        cell = nbformat.v4.new_markdown_cell(body) if kind == "markdown" else nbformat.v4.new_code_cell(body)
        cell["id"] = f"{stem}-{n}"
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.validate(nb)
    target = HERE / f"{stem}.ipynb"
    nbformat.write(nb, str(target))
    return target


if __name__ == "__main__":
    sources = [Path(a) for a in sys.argv[1:]] or sorted((HERE / "src").glob("*.py"))
    for source in sources:
        print(build(source))
