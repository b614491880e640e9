"""Chapter 4: cumulative incidence, Gray's test and Fine-Gray models (Table 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from micromet import governance
from micromet.analyses import (
    analysis_data,
    comparisons_text,
    effect_summary,
    outcome_models,
)
from micromet.chapters.matching import analysed_set
from micromet.paper import (
    paper_value,
)
from micromet.report import (
    _cif_display,
    _hr_text,
    _masked,
    fmt_count,
    fmt_p,
    nothing_drawn,
    published_size,
    records_of,
    rounded,
    source_words,
    without_small_groups,
)
from micromet.store import save_summary
from micromet.study import Study


@dataclass
class CompetingChapter:
    """Chapter 4 for one outcome with a cause. ``gray``: Gray's test between the outcome's
    ``groups`` (all groups when it names none), ``gray_all``: across all groups when that
    differs; ``tables``: the outcome's regression tables by name (``uni``, ``multi``,
    ``fine_gray_table`` and ``fine_gray_vs_published`` are the first one's: the paper's Table
    4); ``comparisons``: the study's comparisons of two groups."""

    study: Study
    data: pd.DataFrame
    cif: pd.DataFrame
    gray: Any
    uni: pd.DataFrame | None
    multi: Any
    fine_gray_table: pd.DataFrame
    fine_gray_vs_published: pd.DataFrame
    cif_table: pd.DataFrame
    glue: dict
    headline: dict
    summary: dict
    outcome: Any = None
    notes: list = field(default_factory=list)
    tables: dict = field(default_factory=dict)
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    gray_all: Any = None
    gray_table: pd.DataFrame = field(default_factory=pd.DataFrame)
    outcome_name: str = ""


def bcsm_chapter(study: Study, output_dir=".", outcome: str | None = None, *,
                 data: pd.DataFrame | None = None, cif: pd.DataFrame | None = None,
                 gray=None) -> CompetingChapter:
    """Cumulative incidence, Gray's test, the comparisons of two groups and the regression
    tables (univariable/multivariable Fine-Gray) of ``outcome`` (default: the study's first
    outcome with a cause). ``data`` (the analysed set), ``cif`` (``competing.cuminc``) and
    ``gray`` (``competing.gray_test`` between :func:`gray_groups`) may be given, as the
    chapter's notebook computes them in view of the reader."""
    from micromet import competing

    outcome = outcome or study.competing_outcomes[0]
    data = analysed_set(study, output_dir) if data is None else data
    o = study.outcomes[outcome]
    e = study.exposure.column
    cause = o.cause if o.cause is not None else 1
    ci = competing.cuminc(data, o.time, o.event, e) if cif is None else cif
    levels = study.group_levels()
    groups = gray_groups(study, outcome)
    if gray is None:
        gray = competing.gray_test(analysis_data(data, e, groups), o.time, o.event, e,
                                   cause=cause)
    gray_all = (competing.gray_test(data, o.time, o.event, e, cause=cause)
                if len(groups) < len(levels) else None)
    horizons = study.models.horizon_months or [12, 24, 36, 48]
    at = competing.timepoints(ci, horizons)
    at = at[at["cause"] == cause] if "cause" in getattr(at, "columns", ()) else at
    tables, pairs, notes = outcome_models(study, outcome, data, output_dir)
    first = next(iter(tables.values()), None)
    ev = pd.to_numeric(data[o.event])
    n_cause = int((ev == cause).sum())
    n_comp = int(ev.isin(o.competing).sum())
    summary = {
        "n": len(data), "events_cause": n_cause, "events_competing": n_comp,
        "gray": {"groups": groups, "statistic": gray.statistic, "df": gray.df,
                 "p": gray.p_value},
        "models": {name: t.summary for name, t in tables.items()},
        "cif_at": records_of(at.reset_index(drop=isinstance(at.index, pd.RangeIndex)))
        if isinstance(at, pd.DataFrame) else [],
    }
    if gray_all is not None:
        summary["gray_all_groups"] = {"statistic": gray_all.statistic, "df": gray_all.df,
                                      "p": gray_all.p_value}
    if pairs.summary:
        summary["comparisons"], summary["comparison_tests"] = pairs.summary, pairs.tests
    save_summary(summary, output_dir, outcome, study,
                 published=dict(summary, n=published_size(data, study)))
    real = not study.synthetic
    mc = study.governance.min_cell
    names = {str(k): v for k, v in o.cause_labels.items()}
    glue = {
        "summary_text": effect_summary(
            study, outcome, tables, pairs.summary,
            (f"Gray's test ({' vs '.join(groups)})", gray.p_value,
             paper_value(study, outcome, "gray", "p"))),
        "cif_caption": (f"Cumulative incidence of {names.get(str(cause), f'cause {cause}')} by "
                        f"group ({', '.join(levels)})"
                        + (f", {names.get(str(o.competing[0]), 'the competing event')} competing "
                           "(dashed)" if len(o.competing) == 1 else ", other first events "
                           "competing")
                        + f"; Gray's test, {' vs '.join(groups)}: "
                        + f"{fmt_p(gray.p_value, label='p')}. " + source_words(study)),
        "outcome_label": o.label, "outcome_label_lower": o.label[:1].lower() + o.label[1:],
        "cause_name": names.get(str(cause), f"cause {cause}"),
        "events_cause": fmt_count(n_cause, study), "events_competing": fmt_count(n_comp, study),
        "gray_p": fmt_p(gray.p_value, label="p"), "gray_groups": " vs ".join(groups),
        "gray_chisq": f"{gray.statistic:.2f}",
        "comparisons_text": comparisons_text(study, outcome),
    }
    head = {
        "events of interest": governance.mask_leaves(n_cause, min_cell=mc, real=real),
        "competing events": governance.mask_leaves(n_comp, min_cell=mc, real=real),
        "Gray p": rounded(gray.p_value, 3),
    }
    if gray_all is not None:
        head["Gray p, all groups"] = rounded(gray_all.p_value, 3)
    for name, t in tables.items():
        multi_table = t.multi.table if t.multi is not None else None
        head[f"{name}: sHR univariable"] = _hr_text(t.uni, t.term)
        head[f"{name}: sHR multivariable"] = _hr_text(multi_table, t.term)
        head[f"{name}: multivariable covariates"] = ", ".join(t.chosen)
    if first is not None:
        glue["selection_text"] = first.selection_text
        glue["shr_uni"] = _hr_text(first.uni, first.term)
        glue["shr_multi"] = _hr_text(first.multi.table if first.multi is not None else None,
                                     first.term)
    return CompetingChapter(
        study=study, data=data, cif=ci, gray=gray,
        uni=first.uni if first else None, multi=first.multi if first else None,
        fine_gray_table=first.table if first else pd.DataFrame(),
        fine_gray_vs_published=first.vs_published if first else pd.DataFrame(),
        cif_table=_cif_display(at, study),
        glue=glue, headline=head, summary=summary, outcome=o, notes=notes,
        tables=tables, comparisons=pairs.table, gray_all=gray_all,
        gray_table=_gray_display(groups, gray, gray_all), outcome_name=outcome,
    )


