"""The chapters' computations: one call per chapter, so a notebook cell stays 1-3 calls + display.

Each ``*_chapter(study, output_dir)`` reads what the previous chapter saved in ``output_dir``
(``data/*.parquet``: row-level, never shown, never committed; ``summaries/*.json``: aggregates),
computes with the statistical modules (``seer``, ``synth``, ``cohort``, ``describe``,
``matching``, ``survival``, ``competing``), saves its own outputs and returns a small result
object: display-ready tables (small counts masked when the source is real), the numbers glued
into the prose (``glue``), a ``headline`` of rounded numbers (the cells nbval checks) and the
summary written to ``summaries/<section>.json`` (merged into ``results.json`` by ``micromet run``).

This module is the adapter between the notebooks and the statistics: it holds no statistics of
its own beyond counting.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from micromet import governance
from micromet.errors import InputError
from micromet.files import sha256_of
from micromet.study import Study, load_study

DATA_DIR = "data"
SUMMARIES_DIR = "summaries"
TREATED = "_treated"  # 0/1 exposure indicator used by matching


# ---- parameters, notice, glue, headline --------------------------------------------------------


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


glue_all = publish


def headline(numbers: dict) -> None:
    """Print rounded headline numbers, one ``key: value`` per line (the cells nbval checks)."""
    for key in numbers:
        print(f"{key}: {numbers[key]}")


def fmt_count(n, study: Study) -> str:
    """A count as text, masked (``<11``) when the source is real and the count small."""
    value = governance.mask_count(int(n), min_cell=study.governance.min_cell,
                                  real=not study.synthetic)
    return value if isinstance(value, str) else f"{value:,}"


def _r(x: float, digits: int) -> float:
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


def fmt_p(p) -> str:
    if p is None or not np.isfinite(p):
        return "NA"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_hr(hr, lower, upper) -> str:
    if not all(np.isfinite(v) for v in (hr, lower, upper)):
        return "not estimable"
    return f"{_num(hr)} ({_num(lower)}-{_num(upper)})"


def _num(x: float) -> str:
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:.2e}"
    return f"{x:.3f}"


# ---- files ------------------------------------------------------------------------------------


def _path(output_dir, *parts) -> Path:
    path = Path(output_dir).joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def save_frame(frame: pd.DataFrame, output_dir, name: str) -> Path:
    """Save row-level data under ``data/`` (with a ``.gitignore`` so it is never committed)."""
    path = _path(output_dir, DATA_DIR, f"{name}.parquet")
    ignore = path.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# row-level data: never committed, never published\n*\n")
    frame.to_parquet(path, index=True)
    return path


def load_frame(output_dir, name: str, chapter: str) -> pd.DataFrame:
    path = Path(output_dir) / DATA_DIR / f"{name}.parquet"
    if not path.exists():
        raise InputError(f"{path} is missing: run chapter {chapter} first "
                         "(micromet run executes the chapters in order)", file=path)
    return pd.read_parquet(path)


def save_summary(summary: dict, output_dir, section: str, study: Study | None = None,
                 published: dict | None = None) -> Path:
    """A chapter's numbers for results.json. With a real source the unmasked numbers go to the
    row-level side (``data/summaries/``) and ``summaries/`` gets what may be published:
    ``published`` (masked with complementary suppression by the chapter) or, by default, every
    small count masked."""
    from micromet.run import dumps

    real = study is not None and not study.synthetic
    if real:
        _path(output_dir, DATA_DIR, SUMMARIES_DIR, f"{section}.json").write_text(
            dumps(summary), encoding="utf-8")
        summary = governance.mask_leaves(published if published is not None else summary,
                                         min_cell=study.governance.min_cell)
    path = _path(output_dir, SUMMARIES_DIR, f"{section}.json")
    path.write_text(dumps(summary), encoding="utf-8")
    return path


def load_summary(output_dir, section: str) -> dict:
    path = Path(output_dir) / SUMMARIES_DIR / f"{section}.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


# ---- source -------------------------------------------------------------------------------------


def cache_dir() -> Path | None:
    """Where synthetic extracts are cached: ``$MICROMET_CACHE``, else the generator's default."""
    import os

    env = os.environ.get("MICROMET_CACHE")
    return Path(env) if env else None


def read_source(study: Study) -> pd.DataFrame:
    """The raw frame (labels as text, canonical names) of the study's source."""
    from micromet import seer

    if study.synthetic:
        from micromet import synth

        name, query = study.synthetic_spec
        if name != "seer_m0i":
            raise InputError(f"unknown synthetic source '{name}' (known: seer_m0i)",
                             file=study.file, column="source", value=study.source)
        seed = int(query.pop("seed", study.seed))
        scale = float(query.pop("scale", 1.0))
        params = {k: _scalar(v) for k, v in query.items()}
        path = synth.synthetic_extract(seed, params or None, cache_dir(), scale=scale)
        if isinstance(path, pd.DataFrame):
            return path
        return seer.read_export(path)
    path = Path(study.source)
    if not path.exists():
        raise InputError("data file not found", file=path, column="source")
    return seer.read_export(path)


def _scalar(text: str):
    import yaml

    return yaml.safe_load(text)


def write_synthetic_export(out, *, seed: int | None = None, scale: float = 1.0) -> Path:
    """``micromet synth``: a synthetic SEER*Stat label export (+ .dic) in folder ``out``
    (``seed`` defaults to ``micromet.synth.DEFAULT_SEED``)."""
    from micromet import synth

    seed = synth.DEFAULT_SEED if seed is None else seed
    return Path(synth.cli_synth(Path(out), seed=seed, n_scale=scale))


def analysis_frame(study: Study) -> pd.DataFrame:
    from micromet import seer

    raw = read_source(study)
    grade = study.cohort.grade_variable if study.cohort and study.cohort.grade_variable else None
    frame = seer.tidy(raw, grade) if grade else seer.tidy(raw)
    if study.cohort is not None and study.cohort.years:
        last = study.cohort.followup_until or study.cohort.years[1]
        seer.check_followup(frame, last, file=raw.attrs.get("file"))
    frame.attrs["n_raw"] = len(raw)
    return frame


