"""How the default seed of the synthetic SEER extract was chosen (and how a given seed fares).

For each seed: generate the extract, read it back, apply the paper's criteria, match 1:2 on the
paper's ten covariates (caliper 0.2 SD of the logit), and print the matched set's size, deaths,
breast-cancer and other deaths, and the univariable M0(i+) estimates (Cox HR for overall survival,
Fine-Gray SHR for breast-cancer mortality) beside the paper's (1,755; 82; 47; 35; HR 0.803;
SHR 1.386), and the matched ER-PR+ patients with (in brackets) their breast-cancer deaths: with
none, ER and the HR-negative subtypes are not estimable together in a Fine-Gray model on the
matched set. ``micromet.synth.DEFAULT_SEED`` (34) is the seed of 1-70 whose breast-cancer and
other deaths are nearest the paper's by a chi-square-like distance (34 and 58 both land on
82/47/35; ties go to the lower seed). About 15-20 s a seed; seeds 1-70 took 11 minutes as two
processes of 35 seeds on a 2-core machine (generator version 4).

    python benchmarks/seed_search.py 1 2 3 34
"""

from __future__ import annotations

import sys
import tempfile
import warnings

from micromet import cohort, competing, matching, seer, survival, synth

COVARIATES = ["age", "tumor_size_mm", "histology", "grade", "er", "pr", "her2", "subtype",
              "t_stage", "n_stage"]
PAPER = {"deaths": 82, "bc": 47, "other": 35}


def matched_summary(seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        frame = seer.tidy(seer.read_export(synth.write_seer_extract(tmp, seed=seed)))
    data = cohort.build_cohort(frame, cohort.PAPER_CRITERIA, group="m_stage").data
    data = data[data["m_stage"].isin(["M0", "M0(i+)"])].copy()
    data["m0i"] = (data["m_stage"] == "M0(i+)").astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = matching.match(data, "m0i", COVARIATES, ratio=2, caliper=0.2).matched
        hr = survival.cox(m, "time_months", "vital", ["m0i"]).table.loc["m0i"]
        shr = competing.fine_gray(m, "time_months", "event", ["m0i"]).table.loc["m0i"]
    er_pr = (m["er"] == "Negative") & (m["pr"] == "Positive")
    out = {"seed": seed, "n": len(m), "deaths": int(m["vital"].sum()),
           "bc": int((m["event"] == 1).sum()), "other": int((m["event"] == 2).sum()),
           "os_hr": hr["hr"], "os_p": hr["p"], "shr": shr["hr"], "shr_p": shr["p"],
           "erpr_n": int(er_pr.sum()), "erpr_bc": int((er_pr & (m["event"] == 1)).sum())}
    out["distance"] = sum((out[k] - v) ** 2 / v for k, v in PAPER.items() if k != "deaths")
    return out


def main(argv: list[str]) -> None:
    seeds = [int(a) for a in argv] or [synth.DEFAULT_SEED]
    print("seed      n  deaths  bc  other  OS HR (p)      SHR (p)        distance  ER-PR+ (bc)")
    for seed in seeds:
        r = matched_summary(seed)
        print(f"{r['seed']:>4} {r['n']:>6} {r['deaths']:>7} {r['bc']:>3} {r['other']:>6}  "
              f"{r['os_hr']:.3f} ({r['os_p']:.3f})  {r['shr']:.3f} ({r['shr_p']:.3f})  "
              f"{r['distance']:>8.3f}  {r['erpr_n']:>6} ({r['erpr_bc']})", flush=True)
    print("paper: 1755 matched, 82 deaths, 47 breast cancer, 35 other; HR 0.803, SHR 1.386")


if __name__ == "__main__":
    main(sys.argv[1:])
