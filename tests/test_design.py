import numpy as np
import pandas as pd
import pytest

from micromet.design import aliased_columns, design_matrix, monotone_terms
from micromet.errors import InputError


def _frame():
    return pd.DataFrame(
        {
            "age": [50.0, 60, 70, 40, 55, 65],
            "her2": ["Negative", "Positive", "Positive", "Negative", "Negative", "Positive"],
            "subtype": ["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-", "HR+/HER2-", "HR+/HER2+"],
            "flag": [True, False, True, False, True, False],
        },
        index=[10, 11, 12, 13, 14, 15],
    )


def test_treatment_coding_names_and_reference():
    d = design_matrix(_frame(), ["age", "flag"])
    assert d.terms == ["age", "flag[True]"]
    assert d.reference == {"flag": False}
    assert list(d.X.index) == [10, 11, 12, 13, 14, 15]


def test_categorical_order_sets_reference():
    df = _frame()
    df["subtype"] = pd.Categorical(df["subtype"], ["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-"])
    d = design_matrix(df, ["subtype"])
    assert d.reference["subtype"] == "HR+/HER2-"
    assert d.terms == ["subtype[HR+/HER2+]", "subtype[HR-/HER2+]", "subtype[HR-/HER2-]"]


def test_her2_makes_later_subtype_dummy_aliased_like_glm():
    df = _frame()
    df["subtype"] = pd.Categorical(df["subtype"], ["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-"])
    d = design_matrix(df, ["her2", "subtype"])
    # her2[Positive] = subtype[HR+/HER2+] + subtype[HR-/HER2+]: glm reports the later one as NA
    assert d.aliased == ["subtype[HR-/HER2+]"]
    assert "subtype[HR-/HER2+]" not in d.terms


def test_constant_column_is_dropped_and_reported():
    df = _frame().assign(one=1.0)
    d = design_matrix(df, ["age", "one"])
    assert d.constant == ["one"]
    assert d.terms == ["age"]


def test_missing_value_names_column_and_row():
    df = _frame()
    df.loc[13, "age"] = np.nan
    with pytest.raises(InputError, match=r"column 'age', row 13"):
        design_matrix(df, ["age"])


def test_unknown_covariate():
    with pytest.raises(InputError, match="column 'nope'"):
        design_matrix(_frame(), ["nope"])


def test_aliased_columns_exact_combination():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=50), rng.normal(size=50)
    X = np.column_stack([a, b, 2 * a - b, rng.normal(size=50)])
    assert aliased_columns(X) == [2]


def test_monotone_terms():
    X = pd.DataFrame({"x[1]": [0, 0, 1, 1, 0], "z": [0.1, 0.2, 0.3, 0.4, 0.5]})
    out = monotone_terms(X, [1, 1, 0, 0, 0])
    assert out == {"x[1]": "not estimable: no events among patients with x[1] (n = 2)"}
    out = monotone_terms(X, [0, 0, 1, 1, 0])
    assert "all events are among patients with x[1]" in out["x[1]"]
