"""Descriptive tables (the paper's Table 1 and Table 2) with the tests R would print.

``table_one`` returns a machine-readable table (one row per continuous variable and per level of
each categorical variable); ``format_table_one`` prints it like the paper:

* continuous: median (IQR) with R's default quantiles (``quantile(type = 7)``), and the
  Wilcoxon rank-sum test as R's ``wilcox.test(x, y, exact = FALSE, correct = TRUE)``: normal
  approximation with continuity correction and the tie-corrected variance (more than two
  groups: ``kruskal.test``);
* categorical: n (%) of the group's non-missing rows, and Pearson's chi-square test as R's
  ``chisq.test(table, correct = FALSE)`` (levels with no rows in any group are shown with zero
  counts but left out of the test, where R would return NaN).

Missing values are left out per variable, as R's ``table`` and ``wilcox.test`` do.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import special, stats

from micromet.design import levels_of
from micromet.errors import InputError
from micromet.formatting import EN_DASH, fmt_p

#: The paper's Table 1 / Table 2 variables, display labels and units.
TABLE1_CONTINUOUS = ["age", "tumor_size_mm"]
TABLE1_CATEGORICAL = ["histology", "grade", "er", "pr", "her2", "subtype", "t_stage", "n_stage"]
TABLE1_LABELS = {
    "age": "Age", "tumor_size_mm": "Tumor size", "histology": "Histologic type",
    "grade": "Grade", "er": "ER status", "pr": "PR status", "her2": "HER2 status",
    "subtype": "Breast subtype", "t_stage": "Stage T", "n_stage": "Stage N",
}
TABLE1_UNITS = {"age": "years", "tumor_size_mm": "mm"}

_PUBLISHED = ("table1", "table2", "models")


def _p_text(p) -> str:
    """A published p as printed: ``0.02`` -> "0.020"; text ("<0.001") as it is."""
    if p is None:
        return ""
    return p if isinstance(p, str) else f"{p:.3f}"


def load_published(name: str = "table1", study: str = "seer_m0i") -> pd.DataFrame:
    """The paper's published numbers as a flat table, read from the study file's ``published``
    section (``studies/<study>.yml``, the one home of the paper's numbers).

    ``table1`` / ``table2`` (before / after matching): variable, level, m0_n, m0_percent, m0i_n,
    m0i_percent, m0_median, m0_q1, m0_q3, m0i_median, m0i_q1, m0i_q3, p_published (text as
    printed); ``models`` (Tables 3 and 4): table, outcome, model, term, hr, lower, upper,
    p_published. Terms are named as ``micromet.design`` names them. The two group columns are
    the study's reference and exposed groups, in that order.
    """
    from micromet.study import load_study

    if name not in _PUBLISHED:
        raise InputError(f"unknown published table {name!r}; one of {sorted(_PUBLISHED)}")
    loaded = load_study(study)
    pub = loaded.published
    if name == "models":
        rows = []
        for outcome in loaded.outcomes:
            for analysis, table in ((pub.get(outcome) or {}).get("models") or {}).items():
                number = int(re.sub(r"\D", "", analysis) or 0)
                for model in ("univariable", "multivariable"):
                    for term, (hr, lower, upper, p) in (table.get(model) or {}).items():
                        rows.append({"table": number, "outcome": loaded.outcomes[outcome].label,
                                     "model": model, "term": term,
                                     "hr": np.nan if hr is None else float(hr),
                                     "lower": np.nan if lower is None else float(lower),
                                     "upper": np.nan if upper is None else float(upper),
                                     "p_published": _p_text(p)})
        return pd.DataFrame(rows)
    section = (pub.get("cohort") or {}).get("table1") if name == "table1" else \
        (pub.get("matching") or {}).get("table2")
    section = section or {}
    cols = ["variable", "level", "m0_n", "m0_percent", "m0i_n", "m0i_percent", "m0_median",
            "m0_q1", "m0_q3", "m0i_median", "m0i_q1", "m0i_q3", "p_published"]
    rows = [{"variable": "n", "level": "", "m0_n": section["n"][0], "m0i_n": section["n"][1],
             "p_published": ""}] if "n" in section else []
    for var, v in (section.get("continuous") or {}).items():
        row = {"variable": var, "level": "", "p_published": _p_text(v.get("p"))}
        for stat in ("median", "q1", "q3"):
            row[f"m0_{stat}"], row[f"m0i_{stat}"] = v[stat]
        rows.append(row)
    for var, v in (section.get("categorical") or {}).items():
        counts = v.get("counts") or {}
        totals = [sum(c[j] for c in counts.values()) for j in (0, 1)]
        for level, (n0, n1) in counts.items():
            rows.append({"variable": var, "level": str(level), "m0_n": n0,
                         "m0_percent": round(100 * n0 / totals[0], 2), "m0i_n": n1,
                         "m0i_percent": round(100 * n1 / totals[1], 2),
                         "p_published": _p_text(v.get("p"))})
    return pd.DataFrame(rows, columns=cols)


def quantile7(x, probs) -> np.ndarray:
    """R's ``quantile(x, probs, type = 7)`` (NaN dropped)."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return np.full(len(np.atleast_1d(probs)), np.nan)
    return np.quantile(x, probs, method="linear")


def wilcoxon_rank_sum(x, y):
    """R ``wilcox.test(x, y, exact = FALSE, correct = TRUE)``: returns (W, p).

    W = sum of the ranks of x - n_x (n_x + 1) / 2; z = (W - n_x n_y / 2 - 0.5 sign) / sigma with
    sigma^2 = n_x n_y / 12 * (n_x + n_y + 1 - sum(t^3 - t) / ((n_x + n_y)(n_x + n_y - 1))) over
    the tie groups t; p = 2 min(Phi(z), 1 - Phi(z)).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x = x[~np.isnan(x)]
    y = y[~np.isnan(y)]
    nx, ny = x.size, y.size
    if nx == 0 or ny == 0:
        return np.nan, np.nan
    r = stats.rankdata(np.concatenate([x, y]))
    w = r[:nx].sum() - nx * (nx + 1) / 2
    _, t = np.unique(np.concatenate([x, y]), return_counts=True)
    t = t.astype(float)
    n = nx + ny
    sigma = np.sqrt(nx * ny / 12.0 * ((n + 1) - (t ** 3 - t).sum() / (n * (n - 1))))
    z = w - nx * ny / 2.0
    if sigma == 0:
        return float(w), np.nan
    z = (z - np.sign(z) * 0.5) / sigma
    p = 2 * min(special.ndtr(z), special.ndtr(-z))
    return float(w), float(p)


def chisq_test(table):
    """R ``chisq.test(table, correct = FALSE)`` (Pearson): returns (statistic, df, p)."""
    o = np.asarray(table, dtype=float)
    o = o[o.sum(axis=1) > 0][:, o.sum(axis=0) > 0]
    if o.shape[0] < 2 or o.shape[1] < 2:
        return np.nan, 0, np.nan
    e = o.sum(axis=1, keepdims=True) * o.sum(axis=0, keepdims=True) / o.sum()
    stat = float(((o - e) ** 2 / e).sum())
    df = (o.shape[0] - 1) * (o.shape[1] - 1)
    return stat, df, float(special.chdtrc(df, stat))


def table_one(data: pd.DataFrame, group: str, continuous=(), categorical=(), *, labels=None,
              levels=None) -> pd.DataFrame:
    """Machine-readable Table 1.

    Columns: variable, label, level ("" for continuous), kind, then per group ``g``:
    ``n[g]`` (non-missing rows, or rows at the level), ``percent[g]`` (categorical),
    ``median[g]``, ``q1[g]``, ``q3[g]`` (continuous); statistic, df, p, test (repeated on each
    level row). ``attrs["n"]`` holds the group sizes, ``attrs["groups"]`` their order.
    """
    if group not in data.columns:
        raise InputError(f"group column {group!r} not in the data", column=group)
    for v in list(continuous) + list(categorical):
        if v not in data.columns:
            raise InputError(f"variable {v!r} not in the data", column=v)
    labels = dict(labels or {})
    groups = list(levels) if levels is not None else levels_of(data[group])
    if len(groups) < 2:
        raise InputError(f"table_one needs at least two groups in {group!r}, found {groups}",
                         column=group)
    gv = data[group].to_numpy(dtype=object)
    masks = {g: gv == g for g in groups}
    rows = []
    for v in continuous:
        try:
            x = pd.to_numeric(data[v], errors="raise").to_numpy(dtype=float)
        except (TypeError, ValueError) as err:
            raise InputError(f"continuous variable is not numeric: {err}", column=v) from None
        parts = [x[masks[g]] for g in groups]
        row = {"variable": v, "label": labels.get(v, v), "level": "", "kind": "continuous"}
        for g, xg in zip(groups, parts):
            q = quantile7(xg, [0.25, 0.5, 0.75])
            row[f"n[{g}]"] = int((~np.isnan(xg)).sum())
            row[f"percent[{g}]"] = np.nan
            row[f"median[{g}]"], row[f"q1[{g}]"], row[f"q3[{g}]"] = q[1], q[0], q[2]
        if len(groups) == 2:
            w, p = wilcoxon_rank_sum(parts[0], parts[1])
            row.update(statistic=w, df=np.nan, p=p, test="Wilcoxon rank-sum")
        else:
            clean = [xg[~np.isnan(xg)] for xg in parts]
            stat, p = stats.kruskal(*clean)
            row.update(statistic=float(stat), df=len(groups) - 1, p=float(p),
                       test="Kruskal-Wallis")
        rows.append(row)
    for v in categorical:
        lv = levels_of(data[v])
        col = data[v].to_numpy(dtype=object)
        counts = np.array([[int((masks[g] & (col == lev)).sum()) for g in groups] for lev in lv])
        totals = counts.sum(axis=0)
        stat, df, p = chisq_test(counts)
        for i, lev in enumerate(lv):
            row = {"variable": v, "label": labels.get(v, v), "level": str(lev),
                   "kind": "categorical"}
            for j, g in enumerate(groups):
                row[f"n[{g}]"] = int(counts[i, j])
                row[f"percent[{g}]"] = 100.0 * counts[i, j] / totals[j] if totals[j] else np.nan
                row[f"median[{g}]"] = row[f"q1[{g}]"] = row[f"q3[{g}]"] = np.nan
            row.update(statistic=stat, df=df, p=p, test="Pearson chi-square")
            rows.append(row)
    t = pd.DataFrame(rows)
    t.attrs["n"] = {g: int(masks[g].sum()) for g in groups}
    t.attrs["groups"] = groups
    t.attrs["group"] = group
    return t


def _num(x: float) -> str:
    if not np.isfinite(x):
        return "NA"
    return f"{int(round(x)):,}" if float(x).is_integer() else f"{x:,.1f}"


def format_table_one(t: pd.DataFrame, *, n=None, group_labels=None, units=None) -> pd.DataFrame:
    """The paper's layout: Variable | <group> (n = ...) | ... | P value.

    Continuous rows read ``63 (53–72)``, categorical ones a heading row with the test's P value
    followed by ``– level`` rows reading ``239,129 (84.35%)``. ``n`` (group -> size) defaults
    to ``t.attrs["n"]``; ``units`` maps a variable to a unit shown after "median (IQR)".
    """
    groups = t.attrs.get("groups") or [c[2:-1] for c in t.columns if c.startswith("n[")]
    n = n or t.attrs.get("n") or {}
    group_labels = group_labels or {}
    units = units or {}
    def size(v) -> str:  # a withheld size ("<11", "*") is shown as it is
        return v if isinstance(v, str) else f"{v:,}"

    heads = {g: f"{group_labels.get(g, g)} (n = {size(n[g])})" if g in n else
             str(group_labels.get(g, g)) for g in groups}
    out = []
    for v, block in t.groupby("variable", sort=False):
        first = block.iloc[0]
        if first["kind"] == "continuous":
            unit = f", {units[v]}" if v in units else ""
            row = {"Variable": f"{first['label']}, median (IQR){unit}"}
            for g in groups:
                row[heads[g]] = (f"{_num(first[f'median[{g}]'])} ({_num(first[f'q1[{g}]'])}"
                                 f"{EN_DASH}{_num(first[f'q3[{g}]'])})")
            row["P value"] = fmt_p(first["p"])
            out.append(row)
            continue
        row = {"Variable": f"{first['label']}, n (%)", **{heads[g]: "" for g in groups},
               "P value": fmt_p(first["p"])}
        out.append(row)
        for _, r in block.iterrows():
            row = {"Variable": f"{EN_DASH} {r['level']}"}
            for g in groups:
                count = r[f"n[{g}]"]
                pct = float(r[f"percent[{g}]"])
                if isinstance(count, str):  # withheld: no percentage either
                    row[heads[g]] = count
                elif not np.isfinite(pct):
                    row[heads[g]] = f"{int(count):,}"
                else:
                    row[heads[g]] = f"{int(count):,} ({pct:.2f}%)"
            row["P value"] = ""
            out.append(row)
    return pd.DataFrame(out, columns=["Variable", *heads.values(), "P value"])
