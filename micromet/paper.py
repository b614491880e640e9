"""The paper's numbers beside this run's: descriptive tables (Table 1/2) in the paper's layout,
model tables (Table 3/4) term by term in words with the paper's estimates beside ours and the
monotone-likelihood artefacts marked, forest-plot rows, and the values of a study file's
``published`` section. Read by the chapters, the validation chapter and the report layer.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from micromet import governance
from micromet.formatting import EN_DASH
from micromet.report import fmt_hr, fmt_p, pretty
from micromet.study import Study


def beside_published(table: pd.DataFrame, published: dict | None, study: Study, *,
                     empty: bool = False) -> pd.DataFrame:
    """Table 1/2 of this run with the paper's values in the same layout beside it; without
    published values, the table itself (or an empty frame with ``empty``)."""
    from micromet import describe

    raw = table.attrs.get("raw")
    if raw is None or not published:
        return pd.DataFrame() if empty else table
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


def models_published(study: Study, outcome: str, name: str) -> dict:
    """The paper's rows of regression table ``name``: ``published.<outcome>.models.<name>``."""
    return ((study.published.get(outcome) or {}).get("models") or {}).get(name) or {}


def paper_value(study: Study, *path):
    """The value of ``study.published`` at ``path`` (keys), or None."""
    node = study.published
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def paper_says(value, shown: str | None = None) -> str:
    """" (paper: <value>)" for a published value, "" without one."""
    if value is None:
        return ""
    if shown is None:
        shown = value if isinstance(value, str) else (
            f"{value:,}" if isinstance(value, int) else f"{value:g}")
    return f" (paper: {shown})"


def paper_hr_text(row) -> str:
    """A published ``[hr, lower, upper, p]`` row as "1.273 (0.679–2.390), p = 0.450"."""
    if not isinstance(row, list) or not isinstance(row[0], (int, float)):
        return ""
    text = _paper_hr(row)
    p = _paper_p(row)
    if p == "-":
        return text
    return text + (f", p {p[0]} {p[1:]}" if p.startswith(("<", ">")) else f", p = {p}")


PAPER_TABLE_TEXT = ("This run's {table} beside the paper's (columns marked [paper]); the "
                    "differences are listed in *Published versus reproduced*.")


NO_PAPER_TABLE_TEXT = "The study file records no {table} of the paper to set beside this one."


def paper_table_text(published: dict | None, table: str) -> str:
    """The sentence before a descriptive table set beside the paper's (or saying there is none)."""
    return (PAPER_TABLE_TEXT if published else NO_PAPER_TABLE_TEXT).format(table=table)


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


ARTEFACT_MARK = "\u2020"  # the paper's estimate is the monotone-likelihood artefact


def _paper_hr(row) -> str:
    """The paper's HR (95% CI) as it printed it; an artefact marked, a missing one "-"."""
    if not isinstance(row, list) or not isinstance(row[0], (int, float)):
        return "-"
    hr, lower, upper = row[0], row[1], row[2]

    def num(x):
        if isinstance(x, float) and math.isinf(x):
            return "Inf"
        return f"{x:.3g}" if x != 0 and (abs(x) >= 1e3 or abs(x) < 1e-3) else f"{x:.3f}"

    text = num(hr)
    if isinstance(lower, (int, float)) and isinstance(upper, (int, float)):
        text += f" ({num(lower)}{EN_DASH}{num(upper)})"
    return text + (f" {ARTEFACT_MARK}" if _is_artefact(row) else "")


def _paper_p(row) -> str:
    if not isinstance(row, list) or row[3] is None:
        return "-"
    return row[3] if isinstance(row[3], str) else fmt_p(row[3])


