"""Chapter 6: how much to trust the answer.

For the study's exposure effect on each outcome: the power the design had (the smallest hazard
ratio it could detect, and its power for the paper's estimate: ``micromet.power``), how strong an
unmeasured confounder would have to be to explain the estimate away (E-values,
``micromet.evalue``), and, when the study matches, the matched-set bootstrap
(``micromet.bootstrap``) and the same effect by weighting instead of matching (ATT and overlap
weights from the same propensity model, ``micromet.weighting``; weighted Cox and Fine-Gray with
robust variances). The specification sweep (``micromet sweep``) is shown from its saved results
when the study names them (``robustness.sweep``); it is never re-run here.

Every number is computed from the chapters' saved outputs (the analysed set, the summaries); the
report layer formats and masks them like every other page.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from micromet import governance
from micromet.chapters.matching import analysed_set
from micromet.formatting import EN_DASH, fmt_hr, fmt_p
from micromet.report import fmt_count, plain_value, source_words, warning_notes
from micromet.sources import TREATED
from micromet.store import load_frame, load_summary, save_summary
from micromet.study import Study

#: An outcome is "rare" for the E-value (the HR read as a risk ratio) when fewer than this share
#: of the analysed patients have it by the end of follow-up (VanderWeele & Ding 2017).
RARE_BELOW = 0.15


@dataclass
class RobustnessChapter:
    study: Study
    power_table: pd.DataFrame
    evalue_table: pd.DataFrame
    bootstrap_table: pd.DataFrame
    weighting_table: pd.DataFrame
    balance_table: pd.DataFrame
    sweep_table: pd.DataFrame
    glue: dict
    headline: dict
    summary: dict
    notes: list = field(default_factory=list)
    sweep: pd.DataFrame | None = None


def _events_of(data: pd.DataFrame, outcome) -> int:
    ev = pd.to_numeric(data[outcome.event])
    return int((ev == outcome.cause).sum() if outcome.cause is not None else (ev != 0).sum())


def _exposure_sets(study: Study, data: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """The patients of the reference and exposed groups, and their numbers."""
    e = study.exposure
    d = data[data[e.column].astype("object").isin([e.reference, e.exposed])]
    n_exposed = int((d[e.column].astype("object") == e.exposed).sum())
    return d, n_exposed, len(d) - n_exposed


def _exposure_estimates(study: Study, outcome: str, summary: dict) -> list[tuple[str, list]]:
    """(label, [hr, lower, upper, p]) of the exposure in the outcome's regression tables
    (multivariable) and comparisons, as the chapter saved them."""
    e = study.exposure
    term = f"{e.column}[{e.exposed}]"
    found = []
    for name, table in (summary.get("models") or {}).items():
        row = (table.get("multivariable") or {}).get(term)
        title = (study.analyses[name].title if name in study.analyses else "") or name
        if row is not None:
            found.append((f"{title.split(':')[0]}, multivariable", row))
    for name, row in (summary.get("comparisons") or {}).items():
        if name == f"{e.exposed} vs {e.reference}":
            found.append((f"comparison {name}", row))
    return found


def _paper_estimate(study: Study, outcome: str) -> float | None:
    """The paper's exposure estimate for ``outcome`` (its first multivariable or comparison)."""
    e = study.exposure
    pub = study.published.get(outcome) or {}
    term = f"{e.column}[{e.exposed}]"
    for table in (pub.get("models") or {}).values():
        row = (table.get("multivariable") or {}).get(term)
        if row and isinstance(row[0], (int, float)):
            return float(row[0])
    row = (pub.get("comparisons") or {}).get(f"{e.exposed} vs {e.reference}")
    if row and isinstance(row[0], (int, float)):
        return float(row[0])
    return None


