"""Cumulative incidence (Aalen-Johansen) with its variance, as ``cmprsk::cuminc``, and its value at fixed times.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from micromet.competing.data import _events, _labels, _times
from micromet.competing.gray import _gray_table
from micromet.errors import InputError


def _tie_factor(d: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Gray's tie correction 1 - (d-1)/(r-1), 1 for single events."""
    with np.errstate(divide="ignore", invalid="ignore"):
        c = 1.0 - (d - 1.0) / (r - 1.0)
    return np.where(d <= 1, 1.0, c)


def _cif_one(t: np.ndarray, e: np.ndarray, cause: int):
    """Aalen-Johansen CIF and Gray variance of one cause in one group (METHODS 3.1-3.2).

    ``t`` is sorted. Returns the distinct times with a ``cause`` event, F there, Var F there,
    and the largest follow-up time.
    """
    ut, start, counts = np.unique(t, return_index=True, return_counts=True)
    n = len(t)
    r = (n - start).astype(float)  # at risk: T >= t
    d1 = np.add.reduceat((e == cause).astype(float), start) if n else np.zeros(0)
    dall = np.add.reduceat((e != 0).astype(float), start) if n else np.zeros(0)
    d2 = dall - d1
    keep = dall > 0
    ut, r, d1, d2, dall = ut[keep], r[keep], d1[keep], d2[keep], dall[keep]
    factor = (r - dall) / r
    s_after = np.cumprod(factor)
    s_before = np.concatenate(([1.0], s_after[:-1]))
    f = np.cumsum(s_before * d1 / r)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_s = np.where(s_after > 0, 1.0 / s_after, 0.0)
        # other-cause part
        use2 = (d2 > 0) & (s_after > 0)
        a2 = np.where(use2, s_before**2 * _tie_factor(d2, r) * d2 / r**2, 0.0)
        t4o = f * inv_s
        # cause-of-interest part
        use1 = d1 > 0
        a1 = np.where(use1, s_before**2 * _tie_factor(d1, r) * d1 / r**2, 0.0)
        t4c = 1.0 + inv_s * f
    # interleave (other, cause) per time so the running sums add in Fortran's order
    def run(x_other, x_cause):
        inter = np.empty(2 * len(x_other))
        inter[0::2] = np.where(use2, x_other, 0.0)
        inter[1::2] = np.where(use1, x_cause, 0.0)
        return np.cumsum(inter)[1::2]

    v1 = run(t4o**2 * a2, t4c**2 * a1)
    v2 = run(inv_s * t4o * a2, inv_s * t4c * a1)
    v3 = run(inv_s**2 * a2, inv_s**2 * a1)
    var = v1 + f**2 * v3 - 2.0 * f * v2
    tmax = t[-1] if n else np.nan
    return ut[use1], f[use1], var[use1], tmax


def cuminc(
    data: pd.DataFrame,
    duration: str,
    event: str,
    group: str | None = None,
    strata: str | None = None,
    *,
    rho: float = 0.0,
    layout: str = "steps",
) -> pd.DataFrame:
    """Cumulative incidence per group and cause, as ``cmprsk::cuminc`` (METHODS 3.1-3.2).

    Returns a DataFrame with columns ``group, cause, time, estimate, variance``. The curves come in
    cmprsk's order (cause outer, group inner). ``layout="steps"`` (default) is cmprsk's duplicated-
    corner layout, which a line plot draws as the step function: time = 0, t1, t1, t2, t2, ..., tK,
    tK, T_max with estimate 0, 0, F1, F1, F2, ..., FK, FK (T_max = the group's last follow-up).
    ``layout="jumps"`` gives one row at time 0 and one per event time of the cause (right-continuous
    values), plus a last row at T_max when it is later than the last event. Without ``group``
    the group is labelled ``"all"``. Gray's tests for every cause (by
    ``group``, with ``strata`` and ``rho``) are in ``result.attrs["tests"]`` (see :func:`gray_tests`).
    Exactly deterministic with ties (unlike lifelines' AalenJohansenFitter, which jitters them).
    """
    if layout not in ("steps", "jumps"):
        raise InputError(f"layout must be 'steps' or 'jumps', not {layout!r}")
    t = _times(data, duration)
    e = _events(data, event)
    g, glevels = _labels(data, group)
    causes = sorted(int(c) for c in np.unique(e[e != 0]))
    order = np.argsort(t, kind="stable")
    t, e, g = t[order], e[order], g[order]
    pieces = []
    for cause in causes:
        for k, glabel in enumerate(glevels):
            m = g == k
            if not m.any():
                continue
            times, est, var, tmax = _cif_one(t[m], e[m], cause)
            if layout == "steps":
                tt = np.concatenate(([0.0], np.repeat(times, 2), [tmax]))
                ee = np.concatenate(([0.0, 0.0], np.repeat(est, 2)))
                vv = np.concatenate(([0.0, 0.0], np.repeat(var, 2)))
            else:
                extra = tmax > (times[-1] if len(times) else 0.0)
                ee = np.concatenate(([0.0], est))
                vv = np.concatenate(([0.0], var))
                tt = np.concatenate(([0.0], times, [tmax] if extra else []))
                ee = np.concatenate((ee, ee[-1:] if extra else []))
                vv = np.concatenate((vv, vv[-1:] if extra else []))
            pieces.append(
                pd.DataFrame(
                    {
                        "group": [glabel] * len(tt),
                        "cause": cause,
                        "time": tt,
                        "estimate": ee,
                        "variance": vv,
                        "_tmax": tmax,
                    }
                )
            )
    if pieces:
        out = pd.concat(pieces, ignore_index=True)
    else:
        out = pd.DataFrame(columns=["group", "cause", "time", "estimate", "variance", "_tmax"])
    tmax_of = {(gr, c): v for (gr, c), v in out.groupby(["group", "cause"], sort=False)["_tmax"]
               .first().items()}
    out = out.drop(columns="_tmax")
    out.attrs["layout"] = layout
    out.attrs["last_time"] = tmax_of
    if group is not None and len(np.unique(g)) > 1:
        out.attrs["tests"] = _gray_table(t, e, g, len(glevels), causes, data, strata, order, rho)
    return out


def timepoints(ci: pd.DataFrame, times) -> pd.DataFrame:
    """Estimates and variances of a :func:`cuminc` frame at ``times``, as ``cmprsk::timepoints``.

    Right-continuous step values; NaN (R's NA) for a time below 0 or beyond the group's last
    follow-up time. Returns a long DataFrame: ``group, cause, time, estimate, variance``
    (pivot it for R's curves x times matrices).
    """
    times = np.atleast_1d(np.asarray(times, dtype=float))
    last = ci.attrs.get("last_time", {})
    rows = []
    for (gr, cause), cur in ci.groupby(["group", "cause"], sort=False):
        ct = cur["time"].to_numpy(dtype=float)
        tmax = last.get((gr, cause), ct[-1] if len(ct) else np.nan)
        idx = np.searchsorted(ct, times, side="right") - 1
        ok = (times >= 0) & (times <= tmax) & (idx >= 0)
        est = np.where(ok, cur["estimate"].to_numpy()[np.clip(idx, 0, None)], np.nan)
        var = np.where(ok, cur["variance"].to_numpy()[np.clip(idx, 0, None)], np.nan)
        rows.append(pd.DataFrame({"group": [gr] * len(times), "cause": cause, "time": times,
                                  "estimate": est, "variance": var}))
    if not rows:
        return pd.DataFrame(columns=["group", "cause", "time", "estimate", "variance"])
    return pd.concat(rows, ignore_index=True)
