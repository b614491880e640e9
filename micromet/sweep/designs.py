"""The designs a sweep compares: how the analysed set is made from the cohort.

A design is a function ``fn(data, treatment, covariates, study) -> DesignResult``: ``data`` the
cohort (one row per patient, ``treatment`` its 0/1 exposure indicator), ``covariates`` the
study's matching covariates, ``study`` the cell's :class:`~micromet.study.Study` (its
``matching`` section, its ``seed``). It returns the rows to analyse (with, for a weighting
design, a column of analysis weights) and the balance reached. Register one with
:func:`register_design`; ``matching`` is the study's own design (``micromet.matching.match`` as
chapter 2 calls it); ``iptw_att`` and ``overlap`` weight the whole cohort from the same
propensity model (``micromet.weighting``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from micromet.errors import InputError
from micromet.study import Study


@dataclass
class DesignResult:
    """What a design gives the models: ``data``, the analysed rows (the cohort's columns, the
    treatment indicator dropped); ``weights``, the column of ``data`` holding analysis weights
    (the Cox models are then weighted, :func:`micromet.sweep.cells.weighted_fitter`; the
    Fine-Gray model takes no weights), or None when the rows are analysed unweighted (matching,
    as the study's chapters do);
    ``max_abs_smd``, the largest |standardized mean difference| of the covariates after the
    design; ``info``, counts worth reporting (e.g. treated units left unmatched)."""

    data: pd.DataFrame
    weights: str | None
    max_abs_smd: float
    info: dict = field(default_factory=dict)


Design = Callable[[pd.DataFrame, str, list, Study], DesignResult]
DESIGNS: dict[str, Design] = {}


def register_design(name: str, fn: Design | None = None):
    """Register ``fn`` as the design ``name`` (usable as a decorator: ``@register_design("x")``).
    A name already taken is an error: a design's results are cached under its name."""
    def add(function: Design) -> Design:
        if name in DESIGNS and DESIGNS[name] is not function:
            raise ValueError(f"a design named {name!r} is already registered")
        DESIGNS[name] = function
        return function

    return add if fn is None else add(fn)


def get_design(name: str) -> Design:
    """The design registered as ``name``, or an ``InputError`` listing the known ones."""
    try:
        return DESIGNS[name]
    except KeyError:
        raise InputError(f"unknown design (known: {', '.join(sorted(DESIGNS))})",
                         column="--design", value=name) from None


@register_design("matching")
def matching_design(data: pd.DataFrame, treatment: str, covariates: list,
                    study: Study) -> DesignResult:
    """Nearest-neighbour propensity-score matching with the study's ``matching`` choices
    (``micromet.matching.match``, MatchIt semantics); balance (``summary.matchit``'s matched
    SMDs) over the covariates. The matched rows are analysed unweighted, as chapters 3 and 4 do."""
    from micromet import matching

    m = study.matching
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unmatched treated units are counted below
        res = matching.match(data, treatment, covariates, ratio=m.ratio, caliper=m.caliper,
                             std_caliper=m.std_caliper, replace=m.replace, m_order=m.m_order,
                             distance=m.distance, seed=study.seed)
        smd = matching.balance(data, treatment, covariates, weights=res.weights)["smd"]
    return DesignResult(data=res.matched.drop(columns=[treatment]), weights=None,
                        max_abs_smd=float(smd.abs().max()),
                        info={"unmatched_exposed": len(res.unmatched_treated)})


WEIGHT_COLUMN = "_analysis_weight"


def _weighting(data: pd.DataFrame, treatment: str, covariates: list, estimand: str,
               s_d_denom: str) -> DesignResult:
    from micromet import weighting

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the propensity model's conditioning: chapter 2's note
        w = weighting.propensity_weights(data, treatment, covariates, estimand=estimand)
        analysed = data.copy()
        analysed[WEIGHT_COLUMN] = w["weight"].to_numpy()
        smd = weighting.weighted_balance(analysed, treatment, covariates, WEIGHT_COLUMN,
                                         s_d_denom=s_d_denom)["smd"]
    return DesignResult(data=analysed.drop(columns=[treatment]), weights=WEIGHT_COLUMN,
                        max_abs_smd=float(smd.abs().max()))


@register_design("iptw_att")
def iptw_att_design(data: pd.DataFrame, treatment: str, covariates: list,
                    study: Study) -> DesignResult:
    """Inverse-probability weights for the ATT (the paper's estimand: exposed 1, controls
    ps / (1 - ps)) from the study's propensity model; balance as cobalt (treated SD)."""
    return _weighting(data, treatment, covariates, "ATT", "treated")


@register_design("overlap")
def overlap_design(data: pd.DataFrame, treatment: str, covariates: list,
                   study: Study) -> DesignResult:
    """Overlap weights (exposed 1 - ps, controls ps) from the study's propensity model; balance
    as cobalt (pooled SD)."""
    return _weighting(data, treatment, covariates, "ATO", "pooled")
