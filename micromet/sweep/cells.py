"""One cell of a sweep as a pure task: (cohort, design, study, seed) -> results.

:func:`fit_cell` re-makes the analysed set with the cell's design and refits the study's
regression of every outcome exactly as chapters 3 and 4 do (``micromet.analyses.screen_and_fit``
with the study's fitters: R's ``coxph`` for overall survival, ``cmprsk::crr``'s Fine-Gray for
breast-cancer mortality), and returns the exposure's HR/SHR (univariable and multivariable) with
its CI and p, the size of the analysed set, the events and the largest |SMD| after the design.
It never raises for a failure of the cell: the error's message is recorded instead.

The cache key of a cell is the SHA-256 of the data, the cell's study (every parameter), design
and seed, and micromet's version: the same key, the same results.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass
from typing import Any

import pandas as pd

from micromet.study import Study

CACHE_FORMAT = 1  # bump when what a cell computes or records changes


@dataclass(frozen=True)
class CellTask:
    """What a worker needs for one cell: its cache ``key``, the ``design`` function, the
    validated ``study`` (its seed is the cell's seed) and the 0/1 exposure column ``treatment``
    of the shared cohort."""

    key: str
    design: Any
    study: Study
    treatment: str


def data_hash(data: pd.DataFrame) -> str:
    """SHA-256 of a frame's content: column names and dtypes, index and values (pandas' stable
    row hashes), the same in every process and on every run."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in data.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def cell_key(data_sha: str, study: Study, design: str) -> str:
    """The cache key of a cell: SHA-256 of the data's hash, the study's parameters (with its
    seed), the design's name and micromet's version."""
    from micromet import __version__

    params = study.to_dict()
    params.pop("file", None)  # where the study file lies is not a parameter
    text = json.dumps({"data": data_sha, "study": params, "design": design,
                       "micromet": __version__, "format": CACHE_FORMAT},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def analysis_columns(study: Study) -> list[str]:
    """The cohort columns a cell of ``study`` reads: exposure, matching and candidate
    covariates, and each outcome's time and event."""
    columns = [study.exposure.column, *study.matching_covariates]
    for name, outcome in study.outcomes.items():
        columns += study.candidates(study.analysis_for(name))
        columns += [outcome.time, outcome.event]
    if study.models.cluster and study.models.cluster != "subclass":
        columns.append(study.models.cluster)
    return list(dict.fromkeys(columns))


def fit_cell(data: pd.DataFrame, task: CellTask) -> dict:
    """The results of one cell (a JSON-ready mapping): ``status`` ("ok" or "failed"),
    ``error``, the analysed set's counts, ``max_abs_smd`` and one record per outcome and
    adjustment (``models``)."""
    study = task.study
    out: dict[str, Any] = {"key": task.key, "status": "ok", "error": None}
    try:
        covariates = study.matching_covariates
        result = task.design(data, task.treatment, covariates, study)
    except Exception as exc:  # a failed cell is recorded, the sweep goes on
        out.update(status="failed", error=_message(exc), models=[])
        return out
    analysed = result.data
    e = study.exposure
    groups = analysed[e.column].astype("object")
    out.update(n=len(analysed), n_exposed=int((groups == e.exposed).sum()),
               n_reference=int((groups == e.reference).sum()),
               max_abs_smd=_number(result.max_abs_smd), **result.info)
    out["models"] = []
    for name in study.outcomes:
        out["models"] += _outcome_records(analysed, result.weights, study, name)
    if any(r["error"] for r in out["models"]):
        out["status"] = "failed"
        out["error"] = next(r["error"] for r in out["models"] if r["error"])
    return out


def _outcome_records(data: pd.DataFrame, weights: str | None, study: Study,
                     outcome: str) -> list[dict]:
    from micromet.analyses import exposure_term, model_fitter, screen_and_fit

    analysis = study.analysis_for(outcome)
    o = study.outcomes[outcome]
    term = exposure_term(study)
    base = {"outcome": outcome, "model": analysis.model,
            "measure": "HR" if analysis.model == "cox" else "SHR", "term": term,
            "events": _events(data, o)}
    try:
        fitter = model_fitter(study, analysis.outcome, analysis.model) if weights is None \
            else weighted_fitter(study, analysis, weights)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # not-estimable terms are read from the fits
            uni, multi, chosen, _ = screen_and_fit(
                fitter, data, study, study.candidates(analysis),
                selection=study.selection(analysis), multivariable=analysis.multivariable)
    except Exception as exc:
        return [dict(base, adjustment=adj, estimate=None, lower=None, upper=None, p=None,
                     estimable=False, note=None, covariates=None, error=_message(exc))
                for adj in ("univariable", "multivariable")]
    records = [dict(base, adjustment="univariable", covariates=study.exposure.column,
                    **_exposure_row(uni, uni.attrs.get("not_estimable", {}), term))]
    if multi is not None:
        records.append(dict(base, adjustment="multivariable", covariates=" + ".join(chosen),
                            **_exposure_row(multi.table, getattr(multi, "not_estimable", {}),
                                            term)))
    return records


def weighted_fitter(study: Study, analysis, weights: str):
    """``fit(data, covariates)`` of a weighting design: the study's model with the analysis
    weights ``weights``: Cox as ``coxph(..., weights = w)`` (robust variance for non-integer
    weights, as R), Fine-Gray as ``finegray()`` then ``coxph(..., weights = fgwt * w, cluster =
    id)`` (``micromet.competing.fine_gray_weighted``)."""
    from micromet import competing, survival

    o = study.outcomes[analysis.outcome]
    m = study.models
    if analysis.model != "cox":
        def fit_fg(d, c):
            return competing.fine_gray_weighted(d, o.time, o.event, c, cause=o.cause or 1,
                                                weights=weights, ties=m.ties)
        return fit_fg

    def fit(d, c):
        return survival.cox(d, o.time, o.event, c, ties=m.ties, cluster=m.cluster,
                            weights=weights, on_separation=m.on_separation,
                            labels=study.labels,
                            event_name="deaths" if o.cause is None else "events")
    return fit


def _exposure_row(table: pd.DataFrame, not_estimable: dict, term: str) -> dict:
    if term in (not_estimable or {}):
        return {"estimate": None, "lower": None, "upper": None, "p": None, "estimable": False,
                "note": str(not_estimable[term]), "error": None}
    if term not in table.index:
        return {"estimate": None, "lower": None, "upper": None, "p": None, "estimable": False,
                "note": "the exposure is not in the model", "error": None}
    row = table.loc[term]
    values = {k: _number(row[c]) for k, c in (("estimate", "hr"), ("lower", "lower"),
                                              ("upper", "upper"), ("p", "p"))}
    return {**values, "estimable": values["estimate"] is not None, "note": None, "error": None}


def _events(data: pd.DataFrame, outcome) -> int:
    event = pd.to_numeric(data[outcome.event])
    if outcome.cause is None:
        return int((event.fillna(0) != 0).sum())
    return int((event == outcome.cause).sum())


def _number(value) -> float | None:
    """A finite float, else None (JSON has no NaN)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


