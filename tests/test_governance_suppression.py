"""Complementary suppression (micromet.governance.protect): no count below min_cell can be worked
out from the published ones. An adversary independent of the code under test tries every
linear derivation a reader can do on the published numbers (a step's remaining minus the next,
a total minus the other groups, a group's n minus the other levels, and chains of these, by
exhaustive elimination over the published equations) and must recover nothing."""

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from micromet import governance as g

MIN_CELL = 11


def recoverable(values: dict, equations: list[dict], withheld: dict) -> dict:
    """The withheld cells an adversary pins down: Gaussian elimination of the equations over
    the unknowns (no bounds used), then, for what elimination leaves, brute force over the small
    ones' possible values (1..10) where few unknowns remain in an equation."""
    unknown = sorted(withheld, key=str)
    index = {c: i for i, c in enumerate(unknown)}
    rows = []
    for eq in equations:
        if not any(c in index for c in eq):
            continue
        row = np.zeros(len(unknown) + 1)
        for c, coef in eq.items():
            if c in index:
                row[index[c]] += coef
            else:
                row[-1] -= coef * values[c]
        rows.append(row)
    found = {}
    if not rows:
        return found
    a = np.array(rows, dtype=float)
    # reduced row echelon form
    r = 0
    for col in range(len(unknown)):
        pivot = next((i for i in range(r, len(a)) if abs(a[i, col]) > 1e-9), None)
        if pivot is None:
            continue
        a[[r, pivot]] = a[[pivot, r]]
        a[r] /= a[r, col]
        for i in range(len(a)):
            if i != r and abs(a[i, col]) > 1e-9:
                a[i] -= a[i, col] * a[r]
        r += 1
    for row in a[:r]:
        nonzero = [i for i in range(len(unknown)) if abs(row[i]) > 1e-9]
        if len(nonzero) == 1:
            found[unknown[nonzero[0]]] = row[-1]
    # bounded brute force: an equation left with few small unknowns whose values are forced
    for row in a[:r]:
        nonzero = [i for i in range(len(unknown)) if abs(row[i]) > 1e-9]
        small = [i for i in nonzero if withheld[unknown[i]] != g.SUPPRESSED]
        if len(nonzero) != len(small) or not 1 < len(small) <= 4:
            continue
        solutions = [combo for combo in itertools.product(range(1, MIN_CELL), repeat=len(small))
                     if abs(sum(row[i] * v for i, v in zip(small, combo)) - row[-1]) < 1e-9]
        for k, i in enumerate(small):
            options = {s[k] for s in solutions}
            if len(options) == 1:
                found[unknown[i]] = options.pop()
    return {c: v for c, v in found.items() if withheld[c] != g.SUPPRESSED}


def flow_of(rows, levels=("A", "B")):
    columns = ["step", "excluded", "remaining"]
    for lv in levels:
        columns += [f"excluded[{lv}]", f"remaining[{lv}]"]
    return pd.DataFrame(rows, columns=columns)


def test_the_issue_example_412_409_403_is_protected():
    flow = flow_of([["extracted", None, 412, None, 400, None, 12],
                    ["a", 3, 409, 2, 398, 1, 11],
                    ["b", 6, 403, 6, 392, 0, 11]])
    values, equations = g.flow_equations(flow, ["A", "B"])
    withheld = g.protect(values, equations, min_cell=MIN_CELL)
    small = {c for c, v in values.items() if 1 <= v < MIN_CELL}
    assert {c for c, label in withheld.items() if label == "<11"} == small
    assert g.SUPPRESSED in withheld.values()  # 412 - 409 = 3 must not stand
    assert recoverable(values, equations, withheld) == {}
    # without the secondary suppression the adversary succeeds: the check can fail
    primary_only = {c: "<11" for c in small}
    assert recoverable(values, equations, primary_only)


def test_table_counts_and_group_sizes_are_protected():
    counts = {"grade": {"counts": {"I-II": [21, 9], "III": [40, 3]}},
              "er": {"counts": {"Negative": [5, 2], "Positive": [56, 10]}}}
    values, equations = g.table_equations(counts, [61, 12])
    withheld = g.protect(values, equations, min_cell=MIN_CELL)
    assert recoverable(values, equations, withheld) == {}
    assert recoverable(values, equations, {c: "<11" for c, v in values.items()
                                           if 1 <= v < MIN_CELL})