def power_rows(study: Study, data: pd.DataFrame) -> tuple[pd.DataFrame, dict, list[str]]:
    """Per outcome: events, groups, the minimum detectable HR at 80% and 90% power
    (Schoenfeld), the power for the paper's estimate (Schoenfeld and Freedman)."""
    from micromet import power

    alpha = study.robustness.alpha
    d, n_exposed, n_control = _exposure_sets(study, data)
    rows, numbers, sentences = [], {}, []
    for name, o in study.outcomes.items():
        events = _events_of(d, o)
        ratio = "SHR" if o.cause is not None else "HR"
        if events == 0:
            rows.append({"outcome": o.label, "events": fmt_count(0, study)})
            continue
        s = power.power_summary(events, n_exposed, n_control, alpha=alpha)
        paper = _paper_estimate(study, name)
        p_s = power.schoenfeld_power(paper, events, n_exposed, n_control, alpha) \
            if paper else None
        p_f = power.freedman_power(paper, events, n_exposed, n_control, alpha) \
            if paper else None
        numbers[name] = {"events": events, "n_exposed": n_exposed, "n_control": n_control,
                         "detectable_80": s.detectable_80,
                         "detectable_90": s.detectable_90, "paper_estimate": paper,
                         "power_paper_schoenfeld": p_s, "power_paper_freedman": p_f}
        what = "events of interest" if o.cause is not None else "events"
        rows.append({
            "outcome": o.label, "ratio": ratio, "events": fmt_count(events, study),
            "detectable at 80% power": f"{s.detectable_80:.2f} (or {1 / s.detectable_80:.2f})",
            "detectable at 90% power": f"{s.detectable_90:.2f} (or {1 / s.detectable_90:.2f})",
            "the paper's estimate": "-" if paper is None else f"{paper:g}",
            "power for it (Schoenfeld)": "-" if p_s is None else f"{100 * p_s:.0f}%",
            "power for it (Freedman)": "-" if p_f is None else f"{100 * p_f:.0f}%",
        })
        if governance.is_small(events, study.governance.min_cell) and not study.synthetic:
            continue  # a small count is not written into prose
        sentences.append(f"{o.label}: {s.sentence(what=what, effect=f'an {ratio}')}.")
    table = pd.DataFrame(rows).set_index("outcome").fillna("-")
    return table, numbers, sentences


def evalue_rows(study: Study, data: pd.DataFrame, output_dir) -> tuple[pd.DataFrame, dict,
                                                                         list[str]]:
    """E-values of each exposure estimate (``EValue::evalues.HR``); an SHR gets the caveat."""
    from micromet import evalue

    d, _, _ = _exposure_sets(study, data)
    rows, numbers, sentences = [], {}, []
    e = study.exposure
    for name, o in study.outcomes.items():
        share = _events_of(d, o) / len(d) if len(d) else math.nan
        rare = bool(share < RARE_BELOW)
        for label, row in _exposure_estimates(study, name, load_summary(output_dir, name)):
            if not isinstance(row, list) or not all(
                    isinstance(v, (int, float)) for v in row[:3]):
                rows.append({"outcome": o.label, "estimate": label,
                             "ratio (95% CI)": "not estimable", "E-value": "-",
                             "E-value, CI limit": "-", "outcome rare": "-"})
                continue
            hr, lower, upper = (float(v) for v in row[:3])
            if o.cause is not None:
                ev = evalue.evalue_shr(hr, lower, upper)
            else:
                ev = evalue.evalue_hr(hr, lower, upper, rare=rare)
            numbers[f"{name}: {label}"] = {"estimate": hr, "evalue": plain_value(ev.evalue),
                                           "evalue_ci": plain_value(ev.evalue_ci),
                                           "rare": rare}
            rows.append({"outcome": o.label, "estimate": label,
                         "ratio (95% CI)": fmt_hr(hr, lower, upper),
                         "E-value": "-" if math.isnan(ev.evalue) else f"{ev.evalue:.2f}",
                         "E-value, CI limit": "-" if math.isnan(ev.evalue_ci)
                         else f"{ev.evalue_ci:.2f}",
                         "outcome rare": f"{'yes' if rare else 'no'} ({100 * share:.1f}%)"})
            sentences.append(ev.describe(exposure=f"{e.exposed} (vs {e.reference})",
                                         outcome=o.label.lower()))
    table = pd.DataFrame(rows).set_index(["outcome", "estimate"]) if rows else pd.DataFrame()
    return table, numbers, list(dict.fromkeys(sentences))


def _ci(lower, upper) -> str:
    return f"{lower:.3f}{EN_DASH}{upper:.3f}"


