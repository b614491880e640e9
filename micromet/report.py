"""The report layer: the formatters of p values and hazard ratios (``micromet.formatting``,
re-exported here), counts and dashes; what a
notebook shows (notice, parameters, headline, published tables); small counts masked at this
boundary when the source is real (``micromet.governance``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from micromet import governance
from micromet.files import sha256_of
from micromet.formatting import EN_DASH, fmt_hr, fmt_months, fmt_p  # noqa: F401  (the report's formatters)
from micromet.study import Study, load_study


def study_parameters(study: dict | Study | None = None, default: str = "seer_m0i") -> Study:
    """The ``Study`` a chapter runs with: the injected mapping, or the default study file."""
    if isinstance(study, Study):
        return study
    if not study:
        return load_study(default)
    return Study.from_dict(study)


def show_notice(study: Study) -> None:
    """Display the data notice (synthetic or registry) at the top of a chapter."""
    from IPython.display import Markdown, display

    display(Markdown(governance.data_notice(study.synthetic, source=study.source,
                                            min_cell=study.governance.min_cell)))


def parameters_table(study: Study) -> pd.DataFrame:
    """The parameters of this run (the study file with its overrides), for readers: the
    injected-parameters cell itself is hidden from the book."""
    m, c, e = study.matching, study.cohort, study.exposure
    if study.synthetic:
        rows = [("study file", study.file or ""), ("source", study.source),
                ("seed", study.seed)]
    else:  # a real export: its name and fingerprint, never where it lives on this machine
        rows = [("study file", Path(study.file).name if study.file else ""),
                ("data file", Path(study.source).name),
                ("data file sha256", sha256_of(study.source))]
    if c is not None:
        rows += [("years of diagnosis", "-".join(map(str, c.years)) if c.years else "all"),
                 ("criteria, in order", "; ".join(str(k.get("name")) for k in c.criteria)),
                 ("grade variable", c.grade_variable or "")]
    rows += [("exposure", f"{e.column}: {e.exposed} vs {e.reference}"),
             ("covariates", ", ".join(study.covariates))]
    if m.enabled:
        caliper = "none" if m.caliper is None else (
            f"{m.caliper:g} SD of the distance" if m.std_caliper else f"{m.caliper:g}")
        rows += [("matching", f"{m.method}, 1:{m.ratio}, caliper {caliper}, "
                              f"{'with' if m.replace else 'without'} replacement, "
                              f"order {m.m_order}, distance {m.distance}")]
    else:
        rows += [("matching", "none")]
    for name, o in study.outcomes.items():
        what = f"{o.event} (cause {o.cause}, competing {o.competing})" if o.cause else \
            f"{o.event} != 0"
        rows.append((f"outcome {name}", f"{o.label}: time {o.time}, event {what}"))
    md = study.models
    rows += [("multivariable selection",
              {"univariable_p": f"univariable p < {md.selection_p:g}", "all": "all covariates",
               "none": "exposure only"}[md.selection]
              + (", exposure forced in" if md.force_exposure else "")),
             ("ties", md.ties), ("smallest count shown (real data)", study.governance.min_cell)]
    return pd.DataFrame([(k, str(v)) for k, v in rows],
                        columns=["parameter", "value"]).set_index("parameter")


def publish(result) -> None:
    """Glue a chapter's numbers for the prose (myst_nb.glue, not displayed) and show its notes."""
    from myst_nb import glue

    for key, value in sorted(result.glue.items()):
        glue(key, value, display=False)
    if getattr(result, "notes", None):
        from IPython.display import Markdown, display

        study = getattr(result, "study", None)
        real = study is not None and not study.synthetic
        mc = study.governance.min_cell if study is not None else 11
        lines = "\n".join(f"- {governance.mask_counts_in_text(n, min_cell=mc, real=real)}"
                           for n in result.notes)
        display(Markdown(f"```{{admonition}} Notes\n:class: note\n{lines}\n```"))




def show(frame: pd.DataFrame | None) -> None:
    """Display a table whole (every row: pandas cuts long tables to 10 rows), or nothing when
    it is empty (a study without that table)."""
    if frame is None or getattr(frame, "empty", False):
        return
    from IPython.display import display

    with pd.option_context("display.max_rows", None, "display.max_columns", None,
                           "display.max_colwidth", None):
        display(frame)


