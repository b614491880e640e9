"""Chapter 3: Kaplan-Meier, log-rank and Cox models (overall survival; Table 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from micromet import governance
from micromet.analyses import (
    _ph_table,
    comparisons_text,
    effect_summary,
    followup,
    outcome_models,
    ph_sentence,
)
from micromet.chapters.competing_risks import nothing_drawn, without_small_groups
from micromet.chapters.matching import analysed_set
from micromet.formatting import fmt_followup
from micromet.paper import (
    paper_value,
)
from micromet.report import (
    _hr_text,
    _masked,
    fmt_count,
    fmt_p,
    median_display,
    plain_value,
    published_size,
    records_of,
    rounded,
    shown_count,
    source_words,
    survival_at_display,
)
from micromet.store import save_summary
from micromet.study import Study


@dataclass
class SurvivalChapter:
    """Chapter 3 for one outcome without a cause. ``tables``: the regression tables of the
    outcome by name (``analyses.RegressionTable``); ``uni``, ``multi``, ``cox_table`` and
    ``cox_vs_published`` are the first one's (the paper's Table 3); ``comparisons``: the study's
    comparisons of two groups."""

    study: Study
    data: pd.DataFrame
    km: pd.DataFrame
    logrank: Any
    uni: pd.DataFrame | None
    multi: Any
    cox_table: pd.DataFrame
    cox_vs_published: pd.DataFrame
    survival_table: pd.DataFrame
    ph_table: pd.DataFrame
    median_table: pd.DataFrame
    at_risk: pd.DataFrame
    glue: dict
    headline: dict
    summary: dict
    outcome: Any = None
    notes: list = field(default_factory=list)
    tables: dict = field(default_factory=dict)
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    outcome_name: str = ""


def os_chapter(study: Study, output_dir=".", outcome: str | None = None, *,
               data: pd.DataFrame | None = None, km: pd.DataFrame | None = None,
               logrank=None) -> SurvivalChapter:
    """Kaplan-Meier, log-rank, the comparisons of two groups, the regression tables
    (univariable/multivariable Cox), follow-up, PH check, for ``outcome`` (default: the
    study's first outcome without a cause). ``data`` (the analysed set), ``km``
    (``survival.km``) and ``logrank`` (``survival.logrank``) may be given, as the chapter's
    notebook computes them in view of the reader."""
    from micromet import survival

    outcome = outcome or study.time_outcomes[0]
    data = analysed_set(study, output_dir) if data is None else data
    o = study.outcomes[outcome]
    e = study.exposure.column
    km = survival.km(data, o.time, o.event, e) if km is None else km
    lr = survival.logrank(data, o.time, o.event, e) if logrank is None else logrank
    tables, pairs, notes = outcome_models(study, outcome, data, output_dir)
    first = next(iter(tables.values()), None)
    fu = followup(data, study)
    horizons = study.models.horizon_months or [12, 24, 36, 48]
    surv = survival.survival_at(km, horizons)
    medians = survival.km_median(data, o.time, o.event, e)
    at_risk = survival.numbers_at_risk(data, o.time, o.event, e,
                                       times=[0, *horizons])
    ph = _ph_table(survival, first.multi if first else None, data, o)
    events = int((pd.to_numeric(data[o.event]) != 0).sum())
    summary = {
        "n": len(data), "events": events, "logrank": {"statistic": lr.statistic,
                                                       "df": lr.df, "p": lr.p_value},
        "followup": fu,
        "models": {name: t.summary for name, t in tables.items()},
        "median": {str(r["group"]): [plain_value(r[k]) for k in ("median", "lower", "upper")]
                   for _, r in medians.iterrows()},
        "survival_at": records_of(surv),
    }
    if pairs.summary:
        summary["comparisons"], summary["comparison_tests"] = pairs.summary, pairs.tests
    n_shown = published_size(data, study)
    save_summary(summary, output_dir, outcome, study, published=dict(summary, n=n_shown))
    real = not study.synthetic
    mc = study.governance.min_cell
    glue = {
        "summary_text": effect_summary(study, outcome, tables, pairs.summary,
                                       ("log-rank test", lr.p_value,
                                        paper_value(study, outcome, "logrank", "p"))),
        "ph_text": ph_sentence(ph, study),
        "km_caption": (f"Kaplan-Meier estimate of {o.label.lower()} by group "
                       f"({', '.join(study.group_levels())}), with the numbers at risk beneath; "
                       f"log-rank test across the groups {fmt_p(lr.p_value, label='p')}. "
                       + source_words(study)),
        "outcome_label": o.label, "outcome_label_lower": o.label[:1].lower() + o.label[1:],
        "n": shown_count(n_shown, study), "events": fmt_count(events, study),
        "logrank_p": fmt_p(lr.p_value, label="p"), "logrank_df": f"{lr.df:g}",
        "comparisons_text": comparisons_text(study, outcome),
        "followup_median": fmt_followup(fu)["median"], "followup_iqr": fmt_followup(fu)["iqr"],
        "followup_max": fmt_followup(fu)["max"],
    }
    head = {
        "n": governance.mask_leaves(n_shown, min_cell=mc, real=real),
        "events": governance.mask_leaves(events, min_cell=mc, real=real),
        "log-rank p": rounded(lr.p_value, 3),
        "follow-up median (IQR), max": fmt_followup(fu)["line"],
    }
    for name, t in tables.items():
        multi_table = t.multi.table if t.multi is not None else None
        head[f"{name}: HR univariable"] = _hr_text(t.uni, t.term)
        head[f"{name}: HR multivariable"] = _hr_text(multi_table, t.term)
        head[f"{name}: multivariable covariates"] = ", ".join(t.chosen)
    if not pairs.table.empty:
        head["comparisons"] = {k: [rounded(x, 3) if isinstance(x, (int, float)) else x for x in v]
                                   if isinstance(v, list) else v
                               for k, v in pairs.summary.items()}
    if first is not None:
        glue["selection_text"] = first.selection_text
        glue["hr_uni"] = _hr_text(first.uni, first.term)
        glue["hr_multi"] = _hr_text(first.multi.table if first.multi is not None else None,
                                    first.term)
    surv_show = survival_at_display(surv, study)
    return SurvivalChapter(
        study=study, data=data, km=km, logrank=lr,
        uni=first.uni if first else None, multi=first.multi if first else None,
        cox_table=first.table if first else pd.DataFrame(),
        cox_vs_published=first.vs_published if first else pd.DataFrame(),
        survival_table=surv_show, ph_table=ph,
        median_table=median_display(medians, study),
        at_risk=governance.mask_table(at_risk, min_cell=mc, real=real),
        glue=glue, headline=head, summary=summary, outcome=o, notes=notes,
        tables=tables, comparisons=pairs.table, outcome_name=outcome,
    )


def km_figure(result: SurvivalChapter):
    """Kaplan-Meier curves with 95% bands and the numbers at risk (the paper's Figure 3),
    groups in the study's order and colours, ticks across the whole follow-up."""
    from micromet import plots_style, plots_survival

    s, o = result.study, result.outcome
    data, hidden = without_small_groups(result.data, s)
    if data.empty:
        return nothing_drawn(hidden, s)
    levels = [lv for lv in s.group_levels() if lv not in hidden]
    note = (f"Not drawn (fewer than {s.governance.min_cell} patients): "
            + ", ".join(map(str, hidden))) if hidden else None
    plot = plots_survival.km_plot(
        data, o.time, o.event, s.exposure.column,
        times=plots_style.month_ticks(float(result.data[o.time].max())),
        p_value=result.logrank.p_value, ylabel=o.label, levels=levels,
        group_label=s.exposure.label, note=note)
    return _masked(plot.figure, s)
