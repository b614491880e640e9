"""Where the rows come from: a SEER*Stat export, an institutional CSV or ``synthetic://<name>``,
read once into the analysis frame; the extract restricted to the study's years and exposure
levels.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from micromet.errors import InputError
from micromet.store import DATA_DIR, load_frame, save_frame
from micromet.study import Study, synthetic_request

TREATED = "_treated"  # 0/1 exposure indicator used by matching


def cache_dir() -> Path:
    """Where synthetic extracts and series are cached: ``$MICROMET_CACHE`` if set, else
    ``~/.cache/micromet`` (the one place that reads it; the generators get it from here)."""
    import os

    env = os.environ.get("MICROMET_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "micromet"


def _seer_m0i_extract(seed: int | None, params: dict, cache: Path) -> Path:
    from micromet import synth

    scale = float(params.pop("scale", 1.0))
    seed = synth.DEFAULT_SEED if seed is None else int(seed)
    return synth.synthetic_extract(seed, params or None, cache, scale=scale)


def _nanomet_series(seed: int | None, params: dict, cache: Path) -> Path:
    from micromet import synth_series

    seed = synth_series.DEFAULT_SEED if seed is None else int(seed)
    return synth_series.synthetic_series(seed, params or None, cache)


#: The one registry of generated sources: ``synthetic://<name>?seed=..&<parameter>=..`` -> the
#: generator that writes (once, into the cache) the file a real source would be: a SEER*Stat
#: export with its .dic (``seer_m0i``) or an institutional CSV (``nanomet``).
SYNTHETIC = {"seer_m0i": _seer_m0i_extract, "nanomet": _nanomet_series}


def source_file(source: str, *, seed: int | None = None, file=None, cache=None) -> Path:
    """The file a study's ``source`` names: a path as given (it must exist), or the cached file
    of a ``synthetic://`` generator of :data:`SYNTHETIC` (generated on first use into ``cache``,
    by default :func:`cache_dir`)."""
    from micromet.study import is_synthetic

    if is_synthetic(source):
        name, seed, params = synthetic_request(source, seed=seed, file=file)
        if name not in SYNTHETIC:
            raise InputError(f"unknown synthetic source '{name}' (known: "
                             f"{', '.join(sorted(SYNTHETIC))})", file=file, column="source",
                             value=source)
        return Path(SYNTHETIC[name](seed, params, Path(cache) if cache else cache_dir()))
    if "://" in str(source):
        raise InputError("unknown source: a source is a file path or "
                         f"synthetic://<name>?seed=<n> (known: {', '.join(sorted(SYNTHETIC))})",
                         file=file, column="source", value=source)
    path = Path(source).expanduser()
    if not path.is_file():
        raise InputError("data file not found", file=path, column="source")
    return path


def read_source(study: Study) -> pd.DataFrame:
    """The raw frame (labels as categories, canonical names) of the study's SEER*Stat source."""
    from micromet import seer

    return seer.read_export(source_file(study.source, seed=study.seed, file=study.file),
                            categorical=True)


def write_synthetic_export(out, *, seed: int | None = None, scale: float = 1.0) -> Path:
    """``micromet synth``: a synthetic SEER*Stat label export (+ .dic) in folder ``out``
    (``seed`` defaults to ``micromet.synth.DEFAULT_SEED``)."""
    from micromet import synth

    seed = synth.DEFAULT_SEED if seed is None else seed
    return Path(synth.cli_synth(Path(out), seed=seed, n_scale=scale))


SOURCE_FRAME = "source"  # data/source.parquet: the tidied export, read once per run


def analysis_frame(study: Study, output_dir=None) -> pd.DataFrame:
    """The tidied source (``seer.tidy`` of the export, or an institutional series read through
    its ``series`` mapping, ``micromet.series``) with ``attrs["n_raw"]``. With
    ``output_dir``, the frame the run's pre-check saved there (``data/source.parquet``, row-level
    like every file of ``data/``) is used when present, and the warnings that reading gave are
    given again, so the chapter's notes are the same as if it had read the export itself."""
    kept = None if output_dir is None else Path(output_dir) / DATA_DIR / f"{SOURCE_FRAME}.parquet"
    checked = None if output_dir is None else _CHECKED.get(_key(output_dir))
    if checked is not None or (kept is not None and kept.exists()):
        frame = checked if checked is not None else load_frame(output_dir, SOURCE_FRAME,
                                                               "01_cohort")
        for message in frame.attrs.get("source_warnings", []):
            warnings.warn(message, UserWarning, stacklevel=2)
        return frame
    if study.series is not None:  # an institutional series: its mapping makes the frame
        from micromet.series import read_series

        frame = read_series(source_file(study.source, seed=study.seed, file=study.file),
                            study.series)
        frame.attrs["synthetic"] = study.synthetic
        frame.attrs["n_raw"] = len(frame)
        return frame
    from micromet import seer

    raw = read_source(study)
    grade = study.cohort.grade_variable if study.cohort and study.cohort.grade_variable else None
    frame = seer.tidy(raw, grade) if grade else seer.tidy(raw)
    if study.cohort is not None and study.cohort.years:
        last = study.cohort.followup_until or study.cohort.years[1]
        seer.check_followup(frame, last, file=raw.attrs.get("file"))
    frame.attrs["n_raw"] = len(raw)
    return frame


