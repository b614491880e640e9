"""micromet.matching: tie rules, a brute-force reference, separation, bad input."""

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from micromet.errors import InputError, NotEstimableWarning
from micromet.matching import (
    MatchingWarning,
    balance,
    balance_table,
    fit_propensity,
    match,
    nearest_neighbor,
)


def _frame(distance, treat, index=None):
    return pd.DataFrame({"treat": treat, "d": distance}, index=index)


def _match_on(df, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MatchingWarning)
        return match(df, "treat", [], distance=df["d"], **kwargs)


# ------------------------------------------------------------------ tie rules (METHODS 1.3-1.4)


def test_equal_gap_goes_left_to_the_last_tied_control_in_data_order():
    # METHODS 1.4: c1, c2, c3 at 0.25 and c4, c5 at 0.75; the treated unit at 0.5 gets c3
    df = _frame([0.25, 0.25, 0.25, 0.5, 0.75, 0.75], [0, 0, 0, 1, 0, 0],
                index=["c1", "c2", "c3", "t", "c4", "c5"])
    res = _match_on(df)
    assert res.match_matrix.loc["t", 1] == "c3"
    res2 = _match_on(df, ratio=3)
    assert list(res2.match_matrix.loc["t"]) == ["c3", "c2", "c1"]


def test_floating_point_gaps_as_written():
    # |0.3 - 0.5| > |0.7 - 0.5| in IEEE doubles: the right-hand control wins
    assert abs(0.3 - 0.5) > abs(0.7 - 0.5)
    df = _frame([0.3, 0.5, 0.7], [0, 1, 0], index=["left", "t", "right"])
    assert _match_on(df).match_matrix.loc["t", 1] == "right"


def test_control_with_the_treated_units_distance():
    # equal distance: a later control sits to the right of the treated unit, an earlier one left
    df = _frame([0.5, 0.5, 0.2, 0.5], [0, 1, 0, 0], index=["early", "t", "far", "late"])
    res = _match_on(df, ratio=2)
    # both are at gap 0; left (the earlier one) wins the first round, the later one the second
    assert list(res.match_matrix.loc["t"]) == ["early", "late"]


def test_largest_first_and_stable_among_tied_treated():
    df = _frame([0.9, 0.9, 0.88, 0.1], [1, 1, 0, 0], index=["t1", "t2", "c_near", "c_far"])
    res = _match_on(df)
    assert res.match_matrix.loc["t1", 1] == "c_near"  # tie in the treated distances: data order
    assert res.match_matrix.loc["t2", 1] == "c_far"
    res_s = _match_on(df, m_order="smallest")
    assert res_s.match_matrix.loc["t1", 1] == "c_near"


def test_rounds_everyone_first_then_seconds():
    df = _frame([1.0, 1.1, 2.0, 2.1, 1.05, 2.05], [0, 0, 0, 0, 1, 1],
                index=["a", "b", "c", "d", "t1", "t2"])
    res = _match_on(df, ratio=2)
    assert list(res.match_matrix.loc["t2"]) == ["c", "d"]
    assert list(res.match_matrix.loc["t1"]) == ["a", "b"]
    w = res.weights
    assert (w[["t1", "t2"]] == 1).all() and np.allclose(w[["a", "b", "c", "d"]], 1.0)


def test_caliper_is_inclusive_and_tests_only_the_first_control_met():
    df = _frame([0.0, 1.0, 1.5, 3.0], [0, 1, 0, 0], index=["c0", "t", "c15", "c3"])
    res = _match_on(df, caliper=0.5, std_caliper=False, ratio=3)
    assert list(res.match_matrix.loc["t"].dropna()) == ["c15"]
    res = _match_on(df, caliper=0.4999, std_caliper=False)
    assert res.match_matrix.loc["t"].isna().all()
    assert res.unmatched_treated == ["t"]


