"""micromet.series: reading an institutional CSV through a study-file mapping."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from micromet.errors import InputError
from micromet.series import SeriesMapping, combine_levels, read_series

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "series" / "small_series.csv"

MAPPING = {
    "id": "case_no",
    "time": {"column": "fu_days", "unit": "days"},
    "event": {
        "column": "first_event",
        "codes": {"none": "censored", "local": "local", "distant": "distant", "death": "death"},
        "of_interest": "distant",
        "competing": ["local", "death"],
    },
    "exposure": {
        "column": "nodal_status",
        "name": "nodal_group",
        "levels": {"N0i-": "pN0(i-)", "N0i+": "pN0(i+)", "N1mi": "pN1mi", "N1": "pN1"},
        "reference": "pN0(i-)",
        "derived": {"nodal_group3": {"pN0(i-)": ["pN0(i-)"], "pN0(i+)/pN1mi": ["pN0(i+)", "pN1mi"],
                                     "pN1": ["pN1"]}},
    },
    "covariates": {
        "age": {"column": "age_at_dx", "type": "numeric"},
        "grade": {"column": "grade", "levels": {"1": "G1-2", "2": "G1-2", "3": "G3"}},
        "er": {"column": "er", "levels": {"pos": "Positive", "neg": "Negative"}},
    },
}

ROWS = [
    # case_no, age_at_dx, grade, er, nodal_status, fu_days, first_event
    ("A1", "51", "1", "pos", "N0i-", "3652", "none"),
    ("A2", "64", "3", "neg", "N0i+", "913", "distant"),
    ("A3", "47", "2", "pos", "N1mi", "1826", "local"),
    ("A4", "", "2", "", "N1", "30", "death"),
    ("A5", "70", "3", "pos", " N0i- ", "0", "none"),
]
HEADER = ["case_no", "age_at_dx", "grade", "er", "nodal_status", "fu_days", "first_event"]


def write_csv(path: Path, rows=ROWS, header=HEADER) -> Path:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def with_cell(row: int, column: str, value: str):
    rows = [list(r) for r in ROWS]
    rows[row][HEADER.index(column)] = value
    return rows


@pytest.fixture
def csv(tmp_path):
    return write_csv(tmp_path / "series.csv")


def test_reads_the_analysis_frame(csv):
    d = read_series(csv, MAPPING)
    assert list(d.columns) == ["patient_id", "time_months", "event", "event_type", "nodal_group",
                               "nodal_group3", "age", "grade", "er"]
    assert d["patient_id"].tolist() == ["A1", "A2", "A3", "A4", "A5"]
    np.testing.assert_allclose(d["time_months"], np.array([3652, 913, 1826, 30, 0]) / 30.4375,
                               rtol=0, atol=1e-12)
    assert d["event"].tolist() == [0, 1, 2, 3, 0]
    assert d["event_type"].tolist() == ["censored", "distant", "local", "death", "censored"]
    assert list(d["event_type"].cat.categories) == ["censored", "distant", "local", "death"]
    g = d["nodal_group"]
    assert g.cat.ordered
    assert list(g.cat.categories) == ["pN0(i-)", "pN0(i+)", "pN1mi", "pN1"]
    assert g.tolist() == ["pN0(i-)", "pN0(i+)", "pN1mi", "pN1", "pN0(i-)"]  # blanks stripped
    assert d["nodal_group3"].tolist() == ["pN0(i-)", "pN0(i+)/pN1mi", "pN0(i+)/pN1mi", "pN1",
                                          "pN0(i-)"]
    assert list(d["nodal_group3"].cat.categories) == ["pN0(i-)", "pN0(i+)/pN1mi", "pN1"]
    assert np.isnan(d.loc[3, "age"]) and d.loc[0, "age"] == 51.0  # blank covariate: missing
    assert d["grade"].tolist() == ["G1-2", "G3", "G1-2", "G1-2", "G3"]
    assert list(d["er"].cat.categories) == ["Positive", "Negative"]  # first label = reference
    assert pd.isna(d.loc[3, "er"])
    assert d.attrs["event_labels"] == {0: "censored", 1: "distant", 2: "local", 3: "death"}
    assert d.attrs["exposure"] == "nodal_group" and d.attrs["reference"] == "pN0(i-)"


def test_reference_moves_first_and_units(tmp_path):
    m = copy.deepcopy(MAPPING)
    m["exposure"]["reference"] = "pN0(i+)"
    m["covariates"]["er"]["reference"] = "Negative"
    m["time"] = {"column": "fu_days", "unit": "years"}
    d = read_series(write_csv(tmp_path / "s.csv"), m)
    assert list(d["nodal_group"].cat.categories) == ["pN0(i+)", "pN0(i-)", "pN1mi", "pN1"]
    assert list(d["er"].cat.categories) == ["Negative", "Positive"]
    assert d.loc[1, "time_months"] == 913 * 12


def test_competing_types_can_be_pooled_and_default(csv):
    m = copy.deepcopy(MAPPING)
    m["event"]["competing"] = [["local", "death"]]
    d = read_series(csv, m)
    assert d["event"].tolist() == [0, 1, 2, 2, 0]
    assert d.attrs["event_labels"][2] == "local/death"
    del m["event"]["competing"]  # default: every other type, in code order
    assert read_series(csv, m)["event"].tolist() == [0, 1, 2, 3, 0]


def test_integer_codes_in_the_mapping_match_text_in_the_file(tmp_path):
    rows = [("1", "50", "1", "pos", "0", "10", "0"), ("2", "60", "3", "neg", "1", "20", "1")]
    m = copy.deepcopy(MAPPING)
    m["event"] = {"column": "first_event", "codes": {0: "censored", 1: "distant"},
                  "of_interest": "distant"}
    m["exposure"] = {"column": "nodal_status", "levels": {0: "neg", 1: "pos"}}
    m["covariates"]["grade"]["levels"] = {1: "G1-2", 2: "G1-2", 3: "G3"}
    d = read_series(write_csv(tmp_path / "s.csv", rows), m)
    assert d["event"].tolist() == [0, 1]
    assert d["nodal_status"].tolist() == ["neg", "pos"]  # name defaults to the column
    assert d["grade"].tolist() == ["G1-2", "G3"]


def test_synthetic_fixture_with_study_mapping():
    """The committed fixture (first rows of the synthetic series) through the study's mapping."""
    study = yaml.safe_load((ROOT / "studies" / "nanomet.yml").read_text(encoding="utf-8"))
    d = read_series(FIXTURE, study["series"])
    raw = pd.read_csv(FIXTURE, dtype=str)
    assert len(d) == len(raw) == 40
    codes = {"none": 0, "distant": 1, "local": 2, "regional": 3, "contralateral": 4, "death": 5}
    assert d["event"].tolist() == raw["first_event"].map(codes).tolist()
    assert list(d["nodal_group"].cat.categories) == ["pN0(i-)", "pN0(i+)", "pN1mi", "pN1"]
    assert d["tumor_size_mm"].tolist() == raw["tumour_mm"].astype(float).tolist()


