"""micromet.bootstrap: resampling whole matched sets (Austin & Small 2014, Stat Med 33:4306)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from micromet import competing
from micromet import survival as sv
from micromet.bootstrap import cox_fitter, fine_gray_fitter, matched_bootstrap
from micromet.errors import InputError

COVS = ["exposed", "age", "grade"]


def _matched(n_sets=200, seed=11, rare_level=False):
    """Matched sets of one treated patient and two controls (MatchIt's ``subclass``), with
    whole-month times, causes 0/1/2 and a true HR of 1.5 for the exposure."""
    rng = np.random.default_rng(seed)
    n = 3 * n_sets
    exposed = np.tile([1, 0, 0], n_sets)
    age = np.round(rng.normal(60, 10, n))
    grade = rng.choice(["I-II", "III"], n, p=[0.6, 0.4])
    lp = np.log(1.5) * exposed + 0.03 * (age - 60) + 0.5 * (grade == "III")
    t1 = rng.exponential(1 / (0.015 * np.exp(lp)))
    t2 = rng.exponential(1 / (0.01 * np.ones(n)))
    c = rng.uniform(12, 72, n)
    t = np.minimum.reduce([t1, t2, c])
    event = np.select([t == t1, t == t2], [1, 2], 0)
    d = pd.DataFrame({"time": np.ceil(t), "event": event, "death": (event > 0).astype(int),
                      "exposed": exposed, "age": age, "grade": grade,
                      "subclass": np.repeat(np.arange(1, n_sets + 1), 3)},
                     index=[f"p{i}" for i in range(n)])
    if rare_level:
        d["site"] = np.where(np.arange(n) < 6, "rare", "common")
        d.loc[d["site"] == "rare", "event"] = np.array([1, 0, 0, 0, 0, 0])
        d["death"] = (d["event"] > 0).astype(int)
    return d


@pytest.fixture(scope="module")
def matched():
    return _matched()


def test_whole_sets_are_resampled(matched):
    seen = []

    def fit(sample):
        seen.append(sample)
        return {"n": len(sample), "treated_share": sample["exposed"].mean(),
                "sets": sample["subclass"].nunique()}

    res = matched_bootstrap(matched, fit, B=25, seed=3)
    assert len(seen) == 26  # the data themselves, then B replicates
    for sample in seen[1:]:
        assert len(sample) == len(matched)  # 200 sets of 3 drawn
        assert sample["exposed"].mean() == pytest.approx(1 / 3)  # sets are never split
        sizes = sample.groupby("subclass").size()
        assert (sizes % 3 == 0).all()  # a set drawn k times brings its 3 patients k times
        assert sizes.max() > 3  # some set was drawn more than once
    assert res.replicates["sets"].lt(200).all()
    assert res.n_sets == 200 and res.B == 25 and res.n_failed == 0


def test_deterministic_for_a_seed(matched):
    f = cox_fitter(matched, "time", "death", COVS)
    a = matched_bootstrap(matched, f, B=40, seed=5)
    b = matched_bootstrap(matched, f, B=40, seed=5)
    c = matched_bootstrap(matched, f, B=40, seed=6)
    pd.testing.assert_frame_equal(a.replicates, b.replicates)
    assert not np.allclose(a.replicates.to_numpy(), c.replicates.to_numpy())


def test_prepared_fitters_equal_the_full_functions_on_each_replicate(matched):
    # the fast path refits on row positions; the slow path calls cox / fine_gray on the
    # resampled DataFrame: the same replicates (same seed), the same numbers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fitter, slow in (
            (cox_fitter(matched, "time", "death", COVS),
             lambda s: sv.cox(s, "time", "death", COVS).table["coef"]),
            (fine_gray_fitter(matched, "time", "event", COVS),
             lambda s: competing.fine_gray(s, "time", "event", COVS).table["coef"]),
        ):
            fast = matched_bootstrap(matched, fitter, B=15, seed=9)
            full = matched_bootstrap(matched, slow, B=15, seed=9)
            np.testing.assert_allclose(fast.replicates.to_numpy(),
                                       full.replicates[fast.replicates.columns].to_numpy(),
                                       rtol=1e-12)
            np.testing.assert_allclose(fast.estimate, full.estimate[fast.estimate.index],
                                       rtol=1e-12)


def test_percentile_limits_and_se_are_those_of_the_replicates(matched):
    res = matched_bootstrap(matched, cox_fitter(matched, "time", "death", COVS), B=200,
                            seed=1)
    x = res.replicates["exposed"].to_numpy()
    row = res.table.loc["exposed"]
    lo, hi = np.quantile(x, [0.025, 0.975])  # R's quantile(type = 7)
    assert (row["lower"], row["upper"]) == (lo, hi)
    assert row["se"] == pytest.approx(np.std(x, ddof=1), rel=1e-12)
    assert row["hr_lower"] == pytest.approx(np.exp(lo), rel=1e-12)
    assert row["n"] == 200
    assert row["lower"] < row["estimate"] < row["upper"]
    narrow = matched_bootstrap(matched, cox_fitter(matched, "time", "death", COVS), B=200,
                               seed=1, alpha=0.5)
    assert narrow.table.loc["exposed", "lower"] > lo


def test_bootstrap_se_is_close_to_the_cluster_robust_se(matched):
    # Austin & Small: the matched-set bootstrap SE estimates the same sampling spread as the
    # cluster-robust (matched-set) sandwich; with B = 1000 they agree within about 10%
    res = matched_bootstrap(matched, cox_fitter(matched, "time", "death", COVS), B=1000,
                            seed=2026)
    robust = sv.cox(matched, "time", "death", COVS, cluster="subclass").table
    ratio = res.table["se"] / robust["robust_se"]
    assert ratio.between(0.85, 1.15).all(), ratio


def test_replicates_with_a_term_that_cannot_be_estimated(matched):
    d = _matched(rare_level=True)
    covs = ["exposed", "age", "site"]
    fitter = fine_gray_fitter(d, "time", "event", covs)
    with pytest.warns(RuntimeWarning, match="could not be estimated"):
        res = matched_bootstrap(d, fitter, B=60, seed=4)
    site = res.table.loc["site[rare]"]
    assert 0 < site["n"] < 60  # the one event in the rare level is often not drawn
    assert res.table.loc["exposed", "n"] == 60  # the other terms are fitted without it
    assert res.n_failed == 60 - site["n"]
    # the slow path agrees, NaN pattern included
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slow = matched_bootstrap(
            d, lambda s: competing.fine_gray(s, "time", "event", covs).table["coef"],
            B=60, seed=4)
    np.testing.assert_allclose(res.replicates.to_numpy(),
                               slow.replicates[res.replicates.columns].to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"set_column": "nope"}, "nope"),
    ({"B": 1}, "B must"),
    ({"B": 10.5}, "B must"),
    ({"alpha": 1.5}, "alpha"),
])
def test_bad_input(matched, kwargs, match):
    with pytest.raises(InputError, match=match):
        matched_bootstrap(matched, lambda s: 1.0, **kwargs)


def test_missing_set_and_single_set_are_refused(matched):
    d = matched.copy()
    d["subclass"] = d["subclass"].astype(float)
    d.iloc[4, d.columns.get_loc("subclass")] = np.nan
    with pytest.raises(InputError, match="no matched set"):
        matched_bootstrap(d, lambda s: 1.0)
    d["subclass"] = 1
    with pytest.raises(InputError, match="two matched sets"):
        matched_bootstrap(d, lambda s: 1.0)
    with pytest.raises(InputError, match="number"):
        matched_bootstrap(matched, lambda s: "abc", B=2)
