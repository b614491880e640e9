"""Kaplan-Meier as ``survival::survfit`` (log, log-log and plain limits), medians as
``print(survfit)``, survival at fixed times, reverse-KM follow-up, numbers at risk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from micromet.errors import InputError
from micromet.survival.data import (
    TIMEFIX_TOL,
    Z975,
    _codes,
    _durations,
    _events,
    _labels_column,
    _require_columns,
    timefix,
)

CONF_TYPES = ("log", "log-log", "plain")


def _confidence(surv, sigma, conf_type):
    """survfit's pointwise limits from S and the Greenwood se of log S (``std.err``)."""
    if conf_type not in CONF_TYPES:
        raise InputError(f"conf_type must be one of {', '.join(CONF_TYPES)}", value=conf_type)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if conf_type == "log":
            lower = np.where(surv > 0, surv * np.exp(-Z975 * sigma), np.nan)
            upper = np.where(surv > 0, np.minimum(surv * np.exp(Z975 * sigma), 1.0), np.nan)
        elif conf_type == "plain":
            half = Z975 * sigma * surv
            lower = np.clip(surv - half, 0.0, 1.0)
            upper = np.clip(surv + half, 0.0, 1.0)
        else:  # log-log: symmetric on log(-log S); S = 1 gives 1, S = 0 gives NaN
            special = (surv == 0) | (surv == 1)
            fill = np.where(surv == 0, np.nan, 1.0)
            xx = np.where(special, 0.1, surv)
            shift = Z975 * sigma / np.log(xx)
            lower = np.where(special, fill, np.exp(-np.exp(np.log(-np.log(xx)) - shift)))
            upper = np.where(special, fill, np.exp(-np.exp(np.log(-np.log(xx)) + shift)))
    return lower, upper


def _km_one(t, d, conf_type="log"):
    times, inv = np.unique(t, return_inverse=True)
    n_event = np.bincount(inv, weights=d, minlength=len(times))
    n_total = np.bincount(inv, minlength=len(times)).astype(float)
    n_censor = n_total - n_event
    n_risk = np.cumsum(n_total[::-1])[::-1]
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    sigma = np.sqrt(np.cumsum(inc))  # Greenwood se of log S (survfit's std.err)
    lower, upper = _confidence(surv, sigma, conf_type)
    with np.errstate(invalid="ignore", over="ignore"):
        se = surv * sigma
    return pd.DataFrame(
        {
            "time": times,
            "n_risk": n_risk.astype(np.int64),
            "n_event": n_event.astype(np.int64),
            "n_censor": n_censor.astype(np.int64),
            "survival": surv,
            "se": se,
            "lower": lower,
            "upper": upper,
        }
    )


def km(data, duration, event, group=None, *, conf_type: str = "log") -> pd.DataFrame:
    """Kaplan-Meier table; = ``survfit(Surv(duration, event != 0) ~ group, conf.type=)``.

    One row per distinct time (per group): time, n_risk, n_event, n_censor, survival, se
    (Greenwood standard error of S, as ``summary.survfit`` prints ``std.err``), and the 95%
    limits of ``conf_type``: "log" (survfit's default, ``S exp(-/+1.96 sigma)`` cut at 1, sigma
    the Greenwood se of log S; NaN where S = 0), "log-log" (symmetric on log(-log S)) or
    "plain" (``S -/+ 1.96 S sigma`` within [0, 1]). With ``group`` the first column is the group.
    """
    _require_columns(data, [duration, event, group])
    t = timefix(_durations(data, duration))
    d = _events(data, event)
    if group is None:
        return _km_one(t, d, conf_type)
    g, levels = _codes(_labels_column(data, group, "group"))
    parts = []
    for i, lv in enumerate(levels):
        part = _km_one(t[g == i], d[g == i], conf_type)
        part.insert(0, "group", lv)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out.attrs["group"] = group
    out.attrs["levels"] = levels
    return out


def km_median(data, duration, event, group=None, *, conf_type: str = "log") -> pd.DataFrame:
    """Median survival with its 95% confidence interval, per group; = ``print(survfit(...))``.

    Columns n, events, median, lower, upper (NaN: "not reached"). The median is the first time
    at which S falls to 0.5 or below; where S equals 0.5 exactly over an interval, the midpoint
    of that interval (survfit's rule). The limits are the same quantities of the lower and upper
    confidence curves (``conf_type`` as in :func:`km`)."""
    table = km(data, duration, event, group, conf_type=conf_type)
    pieces = ([(g, table[table["group"] == g]) for g in table.attrs.get("levels", [])]
              if group is not None else [(None, table)])
    rows = []
    for g, tab in pieces:
        times = tab["time"].to_numpy(dtype=float)
        row = {} if g is None else {"group": g}
        row.update(n=int(tab["n_risk"].iloc[0]) if len(tab) else 0,
                   events=int(tab["n_event"].sum()),
                   median=_quantile_time(times, tab["survival"].to_numpy(dtype=float)),
                   lower=_quantile_time(times, tab["lower"].to_numpy(dtype=float)),
                   upper=_quantile_time(times, tab["upper"].to_numpy(dtype=float)))
        rows.append(row)
    return pd.DataFrame(rows)


