"""The chapters' adapter (micromet.pipeline): selection rule, published-vs-reproduced tables,
extract restriction, masking of what chapters show, files."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from micromet import pipeline as mm
from micromet.errors import InputError
from micromet.study import load_study

STUDY = load_study("seer_m0i")


@dataclass
class Fit:
    table: pd.DataFrame


def fake_fit(pvalues):
    """A model whose p value per covariate is given; terms named like micromet.design."""
    def fit(data, covariates):
        rows = {}
        for c in covariates:
            term = "m_stage[M0(i+)]" if c == "m_stage" else c
            rows[term] = {"coef": 0.1, "se": 0.1, "hr": 1.105, "lower": 0.9, "upper": 1.3,
                          "p": pvalues[c]}
        return Fit(pd.DataFrame.from_dict(rows, orient="index"))
    return fit


def test_multivariable_selection_keeps_univariable_p_below_threshold_and_the_exposure():
    p = {"age": 0.001, "grade": 0.2, "n_stage": 0.049, "m_stage": 0.8}
    uni, multi, chosen, notes = mm.screen_and_fit(fake_fit(p), None, STUDY,
                                                  ["age", "grade", "n_stage"])
    assert chosen == ["age", "n_stage", "m_stage"]
    assert list(uni.index) == ["age", "grade", "n_stage", "m_stage[M0(i+)]"]
    assert list(multi.table.index) == ["age", "n_stage", "m_stage[M0(i+)]"]
    strict = load_study("seer_m0i", ["models.selection_p=0.01", "models.force_exposure=false"])
    _, _, chosen, _ = mm.screen_and_fit(fake_fit(p), None, strict, ["age", "grade", "n_stage"])
    assert chosen == ["age"]
    every = load_study("seer_m0i", ["models.selection=all"])
    _, _, chosen, _ = mm.screen_and_fit(fake_fit(p), None, every, ["age", "grade", "n_stage"])
    assert chosen == ["age", "grade", "n_stage", "m_stage"]


def test_models_vs_published_differences():
    uni = pd.DataFrame({"hr": [0.8], "lower": [0.5], "upper": [1.3], "p": [0.37]},
                       index=["m_stage[M0(i+)]"])
    published = {"univariable": {"m_stage[M0(i+)]": [0.803, 0.498, 1.296, 0.369],
                                 "age": [1.069, 1.049, 1.09, "<0.001"]}}
    table = mm.models_vs_published(uni, None, published)
    row = table.loc[("univariable", "m_stage[M0(i+)]", "hr")]
    assert row["reproduced"] == "0.8" and row["published"] == "0.803"
    assert float(row["difference"]) == pytest.approx(-0.003)
    assert table.loc[("univariable", "age", "p"), "published"] == "<0.001"
    assert table.loc[("univariable", "age", "p"), "reproduced"] == ""


def test_versus_published_masks_small_counts_for_real_sources():
    numbers = {"n": [20, 5], "continuous": {},
               "categorical": {"grade": {"counts": {"III": [12, 3]}, "p": 0.5}}}
    published = {"n": [20, 6], "categorical": {"grade": {"counts": {"III": [12, 4]}}}}
    real = load_study("seer_m0i", data=__file__)
    shown = mm.versus_published(numbers, published, real)
    assert shown.loc[("n", "M0(i+)", "n"), "reproduced"] == "<11"
    assert shown.loc[("n", "M0(i+)", "n"), "difference"] == ""
    assert shown.loc[("Grade", "III | M0", "n"), "reproduced"] == "12"
    synthetic = mm.versus_published(numbers, published, STUDY)
    assert synthetic.loc[("n", "M0(i+)", "n"), "reproduced"] == "5"
    assert synthetic.loc[("n", "M0(i+)", "n"), "difference"] == "-1"


def test_restrict_extract_sets_aside_other_years_and_levels():
    frame = pd.DataFrame({"m_stage": ["M0", "M0(i+)", "M1", "M0"],
                          "year": pd.array([2018, 2022, 2019, 2017], dtype="Int64")})
    kept, outside = mm.restrict_extract(frame, STUDY)
    assert list(kept.index) == [0, 1] and outside == 2


def test_counts_in_prose_are_masked_for_real_sources():
    real = load_study("seer_m0i", data=__file__)
    assert mm.fmt_count(7, real) == "<11" and mm.fmt_count(0, real) == "0"
    assert mm.fmt_count(1234, real) == "1,234" and mm.fmt_count(7, STUDY) == "7"


def test_formatting():
    assert mm.fmt_p(0.0004) == "<0.001" and mm.fmt_p(0.0456) == "0.046"
    assert mm.fmt_p(float("nan")) == "NA"
    assert mm.fmt_hr(5.48e5, 0.0, np.inf) == "not estimable"
    assert mm.fmt_hr(0.803, 0.498, 1.296) == "0.803 (0.498\u20131.296)"
    assert mm.fmt_hr(2.41e4, 0.5, 1.2e5) == "2.41e+04 (0.500\u20131.20e+05)"
    assert mm.fmt_hr(0.8, np.nan, 1.2) == "not estimable"
    assert mm.rounded(-0.0001, 3) == 0.0 and str(mm.rounded(-0.0001, 3)) == "0.0"


def test_a_chapter_without_its_input_says_which_chapter_to_run(tmp_path):
    # the survival chapters read the matched set (the matching chapter builds its cohort from
    # the source itself, so that it runs beside chapter 1)
    with pytest.raises(InputError, match="02_matching"):
        mm.analysed_set(STUDY, tmp_path)


def test_row_level_files_carry_a_gitignore(tmp_path):
    mm.save_frame(pd.DataFrame({"a": [1]}), tmp_path, "x")
    assert (tmp_path / "data" / ".gitignore").read_text().strip().endswith("*")
    assert mm.load_frame(tmp_path, "x", "01").equals(pd.DataFrame({"a": [1]}))


def test_parameters_table_names_every_choice():
    table = mm.parameters_table(load_study("seer_m0i", ["matching.caliper=0.1"]))
    assert "caliper 0.1 SD" in table.loc["matching", "value"]
    assert "univariable p < 0.05" in table.loc["multivariable selection", "value"]


def test_unknown_synthetic_source(tmp_path):
    study = load_study("seer_m0i", ["source=synthetic://other?seed=1"])
    with pytest.raises(InputError, match="unknown synthetic source"):
        mm.read_source(study)


def test_the_books_agreement_with_r_table_is_within_the_contract():
    table = mm.r_agreement()
    measured = table[table["R function"] != ""]
    assert len(measured) >= 12
    for what, row in measured.iterrows():
        if "identical (treated units)" in what:
            same, _, total = row["max abs diff"].split()
            assert same == total, what
            continue
        assert float(row["max rel diff"]) < 1e-6, (what, row["max rel diff"])
        if row["tolerance"] in ("1e-8", "1e-8 abs", "identical"):
            assert float(row["max abs diff"]) < 1e-8, what
