"""Matched-set bootstrap (Austin & Small 2014) of study A: B = 1,000 replicates of the matched
overall-survival Cox model and of the breast-cancer-mortality Fine-Gray model.

Builds study A's matched set as the chapters do (synthetic export, cached after the first run;
cohort; 1:2 matching: about 1,755 patients in 585 matched sets), takes the multivariable
covariates the chapters choose (micromet.analyses.regression_table), and times
micromet.bootstrap.matched_bootstrap with the prepared fitters (cox_fitter, fine_gray_fitter),
in one process. Target: under 30 s for both on 2 cores. Also times a few replicates through the
full functions (cox / fine_gray on each resampled DataFrame) for comparison. Prints the figures;
with --save also writes them to benchmarks/results/bench_bootstrap.json - which then enters the
agreement artifact and the validation page (benchmarks/results/*.json): run `make agreement`
and re-publish the book with it, as for any new benchmark.

    python benchmarks/bench_bootstrap.py [--B 1000] [--seed 2026] [--save]
"""

import argparse
import json
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

from micromet import competing, pipeline, survival, synth
from micromet.analyses import regression_table
from micromet.bootstrap import cox_fitter, fine_gray_fitter, matched_bootstrap
from micromet.store import load_frame
from micromet.study import load_study, synthetic_request

HERE = Path(__file__).resolve().parent


def matched_set(study):
    _, seed, _ = synthetic_request(study.source, seed=study.seed)
    synth.synthetic_extract(int(seed), None, pipeline.cache_dir())
    with tempfile.TemporaryDirectory() as out:
        pipeline.cohort_chapter(study, out)
        pipeline.matching_chapter(study, out)
        return load_frame(out, "matched", "02_matching")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--B", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--save", action="store_true",
                        help="write results/bench_bootstrap.json (then run make agreement)")
    args = parser.parse_args(argv)
    study = load_study("seer_m0i")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matched = matched_set(study)
        os_out, bc_out = study.outcomes["os"], study.outcomes["bcsm"]
        os_covs = regression_table(study, "table3", matched).chosen
        bc_covs = regression_table(study, "table4", matched).chosen

    figures = {}
    t0 = time.perf_counter()
    cf = cox_fitter(matched, os_out.time, os_out.event, os_covs, ties=study.models.ties)
    ff = fine_gray_fitter(matched, bc_out.time, bc_out.event, bc_covs, cause=bc_out.cause)
    prepare = time.perf_counter() - t0
    results = {}
    for name, fitter in (("OS Cox", cf), ("BCSM Fine-Gray", ff)):
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results[name] = matched_bootstrap(matched, fitter, B=args.B, seed=args.seed)
        figures[f"seconds {name}"] = round(time.perf_counter() - t, 2)
    total = time.perf_counter() - t0

    # the same replicates through the full functions, for a few replicates only
    few = 20
    slow = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, fn in (
            ("OS Cox", lambda s: survival.cox(s, os_out.time, os_out.event, os_covs,
                                              ties=study.models.ties).table["coef"]),
            ("BCSM Fine-Gray", lambda s: competing.fine_gray(s, bc_out.time, bc_out.event,
                                                              bc_covs, cause=bc_out.cause)
             .table["coef"]),
        ):
            t = time.perf_counter()
            matched_bootstrap(matched, fn, B=few, seed=args.seed)
            slow[name] = (time.perf_counter() - t) / (few + 1)

    print(f"matched-set bootstrap of study A: {len(matched):,} patients in "
          f"{results['OS Cox'].n_sets:,} matched sets, B = {args.B:,}, one process")
    print(f"  OS Cox covariates: {', '.join(os_covs)}")
    print(f"  BCSM Fine-Gray covariates: {', '.join(bc_covs)}")
    print(f"  {'prepare both fitters':<40} {prepare:7.2f} s")
    for name, res in results.items():
        print(f"  {name + ' (prepared fitter)':<40} {figures['seconds ' + name]:7.2f} s   "
              f"({res.n_failed} replicates with a term not estimable)")
        print(f"  {name + ' (full function, per replicate)':<40} {slow[name] * 1000:7.1f} ms"
              f"   -> {slow[name] * args.B:.0f} s for B = {args.B:,}")
    print(f"  {'total, both models':<40} {total:7.2f} s   (target < 30 s)")
    for name, res in results.items():
        exposure = [t for t in res.table.index if t.startswith("m_stage")]
        for term in exposure:
            row = res.table.loc[term]
            print(f"  {name}: {term} HR {row['hr']:.3f}, bootstrap 95% CI "
                  f"{row['hr_lower']:.3f}-{row['hr_upper']:.3f} (n = {int(row['n'])})")
    if args.save:
        out = HERE / "results"
        out.mkdir(exist_ok=True)
        record = {"what": "matched-set bootstrap of study A (OS Cox + BCSM Fine-Gray)",
                  "B": args.B, "patients": len(matched), "matched_sets":
                  results["OS Cox"].n_sets, "seconds_total": round(total, 2),
                  "seconds_prepare": round(prepare, 2),
                  "ms per replicate, full functions": {k: round(v * 1000, 1)
                                                      for k, v in slow.items()},
                  "python": platform.python_version(), "machine": platform.machine(),
                  **figures}
        (out / "bench_bootstrap.json").write_text(json.dumps(record, indent=1, sort_keys=True)
                                                  + "\n")
    return 0 if total < 30 else 1


if __name__ == "__main__":
    sys.exit(main())
