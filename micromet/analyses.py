"""The analyses shared by the chapters: descriptive tables by group beside the published ones,
the univariable screen and multivariable model (one Table 3/4 builder for Cox and Fine-Gray),
the sentences that say what was fitted (the paper's numbers beside ours: micromet.paper).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import pandas as pd

from micromet.paper import (
    ARTEFACT_NOTE,
    beside_paper,
    forest_rows,
    models_published,
    models_vs_published,
    paper_hr_text,
    paper_says,
    paper_value,
    published_artefacts,
)
from micromet.report import fmt_count, fmt_hr, fmt_p, plain_value, warning_notes
from micromet.study import Study


def followup(data: pd.DataFrame, study: Study) -> dict:
    """Median follow-up (IQR, max) of ``data``, by reverse Kaplan-Meier (``survival``)."""
    from micromet import survival

    names = study.time_outcomes or list(study.outcomes)
    outcome = study.outcomes[names[0]]
    fu = survival.median_followup(data, outcome.time, outcome.event)
    return {"median": fu.median, "q1": fu.q1, "q3": fu.q3, "max": fu.maximum}


def describe_groups(data: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, dict]:
    """Table 1/2 in the paper's layout, and its numbers (per variable: quartiles or counts per
    group, and the test's p) for summaries and the published-vs-reproduced comparison."""
    from micromet import describe

    e = study.exposure
    levels = e.levels or [e.reference, e.exposed]
    t1 = study.table_one
    raw = describe.table_one(data, e.column, t1.continuous, t1.categorical,
                             labels=study.labels, levels=levels)
    table = describe.format_table_one(raw).set_index("Variable")
    table.attrs["raw"] = raw
    return table, _table_numbers(raw, levels)


def _table_numbers(raw: pd.DataFrame, levels: list[str]) -> dict:
    out: dict[str, Any] = {"n": [int(raw.attrs["n"][lv]) for lv in levels], "continuous": {},
                           "categorical": {}}
    for var, block in raw.groupby("variable", sort=False):
        first = block.iloc[0]
        p = plain_value(float(first["p"]))
        if first["kind"] == "continuous":
            out["continuous"][var] = {
                stat: [plain_value(float(first[f"{stat}[{lv}]"])) for lv in levels]
                for stat in ("median", "q1", "q3")}
            out["continuous"][var]["p"] = p
        else:
            counts = {str(r["level"]): [int(r[f"n[{lv}]"]) for lv in levels]
                      for _, r in block.iterrows()}
            out["categorical"][var] = {"counts": counts, "p": p}
    return out


def conditioning_record(fit) -> dict:
    """The scaled condition number and VIFs of a fitted model, for results.json."""
    cond = getattr(fit, "conditioning", None)
    if cond is None:
        return {}
    return {"scaled_condition_number": cond.scaled_condition_number, "vif": dict(cond.vif),
            "unstable": cond.unstable}


def model_rows(table: pd.DataFrame, not_estimable: dict | None = None) -> dict[str, list]:
    """``{term: [hr, lower, upper, p]}`` of a model table (cox/fine_gray ``.table``); a term
    reported as not estimable is the text "not estimable", never numbers."""
    from micromet.reproducibility import NOT_ESTIMABLE

    not_estimable = not_estimable if not_estimable is not None else \
        table.attrs.get("not_estimable", {})
    out = {}
    for term, row in table.iterrows():
        if term in not_estimable:
            out[str(term)] = NOT_ESTIMABLE
            continue
        out[str(term)] = [plain_value(float(row["hr"])), plain_value(float(row["lower"])),
                          plain_value(float(row["upper"])), plain_value(float(row["p"]))]
    return out


def model_fitter(study: Study, outcome: str, model: str):
    """``fit(data, covariates)`` for ``model`` of ``outcome``: R's ``coxph`` (``micromet.
    survival.cox``) or ``cmprsk::crr`` (``micromet.competing.fine_gray``) with the study's
    choices (ties, cluster, what to do on separation) and its words for the notes."""
    from micromet import competing, survival

    o = study.outcomes[outcome]
    m = study.models
    if model == "cox":
        def fit(d, c):
            return survival.cox(d, o.time, o.event, c, ties=m.ties, cluster=m.cluster,
                                on_separation=m.on_separation, labels=study.labels,
                                event_name="deaths" if o.event == "vital" else "events")
        return fit
    cause = o.cause if o.cause is not None else 1
    names = o.cause_labels or {}
    cause_name = names.get(str(cause)) or names.get(cause)
    on_separation = "report" if m.on_separation == "firth" else m.on_separation

    def fit(d, c):
        return competing.fine_gray(d, o.time, o.event, c, cause=cause,
                                   on_separation=on_separation, labels=study.labels,
                                   event_name=f"{cause_name} deaths" if cause_name else None)
    return fit


