"""Institutional series: a plain CSV, one row per patient, turned into an analysis frame.

A single-institution series (study B, nanomet) does not come as a SEER*Stat export but as a CSV
with the institution's own column names and codes. The study file says how to read it (a
*mapping*); :func:`read_series` applies it and returns the analysis frame the chapters use:

``patient_id``
    the case identifier, as text (must be unique).
``time_months``
    follow-up to the first event or to the last contact, in months (days / 30.4375,
    weeks * 7 / 30.4375, years * 12).
``event``
    0 censored, 1 the event of interest, 2, 3, ... the competing first events, in the order the
    mapping lists them (cmprsk's ``fstatus`` convention). For "any adverse event" analyses every
    non-zero code is an event.
``event_type``
    the first event's name (a Categorical in the order censored, of interest, competing...).
exposure
    an ordered Categorical whose first level is the reference, under the name the mapping
    gives (``nodal_group`` in study B); plus any regrouped versions of it the mapping derives
    (e.g. ``nodal_group3`` with pN0(i+) and pN1mi pooled).
covariates
    numeric columns as floats; categorical ones as Categoricals whose first level is their
    reference, so that :mod:`micromet.design` names their terms ``col[level]``.

The mapping, as it appears in a study file (YAML)::

    id: case_no
    time: {column: fu_days, unit: days}            # days | weeks | months | years
    event:
      column: first_event
      codes: {none: censored, local: local, distant: distant, death: death}   # code -> type
      censored: censored                           # the type meaning "no event" (default)
      of_interest: distant                         # -> 1
      competing: [local, death]                    # -> 2, 3 (a list inside the list pools types)
    exposure:
      column: nodal_status
      name: nodal_group
      levels: {"N0i-": "pN0(i-)", "N0i+": "pN0(i+)"}   # code -> label, in display order
      reference: "pN0(i-)"                         # default: the first label
      derived:                                     # optional regroupings of the labels
        nodal_group3: {"pN0(i-)": ["pN0(i-)"], "pN0(i+)/pN1mi": ["pN0(i+)"]}
    covariates:
      age: {column: age_at_dx, type: numeric}
      grade: {column: grade, levels: {"1": G1-2, "2": G1-2, "3": G3}, reference: G1-2}
    missing: ["", "NA"]                            # covariate codes meaning "not known"

Codes are compared as text after stripping blanks, so ``1`` and ``"1"`` are the same code.
Every problem in the file is an :class:`~micromet.errors.InputError` naming the file, the column,
the 1-based data row and the value; a problem in the mapping itself names the mapping key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from micromet.errors import InputError
from micromet.study import is_synthetic, synthetic_request

DAYS_PER_MONTH = 365.25 / 12
MONTHS_PER_UNIT = {
    "days": 1.0 / DAYS_PER_MONTH,
    "weeks": 7.0 / DAYS_PER_MONTH,
    "months": 1.0,
    "years": 12.0,
}
DEFAULT_MISSING = ("", "NA", "N/A", "NaN", "nan", ".")


def _code(value) -> str:
    """A code as the text it is compared by (YAML may give 1 where the CSV has "1")."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _mapping_error(key: str, message: str) -> InputError:
    return InputError(f"bad series mapping: {message}", column=key)


def _need(d: Mapping, key: str, where: str):
    if not isinstance(d, Mapping) or key not in d or d[key] in (None, ""):
        raise _mapping_error(where, f"'{where}' needs '{key}'")
    return d[key]


def _as_levels(raw, where: str) -> dict[str, str]:
    """code -> label, keeping the order; a list means each code is its own label."""
    if isinstance(raw, Mapping):
        out = {_code(k): str(v) for k, v in raw.items()}
    elif isinstance(raw, list | tuple):
        out = {_code(v): _code(v) for v in raw}
    else:
        raise _mapping_error(where, f"'{where}' levels must be a code -> label mapping or a list")
    if not out:
        raise _mapping_error(where, f"'{where}' has no levels")
    return out


def _ordered_labels(levels: dict[str, str], reference, where: str) -> list[str]:
    labels = list(dict.fromkeys(levels.values()))
    if reference is None:
        return labels
    reference = str(reference)
    if reference not in labels:
        raise _mapping_error(where, f"reference {reference!r} is not one of the labels {labels}")
    return [reference] + [lab for lab in labels if lab != reference]