#: Tidied exports kept by ``keep_checked(..., in_memory=True)``, by run folder, until the run
#: ends (``forget_checked``): chapters 1 and 2 both start from it.
_CHECKED: dict[str, pd.DataFrame] = {}


def _key(output_dir) -> str:
    return str(Path(output_dir).resolve())


def forget_checked(output_dir) -> None:
    _CHECKED.pop(_key(output_dir), None)


def checked_source(study: Study) -> pd.DataFrame:
    """The source read and checked as chapter 1 will: a bad export or series raises the named
    error (file, column, 1-based row, value), and so does a cohort that the criteria empty
    (naming the step). The tidied frame, with what reading it warned in
    ``attrs["source_warnings"]``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = analysis_frame(study)
    frame.attrs["source_warnings"] = list(dict.fromkeys(str(w.message) for w in caught))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # chapter 1 reports them
        _cohort_of(frame, study)
    return frame


def keep_checked(frame: pd.DataFrame, output_dir, *, in_memory: bool = False) -> None:
    """Keep a checked source for the chapters of the run writing ``output_dir``, which then do
    not read it again: in memory (chapters run in this process) or in ``data/`` of that
    folder (row-level, like every file there)."""
    if in_memory:
        _CHECKED[_key(output_dir)] = frame
    else:
        save_frame(frame, output_dir, SOURCE_FRAME)


def check_source(study: Study, output_dir=None, *, in_memory: bool = False) -> None:
    """``checked_source``, before any chapter runs; with ``output_dir`` (the run's work folder)
    the frame is kept for the chapters (``keep_checked``)."""
    frame = checked_source(study)
    if output_dir is not None:
        keep_checked(frame, output_dir, in_memory=in_memory)


@dataclass
class AnalysisCohort:
    """The study's cohort as chapter 1 builds it: the records read (``n_raw``), the extract
    (rows of the extract definition), the rows set aside before the criteria, the criteria's
    result (flow) and the cohort with the exposure as an ordered categorical."""

    n_raw: int
    extract: pd.DataFrame
    outside: int
    built: object  # micromet.cohort.CohortResult
    data: pd.DataFrame


def analysis_cohort(study: Study, output_dir=None) -> AnalysisCohort:
    """The source (``analysis_frame``) restricted to the extract and through the study's
    criteria in order: what chapter 1 describes and the matching chapter matches (each builds
    it from the source, so that the two run at once; a tenth of a second)."""
    return _cohort_of(analysis_frame(study, output_dir), study)


def _cohort_of(frame: pd.DataFrame, study: Study) -> AnalysisCohort:
    from micromet import cohort as cohort_mod

    e = study.exposure
    extract, outside = restrict_extract(frame, study)
    criteria = list(study.cohort.criteria) if study.cohort else []
    built = cohort_mod.build_cohort(extract, criteria, e.column,
                                    levels=e.levels or [e.reference, e.exposed])
    return AnalysisCohort(int(frame.attrs.get("n_raw", len(frame))), extract, outside, built,
                          exposure_categorical(built.data, study))


def exposure_categorical(frame: pd.DataFrame, study: Study) -> pd.DataFrame:
    e = study.exposure
    levels = e.levels or [e.reference, e.exposed]
    frame = frame.copy()
    frame[e.column] = pd.Categorical(frame[e.column].astype("object"), categories=levels)
    return frame


def group_counts(frame: pd.DataFrame, study: Study) -> dict[str, int]:
    col = study.exposure.column
    levels = study.exposure.levels or [study.exposure.reference, study.exposure.exposed]
    counts = frame[col].astype("object").value_counts()
    return {str(lv): int(counts.get(lv, 0)) for lv in levels}


def restrict_extract(frame: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, int]:
    """The rows of the extract definition (years of diagnosis, exposure levels); the number of
    rows set aside. The paper's extract holds only these, so nothing is set aside there."""
    e = study.exposure
    levels = e.levels or [e.reference, e.exposed]
    keep = frame[e.column].astype("object").isin(levels).to_numpy()
    if study.cohort is not None and study.cohort.years and "year" in frame.columns:
        first, last = study.cohort.years
        year = pd.to_numeric(frame["year"], errors="coerce")
        keep &= year.between(first, last).fillna(False).to_numpy(dtype=bool)
    return frame.loc[keep], int((~keep).sum())
