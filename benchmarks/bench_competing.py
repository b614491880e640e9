"""Timing of micromet.competing: Fine-Gray (with its sandwich variance), cuminc and Gray's test.

Run: .venv/bin/python benchmarks/bench_competing.py [--quick]

1. fine_gray with 12 covariates on 284,000 rows, monthly integer times 0-59 (SEER-like), variance
   included (R's crr: about 466 s on a 280,000-row cohort with monthly times, METHODS/DESIGN).
2. At 10,000 rows: the O(n log n) fine_gray against the O(n^2) dense reference of
   tests/_fg_reference.py (the same formulas with an explicit weight matrix), with the largest
   relative difference between them; monthly times and continuous times.
3. cuminc (by a 2-level group) and gray_test at 284,000 rows.
Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import _fg_reference as dense  # noqa: E402

from micromet.competing import (  # noqa: E402
    _fg_variance,
    _FGData,
    _newton,
    cuminc,
    fine_gray,
    gray_test,
)
from micromet.design import design_matrix  # noqa: E402


def simulate(n: int, seed: int = 2024, *, monthly: bool = True, p: int = 12) -> pd.DataFrame:
    """SEER-like cohort: p covariates (half binary), BC death (1), other death (2), censoring."""
    rng = np.random.default_rng(seed)
    cols = {}
    lp1 = np.zeros(n)
    lp2 = np.zeros(n)
    for j in range(p):
        x = rng.binomial(1, 0.3, n).astype(float) if j % 2 else rng.normal(size=n)
        cols[f"x{j + 1}"] = x
        lp1 += (0.3 if j % 3 == 0 else -0.15) * x
        lp2 += (0.1 if j % 4 == 0 else 0.05) * x
    t1 = rng.exponential(1 / (0.004 * np.exp(lp1)))
    t2 = rng.exponential(1 / (0.006 * np.exp(lp2)))
    c = rng.uniform(0, 72, n)
    t = np.minimum.reduce([t1, t2, c])
    e = np.select([t == t1, t == t2], [1, 2], 0)
    if monthly:
        e = np.where(t >= 60, 0, e)
        t = np.minimum(np.floor(t), 59)
    df = pd.DataFrame({"time": t, "event": e, **cols})
    df["group"] = rng.binomial(1, 0.5, n)
    return df


def timed(fn, repeat: int = 1):
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def peak_memory(fn) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main(quick: bool = False) -> None:
    n_big = 28_400 if quick else 284_000
    covs = [f"x{j + 1}" for j in range(12)]
    big = simulate(n_big)
    counts = big["event"].value_counts().sort_index().to_dict()
    print(f"data: {n_big:,} rows, monthly times 0-59, 12 covariates, events {counts}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    fit, secs = timed(lambda: fine_gray(big, "time", "event", covs, cause=1), repeat=2)
    print(f"fine_gray (12 covariates, variance included): {secs:.2f} s, "
          f"{fit.n_iter} Newton steps, converged={fit.converged}")
    _, secs2 = timed(lambda: fine_gray(big, "time", "event", covs, cause=1, variance=False))
    print(f"fine_gray without variance: {secs2:.2f} s")
    _, secs3 = timed(lambda: design_matrix(big, covs))
    print(f"  of which micromet.design.design_matrix (alias check): {secs3:.2f} s")
    print(f"  of which estimation + variance (sort, Ĝ, Newton, sandwich): "
          f"{timed(lambda: core_fit(big, covs), repeat=2)[1]:.2f} s")
    mem = peak_memory(lambda: fine_gray(big, "time", "event", covs, cause=1))
    print(f"fine_gray peak Python memory (tracemalloc): {mem:.0f} MiB")

    ci, secs = timed(lambda: cuminc(big, "time", "event", group="group"), repeat=2)
    print(f"cuminc by a 2-level group (with Gray's tests for both causes): {secs:.2f} s")
    _, secs = timed(lambda: cuminc(big, "time", "event"), repeat=2)
    print(f"cuminc without group: {secs:.2f} s")
    g, secs = timed(lambda: gray_test(big, "time", "event", "group", cause=1), repeat=2)
    print(f"gray_test (cause 1): {secs:.3f} s (statistic {g.statistic:.4f})")

    cont = simulate(n_big, monthly=False)
    _, secs = timed(lambda: fine_gray(cont, "time", "event", covs, cause=1))
    print(f"fine_gray, continuous times ({n_big:,} distinct-ish times): {secs:.2f} s")
    _, secs = timed(lambda: gray_test(cont, "time", "event", "group", cause=1))
    print(f"gray_test, continuous times: {secs:.2f} s")

    sizes = [n_big // 8, n_big // 4, n_big // 2, n_big]
    for monthly in (True, False):
        cells = []
        for n in sizes:
            df = simulate(n, seed=11, monthly=monthly)
            cells.append(f"{n:,}: {timed(lambda df=df: core_fit(df, covs), repeat=2)[1]:.2f} s")
        label = "monthly" if monthly else "continuous"
        print(f"scaling of the numerical core ({label} times): " + ", ".join(cells))

    n_small = 2_000 if quick else 10_000
    for monthly in (True, False):
        compare_with_reference(n_small, monthly, covs)


def core_fit(df: pd.DataFrame, covs: list[str]):
    """fine_gray's numerical core alone: sort, censoring KM, crr's Newton path, sandwich."""
    order = np.argsort(df["time"].to_numpy(), kind="stable")
    e = df["event"].to_numpy()[order]
    eps = np.where(e == 1, 1, np.where(e == 0, 0, 2))
    D = _FGData(df["time"].to_numpy()[order], eps, df[covs].to_numpy(dtype=float)[order])
    fit = _newton(D, np.zeros(len(covs)), 1e-6, 10)
    return _fg_variance(D, fit.coef, fit.info, fit.parts)


def compare_with_reference(n: int, monthly: bool, covs: list[str]) -> None:
    """fine_gray against the dense O(n^2) reference on the same data: time and agreement."""
    small = simulate(n, seed=7, monthly=monthly)
    label = "monthly" if monthly else "continuous"
    fast, t_fast = timed(lambda: fine_gray(small, "time", "event", covs, cause=1), repeat=3)
    order = np.argsort(small["time"].to_numpy(), kind="stable")
    t = small["time"].to_numpy()[order]
    e = small["event"].to_numpy()[order]
    eps = np.where(e == 1, 1, np.where(e == 0, 0, 2))
    Z = small[covs].to_numpy(dtype=float)[order]
    (coef, _, conv, var), t_dense = timed(lambda: dense.dense_fit(t, eps, Z))
    d_coef = np.max(np.abs(fast.coef.to_numpy() - coef) / np.abs(coef))
    d_var = np.max(np.abs(fast.var.to_numpy() - var) / np.abs(var))
    print(f"{n:,} rows, {label} times: fast {t_fast:.3f} s vs O(n^2) reference "
          f"{t_dense:.1f} s (x{t_dense / t_fast:.0f}); largest relative difference "
          f"coef {d_coef:.1e}, var {d_var:.1e}; converged {fast.converged}/{conv}")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
