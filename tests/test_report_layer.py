"""The report layer's words and layouts: Table 3/4 beside the paper, the opening summaries, the
PH-test reading, months and follow-up, published p values in one style."""

from __future__ import annotations

import pandas as pd

from micromet.analyses import (
    ph_sentence,
)
from micromet.formatting import fmt_followup, fmt_months
from micromet.paper import (
    ARTEFACT_MARK,
    beside_paper,
    forest_rows,
    paper_hr_text,
    term_words,
)
from micromet.study import load_study

STUDY = load_study("seer_m0i")


def model(rows: dict, not_estimable=()) -> pd.DataFrame:
    table = pd.DataFrame(rows, index=["hr", "lower", "upper", "p"]).T
    table.attrs["not_estimable"] = list(not_estimable)
    return table


def test_beside_paper_is_the_papers_layout_with_words_artefacts_and_not_estimable():
    uni = model({"age": [1.01, 1.0, 1.02, 0.2], "er[Positive]": [0.4, 0.2, 0.7, 0.003]})
    multi = model({"age": [1.02, 1.0, 1.04, 0.04], "er[Positive]": [float("nan")] * 4},
                  not_estimable=["er[Positive]"])
    paper = {"univariable": {"age": [1.033, 1.003, 1.063, 0.029]},
             "multivariable": {"er[Positive]": [2410.0, 493, 11800, "<0.001"],
                               "m_stage[M0(i+)]": [1.273, 0.679, 2.39, 0.45]}}
    table = beside_paper(uni, multi, paper, STUDY, {"er": "Negative", "m_stage": "M0"})
    assert list(table.index) == [("Age, years", "per unit"), ("ER status", "Positive vs Negative"),
                                 ("Group", "M0(i+) vs M0")]
    uni_cols, multi_cols = table["Univariable"], table["Multivariable"]
    assert uni_cols.loc[("Age, years", "per unit"), "paper HR (95% CI)"] == \
        "1.033 (1.003\u20131.063)"
    assert uni_cols.loc[("Age, years", "per unit"), "paper p"] == "0.029"
    assert uni_cols.loc[("Age, years", "per unit"), "reproduced p"] == "0.200"
    er = multi_cols.loc[("ER status", "Positive vs Negative")]
    assert er["paper HR (95% CI)"] == f"2.41e+03 (493.000\u20131.18e+04) {ARTEFACT_MARK}"
    assert er["paper p"] == "<0.001" and er["reproduced HR (95% CI)"] == "not estimable"
    group = multi_cols.loc[("Group", "M0(i+) vs M0")]
    assert group["paper HR (95% CI)"] == "1.273 (0.679\u20132.390)"
    assert group["reproduced HR (95% CI)"] == "-"  # not in this run's model
    rows = forest_rows(uni, multi, paper, STUDY, {"er": "Negative", "m_stage": "M0"})
    assert list(rows["label"]) == ["ER status: Positive vs Negative", "Group: M0(i+) vs M0"]
    assert rows["hr"].isna().all() and rows["paper_hr"].tolist() == [2410.0, 1.273]


def test_term_words():
    assert term_words("grade[III]", STUDY, {"grade": "I-II"}) == ("Grade", "III vs I-II")
    assert term_words("grade[III]", STUDY) == ("Grade", "III")
    assert term_words("tumor_size_mm", STUDY) == ("Tumor size, mm", "per unit")


def test_paper_hr_text():
    assert paper_hr_text([0.805, 0.501, 1.294, 0.37]) == "0.805 (0.501\u20131.294), p = 0.370"
    assert paper_hr_text([2.51, None, None, 0.00019]) == "2.510, p < 0.001"
    assert paper_hr_text([None, None, None, ">0.05"]) == ""


def test_ph_sentence_names_the_covariates_whose_effect_changes():
    ph = pd.DataFrame({"chisq": [7.5, 0.1, 10.8], "df": [1, 1, 7], "p": [0.006, 0.72, 0.148]},
                      index=["tumor_size_mm", "age", "GLOBAL"])
    text = ph_sentence(ph, STUDY)
    assert text.startswith("The global test p = 0.148")
    assert "the effect of Tumor size, mm changes with time" in text and "Age" not in text
    quiet = ph_sentence(ph.assign(p=[0.3, 0.7, 0.5]), STUDY)
    assert "no covariate's effect changes with time" in quiet


def test_months_and_follow_up():
    assert fmt_months(26.0) == "26" and fmt_months(97.774) == "97.8"
    assert fmt_followup({"median": 27, "q1": 13, "q3": 43, "max": 59})["line"] == \
        "27 (13\u201343), 59"
