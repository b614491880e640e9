"""Benchmark: synthetic SEER export at full scale -> read_export -> tidy -> criteria -> Table 1.

Prints wall and CPU seconds per stage, the file size, peak memory, the flow end counts, and
(with --match) the events of a 1:2 matched set against the paper's 82 / 47 / 35.

    .venv/bin/python benchmarks/bench_synth.py [--scale 1.0] [--seed 20251] [--match]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from micromet import cohort, describe, seer, synth


class Clock:
    def __init__(self):
        self.rows = []

    def __call__(self, label, func, *args, **kwargs):
        w0, c0 = time.perf_counter(), time.process_time()
        out = func(*args, **kwargs)
        self.rows.append((label, time.perf_counter() - w0, time.process_time() - c0))
        return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=20251)
    ap.add_argument("--match", action="store_true", help="also match 1:2 and count events")
    args = ap.parse_args(argv)
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        path = clock("generate + write export", synth.write_seer_extract, Path(tmp),
                     seed=args.seed, scale=args.scale)
        size_mb = path.stat().st_size / 1e6
        raw = clock("read_export", seer.read_export, path)
        data = clock("tidy", seer.tidy, raw)
        res = clock("criteria (build_cohort)", cohort.build_cohort, data, cohort.PAPER_CRITERIA,
                    "m_stage")
        clock("table_one", describe.table_one, res.data, "m_stage", ["age", "tumor_size_mm"],
              ["histology", "grade", "er", "pr", "her2", "subtype", "t_stage", "n_stage"])
        if args.match:
            from micromet import matching
            c = res.data.assign(treat=(res.data["m_stage"] == "M0(i+)").astype(int))
            covs = ["age", "tumor_size_mm", "histology", "grade", "er", "pr", "her2", "subtype",
                    "t_stage", "n_stage"]
            m = clock("match 1:2, caliper 0.2", matching.match, c, "treat", covs, ratio=2,
                      caliper=0.2)
            ev = m.matched["event"].value_counts()
    print(f"rows {len(raw):,}  file {size_mm(size_mb)}")
    total_w = sum(r[1] for r in clock.rows)
    total_c = sum(r[2] for r in clock.rows)
    for label, w, c in clock.rows:
        print(f"{label:28s} wall {w:7.2f} s   cpu {c:7.2f} s")
    print(f"{'total':28s} wall {total_w:7.2f} s   cpu {total_c:7.2f} s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    last = res.flow.iloc[-1]
    print(f"cohort: M0 {last['remaining[M0]']:,}, M0(i+) {last['remaining[M0(i+)]']:,}")
    if args.match:
        print(f"matched {len(m.matched):,}: deaths {int(ev.get(1, 0) + ev.get(2, 0))} "
              f"(breast cancer {int(ev.get(1, 0))}, other {int(ev.get(2, 0))}); "
              "paper 82 (47, 35); expected from the generator "
              "{:.1f}, {:.1f}".format(*synth.expected_matched_events(seed=args.seed)))


def size_mm(mb: float) -> str:
    return f"{mb:.1f} MB"


if __name__ == "__main__":
    main()
