"""micromet.synth: the synthetic SEER*Stat export (format, consistency, margins, truth, cache)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from micromet import synth
from micromet.errors import InputError

SMALL = 0.02


@pytest.fixture(scope="module")
def small_export(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth_small")
    path = synth.write_seer_extract(d, seed=7, scale=SMALL)
    raw, truth = synth.generate_rows(7, scale=SMALL)
    return path, raw, truth


# ---------------------------------------------------------------------------------- pure parts


def test_receptor_table_has_the_published_margins():
    for group, pc in synth.PUBLISHED_COUNTS.items():
        t = synth.receptor_table(pc)
        assert t["n"].sum() == pc["n"]
        assert (t["n"] >= 0).all()
        assert t.loc[t.er == "Positive", "n"].sum() == pc["ER+"], group
        assert t.loc[t.pr == "Positive", "n"].sum() == pc["PR+"], group
        assert t.loc[t.her2 == "Positive", "n"].sum() == pc["HER2+"], group
        for s in synth.SUBTYPES:
            assert t.loc[t.subtype == s, "n"].sum() == pc[s], (group, s)
        hr_pos = (t.er == "Positive") | (t.pr == "Positive")
        assert (hr_pos == t.subtype.str.startswith("HR+")).all()
        assert ((t.her2 == "Positive") == t.subtype.str.endswith("HER2+")).all()
    m0 = synth.receptor_table(synth.PUBLISHED_COUNTS["M0"]).groupby(["er", "pr"])["n"].sum()
    assert m0[("Negative", "Positive")] == 2466
    assert m0[("Positive", "Positive")] == 210148
    assert m0[("Positive", "Negative")] == 32004


def test_receptor_table_rejects_inconsistent_counts():
    bad = dict(synth.PUBLISHED_COUNTS["M0(i+)"], **{"ER+": 600})
    with pytest.raises(InputError, match="HR\\+ = ER\\+ or PR\\+"):
        synth.receptor_table(bad)


@pytest.mark.parametrize("n", [585, 1001, 283503])
def test_placed_values_hit_the_quartiles_exactly(n):
    sizes = synth.placed_sizes(n, (10, 16, 27), n // 20)
    assert np.quantile(sizes, [0.25, 0.5, 0.75]).tolist() == [10, 16, 27]
    assert (sizes > 50).sum() == n // 20
    assert sizes.min() >= 1 and np.all(np.diff(sizes) >= 0)
    ages = synth.placed_ages(n, (52, 61, 70))
    assert np.quantile(ages, [0.25, 0.5, 0.75]).tolist() == [52, 61, 70]
    assert ages.min() >= 18 and ages.max() <= 89


def test_exclusion_plan_totals_are_the_papers():
    plan = synth.exclusion_plan()
    assert plan["M0"].sum() == 323891 - 283503
    assert plan["M0(i+)"].sum() == 680 - 585
    assert list(dict.fromkeys(plan["step"])) == [
        "female", "age 18-89", "grade known", "not Tis or T0", "complete information",
        "known cause of death"]


def test_params_validation_and_roundtrip():
    p = synth.SynthParams()
    assert synth.SynthParams.from_dict(p.to_dict()) == p
    assert p.key(1) != p.key(2) and p.key(1) == synth.SynthParams().key(1)
    with pytest.raises(InputError, match="p_bc"):
        synth.SynthParams(p_bc=1.5)
    with pytest.raises(InputError, match="unknown synthetic parameter"):
        synth.SynthParams.from_dict({"p_bcc": 0.1})
    with pytest.raises(InputError, match="hazard ratio"):
        synth.SynthParams(shr_bc={"age": -1.0})


def test_defaults_are_calibrated_to_the_published_matched_events():
    e1, e2 = synth.expected_matched_events()
    assert abs(e1 - 47) < 0.05 and abs(e2 - 35) < 0.05


def test_simulated_outcomes_follow_the_fine_gray_design():
    # one binary covariate; P(cause 1 | x) = 1 - (1 - p)^exp(beta x), F1(t) as in the docstring
    n = 200_000
    x = np.repeat(["M0", "M0(i+)"], n // 2)
    frame = pd.DataFrame({"m_stage": x})
    params = synth.SynthParams(shr_bc={"m_stage[M0(i+)]": 2.0}, hr_other={"m_stage[M0(i+)]": 0.5},
                               p_bc=0.3, rate_bc=0.05, rate_other=0.01, reference={})
    followup = np.full(n, 1e9)  # no censoring
    time, cause = synth.simulate_outcomes(frame, followup, params, rng=1)
    for level, k in (("M0", 1.0), ("M0(i+)", 2.0)):
        sel = x == level
        p1 = 1 - (1 - 0.3) ** k
        se = np.sqrt(p1 * (1 - p1) / sel.sum())
        assert abs((cause[sel] == 1).mean() - p1) < 4 * se
        t0 = 20.0
        f1 = 1 - (1 - 0.3 * (1 - np.exp(-0.05 * t0))) ** k
        emp = ((cause[sel] == 1) & (time[sel] <= t0)).mean()
        assert abs(emp - f1) < 4 * np.sqrt(f1 * (1 - f1) / sel.sum())
        # cause-2 times are exponential with rate 0.01 * hr
        rate2 = 0.01 * (0.5 if level == "M0(i+)" else 1.0)
        t2 = time[sel & (cause == 2)]
        assert abs(t2.mean() * rate2 - 1) < 4 / np.sqrt(t2.size)
    followup = np.full(n, 12.0)
    time, cause = synth.simulate_outcomes(frame, followup, params, rng=1)
    assert time.max() <= 12.0 and set(np.unique(cause)) == {0, 1, 2}
    assert np.all(time[cause == 0] == 12.0)


# ---------------------------------------------------------------------------------- the file


def test_export_format(small_export):
    path, raw, _ = small_export
    data = path.read_bytes()
    lines = data.split(b"\r\n")
    assert lines[-1] == b"" and b"\n" not in data.replace(b"\r\n", b"")
    header = lines[0].decode()
    assert header == ",".join(f'"{c}"' for c in synth.EXPORT_COLUMNS)
    assert len(lines) - 2 == len(raw)
    body = "\r\n".join(x.decode() for x in lines[1:-1])
    # a value is quoted exactly when it holds a comma
    assert '"C50.9-Breast, NOS"' in body
    assert '"Female"' not in body and '"8500"' not in body
    dic = path.with_suffix(".dic").read_bytes().decode()
    assert "\r\n" in dic
    assert f"Database name={synth.DATABASE_NAME}\r\n" in dic
    assert "(SYNTHETIC)" in dic.split("Title1=")[1].split("\r\n")[0]
    for line in ("Variable format=labels", "File format=DOS/Windows", "Field delimiter=comma",
                 "Fields with delimiter in quotes=true", "Variable names included=true",
                 "Type=Case Listing"):
        assert line + "\r\n" in dic
    for i, name in enumerate(synth.EXPORT_COLUMNS, start=1):
        assert f"Var{i}Name={name}\r\n" in dic
        assert f"Var{i}DisplayType=Formatted\r\n" in dic
    truth = json.loads((path.parent / "truth.json").read_text())
    assert truth["synthetic"] is True and truth["seed"] == 7
    assert truth["params"]["shr_bc"]["m_stage[M0(i+)]"] == 1.273
    assert truth["log_shr_bc"]["m_stage[M0(i+)]"] == pytest.approx(np.log(1.273))


def test_export_labels_are_consistent(small_export):
    _, raw, truth = small_export
    assert raw["Patient ID"].is_unique and raw["Patient ID"].str.fullmatch(r"\d{8}").all()
    assert raw["Patient ID"].is_monotonic_increasing
    vital = raw["Vital status recode (study cutoff used)"]
    cs = raw["SEER cause-specific death classification"]
    oc = raw["SEER other cause of death classification"]
    cod = raw["COD to site recode"]
    alive = vital == "Alive"
    assert (cs[alive] == synth.CS_ALIVE).all() and (oc[alive] == synth.OC_ALIVE).all()
    assert (cod[alive] == "Alive").all()
    bc = cs == synth.CS_DEAD
    assert (vital[bc] == "Dead").all() and (oc[bc] == synth.OC_ALIVE).all()
    assert (cod[bc] == "Breast").all()
    other = oc == synth.OC_DEAD
    assert (vital[other] == "Dead").all() and (cs[other] == synth.CS_ALIVE).all()
    assert (~cod[other].isin(["Alive", "Breast"])).all()
    unk = cs == synth.UNKNOWN_COD
    assert (oc[unk] == synth.UNKNOWN_COD).all() and (vital[unk] == "Dead").all()
    assert unk.sum() == (truth["excluded_for"] == "dead, cause unknown").sum() > 0
    surv = raw["Survival months"]
    unknown_surv = surv == "Unknown"
    assert unknown_surv.sum() > 0
    assert (truth.loc[unknown_surv, "excluded_for"] != "").all()
    assert (vital[unknown_surv] == "Dead").all()
    months = surv[~unknown_surv].astype(int)
    assert months.between(0, 59).all()
    flag = raw["Survival months flag"]
    assert (flag[unknown_surv] == synth.FLAG_DCO).all()
    assert (~flag[months.index[months > 0]].isin([synth.FLAG_ZERO, synth.FLAG_INC_COULD])).all()
    assert raw["Year of diagnosis"].isin([str(y) for y in range(2018, 2023)]).all()
    m = raw["Derived EOD 2018 M Recode (2018+)"]
    assert set(m) == {"M0", "M0(i+)"}
    assert (raw["Derived EOD 2018 Stage Group Recode (2018+)"] != "4").all()
    # subtype agrees with ER/PR/HER2 (HR+ = ER+ or PR+)
    er = raw["ER Status Recode Breast Cancer (1990+)"]
    pr = raw["PR Status Recode Breast Cancer (1990+)"]
    her2 = raw["Derived HER2 Recode (2010+)"]
    sub = raw["Breast Subtype (2010+)"]
    known = sub != "Unknown"
    hr = np.where((er == "Positive") | (pr == "Positive"), "HR+", "HR-")
    expect = pd.Series(hr, index=raw.index) + "/HER2" + np.where(her2 == "Positive", "+", "-")
    assert (sub[known] == expect[known]).all()
    assert ((er == "Borderline/Unknown") | (pr == "Borderline/Unknown")
            | (her2 == "Borderline/Unknown"))[~known].all()
    # tumour size agrees with T (AJCC 8)
    size = raw["Tumor Size Summary (2016+)"]
    t = raw["Derived EOD 2018 T Recode (2018+)"]
    real = size.str.fullmatch(r"\d{3}") & ~size.isin(["000", "990", "998", "999"])
    mm = size[real].astype(int)
    tt = t[real]
    assert (mm[tt == "T3"] > 50).all() and (mm[tt == "T2"].between(21, 50)).all()
    assert (mm[tt == "T1c"].between(11, 20)).all() and (mm[tt == "T1a"].between(2, 5)).all()
    assert ((mm > 50) <= ((tt == "T3") | tt.str.startswith("T4") | tt.isin(["TX", "Tis(DCIS)",
                                                                              "Tis(Paget)"]))).all()
    hist = raw["Histologic Type ICD-O-3"]
    assert (raw["ICD-O-3 Hist/behav"].str[:4] == hist).all()


def test_generation_is_deterministic(small_export, tmp_path):
    path, _, _ = small_export
    again = synth.write_seer_extract(tmp_path / "again", seed=7, scale=SMALL)
    assert again.read_bytes() == path.read_bytes()
    assert again.with_suffix(".dic").read_bytes() == path.with_suffix(".dic").read_bytes()
    other = synth.write_seer_extract(tmp_path / "other", seed=8, scale=SMALL)
    assert hashlib.sha256(other.read_bytes()).digest() != hashlib.sha256(
        path.read_bytes()).digest()


def test_synthetic_extract_caches_atomically(tmp_path, monkeypatch):
    p1 = synth.synthetic_extract(5, cache_dir=tmp_path, scale=0.005)
    stamp = p1.stat().st_mtime_ns
    p2 = synth.synthetic_extract(5, cache_dir=tmp_path, scale=0.005)
    assert p1 == p2 and p2.stat().st_mtime_ns == stamp
    assert p1.parent.name == f"seer_m0i-{synth.SynthParams().key(5, 0.005)}"
    assert not [q for q in tmp_path.iterdir() if q.name.startswith(".tmp")]
    p3 = synth.synthetic_extract(5, {"p_bc": 0.02}, cache_dir=tmp_path, scale=0.005)
    assert p3.parent != p1.parent
    monkeypatch.setenv("MICROMET_CACHE", str(tmp_path / "env"))
    p4 = synth.synthetic_extract(5, scale=0.005)
    assert p4.parent.parent == tmp_path / "env"
    assert p4.read_bytes() == p1.read_bytes()


def test_cli_synth_writes_the_export(tmp_path):
    path = synth.cli_synth(tmp_path, seed=3, n_scale=0.003)
    assert path.exists() and path.with_suffix(".dic").exists()
    assert (tmp_path / "truth.json").exists()


def test_scale_must_be_positive(tmp_path):
    with pytest.raises(InputError, match="scale"):
        synth.write_seer_extract(tmp_path, scale=0)


def test_m0i_factor_scales_the_exposed_group_only():
    params = synth.SynthParams(m0i_factor=10.0)
    _, truth = synth.generate_rows(2, params, scale=0.05)
    m0i = truth[truth["group"] == "M0(i+)"]
    m0 = truth[truth["group"] == "M0"]
    assert (m0i["excluded_for"] == "").sum() == round(585 * 0.05 * 10)
    n_excl = synth.exclusion_plan(0.05, 10.0)["M0(i+)"].sum()
    assert len(m0i) - (m0i["excluded_for"] == "").sum() == n_excl > 40
    assert (m0["excluded_for"] == "").sum() == round(283503 * 0.05)
    assert len(m0) - (m0["excluded_for"] == "").sum() == synth.exclusion_plan(0.05)["M0"].sum()
