# %% [markdown]
# # Study B: nanometastases in axillary lymph nodes
#
# A single-institution series: pN0 patients re-examined by step sections and anti-cytokeratin
# immunohistochemistry, which moves some of them to pN0(i+) (nanometastases, deposits of at most
# 0.2 mm). Four nodal groups, pN0(i-), pN0(i+), pN1mi and pN1, are compared for the first adverse
# event (local, regional, distant relapse, contralateral cancer or death) with Cox models, and for
# distant relapse as the first event with crude cumulative incidence curves and Gray's test (other
# first events competing), as R's `survival::coxph` and `cmprsk::cuminc` compute them. There is no
# matching in this study.

# %% tags=["parameters", "remove-cell"]
study = {}
output_dir = "."

# %% tags=["remove-input"]
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from micromet import competing, governance, plots_competing, plots_survival, survival
from micromet import pipeline as mm
from micromet.series import read_source

S = mm.study_parameters(study, default="nanomet")
mm.show_notice(S)
e = S.exposure
gm = S.grouped_model
any_event = S.outcomes[gm["outcome"]]
distant = next(o for o in S.outcomes.values() if o.cause is not None)

# %% [markdown]
# ## The series
#
# The CSV is read through the study file's `series` mapping (its own column names, time unit and
# event codes) into the analysis frame: follow-up in months, the first event coded 0 (censored),
# 1 (distant relapse) and 2-5 (local, regional, contralateral, death), the nodal group with
# pN0(i-) as the reference.

# %%
frame = read_source(S.source, S.series, seed=S.seed, cache_dir=mm.cache_dir())
mm.save_frame(frame, output_dir, "cohort")
groups = frame[e.column].value_counts().reindex(e.levels).astype(int)
n_pn0 = int(groups[e.reference] + groups[e.exposed])
fu = survival.median_followup(frame, any_event.time, any_event.event)
events = frame["event_type"].value_counts().reindex(frame["event_type"].cat.categories)


def count(n):
    return mm.fmt_count(int(n), S)


def numbers_by_group(data):
    """n, age and size medians and n (%) of the categorical columns, by nodal group."""
    rows = {}
    g = data[e.column]
    rows[("Patients", "n")] = [count((g == lv).sum()) for lv in e.levels]
    for var in S.table_one.continuous:
        rows[(S.label(var), "median (IQR)")] = [
            "{:g} ({:g}-{:g})".format(*data.loc[g == lv, var].quantile([0.5, 0.25, 0.75]))
            for lv in e.levels
        ]
    for var in S.table_one.categorical:
        for level in data[var].cat.categories:
            cells = []
            for lv in e.levels:
                in_group = g == lv
                k = int((in_group & (data[var] == level)).sum())
                cells.append(f"{count(k)} ({100 * k / max(int(in_group.sum()), 1):.0f}%)")
            rows[(S.label(var), str(level))] = cells
    out = pd.DataFrame(rows, index=e.levels).T
    out.index.names = ["variable", "level"]
    return out


table_one = numbers_by_group(frame)
glue = {
    "n": count(len(frame)), "n_pn0": count(n_pn0),
    "n_reference": count(groups[e.reference]), "n_exposed": count(groups[e.exposed]),
    "share_exposed": f"{100 * groups[e.exposed] / n_pn0:.0f}",
    "followup_median": f"{fu.median:.1f}", "followup_iqr": f"{fu.q1:.1f}-{fu.q3:.1f}",
}
mm.publish(SimpleNamespace(glue=glue))

# %% [markdown]
# {glue:text}`n` patients, {glue:text}`n_pn0` of them pN0, of which {glue:text}`n_exposed`
# ({glue:text}`share_exposed`%) were pN0(i+) on re-examination. Median follow-up (reverse
# Kaplan-Meier) {glue:text}`followup_median` months (IQR {glue:text}`followup_iqr`).

# %% tags=["nbval-ignore-output"]
table_one

# %% [markdown]
# First adverse events:

# %% tags=["nbval-ignore-output"]
events.map(count).to_frame("patients")

# %% [markdown]
# ## Any first adverse event: pairwise comparisons
#
# Each comparison is a univariable Cox model (Efron ties) on the patients of the two groups,
# with the log-rank test beside it.


# %%
def two_groups(data, column, exposed, reference):
    d = data[data[column].isin([exposed, reference])].copy()
    d[column] = pd.Categorical(d[column].astype(str), categories=[reference, exposed])
    return d