def show_tables(tables) -> None:
    """Display several tables, each under its title in bold: a mapping title -> table, or a
    chapter result whose ``tables`` are regression tables (``analyses.RegressionTable``: the
    table in the paper's layout, how its covariates were chosen, the model as fitted, and the
    paper's numbers beside this run's with a CSV to download)."""
    from IPython.display import Markdown, display

    items = getattr(tables, "tables", tables)
    for title, table in items.items():
        if hasattr(table, "beside_paper"):  # a regression table
            from micromet.analyses import covariates_sentence

            display(Markdown(f"**{table.title}.** Every candidate covariate alone (univariable), "
                             f"{table.selection_text}. "
                             f"{covariates_sentence(table, table.study)}"))
            show(table.table)
            if table.call:
                display(Markdown(f"The multivariable model, as fitted:\n\n```python\n"
                                 f"{table.call}\n```"))
            if table.beside_paper is not None:
                display(Markdown(
                    f"**{table.title.split(':')[0]} beside the paper.** The paper's estimates "
                    "and p values beside this run's, term by term (\u2020: the paper's value is "
                    "the monotone-likelihood artefact, see the notes). "
                    + (f"{{download}}`Download this table (CSV) <{table.csv}>`."
                       if table.csv else "")))
                show(table.beside_paper)
            if table.forest is not None and not table.forest.empty:
                import matplotlib.pyplot as plt

                from micromet.plots_forest import forest_plot

                ratio = "Subdistribution hazard ratio" if table.analysis.model == "fine_gray" \
                    else "Hazard ratio"
                figure = forest_plot(table.forest, label="label",
                                     xlabel=f"{ratio} (95% CI, log scale)")
                show_figure(
                    figure, f"forest_{table.name}",
                    f"{table.title.split(':')[0]}, multivariable model: the paper's estimates "
                    "(grey squares) and this run's (circles) with their 95% confidence "
                    "intervals, log scale; estimates that are not finite or beyond e^5 (the "
                    "artefacts) are listed under the plot, not drawn. "
                    + source_words(table.study),
                    alt=f"Forest plot of the paper's and this run's {ratio.lower()}s, term "
                        "by term")
                plt.close(figure)
        elif table is not None and not table.empty:
            display(Markdown(f"**{title}.**"))
            show(table)


def source_words(study: Study) -> str:
    """The data source of a figure, for its caption."""
    if study.synthetic:
        return f"Synthetic data ({study.source}), not real patients."
    return f"Registry data ({Path(study.source).name})."


def show_figure(figure, name: str, caption: str, *, alt: str) -> None:
    """A figure a chapter shows from code (one per regression table, or one the study may not
    have: None shows nothing), numbered and captioned as the prose's figures are: glued as
    ``name`` and placed by a glue-figure directive with its ``caption`` and ``alt`` text."""
    if figure is None:
        return
    from IPython.display import Markdown, display

    glue_figure(name, figure)
    display(Markdown(f"```{{glue:figure}} {name}\n:alt: {alt}\n:width: 100%\n\n{caption}\n```"))