def check_source(study: Study) -> None:
    """Read and check a real source as chapter 1 will, before any chapter runs: a bad export or
    series stops the run at once with the named error (file, column, 1-based row, value), and
    a cohort that the criteria empty stops naming the step."""
    if study.series is not None:
        from micromet.series import read_source as read_series_source

        read_series_source(study.source, study.series, seed=study.seed, cache_dir=cache_dir())
        return
    from micromet import cohort as cohort_mod

    frame = analysis_frame(study)
    extract, _ = restrict_extract(frame, study)
    e = study.exposure
    criteria = list(study.cohort.criteria) if study.cohort else []
    cohort_mod.build_cohort(extract, criteria, e.column,
                            levels=e.levels or [e.reference, e.exposed])


def _exposure_categorical(frame: pd.DataFrame, study: Study) -> pd.DataFrame:
    e = study.exposure
    levels = e.levels or [e.reference, e.exposed]
    frame = frame.copy()
    frame[e.column] = pd.Categorical(frame[e.column].astype("object"), categories=levels)
    return frame


def group_counts(frame: pd.DataFrame, study: Study) -> dict[str, int]:
    col = study.exposure.column
    levels = study.exposure.levels or [study.exposure.reference, study.exposure.exposed]
    counts = frame[col].astype("object").value_counts()
    return {str(lv): int(counts.get(lv, 0)) for lv in levels}


# ---- chapter 1: cohort --------------------------------------------------------------------------


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
    from micromet import cohort as cohort_mod

    notes: list[str] = []
    e = study.exposure
    levels = e.levels or [e.reference, e.exposed]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = analysis_frame(study)
        extract, outside = restrict_extract(frame, study)
        criteria = list(study.cohort.criteria) if study.cohort else []
        built = cohort_mod.build_cohort(extract, criteria, e.column, levels=levels)
        data = _exposure_categorical(built.data, study)
    notes += _warning_notes(caught)
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
    n_raw = int(frame.attrs.get("n_raw", len(frame)))
    summary = {
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
    tests_pub, table_pub = _apply_to_table(tests, table, withheld, levels, study)
    last = len(flow_pub) - 1
    published_summary = {
        "n_raw": withheld.get(("n_raw",), n_raw),
        "outside_extract": withheld.get(("outside",), int(outside)),
        "extracted": {lv: _plain(flow_pub.iloc[0][f"remaining[{lv}]"]) for lv in levels},
        "final": {lv: _plain(flow_pub.iloc[last][f"remaining[{lv}]"]) for lv in levels},
        "flow": _flow_records(flow_pub),
        "table1": tests_pub,
        "followup": fu,
    }
    save_summary(summary, output_dir, "cohort", study, published=published_summary)

    glue = {
        "n_extracted": fmt_count(len(extract), study),
        "n_final": fmt_count(len(data), study),
        "n_final_reference": fmt_count(final[e.reference], study),
        "n_final_exposed": fmt_count(final[e.exposed], study),
        "label_reference": e.reference,
        "label_exposed": e.exposed,
        "followup_median": f"{fu['median']:g}",
        "followup_iqr": f"{fu['q1']:g}-{fu['q3']:g}",
        "followup_max": f"{fu['max']:g}",
    }
    head = {"rows read": published_summary["n_raw"],
            "extracted": published_summary["extracted"], "final": published_summary["final"]}
    for record in published_summary["flow"]:
        per_group = {lv: record.get(f"remaining[{lv}]") for lv in levels}
        head[f"after '{record['step']}'"] = per_group
    head = {k: governance.mask_leaves(v, min_cell=mc, real=real) for k, v in head.items()}
    head["Table 1 p"] = {var: _r(vals["p"], 3) for kind in ("continuous", "categorical")
                         for var, vals in tests[kind].items() if vals["p"] is not None}
    head["follow-up median (IQR), max"] = f"{fu['median']:g} ({fu['q1']:g}-{fu['q3']:g}), " \
                                          f"{fu['max']:g}"
    if withheld and _uses_suppression(withheld):
        notes.append(governance.SUPPRESSED_NOTE.format(min_cell=mc))
    show = _flow_display(flow_pub, levels)
    return CohortChapter(
        study=study, data=data, flow=flow_pub,
        flow_table=governance.mask_table(show, min_cell=mc, real=real),
        table_one=governance.mask_table(table_pub, min_cell=mc, real=real),
        table_one_vs_published=beside_published(
            governance.mask_table(table_pub, min_cell=mc, real=real),
            study.published.get("table1"), study),
        glue=glue, headline=head, summary=published_summary, notes=notes, flow_object=built,
    )


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


def _shown(value, study: Study) -> str:
    """A published count as text: withheld ones as they are, others through fmt_count."""
    return value if isinstance(value, str) else fmt_count(value, study)


def _uses_suppression(withheld: dict) -> bool:
    return governance.SUPPRESSED in withheld.values()


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


def _apply_to_table(tests: dict, table: pd.DataFrame, withheld: dict, levels, study):
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


def restrict_extract(frame: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, int]:
    """The rows of the extract definition (years of diagnosis, exposure levels); the number of
    rows set aside. The paper's extract holds only these, so nothing is set aside there."""
    e = study.exposure
    levels = e.levels or [e.reference, e.exposed]
    keep = frame[e.column].astype("object").isin(levels).to_numpy()
    if study.cohort is not None and study.cohort.years and "year" in frame.columns:
        first, last = study.cohort.years
        year = pd.to_numeric(frame["year"], errors="coerce")
        keep &= year.between(first, last).fillna(False).to_numpy(dtype=bool)
    return frame.loc[keep], int((~keep).sum())


def _flow_frame(flow) -> pd.DataFrame:
    if isinstance(flow, pd.DataFrame):
        return flow.copy()
    return pd.DataFrame(flow)


def _flow_records(flow: pd.DataFrame) -> list[dict]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in flow.to_dict("records")]


def _plain(value):
    if value is pd.NA or value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value




def followup(data: pd.DataFrame, study: Study) -> dict:
    """Median follow-up (IQR, max) of ``data``, by reverse Kaplan-Meier (``survival``)."""
    from micromet import survival

    outcome = study.outcomes.get("os") or next(iter(study.outcomes.values()))
    fu = survival.median_followup(data, outcome.time, outcome.event)
    return {"median": fu.median, "q1": fu.q1, "q3": fu.q3, "max": fu.maximum}