pairwise, pairwise_numbers = [], {}
for exposed, reference in S.comparisons:
    d = two_groups(frame, e.column, exposed, reference)
    fit = survival.cox(d, any_event.time, any_event.event, [e.column], ties=S.models.ties)
    lr = survival.logrank(d, any_event.time, any_event.event, e.column)
    r = fit.table.loc[f"{e.column}[{exposed}]"]
    name = f"{exposed} vs {reference}"
    pairwise_numbers[name] = {"hr": float(r["hr"]), "lower": float(r["lower"]),
                              "upper": float(r["upper"]), "p": float(r["p"]),
                              "logrank_p": float(lr.p_value), "n": len(d),
                              "events": int((d[any_event.event] != 0).sum())}
    pairwise.append({"comparison": name, "patients": count(len(d)),
                     "events": count((d[any_event.event] != 0).sum()),
                     "HR (95% CI)": mm.fmt_hr(r["hr"], r["lower"], r["upper"]),
                     "p (Wald)": mm.fmt_p(r["p"]), "p (log-rank)": mm.fmt_p(lr.p_value)})
pairwise = pd.DataFrame(pairwise).set_index("comparison")

# %% tags=["nbval-ignore-output"]
pairwise

# %% tags=["nbval-ignore-output"]
km = plots_survival.km_plot(frame, any_event.time, any_event.event, e.column,
                            times=list(range(0, 145, 24)), ylabel="Free of any adverse event")
governance.mask_figure(km.figure, min_cell=S.governance.min_cell, real=not S.synthetic);

# %% [markdown]
# ## Any first adverse event: multivariable Cox model, pN0(i+) and pN1mi grouped

# %%
grouped_term = f"{gm['column']}[{gm['exposed']}]"
multi = survival.cox(frame, any_event.time, any_event.event, [gm["column"], *gm["covariates"]],
                     ties=S.models.ties)
multi_table = pd.DataFrame({
    "HR (95% CI)": [mm.fmt_hr(r["hr"], r["lower"], r["upper"]) for _, r in multi.table.iterrows()],
    "p": [mm.fmt_p(p) for p in multi.table["p"]],
}, index=multi.table.index)
grouped = multi.table.loc[grouped_term]

# %% tags=["nbval-ignore-output"]
multi_table

# %% [markdown]
# ## Distant relapse: crude cumulative incidence and Gray's test
#
# Distant relapse as the first event, the other first events competing (cmprsk's `cuminc`).
# Gray's test compares the groups the study file names (the outcome's `groups`); the test across
# all four groups is shown beside it.

# %%
ci = competing.cuminc(frame, distant.time, distant.event, e.column)
gray_groups = distant.groups or [e.reference, e.exposed]
pair = two_groups(frame, e.column, gray_groups[1], gray_groups[0])
gray = competing.gray_test(pair, distant.time, distant.event, e.column, cause=distant.cause)
gray_all = competing.gray_test(frame, distant.time, distant.event, e.column, cause=distant.cause)
horizons = S.models.horizon_months or [24, 60, 96]
cif_at = competing.timepoints(ci, horizons)
cif_at = cif_at[cif_at["cause"] == distant.cause] if "cause" in cif_at.columns else cif_at
gray_table = pd.DataFrame({
    "groups": [" vs ".join(gray_groups), "all four"],
    "chi-square": [round(gray.statistic, 3), round(gray_all.statistic, 3)],
    "df": [gray.df, gray_all.df],
    "p": [mm.fmt_p(gray.p_value), mm.fmt_p(gray_all.p_value)],
}).set_index("groups")

# %% tags=["nbval-ignore-output"]
plots_competing.cif_plot(ci, cause=distant.cause, gray_p=gray.p_value,
                         ylabel=f"Cumulative incidence ({distant.label})");

# %% tags=["nbval-ignore-output"]
gray_table

# %% tags=["nbval-ignore-output"]
cif_at

# %% [markdown]
# ## Published and reproduced
#
# The paper's numbers beside ours. On the synthetic series, "truth" is what the generating model
# gives in a very large sample (its calibration); the draw of 702 patients varies around it.

