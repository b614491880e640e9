"""Inputs of the competing-risks functions: times, event codes and groups, checked and named.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from micromet.design import (
    levels_of,
)
from micromet.errors import InputError

ALL_GROUP = "all"  # the group label of cuminc without groups (cmprsk names it "1")


def _column(data: pd.DataFrame, name: str) -> pd.Series:
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if name not in data.columns:
        raise InputError(
            f"column not in the data (columns are: {', '.join(map(str, data.columns))})",
            column=name,
        )
    return data[name]


def _first_bad(series: pd.Series, bad: np.ndarray, column: str, message: str) -> None:
    if bad.any():
        row = series.index[int(np.argmax(bad))]
        value = series.loc[row]
        raise InputError(
            f"{message} ({int(bad.sum())} rows)",
            column=column,
            row=row,
            value=None if (not isinstance(value, str) and pd.isna(value)) else value,
        )


def _times(data: pd.DataFrame, duration: str) -> np.ndarray:
    s = _column(data, duration)
    if pd.api.types.is_bool_dtype(s.dtype):
        _first_bad(s, np.ones(len(s), bool), duration, "follow-up time must be numeric")
    num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    _first_bad(s, s.isna().to_numpy(), duration, "missing follow-up time")
    _first_bad(s, ~np.isfinite(num), duration, "follow-up time is not a finite number")
    _first_bad(s, num < 0, duration, "negative follow-up time")
    return num


def _events(data: pd.DataFrame, event: str) -> np.ndarray:
    s = _column(data, event)
    if pd.api.types.is_bool_dtype(s.dtype):
        _first_bad(s, np.ones(len(s), bool), event,
                   "event must be an integer code (0 censored, 1, 2, ... causes)")
    num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    _first_bad(s, s.isna().to_numpy(), event, "missing event code")
    _first_bad(s, ~np.isfinite(num), event,
               "event must be an integer code (0 censored, 1, 2, ... causes)")
    _first_bad(s, num != np.round(num), event,
               "event code is not an integer (0 censored, 1, 2, ... causes)")
    _first_bad(s, num < 0, event, "negative event code (0 censored, 1, 2, ... causes)")
    return num.astype(np.int64)


def _labels(data: pd.DataFrame, name: str | None) -> tuple[np.ndarray, list]:
    """Integer codes 0..K-1 of a grouping column in model order, and its levels."""
    if name is None:
        return np.zeros(len(data), dtype=np.int64), [ALL_GROUP]
    s = _column(data, name)
    _first_bad(s, s.isna().to_numpy(), name, "missing group value")
    lv = levels_of(s)
    codes = pd.Categorical(s, categories=lv).codes.astype(np.int64)
    return codes, lv


Z975 = stats.norm.ppf(0.975)
