"""Typed, validated study parameters: one YAML file per study or variant (``studies/*.yml``).

A study file holds every choice an analysis makes (source, years, criteria, exposure, covariates,
matching, outcomes, model selection, small-cell threshold, seed, the chapters to run) and, under
``published``, the numbers of the paper it reproduces. ``load_study`` reads it, applies
``--set key=value`` overrides (dotted keys, values parsed as YAML scalars) and returns a frozen
``Study``. An unknown key, a missing required key or a value of the wrong type raises
``InputError`` naming the key and the file, before anything is computed.

``Study.to_dict()`` is what ``micromet run`` injects into each notebook (parameter ``study``);
``Study.from_dict`` turns it back into a ``Study`` inside the notebook.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

import yaml

from micromet.errors import InputError
from micromet.studyfile import build, parse_overrides, read_study_file, set_dotted  # noqa: F401

SYNTHETIC_SCHEME = "synthetic"
REPO_ROOT = Path(__file__).resolve().parent.parent
STUDIES_DIR = REPO_ROOT / "studies"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


def is_synthetic(source) -> bool:
    """True when ``source`` names a generated extract (``synthetic://<name>?...``)."""
    return str(source).startswith(SYNTHETIC_SCHEME + "://")


def synthetic_spec(source, *, file=None) -> tuple[str, dict[str, str]]:
    """The one parser of ``synthetic://`` sources: ``synthetic://seer_m0i?seed=1&n=100`` ->
    ("seer_m0i", {"seed": "1", "n": "100"}); an ``InputError`` for any other source."""
    if not is_synthetic(source):
        raise InputError("the source is not synthetic", file=file, column="source", value=source)
    url = urlparse(str(source))
    return url.netloc, dict(parse_qsl(url.query))


def synthetic_request(source, *, seed: int | None = None,
                      file=None) -> tuple[str, int | None, dict[str, Any]]:
    """What a ``synthetic://`` source asks its generator for: (name, seed, parameters). The
    seed is the address's (``?seed=34``), else ``seed``; the other query values are read as
    YAML scalars (``?scale=0.1&loss_rate_per_year=0.02`` -> floats)."""
    name, query = synthetic_spec(source, file=file)
    if "seed" in query:
        seed = int(query.pop("seed"))
    return name, seed, {k: yaml.safe_load(v) for k, v in query.items()}


@dataclass(frozen=True)
class Exposure:
    """The exposure (group) compared: ``column`` with a ``reference`` and an ``exposed`` level."""

    column: str
    reference: str
    exposed: str
    label: str = "Group"
    levels: list[str] = field(default_factory=list)  # all levels kept, reference first


@dataclass(frozen=True)
class Cohort:
    """The extract (years, exposure levels) and the ordered criteria of ``micromet.cohort``
    (declarative mappings: ``{name: female, column: sex, in: [Female]}``)."""

    criteria: list[dict[str, Any]]
    years: list[int] = field(default_factory=list)  # [first, last] year of diagnosis
    grade_variable: str | None = None  # SEER column used for grade
    followup_until: int | None = None  # last year of the database's follow-up (default: years[1])


@dataclass(frozen=True)
class TableOne:
    """Variables of the descriptive tables (Table 1 before matching, Table 2 after)."""

    continuous: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Matching:
    """Propensity-score matching as MatchIt's ``method = "nearest"``."""

    enabled: bool = True
    method: str = "nearest"
    ratio: int = 1
    caliper: float | None = None
    std_caliper: bool = True
    replace: bool = False
    m_order: str = "largest"
    distance: str = "linear_logit"
    covariates: list[str] | None = None  # None: the study's covariates


@dataclass(frozen=True)
class Outcome:
    """A time-to-event outcome. ``cause`` set: competing risks (event codes 0, cause, competing)."""

    label: str
    time: str
    event: str
    cause: int | None = None
    competing: list[int] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # restrict group comparisons to these levels
    cause_labels: dict[str, str] = field(default_factory=dict)  # event code -> name


@dataclass(frozen=True)
class Models:
    """Regression choices: ties, and the univariable screen that selects multivariable terms."""

    ties: str = "efron"
    selection: str = "univariable_p"  # keep covariates with a univariable p below selection_p
    selection_p: float = 0.05
    force_exposure: bool = True  # the exposure always enters the multivariable model
    cluster: str | None = None  # None, or "subclass" for matched-set robust variances
    horizon_months: list[float] = field(default_factory=list)  # times for survival_at / CIF
    # monotone likelihood (separation): "report" the terms not estimable and fit the rest,
    # "drop" the covariates involved, or "firth" (Cox models: Firth's penalized likelihood)
    on_separation: str = "report"


MODELS = ("cox", "fine_gray")
SELECTIONS = ("univariable_p", "all", "none")


@dataclass(frozen=True)
class Analysis:
    """A regression table of one outcome (the paper's Table 3 or 4): which model, which candidate
    covariates, and how the multivariable model chooses among them.

    ``model``: ``cox`` (R's ``coxph``) or ``fine_gray`` (``cmprsk::crr``; the outcome must have a
    ``cause``). ``covariates``: the candidates (default: the study's ``covariates``); the
    exposure is always a candidate. ``selection``: ``univariable_p`` (those with a univariable p
    below ``models.selection_p``), ``all`` (every candidate: a covariate set fixed in advance) or
    ``none`` (the exposure alone); default ``models.selection``. ``multivariable``: the
    covariates of the multivariable model fixed in advance (the exposure is added), as a paper
    names them; when given, ``selection`` is not used. ``exposure`` and ``levels``: a group
    column of its own for this model (e.g. groups merged by the series mapping's ``derived``)
    and its levels, reference first and the level of interest second; ``levels`` alone keeps the
    patients of those levels of the study's exposure. The paper's rows of this table are
    ``published.<outcome>.models.<name>``."""

    outcome: str
    model: str
    title: str = ""
    covariates: list[str] | None = None
    selection: str | None = None
    multivariable: list[str] | None = None
    exposure: str | None = None  # the group column of this model (default: exposure.column)
    levels: list[str] | None = None  # its levels, reference first; other patients left out


@dataclass(frozen=True)
class Comparison:
    """One comparison of two groups of the exposure (a paper's pairwise comparisons): the
    patients of ``levels`` = [reference, exposed] only, a model of ``outcome`` (``cox``, or
    ``fine_gray`` for an outcome with a cause; default by the outcome) on the exposure and
    ``covariates`` (none: univariable), with the log-rank test (Cox) or Gray's test beside it.
    ``title`` defaults to "<exposed> vs <reference>"."""

    outcome: str
    levels: list[str]
    model: str | None = None
    covariates: list[str] = field(default_factory=list)
    title: str = ""

    @property
    def reference(self) -> str:
        return self.levels[0]

    @property
    def exposed(self) -> str:
        return self.levels[1]

    @property
    def name(self) -> str:
        return self.title or f"{self.exposed} vs {self.reference}"


@dataclass(frozen=True)
class Robustness:
    """The robustness chapter (``06_robustness``): replicates of the matched-set bootstrap, the
    level of the power calculations, and the saved results of the study's specification sweep
    (a CSV written by ``micromet sweep``, relative to the repository; shown, never re-run)."""

    bootstrap: int = 1000
    alpha: float = 0.05
    sweep: str | None = None


@dataclass(frozen=True)
class Governance:
    """Data-use rules: counts 1 .. min_cell-1 are masked when the source is real."""

    min_cell: int = 11


@dataclass(frozen=True)
class Study:
    """Every parameter of one analysis. Built by ``load_study``; immutable."""

    name: str
    title: str
    source: str
    seed: int
    chapters: list[str]
    exposure: Exposure
    covariates: list[str]
    outcomes: dict[str, Outcome]
    cohort: Cohort | None = None
    table_one: TableOne = field(default_factory=TableOne)
    matching: Matching = field(default_factory=lambda: Matching(enabled=False))
    models: Models = field(default_factory=Models)
    governance: Governance = field(default_factory=Governance)
    robustness: Robustness = field(default_factory=Robustness)
    labels: dict[str, str] = field(default_factory=dict)  # column -> label shown in tables
    series: dict[str, Any] | None = None  # an institutional CSV's mapping (micromet.series)
    comparisons: list[Comparison] = field(default_factory=list)  # pairs of exposure groups
    analyses: dict[str, Analysis] = field(default_factory=dict)  # regression tables by name
    options: dict[str, Any] = field(default_factory=dict)  # free parameters of a chapter of one's own
    citation: str = ""
    published: dict[str, Any] = field(default_factory=dict)
    file: str | None = None  # the YAML the study came from (provenance; not a choice)

    # ---- derived ---------------------------------------------------------------------------
    @property
    def synthetic(self) -> bool:
        """True when the source is generated (``synthetic://...``), not a real export."""
        return is_synthetic(self.source)

    @property
    def synthetic_spec(self) -> tuple[str, dict[str, str]]:
        """``synthetic://seer_m0i?seed=1&n=100`` -> ("seer_m0i", {"seed": "1", "n": "100"})
        (:func:`synthetic_spec`)."""
        return synthetic_spec(self.source, file=self.file)

    @property
    def matching_covariates(self) -> list[str]:
        return list(self.matching.covariates or self.covariates)

    def label(self, column: str) -> str:
        return self.labels.get(column, column)

    def analyses_of(self, outcome: str) -> dict[str, Analysis]:
        """The regression tables of ``outcome``, by name: the study's ``analyses`` for it; a
        study that declares no ``analyses`` at all gets one per outcome (Cox, or Fine-Gray for
        an outcome with a cause; the study's covariates and ``models.selection``)."""
        if self.analyses:
            return {k: a for k, a in self.analyses.items() if a.outcome == outcome}
        return {outcome: Analysis(outcome=outcome, model=self.default_model(outcome))}

    def analysis_for(self, outcome: str) -> Analysis:
        """The first regression table of ``outcome`` (:meth:`analyses_of`); the default one
        when the study declares none for it."""
        found = self.analyses_of(outcome)
        if found:
            return next(iter(found.values()))
        return Analysis(outcome=outcome, model=self.default_model(outcome))

    def analysis_named(self, name: str) -> Analysis:
        """The regression table ``name``: a declared analysis, or an outcome's name for the
        default table of a study that declares none."""
        if name in self.analyses:
            return self.analyses[name]
        if not self.analyses and name in self.outcomes:
            return Analysis(outcome=name, model=self.default_model(name))
        raise InputError(f"no analysis named {name!r} (declared: "
                         f"{', '.join(self.analyses) or 'none'})", file=self.file,
                         column="analyses", value=name)

    def comparisons_of(self, outcome: str) -> list[Comparison]:
        return [c for c in self.comparisons if c.outcome == outcome]

    def default_model(self, outcome: str) -> str:
        """Cox for an outcome without a cause, Fine-Gray for one with a cause."""
        return "fine_gray" if self.outcomes[outcome].cause is not None else "cox"

    def group_column(self, analysis: Analysis | None = None) -> str:
        """The group column of ``analysis`` (its ``exposure``, else the study's)."""
        return (analysis.exposure if analysis is not None and analysis.exposure
                else self.exposure.column)

    def group_levels(self, analysis: Analysis | None = None) -> list[str]:
        """The levels of :meth:`group_column`, reference first."""
        if analysis is not None and analysis.levels:
            return list(analysis.levels)
        if analysis is not None and analysis.exposure:
            raise InputError("an analysis with its own exposure must give its levels",
                             file=self.file, column="analyses")
        e = self.exposure
        return list(e.levels or [e.reference, e.exposed])

    @property
    def time_outcomes(self) -> list[str]:
        """Outcomes without a cause (Kaplan-Meier and Cox), in the study file's order."""
        return [k for k, o in self.outcomes.items() if o.cause is None]

    @property
    def competing_outcomes(self) -> list[str]:
        """Outcomes with a cause (cumulative incidence and Fine-Gray)."""
        return [k for k, o in self.outcomes.items() if o.cause is not None]

    def candidates(self, analysis: Analysis) -> list[str]:
        """The candidate covariates of ``analysis`` (the exposure is added by the screen)."""
        return list(self.covariates if analysis.covariates is None else analysis.covariates)

    def selection(self, analysis: Analysis) -> str:
        return analysis.selection or self.models.selection

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping (JSON/YAML-safe) that ``from_dict`` accepts."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, mapping: dict[str, Any], *, file: str | None = None) -> Study:
        """Validate a mapping (as read from YAML or injected by papermill) into a ``Study``."""
        if not isinstance(mapping, dict):
            raise InputError("a study must be a mapping of key: value", file=file)
        mapping = dict(mapping)
        if file is not None:
            mapping["file"] = str(file)
        study = build(cls, mapping, "", mapping.get("file"))
        _check_semantics(study)
        return study


# ---- loading ------------------------------------------------------------------------------------


def study_path(name_or_path: str | Path) -> Path:
    """A YAML path as given, else ``studies/<name>.yml``."""
    path = Path(name_or_path)
    if path.suffix in (".yml", ".yaml") or path.exists():
        return path
    return STUDIES_DIR / f"{name_or_path}.yml"


def load_study(
    name_or_path: str | Path,
    overrides: list[str] | dict[str, Any] | None = None,
    *,
    data: str | Path | None = None,
) -> Study:
    """Read, override and validate a study file.

    ``overrides``: ``["matching.caliper=0.1", ...]`` (values parsed as YAML scalars) or a mapping
    of dotted keys to values. ``data``: a path that replaces ``source`` (a real export).
    """
    path = study_path(name_or_path)
    raw = read_study_file(path, study_path)
    for key, value in parse_overrides(overrides).items():
        set_dotted(raw, key, value, schema=Study, file=path)
    if data is not None:
        raw["source"] = str(Path(data).expanduser().resolve())
    return Study.from_dict(raw, file=str(path))


# ---- validation ---------------------------------------------------------------------------------


MATCHING_CHAPTER = "02_matching"  # the chapter that matches (study A's chapters)
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

_CHOICES = {
    "matching.method": ("nearest",),
    "matching.m_order": ("largest", "smallest", "random", "data"),
    "matching.distance": ("linear_logit", "logit"),
    "models.ties": ("efron", "breslow"),
    "models.selection": ("univariable_p", "all", "none"),
    "models.on_separation": ("report", "drop", "firth"),
}


def _check_semantics(study: Study) -> None:
    file = study.file

    def bad(key, message, value=None):
        return InputError(f"parameter '{key}' {message}", file=file, column=key, value=value)

    if not _SLUG.fullmatch(study.name):
        raise bad("name", "must be a short name of lower-case letters, digits, '_' and '-' "
                  "(it names the output folder), e.g. seer_m0i_caliper01", study.name)
    for key, allowed in _CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(study, section), name)
        if value not in allowed:
            raise bad(key, f"must be one of {', '.join(allowed)}", value)
    m = study.matching
    if not m.enabled and MATCHING_CHAPTER in study.chapters:
        raise bad("matching.enabled", f"is false but chapters lists {MATCHING_CHAPTER}: the "
                  "later chapters would analyse the whole cohort while that chapter reports a "
                  f"matched set; remove {MATCHING_CHAPTER} from chapters (e.g. --set chapters="
                  "[01_cohort, 03_overall_survival, 04_bcsm]) or enable matching", False)
    if m.caliper is not None and not math.isfinite(m.caliper):
        raise bad("matching.caliper", "must be a finite number (or null for no caliper)",
                  m.caliper)
    if m.ratio < 1:
        raise bad("matching.ratio", "must be at least 1", m.ratio)
    if m.caliper is not None and m.caliper <= 0:
        raise bad("matching.caliper", "must be positive (or null for no caliper)", m.caliper)
    if not 0 < study.models.selection_p <= 1:
        raise bad("models.selection_p", "must be in (0, 1]", study.models.selection_p)
    if study.robustness.bootstrap < 2:
        raise bad("robustness.bootstrap", "must be at least 2 replicates",
                  study.robustness.bootstrap)
    if not 0 < study.robustness.alpha < 1:
        raise bad("robustness.alpha", "must be between 0 and 1", study.robustness.alpha)
    if study.governance.min_cell < 1:
        raise bad("governance.min_cell", "must be at least 1", study.governance.min_cell)
    if not study.chapters:
        raise bad("chapters", "must list at least one notebook")
    if not study.outcomes:
        raise bad("outcomes", "must define at least one outcome")
    for name, outcome in study.outcomes.items():
        if outcome.cause is not None and outcome.cause in outcome.competing:
            raise bad(f"outcomes.{name}.competing", "must not contain the cause of interest")
    if study.cohort is not None and study.cohort.years and len(study.cohort.years) != 2:
        raise bad("cohort.years", "must be [first, last]", study.cohort.years)
    if study.cohort is not None:
        from micromet import cohort as cohort_rules

        try:
            cohort_rules.validate_criteria(study.cohort.criteria)
        except InputError as exc:
            raise bad("cohort.criteria", exc.reason) from exc
    e = study.exposure
    if e.levels and e.reference not in e.levels:
        raise bad("exposure.reference", f"must be one of exposure.levels ({', '.join(e.levels)})",
                  e.reference)
    if e.levels and e.exposed not in e.levels:
        raise bad("exposure.exposed", f"must be one of exposure.levels ({', '.join(e.levels)})",
                  e.exposed)
    if e.exposed == e.reference:
        raise bad("exposure.exposed", "must differ from exposure.reference", e.exposed)
    for i, horizon in enumerate(study.models.horizon_months):
        if not (math.isfinite(horizon) and horizon >= 0):
            raise bad(f"models.horizon_months[{i}]", "must be a time of 0 months or more",
                      horizon)
    if study.cohort is not None and len(study.cohort.years) == 2 \
            and study.cohort.years[0] > study.cohort.years[1]:
        raise bad("cohort.years", "must be [first, last] with first <= last", study.cohort.years)
    for name, analysis in study.analyses.items():
        where = f"analyses.{name}"
        if analysis.outcome not in study.outcomes:
            raise bad(f"{where}.outcome", f"must be one of the outcomes "
                      f"({', '.join(study.outcomes)})", analysis.outcome)
        if (analysis.exposure is None) != (analysis.levels is None) and analysis.exposure:
            raise bad(f"{where}.levels", f"must list the levels of {analysis.exposure}, "
                      "reference first")
        if analysis.levels is not None and len(analysis.levels) < 2:
            raise bad(f"{where}.levels", "must name at least two groups, reference first",
                      analysis.levels)
        if analysis.levels is not None and analysis.exposure is None:
            unknown = [lv for lv in analysis.levels if lv not in study.group_levels()]
            if unknown:
                raise bad(f"{where}.levels", f"must be levels of {e.column} "
                          f"({', '.join(study.group_levels())})", unknown[0])
        if analysis.model not in MODELS:
            raise bad(f"{where}.model", f"must be one of {', '.join(MODELS)}", analysis.model)
        if analysis.model == "fine_gray" and study.outcomes[analysis.outcome].cause is None:
            raise bad(f"{where}.model", f"is fine_gray but outcomes.{analysis.outcome} has no "
                      "cause (a competing-risks outcome needs cause and competing)",
                      analysis.model)
        if analysis.selection is not None and analysis.selection not in SELECTIONS:
            raise bad(f"{where}.selection", f"must be one of {', '.join(SELECTIONS)}",
                      analysis.selection)
        if analysis.multivariable is not None:
            missing = [c for c in analysis.multivariable if c not in study.candidates(analysis)]
            if missing:
                raise bad(f"{where}.multivariable", "must be among the analysis's candidate "
                          "covariates (its covariates, or the study's)", missing[0])
    for i, c in enumerate(study.comparisons):
        where = f"comparisons[{i}]"
        if c.outcome not in study.outcomes:
            raise bad(f"{where}.outcome", f"must be one of the outcomes "
                      f"({', '.join(study.outcomes)})", c.outcome)
        if len(c.levels) != 2 or c.levels[0] == c.levels[1]:
            raise bad(f"{where}.levels", "must be two different groups: [reference, exposed]",
                      c.levels)
        unknown = [lv for lv in c.levels if lv not in study.group_levels()]
        if unknown:
            raise bad(f"{where}.levels", f"must be levels of {e.column} "
                      f"({', '.join(study.group_levels())})", unknown[0])
        model = c.model or study.default_model(c.outcome)
        if model not in MODELS:
            raise bad(f"{where}.model", f"must be one of {', '.join(MODELS)}", c.model)
        if model == "fine_gray" and study.outcomes[c.outcome].cause is None:
            raise bad(f"{where}.model", f"is fine_gray but outcomes.{c.outcome} has no cause",
                      c.model)
    _check_columns(study, bad)
    if not study.synthetic and "://" in study.source:
        raise bad("source", "must be a path or synthetic://<name>?seed=<n>", study.source)


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def source_columns(study: Study) -> set[str] | None:
    """The columns of the analysis frame the study's source provides (None: not known before
    reading): a SEER*Stat export's tidy frame, or what an institutional series' mapping names."""
    if study.series is None:
        if study.synthetic and study.synthetic_spec[0] != "seer_m0i":
            return None  # a generator micromet does not know: its columns are its own
        from micromet.seer import ANALYSIS_COLUMNS

        return set(ANALYSIS_COLUMNS)
    if not isinstance(study.series, dict):
        return None
    columns = {"patient_id", "time_months", "event", "event_type"}
    exposure = study.series.get("exposure") or {}
    if isinstance(exposure, dict):
        columns.add(str(exposure.get("name") or exposure.get("column")))
        columns |= {str(k) for k in (exposure.get("derived") or {})}
    columns |= {str(k) for k in (study.series.get("covariates") or {})}
    return columns


