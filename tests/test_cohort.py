"""micromet.cohort (declarative criteria, flow table) and micromet.plots_flow (flowchart)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from micromet import cohort, plots_flow  # noqa: E402
from micromet.errors import InputError  # noqa: E402


@pytest.fixture
def frame():
    return pd.DataFrame({
        "sex": ["Female", "Male", "Female", "Female", "Female", "Female", "Female", None],
        "age": [50, 60, 17, 90, 40, np.nan, 70, 55],
        "grade": pd.Categorical(["I-II", "III", "III", None, "I-II", "I-II", "III", "I-II"]),
        "t_label": ["T1c", "T2", "T1a", "T2", "Tis(DCIS)", "T1b", None, "T1c"],
        "size": [12.0, 25.0, 3.0, 30.0, np.nan, 8.0, 40.0, 15.0],
        "m_stage": ["M0", "M0(i+)", "M0", "M0(i+)", "M0", "M0", "M0(i+)", "M0"],
    }, index=[10, 11, 12, 13, 14, 15, 16, 17])


CRITERIA = [
    {"name": "female", "column": "sex", "in": ["Female"]},
    {"name": "age 18-89", "column": "age", "between": [18, 89]},
    {"name": "grade known", "notna": ["grade"]},
    {"name": "not Tis or T0", "column": "t_label", "not_in": ["T0", "Tis(DCIS)"]},
    {"name": "size known", "notna": ["size"]},
]


def test_flow_counts_each_step_overall_and_per_group(frame):
    res = cohort.build_cohort(frame, CRITERIA, "m_stage")
    flow = res.flow
    assert flow["step"].tolist() == ["extracted", "female", "age 18-89", "grade known",
                                     "not Tis or T0", "size known"]
    # row 11 male, 17 sex missing -> female; 12 (17 y), 13 (90 y), 15 (NaN) -> age;
    # nothing else is left with a missing grade; 14 Tis; size: none left missing
    assert flow["excluded"].tolist()[1:] == [2, 3, 0, 1, 0]
    assert flow["remaining"].tolist() == [8, 6, 3, 3, 2, 2]
    assert flow["remaining[M0]"].tolist() == [5, 4, 2, 2, 1, 1]
    assert flow["remaining[M0(i+)]"].tolist() == [3, 2, 1, 1, 1, 1]
    assert flow["excluded[M0]"].tolist()[1:] == [1, 2, 0, 1, 0]
    assert flow["excluded[M0(i+)]"].tolist()[1:] == [1, 1, 0, 0, 0]
    assert pd.isna(flow.loc[0, "excluded"])
    assert res.data.index.tolist() == [10, 16]   # missing t_label passes "not_in"
    assert res.excluded_by.to_dict() == {11: "female", 12: "age 18-89", 13: "age 18-89",
                                         14: "not Tis or T0", 15: "age 18-89", 17: "female"}
    assert res.levels == ["M0", "M0(i+)"]


def test_rules_min_max_equals(frame):
    res = cohort.build_cohort(frame, [{"name": "adult", "column": "age", "min": 18},
                                      {"name": "young", "column": "age", "max": 60},
                                      {"name": "M0", "column": "m_stage", "equals": "M0"}],
                              group=None)
    assert res.data.index.tolist() == [10, 14, 17]
    assert list(res.flow.columns) == ["step", "excluded", "remaining"]


def test_criteria_survive_a_yaml_round_trip(frame):
    text = yaml.safe_dump({"criteria": [dict(c) for c in cohort.PAPER_CRITERIA]})
    back = yaml.safe_load(text)["criteria"]
    assert back == [dict(c) for c in cohort.PAPER_CRITERIA]
    assert cohort.validate_criteria(back) == back


@pytest.mark.parametrize("crit, message", [
    ({"name": "age", "column": "agee", "between": [18, 89]}, "criterion 'age': unknown column 'agee'"),
    ({"name": "complete", "notna": ["size", "er"]}, "criterion 'complete': unknown column 'er'"),
    ({"name": "two rules", "column": "age", "min": 1, "max": 3}, "criterion 'two rules': needs exactly one"),
    ({"name": "no rule", "column": "age"}, "criterion 'no rule': needs exactly one"),
    ({"name": "bad between", "column": "age", "between": [89, 18]}, "criterion 'bad between': between"),
    ({"name": "bad between", "column": "age", "between": "18-89"}, "criterion 'bad between': between"),
    ({"name": "bad in", "column": "sex", "in": "Female"}, "criterion 'bad in': in needs"),
    ({"name": "typo", "column": "sex", "inn": ["Female"]}, "criterion 'typo': unknown key"),
    ({"name": "bad min", "column": "age", "min": "x"}, "criterion 'bad min': min needs"),
    ({"name": "no column", "in": ["Female"]}, "criterion 'no column': rule 'in' needs a column"),
    ({"column": "sex", "in": ["Female"]}, "criterion 1 has no name"),
    ({"name": "text", "column": "sex", "min": 3}, "criterion 'text': cannot apply"),
])
def test_bad_criteria_name_the_criterion(frame, crit, message):
    with pytest.raises(InputError) as err:
        cohort.build_cohort(frame, [crit], "m_stage")
    assert message in str(err.value)


def test_duplicate_names_and_bad_containers(frame):
    with pytest.raises(InputError, match="used twice"):
        cohort.build_cohort(frame, [CRITERIA[0], CRITERIA[0]], "m_stage")
    with pytest.raises(InputError, match="list of mappings"):
        cohort.build_cohort(frame, {"name": "x"}, "m_stage")
    with pytest.raises(InputError, match="group column 'arm'"):
        cohort.build_cohort(frame, CRITERIA, "arm")


def test_paper_criteria_on_a_tidy_like_frame():
    tidy = pd.DataFrame({
        "sex": ["Female"] * 4, "age": [50.0, 60, 70, 80],
        "grade": ["I-II", "III", "III", "I-II"], "t_label": ["T1c", "T0", "T2", "T1b"],
        "tumor_size_mm": [10.0, np.nan, 20, 9], "er": ["Positive"] * 4, "pr": ["Positive"] * 4,
        "her2": ["Negative"] * 4, "subtype": ["HR+/HER2-"] * 4, "t_stage": ["T1-T2"] * 4,
        "n_stage": ["N0"] * 4, "time_months": [3.0, 4, np.nan, 5],
        "event": pd.array([0, 1, 0, pd.NA], dtype="Int64"), "m_stage": ["M0"] * 4})
    res = cohort.build_cohort(tidy, cohort.PAPER_CRITERIA, "m_stage")
    assert res.data.index.tolist() == [0]
    assert res.excluded_by.to_dict() == {1: "not Tis or T0", 2: "complete information",
                                         3: "known cause of death"}


def test_flowchart_draws_every_count(frame):
    res = cohort.build_cohort(frame, CRITERIA, "m_stage")
    fig = plots_flow.flowchart(res.flow, {"M0(i+)": "M0(i+) group"},
                               step_labels={"female": "Male patients"})
    texts = [t.get_text() for t in fig.axes[0].texts]
    joined = "\n".join(texts)
    assert "n = 8\nM0: 5; M0(i+) group: 3" in joined
    assert "Male patients\nn = 2\nM0: 1; M0(i+) group: 1" in joined
    assert "Excluded by criterion: age 18-89\nn = 3" in joined
    assert "Final cohort: M0\nn = 1" in joined and "Final cohort: M0(i+) group\nn = 1" in joined
    assert len(texts) == 1 + 5 + 2
    fig2 = plots_flow.flowchart(res.flow, hide_empty=True)
    assert len(fig2.axes[0].texts) == 1 + 3 + 2
    with pytest.raises(InputError):
        plots_flow.flowchart(pd.DataFrame({"a": [1]}))