def analysis_data(data: pd.DataFrame, column: str, levels: list[str]) -> pd.DataFrame:
    """The patients of ``levels`` of ``column``, which becomes a categorical with those levels
    (the first is the model's reference)."""
    keep = data[column].astype("object").isin(levels)
    d = data.loc[keep].copy() if not keep.all() else data.copy()
    d[column] = pd.Categorical(d[column].astype("object"), categories=levels)
    return d


@dataclass
class RegressionTable:
    """A regression table as a chapter shows it (the paper's Table 3 or 4): the univariable
    table, the multivariable result, the covariates chosen, the notes beside it, the table in
    the paper's layout, the comparison with the paper, and the summary numbers."""

    name: str
    analysis: Any
    uni: pd.DataFrame
    multi: Any
    chosen: list[str]
    notes: list[str]
    table: pd.DataFrame
    vs_published: pd.DataFrame
    summary: dict
    selection_text: str
    term: str  # the term of the level of interest (e.g. m_stage[M0(i+)])
    call: str = ""  # the multivariable model as a call of micromet (what was fitted)
    beside_paper: pd.DataFrame | None = None  # the paper's layout, its numbers beside ours
    forest: pd.DataFrame | None = None  # paper vs reproduced, multivariable, for a forest plot
    published: dict | None = None  # the paper's rows of this table
    csv: str = ""  # tables/<name>_vs_paper.csv, for the page's download link
    study: Any = None  # the study whose table this is (its labels, for the sentences)

    @property
    def title(self) -> str:
        return self.analysis.title or self.name


def regression_table(study: Study, name: str, data: pd.DataFrame) -> RegressionTable:
    """The study's regression table ``name`` (``study.analyses_of``; the default one of an
    outcome when the study declares none): univariable fits of the candidates, the
    multivariable model by the analysis's rule, notes (not estimable, unstable, the paper's
    artefacts), the Table 3/4 layout and published-vs-reproduced (``published.<outcome>.models.
    <name>``)."""
    analysis = study.analysis_named(name)
    column, levels = study.group_column(analysis), study.group_levels(analysis)
    data = analysis_data(data, column, levels)
    covs = study.candidates(analysis)
    published = models_published(study, analysis.outcome, name)
    uni, multi, chosen, notes = screen_and_fit(
        model_fitter(study, analysis.outcome, analysis.model), data, study, covs,
        selection=study.selection(analysis), multivariable=analysis.multivariable,
        exposure=column)
    notes = list(dict.fromkeys(notes))
    if study.models.on_separation == "firth" and analysis.model == "fine_gray" and (
            getattr(multi, "not_estimable", None) or uni.attrs.get("not_estimable")):
        notes.append("Firth's correction (models.on_separation: firth) is available for Cox "
                     "models only; in the Fine-Gray models the terms that cannot be estimated "
                     "are reported as such.")
    artefacts = published_artefacts(published)
    if artefacts:
        notes.append(ARTEFACT_NOTE.format(terms=", ".join(artefacts)))
    from micromet.design import design_matrix

    references = {str(k): str(v) for k, v in design_matrix(
        data, [c for c in covs if c != column] + [column], check_aliasing=False).reference.items()}
    summary = {
        "univariable": model_rows(uni),
        "multivariable": model_rows(multi.table, getattr(multi, "not_estimable", None))
        if multi is not None else {},
        "multivariable_conditioning": conditioning_record(multi),
        "multivariable_covariates": chosen,
        "references": references,
    }
    return RegressionTable(
        name=name, analysis=analysis, uni=uni, multi=multi, chosen=chosen, notes=notes,
        table=model_table(uni, multi, data, covs, column, study.label),
        vs_published=models_vs_published(uni, multi, published), summary=summary,
        selection_text=selection_sentence(study, analysis), term=f"{column}[{levels[1]}]",
        call=model_call(study, analysis.outcome, analysis.model, chosen) if chosen else "",
        beside_paper=beside_paper(uni, multi, published, study, references,
                                  "HR" if analysis.model == "cox" else "SHR") if published
        else None,
        forest=forest_rows(uni, multi, published, study, references) if published else None,
        published=published, study=study)