# %%
pub = S.published
main = pairwise_numbers[f"{e.exposed} vs {e.reference}"]
mi_name = next(k for k in pairwise_numbers if k.startswith("pN1mi vs pN0(i+)"))
rows = [
    ("patients", len(frame), pub["counts"]["n"]),
    ("pN0 patients", n_pn0, pub["counts"]["pN0"]),
    (f"{e.exposed} patients", int(groups[e.exposed]), pub["counts"][e.exposed]),
    ("median follow-up, months", fu.median, pub.get("followup_median_months")),
    (f"any event HR, {e.exposed} vs {e.reference}", main["hr"],
     pub["any_event"]["pairwise"][f"{e.exposed} vs {e.reference}"]["hr"]),
    (f"any event p, {e.exposed} vs {e.reference}", main["p"],
     pub["any_event"]["pairwise"][f"{e.exposed} vs {e.reference}"]["p"]),
    ("any event p, pN1mi vs pN0(i+) (paper: not significant)", pairwise_numbers[mi_name]["p"],
     None),
    ("any event HR, grouped, multivariable", float(grouped["hr"]),
     pub["any_event"]["grouped_multivariable"][grouped_term]["hr"]),
    ("any event p, grouped, multivariable", float(grouped["p"]),
     pub["any_event"]["grouped_multivariable"][grouped_term]["p"]),
    ("Gray's test chi-square, distant relapse", gray.statistic,
     pub["distant"]["gray"]["statistic"]),
    ("Gray's test p, distant relapse", gray.p_value, pub["distant"]["gray"]["p"]),
]
validation = pd.DataFrame(rows, columns=["quantity", "reproduced", "published"], dtype=object)
validation["difference"] = [r - p if p is not None else np.nan
                            for r, p in zip(validation["reproduced"], validation["published"])]
if not S.synthetic:  # small counts of a real series are masked
    for i in range(3):
        shown = count(validation.at[i, "reproduced"])
        if shown.startswith("<"):
            validation.at[i, "reproduced"], validation.at[i, "difference"] = shown, np.nan
truth_file = Path(frame.attrs["source"]).parent / "truth.json"
calibration = json.loads(truth_file.read_text())["calibration"] if S.synthetic else None
if calibration:  # the default synthetic parameters: their large-sample values
    truth = calibration["large_sample"]
    validation["truth (synthetic)"] = [
        None, None, None, truth["median_followup_months"],
        truth["hr_any_event_pN0i_plus_vs_pN0i_minus"], None, None,
        truth["hr_any_event_grouped_multivariable"], None,
        truth["gray_chisq_distant_expected_at_n377"], None,
    ]
validation = mm.pretty(validation.set_index("quantity"))

# %% tags=["nbval-ignore-output"]
validation

# %%
summary = {
    "n": len(frame), "groups": {k: int(v) for k, v in groups.items()},
    "first_events": {str(k): int(v) for k, v in events.items()},
    "followup": {"median": fu.median, "q1": fu.q1, "q3": fu.q3, "max": fu.maximum},
    "any_event": {"pairwise": pairwise_numbers,
                  "grouped_multivariable": mm.model_rows(multi.table)},
    "distant": {"gray": {"groups": gray_groups, "statistic": gray.statistic, "df": gray.df,
                         "p": gray.p_value},
                "gray_all_groups": {"statistic": gray_all.statistic, "df": gray_all.df,
                                    "p": gray_all.p_value}},
}
mm.save_summary(summary, output_dir, "nanomet")
glue = {
    "hr_exposed": mm.fmt_hr(main["hr"], main["lower"], main["upper"]),
    "p_exposed": mm.fmt_p(main["p"]),
    "hr_grouped": mm.fmt_hr(grouped["hr"], grouped["lower"], grouped["upper"]),
    "p_grouped": mm.fmt_p(grouped["p"]),
    "gray_chisq": f"{gray.statistic:.2f}", "gray_p": mm.fmt_p(gray.p_value),
    "nanomet_validation": validation,  # for the book's validation page (path::key glue)
}
mm.publish(SimpleNamespace(glue=glue))

# %% [markdown]
# Any adverse event, {glue:text}`n_exposed` pN0(i+) vs {glue:text}`n_reference` pN0(i-): HR
# {glue:text}`hr_exposed`, p = {glue:text}`p_exposed` (paper: 2.51, p = 0.00019). Multivariable,
# pN0(i+)/pN1mi grouped: HR {glue:text}`hr_grouped`, p = {glue:text}`p_grouped` (paper: 2.16,
# p = 0.0005). Distant relapse, Gray's test: chi-square {glue:text}`gray_chisq`,
# p = {glue:text}`gray_p` (paper: 5.54, p = 0.019).

# %% tags=["nbval-check-output"]
mm.headline({
    "patients by group": {k: mm.fmt_count(v, S) for k, v in groups.items()},
    "median follow-up": round(fu.median, 1),
    "HR pN0(i+) vs pN0(i-)": round(main["hr"], 3),
    "HR grouped, multivariable": round(float(grouped["hr"]), 3),
    "Gray chi-square": round(gray.statistic, 3),
})