def bootstrap_rows(study: Study, matched: pd.DataFrame, output_dir) -> tuple[pd.DataFrame,
                                                                             dict, list]:
    """Per outcome, the exposure's multivariable estimate with its model-based CI, the
    cluster-robust CI (Cox, matched sets as clusters) and the matched-set bootstrap percentile
    CI (Austin & Small 2014; ``robustness.bootstrap`` replicates, seeded by the study's seed)."""
    from micromet import bootstrap, competing, survival

    e = study.exposure
    term = f"{e.column}[{e.exposed}]"
    rows, numbers, notes = [], {}, []
    B = study.robustness.bootstrap
    for name, o in study.outcomes.items():
        summary = load_summary(output_dir, name)
        tables = summary.get("models") or {}
        if not tables:
            continue
        covs = next(iter(tables.values())).get("multivariable_covariates") or [e.column]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if o.cause is None:
                fit = bootstrap.cox_fitter(matched, o.time, o.event, covs, ties=study.models.ties)
                robust = survival.cox(matched, o.time, o.event, covs, ties=study.models.ties,
                                      cluster="subclass").table
            else:
                fit = bootstrap.fine_gray_fitter(matched, o.time, o.event, covs, cause=o.cause)
                robust = competing.fine_gray(matched, o.time, o.event, covs,
                                             cause=o.cause).table
            result = bootstrap.matched_bootstrap(matched, fit, B=B, seed=study.seed)
        # the fits' own notes are the chapters' (3 and 4); the bootstrap's are new here
        notes += [n for n in warning_notes(caught) if n.startswith("bootstrap")]
        if term not in result.table.index or term not in robust.index:
            continue
        r, b = robust.loc[term], result.table.loc[term]
        model_ci = _ci(math.exp(r["coef"] - 1.959963984540054 * r["se"]),
                       math.exp(r["coef"] + 1.959963984540054 * r["se"]))
        numbers[name] = {"estimate": float(r["hr"]), "bootstrap_lower": float(b["hr_lower"]),
                         "bootstrap_upper": float(b["hr_upper"]), "replicates": int(b["n"]),
                         "B": B}
        rows.append({
            "outcome": o.label, "ratio": f"{r['hr']:.3f}",
            "model-based 95% CI": model_ci,
            "matched sets as clusters (robust) 95% CI":
                _ci(r["lower"], r["upper"]) if o.cause is None else "-",
            f"bootstrap of matched sets, B = {B:,}, percentile 95% CI":
                _ci(b["hr_lower"], b["hr_upper"]),
            "replicates estimated": f"{int(b['n']):,}"})
    table = pd.DataFrame(rows).set_index("outcome") if rows else pd.DataFrame()
    return table, numbers, notes


