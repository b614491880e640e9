"""Overall survival: Kaplan-Meier, log-rank and Cox regression that agree with R's survival 3.5-3.

What agrees with what (checked against fixtures made by ``tests/reference/survival/make_survival.R``):

* :func:`logrank` = ``survdiff(Surv(time, status) ~ group + strata(s), rho = rho)``;
* :func:`cox` = ``coxph(Surv(time, status) ~ ..., ties = "efron"|"breslow", weights =, cluster =,
  strata =)``: the same Newton-Raphson (start at 0, step halving when the log-likelihood falls,
  converged when ``|1 - loglik_old / loglik_new| <= 1e-9``, at most 20 iterations), the same
  ``robust`` default (on with a cluster or with non-integer weights) and the same grouped
  dfbeta sandwich variance;
* :func:`km` = ``survfit(Surv(time, status) ~ group)`` with ``conf.type = "log"`` (survfit's
  default): ``lower, upper = S * exp(-/+ 1.96 * sigma)``, ``sigma`` the Greenwood standard error of
  ``log S``, the upper limit cut at 1; :func:`survival_at` = ``summary(fit, times = ...)``;
* :func:`median_followup` = ``quantile(survfit(Surv(time, 1 - status) ~ 1))`` (reverse
  Kaplan-Meier);
* :func:`ph_test` = ``cox.zph(fit, transform = "km")`` (survival 3.x score test for adding
  ``x * g(t)``).

Table 3 of study A (each covariate alone, then the multivariable model of the selected ones,
in the paper's layout) is built by :func:`micromet.analyses.screen_and_fit` and
:func:`micromet.analyses.format_models`, the same builder as Fine-Gray's Table 4.

Monotone likelihood (a level without events, a term that separates the events): the term is
reported as "not estimable: ..." (``CoxResult.not_estimable`` and a
:class:`~micromet.errors.NotEstimableWarning`), its row is NaN and the other terms are fitted
without it. :func:`separation_check` (before the fit) and :func:`diverging_terms` (after it) are
written so that Fine-Gray can use them too.

Times are made equal when they differ by less than ``sqrt(machine eps)`` (R's ``timefix = TRUE``).
``event`` may be any numeric or boolean column; every non-zero value is an event.

Every fit sorts the data once; each Newton iteration is a few cumulative sums over the sorted
rows plus one ``X' diag(v) X`` product, so the cost per iteration is O(n p^2) after an
O(n log n) sort. Tied deaths are handled in blocks (Efron's correction runs over the number of
deaths, never over pairs of rows).
"""

from __future__ import annotations

from micromet.survival.cox import (  # noqa: F401
    ON_SEPARATION,
    CoxResult,
    _coef_table,
    _firth_instead,
    _fit_terms,
    _prepare,
    _rev_cum_extreme,
    cox,
    diverging_terms,
    separation_check,
)
from micromet.survival.coxfit import (  # noqa: F401
    _cox_pass,
    _cox_pass_unguarded,
    _Fit,
    _ldl,
    _ldl_inverse,
    _ldl_solve,
    _newton,
    _Pass,
    _RiskSets,
    _score_residuals,
)
from micromet.survival.data import (  # noqa: F401
    EPS,
    ITER_MAX,
    TIMEFIX_TOL,
    TOLER_CHOL,
    TOLER_INF,
    Z975,
    _codes,
    _durations,
    _events,
    _labels_column,
    _numeric_column,
    _require_columns,
    timefix,
)
from micromet.survival.km import (  # noqa: F401
    CONF_TYPES,
    FollowUp,
    _confidence,
    _km_one,
    _quantile_from_curve,
    _quantile_time,
    km,
    km_median,
    median_followup,
    numbers_at_risk,
    survival_at,
)
from micromet.survival.logrank import (  # noqa: F401
    LogrankResult,
    logrank,
)
from micromet.survival.zph import (  # noqa: F401
    PHTestResult,
    _time_transform,
    ph_test,
)

__all__ = [
    "CoxResult", "FollowUp", "LogrankResult", "PHTestResult",
    "cox", "diverging_terms", "km", "logrank",
    "km_median", "median_followup", "numbers_at_risk", "ph_test",
    "separation_check",
    "survival_at", "timefix",
]

