"""micromet.describe: Table 1 statistics against R (wilcox.test, chisq.test, quantile type 7)
and against the P values printed in the paper's Table 1."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from micromet import describe
from micromet.errors import InputError
from micromet.report import fmt_p

REF = Path(__file__).parent / "reference" / "describe"
DATA = Path(describe.__file__).parent / "data"
TOL = 1e-8


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "reference.json").read_text())


@pytest.fixture(scope="module")
def fixture():
    return pd.read_csv(REF / "fixture.csv", keep_default_na=True)


def test_published_table1_p_values_are_reproduced(ref):
    t1 = describe.load_published("table1")
    cat = t1[t1["m0_n"].notna() & (t1["variable"] != "n")]
    assert cat["variable"].nunique() == 8
    for v, block in cat.groupby("variable", sort=False):
        stat, df, p = describe.chisq_test(block[["m0_n", "m0i_n"]].to_numpy())
        assert fmt_p(p) == block["p_published"].iloc[0], v
        assert df == len(block) - 1
        assert rel(p, ref[f"paper_{v}"]["p"]) < TOL, v
        assert rel(stat, ref[f"paper_{v}"]["statistic"]) < TOL, v


def test_table_one_agrees_with_r(fixture, ref):
    two = fixture[fixture["group"].isin(["A", "B"])]
    t = describe.table_one(two, "group", ["age", "size"], ["grade", "subtype"])
    for v in ("age", "size"):
        row = t[t["variable"] == v].iloc[0]
        r = ref[f"wilcox_{v}"]
        assert rel(row["statistic"], r["W"]) < TOL
        assert rel(row["p"], r["p"]) < TOL
        for g in ("A", "B"):
            got = [row[f"q1[{g}]"], row[f"median[{g}]"], row[f"q3[{g}]"]]
            assert np.allclose(got, r[f"q_{g}"], rtol=TOL, atol=0)
        assert row["test"] == "Wilcoxon rank-sum"
    assert t.loc[t["variable"] == "age", "n[A]"].iloc[0] == 36   # one NA in group A
    for v in ("grade", "subtype"):
        rows = t[t["variable"] == v]
        r = ref[f"chisq_{v}"]
        assert rel(rows["statistic"].iloc[0], r["statistic"]) < TOL
        assert rel(rows["p"].iloc[0], r["p"]) < TOL
        assert rows["df"].iloc[0] == r["df"]
    sub = t[t["variable"] == "subtype"]
    assert sub["n[A]"].sum() == 36 and np.isclose(sub["percent[A]"].sum(), 100)


def test_three_groups_agree_with_r(fixture, ref):
    t = describe.table_one(fixture, "group", ["size"], ["subtype"])
    kw = t[t["variable"] == "size"].iloc[0]
    assert kw["test"] == "Kruskal-Wallis"
    assert rel(kw["statistic"], ref["kruskal_size"]["statistic"]) < TOL
    assert rel(kw["p"], ref["kruskal_size"]["p"]) < TOL
    ch = t[t["variable"] == "subtype"].iloc[0]
    assert rel(ch["statistic"], ref["chisq3_subtype"]["statistic"]) < TOL
    assert rel(ch["p"], ref["chisq3_subtype"]["p"]) < TOL


def test_wilcoxon_matches_scipy_asymptotic():
    rng = np.random.default_rng(3)
    for _ in range(5):
        x = rng.integers(0, 30, 200).astype(float)
        y = rng.integers(2, 33, 77).astype(float)
        w, p = describe.wilcoxon_rank_sum(x, y)
        s = stats.mannwhitneyu(x, y, method="asymptotic", use_continuity=True)
        assert w == s.statistic
        assert rel(p, s.pvalue) < TOL


def test_format_table_one_layout():
    data = pd.DataFrame({
        "g": ["M0"] * 6 + ["M0(i+)"] * 4,
        "age": [50, 60, 63, 70, 72, 80, 52, 61, 61, 70],
        "histology": pd.Categorical(["IDC"] * 5 + ["Other"] + ["IDC"] * 3 + ["Other"],
                                    categories=["IDC", "Other", "Mixed"]),
    })
    t = describe.table_one(data, "g", ["age"], ["histology"], labels={"age": "Age",
                                                                      "histology": "Histologic type"})
    f = describe.format_table_one(t, units={"age": "years"})
    assert list(f.columns) == ["Variable", "M0 (n = 6)", "M0(i+) (n = 4)", "P value"]
    assert f.iloc[0]["Variable"] == "Age, median (IQR), years"
    assert f.iloc[0]["M0 (n = 6)"] == "66.5 (60.8\u201371.5)"
    assert f.iloc[0]["M0(i+) (n = 4)"] == "61 (58.8\u201363.2)"
    assert f.iloc[1]["Variable"] == "Histologic type, n (%)"
    assert f.iloc[2].tolist() == ["\u2013 IDC", "5 (83.33%)", "3 (75.00%)", ""]
    assert f.iloc[4].tolist() == ["\u2013 Mixed", "0 (0.00%)", "0 (0.00%)", ""]
    # the empty level is shown but left out of the test (R would return NaN)
    p_two = describe.chisq_test([[5, 3], [1, 1]])[2]
    assert t.loc[t["variable"] == "histology", "p"].iloc[0] == p_two
    assert fmt_p(0.0004) == "<0.001" and fmt_p(0.0846) == "0.085"
    big = pd.DataFrame({"g": ["a"] * 1000 + ["b"] * 2000, "x": ["u"] * 3000})
    fb = describe.format_table_one(describe.table_one(big, "g", [], ["x"]))
    assert fb.iloc[1].tolist()[1:3] == ["1,000 (100.00%)", "2,000 (100.00%)"]


def test_bad_input():
    data = pd.DataFrame({"g": ["a", "b"], "x": [1.0, 2.0], "s": ["u", "v"]})
    with pytest.raises(InputError, match="'y'"):
        describe.table_one(data, "g", ["y"], [])
    with pytest.raises(InputError, match="group column 'h'"):
        describe.table_one(data, "h", ["x"], [])
    with pytest.raises(InputError, match="at least two groups"):
        describe.table_one(data[data.g == "a"], "g", ["x"], [])
    with pytest.raises(InputError, match="not numeric"):
        describe.table_one(data, "g", ["s"], [])


def test_published_tables_load_as_numbers():
    t1 = describe.load_published("table1")
    assert t1.loc[t1["variable"] == "n", ["m0_n", "m0i_n"]].iloc[0].tolist() == [283503, 585]
    assert t1["p_published"].str.fullmatch(r"(0\.\d{3})?").all()
    t2 = describe.load_published("table2")
    assert t2.loc[t2["variable"] == "n", ["m0_n", "m0i_n"]].iloc[0].tolist() == [1170, 585]
    m = describe.load_published("models")
    row = m[(m["table"] == 4) & (m["model"] == "multivariable")
            & (m["term"] == "m_stage[M0(i+)]")].iloc[0]
    assert (row["hr"], row["lower"], row["upper"], row["p_published"]) == (1.273, 0.679, 2.39,
                                                                            "0.450")
    assert np.isinf(m["upper"]).sum() == 4 and m["hr"].isna().sum() == 1
    with pytest.raises(InputError, match="unknown published table"):
        describe.load_published("table9")


def test_paper_layout_constants_cover_the_published_table():
    t1 = describe.load_published("table1")
    assert set(t1["variable"]) - {"n"} == set(describe.TABLE1_CONTINUOUS
                                              + describe.TABLE1_CATEGORICAL)
    assert set(describe.TABLE1_LABELS) == set(t1["variable"]) - {"n"}