def glue_figure(name: str, figure) -> None:
    """Glue a figure for a numbered, captioned glue-figure directive in the chapter's prose (the
    caption says what is plotted, the data source and the test), not displayed here."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    glue(name, figure, display=False)
    plt.close(figure)


def headline(numbers: dict) -> None:
    """Print rounded headline numbers, one ``key: value`` per line (the cells nbval checks)."""
    for key in numbers:
        print(f"{key}: {numbers[key]}")


def fmt_count(n, study: Study) -> str:
    """A count as text, masked (``<11``) when the source is real and the count small."""
    value = governance.mask_count(int(n), min_cell=study.governance.min_cell,
                                  real=not study.synthetic)
    return value if isinstance(value, str) else f"{value:,}"


def rounded(x: float, digits: int) -> float:
    """Rounded, without a negative zero (headline numbers must print the same everywhere)."""
    return round(float(x), digits) + 0.0


def pretty(frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """A comparison table for display: numbers to ``digits`` significant digits, blanks for
    missing values."""
    def cell(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        if isinstance(v, (bool, np.bool_)):
            return str(v)
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}"
        if isinstance(v, (float, np.floating)):
            return f"{float(v):.{digits}g}"
        return str(v)

    return frame.astype(object).map(cell)


def published_size(data: pd.DataFrame, study: Study):
    """The size of an analysed set as it may be published. Its groups' sizes are published too
    (numbers at risk at time 0, Table 2), so with a real source and a group smaller than
    ``min_cell`` (shown as ``<11``) the total would give it away: it is withheld (``*``)."""
    n = len(data)
    if study.synthetic:
        return n
    mc = study.governance.min_cell
    if governance.is_small(n, mc):
        return governance.masked_label(mc)
    sizes = data[study.exposure.column].astype("object").value_counts()
    if any(governance.is_small(int(v), mc) for v in sizes):
        return governance.SUPPRESSED
    return n


def shown_count(value, study: Study) -> str:
    """A published count as text: withheld ones as they are, others through fmt_count."""
    return value if isinstance(value, str) else fmt_count(value, study)


def uses_suppression(withheld: dict) -> bool:
    return governance.SUPPRESSED in withheld.values()


def _flow_display(flow: pd.DataFrame, levels: list[str]) -> pd.DataFrame:
    """The flow table as shown: excluded and remaining, overall and per group (two header
    rows: group, then excluded/remaining), counts with thousands separators."""
    cols = {"excluded": ("all", "excluded"), "remaining": ("all", "remaining")}
    for lv in levels:
        cols[f"excluded[{lv}]"] = (lv, "excluded")
        cols[f"remaining[{lv}]"] = (lv, "remaining")
    keep = [c for c in cols if c in flow.columns]
    show = flow.set_index("step")[keep]
    show.columns = pd.MultiIndex.from_tuples([cols[c] for c in keep])
    show.index.name = "step"
    return show.apply(lambda col: col.map(
        lambda v: v if isinstance(v, str) else "" if pd.isna(v) else f"{int(v):,}"))


def plain_value(value):
    if value is pd.NA or value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def warning_notes(caught, category=Warning) -> list[str]:
    notes: list[str] = []
    for w in caught:
        if issubclass(w.category, category) or category is Warning:
            text = str(w.message)
            if text not in notes:
                notes.append(text)
    return notes


def _hr_text(table: pd.DataFrame | None, term: str) -> str:
    """"0.853 (0.534–1.362), p = 0.505" for ``term`` of a model table; "not estimable"."""
    if table is None or term not in table.index:
        return "NA"
    if term in (table.attrs.get("not_estimable") or ()):
        return "not estimable"
    r = table.loc[term]
    hr = fmt_hr(r['hr'], r['lower'], r['upper'])
    return hr if hr == "not estimable" else f"{hr}, {fmt_p(r['p'], label='p')}"


def _in_order(frame: pd.DataFrame, study: Study, column: str = "group") -> pd.DataFrame:
    """Rows in the study's order of groups (reference first), not alphabetical."""
    if column not in frame.columns:
        return frame
    order = {lv: i for i, lv in enumerate(study.group_levels())}
    key = frame[column].astype("object").map(lambda g: order.get(g, len(order)))
    return frame.assign(_order=key.to_numpy()).sort_values(["_order"], kind="stable") \
        .drop(columns="_order")


def survival_at_display(surv: pd.DataFrame, study: Study) -> pd.DataFrame:
    """``survival.survival_at`` as shown: by group (the study's order) and month, patients at
    risk, events, survival with its 95% CI (three decimals, an en dash); counts masked with a
    real source."""
    frame = _in_order(surv, study).copy()
    frame["months"] = [fmt_months(t) for t in frame["time"]]
    shown = pd.DataFrame({
        "at risk": frame["n_risk"].astype(int).to_numpy(),
        "events": frame["n_event"].astype(int).to_numpy(),
        "survival": [f"{v:.3f}" for v in frame["survival"]],
        "95% CI": [f"{lo:.3f}{EN_DASH}{hi:.3f}" for lo, hi in zip(frame["lower"], frame["upper"])],
    }, index=pd.MultiIndex.from_arrays([frame["group"].astype("object"), frame["months"]],
                                       names=["group", "months"])
       if "group" in frame.columns else pd.Index(frame["months"], name="months"))
    return governance.mask_table(shown, ["at risk", "events"],
                                 min_cell=study.governance.min_cell, real=not study.synthetic)