@dataclass
class CovariateMap:
    """How one analysis covariate is read: ``type`` numeric, or categorical with ``levels``."""

    name: str
    column: str
    type: str = "numeric"
    levels: dict[str, str] = field(default_factory=dict)
    reference: str | None = None

    @property
    def labels(self) -> list[str]:
        return _ordered_labels(self.levels, self.reference, f"covariates.{self.name}")


@dataclass
class SeriesMapping:
    """The parsed, checked mapping of a series CSV (see the module docstring)."""

    id: str
    time: str
    time_unit: str
    event_column: str
    event_codes: dict[str, str]
    censored: str
    of_interest: str
    competing: list[list[str]]
    exposure_column: str
    exposure_name: str
    exposure_levels: dict[str, str]
    exposure_reference: str | None
    derived: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    covariates: list[CovariateMap] = field(default_factory=list)
    missing: tuple[str, ...] = DEFAULT_MISSING
    sep: str = ","

    @property
    def exposure_labels(self) -> list[str]:
        return _ordered_labels(self.exposure_levels, self.exposure_reference, "exposure")

    @property
    def event_numbers(self) -> dict[str, int]:
        """Event type -> number: censored 0, of interest 1, competing 2, 3, ..."""
        out = {self.censored: 0, self.of_interest: 1}
        for i, group in enumerate(self.competing):
            for t in group:
                out[t] = 2 + i
        return out

    @property
    def event_labels(self) -> dict[int, str]:
        """Event number -> a readable name (pooled competing types joined by '/')."""
        out = {0: self.censored, 1: self.of_interest}
        for i, group in enumerate(self.competing):
            out[2 + i] = "/".join(group)
        return out

    @property
    def columns(self) -> list[str]:
        """The CSV columns the mapping reads."""
        cols = [self.id, self.time, self.event_column, self.exposure_column]
        cols += [c.column for c in self.covariates]
        return list(dict.fromkeys(cols))

    @classmethod
    def from_dict(cls, d: Mapping) -> SeriesMapping:
        if isinstance(d, SeriesMapping):
            return d
        if not isinstance(d, Mapping):
            raise _mapping_error("mapping", "the mapping must be a dictionary")
        time = _need(d, "time", "mapping")
        if isinstance(time, Mapping):
            time_col = str(_need(time, "column", "time"))
            unit = str(time.get("unit", "months")).lower()
        else:
            time_col, unit = str(time), "months"
        if unit not in MONTHS_PER_UNIT:
            raise _mapping_error("time", f"unit {unit!r} is not one of {sorted(MONTHS_PER_UNIT)}")

        ev = _need(d, "event", "mapping")
        codes = _as_levels(_need(ev, "codes", "event"), "event")
        censored = str(ev.get("censored", "censored"))
        of_interest = str(_need(ev, "of_interest", "event"))
        competing_raw = ev.get("competing", None)
        types = list(dict.fromkeys(codes.values()))
        if competing_raw is None:  # every other type, each its own cause, in code order
            competing_raw = [t for t in types if t not in (censored, of_interest)]
        if not isinstance(competing_raw, list | tuple):
            raise _mapping_error("event", "'competing' must be a list of event types")
        competing = [
            [str(t) for t in g] if isinstance(g, list | tuple) else [str(g)] for g in competing_raw
        ]
        assigned = [censored, of_interest] + [t for g in competing for t in g]
        for t in assigned:
            if t not in types:
                raise _mapping_error("event", f"event type {t!r} is not a value of 'codes' {types}")
        if len(set(assigned)) != len(assigned):
            raise _mapping_error("event", f"an event type is listed twice in {assigned}")
        unassigned = [t for t in types if t not in assigned]
        if unassigned:
            raise _mapping_error(
                "event", f"event types {unassigned} are neither censored, of interest nor competing"
            )

        ex = _need(d, "exposure", "mapping")
        ex_col = str(_need(ex, "column", "exposure"))
        ex_levels = _as_levels(_need(ex, "levels", "exposure"), "exposure")
        ex_ref = ex.get("reference")
        labels = _ordered_labels(ex_levels, ex_ref, "exposure")
        derived = {}
        for name, groups in (ex.get("derived") or {}).items():
            if not isinstance(groups, Mapping) or not groups:
                raise _mapping_error(f"exposure.derived.{name}", "must map new labels to old ones")
            groups = {
                str(k): [str(x) for x in (v if isinstance(v, list | tuple) else [v])]
                for k, v in groups.items()
            }
            seen = [x for v in groups.values() for x in v]
            unknown = [x for x in seen if x not in labels]
            if unknown:
                raise _mapping_error(
                    f"exposure.derived.{name}", f"labels {unknown} are not exposure labels {labels}"
                )
            if sorted(seen) != sorted(labels):
                raise _mapping_error(
                    f"exposure.derived.{name}",
                    f"must place every exposure label {labels} exactly once, got {seen}",
                )
            derived[str(name)] = groups

        covs = []
        for name, spec in (d.get("covariates") or {}).items():
            if isinstance(spec, str):
                spec = {"column": spec}
            if not isinstance(spec, Mapping):
                raise _mapping_error(f"covariates.{name}", "must be a column name or a dictionary")
            kind = str(spec.get("type", "categorical" if "levels" in spec else "numeric"))
            if kind not in ("numeric", "categorical"):
                raise _mapping_error(f"covariates.{name}", f"type {kind!r} is not numeric/categorical")
            levels = {}
            if kind == "categorical":
                levels = _as_levels(_need(spec, "levels", f"covariates.{name}"), f"covariates.{name}")
            cov = CovariateMap(
                name=str(name),
                column=str(spec.get("column", name)),
                type=kind,
                levels=levels,
                reference=None if spec.get("reference") is None else str(spec["reference"]),
            )
            if kind == "categorical":
                cov.labels  # noqa: B018  (checks the reference)
            covs.append(cov)

        missing = d.get("missing", DEFAULT_MISSING)
        return cls(
            id=str(_need(d, "id", "mapping")),
            time=time_col,
            time_unit=unit,
            event_column=str(_need(ev, "column", "event")),
            event_codes=codes,
            censored=censored,
            of_interest=of_interest,
            competing=competing,
            exposure_column=ex_col,
            exposure_name=str(ex.get("name", ex_col)),
            exposure_levels=ex_levels,
            exposure_reference=None if ex_ref is None else str(ex_ref),
            derived=derived,
            covariates=covs,
            missing=tuple(_code(m) for m in missing),
            sep=str(d.get("sep", ",")),
        )


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _decode(raw: pd.Series, levels: dict[str, str], labels: list[str], *, file, column,
            missing: tuple[str, ...] | None, what: str, ordered: bool) -> pd.Categorical:
    """Codes -> ordered Categorical of labels; an unknown (or, if missing is None, blank) code
    is an InputError naming the row."""
    mapped = raw.map(levels)
    bad = mapped.isna().to_numpy()
    if missing is not None:
        bad &= ~raw.isin(missing).to_numpy()
    if bad.any():
        i = _first_bad(bad)
        known = list(levels)
        raise InputError(
            f"unknown {what} code (the mapping knows {known}); {int(bad.sum())} row(s) affected",
            file=file, column=column, row=i + 1, value=raw.iloc[i],
        )
    return pd.Categorical(mapped, categories=labels, ordered=ordered)


