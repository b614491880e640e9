"""Where a run keeps what its chapters pass on: row-level frames (``data/*.parquet``, never
shown nor committed) and aggregate summaries (``summaries/*.json``, merged into ``results.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from micromet import governance
from micromet.errors import InputError
from micromet.study import Study

DATA_DIR = "data"


SUMMARIES_DIR = "summaries"
TABLES_DIR = "tables"  # aggregate tables offered for download on the pages (CSV)


def _path(output_dir, *parts) -> Path:
    path = Path(output_dir).joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def save_frame(frame: pd.DataFrame, output_dir, name: str) -> Path:
    """Save row-level data under ``data/`` (with a ``.gitignore`` so it is never committed)."""
    path = _path(output_dir, DATA_DIR, f"{name}.parquet")
    ignore = path.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# row-level data: never committed, never published\n*\n")
    frame.to_parquet(path, index=True)
    return path


def save_table(table: pd.DataFrame, output_dir, name: str) -> str:
    """An aggregate table (no row-level data; already masked for a real source) as
    ``tables/<name>.csv`` for the page's download link; returns that relative path."""
    path = _path(output_dir, TABLES_DIR, f"{name}.csv")
    flat = table.copy()
    if isinstance(flat.columns, pd.MultiIndex):
        flat.columns = [": ".join(str(p) for p in c if str(p)) for c in flat.columns]
    flat.reset_index().to_csv(path, index=False, lineterminator="\n")
    return f"{TABLES_DIR}/{name}.csv"


def load_frame(output_dir, name: str, chapter: str) -> pd.DataFrame:
    path = Path(output_dir) / DATA_DIR / f"{name}.parquet"
    if not path.exists():
        raise InputError(f"{path} is missing: run chapter {chapter} first "
                         "(micromet run executes the chapters in order)", file=path)
    return pd.read_parquet(path)


def save_summary(summary: dict, output_dir, section: str, study: Study | None = None,
                 published: dict | None = None) -> Path:
    """A chapter's numbers for results.json. With a real source the unmasked numbers go to the
    row-level side (``data/summaries/``) and ``summaries/`` gets what may be published:
    ``published`` (masked with complementary suppression by the chapter) or, by default, every
    small count masked."""
    from micromet.run import dumps

    real = study is not None and not study.synthetic
    if real:
        _path(output_dir, DATA_DIR, SUMMARIES_DIR, f"{section}.json").write_text(
            dumps(summary), encoding="utf-8")
        summary = governance.mask_leaves(published if published is not None else summary,
                                         min_cell=study.governance.min_cell)
    path = _path(output_dir, SUMMARIES_DIR, f"{section}.json")
    path.write_text(dumps(summary), encoding="utf-8")
    return path


def load_summary(output_dir, section: str) -> dict:
    path = Path(output_dir) / SUMMARIES_DIR / f"{section}.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))