# ---- descriptive tables -----------------------------------------------------------------------


def describe_groups(data: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, dict]:
    """Table 1/2 in the paper's layout, and its numbers (per variable: quartiles or counts per
    group, and the test's p) for summaries and the published-vs-reproduced comparison."""
    from micromet import describe

    e = study.exposure
    levels = e.levels or [e.reference, e.exposed]
    t1 = study.table_one
    raw = describe.table_one(data, e.column, t1.continuous, t1.categorical,
                             labels=study.labels, levels=levels)
    table = describe.format_table_one(raw).set_index("Variable")
    table.attrs["raw"] = raw
    return table, _table_numbers(raw, levels)


def beside_published(table: pd.DataFrame, published: dict | None, study: Study) -> pd.DataFrame:
    """Table 1/2 of this run with the paper's values in the same layout beside it."""
    from micromet import describe

    raw = table.attrs.get("raw")
    if raw is None or not published:
        return table
    e = study.exposure
    levels = e.levels or [e.reference, e.exposed]
    theirs = raw.copy()
    for col in theirs.columns:
        if col.startswith(("n[", "percent[", "median[", "q1[", "q3[")) or col == "p":
            theirs[col] = np.nan
    cont, cat = published.get("continuous", {}), published.get("categorical", {})
    for i, row in theirs.iterrows():
        var = row["variable"]
        if row["kind"] == "continuous" and var in cont:
            for stat in ("median", "q1", "q3"):
                for j, lv in enumerate(levels):
                    theirs.at[i, f"{stat}[{lv}]"] = cont[var][stat][j]
            theirs.at[i, "p"] = _published_p(cont[var].get("p"))
        elif row["kind"] == "categorical" and var in cat:
            counts = cat[var].get("counts", {}).get(str(row["level"]))
            if counts is not None:
                totals = [sum(c[j] for c in cat[var]["counts"].values())
                          for j in range(len(levels))]
                for j, lv in enumerate(levels):
                    theirs.at[i, f"n[{lv}]"] = counts[j]
                    theirs.at[i, f"percent[{lv}]"] = 100.0 * counts[j] / totals[j]
            theirs.at[i, "p"] = _published_p(cat[var].get("p"))
    n = published.get("n")
    theirs.attrs = dict(raw.attrs)
    if n:
        theirs.attrs["n"] = dict(zip(levels, n))
    shown = describe.format_table_one(theirs).set_index("Variable")
    shown.columns = [f"{c} [paper]" for c in shown.columns]
    ours = table.copy()
    ours.columns = [f"{c} [this run]" for c in ours.columns]
    ours.attrs = {}
    return pd.concat([ours, shown], axis=1)


def _published_p(p):
    if isinstance(p, str):
        return 0.0009 if p.startswith("<") else float(p)
    return np.nan if p is None else float(p)


def _table_numbers(raw: pd.DataFrame, levels: list[str]) -> dict:
    out: dict[str, Any] = {"n": [int(raw.attrs["n"][lv]) for lv in levels], "continuous": {},
                           "categorical": {}}
    for var, block in raw.groupby("variable", sort=False):
        first = block.iloc[0]
        p = _plain(float(first["p"]))
        if first["kind"] == "continuous":
            out["continuous"][var] = {
                stat: [_plain(float(first[f"{stat}[{lv}]"])) for lv in levels]
                for stat in ("median", "q1", "q3")}
            out["continuous"][var]["p"] = p
        else:
            counts = {str(r["level"]): [int(r[f"n[{lv}]"]) for lv in levels]
                      for _, r in block.iterrows()}
            out["categorical"][var] = {"counts": counts, "p": p}
    return out


def versus_published(numbers: dict, published: dict | None, study: Study) -> pd.DataFrame:
    """Reproduced vs published Table 1/2 values, one row per statistic, with the difference."""
    rows = []
    e = study.exposure
    levels = e.levels or [e.reference, e.exposed]
    real = not study.synthetic
    mc = study.governance.min_cell
    pub = published or {}

    def add(variable, level, stat, ours, theirs, count=False):
        numeric = isinstance(ours, (int, float)) and isinstance(theirs, (int, float))
        diff = (ours - theirs) if numeric else None  # a withheld count has no difference
        if count and real and governance.is_small(ours, mc):
            ours, diff = governance.masked_label(mc), None
        rows.append({"variable": study.label(variable), "level": level, "statistic": stat,
                     "reproduced": ours, "published": theirs, "difference": diff})

    for i, lv in enumerate(levels):
        add("n", lv, "n", numbers["n"][i], (pub.get("n") or [None] * len(levels))[i], True)
    for var, vals in numbers["continuous"].items():
        pv = pub.get("continuous", {}).get(var, {})
        for stat in ("median", "q1", "q3"):
            for i, lv in enumerate(levels):
                theirs = pv.get(stat, [None] * len(levels))[i]
                add(var, lv, stat, vals[stat][i], theirs)
        add(var, "", "p", vals["p"], pv.get("p"))
    for var, vals in numbers["categorical"].items():
        pv = pub.get("categorical", {}).get(var, {})
        for cat, counts in vals["counts"].items():
            for i, lv in enumerate(levels):
                theirs = pv.get("counts", {}).get(cat, [None] * len(levels))[i]
                add(var, f"{cat} | {lv}", "n", counts[i], theirs, True)
        add(var, "", "p", vals["p"], pv.get("p"))
    out = pd.DataFrame(rows, dtype=object)
    return pretty(out.set_index(["variable", "level", "statistic"]))


# ---- model tables -------------------------------------------------------------------------------


def conditioning_record(fit) -> dict:
    """The scaled condition number and VIFs of a fitted model, for results.json."""
    cond = getattr(fit, "conditioning", None)
    if cond is None:
        return {}
    return {"scaled_condition_number": cond.scaled_condition_number, "vif": dict(cond.vif),
            "unstable": cond.unstable}