def test_unmatched_treated_are_reported_with_a_warning():
    df = _frame([0.0, 0.1, 5.0, 9.0], [0, 1, 1, 0], index=["c1", "t1", "t2", "c2"])
    with pytest.warns(MatchingWarning, match="1 of 2 treated units have no control"):
        res = match(df, "treat", [], distance=df["d"], caliper=1, std_caliper=False)
    assert res.unmatched_treated == ["t2"]
    assert res.weights["t2"] == 0 and pd.isna(res.subclass["t2"])
    assert res.n.loc["Unmatched", "Treated"] == 1
    assert "t2" not in res.matched.index


def test_random_order_is_seeded():
    rng = np.random.default_rng(1)
    df = _frame(np.round(rng.normal(size=60), 1), rng.integers(0, 2, 60))
    a = _match_on(df, m_order="random", seed=3, ratio=2)
    b = _match_on(df, m_order="random", seed=3, ratio=2)
    assert a.match_matrix.equals(b.match_matrix)


# ------------------------------------------------------------------ brute-force reference


def _reference_match(d, treated, order, ratio, caliper, replace, abs_mode, row_check_451):
    """METHODS 1.4 by direct scans of all units (O(n^2)): an independent check of the
    union-find walk."""
    n = len(d)
    pos = np.empty(n, dtype=int)
    pos[np.argsort(d, kind="stable")] = np.arange(n)

    def A(x):
        return abs(math.trunc(x)) if abs_mode == "int_trunc" else abs(x)

    used = np.zeros(n, dtype=bool)
    tunits = np.flatnonzero(treated)
    mm = np.full((len(tunits), ratio), -1)
    skip = [set() for _ in tunits]
    n_left = int((~treated).sum())
    for r in range(ratio):
        for i in order:
            if not replace and n_left == 0:
                break
            t = tunits[i]
            cands = [c for c in range(n) if not treated[c] and not used[c]
                     and not (r > 0 and c in skip[i])]
            left = [c for c in cands if pos[c] < pos[t]]
            right = [c for c in cands if pos[c] > pos[t]]
            L = max(left, key=lambda c: pos[c]) if left else None
            R = min(right, key=lambda c: pos[c]) if right else None
            if L is not None and caliper is not None and A(d[t] - d[L]) > caliper:
                L = None
            if R is not None and caliper is not None and A(d[t] - d[R]) > caliper:
                R = None
            if L is not None and R is not None:
                c = L if A(d[L] - d[t]) <= A(d[R] - d[t]) else R
            else:
                c = L if L is not None else R
            if c is None:
                continue
            mm[i, r] = c
            skip[i].add(c + 1 if row_check_451 else c)
            if not replace:
                used[c] = True
                n_left -= 1
    return mm


@pytest.mark.parametrize(
    "seed, values, ratio, caliper, replace, abs_mode, row_check, order_kind",
    [
        (s, v, k, c, rep, am, rc, o)
        for s, (v, k, c, rep, am, rc, o) in enumerate(
            itertools.product(
                ["int", "coarse", "float"], [1, 2, 3], [None, 0.3, 1.0], [False, True],
                ["exact", "int_trunc"], [False, True], ["largest", "smallest", "data"],
            )
        )
        if not (v == "float" and am == "int_trunc" and rc)  # keep the grid moderate
    ][::3],
)
def test_union_find_walk_agrees_with_brute_force(
    seed, values, ratio, caliper, replace, abs_mode, row_check, order_kind
):
    rng = np.random.default_rng(seed)
    n = 70
    treated = rng.random(n) < 0.3
    if values == "int":
        d = rng.integers(0, 8, n).astype(float)
    elif values == "coarse":
        d = np.round(rng.normal(0, 1, n), 1)
    else:
        d = rng.normal(0, 1.5, n)
    dt = d[treated]
    order = {"largest": np.argsort(-dt, kind="stable"), "smallest": np.argsort(dt, kind="stable"),
             "data": np.arange(len(dt))}[order_kind]
    got = nearest_neighbor(d, treated, order, ratio=ratio, caliper=caliper, replace=replace,
                           abs_mode=abs_mode, row_check_451=row_check)
    ref = _reference_match(d, treated, order, ratio, caliper, replace, abs_mode, row_check)
    assert (got == ref).all()