def outcome_models(study: Study, outcome: str, data: pd.DataFrame, output_dir):
    """The regression tables of ``outcome`` (each beside the paper saved as
    ``tables/<name>_vs_paper.csv`` for its download link), its comparisons of two groups, and
    their notes, once each: what chapters 3 and 4 fit for an outcome."""
    from micromet.store import save_table

    tables = {name: regression_table(study, name, data) for name in study.analyses_of(outcome)}
    for name, t in tables.items():
        if t.beside_paper is not None:
            t.csv = save_table(t.beside_paper, output_dir, f"{name}_vs_paper")
    pairs = comparison_table(study, outcome, data)
    notes = list(dict.fromkeys([n for t in tables.values() for n in t.notes] + pairs.notes))
    return tables, pairs, notes


def model_call(study: Study, outcome: str, model: str, covariates: list[str]) -> str:
    """The fit of :func:`model_fitter` written as the call a reader can run again, e.g.
    ``survival.cox(data, "time_months", "vital", ["age", "m_stage"], ties="efron")``."""
    o, m = study.outcomes[outcome], study.models
    covs = "[" + ", ".join(f'"{c}"' for c in covariates) + "]"
    head = f'(data, "{o.time}", "{o.event}", {covs}'
    if model == "cox":
        extra = f', ties="{m.ties}"' + (f', cluster="{m.cluster}"' if m.cluster else "")
        if m.on_separation != "report":
            extra += f', on_separation="{m.on_separation}"'
        return f"survival.cox{head}{extra})"
    extra = f", cause={o.cause if o.cause is not None else 1}"
    if m.on_separation == "drop":
        extra += ', on_separation="drop"'
    return f"competing.fine_gray{head}{extra})"


def effect_summary(study: Study, outcome: str, tables: dict, comparisons: dict,
                   test: tuple[str, float, object]) -> str:
    """A chapter's opening lines: the exposure effect on ``outcome`` (the first regression
    table's multivariable estimate of the exposure, else the comparison of the exposed with the
    reference group) beside the paper's, and the test of the groups beside the paper's p.
    ``test``: (name, p, the paper's p or None)."""
    from micromet.report import _hr_text

    e, o = study.exposure, study.outcomes[outcome]
    ratio = "SHR" if o.cause is not None else "HR"
    where = f"{o.label}, {e.exposed} vs {e.reference}: "
    text = ""
    for t in tables.values():
        if t.term != f"{e.column}[{e.exposed}]" or t.multi is None:
            continue
        paper = ((t.published or {}).get("multivariable") or {}).get(t.term)
        text = (f"{where}{ratio} {_hr_text(t.multi.table, t.term)} in the multivariable model"
                + paper_says(True, paper_hr_text(paper)) * bool(paper_hr_text(paper)))
        break
    name = f"{e.exposed} vs {e.reference}"
    if not text and name in comparisons:
        row = comparisons[name]
        paper = paper_value(study, outcome, "comparisons", name)
        if isinstance(row, list):
            shown = f"{fmt_hr(*row[:3])}, {fmt_p(row[3], label='p')}"
        else:
            shown = str(row)
        text = (f"{where}{ratio} {shown} (univariable, the two groups)"
                + paper_says(True, paper_hr_text(paper)) * bool(paper_hr_text(paper)))
    test_name, p, paper_p = test
    tail = f"{test_name} {fmt_p(p, label='p')}" + paper_says(paper_p)
    return (text + "; " + tail if text else f"{o.label}: {tail}") + "."


