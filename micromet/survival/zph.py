"""The proportional-hazards test of ``survival::cox.zph`` (scaled Schoenfeld residuals).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from micromet.errors import InputError
from micromet.survival.cox import CoxResult, cox
from micromet.survival.coxfit import _cox_pass
from micromet.survival.km import _km_one


@dataclass
class PHTestResult:
    """Result of :func:`ph_test`; ``table`` = ``cox.zph(fit)$table``: index = covariate and
    "GLOBAL", columns chisq, df, p."""

    table: pd.DataFrame
    transform: str


def _time_transform(time, status, transform):
    if transform == "identity":
        return time.astype(float)
    if transform == "log":
        return np.log(time)
    if transform == "rank":
        return stats.rankdata(time)
    if transform == "km":
        tab = _km_one(time, status)
        # left-continuous Kaplan-Meier of all the data (strata and weights ignored, as in R)
        i = np.searchsorted(tab["time"].to_numpy(), time, side="left")
        return 1.0 - np.r_[1.0, tab["survival"].to_numpy()][i]
    raise InputError(f"transform must be 'km', 'identity', 'rank' or 'log', not {transform!r}")


def ph_test(fit, *args, transform: str = "km", **kwargs) -> PHTestResult:
    """Test of proportional hazards; = ``cox.zph(fit, transform = "km")`` of survival 3.x.

    ``fit`` is a :class:`CoxResult` (further positional arguments are then ignored), or pass
    the arguments of :func:`cox` instead (``ph_test(data, duration, event, covariates, ...)``). For each covariate (all its
    dummies together) the score test of adding ``x * g(t)`` at the fitted coefficients, with
    ``g(t) = 1 - KM(t-)`` centred on its mean over the events ("km", the default; also
    "identity", "rank", "log"); "GLOBAL" tests all terms together. Efron or Breslow ties,
    weights and strata as in the fit; the model-based information is used even for robust fits.
    """
    if not isinstance(fit, CoxResult):
        fit = cox(fit, *args, **kwargs)
    m = fit._model
    rs, X, beta, terms = m["rs"], m["X"], m["beta"], m["terms"]
    if not terms:
        raise InputError("the Cox model has no estimable term to test")
    time = m["time"]
    status = rs.status
    tt = _time_transform(time, status, transform)
    gtime = tt - tt[status > 0].mean()
    g_block = np.zeros(rs.nb)
    g_block[rs.block] = gtime
    p = len(terms)
    with np.errstate(all="ignore"):
        ps = _cox_pass(rs, X, beta, keep=True)
        sb, f, wbar, s0, xbar = rs.sub_block, rs.frac, rs.wbar, ps.s0, ps.xbar
        r = ps.risk

        def info(c):  # sum over deaths of c(t) * wbar * (s2/s0 - xbar xbar')
            h = np.bincount(sb, weights=c[sb] * wbar / s0, minlength=rs.nb)
            h_own = np.bincount(sb, weights=c[sb] * wbar * f / s0, minlength=rs.nb)
            H = rs.fwd_cumsum(h)[rs.block] - status * h_own[rs.block]
            return (X * (r * H)[:, None]).T @ X - (xbar * (c[sb] * wbar)[:, None]).T @ xbar

        # score of the x * g(t) terms: sum over deaths of g(t) (x_i - xbar)
        contrib = rs.block_sum(X * (rs.w * status)[:, None])
        for j in range(p):
            contrib[:, j] -= np.bincount(sb, weights=wbar * xbar[:, j], minlength=rs.nb)
        u = g_block @ contrib
        ones = np.ones(rs.nb)
        i11, i12, i22 = info(ones), info(g_block), info(g_block**2)
    imat = np.block([[i11, i12], [i12.T, i22]])
    covs = list(dict.fromkeys(fit.covariate_of[t] for t in terms))
    rows = []
    for cov in covs:
        jj = [j for j, t in enumerate(terms) if fit.covariate_of[t] == cov]
        kk = list(range(p)) + [p + j for j in jj]
        uu = np.r_[np.zeros(p), u[jj]]
        rows.append((cov, float(uu @ np.linalg.solve(imat[np.ix_(kk, kk)], uu)), len(jj)))
    uu = np.r_[np.zeros(p), u]
    rows.append(("GLOBAL", float(uu @ np.linalg.solve(imat, uu)), p))
    table = pd.DataFrame(rows, columns=["term", "chisq", "df"]).set_index("term")
    table["p"] = stats.chi2.sf(table["chisq"], table["df"])
    return PHTestResult(table=table, transform=transform)