def test_pool_running_out_stops_matching():
    d = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    treated = np.array([1, 0, 1, 1, 0], dtype=bool)
    mm = nearest_neighbor(d, treated, np.array([2, 1, 0]), ratio=2)
    assert (mm[:, 1] == -1).all() and (mm[:, 0] >= 0).sum() == 2


# ------------------------------------------------------------------ propensity model


def _separated_data():
    rng = np.random.default_rng(11)
    n = 600
    age = np.round(rng.normal(60, 10, n))
    histology = rng.choice(["IDC", "Other", "Rare"], n, p=[0.6, 0.3, 0.1])
    lp = -1.5 + 0.04 * (age - 60) + 0.5 * (histology == "Other")
    treat = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    treat[histology == "Rare"] = 0  # a covariate pattern with no treated units
    return pd.DataFrame({"treat": treat, "age": age, "histology": histology},
                        index=[f"p{i}" for i in range(n)])


def test_separation_is_detected_and_reported_like_glm():
    df = _separated_data()
    with pytest.warns(NotEstimableWarning, match="fitted probabilities numerically 0 or 1"):
        fit = fit_propensity(df, "treat", ["age", "histology"])
    sep = fit.separation
    rare = df.index[df["histology"] == "Rare"]
    assert sorted(sep.rows) == sorted(rare)
    assert sep.n_treated == 0 and sep.n_control == len(rare)
    assert sep.terms == ["histology[Rare]"]
    assert np.isneginf(fit.linear_predictor[rare]).all()
    assert (fit.fitted[rare] == 0).all()
    assert fit.table.loc["histology[Rare]", "note"].startswith("separation")
    # the other coefficients are the fit without the separated rows (their finite limit)
    rest = df.drop(index=rare)
    ref = fit_propensity(rest, "treat", ["age", "histology"])
    for term in ["(Intercept)", "age", "histology[Other]"]:
        assert fit.coefficients[term] == pytest.approx(ref.coefficients[term], rel=1e-12)
    finite = fit.linear_predictor.drop(index=rare)
    assert np.allclose(finite, ref.linear_predictor, rtol=0, atol=1e-12)


def test_separated_controls_are_never_matched():
    df = _separated_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = match(df, "treat", ["age", "histology"], ratio=1, caliper=0.2)
    rare = df.index[df["histology"] == "Rare"]
    assert res.weights[rare].eq(0).all()
    assert np.isfinite(res.caliper)


def test_balance_with_separated_units_leaves_them_out_of_the_distance_row_only():
    df = _separated_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = match(df, "treat", ["age", "histology"], ratio=1, caliper=0.2)
    bt = balance_table(res, df, "treat", ["age", "histology"])
    assert np.isfinite(bt.table.loc["distance"].drop(["var_ratio_before", "var_ratio_after"],
                                                       errors="ignore")).all()
    rare = df.index[df["histology"] == "Rare"]
    finite = df.drop(index=rare)
    ref = balance(finite, "treat", ["age"], distance=res.distance.drop(index=rare))
    assert bt.table.loc["distance", "smd_before"] == pytest.approx(ref.loc["distance", "smd"],
                                                                   rel=1e-12)
    # the covariate rows still count every unit: the rare level's control mean is not zero
    assert bt.table.loc["histology[Rare]", "mean_control_before"] > 0


