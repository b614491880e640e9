"""Study A at full scale, from the SEER*Stat export to results (no book build).

Reads the synthetic export (324,571 rows; generated once and cached), tidies it, builds the cohort
and Table 1, matches 1:2, fits the survival and competing-risk models of Tables 3 and 4, exactly as
the chapters do (micromet.pipeline), and prints the seconds of each step and the peak memory.
Target: under a minute on 2 cores. Figures are also written to benchmarks/results/bench_study.json
(the book's validation page shows them).

    python benchmarks/bench_study.py [--set matching.caliper=0.1 ...]
"""

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from micromet import pipeline, synth
from micromet.study import load_study, synthetic_request

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--no-save", action="store_true", help="do not write results/*.json")
    args = parser.parse_args(argv)
    study = load_study("seer_m0i", args.set)

    t0 = time.perf_counter()
    _, seed, _ = synthetic_request(study.source, seed=study.seed)
    synth.synthetic_extract(int(seed), None, pipeline.cache_dir())
    generate = time.perf_counter() - t0

    steps = {}
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        for label, chapter in (("cohort (read, tidy, criteria, Table 1)", pipeline.cohort_chapter),
                               ("matching (PS, 1:2 NN, balance, Table 2)",
                                pipeline.matching_chapter),
                               ("overall survival (KM, log-rank, Cox x 12)", pipeline.os_chapter),
                               ("BCSM (CIF, Gray, Fine-Gray x 12)", pipeline.bcsm_chapter)):
            t = time.perf_counter()
            result = chapter(study, out)
            steps[label] = time.perf_counter() - t
            if chapter is pipeline.cohort_chapter:
                rows = result.summary["n_raw"]
        total = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"study A at full scale: {rows:,} raw rows")
    print(f"  {'synthetic export (cached after the first run)':<45} {generate:7.2f} s")
    for label, seconds in steps.items():
        print(f"  {label:<45} {seconds:7.2f} s")
    print(f"  {'total, export to results':<45} {total:7.2f} s   (target < 60 s)")
    print(f"  peak memory {peak_mb:,.0f} MB")
    if not args.no_save:
        results = HERE / "results"
        results.mkdir(exist_ok=True)
        figures = {"what": "study A, export to results", "raw_rows": rows,
                   "seconds_total": round(total, 2), "peak_memory_mb": round(peak_mb),
                   "python": platform.python_version(), "machine": platform.machine(),
                   **{f"seconds {k.split(' (')[0]}": round(v, 2) for k, v in steps.items()}}
        (results / "bench_study.json").write_text(json.dumps(figures, indent=1, sort_keys=True)
                                                  + "\n")
    return 0 if total < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
