"""Propensity-score matching and balance diagnostics with MatchIt's semantics.

``match`` agrees with R's ``MatchIt::matchit(method = "nearest", distance = "glm")`` as CRAN
MatchIt >= 4.5.4 computes it (METHODS.md section 1): the propensity model is a logistic
regression fitted like ``glm(family = binomial)`` (here converged fully, see ``fit_propensity``);
the distance is its linear predictor (``link = "linear.logit"``) or its fitted probability;
treated units are matched in rounds (every treated unit gets its first control before any gets a
second) in ``m.order``, each to the nearest available control in the sorted order of all units,
the left (lower) candidate winning an equal gap; the caliper is in standard deviations of the
distance over all units (``std.caliper = TRUE``) or absolute, and inclusive. Weights and
subclasses are MatchIt's ATT weights (``weights.matrix``) and pair subclasses.

``balance`` agrees with the ``sum.all`` / ``sum.matched`` tables of ``summary.matchit``
(``standardize = TRUE``, ATT) to rounding; ``balance_table`` puts the two side by side.

Nothing here is translated from MatchIt's code; it follows the formulas of METHODS.md.
"""

from __future__ import annotations

from micromet.matching.balance import (  # noqa: F401
    BALANCE_COLUMNS,
    BalanceTable,
    _balance_of,
    _balance_one,
    _ecdf_stats,
    _pooled_sd,
    _wvar,
    balance,
    balance_covariates,
    balance_table,
)
from micromet.matching.nearest import (  # noqa: F401
    ABS_MODES,
    M_ORDERS,
    SAMPLE_SIZE_ROWS,
    MatchResult,
    _check_names,
    _distance_values,
    _find,
    match,
    matching_weights,
    nearest_neighbor,
    sample_sizes,
)
from micromet.matching.propensity import (  # noqa: F401
    _BLOCK,
    GLM_EPSILON,
    GLM_MAXIT,
    SQRT_EPS,
    MatchingWarning,
    PropensityFit,
    Separation,
    _crossvec,
    _glm_deviance,
    _inverse_information,
    _irls,
    _linear_predictor,
    _max_separation,
    _separating_rows,
    _weighted_crossprod,
    fit_propensity,
    treatment_indicator,
)

__all__ = [
    "MatchingWarning",
    "treatment_indicator",
    "Separation",
    "PropensityFit",
    "fit_propensity",
    "nearest_neighbor",
    "matching_weights",
    "MatchResult",
    "sample_sizes",
    "match",
    "balance_covariates",
    "balance",
    "BalanceTable",
    "balance_table",
]