def model_rows(table: pd.DataFrame, not_estimable: dict | None = None) -> dict[str, list]:
    """``{term: [hr, lower, upper, p]}`` of a model table (cox/fine_gray ``.table``); a term
    reported as not estimable is the text "not estimable", never numbers."""
    from micromet.reproducibility import NOT_ESTIMABLE

    not_estimable = not_estimable if not_estimable is not None else \
        table.attrs.get("not_estimable", {})
    out = {}
    for term, row in table.iterrows():
        if term in not_estimable:
            out[str(term)] = NOT_ESTIMABLE
            continue
        out[str(term)] = [_plain(float(row["hr"])), _plain(float(row["lower"])),
                          _plain(float(row["upper"])), _plain(float(row["p"]))]
    return out


def screen_and_fit(fit, data: pd.DataFrame, study: Study, covariates: list[str]):
    """Univariable fits of each covariate and of the exposure, then the multivariable model of
    the covariates passing the study's rule (``models.selection``), exposure forced in.

    ``fit(data, covariates) -> result with .table``. Returns (uni_table, multi_result, chosen,
    notes)."""
    from micromet.errors import NotEstimableWarning, UnstableWarning

    e = study.exposure.column
    candidates = [c for c in covariates if c != e] + [e]
    uni_tables, notes = [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        uni_results = {c: fit(data, [c]) for c in candidates}
    notes += _warning_notes(caught, NotEstimableWarning)
    for c in candidates:
        uni_tables.append(uni_results[c].table)
    uni = pd.concat(uni_tables)
    uni.attrs["not_estimable"] = {term: why for c in candidates
                                  for term, why in getattr(uni_results[c], "not_estimable",
                                                           {}).items()}
    m = study.models
    if m.selection == "all":
        chosen = [c for c in candidates if c != e]
    elif m.selection == "none":
        chosen = []
    else:
        chosen = [c for c in candidates if c != e
                  and (uni_results[c].table["p"] < m.selection_p).any()]
    if m.force_exposure or (uni_results[e].table["p"] < m.selection_p).any():
        chosen = chosen + [e]
    multi = None
    if chosen:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            multi = fit(data, chosen)
        notes += _warning_notes(caught, NotEstimableWarning)
        notes += _warning_notes(caught, UnstableWarning)
    return uni, multi, chosen, notes


def format_models(uni: pd.DataFrame, multi, data: pd.DataFrame, study: Study,
                  covariates: list[str]) -> pd.DataFrame:
    """Table 3/4 layout: rows (variable, level) with the reference level, HR (95% CI) and p."""
    from micromet.design import design_matrix

    e = study.exposure.column
    candidates = [c for c in covariates if c != e] + [e]
    design = design_matrix(data, candidates, check_aliasing=False)
    mtab = multi.table if multi is not None else pd.DataFrame(columns=uni.columns)
    rows, index = [], []
    for cov in candidates:
        terms = [t for t in design.all_terms if design.covariate_of[t] == cov]
        in_multi = any(t in mtab.index for t in terms)
        if cov in design.reference:
            index.append((study.label(cov), str(design.reference[cov])))
            rows.append(["1 (reference)", "", "1 (reference)" if in_multi else "-",
                         "" if in_multi else "-"])
        for term in terms:
            level = term[len(cov) + 1:-1] if term != cov else ("per unit")
            index.append((study.label(cov), level))
            row = []
            for tab, present in ((uni, True), (mtab, in_multi)):
                if present and term in tab.index:
                    r = tab.loc[term]
                    row += [fmt_hr(r["hr"], r["lower"], r["upper"]), fmt_p(r["p"])]
                else:
                    row += ["-", "-"]
            rows.append(row)
    cols = pd.MultiIndex.from_product([["Univariable", "Multivariable"], ["HR (95% CI)", "p"]])
    return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["variable", "level"]),
                        columns=cols)


ARTEFACT = "the paper's value is an artefact"
ARTEFACT_NOTE = ("The paper's hazard ratios beyond e^5 (about 148, or below 1/148), such as "
                 "{terms}, are not estimates: they are what a Cox or Fine-Gray fit prints when "
                 "the likelihood rises without bound (monotone likelihood, separation), the "
                 "artefact this book reports as not estimable.")


def published_artefacts(published: dict | None) -> list[str]:
    """``model: term`` of the paper's estimates with |log HR| > 5 (or an infinite limit)."""
    out = []
    for model, rows in (published or {}).items():
        if model not in ("univariable", "multivariable") or not isinstance(rows, dict):
            continue
        for term, row in rows.items():
            if isinstance(row, list) and _is_artefact(row):
                out.append(f"{term} ({model}, {row[0]:.3g})")
    return out


def _is_artefact(row) -> bool:
    hr = row[0] if row else None
    upper = row[2] if len(row) > 2 else None
    if not isinstance(hr, (int, float)) or hr <= 0:
        return False
    infinite = isinstance(upper, float) and math.isinf(upper)
    return abs(math.log(hr)) > 5 or infinite


def models_vs_published(uni: pd.DataFrame, multi, published: dict | None) -> pd.DataFrame:
    """Reproduced vs published HR, CI and p, by term and model, with the differences.

    ``multi``: the multivariable model (a result with ``.table``), its table, or None."""
    rows = []
    pub = published or {}
    multi_table = getattr(multi, "table", multi)
    if multi_table is None:
        multi_table = pd.DataFrame(columns=uni.columns)
    for model, tab in (("univariable", uni), ("multivariable", multi_table)):
        theirs_all = pub.get(model, {}) or {}
        terms = list(dict.fromkeys(list(tab.index) + list(theirs_all)))
        flagged = set(tab.attrs.get("not_estimable", ())) | set(
            getattr(multi, "not_estimable", {}) if model == "multivariable" else ())
        for term in terms:
            ours = tab.loc[term] if term in tab.index else None
            theirs = theirs_all.get(term)
            for j, stat in enumerate(("hr", "lower", "upper", "p")):
                if term in flagged:  # the paper's number there is the same artefact
                    rows.append({"model": model, "term": term, "statistic": stat,
                                 "reproduced": "not estimable",
                                 "published": theirs[j] if theirs is not None else None,
                                 "difference": None})
                    continue
                o = float(ours[stat]) if ours is not None else None
                t = theirs[j] if theirs is not None else None
                artefact = isinstance(theirs, list) and _is_artefact(theirs)
                rows.append({"model": model, "term": term, "statistic": stat,
                             "reproduced": o, "published": t,
                             "difference": ARTEFACT if artefact else _difference(o, t)})
    return pretty(pd.DataFrame(rows, dtype=object).set_index(["model", "term", "statistic"]))


