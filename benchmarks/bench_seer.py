"""Benchmark: read_export + tidy on a full-scale (325,000-row) SEER*Stat label export.

Writes a random but valid 30-column label export (comma, quoted header, CRLF, Nov 2024 names)
with its .dic into a temporary folder, then reads and tidies it in a fresh child process so that
the peak memory is that of reading alone. Also times the same export gzipped.

    .venv/bin/python benchmarks/bench_seer.py [--rows 325000]

Prints rows, wall-clock seconds (and CPU seconds of the process, all threads: a fairer figure on a
shared machine) for read_export and tidy, and peak memory (resident set size of the child,
and pyarrow's pool peak).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

NAMES = [
    "Patient ID", "Age recode with single ages and 90+", "Sex", "Year of diagnosis",
    "Race recode (W, B, AI, API)", "Marital status at diagnosis", "Primary Site - labeled",
    "Histologic Type ICD-O-3", "ICD-O-3 Hist/behav", "Grade Clinical (2018+)",
    "Grade Pathological (2018+)", "Derived Summary Grade 2018 (2018+)",
    "Derived EOD 2018 T Recode (2018+)", "Derived EOD 2018 N Recode (2018+)",
    "Derived EOD 2018 M Recode (2018+)", "Derived EOD 2018 Stage Group Recode (2018+)",
    "Tumor Size Summary (2016+)", "ER Status Recode Breast Cancer (1990+)",
    "PR Status Recode Breast Cancer (1990+)", "Derived HER2 Recode (2010+)",
    "Breast Subtype (2010+)", "Laterality", "Sequence number", "First malignant primary indicator",
    "Survival months", "Survival months flag", "Vital status recode (study cutoff used)",
    "SEER cause-specific death classification", "SEER other cause of death classification",
    "COD to site recode",
]

GRADES = ["1", "2", "3", "9", "A", "B", "C", "D", "L", "M", "H", "Blank(s)"]
RECEPTOR = ["Positive", "Negative", "Borderline/Unknown", "Recode not available"]
HISTOLOGY = {
    "8500": "8500/3: Infiltrating duct carcinoma, NOS",
    "8520": "8520/3: Lobular carcinoma, NOS",
    "8522": "8522/3: Infiltrating duct and lobular carcinoma",
    "8480": "8480/3: Mucinous adenocarcinoma",
}
SIMPLE = {
    "Sex": ["Female", "Male"],
    "Year of diagnosis": ["2018", "2019", "2020", "2021", "2022"],
    "Race recode (W, B, AI, API)": ["White", "Black", "American Indian/Alaska Native",
                                    "Asian or Pacific Islander", "Unknown"],
    "Marital status at diagnosis": ["Single (never married)", "Married (including common law)",
                                    "Separated", "Divorced", "Widowed", "Unknown"],
    "Primary Site - labeled": ["C50.4-Upper-outer quadrant of breast", "C50.9-Breast, NOS",
                               "C50.2-Upper-inner quadrant of breast"],
    "Grade Clinical (2018+)": GRADES,
    "Grade Pathological (2018+)": GRADES,
    "Derived Summary Grade 2018 (2018+)": GRADES,
    "Derived EOD 2018 T Recode (2018+)": ["T1mi", "T1a", "T1b", "T1c", "T1", "T2", "T3", "T4",
                                          "T4a", "T4b", "T4c", "T4d", "TX", "T0", "Tis(DCIS)",
                                          "88"],
    "Derived EOD 2018 N Recode (2018+)": ["N0", "N0(i+)", "N0(mol+)", "N1mi", "N1", "N1a",
                                          "N1b", "N2a", "N3", "N3a", "NX", "88"],
    "Derived EOD 2018 M Recode (2018+)": ["M0", "M0(i+)"],
    "Derived EOD 2018 Stage Group Recode (2018+)": ["1A", "1B", "2A", "2B", "3A", "3B", "3C",
                                                    "99"],
    "ER Status Recode Breast Cancer (1990+)": RECEPTOR,
    "PR Status Recode Breast Cancer (1990+)": RECEPTOR,
    "Derived HER2 Recode (2010+)": RECEPTOR,
    "Breast Subtype (2010+)": ["HR+/HER2-", "HR+/HER2+", "HR-/HER2+", "HR-/HER2-", "Unknown",
                               "Recode not available"],
    "Laterality": ["Right - origin of primary", "Left - origin of primary"],
    "Sequence number": ["One primary only", "1st of 2 or more primaries",
                        "2nd of 2 or more primaries"],
    "First malignant primary indicator": ["Yes", "No"],
    "Survival months flag": [
        "Complete dates are available and there are more than 0 days of survival",
        "Complete dates are available and there are 0 days of survival"],
}
# vital status, cause-specific, other cause, COD to site recode: consistent combinations
OUTCOMES = [
    ("Alive", "Alive or dead of other cause", "Alive or dead due to cancer", "Alive"),
    ("Dead", "Dead (attributable to this cancer dx)", "Alive or dead due to cancer", "Breast"),
    ("Dead", "Alive or dead of other cause",
     "Dead (attributable to causes other than this cancer dx)", "Diseases of Heart"),
    ("Dead", "Dead (missing/unknown COD)", "Dead (missing/unknown COD)",
     "State DC not available or state DC available but no COD"),
    ("Dead", "N/A not seq 0-59", "N/A not seq 0-59", "Breast"),
]


def make_export(rows: int, folder: Path, seed: int = 2025) -> Path:
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {"Patient ID": np.char.zfill(
        rng.permutation(10**7)[:rows].astype(str), 8)}
    ages = np.array([f"{a:02d} years" for a in range(18, 90)] + ["90+ years"])
    cols["Age recode with single ages and 90+"] = ages[rng.integers(0, len(ages), rows)]
    hist = np.array(list(HISTOLOGY))
    h = rng.integers(0, len(hist), rows)
    cols["Histologic Type ICD-O-3"] = hist[h]
    cols["ICD-O-3 Hist/behav"] = np.array(list(HISTOLOGY.values()))[h]
    for name, labels in SIMPLE.items():
        cols[name] = np.array(labels)[rng.integers(0, len(labels), rows)]
    sizes = np.array([f"{s:03d}" for s in range(0, 990)] + ["990", "998", "999", "Blank(s)"])
    cols["Tumor Size Summary (2016+)"] = sizes[rng.integers(0, len(sizes), rows)]
    months = np.array([f"{m:04d}" for m in range(60)] + ["Unknown"])
    cols["Survival months"] = months[rng.integers(0, len(months), rows)]
    outcome = rng.choice(len(OUTCOMES), size=rows, p=[0.8, 0.08, 0.08, 0.02, 0.02])
    for j, name in enumerate(NAMES[-4:]):
        cols[name] = np.array([o[j] for o in OUTCOMES])[outcome]
    frame = pd.DataFrame({name: cols[name] for name in NAMES})

    data = folder / "export.csv"
    with open(data, "w", newline="", encoding="utf-8") as fh:
        fh.write(",".join(f'"{n}"' for n in NAMES) + "\r\n")
        frame.to_csv(fh, header=False, index=False, lineterminator="\r\n",
                     quoting=csv.QUOTE_MINIMAL)
    dic = ["[System]", "Output filename=C:\\SEER\\export.csv", "", "[Export Options]",
           "GZipped=false", "Variable format=labels", "File format=DOS/Windows",
           "Field delimiter=comma", "Missing character=space",
           "Fields with delimiter in quotes=true", "Variable names included=true", "",
           "[Variables]"]
    for i, n in enumerate(NAMES, start=1):
        dic += [f"Var{i}Name={n}", f"Var{i}DisplayType=Formatted"]
    (folder / "export.dic").write_text("\r\n".join(dic) + "\r\n", encoding="utf-8")
    return data


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss survives exec, so it would count
    the parent's memory at fork time)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(path: str) -> None:
    """Child process: read + tidy once, print one line of figures."""
    import pyarrow as pa

    from micromet.seer import read_export, tidy

    t0, c0 = time.perf_counter(), time.process_time()
    raw = read_export(path)
    t1, c1 = time.perf_counter(), time.process_time()
    out = tidy(raw)
    t2, c2 = time.perf_counter(), time.process_time()
    rss_mb = peak_rss_mb()
    arrow_mb = pa.default_memory_pool().max_memory() / 2**20
    print(f"{len(out)}\t{t1 - t0:.2f} ({c1 - c0:.2f})\t{t2 - t1:.2f} ({c2 - c1:.2f})\t"
          f"{rss_mb:.0f}\t{arrow_mb:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=325_000)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    folder = Path(tempfile.mkdtemp(prefix="bench_seer_"))
    try:
        t = time.perf_counter()
        data = make_export(args.rows, folder)
        made = time.perf_counter() - t
        gz = folder / "export_gz.csv.gz"
        with open(data, "rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst)
        shutil.copy(folder / "export.dic", folder / "export_gz.dic")
        print(f"export: {args.rows:,} rows x {len(NAMES)} columns, "
              f"{data.stat().st_size / 1e6:.0f} MB ({gz.stat().st_size / 1e6:.0f} MB gzipped), "
              f"written in {made:.1f} s")
        print("file\trows\tread_export s (cpu s)\ttidy s (cpu s)\tpeak RSS MB\t"
              "pyarrow pool peak MB")
        for path in (data, gz):
            result = subprocess.run([sys.executable, __file__, "--measure", str(path)],
                                    capture_output=True, text=True, check=True)
            print(f"{path.name}\t{result.stdout.strip()}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
