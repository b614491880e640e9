"""Chapter 3: Kaplan-Meier, log-rank and Cox models (overall survival; Table 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from micromet import governance
from micromet.analyses import (
    _ph_table,
    exposure_term,
    followup,
    regression_table,
)
from micromet.chapters.competing_risks import nothing_drawn, say_hidden, without_small_groups
from micromet.chapters.matching import analysed_set
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
    survival_at_display,
)
from micromet.store import save_summary
from micromet.study import Study


@dataclass
class SurvivalChapter:
    study: Study
    data: pd.DataFrame
    km: pd.DataFrame
    logrank: Any
    uni: pd.DataFrame
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


def os_chapter(study: Study, output_dir=".", outcome: str = "os") -> SurvivalChapter:
    """Kaplan-Meier, log-rank, univariable/multivariable Cox, follow-up, PH check."""
    from micromet import survival

    data = analysed_set(study, output_dir)
    o = study.outcomes[outcome]
    e = study.exposure.column
    km = survival.km(data, o.time, o.event, e)
    lr = survival.logrank(data, o.time, o.event, e)
    reg = regression_table(study, outcome, data)
    uni, multi, notes = reg.uni, reg.multi, list(reg.notes)
    fu = followup(data, study)
    horizons = study.models.horizon_months or [12, 24, 36, 48]
    surv = survival.survival_at(km, horizons)
    medians = survival.km_median(data, o.time, o.event, e)
    at_risk = survival.numbers_at_risk(data, o.time, o.event, e,
                                       times=[0, *horizons])
    ph = _ph_table(survival, multi, data, o)
    events = int((pd.to_numeric(data[o.event]) != 0).sum())
    term = exposure_term(study)
    summary = {
        "n": len(data), "deaths": events, "logrank": {"statistic": lr.statistic,
                                                       "df": lr.df, "p": lr.p_value},
        "followup": fu, **reg.summary,
        "median": {str(r["group"]): [plain_value(r[k]) for k in ("median", "lower", "upper")]
                   for _, r in medians.iterrows()},
        "survival_at": records_of(surv),
    }
    n_shown = published_size(data, study)
    save_summary(summary, output_dir, outcome, study, published=dict(summary, n=n_shown))
    real = not study.synthetic
    mc = study.governance.min_cell
    glue = {
        "n": shown_count(n_shown, study), "deaths": fmt_count(events, study),
        "logrank_p": fmt_p(lr.p_value),
        "followup_median": f"{fu['median']:g}", "followup_iqr": f"{fu['q1']:g}-{fu['q3']:g}",
        "followup_max": f"{fu['max']:g}", "selection_text": reg.selection_text,
        "hr_uni": _hr_text(uni, term),
        "hr_multi": _hr_text(multi.table if multi is not None else None, term),
    }
    head = {
        "n": governance.mask_leaves(n_shown, min_cell=mc, real=real),
        "deaths": governance.mask_leaves(events, min_cell=mc, real=real),
        "log-rank p": rounded(lr.p_value, 3),
        "follow-up median (IQR), max": f"{fu['median']:g} ({fu['q1']:g}-{fu['q3']:g}), "
                                       f"{fu['max']:g}",
        "HR univariable": _hr_text(uni, term),
        "HR multivariable": _hr_text(multi.table if multi is not None else None, term),
        "multivariable covariates": ", ".join(reg.chosen),
    }
    surv_show = survival_at_display(surv, study)
    return SurvivalChapter(
        study=study, data=data, km=km, logrank=lr, uni=uni, multi=multi,
        cox_table=reg.table, cox_vs_published=reg.vs_published,
        survival_table=surv_show, ph_table=ph,
        median_table=median_display(medians, study),
        at_risk=governance.mask_table(at_risk, min_cell=mc, real=real),
        glue=glue, headline=head, summary=summary, outcome=o, notes=notes,
    )


def km_figure(result: SurvivalChapter):
    """Kaplan-Meier curves with the numbers at risk (the paper's Figure 3)."""
    from micromet import plots_survival

    s, o = result.study, result.outcome
    times = [0, *(s.models.horizon_months or [12, 24, 36, 48])]
    if max(times) < 60 and result.data[o.time].max() >= 59:
        times.append(60)
    data, hidden = without_small_groups(result.data, s)
    if data.empty:
        return nothing_drawn(hidden, s)
    plot = plots_survival.km_plot(data, o.time, o.event, s.exposure.column, times=times,
                                  p_value=result.logrank.p_value, ylabel=o.label)
    say_hidden(plot.ax, hidden, s)
    return _masked(plot.figure, s)
