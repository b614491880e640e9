"""Study A end to end: `micromet run` beside the same analysis in plain R (issue 14, item 6).

Both sides read the same SEER*Stat case-listing export: the synthetic export of
``studies/seer_m0i.yml`` (``synthetic://seer_m0i?seed=...``), made through micromet's own
``micromet.synth.synthetic_extract`` into its cache before anything is timed. Then, alternating,
round after round (ABBA order: micromet first in odd rounds, R first in even ones, so that a drift
of the machine falls on both sides alike):

* ``micromet run studies/seer_m0i.yml --data <export.csv> --out <temporary folder> --set
  chapters=[01..05]`` as a subprocess: the chapters that compute what the R script computes
  (not chapter 6, the robustness analyses the paper did not do), executed by papermill, with
  figures and results.json. With ``--data``
  the export counts as real data, so the run also pre-checks the export and masks small counts,
  as it would for a SEER user. The folder is deleted afterwards.
* ``Rscript benchmarks/study_a.R <export.csv>``: the paper's analysis as its authors would write
  it (data.table::fread, MatchIt, survival, cmprsk; figures into a temporary PDF).

Times are wall-clock seconds of each subprocess, start-up and reading included. Printed: each
round, the medians and the ratio micromet / R; micromet's own per-chapter log (median over the
rounds); an agreement check of the numbers (untimed). Written: benchmarks/results/bench_study_vs_r.json.

OPENBLAS_NUM_THREADS=1 is set for both sides (and for this process): on 2 cores the BLAS threads
of the kernels and of R fought each other (issue 14). Debian's R links the reference BLAS unless
libopenblas is installed; the variable is harmless then.

Debian's r-cran-matchit is MatchIt 4.5.1, which carries the integer-abs caliper bug and the
row-check defect of 4.5.1-4.5.3 (tests/reference/matchit/README.md); micromet follows CRAN MatchIt
>= 4.5.4. So R matches the same numbers of patients but not the same controls; the agreement
check also re-matches micromet's cohort with micromet's emulation of that build
(``abs_mode="int_trunc", row_check_451=True``) and compares the models on that matched set.

    python benchmarks/bench_study_vs_r.py [--rounds 3] [--no-save]

Without Rscript or its packages (r-cran-survival, r-cran-matchit, r-cran-cmprsk,
r-cran-data.table) the benchmark says so and exits 0 (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STUDY_FILE = ROOT / "studies" / "seer_m0i.yml"
R_SCRIPT = HERE / "study_a.R"
R_PACKAGES = ("survival", "MatchIt", "cmprsk", "data.table")
CHAPTER_LINE = re.compile(r"^\s*\[\d+/\d+\]\s+(\S+)\s+([\d.]+) s( \(beside the previous one\))?$")
WROTE_LINE = re.compile(r"^wrote .* in ([\d.]+) s$")
#: The chapters that compute what study_a.R computes (the robustness chapter's bootstrap, power,
#: E-values and weighting have no counterpart in the paper's analysis).
SAME_AS_R = ("01_cohort", "02_matching", "03_overall_survival", "04_bcsm", "05_validation")
R_ELAPSED = re.compile(r"R elapsed \(proc\.time, reading included\): ([\d.]+) s")


def bench_env() -> dict[str, str]:
    env = os.environ.copy()
    env["OPENBLAS_NUM_THREADS"] = "1"
    return env


def r_available() -> str | None:
    """None when Rscript and the packages are there, else why not."""
    if shutil.which("Rscript") is None:
        return "Rscript not found (apt-get install r-base-core)"
    names = ", ".join(f'"{p}"' for p in R_PACKAGES)
    check = f"for (p in c({names})) if (!requireNamespace(p, quietly = TRUE)) cat(p, '')"
    out = subprocess.run(["Rscript", "-e", check], capture_output=True, text=True)
    missing = out.stdout.split()
    if out.returncode != 0 or missing:
        return (f"R packages missing: {' '.join(missing) or out.stderr.strip()} (Debian: "
                "apt-get install r-cran-survival r-cran-matchit r-cran-cmprsk r-cran-data.table)")
    return None


def ensure_export(study) -> Path:
    """The study's synthetic export, generated (once, cached) by micromet itself, as
    ``micromet.pipeline.read_source`` does for the synthetic source."""
    from micromet import pipeline, synth
    from micromet.study import synthetic_request

    name, seed, params = synthetic_request(study.source, seed=study.seed)
    if name != "seer_m0i":
        raise SystemExit(f"unexpected synthetic source {study.source!r}")
    scale = float(params.pop("scale", 1.0))
    return Path(synth.synthetic_extract(int(seed), params or None, pipeline.cache_dir(),
                                        scale=scale))


def run_micromet(export: Path, keep: Path | None) -> tuple[float, str]:
    """Wall seconds of one `micromet run`, its log; ``keep``: copy the row-level numbers there."""
    micromet = Path(sys.executable).with_name("micromet")
    tmp = Path(tempfile.mkdtemp(prefix="bench_micromet_"))
    try:
        out = tmp / "out"
        cmd = [str(micromet), "run", str(STUDY_FILE), "--data", str(export), "--out", str(out),
               "--set", f"chapters=[{', '.join(SAME_AS_R)}]"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=bench_env(), cwd=ROOT)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"micromet run failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        if keep is not None:
            # unmasked numbers (the export counts as real data) and the cohort, for the check
            shutil.copy2(out / "data" / "results.json", keep / "micromet_results.json")
            shutil.copy2(out / "data" / "cohort.parquet", keep / "cohort.parquet")
        return wall, proc.stdout + proc.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_r(export: Path, json_out: Path | None) -> tuple[float, str]:
    cmd = ["Rscript", str(R_SCRIPT), str(export)]
    if json_out is not None:
        cmd += ["--json", str(json_out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=bench_env(), cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"Rscript failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return wall, proc.stdout + proc.stderr


def chapter_times(log: str) -> tuple[dict[str, float], float | None]:
    chapters, total = {}, None
    for line in log.splitlines():
        m = CHAPTER_LINE.match(line)
        if m:
            chapters[m.group(1)] = float(m.group(2))
        m = WROTE_LINE.match(line.strip())
        if m:
            total = float(m.group(1))
    return chapters, total


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": usable,
            "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version()}


# ---- agreement (untimed) -------------------------------------------------------------------------


def _rel(a, b) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def compare_models(ours: dict, r: dict) -> dict:
    """Largest relative HR difference over the terms both estimate; terms only one estimates."""
    both = [t for t in r if isinstance(ours.get(t), list) and r[t] is not None]
    worst = max(both, key=lambda t: _rel(ours[t][0], r[t][0]), default=None)
    return {
        "terms_compared": len(both),
        "max_rel_diff_hr": _rel(ours[worst][0], r[worst][0]) if worst else None,
        "worst_term": worst,
        "not_estimable_in_micromet_only": sorted(t for t in r if r[t] is not None
                                                 and not isinstance(ours.get(t), list)),
        "missing_in_r": sorted(t for t in ours if t not in r or r[t] is None),
    }


def agreement(keep: Path, r_json: Path, export: Path) -> dict:
    import pandas as pd

    from micromet import matching, pipeline
    from micromet.study import load_study

    mm = json.loads((keep / "micromet_results.json").read_text())
    for o, table in (("os", "table3"), ("bcsm", "table4")):  # the study's regression tables
        mm[o].update(mm[o]["models"][table])
    r = json.loads(r_json.read_text())
    e = "m_stage[M0(i+)]"
    out = {
        "cohort_final": {"micromet": mm["cohort"]["final"], "R": r["final"]},
        "matched": {"micromet": mm["matching"]["matched"], "R": r["matched"]},
        "caliper_distance": {"micromet": mm["matching"]["caliper_distance"],
                             "R": r["caliper_distance"]},
        "os_deaths": {"micromet": mm["os"]["events"], "R": r["os"]["deaths"]},
        "bc_deaths": {"micromet": mm["bcsm"]["events_cause"], "R": r["bcsm"]["events_cause"]},
        "exposure_hr": {
            f"{o} {model}": {"micromet": mm[o][model].get(e), "R": r[o][model].get(e)}
            for o in ("os", "bcsm") for model in ("univariable", "multivariable")},
    }
    # micromet's matching with its emulation of Debian's MatchIt 4.5.1, then the same models
    study = load_study(STUDY_FILE, data=export)
    cohort = pd.read_parquet(keep / "cohort.parquet")
    cohort["_treated"] = (cohort["m_stage"].astype(object) == study.exposure.exposed).astype(int)
    m = study.matching
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = matching.match(cohort, "_treated", study.matching_covariates, ratio=m.ratio,
                             caliper=m.caliper, std_caliper=m.std_caliper, replace=m.replace,
                             m_order=m.m_order, distance=m.distance, seed=study.seed,
                             abs_mode="int_trunc", row_check_451=True)
        matched = res.matched.drop(columns=["_treated"])
        work = keep / "emulated"
        pipeline.save_frame(matched, work, "matched")
        os_s = pipeline.os_chapter(study, work).summary
        bc_s = pipeline.bcsm_chapter(study, work).summary
        os_s.update(os_s["models"]["table3"])
        bc_s.update(bc_s["models"]["table4"])
    out["with_matchit_451_emulation"] = {
        "matched": pipeline.group_counts(matched, study),
        "os_deaths": {"micromet": os_s["events"], "R": r["os"]["deaths"]},
        "bc_deaths": {"micromet": bc_s["events_cause"], "R": r["bcsm"]["events_cause"]},
        "logrank_p": {"micromet": os_s["logrank"]["p"], "R": r["os"]["logrank"]["p"]},
        "gray_p": {"micromet": bc_s["gray"]["p"], "R": r["bcsm"]["gray"]["p"]},
        "multivariable_covariates_same": {
            "os": os_s["multivariable_covariates"] == r["os"]["multivariable_covariates"],
            "bcsm": bc_s["multivariable_covariates"] == r["bcsm"]["multivariable_covariates"]},
        **{f"{o} {model}": compare_models(s[model], r[o][model])
           for o, s in (("os", os_s), ("bcsm", bc_s))
           for model in ("univariable", "multivariable")},
    }
    return out


def _hr(v) -> str:
    return f"{v[0]:.4f} ({v[1]:.4f}-{v[2]:.4f}) p={v[3]:.3g}" if isinstance(v, list) else str(v)


def print_agreement(a: dict) -> None:
    print("\nagreement (untimed; micromet = MatchIt >= 4.5.4 logic, R = Debian MatchIt 4.5.1):")
    for key in ("cohort_final", "matched", "caliper_distance", "os_deaths", "bc_deaths"):
        print(f"  {key:<18} micromet {a[key]['micromet']}   R {a[key]['R']}")
    for key, v in a["exposure_hr"].items():
        print(f"  HR M0(i+) {key:<18} micromet {_hr(v['micromet'])}   R {_hr(v['R'])}")
    em = a["with_matchit_451_emulation"]
    print("  micromet re-matched with abs_mode='int_trunc', row_check_451=True (MatchIt 4.5.1):")
    print(f"    matched {em['matched']}; deaths {em['os_deaths']}; BC deaths {em['bc_deaths']}")
    print(f"    log-rank p {em['logrank_p']}; Gray p {em['gray_p']}; "
          f"same multivariable covariates {em['multivariable_covariates_same']}")
    for key in ("os univariable", "os multivariable", "bcsm univariable", "bcsm multivariable"):
        c = em[key]
        extra = (f"; not estimable in micromet only: {', '.join(c['not_estimable_in_micromet_only'])}"
                 if c["not_estimable_in_micromet_only"] else "")
        worst = f"{c['max_rel_diff_hr']:.2e} ({c['worst_term']})" if c["worst_term"] else "-"
        print(f"    {key:<19} {c['terms_compared']:>2} terms, max rel. HR diff {worst}{extra}")


# ---- main ----------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (micromet, R); default 3")
    parser.add_argument("--no-save", action="store_true", help="do not write results/*.json")
    parser.add_argument("--no-check", action="store_true", help="skip the agreement check")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"

    why = r_available()
    if why:
        print(f"bench_study_vs_r: skipped: {why}")
        return 0

    from micromet.study import load_study

    study = load_study(STUDY_FILE)
    t0 = time.perf_counter()
    export = ensure_export(study)
    print(f"export {export} (ready in {time.perf_counter() - t0:.1f} s, untimed)")
    print("OPENBLAS_NUM_THREADS=1 for both sides; wall seconds per subprocess")

    keep = Path(tempfile.mkdtemp(prefix="bench_vs_r_keep_"))
    times = {"micromet": [], "R": []}
    r_self, chapters, chapter_total = [], {}, []
    try:
        for k in range(1, args.rounds + 1):
            first = k == 1
            order = ("micromet", "R") if k % 2 == 1 else ("R", "micromet")
            line = []
            for side in order:
                if side == "micromet":
                    wall, log = run_micromet(export, keep if first else None)
                    ch, total = chapter_times(log)
                    for name, s in ch.items():
                        chapters.setdefault(name, []).append(s)
                    if total is not None:
                        chapter_total.append(total)
                else:
                    wall, log = run_r(export, keep / "r.json" if first else None)
                    m = R_ELAPSED.search(log)
                    if m:
                        r_self.append(float(m.group(1)))
                times[side].append(wall)
                line.append(f"{side} {wall:6.1f} s")
            print(f"  round {k}: " + ", ".join(line))

        med = {side: statistics.median(v) for side, v in times.items()}
        ratio = med["micromet"] / med["R"]
        own = f" (R's own proc.time: {statistics.median(r_self):.1f} s)" if r_self else ""
        print(f"median: micromet run {med['micromet']:.1f} s, R {med['R']:.1f} s{own}")
        print(f"ratio micromet / R = {ratio:.2f}")
        ch_med = {name: statistics.median(v) for name, v in chapters.items()}
        if ch_med:
            print("micromet's own log (median per chapter):")
            for name, s in ch_med.items():
                print(f"  {name:<24} {s:6.1f} s")
            if chapter_total:
                in_chapters = statistics.median(chapter_total)
                print(f"  {'chapters (wall)':<24} {in_chapters:6.1f} s (two chapters run at once "
                      "where neither needs the other); before the chapters "
                      f"(start-up, study check, pre-check of the export) and after: "
                      f"{med['micromet'] - in_chapters:.1f} s")

        agree = None
        if not args.no_check:
            agree = agreement(keep, keep / "r.json", export)
            print_agreement(agree)
        r_versions = json.loads((keep / "r.json").read_text()).get("versions", {})
    finally:
        shutil.rmtree(keep, ignore_errors=True)

    if not args.no_save:
        from micromet import __version__ as micromet_version

        results = HERE / "results"
        results.mkdir(exist_ok=True)
        record = {
            "what": "study A end to end: micromet run vs Rscript study_a.R, same export",
            "rounds": args.rounds,
            "seconds micromet run (median)": round(med["micromet"], 2),
            "seconds R (median)": round(med["R"], 2),
            "ratio micromet/R": round(ratio, 3),
            "date": dt.date.today().isoformat(),
            "times_s": {side: [round(x, 2) for x in v] for side, v in times.items()},
            "r_self_reported_s": [round(x, 2) for x in r_self],
            "micromet_chapters_median_s": {k: round(v, 2) for k, v in ch_med.items()},
            "machine": machine(),
            "env": {"OPENBLAS_NUM_THREADS": "1"},
            "versions": {**r_versions, "micromet": micromet_version},
            "agreement": agree,
        }
        path = results / "bench_study_vs_r.json"
        path.write_text(json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
