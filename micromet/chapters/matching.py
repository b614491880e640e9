"""Chapter 2: propensity-score matching, balance and Table 2.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from micromet import governance
from micromet.analyses import (
    conditioning_record,
    describe_groups,
    term_label,
)
from micromet.chapters.cohort import apply_withheld
from micromet.paper import (
    beside_published,
    paper_says,
    paper_table_text,
    paper_value,
)
from micromet.report import (
    fmt_count,
    plain_value,
    rounded,
    shown_count,
    source_words,
    uses_suppression,
    warning_notes,
)
from micromet.sources import TREATED, analysis_cohort, group_counts
from micromet.store import load_frame, save_frame, save_summary
from micromet.study import Study


@dataclass
class MatchingChapter:
    study: Study
    data: pd.DataFrame
    result: Any
    balance: Any
    balance_table: pd.DataFrame
    table_two: pd.DataFrame
    table_two_vs_published: pd.DataFrame
    glue: dict
    headline: dict
    summary: dict
    notes: list = field(default_factory=list)


def matching_chapter(study: Study, output_dir=".") -> MatchingChapter:
    """Match on the propensity score as the study says; balance before/after; Table 2."""
    from micromet import matching

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # chapter 1 reports what reading the source said
        cohort = analysis_cohort(study, output_dir).data
    e = study.exposure
    m = study.matching
    covs = study.matching_covariates
    data = cohort[cohort[e.column].isin([e.reference, e.exposed])].copy()
    data[TREATED] = (data[e.column].astype("object") == e.exposed).astype(int)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = matching.match(data, TREATED, covs, ratio=m.ratio, caliper=m.caliper,
                             std_caliper=m.std_caliper, replace=m.replace, m_order=m.m_order,
                             distance=m.distance, seed=study.seed)
        bal = matching.balance_table(res, data, TREATED, covs)
    notes = warning_notes(caught)
    matched = res.matched.drop(columns=[TREATED])
    save_frame(matched, output_dir, "matched")

    table, numbers = describe_groups(matched, study)
    bt = bal.table
    smd_cols = ["smd_before", "smd_after"]
    covariate_rows = [i for i in bt.index if i != "distance"]
    max_before = float(bt.loc[covariate_rows, "smd_before"].abs().max())
    max_after = float(bt.loc[covariate_rows, "smd_after"].abs().max())
    counts = group_counts(matched, study)
    n_exposed = int(data[TREATED].sum())
    summary = {
        "matched": counts,
        "unmatched_exposed": len(res.unmatched_treated),
        "caliper_sd": m.caliper, "caliper_distance": res.caliper, "ratio": m.ratio,
        "max_abs_smd_before": max_before, "max_abs_smd_after": max_after,
        "smd_before": {k: float(v) for k, v in bt["smd_before"].items()},
        "smd_after": {k: float(v) for k, v in bt["smd_after"].items()},
        "var_ratio_after": {k: plain_value(float(v)) for k, v in bt["var_ratio_after"].items()},
        "propensity_conditioning": conditioning_record(res.propensity),
        "table2": numbers,
    }
    real = not study.synthetic
    mc = study.governance.min_cell
    levels = e.levels or [e.reference, e.exposed]
    withheld = {}
    if real:  # Table 2's counts add up to the matched groups
        values, equations = governance.table_equations(numbers["categorical"], numbers["n"])
        withheld = governance.protect(values, equations, min_cell=mc)
    numbers_pub, table = apply_withheld(numbers, table, withheld, levels, study)
    published_summary = dict(summary, table2=numbers_pub,
                             matched={lv: numbers_pub["n"][j] for j, lv in enumerate(levels)})
    if uses_suppression(withheld):
        notes.append(governance.SUPPRESSED_NOTE.format(min_cell=mc))
    save_summary(summary, output_dir, "matching", study, published=published_summary)
    caliper_text = ("none" if m.caliper is None else
                    f"{m.caliper:g} SD of the distance ({res.caliper:.4f} on the logit scale)"
                    if m.std_caliper else f"{m.caliper:g} (absolute)")
    paper_matched = paper_value(study, "matching", "matched") or {}
    paper_smd = paper_value(study, "matching", "max_abs_smd_after")
    summary_text = (
        f"{shown_count(published_summary['matched'][e.exposed], study)} of "
        f"{fmt_count(n_exposed, study)} {e.exposed} patients were matched to "
        f"{shown_count(published_summary['matched'][e.reference], study)} {e.reference} "
        f"controls" + paper_says(True, f"{paper_matched[e.exposed]:,} and "
                                       f"{paper_matched[e.reference]:,}")
        * bool(e.exposed in paper_matched and e.reference in paper_matched)
        + f"; the largest |SMD| after matching, excluding the distance, is {max_after:.3f}"
        + paper_says(paper_smd) + ".")
    glue = {
        "summary_text": summary_text,
        "love_caption": ("Standardized mean differences of the covariates (and of the distance, "
                         "the propensity score's logit) before and after matching, with the 0.1 "
                         "threshold (Love plot, the paper's Figure 2). " + source_words(study)),
        "ratio": str(m.ratio),
        "table2_paper_text": paper_table_text(
            (study.published.get("matching") or {}).get("table2"), "Table 2"),
        "caliper_text": caliper_text,
        "matched_exposed": shown_count(published_summary["matched"][e.exposed], study),
        "matched_reference": shown_count(published_summary["matched"][e.reference], study),
        "n_exposed": fmt_count(n_exposed, study),
        "max_smd_before": f"{max_before:.3f}",
        "max_smd_after": f"{max_after:.3f}",
    }
    head = {
        "matched": governance.mask_leaves(published_summary["matched"], min_cell=mc, real=real),
        "unmatched exposed": governance.mask_leaves(len(res.unmatched_treated), min_cell=mc,
                                                    real=real),
        "caliper (distance scale)": None if res.caliper is None else round(res.caliper, 4),
        "max |SMD| before": rounded(max_before, 3),
        "max |SMD| after": rounded(max_after, 3),
        "SMD of the distance after": rounded(float(bt.loc["distance", "smd_after"]), 3)
        if "distance" in bt.index else None,
    }
    show = bt[[*smd_cols, "var_ratio_before", "var_ratio_after"]].copy()
    show.columns = ["SMD before", "SMD after", "variance ratio before", "variance ratio after"]
    show.index = [term_label(t, study) for t in show.index]
    show.index.name = "variable"
    return MatchingChapter(
        study=study, data=matched, result=res, balance=bal,
        # variance ratios exist for continuous variables only (R prints "." for the others)
        balance_table=show.round(4).astype(object).where(show.notna(), "–"),
        table_two=governance.mask_table(table, min_cell=mc, real=real),
        table_two_vs_published=beside_published(
            governance.mask_table(table, min_cell=mc, real=real),
            (study.published.get("matching") or {}).get("table2"), study, empty=True),
        glue=glue, headline=head, summary=summary, notes=notes,
    )


def analysed_set(study: Study, output_dir) -> pd.DataFrame:
    """The matched set when the study matches, else the cohort."""
    if study.matching.enabled:
        return load_frame(output_dir, "matched", "02_matching")
    return load_frame(output_dir, "cohort", "01_cohort")


def love_plot_figure(result: MatchingChapter):
    """Standardized mean differences before and after matching (the paper's Figure 2)."""
    from micromet import plots_balance

    table = result.balance.table.copy()
    table.index = [term_label(t, result.study) for t in table.index]
    out = plots_balance.love_plot(table)
    figure = getattr(out, "figure", out)
    return getattr(figure, "figure", figure)