@pytest.mark.parametrize("seed", range(25))
def test_random_flows_and_tables_are_protected(seed):
    rng = np.random.default_rng(seed)
    n = [int(rng.integers(5, 400)), int(rng.integers(3, 30))]
    rows = [["extracted", None, sum(n), None, n[0], None, n[1]]]
    remaining = list(n)
    for step in range(int(rng.integers(2, 6))):
        excl = [int(rng.integers(0, min(r, 15) + 1)) for r in remaining]
        remaining = [r - e for r, e in zip(remaining, excl)]
        rows.append([f"s{step}", sum(excl), sum(remaining), excl[0], remaining[0], excl[1],
                     remaining[1]])
    values, equations = g.flow_equations(flow_of(rows), ["A", "B"])
    withheld = g.protect(values, equations, min_cell=MIN_CELL)
    assert recoverable(values, equations, withheld) == {}


@pytest.mark.slow
def test_a_real_mode_run_publishes_no_recoverable_count(tmp_path):
    """A real-mode run on a small extract full of small cells: the published results.json (and
    the unmasked data/results.json beside the row-level data) through the adversary."""
    from micromet import synth
    from micromet.run import run_study

    export = synth.synthetic_extract(20251, None, tmp_path / "cache", scale=0.01)
    out = run_study(Path(__file__).resolve().parent.parent / "studies" / "seer_m0i.yml",
                    data=export, out=tmp_path / "out", log=lambda m: None,
                    overrides=["chapters=[01_cohort, 02_matching, 03_overall_survival, 04_bcsm]"])
    public = json.loads((out / "results.json").read_text())
    private = json.loads((out / "data" / "results.json").read_text())
    levels = ["M0", "M0(i+)"]
    true_flow = pd.DataFrame(private["cohort"]["flow"])
    values, equations = g.flow_equations(true_flow, levels)
    tv, teq = g.table_equations(private["cohort"]["table1"]["categorical"],
                                private["cohort"]["table1"]["n"])
    values.update(tv)
    equations += teq
    last = len(true_flow) - 1
    equations += [{("n", j): 1, (last, f"remaining[{lv}]"): -1} for j, lv in enumerate(levels)]
    # what the published file withholds, cell by cell
    shown = {}
    for i, record in enumerate(public["cohort"]["flow"]):
        for key, value in record.items():
            if key != "step" and value is not None:
                shown[(i, key)] = value
    shown.update({("n", j): v for j, v in enumerate(public["cohort"]["table1"]["n"])})
    for var, block in public["cohort"]["table1"]["categorical"].items():
        for level, per_group in block["counts"].items():
            shown.update({(var, level, j): v for j, v in enumerate(per_group)})
    withheld = {c: v for c, v in shown.items() if isinstance(v, str)}
    small = [c for c, v in values.items() if 1 <= v < MIN_CELL]
    assert small, "the extract must have small cells for this test to mean anything"
    assert all(shown[c] == "<11" for c in small)  # every small count masked
    for c, v in shown.items():  # and every number shown is the true one
        if not isinstance(v, str):
            assert v == values[c], c
    assert recoverable(values, equations, withheld) == {}
    # the matched groups, and the analysed total beside them (total - shown group = hidden one)
    matched = private["matching"]["matched"]
    assert min(matched.values()) < MIN_CELL  # the case this test is about
    for lv, n in matched.items():
        assert public["matching"]["matched"][lv] == ("<11" if n < MIN_CELL else n)
    for section in ("os", "bcsm"):
        assert private[section]["n"] == sum(matched.values())
        assert isinstance(public[section]["n"], str), section
    # the export is named by its file name and fingerprint, never by where it lives; no seed
    assert public["study"]["source"] == export.name and "seed" not in public["study"]
    assert len(public["study"]["source_sha256"]) == 64
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".ipynb"):
            assert str(export.parent) not in path.read_text(encoding="utf-8"), path.name


def test_a_small_groups_curve_is_not_drawn_with_a_real_source():
    import matplotlib

    matplotlib.use("Agg")
    from types import SimpleNamespace

    from micromet import pipeline
    from micromet.study import load_study

    study = load_study("seer_m0i", data=__file__)  # any existing file: a real source
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"time_months": rng.integers(1, 60, 60).astype(float),
                         "vital": rng.integers(0, 2, 60),
                         "m_stage": pd.Categorical(["M0"] * 53 + ["M0(i+)"] * 7,
                                                   categories=["M0", "M0(i+)"])})
    kept, hidden = pipeline.without_small_groups(data, study)
    assert hidden == ["M0(i+)"] and len(kept) == 53
    assert list(kept["m_stage"].cat.categories) == ["M0"]
    result = SimpleNamespace(study=study, outcome=study.outcomes["os"], data=data,
                             logrank=SimpleNamespace(p_value=0.5))
    figure = pipeline.km_figure(result)
    texts = [t.get_text() for ax in figure.get_axes() for t in ax.texts]
    assert any("Not drawn (fewer than 11 patients): M0(i+)" in t for t in texts)
    assert "7" not in texts  # its number at risk is gone with it
    synthetic = load_study("seer_m0i")
    assert pipeline.without_small_groups(data, synthetic)[1] == []
