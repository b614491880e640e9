"""micromet.seer: reading SEER*Stat exports in every variant, and the tidy analysis frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from micromet.errors import InputError
from micromet.seer import ALIASES, find_dic, read_dic, read_export, tidy

FIXTURES = Path(__file__).parent / "fixtures" / "seer"
REFERENCE = FIXTURES / "label_comma_header.csv"

#: every variant of the same 12 records (tests/fixtures/seer/make_fixtures.py)
VARIANTS = [
    "label_comma_header_nov2024.csv",  # Nov 2024 "Recode" names, LF
    "label_tab_noheader.txt",  # names from the .dic
    "label_tab_header.txt",
    "label_semicolon_header.csv",
    "quotedlabels_comma.csv",
    "quotedlabels_space.txt",
    "label_comma_gzip.csv.gz",  # GZipped=true, x.csv.gz -> x.dic
    "label_tab_gzip_magic.txt",  # gzip bytes under a .txt name
    "numeric_tab_noheader.txt",  # codes decoded through [Format=...]
    "numeric_comma_header.csv",
    "label_unformatted_vars.csv",  # VarNDisplayType=Unformatted for two variables
    "dic_appended.csv",  # x.csv + x.csv.dic
    "nodic_header.csv",  # no .dic at all
]


@pytest.fixture(scope="module")
def raw():
    return read_export(REFERENCE)


@pytest.fixture(scope="module")
def analysis(raw):
    return tidy(raw)


# ---------------------------------------------------------------- the reader


def test_reader_keeps_labels_as_text(raw):
    assert raw.shape == (12, 30)
    assert all(raw[c].map(type).eq(str).all() for c in raw.columns)
    assert raw["Patient ID"].iloc[0] == "00000225"
    assert raw["Survival months"].iloc[0] == "0041"
    assert raw["Tumor Size Summary (2016+)"].iloc[0] == "015"
    assert raw["Derived EOD 2018 Stage Group (2018+)"].iloc[5] == "NA"
    assert raw["ICD-O-3 Hist/behav"].iloc[0] == "8500/3: Infiltrating duct carcinoma, NOS"
    assert raw["Primary Site - labeled"].iloc[1] == "C50.9-Breast, NOS"
    assert raw["Tumor Size Summary (2016+)"].iloc[6] == "Blank(s)"
    assert raw.attrs["file"] == str(REFERENCE)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_reads_to_the_same_frames(variant, raw, analysis):
    other = read_export(FIXTURES / variant)
    if variant.startswith("numeric"):
        # Survival months has no [Format] section: its codes stay as SEER*Stat wrote them
        assert list(other["Survival months"]) == ["41", "12", "9999", "0", "59", "23", "5",
                                                  "31", "47", "38", "2", "18"]
        other_labels = other.drop(columns="Survival months")
        pd.testing.assert_frame_equal(other_labels, raw.drop(columns="Survival months"))
    else:
        pd.testing.assert_frame_equal(other, raw)
    pd.testing.assert_frame_equal(tidy(other), analysis)


def test_nov2024_names_become_canonical():
    other = read_export(FIXTURES / "label_comma_header_nov2024.csv")
    assert "Derived EOD 2018 T (2018+)" in other.columns
    assert not any(name in other.columns for name in ALIASES)


def test_dic_parsing():
    dic = read_dic(FIXTURES / "numeric_tab_noheader.dic")
    assert dic.delimiter == "\t"
    assert dic.header is False
    assert dic.variable_format == "numeric"
    assert len(dic.names) == 30
    assert dic.names[12] == "Derived EOD 2018 T Recode (2018+)"
    assert dic.formats["Year of diagnosis"]["218"] == "2018"
    assert dic.formats["Vital status recode (study cutoff used)"] == {"1": "Alive", "0": "Dead"}
    assert "Patient ID" not in dic.formats


def test_find_dic_variants():
    assert find_dic(FIXTURES / "label_comma_gzip.csv.gz").name == "label_comma_gzip.dic"
    assert find_dic(FIXTURES / "dic_appended.csv").name == "dic_appended.csv.dic"
    assert find_dic(FIXTURES / "nodic_header.csv") is None


def test_explicit_dic_argument(raw, tmp_path):
    data = tmp_path / "cases.txt"
    data.write_bytes((FIXTURES / "label_tab_noheader.txt").read_bytes())
    other = read_export(data, dic=FIXTURES / "label_tab_noheader.dic")
    assert other.attrs["file"] == str(data)
    pd.testing.assert_frame_equal(other, raw)


# ---------------------------------------------------------------- tidy


def test_tidy_columns_and_types(analysis):
    assert list(analysis.columns) == [
        "patient_id", "age", "sex", "year", "histology", "histology_code", "grade",
        "grade_label", "tumor_size_mm", "er", "pr", "her2", "subtype", "t_stage", "t_label",
        "n_stage", "n_label", "m_stage", "time_months", "vital", "death_cause", "event"]
    assert analysis["year"].dtype == "Int64"
    assert analysis["event"].dtype == "Int64"
    assert analysis["vital"].dtype == np.int8
    assert list(analysis["grade"].cat.categories) == ["I-II", "III"]
    assert list(analysis["subtype"].cat.categories) == [
        "HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-"]
    assert list(analysis["death_cause"].cat.categories) == [
        "alive", "breast cancer", "other cause", "unknown"]


def _values(series):
    return [None if pd.isna(v) else v for v in series]


def test_tidy_values_row_by_row(analysis):
    # expected values worked out by hand from the fixture rows (make_fixtures.ROWS) and TIDY.md
    nan = None
    assert _values(analysis["age"]) == [62, 90, 45, nan, 18, 75, 89, 50, 33, 71, 5, 66]
    assert _values(analysis["year"]) == [2019, 2020, 2018, 2021, 2022, 2019, 2020, 2021, 2018,
                                         2019, 2022, 2021]
    assert _values(analysis["histology"]) == ["IDC", "IDC", "Other", "IDC", "IDC", "Other",
                                              "IDC", "IDC", "IDC", "IDC", "Other", "IDC"]
    # summary grade labels 2,3,A,9,B,C,D,M,H,Blank(s),1,3
    assert _values(analysis["grade"]) == ["I-II", "III", "I-II", nan, "I-II", "III", nan, nan,
                                          nan, nan, "I-II", "III"]
    assert _values(analysis["tumor_size_mm"]) == [15, 55, 1, nan, nan, 30, nan, nan, nan, 989,
                                                  120, 60]
    assert _values(analysis["er"]) == ["Positive", "Negative", "Positive", nan, "Negative",
                                       "Positive", "Positive", nan, "Positive", "Negative",
                                       "Positive", "Negative"]
    assert _values(analysis["pr"])[3] is None and _values(analysis["pr"])[6] is None
    assert _values(analysis["subtype"]) == ["HR+/HER2-", "HR-/HER2+", "HR+/HER2+", nan,
                                            "HR-/HER2-", "HR+/HER2-", nan, nan, "HR+/HER2+",
                                            "HR+/HER2-", "HR+/HER2-", "HR-/HER2+"]
    assert _values(analysis["t_stage"]) == ["T1-T2", "T3-T4", "T1-T2", nan, "T3-T4", "T1-T2",
                                            nan, nan, nan, "T1-T2", "T3-T4", "T3-T4"]
    assert _values(analysis["n_stage"]) == ["N0", "N1-N3", "N0", nan, "N1-N3", "N1-N3", "N0",
                                            "N0", nan, "N1-N3", "N1-N3", "N1-N3"]
    assert _values(analysis["m_stage"]) == ["M0", "M0(i+)", "M0", "M0", "M0", "M0", "M1", "M0",
                                            "88", "M0", "M0(i+)", "M0"]
    assert _values(analysis["time_months"]) == [41, 12, nan, 0, 59, 23, 5, 31, 47, 38, 2, 18]
    assert _values(analysis["vital"]) == [0, 1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 1]
    # row 8 is alive with "N/A not seq 0-59": no cause-of-death record, so its cause is unknown
    # (SEER*Stat leaves such records out of cause-specific survival), not "alive"
    assert _values(analysis["death_cause"]) == [
        "alive", "breast cancer", "other cause", "unknown", "alive", "other cause", "unknown",
        "unknown", "alive", "breast cancer", "alive", "breast cancer"]
    assert _values(analysis["event"]) == [0, 1, 2, nan, 0, 2, nan, nan, 0, 1, 0, 1]
    assert _values(analysis["patient_id"])[10] == "04000001"
    assert _values(analysis["t_label"])[7] == "Tis(DCIS)"
    assert _values(analysis["n_label"])[2] == "N0(i+)"


def test_grade_variable_is_a_parameter(raw):
    path = tidy(raw, grade="Grade Pathological (2018+)")
    # pathological labels 1,3,A,9,B,C,D,L,H,1,2,3
    assert _values(path["grade_label"]) == ["1", "3", "A", "9", "B", "C", "D", "L", "H", "1",
                                            "2", "3"]
    assert _values(path["grade"])[9] == "I-II"  # summary grade Blank(s), pathological 1
    clinical = tidy(raw, grade="clinical")
    assert clinical["grade_label"].iloc[9] == "Blank(s)"
    assert clinical["grade_label"].iloc[0] == "2"


def test_tidy_keeps_the_index(raw):
    shuffled = raw.iloc[::-1].set_axis([f"r{i}" for i in range(12)], axis=0)
    out = tidy(shuffled)
    assert list(out.index) == list(shuffled.index)
    assert out["patient_id"].iloc[0] == "04000002"


def test_survival_code_9999_is_unknown(raw):
    other = raw.copy()
    other.loc[0, "Survival months"] = "9999"
    assert np.isnan(tidy(other)["time_months"].iloc[0])


@pytest.mark.parametrize(("variant", "say"), [("label_comma_header", "header"),
                                              ("label_tab_noheader", "no header")])
def test_header_sniffed_when_the_dic_does_not_say(tmp_path, raw, variant, say):
    src = FIXTURES / variant
    ext = ".csv" if say == "header" else ".txt"
    data = tmp_path / f"cases{ext}"
    data.write_bytes(src.with_suffix(ext).read_bytes())
    text = src.with_suffix(".dic").read_bytes().decode("utf-8")
    text = "\r\n".join(line for line in text.split("\r\n")
                       if not line.startswith("Variable names included"))
    (tmp_path / "cases.dic").write_bytes(text.encode("utf-8"))
    assert read_dic(tmp_path / "cases.dic").header is None
    pd.testing.assert_frame_equal(read_export(data), raw)


def test_surrounding_blanks_are_stripped(tmp_path, raw):
    data = tmp_path / "cases.csv"
    text = (FIXTURES / "label_comma_header.csv").read_bytes().decode("utf-8")
    text = text.replace(",T1c,", ", T1c ,").replace('"C50.9-Breast, NOS"', '"  C50.9-Breast, NOS "')
    data.write_bytes(text.encode("utf-8"))
    (tmp_path / "cases.dic").write_bytes((FIXTURES / "label_comma_header.dic").read_bytes())
    pd.testing.assert_frame_equal(read_export(data), raw)


@pytest.mark.parametrize("variant", ["label_comma_header.csv", *VARIANTS])
def test_categorical_reading_gives_the_same_labels_and_the_same_analysis_frame(variant):
    """``read_export(..., categorical=True)`` (what a study run uses) holds the same labels as
    the text columns, its categories in order of first appearance, and ``tidy`` makes the same
    frame of it."""
    text = read_export(FIXTURES / variant)
    cats = read_export(FIXTURES / variant, categorical=True)
    assert list(cats.columns) == list(text.columns)
    for name in text.columns:
        assert isinstance(cats[name].dtype, pd.CategoricalDtype)
        assert cats[name].to_numpy(dtype=object).tolist() == text[name].tolist(), name
        assert list(cats[name].cat.categories) == list(dict.fromkeys(text[name])), name
    pd.testing.assert_frame_equal(tidy(cats), tidy(text))


def test_blanks_around_a_label_make_no_second_category(tmp_path):
    lines = (FIXTURES / "label_comma_header.csv").read_bytes().decode("utf-8").split("\r\n")
    assert ",Female," in lines[2]
    lines[2] = lines[2].replace(",Female,", ",  Female ,")
    path = tmp_path / "padded.csv"
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    cats = read_export(path, categorical=True)
    categories = list(cats["Sex"].cat.categories)
    assert cats["Sex"].iloc[1] == "Female" and categories.count("Female") == 1
    assert all(c == c.strip() for c in categories)


def test_the_first_bad_label_is_named_at_its_earliest_row_from_categories_too():
    """With categories the labels are checked in order of first appearance, as with text: of
    two unknown labels the one on the earlier row is named (rows 5 and 3 here: row 3), though
    its category sorts after the other's."""
    for categorical in (False, True):
        raw = read_export(REFERENCE, categorical=categorical)
        sex = raw["Sex"].astype(object).to_numpy().copy()
        sex[4], sex[2] = "Another label", "Zed label"
        raw = raw.assign(Sex=pd.Categorical(sex) if categorical else sex)  # sorted categories
        raw.attrs["file"] = str(REFERENCE)
        with pytest.raises(InputError) as info:
            tidy(raw)
        assert info.value.row == 3 and info.value.value == "Zed label"
