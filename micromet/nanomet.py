"""Study B's chapter (nanometastases in the axilla): its computations in one call.

``nanomet_chapter(study, output_dir)`` reads the series through the study's ``series`` mapping
(``micromet.series``), describes the four nodal groups (``micromet.describe``), compares them
for the first adverse event with univariable Cox models and log-rank tests on each pair
(``micromet.survival``; as R's ``coxph``/``survdiff``), fits the multivariable Cox model with
pN0(i+) and pN1mi grouped, estimates the crude cumulative incidence of distant relapse with
Gray's test (``micromet.competing``; as R's ``cmprsk::cuminc``), and puts the paper's numbers
beside ours. It saves the analysis frame (``data/cohort.parquet``, never shown) and the summary
(``summaries/nanomet.json``) and returns a :class:`NanometChapter`: display-ready tables, the
numbers glued into the prose, the headline the book's nbval check reads.

The formatting, file and glue helpers are the report layer's (``micromet.report``,
``micromet.store``), shared with study A.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from micromet import analyses, competing, describe, governance, report, sources, store, survival
from micromet.series import read_source
from micromet.study import Study

#: Ticks of the Kaplan-Meier figure and columns of its numbers-at-risk table, months.
KM_TIMES = list(range(0, 145, 24))
#: Times of the cumulative incidence table when the study file gives no ``horizon_months``.
DEFAULT_HORIZONS = [24, 60, 96]


@dataclass
class NanometChapter:
    """Everything the study-B chapter shows. ``pairwise_numbers`` holds each comparison's
    unrounded HR, CI, Wald and log-rank p, n and events; the tables are for display."""

    study: Study
    data: pd.DataFrame
    groups: dict[str, int]
    followup: survival.FollowUp
    first_events: pd.DataFrame
    table_one: pd.DataFrame
    pairwise: pd.DataFrame
    pairwise_numbers: dict[str, dict]
    multi: survival.CoxResult
    multivariable_table: pd.DataFrame
    cif: pd.DataFrame
    gray: competing.GrayTestResult
    gray_all: competing.GrayTestResult
    gray_table: pd.DataFrame
    cif_at: pd.DataFrame
    median_table: pd.DataFrame  # median event-free survival (95% CI) by group
    survival_table: pd.DataFrame  # event-free survival at the study's horizons
    validation: pd.DataFrame
    glue: dict
    headline: dict
    summary: dict
    notes: list = field(default_factory=list)


def any_event_outcome(study: Study):
    """The outcome of the Cox models (the grouped model's ``outcome``: any first event)."""
    return study.outcomes[study.grouped_model["outcome"]]


def distant_outcome(study: Study):
    """The competing-risks outcome (the first outcome with a ``cause``: distant relapse)."""
    return next(o for o in study.outcomes.values() if o.cause is not None)


def two_groups(data: pd.DataFrame, column: str, exposed: str, reference: str) -> pd.DataFrame:
    """The patients of two levels of ``column``, recoded to a two-level categorical with
    ``reference`` first (the reference of the model)."""
    d = data[data[column].isin([exposed, reference])].copy()
    d[column] = pd.Categorical(d[column].astype(str), categories=[reference, exposed])
    return d


def table_by_group(data: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Patients, median (IQR) of the continuous and n (%) of the categorical variables of the
    study's ``table_one``, one column per nodal group (``describe.table_one``: R's
    ``quantile(type = 7)``; percentages of the group's non-missing rows)."""
    e = study.exposure
    t1 = study.table_one
    raw = describe.table_one(data, e.column, t1.continuous, t1.categorical, levels=e.levels)
    rows = {("Patients", "n"): [report.fmt_count(raw.attrs["n"][lv], study) for lv in e.levels]}
    for _, r in raw.iterrows():
        if r["kind"] == "continuous":
            rows[(study.label(r["variable"]), "median (IQR)")] = [
                "{:g} ({:g}-{:g})".format(r[f"median[{lv}]"], r[f"q1[{lv}]"], r[f"q3[{lv}]"])
                for lv in e.levels]
        else:
            rows[(study.label(r["variable"]), r["level"])] = [
                f"{report.fmt_count(r[f'n[{lv}]'], study)} "
                f"({np.nan_to_num(r[f'percent[{lv}]']):.0f}%)" for lv in e.levels]
    out = pd.DataFrame(rows, index=e.levels).T
    out.index.names = ["variable", "level"]
    return out


def pairwise_comparisons(data: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, dict]:
    """Each ``comparisons`` pair [exposed, reference]: a univariable Cox model (the study's
    ties) of the first adverse event on the patients of the two groups, and the log-rank test.
    Returns the display table and ``{"<exposed> vs <reference>": numbers}``."""
    e, o = study.exposure, any_event_outcome(study)
    shown, numbers = [], {}
    for exposed, reference in study.comparisons:
        d = two_groups(data, e.column, exposed, reference)
        fit = survival.cox(d, o.time, o.event, [e.column], ties=study.models.ties,
                           on_separation=study.models.on_separation, labels=study.labels,
                           event_name="events")
        lr = survival.logrank(d, o.time, o.event, e.column)
        r = fit.table.loc[f"{e.column}[{exposed}]"]
        name = f"{exposed} vs {reference}"
        events = int((d[o.event] != 0).sum())
        numbers[name] = {"hr": float(r["hr"]), "lower": float(r["lower"]),
                         "upper": float(r["upper"]), "p": float(r["p"]),
                         "logrank_p": float(lr.p_value), "n": len(d), "events": events}
        shown.append({"comparison": name, "patients": report.fmt_count(len(d), study),
                      "events": report.fmt_count(events, study),
                      "HR (95% CI)": report.fmt_hr(r["hr"], r["lower"], r["upper"]),
                      "p (Wald)": report.fmt_p(r["p"]), "p (log-rank)": report.fmt_p(lr.p_value)})
    return pd.DataFrame(shown).set_index("comparison"), numbers


def grouped_model(data: pd.DataFrame, study: Study) -> survival.CoxResult:
    """The multivariable Cox model of the first adverse event on all patients, with the
    regrouped exposure of ``grouped_model`` (pN0(i+) and pN1mi together) and its covariates."""
    gm, o = study.grouped_model, any_event_outcome(study)
    return survival.cox(data, o.time, o.event, [gm["column"], *gm["covariates"]],
                        ties=study.models.ties, on_separation=study.models.on_separation,
                        labels=study.labels, event_name="events")


def grouped_term(study: Study) -> str:
    """The grouped exposure's term, ``nodal_group3[pN0(i+)/pN1mi]``."""
    gm = study.grouped_model
    return f"{gm['column']}[{gm['exposed']}]"


def gray_groups(study: Study) -> list[str]:
    """The two groups of the published Gray's test: the outcome's ``groups``, else reference
    and exposed."""
    e = study.exposure
    return list(distant_outcome(study).groups or [e.reference, e.exposed])


def distant_relapse(data: pd.DataFrame, study: Study):
    """Crude cumulative incidence of distant relapse by group (``competing.cuminc``), Gray's
    test between :func:`gray_groups` (df 1) and across all groups, and the incidence of the
    cause at the study's horizons. Returns ``(cif, gray, gray_all, cif_at)``."""
    e, o = study.exposure, distant_outcome(study)
    ci = competing.cuminc(data, o.time, o.event, e.column)
    reference, exposed = gray_groups(study)
    pair = two_groups(data, e.column, exposed, reference)
    gray = competing.gray_test(pair, o.time, o.event, e.column, cause=o.cause)
    gray_all = competing.gray_test(data, o.time, o.event, e.column, cause=o.cause)
    at = competing.timepoints(ci, study.models.horizon_months or DEFAULT_HORIZONS)
    at = at[at["cause"] == o.cause] if "cause" in at.columns else at
    return ci, gray, gray_all, at


def gray_display(study: Study, gray, gray_all) -> pd.DataFrame:
    """Gray's tests for display: chi-square (3 decimals), df, p."""
    return pd.DataFrame({
        "groups": [" vs ".join(gray_groups(study)), "all four"],
        "chi-square": [round(gray.statistic, 3), round(gray_all.statistic, 3)],
        "df": [gray.df, gray_all.df],
        "p": [report.fmt_p(gray.p_value), report.fmt_p(gray_all.p_value)],
    }).set_index("groups")


def calibration(data: pd.DataFrame, study: Study) -> dict | None:
    """The generating model's large-sample values (``truth.json`` beside a synthetic series of
    the default parameters); None for a real series or other parameters."""
    if not study.synthetic:
        return None
    truth_file = Path(data.attrs["source"]).parent / "truth.json"
    return json.loads(truth_file.read_text(encoding="utf-8"))["calibration"]


def published_vs_reproduced(numbers: dict, study: Study, truth: dict | None = None
                            ) -> pd.DataFrame:
    """The paper's numbers (``study.published``) beside ours, with the difference, and the
    synthetic truth beside them when given (``calibration``). ``numbers``: n, n_pn0,
    n_exposed, followup_median, pairwise (as :func:`pairwise_comparisons`), grouped (the
    grouped term's row of the model table), gray. Small counts of a real series are masked."""
    e, pub = study.exposure, study.published
    main_name = f"{e.exposed} vs {e.reference}"
    main, pairwise = numbers["pairwise"][main_name], numbers["pairwise"]
    mi_name = next(k for k in pairwise if k.startswith("pN1mi vs pN0(i+)"))
    grouped, gray = numbers["grouped"], numbers["gray"]
    term = grouped_term(study)
    rows = [
        ("patients", numbers["n"], pub["counts"]["n"]),
        ("pN0 patients", numbers["n_pn0"], pub["counts"]["pN0"]),
        (f"{e.exposed} patients", numbers["n_exposed"], pub["counts"][e.exposed]),
        ("median follow-up, months", numbers["followup_median"],
         pub.get("followup_median_months")),
        (f"any event HR, {main_name}", main["hr"], pub["any_event"]["pairwise"][main_name]["hr"]),
        (f"any event p, {main_name}", main["p"], pub["any_event"]["pairwise"][main_name]["p"]),
        ("any event p, pN1mi vs pN0(i+) (paper: not significant)", pairwise[mi_name]["p"], None),
        ("any event HR, grouped, multivariable", float(grouped["hr"]),
         pub["any_event"]["grouped_multivariable"][term]["hr"]),
        ("any event p, grouped, multivariable", float(grouped["p"]),
         pub["any_event"]["grouped_multivariable"][term]["p"]),
        ("Gray's test chi-square, distant relapse", gray.statistic,
         pub["distant"]["gray"]["statistic"]),
        ("Gray's test p, distant relapse", gray.p_value, pub["distant"]["gray"]["p"]),
    ]
    table = pd.DataFrame(rows, columns=["quantity", "reproduced", "published"], dtype=object)
    table["difference"] = [r - p if p is not None else np.nan
                           for r, p in zip(table["reproduced"], table["published"])]
    if not study.synthetic:  # small counts of a real series are masked
        for i in range(3):
            shown = report.fmt_count(table.at[i, "reproduced"], study)
            if shown.startswith("<"):
                table.at[i, "reproduced"], table.at[i, "difference"] = shown, np.nan
    if truth:  # the default synthetic parameters: their large-sample values
        large = truth["large_sample"]
        table["truth (synthetic)"] = [
            None, None, None, large["median_followup_months"],
            large["hr_any_event_pN0i_plus_vs_pN0i_minus"], None, None,
            large["hr_any_event_grouped_multivariable"], None,
            large["gray_chisq_distant_expected_at_n377"], None,
        ]
    return report.pretty(table.set_index("quantity"))


def nanomet_chapter(study: Study, output_dir=".") -> NanometChapter:
    """Read the series, describe the nodal groups, compare them (Cox, log-rank; Gray's test of
    distant relapse), put the paper's numbers beside ours; save ``data/cohort.parquet`` and
    ``summaries/nanomet.json`` in ``output_dir``."""
    e = study.exposure
    any_event = any_event_outcome(study)
    data = read_source(study.source, study.series, seed=study.seed, cache_dir=sources.cache_dir())
    store.save_frame(data, output_dir, "cohort")
    groups = {str(k): int(v) for k, v in
              data[e.column].value_counts().reindex(e.levels).astype(int).items()}
    n_pn0 = groups[e.reference] + groups[e.exposed]
    fu = survival.median_followup(data, any_event.time, any_event.event)
    events = data["event_type"].value_counts().reindex(data["event_type"].cat.categories)

    km = survival.km(data, any_event.time, any_event.event, e.column)
    medians = survival.km_median(data, any_event.time, any_event.event, e.column)
    surv_at = survival.survival_at(km, study.models.horizon_months or DEFAULT_HORIZONS)
    pairwise, pairwise_numbers = pairwise_comparisons(data, study)
    multi = grouped_model(data, study)
    multi_table = pd.DataFrame({
        "HR (95% CI)": [report.fmt_hr(r["hr"], r["lower"], r["upper"])
                        for _, r in multi.table.iterrows()],
        "p": [report.fmt_p(p) for p in multi.table["p"]],
    }, index=multi.table.index)
    grouped = multi.table.loc[grouped_term(study)]
    ci, gray, gray_all, cif_at = distant_relapse(data, study)
    validation = published_vs_reproduced(
        {"n": len(data), "n_pn0": n_pn0, "n_exposed": groups[e.exposed],
         "followup_median": fu.median, "pairwise": pairwise_numbers, "grouped": grouped,
         "gray": gray},
        study, calibration(data, study))

    main = pairwise_numbers[f"{e.exposed} vs {e.reference}"]
    summary = {
        "n": len(data), "groups": groups,
        "first_events": {str(k): int(v) for k, v in events.items()},
        "followup": {"median": fu.median, "q1": fu.q1, "q3": fu.q3, "max": fu.maximum},
        "any_event": {"median": {str(r["group"]): [report.plain_value(r[k])
                                                   for k in ("median", "lower", "upper")]
                                 for _, r in medians.iterrows()},
                      "survival_at": report.records_of(surv_at),
                      "pairwise": pairwise_numbers,
                      "grouped_multivariable": analyses.model_rows(
                          multi.table, getattr(multi, "not_estimable", None))},
        "distant": {"gray": {"groups": gray_groups(study), "statistic": gray.statistic,
                             "df": gray.df, "p": gray.p_value},
                    "gray_all_groups": {"statistic": gray_all.statistic, "df": gray_all.df,
                                        "p": gray_all.p_value}},
    }
    store.save_summary(summary, output_dir, "nanomet", study)
    glue = {
        "n": report.fmt_count(len(data), study), "n_pn0": report.fmt_count(n_pn0, study),
        "n_reference": report.fmt_count(groups[e.reference], study),
        "n_exposed": report.fmt_count(groups[e.exposed], study),
        "share_exposed": f"{100 * groups[e.exposed] / n_pn0:.0f}",
        "followup_median": f"{fu.median:.1f}", "followup_iqr": f"{fu.q1:.1f}-{fu.q3:.1f}",
        "hr_exposed": report.fmt_hr(main["hr"], main["lower"], main["upper"]),
        "p_exposed": report.fmt_p(main["p"]),
        "hr_grouped": report.fmt_hr(grouped["hr"], grouped["lower"], grouped["upper"]),
        "p_grouped": report.fmt_p(grouped["p"]),
        "gray_chisq": f"{gray.statistic:.2f}", "gray_p": report.fmt_p(gray.p_value),
        "nanomet_validation": validation,  # for the book's validation page (path::key glue)
    }
    headline = {
        "patients by group": {k: report.fmt_count(v, study) for k, v in groups.items()},
        "median follow-up": round(fu.median, 1),
        "HR pN0(i+) vs pN0(i-)": round(main["hr"], 3),
        "HR grouped, multivariable": round(float(grouped["hr"]), 3),
        "Gray chi-square": round(gray.statistic, 3),
    }
    return NanometChapter(
        study=study, data=data, groups=groups, followup=fu,
        first_events=events.map(lambda k: report.fmt_count(int(k), study)).to_frame("patients"),
        table_one=table_by_group(data, study), pairwise=pairwise,
        pairwise_numbers=pairwise_numbers, multi=multi, multivariable_table=multi_table,
        cif=ci, gray=gray, gray_all=gray_all, gray_table=gray_display(study, gray, gray_all),
        cif_at=cif_at, median_table=report.median_display(medians, study),
        survival_table=report.survival_at_display(surv_at, study), validation=validation,
        glue=glue, headline=headline, summary=summary,
    )


# ---- figures ----------------------------------------------------------------------------------


def km_figure(result: NanometChapter):
    """Kaplan-Meier curves of freedom from any adverse event by nodal group, with the numbers
    at risk and the log-rank test across the groups (small counts masked on a real series)."""
    from micromet import plots_survival

    s = result.study
    o = any_event_outcome(s)
    plot = plots_survival.km_plot(result.data, o.time, o.event, s.exposure.column,
                                  times=KM_TIMES, ylabel="Free of any adverse event")
    governance.mask_figure(plot.figure, min_cell=s.governance.min_cell, real=not s.synthetic)
    return plot.figure


def cif_figure(result: NanometChapter):
    """Crude cumulative incidence of distant relapse by nodal group, with the p of the
    published Gray's test."""
    from micromet import plots_competing

    o = distant_outcome(result.study)
    ax = plots_competing.cif_plot(result.cif, cause=o.cause, gray_p=result.gray.p_value,
                                  ylabel=f"Cumulative incidence ({o.label})")
    s = result.study
    governance.mask_figure(ax.figure, min_cell=s.governance.min_cell, real=not s.synthetic)
    return ax.figure