def _difference(ours, theirs):
    if ours is None or theirs is None or isinstance(theirs, str) or isinstance(ours, str):
        return None
    if not (np.isfinite(ours) and np.isfinite(theirs)):
        return None
    return ours - theirs


def _warning_notes(caught, category=Warning) -> list[str]:
    notes: list[str] = []
    for w in caught:
        if issubclass(w.category, category) or category is Warning:
            text = str(w.message)
            if text not in notes:
                notes.append(text)
    return notes


# ---- chapter 2: matching ------------------------------------------------------------------------


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

    cohort = load_frame(output_dir, "cohort", "01_cohort")
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
    notes = _warning_notes(caught)
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
        "var_ratio_after": {k: _plain(float(v)) for k, v in bt["var_ratio_after"].items()},
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
    numbers_pub, table = _apply_to_table(numbers, table, withheld, levels, study)
    published_summary = dict(summary, table2=numbers_pub,
                             matched={lv: numbers_pub["n"][j] for j, lv in enumerate(levels)})
    if _uses_suppression(withheld):
        notes.append(governance.SUPPRESSED_NOTE.format(min_cell=mc))
    save_summary(summary, output_dir, "matching", study, published=published_summary)
    caliper_text = ("none" if m.caliper is None else
                    f"{m.caliper:g} SD of the distance ({res.caliper:.4f} on the logit scale)"
                    if m.std_caliper else f"{m.caliper:g} (absolute)")
    glue = {
        "ratio": str(m.ratio),
        "caliper_text": caliper_text,
        "matched_exposed": _shown(published_summary["matched"][e.exposed], study),
        "matched_reference": _shown(published_summary["matched"][e.reference], study),
        "n_exposed": fmt_count(n_exposed, study),
        "max_smd_before": f"{max_before:.3f}",
        "max_smd_after": f"{max_after:.3f}",
    }
    head = {
        "matched": governance.mask_leaves(published_summary["matched"], min_cell=mc, real=real),
        "unmatched exposed": governance.mask_leaves(len(res.unmatched_treated), min_cell=mc,
                                                    real=real),
        "caliper (distance scale)": None if res.caliper is None else round(res.caliper, 4),
        "max |SMD| before": _r(max_before, 3),
        "max |SMD| after": _r(max_after, 3),
        "SMD of the distance after": _r(float(bt.loc["distance", "smd_after"]), 3)
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
            study.published.get("table2"), study),
        glue=glue, headline=head, summary=summary, notes=notes,
    )


def analysed_set(study: Study, output_dir) -> pd.DataFrame:
    """The matched set when the study matches, else the cohort."""
    if study.matching.enabled:
        return load_frame(output_dir, "matched", "02_matching")
    return load_frame(output_dir, "cohort", "01_cohort")


# ---- chapter 3: overall survival ----------------------------------------------------------------


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


def _hr_text(table: pd.DataFrame | None, term: str) -> str:
    if table is None or term not in table.index:
        return "NA"
    r = table.loc[term]
    return f"{fmt_hr(r['hr'], r['lower'], r['upper'])}, p = {fmt_p(r['p'])}"


def term_label(term: str, study: Study) -> str:
    """``grade[III]`` -> ``Grade: III``; ``age`` -> ``Age, years``; ``distance`` kept."""
    if term == "distance":
        return "distance (logit of the propensity score)"
    if term.endswith("]") and "[" in term:
        column, level = term[:-1].split("[", 1)
        return f"{study.label(column)}: {level}"
    return study.label(term)


def exposure_term(study: Study) -> str:
    return f"{study.exposure.column}[{study.exposure.exposed}]"


def os_chapter(study: Study, output_dir=".", outcome: str = "os") -> SurvivalChapter:
    """Kaplan-Meier, log-rank, univariable/multivariable Cox, follow-up, PH check."""
    from micromet import survival

    data = analysed_set(study, output_dir)
    o = study.outcomes[outcome]
    e = study.exposure.column
    covs = study.covariates
    km = survival.km(data, o.time, o.event, e)
    lr = survival.logrank(data, o.time, o.event, e)

    def fit(d, c):
        return survival.cox(d, o.time, o.event, c, ties=study.models.ties,
                            cluster=study.models.cluster,
                            on_separation=study.models.on_separation, labels=study.labels,
                            event_name="deaths")

    uni, multi, chosen, notes = screen_and_fit(fit, data, study, covs)
    notes = list(dict.fromkeys(notes))
    artefacts = published_artefacts(study.published.get(outcome))
    if artefacts:
        notes.append(ARTEFACT_NOTE.format(terms=", ".join(artefacts)))
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
        "followup": fu, "univariable": model_rows(uni),
        "multivariable": model_rows(multi.table, getattr(multi, "not_estimable", None))
        if multi is not None else {},
        "multivariable_conditioning": conditioning_record(multi),
        "multivariable_covariates": chosen,
        "median": {str(r["group"]): [_plain(r["median"]), _plain(r["lower"]), _plain(r["upper"])]
                   for _, r in medians.iterrows()},
        "survival_at": _records(surv),
    }
    n_shown = published_size(data, study)
    save_summary(summary, output_dir, outcome, study, published=dict(summary, n=n_shown))
    real = not study.synthetic
    mc = study.governance.min_cell
    glue = {
        "n": _shown(n_shown, study), "deaths": fmt_count(events, study),
        "logrank_p": fmt_p(lr.p_value),
        "followup_median": f"{fu['median']:g}", "followup_iqr": f"{fu['q1']:g}-{fu['q3']:g}",
        "followup_max": f"{fu['max']:g}", "selection_p": f"{study.models.selection_p:g}",
        "hr_uni": _hr_text(uni, term),
        "hr_multi": _hr_text(multi.table if multi is not None else None, term),
    }
    head = {
        "n": governance.mask_leaves(n_shown, min_cell=mc, real=real),
        "deaths": governance.mask_leaves(events, min_cell=mc, real=real),
        "log-rank p": _r(lr.p_value, 3),
        "follow-up median (IQR), max": f"{fu['median']:g} ({fu['q1']:g}-{fu['q3']:g}), "
                                       f"{fu['max']:g}",
        "HR univariable": _hr_text(uni, term),
        "HR multivariable": _hr_text(multi.table if multi is not None else None, term),
        "multivariable covariates": ", ".join(chosen),
    }
    surv_show = survival_at_display(surv, study)
    return SurvivalChapter(
        study=study, data=data, km=km, logrank=lr, uni=uni, multi=multi,
        cox_table=format_models(uni, multi, data, study, covs),
        cox_vs_published=models_vs_published(uni, multi, study.published.get(outcome)),
        survival_table=surv_show, ph_table=ph,
        median_table=median_display(medians, study),
        at_risk=governance.mask_table(at_risk, min_cell=mc, real=real),
        glue=glue, headline=head, summary=summary, outcome=o, notes=notes,
    )


