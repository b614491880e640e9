"""The default synthetic extract at full scale, through the real reader and the paper's criteria:
the flow ends at the paper's 283,503 M0 and 585 M0(i+), and Table 1 is the published one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from micromet import cohort, describe, seer, synth
from micromet.report import fmt_p

pytestmark = pytest.mark.slow

DATA = Path(synth.__file__).parent.parent / "data"  # micromet/data
CATEGORICAL = ["histology", "grade", "er", "pr", "her2", "subtype", "t_stage", "n_stage"]


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    path = synth.synthetic_extract(20251, cache_dir=tmp_path_factory.mktemp("cache"))
    data = seer.tidy(seer.read_export(path))
    res = cohort.build_cohort(data, cohort.PAPER_CRITERIA, "m_stage")
    return path, data, res


def test_flow_matches_the_paper(full):
    _, data, res = full
    flow = res.flow.set_index("step")
    assert flow.loc["extracted", "remaining"] == 324571
    assert flow.loc["extracted", "remaining[M0]"] == 323891
    assert flow.loc["extracted", "remaining[M0(i+)]"] == 680
    assert flow.iloc[-1]["remaining[M0]"] == 283503
    assert flow.iloc[-1]["remaining[M0(i+)]"] == 585
    plan = synth.exclusion_plan().groupby("step", sort=False)[["M0", "M0(i+)"]].sum()
    for step, row in plan.iterrows():
        assert flow.loc[step, "excluded[M0]"] == row["M0"], step
        assert flow.loc[step, "excluded[M0(i+)]"] == row["M0(i+)"], step
    # "Unknown" survival occurs only among excluded rows; the cohort's follow-up is 0-59 months
    assert data["time_months"].isna().sum() > 0
    assert res.data["time_months"].notna().all()
    assert res.data["time_months"].between(0, 59).all()
    assert 24 <= res.data["time_months"].median() <= 28


def test_table_one_is_the_published_one(full):
    _, _, res = full
    pub = describe.load_published("table1")
    t = describe.table_one(res.data, "m_stage", ["age", "tumor_size_mm"], CATEGORICAL)
    assert t.attrs["n"] == {"M0": 283503, "M0(i+)": 585}
    cat = pub[pub["m0_n"].notna() & (pub["variable"] != "n")]
    for _, p in cat.iterrows():
        row = t[(t["variable"] == p["variable"]) & (t["level"] == p["level"])].iloc[0]
        assert row["n[M0]"] == p["m0_n"] and row["n[M0(i+)]"] == p["m0i_n"], p["level"]
        assert f"{row['percent[M0]']:.2f}" == f"{p['m0_percent']:.2f}"
        assert f"{row['percent[M0(i+)]']:.2f}" == f"{p['m0i_percent']:.2f}"
        assert fmt_p(row["p"]) == p["p_published"], p["variable"]
    for var in ("age", "tumor_size_mm"):
        p = pub[pub["variable"] == var].iloc[0]
        row = t[t["variable"] == var].iloc[0]
        for stat in ("median", "q1", "q3"):
            assert abs(row[f"{stat}[M0]"] - p[f"m0_{stat}"]) <= 1, (var, stat)
            assert abs(row[f"{stat}[M0(i+)]"] - p[f"m0i_{stat}"]) <= 1, (var, stat)
    # the continuous variables' Wilcoxon p values print as published too
    for var in ("age", "tumor_size_mm"):
        p_text = pub.loc[pub["variable"] == var, "p_published"].iloc[0]
        assert fmt_p(t.loc[t["variable"] == var, "p"].iloc[0]) == p_text, var
    # quartiles are placed exactly, not just within 1
    row = t[t["variable"] == "age"].iloc[0]
    assert [row["q1[M0]"], row["median[M0]"], row["q3[M0]"]] == [53, 63, 72]
    assert [row["q1[M0(i+)]"], row["median[M0(i+)]"], row["q3[M0(i+)]"]] == [52, 61, 70]


def test_joint_receptor_coding_is_consistent(full):
    _, _, res = full
    c = res.data
    hr = np.where((c["er"] == "Positive") | (c["pr"] == "Positive"), "HR+", "HR-")
    expect = pd.Series(hr, index=c.index) + "/HER2" + np.where(c["her2"] == "Positive", "+", "-")
    assert (c["subtype"].astype(str) == expect).all()


def test_full_scale_bytes_are_deterministic(full):
    path, _, _ = full
    raw, _ = synth.generate_rows(20251)
    assert synth._csv_bytes(raw) == path.read_bytes()