def gray_groups(study: Study, outcome: str | None = None) -> list[str]:
    """The groups Gray's test compares: the outcome's ``groups``, else every group."""
    o = study.outcomes[outcome or study.competing_outcomes[0]]
    return list(o.groups) or study.group_levels()


def _gray_display(groups, gray, gray_all) -> pd.DataFrame:
    """Gray's tests as shown: the groups compared, chi-square (3 decimals), df, p."""
    rows = [(" vs ".join(groups), gray)]
    if gray_all is not None:
        rows.append(("all groups", gray_all))
    return pd.DataFrame({"groups": [g for g, _ in rows],
                         "chi-square": [round(t.statistic, 3) for _, t in rows],
                         "df": [t.df for _, t in rows],
                         "p": [fmt_p(t.p_value) for _, t in rows]}).set_index("groups")


def cif_figure(result: CompetingChapter):
    """Cumulative incidence of the cause of interest by group (the paper's Figure 4), the
    competing cause dashed when there is one, numbers at risk beneath, Gray's test of the groups
    it compares; groups in the study's order and colours."""
    from micromet import plots_competing, plots_style

    s, o = result.study, result.outcome
    names = {int(k): v for k, v in o.cause_labels.items()} or None
    cif, hidden, data = result.cif, [], result.data
    if not s.synthetic:  # a small group's curve steps once per patient's event
        data, hidden = without_small_groups(result.data, s)
        cif = cif[~cif["group"].astype("object").isin(hidden)]
        cif.attrs = dict(result.cif.attrs)
        if cif.empty:
            return nothing_drawn(hidden, s)
    note = (f"Not drawn (fewer than {s.governance.min_cell} patients): "
            + ", ".join(map(str, hidden))) if hidden else None
    # the competing cause is drawn (dashed) when there is one; several would crowd the figure
    ax = plots_competing.cif_plot(
        cif, cause=o.cause or 1, gray_p=result.gray.p_value,
        competing=len(o.competing) == 1, cause_labels=names,
        ylabel=f"Cumulative incidence ({o.label})",
        levels=[lv for lv in s.group_levels() if lv not in hidden],
        group_label=s.exposure.label, gray_label=gray_groups(s, result.outcome_name or None),
        data=data, duration=o.time, group=s.exposure.column,
        times=plots_style.month_ticks(float(result.data[o.time].max())), note=note)
    return _masked(ax.figure, s)
