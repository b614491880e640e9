"""Outcomes of the synthetic cohort: breast-cancer death (Fine-Gray) and other causes, and the
calibration of their rates to the published event counts.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import optimize, special

from micromet.errors import InputError
from micromet.synth.covariates import (
    _AGE_HIGH,
    _AGE_LOWER_TAIL,
    _SIZE_LOWER_TAIL,
    _T3_SHARE,
    _by_rank,
    _round_total,
    _top_k,
    _z,
    placed_ages,
    placed_sizes,
    receptor_table,
)
from micromet.synth.params import (
    CALIBRATION_SEED,
    PUBLISHED_COUNTS,
    PUBLISHED_QUARTILES,
    SynthParams,
)


def _included_core(group: str, scale_g: float, rng: np.random.Generator) -> dict:
    pc = PUBLISHED_COUNTS[group]
    table = receptor_table(pc)
    cell_n = _round_total(table["n"].to_numpy() * scale_g)
    n = int(cell_n.sum())
    idx = rng.permutation(np.repeat(np.arange(len(table)), cell_n))
    er = table["er"].to_numpy()[idx]
    pr = table["pr"].to_numpy()[idx]
    her2 = table["her2"].to_numpy()[idx]
    subtype = table["subtype"].to_numpy()[idx]
    tn = subtype == "HR-/HER2-"
    h2 = her2 == "Positive"
    hrp = (er == "Positive") | (pr == "Positive")
    er_only = (er == "Positive") & (pr == "Negative")

    def k_of(key):
        return min(n, int(round(pc[key] * scale_g)))

    q = PUBLISHED_QUARTILES[group]
    n_t34 = k_of("T3-T4")
    n_over = int(np.floor(_T3_SHARE[group] * n_t34))
    size_score = 0.35 * (h2 | tn) + rng.standard_normal(n)
    size = _by_rank(placed_sizes(n, q["tumor_size_mm"], n_over, _SIZE_LOWER_TAIL[group]),
                    size_score)
    zs = _z(np.log(size))
    t4 = np.zeros(n, dtype=bool)
    small = size <= 50
    t4_score = np.where(small, 0.8 * zs + rng.standard_normal(n), -np.inf)
    t4[_top_k(t4_score, n_t34 - int((~small).sum()))] = True
    grade3 = _top_k(1.3 * tn + 0.9 * h2 + 0.6 * er_only + 0.3 * zs + rng.standard_normal(n),
                    k_of("grade III"))
    nodes = _top_k(0.8 * zs + 0.2 * grade3 + 0.5 * t4 + rng.standard_normal(n), k_of("N1-N3"))
    other = _top_k(0.6 * hrp - 0.4 * grade3 + rng.standard_normal(n), n - k_of("IDC"))
    age_score = -0.3 * tn - 0.2 * h2 - 0.1 * grade3 + rng.standard_normal(n)
    age = _by_rank(placed_ages(n, q["age"], high=_AGE_HIGH[group],
                               lower_tail=_AGE_LOWER_TAIL[group]), age_score)
    return {
        "age": age, "tumor_size_mm": size, "grade3": grade3, "er": er, "pr": pr,
        "her2": her2, "subtype": subtype, "t4": t4, "t34": t4 | ~small, "nodes": nodes,
        "other_histology": other,
    }


def _centred_term(frame: pd.DataFrame, term: str, reference: dict) -> np.ndarray:
    if "[" in term and term.endswith("]"):
        col, level = term[:-1].split("[", 1)
        if col not in frame.columns:
            raise InputError(f"term {term!r} needs column {col!r}", column=col)
        x = (frame[col].astype(object).to_numpy() == level).astype(float)
        if reference.get(col) == level:
            x -= 1.0
        return x
    if term not in frame.columns:
        raise InputError(f"term {term!r} needs column {term!r}", column=term)
    return frame[term].to_numpy(dtype=float) - float(reference.get(term, 0.0))


def linear_predictors(frame: pd.DataFrame, params: SynthParams | None = None):
    """(eta1, eta2): centred log-(sub)hazard linear predictors of breast-cancer death and of
    death from other causes, for a frame with tidy columns (age, tumor_size_mm, grade, er, pr,
    subtype, t_stage, n_stage, m_stage)."""
    params = params or SynthParams()
    eta1 = np.zeros(len(frame))
    for term, hr in params.shr_bc.items():
        eta1 += np.log(hr) * _centred_term(frame, term, params.reference)
    eta2 = np.zeros(len(frame))
    for term, hr in params.hr_other.items():
        eta2 += np.log(hr) * _centred_term(frame, term, params.reference)
    return eta1, eta2


def event_probabilities(eta1, eta2, followup, params: SynthParams):
    """P(breast-cancer death observed by ``followup``), P(other death observed by followup)."""
    k = np.exp(eta1)
    p, lam1 = params.p_bc, params.rate_bc
    f1 = -np.expm1(k * np.log1p(-p * -np.expm1(-lam1 * followup)))
    p_type2 = np.exp(k * np.log1p(-p))
    f2 = p_type2 * -np.expm1(-params.rate_other * np.exp(eta2) * followup)
    return f1, f2


def simulate_outcomes(frame: pd.DataFrame, followup, params: SynthParams | None = None,
                      rng: np.random.Generator | int | None = None):
    """Draw (time in months, cause) for each row: cause 1 breast-cancer death, 2 other death,
    0 alive at the end of ``followup`` (months of potential follow-up, administrative censoring).

    Fine & Gray (1999) design: P(cause 1 | Z) = 1 - (1 - p)^exp(eta1); the cause-1 time is
    drawn from the conditional subdistribution, the cause-2 time from an exponential with rate
    ``rate_other * exp(eta2)``. The subdistribution hazard ratios are exactly ``params.shr_bc``.
    Returns the observed time min(T, followup) (continuous months) and the cause.
    """
    params = params or SynthParams()
    rng = np.random.default_rng(rng)
    followup = np.asarray(followup, dtype=float)
    eta1, eta2 = linear_predictors(frame, params)
    n = len(frame)
    u_type, u_time, e2 = rng.random(n), rng.random(n), rng.standard_exponential(n)
    k = np.exp(eta1)
    f1inf = -np.expm1(k * np.log1p(-params.p_bc))
    is1 = u_type < f1inf
    target = u_time * f1inf
    w = -np.expm1(np.log1p(-target) / k)
    t1 = -np.log1p(-np.minimum(w / params.p_bc, 1 - 1e-16)) / params.rate_bc
    t2 = e2 / (params.rate_other * np.exp(eta2))
    t = np.where(is1, t1, t2)
    cause = np.where(t <= followup, np.where(is1, 1, 2), 0)
    return np.minimum(t, followup), cause


def _core_frame(core: dict, group: str) -> pd.DataFrame:
    """Tidy-like covariate frame (for the outcome model) from a core dict."""
    return pd.DataFrame({
        "age": core["age"].astype(float),
        "tumor_size_mm": core["tumor_size_mm"].astype(float),
        "grade": np.where(core["grade3"], "III", "I-II"),
        "er": core["er"], "pr": core["pr"], "her2": core["her2"], "subtype": core["subtype"],
        "t_stage": np.where(core["t34"], "T3-T4", "T1-T2"),
        "n_stage": np.where(core["nodes"], "N1-N3", "N0"),
        "m_stage": group,
    })


def _followup(n: int, weights, rng: np.random.Generator):
    w = np.asarray(weights, dtype=float)
    year = 2018 + rng.choice(5, size=n, p=w / w.sum())
    month = rng.integers(0, 12, size=n)
    dx = (year - 2018) * 12 + month + rng.random(n)
    return year, 60.0 - dx


def expected_matched_events(params: SynthParams | None = None, seed: int = CALIBRATION_SEED):
    """Expected breast-cancer and other-cause deaths in a 1:2 matched set (585 M0(i+) and
    1,170 M0 controls with the M0(i+) covariate mix and the M0 diagnosis years)."""
    params = params or SynthParams()
    rng = np.random.default_rng(seed)
    core = _included_core("M0(i+)", 1.0, rng)
    cov1 = _core_frame(core, "M0(i+)")
    cov0 = cov1.assign(m_stage="M0")
    _, c1 = _followup(len(cov1), params.year_weights_m0i, rng)
    _, c0 = _followup(2 * len(cov1), params.year_weights_m0, rng)
    e1a, e2a = event_probabilities(*linear_predictors(cov1, params), c1, params)
    eta1, eta2 = linear_predictors(cov0, params)
    e1b, e2b = event_probabilities(np.tile(eta1, 2), np.tile(eta2, 2), c0, params)
    return float(e1a.sum() + e1b.sum()), float(e2a.sum() + e2b.sum())


def calibrate(params: SynthParams | None = None, targets=(47.0, 35.0),
              seed: int = CALIBRATION_SEED):
    """Solve ``p_bc`` and ``rate_other`` so that ``expected_matched_events`` equals ``targets``
    (the paper's 47 breast-cancer and 35 other deaths among 1,755 matched). Returns new params."""
    params = params or SynthParams()
    for _ in range(6):
        def f1(logit_p, prm=params):
            p = special.expit(logit_p)
            return expected_matched_events(dataclasses.replace(prm, p_bc=p), seed)[0] - targets[0]
        params = dataclasses.replace(params, p_bc=float(special.expit(
            optimize.brentq(f1, -12, 5, xtol=1e-10))))

        def f2(log_rate, prm=params):
            r = np.exp(log_rate)
            return expected_matched_events(dataclasses.replace(prm, rate_other=r),
                                           seed)[1] - targets[1]
        params = dataclasses.replace(params, rate_other=float(np.exp(
            optimize.brentq(f2, -16, 0, xtol=1e-10))))
    return params