def weighting_rows(study: Study, cohort: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                dict, list]:
    """The exposure effect by weighting instead of matching, from the same propensity model:
    ATT (the paper's estimand) and overlap weights; weighted Cox (``coxph(..., weights,
    robust = TRUE)``) and weighted Fine-Gray (``finegray`` + weighted ``coxph``), the exposure
    alone; balance after weighting (cobalt's SMD)."""
    from micromet import competing, survival, weighting

    e = study.exposure
    term = f"{e.column}[{e.exposed}]"
    data = cohort[cohort[e.column].astype("object").isin([e.reference, e.exposed])].copy()
    data[e.column] = pd.Categorical(data[e.column].astype("object"),
                                    categories=[e.reference, e.exposed])
    data[TREATED] = (data[e.column].astype("object") == e.exposed).astype(int)
    covs = study.matching_covariates
    rows, balance, numbers, notes = [], {}, {}, []
    for estimand, words, denom in (("ATT", "ATT (inverse probability)", "treated"),
                                   ("ATO", "overlap", "pooled")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            w = weighting.propensity_weights(data, TREATED, covs, estimand=estimand)
            data["_w"] = w["weight"].to_numpy()
            bal = weighting.weighted_balance(data, TREATED, covs, "_w", s_d_denom=denom)
            fits = {}
            for name, o in study.outcomes.items():
                if o.cause is None:
                    fits[name] = survival.cox(data, o.time, o.event, [e.column], weights="_w",
                                              ties=study.models.ties).table
                else:
                    fits[name] = competing.fine_gray_weighted(
                        data, o.time, o.event, [e.column], cause=o.cause, weights="_w",
                        ties=study.models.ties).table
        balance[words] = bal["smd"]
        for name, table in fits.items():
            o = study.outcomes[name]
            if term not in table.index or not np.isfinite(table.loc[term, "hr"]):
                continue
            r = table.loc[term]
            numbers[f"{name} {estimand}"] = [float(r["hr"]), float(r["lower"]),
                                              float(r["upper"]), float(r["p"])]
            rows.append({"outcome": o.label, "weights": words,
                         "ratio (95% CI, robust)": fmt_hr(r["hr"], r["lower"], r["upper"]),
                         "p": fmt_p(r["p"]),
                         "largest |SMD| after weighting": f"{bal['smd'].abs().max():.3f}"})
    notes += [n for n in warning_notes(caught) if not n.startswith(("unstable", "not estimable"))]
    table = pd.DataFrame(rows).set_index(["outcome", "weights"]) if rows else pd.DataFrame()
    shown = (pd.DataFrame(balance).round(3) + 0.0).map(lambda v: f"{v:.3f}")
    shown.index.name = "covariate (SMD after weighting)"
    return table, shown, numbers, list(dict.fromkeys(notes))


def sweep_results(study: Study) -> pd.DataFrame | None:
    """The saved results of the study's specification sweep (``robustness.sweep``: a CSV
    written by ``micromet sweep``, relative to the repository), or None."""
    from micromet.study import REPO_ROOT

    if not study.robustness.sweep:
        return None
    path = Path(study.robustness.sweep)
    path = path if path.is_absolute() else REPO_ROOT / path
    if not path.is_file():
        return None
    return pd.read_csv(path)


SWEEP_KEYS = ("matching.caliper", "matching.ratio", "matching.replace")


def sweep_cells(results: pd.DataFrame) -> pd.DataFrame:
    """The sweep's rows with one cell per weighting design (its estimate does not depend on the
    matching choices the grid varies, so the grid repeats it), the matching columns of those
    cells blank."""
    weighted = results["design"] != "matching"
    keys = [k for k in SWEEP_KEYS if k in results.columns]
    first = results[weighted].drop_duplicates(["design", "outcome", "adjustment"]).copy()
    first[keys] = np.nan
    first["study_choice"] = False
    return pd.concat([results[~weighted], first], ignore_index=True)


def sweep_table(study: Study, results: pd.DataFrame) -> pd.DataFrame:
    """Per outcome (multivariable model): the study's own estimate, the range over the
    matching specifications, how many of them have a 95% CI excluding 1, and the estimate by
    each weighting design."""
    rows = []
    cells = sweep_cells(results)
    for name, o in study.outcomes.items():
        r = cells[(cells["outcome"] == name) & (cells["adjustment"] == "multivariable")]
        if r.empty:
            continue
        match = r[r["design"] == "matching"].dropna(subset=["estimate"])
        own = r[r["study_choice"].astype(bool)]
        excluding = int(((match["lower"] > 1) | (match["upper"] < 1)).sum())
        row = {"outcome": o.label, "ratio": r["measure"].iloc[0],
               "the study's choice": fmt_hr(*own.iloc[0][["estimate", "lower", "upper"]])
               if not own.empty else "-",
               "matching specifications": f"{len(match)}",
               "range of estimates": f"{match['estimate'].min():.3f}{EN_DASH}"
                                     f"{match['estimate'].max():.3f}" if len(match) else "-",
               "95% CI excluding 1": f"{excluding} of {len(match)}"}
        for design in [d for d in r["design"].unique() if d != "matching"]:
            d = r[r["design"] == design].iloc[0]
            row[f"{design} weights"] = fmt_hr(d["estimate"], d["lower"], d["upper"]) \
                if d["status"] == "ok" else "failed"
        rows.append(row)
    return pd.DataFrame(rows).set_index("outcome") if rows else pd.DataFrame()


def robustness_chapter(study: Study, output_dir=".") -> RobustnessChapter:
    """Power, E-values, the matched-set bootstrap and weighting for the exposure effect, and
    the saved specification sweep; ``summaries/robustness.json``."""
    data = analysed_set(study, output_dir)
    notes: list[str] = []
    power_table, power_numbers, power_text = power_rows(study, data)
    evalue_table, evalue_numbers, evalue_text = evalue_rows(study, data, output_dir)
    empty = pd.DataFrame()
    bootstrap_table, bootstrap_numbers = empty, {}
    weighting_table, balance_table, weighting_numbers = empty, empty, {}
    if study.matching.enabled:
        bootstrap_table, bootstrap_numbers, more = bootstrap_rows(study, data, output_dir)
        notes += more
        cohort = load_frame(output_dir, "cohort", "01_cohort")
        weighting_table, balance_table, weighting_numbers, more = weighting_rows(study, cohort)
        notes += more
    sweep = sweep_results(study)
    summary = {"power": power_numbers, "evalues": evalue_numbers,
               "bootstrap": bootstrap_numbers, "weighting": weighting_numbers}
    save_summary(summary, output_dir, "robustness", study)
    first = next(iter(power_numbers.items()), None)
    summary_text = ""
    if first is not None:
        name, v = first
        o = study.outcomes[name]
        ratio = "SHR" if o.cause is not None else "HR"
        summary_text = (f"With {fmt_count(v['events'], study)} events ({o.label.lower()}) the "
                        f"analysed set could detect an {ratio} of {v['detectable_80']:.2f} or "
                        f"more (or {1 / v['detectable_80']:.2f} or less) with 80% power")
        if v["paper_estimate"] is not None:
            summary_text += (f"; its power for the paper's {ratio} of {v['paper_estimate']:g} "
                             f"was {100 * v['power_paper_schoenfeld']:.0f}%")
        summary_text += "."
    if sweep is None:
        sweep_text = ("The study file names no saved specification sweep "
                      "(robustness.sweep), so none is shown.")
    else:
        sweep_text = (
            "The exposure's multivariable estimate in every cell of the saved sweep of "
            "micromet sweep: each matching specification (caliper, ratio, with or without "
            "replacement) and the weighting designs, which do not depend on those choices; "
            "the study's own choice is marked. Computed once by the sweep and read here, "
            "never re-run.")
    glue = {"summary_text": summary_text, "sweep_text": sweep_text,
            "sweep_caption": ("Specification curve: the exposure's hazard ratio (overall "
                              "survival) and subdistribution hazard ratio (the competing-risks "
                              "outcome) with 95% CIs in every cell of the sweep, sorted; below, "
                              "the choices that made each cell; the study's own choice in red. "
                              + source_words(study)),
            "power_text": " ".join(power_text) or "No outcome has events to power a test.",
            "evalue_text": " ".join(evalue_text) or "No exposure estimate to assess.",
            "rare_below": f"{100 * RARE_BELOW:.0f}%",
            "power_caption": ("Power of the two-sided test of the exposure against its true "
                              "hazard ratio, for each outcome, from its events and group sizes "
                              "(Schoenfeld); the paper's estimate (open) and this run's "
                              "(filled) are marked on the curves. " + source_words(study)),
            "bootstrap_b": f"{study.robustness.bootstrap:,}"}
    head = {f"{k}: detectable at 80%": round(v["detectable_80"], 3)
            for k, v in power_numbers.items()}
    head.update({f"E-value {k}": None if v["evalue"] is None else round(v["evalue"], 3)
                 for k, v in evalue_numbers.items()})
    head.update({f"bootstrap {k}": [round(v["bootstrap_lower"], 3),
                                    round(v["bootstrap_upper"], 3)]
                 for k, v in bootstrap_numbers.items()})
    return RobustnessChapter(
        study=study, power_table=power_table, evalue_table=evalue_table,
        bootstrap_table=bootstrap_table, weighting_table=weighting_table,
        balance_table=balance_table,
        sweep_table=empty if sweep is None else sweep_table(study, sweep),
        glue=glue, headline=head, summary=summary, notes=list(dict.fromkeys(notes)),
        sweep=sweep)


def power_figure(result: RobustnessChapter):
    """Power against the true HR/SHR for each outcome, the paper's and this run's estimates
    marked (``plots_power.power_curve``); small counts masked with a real source."""
    from micromet import plots_power

    s = result.study
    curves = []
    for name, v in result.summary["power"].items():
        observed = next((e["estimate"] for k, e in result.summary["evalues"].items()
                         if k.startswith(f"{name}:")), None)
        curves.append({"label": s.outcomes[name].label, "events": v["events"],
                       "events_text": fmt_count(v["events"], s),
                       "n_exposed": v["n_exposed"], "n_control": v["n_control"],
                       "paper": v["paper_estimate"], "observed": observed})
    ax = plots_power.power_curve(curves, alpha=s.robustness.alpha)
    governance.mask_figure(ax.figure, min_cell=s.governance.min_cell, real=not s.synthetic)
    return ax.figure


def sweep_figure(result: RobustnessChapter):
    """The specification curve of the saved sweep (``plots_sweep.specification_curve``): the
    exposure's multivariable estimate in every cell, sorted, the study's choice marked; None
    when the study names no sweep."""
    from micromet import plots_sweep

    if result.sweep is None:
        return None
    cells = sweep_cells(result.sweep)
    keys = [k for k in SWEEP_KEYS if k in cells.columns]
    labels = {k: o.label for k, o in result.study.outcomes.items()}
    return plots_sweep.specification_curve(cells, keys, labels=labels)
