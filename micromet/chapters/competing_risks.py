"""Chapter 4: cumulative incidence, Gray's test and Fine-Gray models (Table 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from micromet import governance
from micromet.analyses import (
    exposure_term,
    regression_table,
)
from micromet.chapters.matching import analysed_set
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
    say_hidden,
    without_small_groups,
)
from micromet.store import save_summary
from micromet.study import Study


@dataclass
class CompetingChapter:
    study: Study
    data: pd.DataFrame
    cif: pd.DataFrame
    gray: Any
    uni: pd.DataFrame
    multi: Any
    fine_gray_table: pd.DataFrame
    fine_gray_vs_published: pd.DataFrame
    cif_table: pd.DataFrame
    glue: dict
    headline: dict
    summary: dict
    outcome: Any = None
    notes: list = field(default_factory=list)


def bcsm_chapter(study: Study, output_dir=".", outcome: str = "bcsm") -> CompetingChapter:
    """Cumulative incidence, Gray's test, univariable/multivariable Fine-Gray."""
    from micromet import competing

    data = analysed_set(study, output_dir)
    o = study.outcomes[outcome]
    e = study.exposure.column
    cause = o.cause if o.cause is not None else 1
    ci = competing.cuminc(data, o.time, o.event, e)
    gray = competing.gray_test(data, o.time, o.event, e, cause=cause)
    horizons = study.models.horizon_months or [12, 24, 36, 48]
    at = competing.timepoints(ci, horizons)
    reg = regression_table(study, outcome, data)
    uni, multi, notes = reg.uni, reg.multi, list(reg.notes)
    ev = pd.to_numeric(data[o.event])
    n_cause = int((ev == cause).sum())
    n_comp = int(ev.isin(o.competing).sum())
    term = exposure_term(study)
    summary = {
        "n": len(data), "events_cause": n_cause, "events_competing": n_comp,
        "gray": {"statistic": gray.statistic, "df": gray.df, "p": gray.p_value},
        **reg.summary,
        "cif_at": records_of(at.reset_index(drop=isinstance(at.index, pd.RangeIndex)))
        if isinstance(at, pd.DataFrame) else [],
    }
    save_summary(summary, output_dir, outcome, study,
                 published=dict(summary, n=published_size(data, study)))
    real = not study.synthetic
    mc = study.governance.min_cell
    glue = {
        "selection_text": reg.selection_text,
        "events_cause": fmt_count(n_cause, study), "events_competing": fmt_count(n_comp, study),
        "gray_p": fmt_p(gray.p_value),
        "shr_uni": _hr_text(uni, term),
        "shr_multi": _hr_text(multi.table if multi is not None else None, term),
    }
    head = {
        "events of interest": governance.mask_leaves(n_cause, min_cell=mc, real=real),
        "competing events": governance.mask_leaves(n_comp, min_cell=mc, real=real),
        "Gray p": rounded(gray.p_value, 3),
        "sHR univariable": glue["shr_uni"],
        "sHR multivariable": glue["shr_multi"],
        "multivariable covariates": ", ".join(reg.chosen),
    }
    return CompetingChapter(
        study=study, data=data, cif=ci, gray=gray, uni=uni, multi=multi,
        fine_gray_table=reg.table, fine_gray_vs_published=reg.vs_published,
        cif_table=_cif_display(at),
        glue=glue, headline=head, summary=summary, outcome=o, notes=notes,
    )


def cif_figure(result: CompetingChapter):
    """Cumulative incidence of the cause of interest by group (the paper's Figure 4)."""
    from micromet import plots_competing

    o = result.outcome
    names = {int(k): v for k, v in o.cause_labels.items()} or None
    cif, hidden = result.cif, []
    if not result.study.synthetic:  # a small group's curve steps once per patient's event
        _, hidden = without_small_groups(result.data, result.study)
        cif = cif[~cif["group"].astype("object").isin(hidden)]
        cif.attrs = dict(result.cif.attrs)
        if cif.empty:
            return nothing_drawn(hidden, result.study)
    ax = plots_competing.cif_plot(cif, cause=o.cause or 1, gray_p=result.gray.p_value,
                                  competing=True, cause_labels=names,
                                  ylabel="Cumulative incidence")
    say_hidden(ax, hidden, result.study)
    return _masked(ax.figure, result.study)