def term_words(term: str, study_or_labels, references: dict | None = None) -> tuple[str, str]:
    """A design term in the paper's words: ``er[Positive]`` -> ("ER status", "Positive vs
    Negative") with its reference level when known, ``age`` -> ("Age, years", "per unit")."""
    label = getattr(study_or_labels, "label", None) or (
        lambda c: (study_or_labels or {}).get(c, c))
    if term.endswith("]") and "[" in term:
        column, level = term[:-1].split("[", 1)
        ref = (references or {}).get(column)
        return label(column), f"{level} vs {ref}" if ref is not None else level
    return label(term), "per unit"


def beside_paper(uni: pd.DataFrame, multi, published: dict | None, study,
                 references: dict | None = None, ratio: str = "HR") -> pd.DataFrame:
    """Table 3/4 beside the paper's, in the paper's layout: one row per term in words
    (:func:`term_words`), for the univariable and the multivariable model the paper's HR (95%
    CI) and p beside the reproduced ones. A term this run reports as not estimable says so; a
    paper's estimate that is the monotone-likelihood artefact carries a dagger. Terms of either
    side are shown, this run's order first."""
    pub = published or {}
    multi_table = getattr(multi, "table", multi)
    tables = {"Univariable": uni if uni is not None else pd.DataFrame(),
              "Multivariable": multi_table if multi_table is not None else pd.DataFrame()}
    flagged = {"Univariable": set(tables["Univariable"].attrs.get("not_estimable", ())),
               "Multivariable": set(tables["Multivariable"].attrs.get("not_estimable", ()))
               | set(getattr(multi, "not_estimable", None) or ())}
    terms = list(dict.fromkeys([*tables["Univariable"].index, *tables["Multivariable"].index,
                                *(pub.get("univariable") or {}), *(pub.get("multivariable") or {})]))
    rows, index = [], []
    for term in terms:
        row = []
        for model, key in (("Univariable", "univariable"), ("Multivariable", "multivariable")):
            paper = (pub.get(key) or {}).get(term)
            tab = tables[model]
            if term in flagged[model]:
                ours_hr, ours_p = "not estimable", "-"
            elif term in tab.index:
                r = tab.loc[term]
                ours_hr, ours_p = fmt_hr(r["hr"], r["lower"], r["upper"]), fmt_p(r["p"])
            else:
                ours_hr, ours_p = "-", "-"
            row += [_paper_hr(paper), _paper_p(paper), ours_hr, ours_p]
        rows.append(row)
        index.append(term_words(term, study, references))
    columns = pd.MultiIndex.from_product(
        [["Univariable", "Multivariable"],
         [f"paper {ratio} (95% CI)", "paper p", f"reproduced {ratio} (95% CI)", "reproduced p"]])
    return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["variable", "term"])
                        if index else None, columns=columns)


def forest_rows(uni: pd.DataFrame, multi, published: dict | None, study,
                references: dict | None = None) -> pd.DataFrame:
    """The multivariable terms the paper reports, with the paper's and this run's HR and
    limits (NaN where one side has none), for a forest plot of paper vs reproduced."""
    pub = (published or {}).get("multivariable") or {}
    table = getattr(multi, "table", multi)
    rows = []
    for term, paper in pub.items():
        ours = table.loc[term] if table is not None and term in table.index else None
        variable, level = term_words(term, study, references)
        paper = [v if isinstance(v, (int, float)) else np.nan for v in paper[:3]]
        rows.append({"label": f"{variable}: {level}" if level != "per unit" else variable,
                     "paper_hr": paper[0], "paper_lower": paper[1], "paper_upper": paper[2],
                     "hr": float(ours["hr"]) if ours is not None else np.nan,
                     "lower": float(ours["lower"]) if ours is not None else np.nan,
                     "upper": float(ours["upper"]) if ours is not None else np.nan})
    return pd.DataFrame(rows)


def _difference(ours, theirs):
    if ours is None or theirs is None or isinstance(theirs, str) or isinstance(ours, str):
        return None
    if not (np.isfinite(ours) and np.isfinite(theirs)):
        return None
    return ours - theirs


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
