"""micromet.seer: bad input raises InputError naming file, column, row and value."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from micromet.errors import InputError
from micromet.seer import read_dic, read_export, tidy

FIXTURES = Path(__file__).parent / "fixtures" / "seer"
REFERENCE = FIXTURES / "label_comma_header"
TAB_NOHEADER = FIXTURES / "label_tab_noheader"
NUMERIC = FIXTURES / "numeric_tab_noheader"


def copy_export(src: Path, dest_dir: Path, ext: str, name: str = "cases") -> tuple[Path, Path]:
    data = dest_dir / f"{name}{ext}"
    dic = dest_dir / f"{name}.dic"
    shutil.copy(src.with_suffix(ext), data)
    shutil.copy(src.with_suffix(".dic"), dic)
    return data, dic


def edit(path: Path, old: str, new: str, count: int = 1):
    text = path.read_bytes().decode("utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_bytes(text.replace(old, new, count).encode("utf-8"))


def lines_of(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8").split("\r\n")


def set_lines(path: Path, lines: list[str]):
    path.write_bytes("\r\n".join(lines).encode("utf-8"))


def raises(func, *args, match: str, **kwargs) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        func(*args, **kwargs)
    return info.value


# ---------------------------------------------------------------- missing columns


def test_tidy_missing_required_column(tmp_path):
    raw = read_export(REFERENCE.with_suffix(".csv"))
    err = raises(tidy, raw.drop(columns="Survival months"),
                 match=r"column 'Survival months': required column missing")
    assert err.file == str(REFERENCE.with_suffix(".csv"))
    assert err.column == "Survival months"


def test_tidy_missing_chosen_grade_column():
    raw = read_export(REFERENCE.with_suffix(".csv")).drop(columns="Grade Clinical (2018+)")
    tidy(raw)  # the default grade variable is still there
    raises(tidy, raw, grade="clinical", match=r"column 'Grade Clinical \(2018\+\)': required")


def test_tidy_unknown_grade_parameter():
    raw = read_export(REFERENCE.with_suffix(".csv"))
    raises(tidy, raw, grade="Nottingham", match=r"value 'Nottingham': grade must be one of")


def test_header_lacks_a_dic_variable(tmp_path):
    data, _ = copy_export(REFERENCE, tmp_path, ".csv")
    edit(data, '"Tumor Size Summary (2016+)"', '"Tumor Size (2016+)"')
    err = raises(read_export, data, match=(
        r"file '.*cases\.csv', column 'Tumor Size Summary \(2016\+\)', value 'Tumor Size "
        r"\(2016\+\)': header column 17 is 'Tumor Size \(2016\+\)' but the \.dic \(cases\.dic\) "
        r"says Var17Name=Tumor Size Summary \(2016\+\)"))
    assert err.column == "Tumor Size Summary (2016+)"


def test_header_has_fewer_columns_than_the_dic(tmp_path):
    data, _ = copy_export(REFERENCE, tmp_path, ".csv")
    edit(data, ',"COD to site recode"', "")
    err = raises(read_export, data,
                 match=r"file '.*cases\.csv', column 'COD to site recode': the header has 29 "
                       r"columns but the \.dic \(cases\.dic\) lists 30 variables; not in the "
                       r"header: 'COD to site recode'")
    assert err.column == "COD to site recode"


def test_dic_lists_fewer_variables_than_the_fields(tmp_path):
    data, dic = copy_export(TAB_NOHEADER, tmp_path, ".txt")
    edit(dic, "Var30Name=COD to site recode\r\nVar30DisplayType=Formatted\r\n", "")
    raises(read_export, data,
           match=r"file '.*cases\.txt', row 1: line 1 has 30 fields but the \.dic \(cases\.dic\) "
                 r"lists 29 variables")


def test_dic_says_no_header_but_there_is_one(tmp_path):
    data, dic = copy_export(REFERENCE, tmp_path, ".csv")
    edit(dic, "Variable names included=true", "Variable names included=false")
    raises(read_export, data, match=r"says 'Variable names included=false' but line 1 is the "
                                    r"header")


def test_no_dic_and_no_header(tmp_path):
    data = tmp_path / "cases.txt"
    shutil.copy(TAB_NOHEADER.with_suffix(".txt"), data)
    raises(read_export, data, match=r"file '.*cases\.txt': no \.dic found beside the data file")


def test_alias_and_canonical_name_both_present(tmp_path):
    data = tmp_path / "cases.csv"
    shutil.copy(REFERENCE.with_suffix(".csv"), data)
    edit(data, '"Derived EOD 2018 Stage Group (2018+)"', '"Derived EOD 2018 T Recode (2018+)"')
    raises(read_export, data, match=r"column 'Derived EOD 2018 T \(2018\+\)': two columns have "
                                    r"the same canonical name")


# ---------------------------------------------------------------- labels and values


@pytest.mark.parametrize(("column", "old", "new", "row"), [
    ("Derived Summary Grade 2018 (2018+)", "A,T1mi", "Q,T1mi", 3),
    ("Derived EOD 2018 T (2018+)", "T4d,N3c", "T5,N3c", 5),
    ("Derived EOD 2018 N (2018+)", "T4d,N3c", "T4d,N4", 5),
    ("Derived EOD 2018 M (2018+)", "T1c,N0,M0", "T1c,N0,MX", 1),
    ("Breast Subtype (2010+)", "HR-/HER2-", "Triple negative", 5),
    ("ER Status Recode Breast Cancer (1990+)", "T2,N2a,M0,NA,030,Positive",
     "T2,N2a,M0,NA,030,Pos", 6),
    ("Tumor Size Summary (2016+)", ",120,", ",12 mm,", 11),
    ("Tumor Size Summary (2016+)", ",120,", ",993,", 11),
    ("Age recode with single ages and 90+", "33 years", "thirty-three", 9),
    ("Sex", "Male", "M", 3),
    ("Year of diagnosis", "2022,American", "22,American", 5),
    ("Histologic Type ICD-O-3", ",8480,", ",848O,", 6),
    ("Vital status recode (study cutoff used)", "0059," + "Complete dates are available and "
     "there are more than 0 days of survival,Alive", "0059,Complete dates are available and "
     "there are more than 0 days of survival,Living", 5),
    ("SEER other cause of death classification",
     "Dead (attributable to causes other than this cancer dx),Diseases",
     "Dead (other cause),Diseases", 3),
])
def test_unknown_label_in_a_mapped_column(tmp_path, column, old, new, row):
    data, _ = copy_export(REFERENCE, tmp_path, ".csv")
    edit(data, old, new)
    raw = read_export(data)
    bad = raw[column].iloc[row - 1]
    err = raises(tidy, raw, match=(
        rf"file '.*cases\.csv', column '{re.escape(column)}', row {row}, value "
        rf"'{re.escape(bad)}': "))
    assert (err.column, err.row, err.value) == (column, row, bad)


def test_non_numeric_survival_time(tmp_path):
    data, _ = copy_export(REFERENCE, tmp_path, ".csv")
    edit(data, ",0023,", ",4l,")
    err = raises(tidy, read_export(data), match=(
        r"file '.*cases\.csv', column 'Survival months', row 6, value '4l': survival time is "
        r"not a whole number of months or 'Unknown'"))
    assert err.row == 6


def test_contradictory_death_classification(tmp_path):
    data, _ = copy_export(REFERENCE, tmp_path, ".csv")
    # row 2 is a breast-cancer death; also mark it as an other-cause death
    edit(data, "Dead,Dead (attributable to this cancer dx),Alive or dead due to cancer,Breast",
         "Dead,Dead (attributable to this cancer dx),Dead (attributable to causes other than "
         "this cancer dx),Breast")
    raises(tidy, read_export(data), match=(
        r"column 'SEER cause-specific death classification', row 2, value 'Dead \(attributable "
        r"to this cancer dx\)': vital status 'Dead', cause-specific .* contradict each other"))


# ---------------------------------------------------------------- file structure


def test_row_with_too_many_fields(tmp_path):
    data, _ = copy_export(REFERENCE, tmp_path, ".csv")
    lines = lines_of(data)
    lines[4] = lines[4] + ",extra"  # line 5 of the file = data row 4
    set_lines(data, lines)
    err = raises(read_export, data,
                 match=r"file '.*cases\.csv', row 4: line 5 has 31 fields, "
                       r"expected 30")
    assert err.row == 4
    patient_id = lines[4].split(",")[0].strip('"')
    assert patient_id not in str(err) and err.value is None  # no Patient ID, no raw record


def test_row_with_too_few_fields_without_header(tmp_path):
    data, _ = copy_export(TAB_NOHEADER, tmp_path, ".txt")
    text = data.read_bytes().decode("utf-8").split("\n")
    text[7] = text[7].rsplit("\t", 1)[0]  # line 8 loses its last field
    data.write_bytes("\n".join(text).encode("utf-8"))
    raises(read_export, data, match=r"row 8: line 8 has 29 fields, expected 30")


def test_unquoted_label_with_a_comma_breaks_the_row(tmp_path):
    data, _ = copy_export(REFERENCE, tmp_path, ".csv")
    edit(data, '"C50.9-Breast, NOS"', "C50.9-Breast, NOS")  # first occurrence: data row 2
    raises(read_export, data, match=r"row 2: line 3 has 31 fields, expected 30")


def test_line_numbers_count_blank_lines(tmp_path):
    data, _ = copy_export(REFERENCE, tmp_path, ".csv")
    lines = lines_of(data)
    lines[6] = lines[6] + ",extra"
    lines.insert(3, "")  # a blank line before it
    set_lines(data, lines)
    raises(read_export, data, match=r"row 6: line 8 has 31 fields")


@pytest.mark.parametrize("content", [b"", b"\r\n\r\n", b"   \n"])
def test_empty_file(tmp_path, content):
    data, _ = copy_export(REFERENCE, tmp_path, ".csv")
    data.write_bytes(content)
    raises(read_export, data, match=r"file '.*cases\.csv': the file is empty")


def test_empty_gzip_file(tmp_path):
    data = tmp_path / "cases.csv.gz"
    data.write_bytes(gzip.compress(b""))
    shutil.copy(REFERENCE.with_suffix(".dic"), tmp_path / "cases.dic")
    raises(read_export, data, match=r"file '.*cases\.csv\.gz': the file is empty")


def test_header_only(tmp_path):
    data, _ = copy_export(REFERENCE, tmp_path, ".csv")
    set_lines(data, lines_of(data)[:1] + [""])
    raises(read_export, data, match=r"the file has a header but no data lines")


def test_missing_file(tmp_path):
    raises(read_export, tmp_path / "nope.csv", match=r"file '.*nope\.csv': no such file")


def test_numeric_code_not_in_its_format_section(tmp_path):
    data, _ = copy_export(NUMERIC, tmp_path, ".txt")
    lines = lines_of(data)
    fields = lines[2].split("\t")
    fields[26] = "7"  # vital status: [Format] lists 1=Alive, 0=Dead
    lines[2] = "\t".join(fields)
    set_lines(data, lines)
    err = raises(read_export, data, match=(
        r"file '.*cases\.txt', column 'Vital status recode \(study cutoff used\)', row 3, "
        r"value '7': code not listed in the \[Format=Vital status recode \(study cutoff used\)\] "
        r"section of the \.dic"))
    assert err.row == 3


# ---------------------------------------------------------------- the .dic itself


def test_dic_repeats_a_variable_number(tmp_path):
    _, dic = copy_export(REFERENCE, tmp_path, ".csv")
    edit(dic, "Var10Name=Grade Clinical (2018+)", "Var9Name=Grade Clinical (2018+)")
    raises(read_dic, dic, match=r"file '.*cases\.dic': line \d+: Var9Name appears twice")


def test_dic_skips_a_variable_number(tmp_path):
    _, dic = copy_export(REFERENCE, tmp_path, ".csv")
    edit(dic, "Var10Name=Grade Clinical (2018+)", "Var31Name=Grade Clinical (2018+)")
    raises(read_dic, dic, match=r"the \[Variables\] section lacks Var10Name")


def test_dic_unknown_delimiter(tmp_path):
    _, dic = copy_export(REFERENCE, tmp_path, ".csv")
    edit(dic, "Field delimiter=comma", "Field delimiter=pipe")
    raises(read_dic, dic, match=r"Field delimiter='pipe' is not one of")


def test_dic_without_variables(tmp_path):
    dic = tmp_path / "cases.dic"
    dic.write_text("[Export Options]\nField delimiter=comma\n")
    raises(read_dic, dic, match=r"no \[Variables\] section")


def test_dic_format_section_with_two_labels_for_one_code(tmp_path):
    _, dic = copy_export(NUMERIC, tmp_path, ".txt")
    edit(dic, "[Format=Sex]\r\n", "[Format=Sex]\r\n1=Female\r\n")
    raises(read_dic, dic, match=r"code '1' appears twice in \[Format=Sex\]")


def test_tidy_rejects_values_that_are_not_text():
    raw = read_export(REFERENCE.with_suffix(".csv"))
    other = raw.copy()
    other["Survival months"] = other["Survival months"].astype(object)
    other.loc[3, "Survival months"] = float("nan")
    raises(tidy, other, match=r"column 'Survival months', row 4, value nan: not text")
    other = raw.copy()
    other["Year of diagnosis"] = other["Year of diagnosis"].astype(int)
    raises(tidy, other, match=r"column 'Year of diagnosis', row 1, value 2019: not text")


# ---------------------------------------------------------------- repeated records


def test_a_repeated_record_is_refused_at_its_own_row_and_a_second_primary_is_not():
    raw = read_export(REFERENCE.with_suffix(".csv"))
    n = len(raw)
    # A second primary: the same patient, another record (different fields) — accepted.
    second = raw.iloc[[3]].copy()
    second["Survival months"] = "0001" if raw.iloc[3]["Survival months"] != "0001" else "0002"
    tidied = tidy(pd.concat([raw, second], ignore_index=True))
    assert len(tidied) == n + 1
    # The same record twice, the copy put in the middle: refused at the copy's 1-based row.
    rows = [*range(0, 6), 2, *range(6, n)]
    repeated = raw.iloc[rows].reset_index(drop=True)
    repeated.attrs = raw.attrs
    err = raises(tidy, repeated, match=r"1 records repeat an earlier record")
    assert err.row == 7
    assert err.column is None and err.value is None