def comparisons_text(study: Study, outcome: str) -> str:
    """The paragraph before the comparisons of two groups and the regression tables of
    ``outcome``: what each is, in words."""
    competing_risks = study.outcomes[outcome].cause is not None
    tables = ("Each regression table of the study file gives "
              + ("the subdistribution hazard ratios (Fine-Gray, as R's cmprsk::crr) "
                 if competing_risks else "the hazard ratios (Cox, Efron ties, as R's coxph) ")
              + "of every candidate covariate alone (univariable) and of the multivariable "
              "model, beside the paper's numbers where it gives them.")
    found = study.comparisons_of(outcome)
    if not found:
        return tables
    names = "; ".join(c.name for c in found)
    test = "Gray's test" if competing_risks else "the log-rank test"
    return (f"Each comparison of two groups ({names}) is a model of the patients of those two "
            f"groups alone, with {test} beside it. {tables}")


@dataclass
class Comparisons:
    """The study's comparisons of two groups for one outcome (``study.comparisons``): the table
    as shown, and per comparison its numbers (``[hr, lower, upper, p]`` or "not estimable")."""

    table: pd.DataFrame
    summary: dict
    tests: dict  # name -> p of the log-rank or Gray test
    notes: list


def comparison_table(study: Study, outcome: str, data: pd.DataFrame) -> Comparisons:
    """Each comparison of ``outcome``: the patients of its two groups, the model (Cox: R's
    ``coxph``; Fine-Gray: ``cmprsk::crr``) of the exposure and the comparison's covariates, and
    the test of the groups beside it (log-rank: ``survdiff``; Gray: ``cuminc``). Small counts
    are masked for a real source."""
    from micromet import competing, survival
    from micromet.errors import NotEstimableWarning
    from micromet.reproducibility import NOT_ESTIMABLE

    o = study.outcomes[outcome]
    column = study.exposure.column
    rows, summary, tests, notes = [], {}, {}, []
    for c in study.comparisons_of(outcome):
        d = analysis_data(data, column, c.levels)
        model = c.model or study.default_model(outcome)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = model_fitter(study, outcome, model)(d, [*c.covariates, column])
        notes += warning_notes(caught, NotEstimableWarning)
        if model == "cox":
            test, test_name = survival.logrank(d, o.time, o.event, column).p_value, "log-rank"
        else:
            test = competing.gray_test(d, o.time, o.event, column, cause=o.cause).p_value
            test_name = "Gray"
        term = f"{column}[{c.exposed}]"
        r = fit.table.loc[term]
        ev = pd.to_numeric(d[o.event])
        events = int((ev == o.cause).sum() if o.cause is not None else (ev != 0).sum())
        estimable = term not in (getattr(fit, "not_estimable", None) or {})
        summary[c.name] = ([plain_value(float(r[k])) for k in ("hr", "lower", "upper", "p")]
                           if estimable else NOT_ESTIMABLE)
        ratio = "HR" if model == "cox" else "SHR"
        adjusted = ", ".join(study.label(v) for v in c.covariates) or "none"
        rows.append({"comparison": c.name, "patients": fmt_count(len(d), study),
                     "events": fmt_count(events, study),
                     f"{ratio} (95% CI)": fmt_hr(r["hr"], r["lower"], r["upper"])
                     if estimable else "not estimable",
                     "p (Wald)": fmt_p(r["p"]) if estimable else "-",
                     "test": test_name, "p (test)": fmt_p(test), "adjusted for": adjusted})
        tests[c.name] = plain_value(float(test))
    table = pd.DataFrame(rows).set_index("comparison") if rows else pd.DataFrame()
    if not table.empty and (table["adjusted for"] == "none").all():
        table = table.drop(columns="adjusted for")
    return Comparisons(table=table, summary=summary, tests=tests,
                       notes=list(dict.fromkeys(notes)))


def selection_sentence(study: Study, analysis) -> str:
    """How the multivariable model's covariates were chosen, in words for the chapter."""
    rule = study.selection(analysis)
    group = study.label(study.exposure.column).lower()
    if analysis.multivariable is not None:
        names = ", ".join(study.label(c) for c in analysis.multivariable)
        return (f"then together the covariates the paper names ({names}) with the {group} "
                f"(multivariable, fixed in advance)")
    if rule == "all":
        names = ", ".join(study.label(c) for c in study.candidates(analysis))
        return (f"then together the covariates fixed in advance ({names}) with the {group} "
                f"(multivariable)")
    if rule == "none":
        return f"then the {group} alone (no multivariable adjustment)"
    return (f"then together those with a univariable p below {study.models.selection_p:g}, "
            f"the {group} always kept (multivariable)")


