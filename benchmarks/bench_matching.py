"""Benchmark: propensity fit and 1:2 caliper matching at study A's full scale.

585 treated (M0(i+)) vs 283,503 controls (M0), 12 covariates like study A (her2 aliased with the
subtype dummies), synthetic data made with numpy here. Prints the time of the propensity fit
(glm-like IRLS), of the matching alone (on the fitted distance), of ``match`` end to end, and of
the balance table. Run: ``.venv/bin/python benchmarks/bench_matching.py``.
"""

from __future__ import annotations

import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

from micromet.matching import (
    MatchingWarning,
    balance_table,
    fit_propensity,
    match,
    nearest_neighbor,
)

N_TREATED = 585
N_CONTROL = 283_503
COVARIATES = ["age", "sex", "year", "histology", "grade", "tumor_size_mm", "er", "pr", "her2",
              "subtype", "t_stage", "n_stage"]


def make_data(seed: int = 2024) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = N_TREATED + N_CONTROL
    age = np.round(rng.normal(62, 13, n)).clip(20, 99)
    sex = rng.choice(["Female", "Male"], n, p=[0.99, 0.01])
    year = rng.integers(2018, 2023, n).astype(str)
    histology = rng.choice(["IDC", "Other"], n, p=[0.8, 0.2])
    grade = rng.choice(["I-II", "III"], n, p=[0.7, 0.3])
    size = np.round(rng.lognormal(3.0, 0.6, n)).clip(1, 300)
    er = rng.choice(["Negative", "Positive"], n, p=[0.2, 0.8])
    pr = np.where(er == "Positive", rng.choice(["Negative", "Positive"], n, p=[0.2, 0.8]),
                  rng.choice(["Negative", "Positive"], n, p=[0.9, 0.1]))
    her2 = rng.choice(["Negative", "Positive"], n, p=[0.85, 0.15])
    hr = np.where((er == "Positive") | (pr == "Positive"), "HR+", "HR-")
    subtype = pd.Categorical(np.char.add(np.char.add(hr, "/HER2"),
                                         np.where(her2 == "Positive", "+", "-")),
                             ["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-"])
    t_stage = np.where(size > 50, "T3-T4", "T1-T2")
    n_stage = rng.choice(["N0", "N1-N3"], n, p=[0.7, 0.3])
    lp = (0.02 * (age - 62) + 0.5 * (grade == "III") + 0.01 * size + 0.6 * (n_stage == "N1-N3")
          + 0.3 * (her2 == "Positive") + 0.4 * (histology == "Other"))
    p = np.exp(lp - lp.max())
    treated = np.zeros(n, dtype=int)
    treated[rng.choice(n, N_TREATED, replace=False, p=p / p.sum())] = 1
    return pd.DataFrame({"m0i": treated, "age": age, "sex": sex, "year": year,
                         "histology": histology, "grade": grade, "tumor_size_mm": size,
                         "er": er, "pr": pr, "her2": her2, "subtype": subtype,
                         "t_stage": t_stage, "n_stage": n_stage})


def timed(fn, repeat: int = 3):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    data = make_data()
    print(f"data: {int(data.m0i.sum())} treated, {int((data.m0i == 0).sum())} controls, "
          f"{len(COVARIATES)} covariates")
    t_fit, fit = timed(lambda: fit_propensity(data, "m0i", COVARIATES))
    print(f"propensity fit (IRLS, glm stopping rule): {t_fit:.3f} s, {fit.iterations} iterations, "
          f"aliased: {fit.aliased}")
    d = fit.linear_predictor.to_numpy()
    treated = data["m0i"].to_numpy() == 1
    caliper = 0.2 * float(np.std(d, ddof=1))
    order = np.argsort(-d[treated], kind="stable")
    t_nn, mm = timed(lambda: nearest_neighbor(d, treated, order, ratio=2, caliper=caliper))
    print(f"matching alone (1:2, caliper 0.2 SD, no replacement): {t_nn:.3f} s; "
          f"{int((mm >= 0).any(axis=1).sum())} treated matched, {int((mm >= 0).sum())} controls")
    t_rep, _ = timed(lambda: nearest_neighbor(d, treated, np.arange(treated.sum()), ratio=2,
                                              caliper=caliper, replace=True))
    print(f"matching alone with replacement: {t_rep:.3f} s")
    dist = fit.linear_predictor

    def run_match(distance):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MatchingWarning)
            return match(data, "m0i", COVARIATES, ratio=2, caliper=0.2, distance=distance)

    t_m_d, res = timed(lambda: run_match(dist))
    print(f"match() on a given distance (weights, matched frame, ...): {t_m_d:.3f} s")
    t_m, res = timed(lambda: run_match("linear_logit"), repeat=2)
    print(f"match() end to end (fit + matching): {t_m:.3f} s")
    tracemalloc.start()  # slows numpy down: a separate run, for memory only
    run_match("linear_logit")
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"match() peak traced memory: {peak:.0f} MiB")
    t_bal, bt = timed(lambda: balance_table(res, data, "m0i", COVARIATES), repeat=1)
    print(f"balance_table (before/after, {len(bt.table)} rows): {t_bal:.3f} s")
    print(bt.n.to_string())


if __name__ == "__main__":
    main()