def _quantile_time(times, curve, p: float = 0.5) -> float:
    """First time the step curve reaches ``p`` or below; the midpoint to the next step where it
    sits exactly at ``p`` (within survfit's tolerance); NaN if never."""
    tol = np.sqrt(np.finfo(float).eps)
    curve = np.where(np.isnan(curve), np.inf, curve)  # no limit: the curve has not reached p
    below = np.flatnonzero(curve <= p + tol)
    if len(below) == 0:
        return float("nan")
    k = below[0]
    if abs(curve[k] - p) < tol:
        later = np.flatnonzero((np.arange(len(curve)) > k) & (curve < curve[k] - tol))
        if len(later):
            return float((times[k] + times[later[0]]) / 2)
    return float(times[k])


def survival_at(km_table: pd.DataFrame, times=(12, 36, 60)) -> pd.DataFrame:
    """Survival at given times from a :func:`km` table; = ``summary(survfit(...), times=)``.

    Per group and time: survival, se, lower, upper of the last step at or before the time,
    n_risk at the time and n_event since the previous requested time. Times after the last
    follow-up of a group give NaN (R's summary drops them).
    """
    times = np.asarray(list(times), dtype=float)
    if "group" in km_table.columns:
        groups = km_table.attrs.get("levels") or list(pd.unique(km_table["group"]))
        pieces = [(g, km_table[km_table["group"] == g]) for g in groups]
    else:
        pieces = [(None, km_table)]
    rows = []
    for g, tab in pieces:
        tt = tab["time"].to_numpy()
        total = int(tab["n_risk"].iloc[0]) if len(tab) else 0
        prev_events = 0
        cum_events = np.cumsum(tab["n_event"].to_numpy())
        for x in times:
            i = np.searchsorted(tt, x, side="right") - 1  # last time <= x
            j = np.searchsorted(tt, x, side="left")  # first time >= x
            beyond = len(tt) == 0 or x > tt[-1]
            row = {"time": x}
            if g is not None:
                row = {"group": g, **row}
            if beyond:
                row.update(n_risk=0, n_event=np.nan, survival=np.nan, se=np.nan,
                           lower=np.nan, upper=np.nan)
            else:
                ev = int(cum_events[i]) if i >= 0 else 0
                row["n_risk"] = int(tab["n_risk"].iloc[j]) if j < len(tt) else 0
                row["n_event"] = ev - prev_events
                prev_events = ev
                if i < 0:
                    row.update(survival=1.0, se=0.0, lower=1.0, upper=1.0)
                    row["n_risk"] = total
                else:
                    rec = tab.iloc[i]
                    row.update(survival=rec["survival"], se=rec["se"], lower=rec["lower"],
                               upper=rec["upper"])
            rows.append(row)
    return pd.DataFrame(rows)


def _quantile_from_curve(times, surv, q):
    """survfit's quantile: the first time with S < 1 - q; when S equals 1 - q (within
    sqrt(eps)) on a stretch of the curve, the midpoint of the first time of that stretch and
    the time after it (the stretch's last time when the curve ends there)."""
    target = 1 - q
    hit = np.flatnonzero(np.abs(surv - target) < TIMEFIX_TOL)
    if len(hit):
        i0, i1 = hit[0], hit[-1]
        after = i1 + 1 if i1 + 1 < len(times) else i1
        return 0.5 * (float(times[i0]) + float(times[after]))
    below = np.flatnonzero(surv < target)
    return float(times[below[0]]) if len(below) else float("nan")


@dataclass
class FollowUp:
    """Median follow-up (reverse Kaplan-Meier) with its interquartile range and the maximum."""

    median: float
    q1: float
    q3: float
    maximum: float
    n: int

    def __str__(self):
        return f"{self.median:g} ({self.q1:g}-{self.q3:g})"


def median_followup(data, duration, event) -> FollowUp:
    """Median follow-up by the reverse Kaplan-Meier method (censoring is the "event"), with IQR;
    = ``quantile(survfit(Surv(time, status == 0) ~ 1), c(.25, .5, .75))``."""
    _require_columns(data, [duration, event])
    t = timefix(_durations(data, duration))
    d = _events(data, event)
    tab = _km_one(t, 1.0 - d)
    tt, ss = tab["time"].to_numpy(), tab["survival"].to_numpy()
    return FollowUp(
        median=_quantile_from_curve(tt, ss, 0.5),
        q1=_quantile_from_curve(tt, ss, 0.25),
        q3=_quantile_from_curve(tt, ss, 0.75),
        maximum=float(t.max()) if len(t) else float("nan"),
        n=len(t),
    )


def numbers_at_risk(data, duration, event, group=None, times=(0, 12, 24, 36, 48, 60)):
    """Number still at risk (follow-up time >= t) per group at each of ``times``.

    Returns a DataFrame: index = group level (or "All"), columns = times.
    """
    _require_columns(data, [duration, event, group])
    t = timefix(_durations(data, duration))
    _events(data, event)
    times = list(times)
    if group is None:
        st = np.sort(t)
        counts = [[len(st) - np.searchsorted(st, x, side="left") for x in times]]
        return pd.DataFrame(counts, index=pd.Index(["All"], name="group"), columns=times)
    g, levels = _codes(_labels_column(data, group, "group"))
    rows = []
    for i in range(len(levels)):
        st = np.sort(t[g == i])
        rows.append([len(st) - np.searchsorted(st, x, side="left") for x in times])
    return pd.DataFrame(rows, index=pd.Index(levels, name=group), columns=times)
