"""Chapter 1: the cohort, its flowchart and Table 1.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from micromet import governance
from micromet.analyses import (
    describe_groups,
    followup,
)
from micromet.formatting import fmt_followup
from micromet.paper import (
    beside_published,
    paper_says,
    paper_table_text,
    paper_value,
)
from micromet.report import (
    _flow_display,
    _masked,
    apply_withheld,
    fmt_count,
    plain_value,
    rounded,
    source_words,
    uses_suppression,
    warning_notes,
)
from micromet.sources import analysis_cohort, group_counts
from micromet.store import save_frame, save_summary
from micromet.study import Study


@dataclass
class CohortChapter:
    study: Study
    data: pd.DataFrame
    flow: pd.DataFrame
    flow_table: pd.DataFrame
    table_one: pd.DataFrame
    table_one_vs_published: pd.DataFrame
    glue: dict
    headline: dict
    summary: dict
    notes: list = field(default_factory=list)
    flow_object: Any = None


def cohort_chapter(study: Study, output_dir=".") -> CohortChapter:
    """Read the source, apply the criteria in order, describe the groups (Table 1)."""
    notes: list[str] = []
    e = study.exposure
    levels = e.levels or [e.reference, e.exposed]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cohort = analysis_cohort(study, output_dir)
    extract, outside, built, data = cohort.extract, cohort.outside, cohort.built, cohort.data
    notes += warning_notes(caught)
    if outside:
        notes.append(f"{outside:,} rows of the export are outside the extract (years "
                     f"{study.cohort.years}, {e.column} in {levels}) and were set aside first.")
    flow = _flow_frame(built.flow)
    real = not study.synthetic
    mc = study.governance.min_cell
    extracted = group_counts(extract, study)
    final = group_counts(data, study)
    table, tests = describe_groups(data, study)
    fu = followup(data, study)

    save_frame(data, output_dir, "cohort")
    n_raw = cohort.n_raw
    summary = {
        "n": len(data),
        "n_raw": n_raw,
        "outside_extract": int(outside),
        "extracted": extracted,
        "final": final,
        "flow": _flow_records(flow),
        "table1": tests,
        "followup": fu,
    }
    # what may be published: small counts withheld, and whatever would let one work them out
    withheld = _withheld_cohort_counts(flow, tests, levels, n_raw, int(outside), study)
    flow_pub = _apply_to_flow(flow, withheld)
    tests_pub, table_pub = apply_withheld(tests, table, withheld, levels, study)
    last = len(flow_pub) - 1
    published_summary = {
        "n": plain_value(flow_pub.iloc[len(flow_pub) - 1].get("remaining", len(data))),
        "n_raw": withheld.get(("n_raw",), n_raw),
        "outside_extract": withheld.get(("outside",), int(outside)),
        "extracted": {lv: plain_value(flow_pub.iloc[0][f"remaining[{lv}]"]) for lv in levels},
        "final": {lv: plain_value(flow_pub.iloc[last][f"remaining[{lv}]"]) for lv in levels},
        "flow": _flow_records(flow_pub),
        "table1": tests_pub,
        "followup": fu,
    }
    save_summary(summary, output_dir, "cohort", study, published=published_summary)

    glue = {
        "summary_text": cohort_summary(study, data, final, tests),
        "flow_caption": ("From the source to the analysed cohort, by group: each inclusion and "
                         "exclusion step of the study file with the patients it sets aside. "
                         + source_words(study)),
        "n_extracted": fmt_count(len(extract), study),
        "n_final": fmt_count(len(data), study),
        "n_final_reference": fmt_count(final[e.reference], study),
        "n_final_exposed": fmt_count(final[e.exposed], study),
        "label_reference": e.reference,
        "label_exposed": e.exposed,
        "followup_median": fmt_followup(fu)["median"],
        "followup_iqr": fmt_followup(fu)["iqr"],
        "followup_max": fmt_followup(fu)["max"],
        "table1_paper_text": paper_table_text(
            (study.published.get("cohort") or {}).get("table1"), "Table 1"),
    }
    head = {"rows read": published_summary["n_raw"],
            "extracted": published_summary["extracted"], "final": published_summary["final"]}
    for record in published_summary["flow"]:
        per_group = {lv: record.get(f"remaining[{lv}]") for lv in levels}
        head[f"after '{record['step']}'"] = per_group
    head = {k: governance.mask_leaves(v, min_cell=mc, real=real) for k, v in head.items()}
    head["Table 1 p"] = {var: rounded(vals["p"], 3) for kind in ("continuous", "categorical")
                         for var, vals in tests[kind].items() if vals["p"] is not None}
    head["follow-up median (IQR), max"] = fmt_followup(fu)["line"]
    if withheld and uses_suppression(withheld):
        notes.append(governance.SUPPRESSED_NOTE.format(min_cell=mc))
    show = _flow_display(flow_pub, levels)
    return CohortChapter(
        study=study, data=data, flow=flow_pub,
        flow_table=governance.mask_table(show, min_cell=mc, real=real),
        table_one=governance.mask_table(table_pub, min_cell=mc, real=real),
        table_one_vs_published=beside_published(
            governance.mask_table(table_pub, min_cell=mc, real=real),
            (study.published.get("cohort") or {}).get("table1"), study, empty=True),
        glue=glue, headline=head, summary=published_summary, notes=notes, flow_object=built,
    )


def _groups_text(counts: dict, study: Study) -> str:
    parts = [f"{fmt_count(n, study)} {lv}" for lv, n in counts.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def table_one_identical(tests: dict, published: dict | None) -> bool:
    """True when every count of the paper's Table 1 (and its group sizes) is this run's."""
    if not published or not published.get("categorical"):
        return False
    if published.get("n") and list(published["n"]) != list(tests.get("n", [])):
        return False
    for var, v in published["categorical"].items():
        ours = (tests["categorical"].get(var) or {}).get("counts") or {}
        for level, counts in (v.get("counts") or {}).items():
            if list(ours.get(str(level), [])) != list(counts):
                return False
    return True


def cohort_summary(study: Study, data: pd.DataFrame, final: dict, tests: dict) -> str:
    """The chapter's opening lines: the cohort by group beside the paper's, and whether Table 1
    is the paper's (by construction on the calibrated synthetic source)."""
    paper = paper_value(study, "cohort", "final")
    n, groups = fmt_count(len(data), study), _groups_text(final, study)
    if study.cohort and study.cohort.criteria:
        text = f"After the study's criteria, {n} patients remain: {groups}"
    else:
        text = f"The source holds {n} patients: {groups}"
    if paper:
        text += paper_says(True, _groups_text(paper, study))
    text += "."
    table1 = paper_value(study, "cohort", "table1")
    if table1 and table_one_identical(tests, table1):
        text += (" Table 1 is identical to the paper's" + (
            " by construction: the synthetic generator is calibrated to the published Table 1."
            if study.synthetic else "."))
    elif table1:
        text += " Table 1 is set beside the paper's below."
    return text


