"""Competing risks: cumulative incidence, Gray's test and Fine-Gray regression, as cmprsk does them.

* :func:`cuminc` agrees with ``cmprsk::cuminc`` (Aalen-Johansen estimate per group and cause, Gray's
  1988 delta-method variance with its tie corrections; METHODS 3.1-3.2), :func:`timepoints` with
  ``cmprsk::timepoints`` (3.3), :func:`gray_test` and :func:`gray_tests` with ``cuminc(...)$Tests``
  (Gray's K-sample test, strata summed, any ``rho``; 3.4).
* :func:`fine_gray` agrees with ``cmprsk::crr`` (METHODS 2): inverse-probability-of-censoring weights
  from the censoring Kaplan-Meier at ``T-`` (failures kept in the censoring risk set at tied times),
  Breslow ties, crr's Newton path and stopping rule, and its sandwich variance including the term for
  the estimation of the censoring distribution. It costs O(n log n): risk-set sums are running sums
  over the sorted data (METHODS 5), never sums over pairs of subjects. Unlike crr, whose variance
  overflows 32-bit integers above 46,340 subjects at risk, the variance here is right at any size.
* :func:`fine_gray_weighted` (case weights, cluster-robust variance) agrees with ``coxph`` on
  ``survival::finegray`` data (``weights = fgwt * w, cluster = id``), not with crr.
* :func:`predict_cif` agrees with ``predict.crr``. The uni- and multivariable table of a paper
  (Table 4) is built by :func:`micromet.analyses.screen_and_fit` and
  :func:`micromet.analyses.format_models`, as Cox's Table 3 is.

``event`` codes follow cmprsk: 0 censored, 1, 2, ... causes; for Fine-Gray every code other than 0
and ``cause`` is a competing event.
"""

from __future__ import annotations

from micromet.competing.cuminc import (  # noqa: F401
    _cif_one,
    _tie_factor,
    cuminc,
    timepoints,
)
from micromet.competing.data import (  # noqa: F401
    ALL_GROUP,
    Z975,
    _column,
    _events,
    _first_bad,
    _labels,
    _times,
)
from micromet.competing.finegray import (  # noqa: F401
    FineGrayResult,
    _by_reason,
    _diverging,
    _fg_eval,
    _fg_variance,
    _FGData,
    _Fit,
    _init_for,
    _newdata_matrix,
    _newton,
    _wald_table,
    fine_gray,
    predict_cif,
)
from micromet.competing.gray import (  # noqa: F401
    GrayTestResult,
    _gray_core,
    _gray_inputs,
    _gray_stratum,
    _gray_table,
    _rank,
    gray_test,
    gray_tests,
)
from micromet.competing.weighted import (  # noqa: F401
    WeightedFineGrayResult,
    fine_gray_weighted,
)

__all__ = [
    "cuminc",
    "timepoints",
    "gray_test",
    "gray_tests",
    "GrayTestResult",
    "fine_gray",
    "FineGrayResult",
    "predict_cif",
    "fine_gray_weighted",
]

