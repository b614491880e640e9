"""Timing of Firth's penalized Cox model (micromet.firth.firth_cox) beside R's coxphf 1.13.4 on
the same data, in the same run: SEER-like rows (monthly times, heavy ties) with 6 terms, Wald
limits (one fit) and profile penalized likelihood limits and p values (2 limits and 1 restricted
fit per term). R is timed only when ``Rscript`` with coxphf is installed (see
tests/reference/firth/make_firth.R for how to build it); coxphf returns NaN when a time is 0
(SEER's month 0), so R is given months + 0.5 (the same order of times, the same partial
likelihood). A figure, not a timed test.

    .venv/bin/python benchmarks/bench_firth.py [n_rows ...]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_survival import make_data  # noqa: E402

from micromet.firth import firth_cox  # noqa: E402

COVS = ["age", "tumor_size_mm", "grade", "er", "n_stage", "m_stage"]
R_FORMULA = "Surv(time_months + 0.5, vital) ~ age + tumor_size_mm + grade + er + n_stage + m_stage"


def r_seconds(csv: Path, pl: bool) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    script = (
        "suppressPackageStartupMessages({library(survival); library(coxphf)});"
        f"d <- read.csv('{csv}', stringsAsFactors = TRUE);"
        f"s <- system.time(f <- coxphf({R_FORMULA}, data = d, pl = {'TRUE' if pl else 'FALSE'}));"
        "cat(s[['elapsed']])"
    )
    run = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
    if run.returncode != 0:
        return None
    return float(run.stdout.strip().splitlines()[-1])


def main(sizes) -> None:
    print(f"{'rows':>9} {'limits':>8} {'micromet s':>11} {'coxphf s':>9} {'ratio':>6}")
    for n in sizes:
        data = make_data(n)
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "d.csv"
            data[[*COVS, "time_months", "vital"]].to_csv(csv, index=False)
            for pl in (False, True):
                t0 = time.perf_counter()
                firth_cox(data, "time_months", "vital", COVS, profile=pl)
                ours = time.perf_counter() - t0
                theirs = r_seconds(csv, pl)
                ratio = f"{ours / theirs:6.2f}" if theirs else "   -"
                r_text = f"{theirs:9.2f}" if theirs is not None else "        -"
                print(f"{n:9,d} {'profile' if pl else 'Wald':>8} {ours:11.2f} {r_text} {ratio}",
                      flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [2_000, 20_000, 284_000])
