"""Chapter 5: published versus reproduced, and agreement with R.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from micromet import governance
from micromet.agreement import benchmarks, r_agreement
from micromet.analyses import (
    _difference,
    _largest_count_diff,
    _table_from_rows,
    exposure_term,
    models_vs_published,
    versus_published,
)
from micromet.report import pretty
from micromet.store import load_summary
from micromet.study import Study


@dataclass
class ValidationChapter:
    study: Study
    tables: dict
    glue: dict
    headline: dict
    summary: dict
    notes: list = field(default_factory=list)


def validation_chapter(study: Study, output_dir=".") -> ValidationChapter:
    """Every published number beside the reproduced one (from the chapters' summaries)."""
    pub = study.published
    cohort = load_summary(output_dir, "cohort")
    match = load_summary(output_dir, "matching")
    os_s = load_summary(output_dir, "os")
    bc = load_summary(output_dir, "bcsm")
    e = study.exposure
    rows = []

    def add(what, ours, theirs):
        rows.append({"quantity": what, "reproduced": ours, "published": theirs,
                     "difference": _difference(ours, theirs) if isinstance(ours, (int, float))
                     else None})

    for lv in (e.reference, e.exposed):
        add(f"extracted, {lv}", cohort.get("extracted", {}).get(lv),
            pub.get("flow", {}).get("extracted", {}).get(lv))
        add(f"final cohort, {lv}", cohort.get("final", {}).get(lv),
            pub.get("flow", {}).get("final", {}).get(lv))
    fb = pub.get("followup_before", {})
    for k, src in (("median", "median"), ("q1", "q1"), ("q3", "q3"), ("max", "max")):
        add(f"follow-up before matching, {k}", cohort.get("followup", {}).get(src), fb.get(k))
    for lv in (e.reference, e.exposed):
        add(f"matched, {lv}", match.get("matched", {}).get(lv),
            pub.get("matching", {}).get("matched", {}).get(lv))
    for var, value in pub.get("matching", {}).get("smd_before", {}).items():
        add(f"SMD before matching, {var}", match.get("smd_before", {}).get(var), value)
    add("max |SMD| after matching (paper: all < 0.1)", match.get("max_abs_smd_after"),
        pub.get("matching", {}).get("smd_after_max_abs_below"))
    po = pub.get("os", {})
    add("deaths (OS events)", os_s.get("deaths"), po.get("deaths"))
    add("log-rank p", os_s.get("logrank", {}).get("p"), po.get("logrank_p"))
    for k in ("median", "q1", "q3", "max"):
        add(f"follow-up after matching, {k}", os_s.get("followup", {}).get(k),
            po.get("followup_after", {}).get(k))
    pb = pub.get("bcsm", {})
    add("breast-cancer deaths", bc.get("events_cause"), pb.get("bc_deaths"))
    add("other deaths", bc.get("events_competing"), pb.get("other_deaths"))
    add("Gray's test p", bc.get("gray", {}).get("p"), pb.get("gray_p"))
    term = exposure_term(study)
    for label, s, p in (("OS", os_s, po), ("BCSM", bc, pb)):
        for model in ("univariable", "multivariable"):
            ours = s.get(model, {}).get(term)
            theirs = p.get(model, {}).get(term)
            for j, stat in enumerate(("HR", "lower", "upper", "p")):
                mine = ours[j] if isinstance(ours, list) else ours  # or "not estimable"
                add(f"{label} {model} {stat}, {e.exposed} vs {e.reference}",
                    mine, theirs[j] if theirs else None)
    headline_table = pd.DataFrame(rows, dtype=object).set_index("quantity")
    real = not study.synthetic
    mc = study.governance.min_cell
    if real:
        headline_table["reproduced"] = headline_table["reproduced"].map(
            lambda v: governance.mask_count(v, min_cell=mc) if isinstance(v, int) else v)
    compared = int(headline_table["published"].notna().sum())
    largest = _largest_count_diff(headline_table)
    headline_table = pretty(headline_table)

    def table_rows(numbers, published):
        if not numbers:
            return pd.DataFrame()
        return versus_published(numbers, published, study)

    def model_cmp(s, p):
        if not s:
            return pd.DataFrame()
        uni = _table_from_rows(s.get("univariable", {}))
        multi = _table_from_rows(s.get("multivariable", {}))
        return models_vs_published(uni, multi, p)

    tables = {
        "headline": headline_table,
        "table1": table_rows(cohort.get("table1"), pub.get("table1")),
        "table2": table_rows(match.get("table2"), pub.get("table2")),
        "table3": model_cmp(os_s, po),
        "table4": model_cmp(bc, pb),
        "r_agreement": r_agreement(),
        "benchmarks": benchmarks(),
    }
    summary = {"compared": compared}
    glue = {f"validation_{k}": v for k, v in tables.items()}
    head = {"quantities compared": compared, "largest |difference| in counts": largest}
    return ValidationChapter(study=study, tables=tables, glue=glue, headline=head, summary=summary)