def screen(fit, data: pd.DataFrame, covariates: list[str], exposure: str, *,
           selection: str = "univariable_p", selection_p: float = 0.05,
           force_exposure: bool = True, multivariable: list[str] | None = None):
    """The Table 3/4 procedure without a Study: each covariate and the exposure fitted alone
    (univariable), then the multivariable model of the covariates that pass ``selection``:

    * ``"univariable_p"``: any of the covariate's terms has a univariable p < ``selection_p``;
    * ``"all"``: every covariate; ``"none"``: none (the exposure alone, if it enters).

    The exposure enters when ``force_exposure`` or when it passes the same p rule. With
    ``multivariable`` (covariates fixed in advance) the multivariable model is those and the
    exposure, and ``selection`` is not used.
    ``fit(data, covariates) -> result with .table`` (``survival.cox``, ``competing.fine_gray``,
    ...). Returns (uni_table, multi_result or None, chosen, notes): the univariable tables
    stacked (covariates first, the exposure last; ``attrs["not_estimable"]`` term -> reason),
    the covariates of the multivariable model and the not-estimable/unstable warnings' texts."""
    from micromet.errors import InputError, NotEstimableWarning, UnstableWarning
    from micromet.study import SELECTIONS

    if selection not in SELECTIONS:
        raise InputError(f"selection must be one of {', '.join(SELECTIONS)}, not {selection!r}",
                         column="models.selection", value=selection)
    candidates = [c for c in covariates if c != exposure] + [exposure]
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        uni_results = {c: fit(data, [c]) for c in candidates}
    notes += warning_notes(caught, NotEstimableWarning)
    uni = pd.concat([uni_results[c].table for c in candidates])
    uni.attrs["not_estimable"] = {term: why for c in candidates
                                  for term, why in getattr(uni_results[c], "not_estimable",
                                                           {}).items()}

    def passes(c) -> bool:
        return bool((uni_results[c].table["p"] < selection_p).any())

    if multivariable is not None:
        chosen = [c for c in multivariable if c != exposure]
    elif selection == "all":
        chosen = [c for c in candidates if c != exposure]
    elif selection == "none":
        chosen = []
    else:
        chosen = [c for c in candidates if c != exposure and passes(c)]
    if multivariable is not None or force_exposure or passes(exposure):
        chosen = chosen + [exposure]
    multi = None
    if chosen:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            multi = fit(data, chosen)
        notes += warning_notes(caught, NotEstimableWarning)
        notes += warning_notes(caught, UnstableWarning)
    return uni, multi, chosen, notes


def screen_and_fit(fit, data: pd.DataFrame, study: Study, covariates: list[str], *,
                   selection: str | None = None, multivariable: list[str] | None = None,
                   exposure: str | None = None):
    """:func:`screen` with the study's rules: the univariable fits of each covariate and of the
    exposure (``exposure``, default the study's), then the multivariable model of the
    covariates passing ``selection`` (default ``models.selection``; ``models.selection_p``), the
    exposure forced in unless ``models.force_exposure`` is false; or, with ``multivariable``,
    of those covariates (fixed in advance) and the exposure. Returns (uni_table, multi_result,
    chosen, notes)."""
    m = study.models
    return screen(fit, data, covariates, exposure or study.exposure.column,
                  selection=selection or m.selection, selection_p=m.selection_p,
                  force_exposure=m.force_exposure, multivariable=multivariable)


