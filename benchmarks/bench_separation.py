"""Timing of the monotone-likelihood check (micromet.separation) on study A's full cohort: the
Table 4 covariates of the paper (Fine-Gray, cause 1 against 2, crr's risk sets) and Table 3's
(Cox, overall survival), on the ~283,000 patients of the synthetic extract, and on the matched
set. Prints seconds and which test ran; a figure, not a timed test.

    .venv/bin/python benchmarks/bench_separation.py
"""

from __future__ import annotations

import time

from micromet import cohort as cohort_mod
from micromet import pipeline
from micromet.design import design_matrix
from micromet.separation import monotone_direction
from micromet.study import load_study

TABLE4 = ["age", "tumor_size_mm", "grade", "er", "pr", "subtype", "t_stage", "n_stage", "m_stage"]
TABLE3 = ["age", "tumor_size_mm", "grade", "n_stage", "m_stage"]


def main() -> None:
    study = load_study("seer_m0i")
    frame = pipeline.analysis_frame(study)
    extract, _ = pipeline.restrict_extract(frame, study)
    built = cohort_mod.build_cohort(extract, list(study.cohort.criteria), "m_stage",
                                    levels=["M0", "M0(i+)"])
    data = built.data
    print(f"cohort: {len(data):,} patients")
    for name, covs, event, competing in (
            ("Fine-Gray, Table 4 covariates", TABLE4, data["event"] == 1, data["event"] == 2),
            ("Cox, Table 3 covariates", TABLE3, data["vital"] == 1, None)):
        X = design_matrix(data, covs).X
        t0 = time.perf_counter()
        found = monotone_direction(X, data["time_months"], event, competing=competing)
        seconds = time.perf_counter() - t0
        what = "none" if found is None else f"{found.terms} ({found.test})"
        print(f"{name}: {seconds:.2f} s, {X.shape[1]} terms, monotone direction: {what}")


if __name__ == "__main__":
    main()