def _check_columns(study: Study, bad) -> None:
    """Every column the study names exists in what its source provides."""
    known = source_columns(study)
    if known is None:
        return
    named: list[tuple[str, str]] = [("exposure.column", study.exposure.column)]
    named += [(f"covariates[{i}]", c) for i, c in enumerate(study.covariates)]
    named += [(f"matching.covariates[{i}]", c)
              for i, c in enumerate(study.matching.covariates or [])]
    named += [(f"table_one.continuous[{i}]", c)
              for i, c in enumerate(study.table_one.continuous)]
    named += [(f"table_one.categorical[{i}]", c)
              for i, c in enumerate(study.table_one.categorical)]
    for name, outcome in study.outcomes.items():
        named += [(f"outcomes.{name}.time", outcome.time), (f"outcomes.{name}.event",
                                                             outcome.event)]
    if study.cohort is not None:
        for i, criterion in enumerate(study.cohort.criteria):
            where = f"cohort.criteria[{i}]"
            if "column" in criterion:
                named.append((f"{where}.column", str(criterion["column"])))
            notna = criterion.get("notna")
            if isinstance(notna, list):
                named += [(f"{where}.notna", str(c)) for c in notna]
    for name, analysis in study.analyses.items():
        named += [(f"analyses.{name}.covariates[{i}]", c)
                  for i, c in enumerate(analysis.covariates or [])]
        named += [(f"analyses.{name}.multivariable[{i}]", c)
                  for i, c in enumerate(analysis.multivariable or [])]
        if analysis.exposure:
            named.append((f"analyses.{name}.exposure", analysis.exposure))
    for i, comparison in enumerate(study.comparisons):
        named += [(f"comparisons[{i}].covariates[{j}]", c)
                  for j, c in enumerate(comparison.covariates)]
    if study.models.cluster not in (None, "subclass"):
        named.append(("models.cluster", study.models.cluster))
    for key, column in named:
        if column not in known:
            raise bad(key, f"names a column the source does not provide (known: "
                           f"{', '.join(sorted(known))})", column)