def model_table(uni: pd.DataFrame, multi, data: pd.DataFrame, covariates: list[str],
                exposure: str, labels=None) -> pd.DataFrame:
    """Table 3/4 layout without a Study: rows (variable, level), a categorical covariate's
    reference level first ("1 (reference)"), columns Univariable/Multivariable x HR (95% CI)/p
    (:func:`micromet.formatting.fmt_hr`, :func:`~micromet.formatting.fmt_p`); "-" for a
    covariate left out of the multivariable model, "not estimable" for a term without an
    estimate. ``multi``: the multivariable result, its table, or None; ``labels``: a mapping
    or function from a column to its printed name."""
    from micromet.design import design_matrix

    label = labels if callable(labels) else (lambda c: (labels or {}).get(c, c))
    candidates = [c for c in covariates if c != exposure] + [exposure]
    design = design_matrix(data, candidates, check_aliasing=False)
    mtab = getattr(multi, "table", multi)
    if mtab is None:
        mtab = pd.DataFrame(columns=uni.columns)
    rows, index = [], []
    for cov in candidates:
        terms = [t for t in design.all_terms if design.covariate_of[t] == cov]
        in_multi = any(t in mtab.index for t in terms)
        if cov in design.reference:
            index.append((label(cov), str(design.reference[cov])))
            rows.append(["1 (reference)", "", "1 (reference)" if in_multi else "-",
                         "" if in_multi else "-"])
        for term in terms:
            level = term[len(cov) + 1:-1] if term != cov else ("per unit")
            index.append((label(cov), level))
            row = []
            for tab, present in ((uni, True), (mtab, in_multi)):
                if present and term in tab.index:
                    r = tab.loc[term]
                    row += [fmt_hr(r["hr"], r["lower"], r["upper"]), fmt_p(r["p"])]
                else:
                    row += ["-", "-"]
            rows.append(row)
    cols = pd.MultiIndex.from_product([["Univariable", "Multivariable"], ["HR (95% CI)", "p"]])
    return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["variable", "level"]),
                        columns=cols)


def term_label(term: str, study: Study) -> str:
    """``grade[III]`` -> ``Grade: III``; ``age`` -> ``Age, years``; ``distance`` kept."""
    if term == "distance":
        return "distance (logit of the propensity score)"
    if term.endswith("]") and "[" in term:
        column, level = term[:-1].split("[", 1)
        return f"{study.label(column)}: {level}"
    return study.label(term)


def exposure_term(study: Study) -> str:
    """The term of the study's exposed group, e.g. ``m_stage[M0(i+)]``."""
    return f"{study.exposure.column}[{study.exposure.exposed}]"


def _ph_table(survival, multi, data, outcome) -> pd.DataFrame:
    """``cox.zph(fit)`` (R's default ``transform = "km"``) of the multivariable Cox model."""
    if multi is None:
        return pd.DataFrame({"note": ["no multivariable model to test"]})
    if getattr(multi, "_model", None) is None:  # Firth's penalized fit: no cox.zph analogue
        return pd.DataFrame({"note": ["proportional-hazards test not available for Firth's "
                                      "penalized fit"]})
    return survival.ph_test(multi, transform="km").table.round(4)


def ph_sentence(ph: pd.DataFrame, study: Study, alpha: float = 0.05) -> str:
    """How the proportional-hazards test reads (``cox.zph``): which covariates' scaled
    Schoenfeld residuals trend with time at ``alpha``, and the global test."""
    if "p" not in ph.columns:
        return "The proportional-hazards test is not available for this model."
    rows = ph.drop(index="GLOBAL", errors="ignore")
    flagged = [study.label(str(t)) for t, p in rows["p"].items() if p < alpha]
    glob = ph.loc["GLOBAL", "p"] if "GLOBAL" in ph.index else None
    text = (f"The global test {fmt_p(glob, label='p')}" if glob is not None else "The test")
    if not flagged:
        return text + f"; no covariate's effect changes with time at the {alpha:g} level."
    names = flagged[0] if len(flagged) == 1 else ", ".join(flagged[:-1]) + " and " + flagged[-1]
    return (text + f"; the effect of {names} changes with time (p < {alpha:g}): its hazard "
            "ratio is an average over follow-up, and the other estimates are adjusted for it "
            "only on average. A stratified model or a time-varying effect would be the next "
            "step; the exposure's estimate is read with that in mind.")


def covariates_sentence(table, study: Study) -> str:
    """The multivariable covariates of this run beside those of the paper's model."""
    ours = [study.label(c) for c in table.chosen if c != study.group_column(table.analysis)]
    paper_terms = list((table.published or {}).get("multivariable") or {})
    paper = list(dict.fromkeys(study.label(t.split("[")[0]) for t in paper_terms
                               if t.split("[")[0] != study.group_column(table.analysis)))
    text = f"This run's multivariable model adjusts for {', '.join(ours) or 'nothing'}"
    if paper_terms:
        same = set(paper) == set(ours)
        text += (f"; the paper's for {', '.join(paper)}"
                 + (" (the same covariates)" if same else
                    " (a different set: the univariable screen selects on this run's data)"
                    if study.selection(table.analysis) == "univariable_p"
                    and table.analysis.multivariable is None else " (a different set)"))
    return text + "."