def median_display(medians: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Median survival (95% CI) per group, as ``print(survfit)``: "not reached" where the curve
    (or a confidence limit) stays above one half; groups in the study's order; counts masked
    with a real source."""
    def months(v):
        return "not reached" if not np.isfinite(v) else fmt_months(v)

    rows = []
    for _, r in _in_order(medians, study).iterrows():
        rows.append({"group": r["group"], "patients": int(r["n"]), "events": int(r["events"]),
                     "median, months": months(r["median"]),
                     "95% CI": f"{months(r['lower'])}{EN_DASH}{months(r['upper'])}"})
    table = pd.DataFrame(rows).set_index("group")
    return governance.mask_table(table, ["patients", "events"],
                                 min_cell=study.governance.min_cell, real=not study.synthetic)


def records_of(frame: pd.DataFrame) -> list[dict]:
    return [{str(k): plain_value(v) for k, v in r.items()} for r in frame.to_dict("records")]


def _cif_display(at, study: Study | None = None) -> pd.DataFrame:
    """``competing.timepoints`` of the cause of interest as shown: by group (the study's order)
    and month, the cumulative incidence with its standard error (three decimals)."""
    frame = at if isinstance(at, pd.DataFrame) else pd.DataFrame(at)
    frame = _in_order(frame.copy(), study) if study is not None else frame.copy()
    if "variance" in frame.columns:
        frame["se"] = np.sqrt(frame["variance"].astype(float))
    if not {"group", "time", "estimate"} <= set(frame.columns):
        return frame.round(4)
    shown = pd.DataFrame({
        "cumulative incidence": [f"{v:.3f}" if np.isfinite(v) else "-" for v in frame["estimate"]],
        "SE": [f"{v:.3f}" if np.isfinite(v) else "-" for v in frame.get("se", frame["estimate"])],
    }, index=pd.MultiIndex.from_arrays(
        [frame["group"].astype("object"), [fmt_months(t) for t in frame["time"]]],
        names=["group", "months"]))
    return shown


def _masked(figure, study: Study):
    governance.mask_figure(figure, min_cell=study.governance.min_cell, real=not study.synthetic)
    return figure


def apply_withheld(tests: dict, table: pd.DataFrame, withheld: dict, levels, study):
    """Table 1/2's numbers and display with the withheld counts replaced; a group whose size
    is withheld shows no percentages (a count and its percentage give the size)."""
    import copy

    from micromet import describe

    if not withheld:
        return tests, table
    tests = copy.deepcopy(tests)
    raw = table.attrs["raw"].copy()
    raw.attrs = copy.deepcopy(table.attrs["raw"].attrs)
    hidden_groups = set()
    for col in [c for c in raw.columns if c.startswith(("n[", "percent["))]:
        raw[col] = raw[col].astype(object)
    for cell, label in withheld.items():
        if cell[0] == "n" and len(cell) == 2:
            j = cell[1]
            tests["n"][j] = label
            raw.attrs["n"] = dict(raw.attrs["n"])
            raw.attrs["n"][levels[j]] = label
            hidden_groups.add(levels[j])
        elif len(cell) == 3 and cell[0] in tests["categorical"]:
            var, level, j = cell
            tests["categorical"][var]["counts"][level][j] = label
            rows = (raw["variable"] == var) & (raw["level"].astype(str) == level)
            raw.loc[rows, f"n[{levels[j]}]"] = label
            raw.loc[rows, f"percent[{levels[j]}]"] = np.nan
    for lv in hidden_groups:
        raw[f"percent[{lv}]"] = np.nan
    shown = describe.format_table_one(raw).set_index("Variable")
    shown.attrs["raw"] = table.attrs["raw"]
    return tests, shown


def without_small_groups(data: pd.DataFrame, study: Study):
    """With a real source, the rows of the groups smaller than ``min_cell`` left out of a
    figure: each step of such a group's curve is one patient's event."""
    if study.synthetic:
        return data, []
    column = study.exposure.column
    sizes = data[column].astype("object").value_counts()
    hidden = [g for g, n in sizes.items() if governance.is_small(int(n), study.governance.min_cell)]
    if not hidden:
        return data, []
    keep = ~data[column].astype("object").isin(hidden)
    out = data.loc[keep].copy()
    if isinstance(out[column].dtype, pd.CategoricalDtype):
        out[column] = out[column].cat.remove_categories(
            [g for g in hidden if g in out[column].cat.categories])
    return out, hidden


def nothing_drawn(hidden: list, study: Study):
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(6, 1.2))
    ax.axis("off")
    say_hidden(ax, hidden, study)
    return figure


def say_hidden(ax, hidden: list, study: Study) -> None:
    if hidden:
        ax.text(0.0, 1.02, f"Not drawn (fewer than {study.governance.min_cell} patients): "
                + ", ".join(map(str, hidden)), transform=ax.transAxes, fontsize=8, va="bottom")
