"""Inputs of the survival functions: column checks, event and time vectors (R's ``timefix``),
and the numerical constants of ``coxph``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from micromet.design import (
    is_categorical,
    levels_of,
)
from micromet.errors import InputError

EPS = 1e-9  # coxph.control(eps)


TOLER_CHOL = np.finfo(float).eps ** 0.75  # coxph.control(toler.chol)


TOLER_INF = np.sqrt(EPS)  # coxph.control(toler.inf)


ITER_MAX = 20  # coxph.control(iter.max)


TIMEFIX_TOL = np.sqrt(np.finfo(float).eps)


Z975 = stats.norm.ppf(0.975)


def _require_columns(data, columns):
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(data).__name__}")
    for col in columns:
        if col is not None and col not in data.columns:
            raise InputError(
                f"column not in the data (columns are: {', '.join(map(str, data.columns))})",
                column=col,
            )


def _numeric_column(data: pd.DataFrame, col: str, what: str) -> np.ndarray:
    s = data[col]
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=float)
    vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(vals)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            f"{what} must be a finite number ({int(bad.sum())} rows are not)",
            column=col,
            row=data.index[i],
            value=None if pd.isna(s.iloc[i]) else s.iloc[i],
        )
    return vals


def _durations(data, col) -> np.ndarray:
    t = _numeric_column(data, col, "the follow-up time")
    neg = t < 0
    if neg.any():
        i = int(np.argmax(neg))
        raise InputError(
            "the follow-up time must not be negative", column=col, row=data.index[i], value=t[i]
        )
    return t


def _events(data, col) -> np.ndarray:
    """Event indicator: any non-zero value is an event (R's Surv with status 0/1 or 0/1/2...)."""
    e = _numeric_column(data, col, "the event indicator")
    neg = e < 0
    if neg.any():
        i = int(np.argmax(neg))
        raise InputError(
            "the event indicator must be 0 (censored) or a positive code",
            column=col,
            row=data.index[i],
            value=e[i],
        )
    present = set(np.unique(e[np.isfinite(e)]).tolist())
    if present == {1.0, 2.0}:
        # R's Surv() reads a status of only 1s and 2s as 1 = censored, 2 = event; counting
        # every row as an event (any non-zero) would be silently wrong, and guessing either
        # way could be: ask for 0/1
        raise InputError(
            "the event indicator holds only 1 and 2: R's Surv() reads that as 1 = censored, "
            "2 = event, while here any non-zero is an event; recode it to 0 = censored, "
            "1 = event (or, for causes, 0 = censored, 1, 2, ... = cause)", column=col,
            value="1/2")
    return (e != 0).astype(float)


def _labels_column(data, col, what) -> np.ndarray:
    s = data[col]
    bad = s.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"missing {what}", column=col, row=data.index[i])
    return s.to_numpy()


def _codes(values) -> tuple[np.ndarray, list]:
    """Integer codes 0..k-1 of a label column, in R factor order (category order, else sorted)."""
    s = pd.Series(values)
    lv = levels_of(s) if is_categorical(s) else sorted(pd.unique(s).tolist())
    if isinstance(s.dtype, pd.CategoricalDtype):
        lv = [x for x in lv if (s == x).any()]
    code = pd.Categorical(s, categories=lv).codes.astype(np.int64)
    return code, lv


def timefix(times: np.ndarray) -> np.ndarray:
    """Make times that differ only by rounding error equal, as R's ``aeqSurv`` (timefix=TRUE).

    Sorted distinct times whose gap is at most ``sqrt(eps)``, absolutely or relative to the mean
    absolute time, are merged into the smaller one.
    """
    y = np.unique(times[np.isfinite(times)])
    if len(y) < 2:
        return times
    dy = np.diff(y)
    scale = np.mean(np.abs(y))
    tied = (dy <= TIMEFIX_TOL) | ((dy / scale if scale > 0 else dy) <= TIMEFIX_TOL)
    if not tied.any():
        return times
    cuts = y[np.concatenate([[True], ~tied])]
    idx = np.searchsorted(cuts, times, side="right") - 1
    return cuts[np.clip(idx, 0, len(cuts) - 1)]