# ---- bad input: each names the file, the column, the row and the value --------------------------


def check_error(excinfo, file, column, row=None, value=None):
    err = excinfo.value
    assert err.file == str(file)
    assert err.column == column
    assert err.row == row
    assert err.value == value
    text = str(err)
    assert str(file) in text and f"column '{column}'" in text
    if row is not None:
        assert f"row {row}" in text


def test_missing_column(tmp_path):
    path = write_csv(tmp_path / "s.csv", [r[:-1] for r in ROWS], HEADER[:-1])
    with pytest.raises(InputError, match="column not in the file") as e:
        read_series(path, MAPPING)
    check_error(e, path, "first_event")


def test_unknown_event_code(tmp_path):
    path = write_csv(tmp_path / "s.csv", with_cell(2, "first_event", "relapse"))
    with pytest.raises(InputError, match="unknown event code") as e:
        read_series(path, MAPPING)
    check_error(e, path, "first_event", 3, "relapse")


def test_unknown_exposure_level(tmp_path):
    path = write_csv(tmp_path / "s.csv", with_cell(3, "nodal_status", "N2"))
    with pytest.raises(InputError, match="unknown exposure code") as e:
        read_series(path, MAPPING)
    check_error(e, path, "nodal_status", 4, "N2")


def test_blank_exposure_is_an_error(tmp_path):
    path = write_csv(tmp_path / "s.csv", with_cell(0, "nodal_status", ""))
    with pytest.raises(InputError, match="unknown exposure code") as e:
        read_series(path, MAPPING)
    check_error(e, path, "nodal_status", 1, "")


@pytest.mark.parametrize("value", ["12x", "", "NA", "inf"])
def test_non_numeric_or_missing_time(tmp_path, value):
    path = write_csv(tmp_path / "s.csv", with_cell(1, "fu_days", value))
    with pytest.raises(InputError, match="not a number") as e:
        read_series(path, MAPPING)
    check_error(e, path, "fu_days", 2, value)


def test_negative_time(tmp_path):
    path = write_csv(tmp_path / "s.csv", with_cell(4, "fu_days", "-3"))
    with pytest.raises(InputError, match="negative") as e:
        read_series(path, MAPPING)
    check_error(e, path, "fu_days", 5, "-3")


def test_non_numeric_covariate(tmp_path):
    path = write_csv(tmp_path / "s.csv", with_cell(2, "age_at_dx", "forty"))
    with pytest.raises(InputError, match="not a number") as e:
        read_series(path, MAPPING)
    check_error(e, path, "age_at_dx", 3, "forty")