def survival_at_display(surv: pd.DataFrame, study: Study) -> pd.DataFrame:
    """``survival.survival_at`` as shown: rounded, indexed by group and time, counts masked
    with a real source."""
    shown = surv.round(4).set_index(["group", "time"]) if "group" in surv.columns \
        else surv.round(4).set_index("time")
    return governance.mask_table(shown, ["n_risk", "n_event"],
                                 min_cell=study.governance.min_cell, real=not study.synthetic)


def median_display(medians: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Median survival (95% CI) per group, as ``print(survfit)``: "not reached" where the curve
    (or a confidence limit) stays above one half; counts masked with a real source."""
    from micromet.describe import EN_DASH

    def months(v):
        return "not reached" if not np.isfinite(v) else f"{v:g}"

    rows = []
    for _, r in medians.iterrows():
        rows.append({"group": r["group"], "patients": int(r["n"]), "events": int(r["events"]),
                     "median, months": months(r["median"]),
                     "95% CI": f"{months(r['lower'])}{EN_DASH}{months(r['upper'])}"})
    table = pd.DataFrame(rows).set_index("group")
    return governance.mask_table(table, ["patients", "events"],
                                 min_cell=study.governance.min_cell, real=not study.synthetic)


def _ph_table(survival, multi, data, outcome) -> pd.DataFrame:
    ph_test = getattr(survival, "ph_test", None)
    if ph_test is None or multi is None:
        return pd.DataFrame({"note": ["proportional-hazards test not available"]})
    if getattr(multi, "_model", None) is None:  # Firth's penalized fit: no cox.zph analogue
        return pd.DataFrame({"note": ["proportional-hazards test not available for Firth's "
                                      "penalized fit"]})
    try:
        res = ph_test(multi, data, outcome.time, outcome.event)
    except TypeError:
        res = ph_test(multi)
    table = getattr(res, "table", res)
    return table.round(4) if isinstance(table, pd.DataFrame) else pd.DataFrame(table)


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{str(k): _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


# ---- chapter 4: competing risks -----------------------------------------------------------------


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
    covs = study.covariates
    cause = o.cause if o.cause is not None else 1
    ci = competing.cuminc(data, o.time, o.event, e)
    gray = competing.gray_test(data, o.time, o.event, e, cause=cause)
    horizons = study.models.horizon_months or [12, 24, 36, 48]
    at = competing.timepoints(ci, horizons)

    cause_name = (o.cause_labels or {}).get(cause) or (o.cause_labels or {}).get(str(cause))
    on_separation = "report" if study.models.on_separation == "firth" else \
        study.models.on_separation

    def fit(d, c):
        return competing.fine_gray(d, o.time, o.event, c, cause=cause,
                                   on_separation=on_separation, labels=study.labels,
                                   event_name=f"{cause_name} deaths" if cause_name else None)

    uni, multi, chosen, notes = screen_and_fit(fit, data, study, covs)
    notes = list(dict.fromkeys(notes))
    if study.models.on_separation == "firth" and (
            getattr(multi, "not_estimable", None) or uni.attrs.get("not_estimable")):
        notes.append("Firth's correction (models.on_separation: firth) is available for Cox "
                     "models only; in the Fine-Gray models the terms that cannot be estimated "
                     "are reported as such.")
    artefacts = published_artefacts(study.published.get(outcome))
    if artefacts:
        notes.append(ARTEFACT_NOTE.format(terms=", ".join(artefacts)))
    ev = pd.to_numeric(data[o.event])
    n_cause = int((ev == cause).sum())
    n_comp = int(ev.isin(o.competing).sum())
    term = exposure_term(study)
    summary = {
        "n": len(data), "events_cause": n_cause, "events_competing": n_comp,
        "gray": {"statistic": gray.statistic, "df": gray.df, "p": gray.p_value},
        "univariable": model_rows(uni),
        "multivariable": model_rows(multi.table, getattr(multi, "not_estimable", None))
        if multi is not None else {},
        "multivariable_conditioning": conditioning_record(multi),
        "multivariable_covariates": chosen,
        "cif_at": _records(at.reset_index(drop=isinstance(at.index, pd.RangeIndex)))
        if isinstance(at, pd.DataFrame) else [],
    }
    save_summary(summary, output_dir, outcome, study,
                 published=dict(summary, n=published_size(data, study)))
    real = not study.synthetic
    mc = study.governance.min_cell
    glue = {
        "events_cause": fmt_count(n_cause, study), "events_competing": fmt_count(n_comp, study),
        "gray_p": fmt_p(gray.p_value),
        "shr_uni": _hr_text(uni, term),
        "shr_multi": _hr_text(multi.table if multi is not None else None, term),
    }
    head = {
        "events of interest": governance.mask_leaves(n_cause, min_cell=mc, real=real),
        "competing events": governance.mask_leaves(n_comp, min_cell=mc, real=real),
        "Gray p": _r(gray.p_value, 3),
        "sHR univariable": glue["shr_uni"],
        "sHR multivariable": glue["shr_multi"],
        "multivariable covariates": ", ".join(chosen),
    }
    return CompetingChapter(
        study=study, data=data, cif=ci, gray=gray, uni=uni, multi=multi,
        fine_gray_table=format_models(uni, multi, data, study, covs),
        fine_gray_vs_published=models_vs_published(uni, multi, study.published.get(outcome)),
        cif_table=_cif_display(at),
        glue=glue, headline=head, summary=summary, outcome=o, notes=notes,
    )


def _cif_display(at) -> pd.DataFrame:
    frame = at if isinstance(at, pd.DataFrame) else pd.DataFrame(at)
    frame = frame.copy()
    if "variance" in frame.columns:
        frame["se"] = np.sqrt(frame["variance"].astype(float))
        frame = frame.drop(columns="variance")
    keys = [c for c in ("group", "cause", "time") if c in frame.columns]
    return frame.round(4).set_index(keys) if keys else frame.round(4)


# ---- chapter 5: published vs reproduced ---------------------------------------------------------


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
    }
    summary = {"compared": compared}
    glue = {f"validation_{k}": v for k, v in tables.items()}
    head = {"quantities compared": compared, "largest |difference| in counts": largest}
    return ValidationChapter(study=study, tables=tables, glue=glue, headline=head, summary=summary)


def r_agreement(root: Path | None = None) -> pd.DataFrame:
    """Agreement with R, measured now on the R outputs committed under ``tests/reference/``
    (the cmprsk example of METHODS 6 and MatchIt's lalonde example), plus the summaries tests
    and benchmarks may leave (``tests/reference/**/agreement.json``, ``benchmarks/results/*.json``).

    One row per comparison: what, the R function, the largest absolute and relative difference,
    and the tolerance of the numerical contract (DESIGN.md)."""
    from micromet.study import REPO_ROOT

    root = Path(root) if root is not None else REPO_ROOT
    rows: list[dict] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows += _agreement_cmprsk(root / "tests" / "reference" / "cmprsk")
        rows += _agreement_matchit(root / "tests" / "reference" / "matchit" / "lalonde")
        rows += _agreement_describe(root / "tests" / "reference" / "describe")
    for path in sorted((root / "tests" / "reference").glob("**/agreement.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for rec in data if isinstance(data, list) else [data]:
            rows.append({"what": f"{path.parent.name}: {rec.get('quantity', '')}", **rec})
    for path in sorted((root / "benchmarks" / "results").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        figures = ", ".join(f"{k} {v}" for k, v in sorted(data.items())
                            if not isinstance(v, (dict, list)))
        rows.append({"what": f"benchmark {path.stem}", "R function": "", "note": figures})
    if not rows:
        return pd.DataFrame({"note": ["no R reference outputs found under tests/reference/"]})
    return pretty(pd.DataFrame(rows, dtype=object).set_index("what"), digits=3)


def _diffs(ours, theirs) -> tuple[float, float]:
    a = np.asarray(ours, dtype=float)
    b = np.asarray(theirs, dtype=float)
    abs_diff = np.abs(a - b)
    rel = abs_diff / np.maximum(np.abs(b), 1e-300)
    return float(abs_diff.max()), float(rel.max())


def _row(what, r_function, ours, theirs, tolerance) -> dict:
    a, r = _diffs(ours, theirs)
    return {"what": what, "R function": r_function, "max abs diff": a, "max rel diff": r,
            "tolerance": tolerance}


def _by_term(values, terms) -> list[float]:
    """R outputs are named (a mapping) or in model order (a list)."""
    return [values[t] for t in terms] if isinstance(values, dict) else list(values)


def _agreement_cmprsk(folder: Path) -> list[dict]:
    data_path, ref_path = folder / "data.csv", folder / "results.json"
    if not (data_path.exists() and ref_path.exists()):
        return []
    from micromet import competing, survival

    data = pd.read_csv(data_path)
    ref = json.loads(ref_path.read_text(encoding="utf-8"))
    rows = []
    for cause in (1, 2):
        r = ref[f"crr_cause{cause}"]
        fit = competing.fine_gray(data, "ftime", "fstatus", ["x1", "x2"], cause=cause)
        terms = ["x1", "x2"]
        rows.append(_row(f"Fine-Gray coef, cause {cause} (n = 200, ties)", "cmprsk::crr",
                         fit.table.loc[terms, "coef"], _by_term(r["coef"], terms), "1e-6 rel"))
        rows.append(_row(f"Fine-Gray se (sandwich), cause {cause}", "cmprsk::crr",
                         fit.table.loc[terms, "se"], _by_term(r["se"], terms), "1e-6 rel"))
    tests = competing.gray_tests(data, "ftime", "fstatus", "x2")
    for cause in (1, 2):
        rows.append(_row(f"Gray's test statistic, cause {cause}", "cmprsk::cuminc",
                         [tests.loc[cause, "stat"]], [ref["cuminc_by_x2"]["tests"][
                             f"cause{cause}"]["stat"]], "1e-8"))
    ci = competing.cuminc(data, "ftime", "fstatus", "x2")
    est, var, r_est, r_var = [], [], [], []
    for key, curve in ref["cuminc_by_x2"]["curves"].items():
        group, cause = key.split()
        ours = ci[(ci["group"].astype(str) == group) & (ci["cause"].astype(str) == cause)]
        if len(ours) != len(curve["est"]):
            continue
        est += list(ours["estimate"])
        var += list(ours["variance"])
        r_est += curve["est"]
        r_var += curve["var"]
    if est:
        rows.append(_row("cumulative incidence estimates", "cmprsk::cuminc", est, r_est, "1e-8"))
        rows.append(_row("cumulative incidence variances", "cmprsk::cuminc", var, r_var, "1e-8"))
    cs = data.assign(cs_event=(data["fstatus"] == 1).astype(int))
    cox = survival.cox(cs, "ftime", "cs_event", ["x1", "x2"])
    r = ref["cause_specific_coxph_efron"]
    rows.append(_row("Cox coef (Efron, cause-specific)", "survival::coxph",
                     cox.table.loc[["x1", "x2"], "coef"], _by_term(r["coef"], ["x1", "x2"]),
                     "1e-6 rel"))
    rows.append(_row("Cox se (Efron)", "survival::coxph", cox.table.loc[["x1", "x2"], "se"],
                     _by_term(r["se"], ["x1", "x2"]), "1e-6 rel"))
    lr = survival.logrank(cs, "ftime", "cs_event", "x2")
    rows.append(_row("log-rank chi-square", "survival::survdiff", [lr.statistic],
                     [ref["survdiff_cause1_by_x2"]["chisq"]], "1e-8"))
    return rows


def _agreement_describe(folder: Path) -> list[dict]:
    if not (folder / "fixture.csv").exists() or not (folder / "reference.json").exists():
        return []
    from micromet import describe

    data = pd.read_csv(folder / "fixture.csv")
    ref = json.loads((folder / "reference.json").read_text(encoding="utf-8"))
    data = data[data["group"].isin(["A", "B"])]
    t = describe.table_one(data, "group", ["age", "size"], ["grade", "subtype"])
    first = t.groupby("variable", sort=False).first()
    ours = [first.loc["age", "p"], first.loc["size", "p"], first.loc["grade", "p"],
            first.loc["subtype", "p"]]
    theirs = [ref["wilcox_age"]["p"], ref["wilcox_size"]["p"], ref["chisq_grade"]["p"],
              ref["chisq_subtype"]["p"]]
    return [_row("Table 1 P values (rank-sum, chi-squared)",
                 "wilcox.test, chisq.test(correct = FALSE)", ours, theirs, "1e-8")]


def _agreement_matchit(folder: Path) -> list[dict]:
    if not (folder / "lalonde.csv").exists():
        return []
    from micromet import matching

    lalonde = pd.read_csv(folder / "lalonde.csv", index_col="id")
    weights = pd.read_csv(folder / "weights_patched_std_abs.csv", index_col="id")
    mm_r = pd.read_csv(folder / "match_matrix_patched_std_abs.csv", index_col="treated")
    covs = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
    res = matching.match(lalonde, "treat", covs, ratio=2, caliper=0.2)
    ours = res.match_matrix.astype(object).where(res.match_matrix.notna(), "")
    theirs = mm_r.astype(object).where(mm_r.notna(), "")
    same = int((ours.to_numpy(dtype=str) == theirs.to_numpy(dtype=str)).all(axis=1).sum())
    return [
        _row("propensity linear predictor (lalonde)", "glm(binomial)", res.distance,
             weights["distance"], "1e-8 abs"),
        _row("matching weights (1:2, caliper 0.2)", "MatchIt nearest", res.weights,
             weights["weight"], "identical"),
        {"what": "matched sets identical (treated units)", "R function": "MatchIt nearest",
         "max abs diff": f"{same} of {len(theirs)}", "tolerance": "identical"},
    ]


def _table_from_rows(rows: dict) -> pd.DataFrame:
    def num(v):
        return float(v) if isinstance(v, (int, float)) else np.nan

    table = pd.DataFrame([[num(x) for x in v] if isinstance(v, list) else [np.nan] * 4
                          for v in rows.values()],
                         index=list(rows), columns=["hr", "lower", "upper", "p"])
    table.attrs["not_estimable"] = [t for t, v in rows.items() if isinstance(v, str)]
    return table


def _largest_count_diff(table: pd.DataFrame):
    counts = [abs(d) for q, d in table["difference"].items()
              if isinstance(d, (int, np.integer)) and not isinstance(d, bool)]
    return max(counts) if counts else None



# ---- figures ----------------------------------------------------------------------------------


def _masked(figure, study: Study):
    governance.mask_figure(figure, min_cell=study.governance.min_cell, real=not study.synthetic)
    return figure


def km_figure(result: SurvivalChapter):
    """Kaplan-Meier curves with the numbers at risk (the paper's Figure 3)."""
    from micromet import plots_survival

    s, o = result.study, result.outcome
    times = [0, *(s.models.horizon_months or [12, 24, 36, 48])]
    if max(times) < 60 and result.data[o.time].max() >= 59:
        times.append(60)
    data, hidden = _without_small_groups(result.data, s)
    if data.empty:
        return _nothing_drawn(hidden, s)
    plot = plots_survival.km_plot(data, o.time, o.event, s.exposure.column, times=times,
                                  p_value=result.logrank.p_value, ylabel=o.label)
    _say_hidden(plot.ax, hidden, s)
    return _masked(plot.figure, s)


def _without_small_groups(data: pd.DataFrame, study: Study):
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


def _nothing_drawn(hidden: list, study: Study):
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(6, 1.2))
    ax.axis("off")
    _say_hidden(ax, hidden, study)
    return figure


def _say_hidden(ax, hidden: list, study: Study) -> None:
    if hidden:
        ax.text(0.0, 1.02, f"Not drawn (fewer than {study.governance.min_cell} patients): "
                + ", ".join(map(str, hidden)), transform=ax.transAxes, fontsize=8, va="bottom")


def cif_figure(result: CompetingChapter):
    """Cumulative incidence of the cause of interest by group (the paper's Figure 4)."""
    from micromet import plots_competing

    o = result.outcome
    names = {int(k): v for k, v in o.cause_labels.items()} or None
    cif, hidden = result.cif, []
    if not result.study.synthetic:  # a small group's curve steps once per patient's event
        _, hidden = _without_small_groups(result.data, result.study)
        cif = cif[~cif["group"].astype("object").isin(hidden)]
        cif.attrs = dict(result.cif.attrs)
        if cif.empty:
            return _nothing_drawn(hidden, result.study)
    ax = plots_competing.cif_plot(cif, cause=o.cause or 1, gray_p=result.gray.p_value,
                                  competing=True, cause_labels=names,
                                  ylabel="Cumulative incidence")
    _say_hidden(ax, hidden, result.study)
    return _masked(ax.figure, result.study)


def love_plot_figure(result: MatchingChapter):
    """Standardized mean differences before and after matching (the paper's Figure 2)."""
    from micromet import plots_balance

    table = result.balance.table.copy()
    table.index = [term_label(t, result.study) for t in table.index]
    out = plots_balance.love_plot(table)
    figure = getattr(out, "figure", out)
    return getattr(figure, "figure", figure)


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