def _number(raw: pd.Series, *, file, column, missing: tuple[str, ...] | None) -> np.ndarray:
    values = pd.to_numeric(raw.where(~raw.isin(missing or ())), errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values)
    if missing:
        bad &= ~raw.isin(missing).to_numpy()
    if bad.any():
        i = _first_bad(bad)
        reason = "not a number" if missing else "not a number (missing values are not allowed here)"
        raise InputError(reason, file=file, column=column, row=i + 1, value=raw.iloc[i])
    return values


def combine_levels(values: pd.Series, groups: Mapping[str, list[str]]) -> pd.Series:
    """Regroup the levels of a categorical: ``groups`` maps each new label to the old labels it
    pools, in the new display order (the first new label is the reference)."""
    lookup = {old: new for new, olds in groups.items() for old in olds}
    out = values.astype(object).map(lookup)
    unplaced = out.isna() & values.notna()
    if unplaced.any():
        raise InputError(
            f"level not placed by the regrouping {dict(groups)}",
            column=values.name, row=unplaced.idxmax(), value=values[unplaced.idxmax()],
        )
    return pd.Series(
        pd.Categorical(out, categories=list(groups), ordered=True), index=values.index,
        name=values.name,
    )


def read_series(path, mapping) -> pd.DataFrame:
    """Read an institutional series CSV into the analysis frame described in the module docstring.

    ``mapping`` is the study file's mapping (a dict) or a :class:`SeriesMapping`. The frame's
    ``attrs`` carry ``source`` (the path), ``event_labels`` (number -> name), ``exposure`` (the
    exposure column's name) and ``reference`` (its reference level).
    """
    m = SeriesMapping.from_dict(mapping)
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", file=path)
    try:
        raw = pd.read_csv(
            path, sep=m.sep, dtype=str, keep_default_na=False, na_filter=False,
            encoding="utf-8-sig", skipinitialspace=True,
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV: {exc}", file=path) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    for col in m.columns:
        if col not in raw.columns:
            raise InputError(
                f"column not in the file (its columns are {list(raw.columns)})", file=path, column=col
            )
    raw = raw[m.columns].apply(lambda s: s.str.strip())  # only the columns the mapping reads
    if len(raw) == 0:
        raise InputError("the file has no data rows", file=path)

    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    ids = raw[m.id]
    blank = (ids == "").to_numpy()
    if blank.any():
        i = _first_bad(blank)
        raise InputError("empty patient id", file=path, column=m.id, row=i + 1, value="")
    dup = ids.duplicated().to_numpy()
    if dup.any():
        i = _first_bad(dup)
        raise InputError("duplicated patient id", file=path, column=m.id, row=i + 1,
                         value=ids.iloc[i])
    out["patient_id"] = ids.to_numpy()

    t = _number(raw[m.time], file=path, column=m.time, missing=None)
    neg = t < 0
    if neg.any():
        i = _first_bad(neg)
        raise InputError("negative follow-up time", file=path, column=m.time, row=i + 1,
                         value=raw[m.time].iloc[i])
    out["time_months"] = t * MONTHS_PER_UNIT[m.time_unit]

    types = raw[m.event_column].map(m.event_codes)
    bad = types.isna().to_numpy()
    if bad.any():
        i = _first_bad(bad)
        raise InputError(
            f"unknown event code (the mapping knows {list(m.event_codes)}); "
            f"{int(bad.sum())} row(s) affected",
            file=path, column=m.event_column, row=i + 1, value=raw[m.event_column].iloc[i],
        )
    numbers = m.event_numbers
    out["event"] = types.map(numbers).astype("int64").to_numpy()
    out["event_type"] = pd.Categorical(types, categories=list(numbers))

    labels = m.exposure_labels
    exposure = _decode(raw[m.exposure_column], m.exposure_levels, labels, file=path,
                       column=m.exposure_column, missing=None, what="exposure", ordered=True)
    out[m.exposure_name] = exposure
    for name, groups in m.derived.items():
        out[name] = combine_levels(out[m.exposure_name].rename(name), groups)

    for cov in m.covariates:
        col = raw[cov.column]
        if cov.type == "numeric":
            out[cov.name] = _number(col, file=path, column=cov.column, missing=m.missing)
        else:
            out[cov.name] = _decode(col, cov.levels, cov.labels, file=path, column=cov.column,
                                    missing=m.missing, what=f"'{cov.name}'", ordered=False)

    out.attrs.update(
        source=str(path),
        event_labels=m.event_labels,
        exposure=m.exposure_name,
        reference=labels[0],
    )
    return out


SYNTHETIC_NAME = "nanomet"


def source_path(source: str, *, seed: int | None = None, cache_dir=None) -> Path:
    """The CSV a study's ``source`` names: a path as given, or ``synthetic://nanomet?seed=N&...``
    generated (and cached) by :func:`micromet.synth_series.synthetic_series` (through the one
    registry of sources, :func:`micromet.sources.source_file`; ``cache_dir`` overrides the cache
    for this call)."""
    from micromet import sources

    if is_synthetic(source) and synthetic_request(source)[0] != SYNTHETIC_NAME:
        raise InputError(f"unknown source (known: a CSV path, synthetic://{SYNTHETIC_NAME}?seed=N)",
                         column="source", value=source)
    return sources.source_file(source, seed=seed, cache=cache_dir)


def read_source(source: str, mapping, *, seed: int | None = None, cache_dir=None) -> pd.DataFrame:
    """:func:`read_series` of :func:`source_path` (the study's ``source`` and ``series``
    mapping); the frame's ``attrs["synthetic"]`` says whether the source was generated."""
    frame = read_series(source_path(source, seed=seed, cache_dir=cache_dir), mapping)
    frame.attrs["synthetic"] = is_synthetic(source)
    return frame
