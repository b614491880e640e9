"""Chapter 5: published versus reproduced, and agreement with R.

The comparison is built from the study file's ``published`` alone: its sections are named as the
chapters' summaries are (``cohort``, ``matching``, one per outcome), and each published value sits
at the key where the summary holds the reproduced one (``published.os.logrank.p`` beside
``summaries/os.json: logrank.p``). Three kinds of entry are read as tables: a descriptive table
(``table1``, ``table2``: ``n``, ``continuous``, ``categorical``), the regression tables of an
outcome (``models.<analysis>``: ``univariable`` / ``multivariable`` rows ``[HR, lower, upper,
p]`` by term) and the comparisons of two groups (``comparisons.<"exposed vs reference">``:
``[HR, lower, upper, p]``); every other value is one row of the headline table. A published
value may be text ("<0.001", ">0.05", "<0.1"): it is shown, and no difference is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from micromet import governance
from micromet.agreement import benchmarks, r_agreement
from micromet.paper import (
    _difference,
    _largest_count_diff,
    _table_from_rows,
    beside_paper,
    versus_published,
)
from micromet.report import fmt_p, pretty
from micromet.store import load_summary
from micromet.study import Study

#: Words for the keys of the summaries and of ``published``.
WORDS = {
    "n": "patients", "n_raw": "rows read", "extracted": "extracted", "final": "final cohort",
    "followup": "follow-up", "median": "median", "q1": "first quartile",
    "q3": "third quartile", "max": "longest", "matched": "matched",
    "smd_before": "SMD before matching", "max_abs_smd_after": "largest |SMD| after matching",
    "events": "events", "events_cause": "events of the cause of interest",
    "events_competing": "competing events", "logrank": "log-rank test", "gray": "Gray's test",
    "statistic": "chi-square", "df": "df", "p": "p", "hr": "HR", "lower": "lower 95% limit",
    "upper": "upper 95% limit", "table1": "Table 1", "table2": "Table 2",
    "cohort": "Cohort", "matching": "Matching",
}
STATISTICS = ("hr", "lower", "upper", "p")


@dataclass
class ValidationChapter:
    study: Study
    tables: dict  # title -> table; "headline" first, then one per published table
    glue: dict
    headline: dict
    summary: dict
    notes: list = field(default_factory=list)


def section_label(study: Study, section: str) -> str:
    """``os`` -> "Overall survival" (an outcome's label), ``cohort`` -> "Cohort"."""
    if section in study.outcomes:
        return study.outcomes[section].label
    return WORDS.get(section, section)


def compare_published(study: Study, output_dir=".") -> tuple[pd.DataFrame, dict]:
    """Every value of ``study.published`` beside the reproduced one (the chapters' summaries in
    ``output_dir``): the headline table (one row per value, with the difference) and the tables
    (descriptive tables, regression tables) by title."""
    rows, tables = [], {}

    def add(what, ours, theirs, p=False):
        number = isinstance(ours, (int, float)) and not isinstance(ours, bool)
        difference = _difference(ours, theirs) if number else None
        if p and number:  # p values in the book's one style
            ours = fmt_p(ours)
            difference = None if isinstance(theirs, str) else difference
        rows.append({"quantity": what, "reproduced": ours, "published": theirs,
                     "difference": difference})

    def walk(where: str, ours, theirs: dict, section: str):
        ours = ours if isinstance(ours, dict) else {}
        for key, value in theirs.items():
            mine = ours.get(key)
            words = WORDS.get(key, key)
            if isinstance(value, dict) and ({"continuous", "categorical"} & set(value)):
                tables[f"{where}: {words}"] = (versus_published(mine, value, study)
                                               if mine else pd.DataFrame())
            elif key == "models" and isinstance(value, dict):
                for name, paper in value.items():
                    fitted = (mine or {}).get(name) or {}
                    uni = _table_from_rows(fitted.get("univariable", {}))
                    multi = _table_from_rows(fitted.get("multivariable", {}))
                    analysis = study.analysis_named(name)
                    tables[analysis.title or name] = beside_paper(
                        uni, multi, paper, study, fitted.get("references"),
                        "HR" if analysis.model == "cox" else "SHR")
                    _exposure_rows(study, name, where, fitted, paper, add)
            elif key == "comparisons" and isinstance(value, dict):
                for name, paper in value.items():
                    found = (mine or {}).get(name)
                    for j, stat in enumerate(STATISTICS):
                        theirs_j = paper[j] if isinstance(paper, list) else None
                        if theirs_j is None:
                            continue
                        add(f"{where}: {name}, {WORDS[stat]}",
                            found[j] if isinstance(found, list) else found, theirs_j,
                            p=stat == "p")
            elif isinstance(value, dict):
                walk(f"{where}: {words}" if where else words, mine, value, section)
            else:
                add(f"{where}: {words}", mine, value, p=key == "p")

    for section, published in study.published.items():
        if isinstance(published, dict):
            walk(section_label(study, section), load_summary(output_dir, section), published,
                 section)
    headline = pd.DataFrame(rows, columns=["quantity", "reproduced", "published", "difference"],
                            dtype=object).set_index("quantity")
    return headline, tables


def _exposure_rows(study: Study, name: str, where: str, fitted: dict, paper: dict, add) -> None:
    """The headline rows of a regression table: its exposure term's HR, limits and p."""
    analysis = study.analysis_named(name)
    levels = study.group_levels(analysis)
    term = f"{study.group_column(analysis)}[{levels[1]}]"
    for model in ("univariable", "multivariable"):
        theirs = (paper.get(model) or {}).get(term)
        if theirs is None:
            continue
        ours = (fitted.get(model) or {}).get(term)
        for j, stat in enumerate(STATISTICS):
            if theirs[j] is None:
                continue
            add(f"{where}: {model} {WORDS[stat]}, {levels[1]} vs {levels[0]}",
                ours[j] if isinstance(ours, list) else ours, theirs[j], p=stat == "p")


def validation_chapter(study: Study, output_dir=".") -> ValidationChapter:
    """Every published number beside the reproduced one (from the chapters' summaries), the
    agreement with R and the benchmark figures."""
    headline_table, tables = compare_published(study, output_dir)
    if not study.synthetic:
        mc = study.governance.min_cell
        headline_table["reproduced"] = headline_table["reproduced"].map(
            lambda v: governance.mask_count(v, min_cell=mc) if isinstance(v, int) else v)
    compared = int(headline_table["published"].notna().sum())
    largest = _largest_count_diff(headline_table)
    tables = {"headline": pretty(headline_table), **tables,
              "r_agreement": r_agreement(), "benchmarks": benchmarks()}
    summary_text = (f"{compared} values that the paper publishes are set beside this run's"
                    + (f"; the counts differ by at most {largest:,}" if largest is not None
                       else "") + ".")
    glue = {"summary_text": summary_text, "validation_headline": tables["headline"],
            "validation_r_agreement": tables["r_agreement"],
            "validation_benchmarks": tables["benchmarks"]}
    head = {"quantities compared": compared, "largest |difference| in counts": largest}
    return ValidationChapter(study=study, tables=tables, glue=glue, headline=head,
                             summary={"compared": compared})


def published_tables(result: ValidationChapter) -> dict:
    """The tables of :func:`validation_chapter` other than the headline and R's agreement."""
    return {k: v for k, v in result.tables.items()
            if k not in ("headline", "r_agreement", "benchmarks")}