def test_complete_separation_is_an_input_error():
    df = pd.DataFrame({"treat": [0, 0, 0, 1, 1, 1], "x": [1.0, 2, 3, 4, 5, 6]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InputError, match="separates treated and control units completely"):
            fit_propensity(df, "treat", ["x"])


def test_no_separation_no_warning():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"treat": rng.integers(0, 2, 200), "x": rng.normal(size=200)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_propensity(df, "treat", ["x"])
    assert fit.separation is None and fit.converged


# ------------------------------------------------------------------ bad input


def _small():
    return pd.DataFrame({"treat": [1, 0, 0, 1, 0, 0], "age": [50.0, 60, 70, 40, 55, 65],
                         "grade": ["I-II", "III", "III", "I-II", "I-II", "III"]},
                        index=[10, 11, 12, 13, 14, 15])


def test_unknown_covariate_raises():
    with pytest.raises(InputError, match="column 'nope'"):
        match(_small(), "treat", ["age", "nope"])
    with pytest.raises(InputError, match="column 'nope'"):
        balance(_small(), "treat", ["nope"])
    df = _small()
    with pytest.raises(InputError, match="column 'nope'"):
        match(df, "treat", ["nope"], distance=df["age"])


def test_missing_covariate_value_raises_with_row():
    df = _small()
    df.loc[12, "age"] = np.nan
    with pytest.raises(InputError, match=r"column 'age', row 12"):
        match(df, "treat", ["age", "grade"])
    with pytest.raises(InputError, match=r"column 'age', row 12"):
        balance(df, "treat", ["age"])
    df = _small()
    df.loc[14, "grade"] = None
    with pytest.raises(InputError, match=r"column 'grade', row 14"):
        balance(df, "treat", ["grade"])


def test_bad_treatment_and_parameters_raise():
    df = _small()
    df.loc[11, "treat"] = 2
    with pytest.raises(InputError, match=r"column 'treat', row 11"):
        match(df, "treat", ["age"])
    with pytest.raises(InputError, match="both treated"):
        match(_small().assign(treat=0), "treat", ["age"])
    with pytest.raises(InputError, match="ratio"):
        match(_small(), "treat", ["age"], ratio=0)
    with pytest.raises(InputError, match="m_order"):
        match(_small(), "treat", ["age"], m_order="closest")
    with pytest.raises(InputError, match="caliper"):
        match(_small(), "treat", ["age"], caliper=-1)
    d = pd.Series([0.1, 0.2, np.nan, 0.4, 0.5, 0.6], index=_small().index)
    with pytest.raises(InputError, match=r"column 'distance', row 12"):
        match(_small(), "treat", [], distance=d)


def test_balance_binary_and_continuous_rules():
    df = _small()
    out = balance(df, "treat", ["age", "grade"])
    assert list(out.index) == ["age", "grade[I-II]", "grade[III]"]
    # binary: SD sqrt(p(1-p)) of the treated (p = 1 here: falls back to the pooled SD)
    assert np.isnan(out.loc["grade[III]", "var_ratio"])
    assert out.loc["grade[I-II]", "ecdf_max"] == pytest.approx(1 - 1 / 4)
    sd_t = np.std([50.0, 40.0], ddof=1)
    assert out.loc["age", "smd"] == pytest.approx((45 - 62.5) / sd_t)


# ------------------------------------------------------------------ Love plot


def test_love_plot_draws_before_after_and_threshold(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from micromet.matching import balance_table
    from micromet.plots_balance import love_plot

    df = _separated_data().query("histology != 'Rare'")
    res = match(df, "treat", ["age", "histology"], ratio=1)
    bt = balance_table(res, df, "treat", ["age", "histology"])
    fig = love_plot(bt, threshold=0.1)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(bt.table.index)
    before, after = ax.collections[0], ax.collections[1]
    ys = np.arange(len(bt.table))[::-1]
    np.testing.assert_allclose(before.get_offsets()[:, 0], bt.table["smd_before"].abs())
    np.testing.assert_allclose(after.get_offsets()[:, 1], ys)
    assert any(line.get_xdata()[0] == 0.1 for line in ax.lines)
    fig.savefig(tmp_path / "love.png")
    with pytest.raises(InputError):
        love_plot(pd.DataFrame({"smd": [0.1]}))