def test_unknown_covariate_level(tmp_path):
    path = write_csv(tmp_path / "s.csv", with_cell(0, "grade", "4"))
    with pytest.raises(InputError, match="unknown 'grade' code") as e:
        read_series(path, MAPPING)
    check_error(e, path, "grade", 1, "4")


def test_duplicated_and_empty_ids(tmp_path):
    path = write_csv(tmp_path / "s.csv", with_cell(3, "case_no", "A2"))
    with pytest.raises(InputError, match="duplicated patient id") as e:
        read_series(path, MAPPING)
    check_error(e, path, "case_no", 4, "A2")
    path = write_csv(tmp_path / "t.csv", with_cell(1, "case_no", ""))
    with pytest.raises(InputError, match="empty patient id") as e:
        read_series(path, MAPPING)
    check_error(e, path, "case_no", 2, "")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="no such file") as e:
        read_series(tmp_path / "absent.csv", MAPPING)
    assert e.value.file == str(tmp_path / "absent.csv")
    path = write_csv(tmp_path / "s.csv", [])
    with pytest.raises(InputError, match="no data rows"):
        read_series(path, MAPPING)


# ---- bad mappings --------------------------------------------------------------------------------


def mutated(**changes):
    m = copy.deepcopy(MAPPING)
    for dotted, value in changes.items():
        node = m
        *parents, last = dotted.split("__")
        for p in parents:
            node = node[p]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return m


@pytest.mark.parametrize(
    ("changes", "column", "message"),
    [
        ({"id": None}, "mapping", "needs 'id'"),
        ({"time": {"column": "fu_days", "unit": "fortnights"}}, "time", "unit 'fortnights'"),
        ({"event__of_interest": "relapse"}, "event", "'relapse' is not a value of 'codes'"),
        ({"event__competing": ["local"]}, "event", "neither censored, of interest nor competing"),
        ({"event__competing": ["local", "death", "local"]}, "event", "listed twice"),
        ({"exposure__reference": "pN2"}, "exposure", "reference 'pN2'"),
        ({"exposure__levels": []}, "exposure", "has no levels"),
        ({"exposure__derived": {"g": {"a": ["pN0(i-)"], "b": ["pN0(i+)"]}}},
         "exposure.derived.g", "exactly once"),
        ({"exposure__derived": {"g": {"a": ["pN0"]}}}, "exposure.derived.g", "not exposure labels"),
        ({"covariates__age": {"column": "age_at_dx", "type": "date"}}, "covariates.age", "'date'"),
        ({"covariates__grade": {"column": "grade", "type": "categorical"}}, "covariates.grade",
         "needs 'levels'"),
        ({"covariates__er": {"column": "er", "levels": ["pos"], "reference": "neg"}},
         "covariates.er", "reference 'neg'"),
    ],
)
def test_bad_mapping(csv, changes, column, message):
    with pytest.raises(InputError, match="bad series mapping") as e:
        read_series(csv, mutated(**changes))
    assert e.value.column == column
    assert message in str(e.value)


def test_mapping_object_round_trip():
    m = SeriesMapping.from_dict(MAPPING)
    assert SeriesMapping.from_dict(m) is m
    assert m.event_numbers == {"censored": 0, "distant": 1, "local": 2, "death": 3}
    assert m.columns == ["case_no", "fu_days", "first_event", "nodal_status", "age_at_dx",
                         "grade", "er"]


def test_combine_levels_rejects_an_unplaced_level():
    s = pd.Series(pd.Categorical(["a", "b", "c"]), name="g")
    out = combine_levels(s, {"A": ["a"], "BC": ["b", "c"]})
    assert out.tolist() == ["A", "BC", "BC"] and list(out.cat.categories) == ["A", "BC"]
    with pytest.raises(InputError, match="not placed") as e:
        combine_levels(s, {"A": ["a"], "B": ["b"]})
    assert e.value.row == 2 and e.value.value == "c"


# ---- sources: a CSV path or synthetic://nanomet -----------------------------------------------


def test_source_path_and_read_source(tmp_path, csv):
    from micromet.series import read_source, source_path

    assert source_path(str(csv)) == csv
    d = read_source(str(csv), MAPPING)
    assert len(d) == 5 and d.attrs["synthetic"] is False
    with pytest.raises(InputError, match="data file not found") as e:
        source_path(str(tmp_path / "absent.csv"))
    assert e.value.column == "source"
    with pytest.raises(InputError, match="unknown source"):
        source_path("synthetic://seer_m0i?seed=1")
    with pytest.raises(InputError, match="unknown source"):
        source_path("https://example.org/x.csv")
    p1 = source_path("synthetic://nanomet?seed=3", cache_dir=tmp_path)
    p2 = source_path("synthetic://nanomet", seed=3, cache_dir=tmp_path)
    p3 = source_path("synthetic://nanomet?seed=3&loss_rate_per_year=0.02", cache_dir=tmp_path)
    assert p1 == p2 != p3
    assert p1.parent.parent == tmp_path and len(pd.read_csv(p3)) == 702