def _withheld_cohort_counts(flow, tests, levels, n_raw, outside, study) -> dict:
    """Chapter 1's counts to withhold with a real source: the flow (each step and group), the
    rows read and set aside, and Table 1's counts, which are tied together (the final groups
    are Table 1's n)."""
    if study.synthetic:
        return {}
    values, equations = governance.flow_equations(flow, levels)
    table_values, table_eqs = governance.table_equations(tests["categorical"], tests["n"])
    values.update(table_values)
    equations += table_eqs
    last = len(flow) - 1
    for j, lv in enumerate(levels):
        if (last, f"remaining[{lv}]") in values:
            equations.append({("n", j): 1, (last, f"remaining[{lv}]"): -1})
    values[("n_raw",)], values[("outside",)] = n_raw, outside
    if (0, "remaining") in values and n_raw == outside + values[(0, "remaining")]:
        equations.append({("n_raw",): 1, ("outside",): -1, (0, "remaining"): -1})
    return governance.protect(values, equations, min_cell=study.governance.min_cell)


def _apply_to_flow(flow: pd.DataFrame, withheld: dict) -> pd.DataFrame:
    out = flow.reset_index(drop=True).astype(object)
    for cell, label in withheld.items():
        if len(cell) == 2 and isinstance(cell[0], int) and cell[1] in out.columns:
            out.at[cell[0], cell[1]] = label
    return out


def _flow_frame(flow) -> pd.DataFrame:
    if isinstance(flow, pd.DataFrame):
        return flow.copy()
    return pd.DataFrame(flow)


def _flow_records(flow: pd.DataFrame) -> list[dict]:
    return [{str(k): plain_value(v) for k, v in row.items()} for row in flow.to_dict("records")]


def flowchart_figure(result: CohortChapter):
    """The flow of patients through the criteria (the paper's Figure 1)."""
    from micromet import plots_flow

    s = result.study
    years = f" ({s.cohort.years[0]}-{s.cohort.years[1]})" if s.cohort and s.cohort.years else ""
    source = ("Records of the synthetic SEER-like extract" if s.synthetic
              else "Patients extracted from SEER") + years
    # the paper's wording for the paper's criteria; other criteria keep "Excluded by criterion: ..."
    figure = plots_flow.flowchart(result.flow, source=source,
                                  step_labels=plots_flow.PAPER_STEP_LABELS)
    return _masked(figure, s)
