"""The O(n log n) Fine-Gray of micromet.competing equals the direct O(n^2) one (tests/_fg_reference.py).

Data sets: continuous times, heavy ties with events and censorings at time 0, no censoring, three
causes (2 and 3 pooled as competing), and several covariates (one binary, one categorical).
"""

import _fg_reference as ref
import numpy as np
import pandas as pd
import pytest

from micromet.competing import _fg_eval, _fg_variance, _FGData, fine_gray


def simulate(n, seed, *, ties=None, censoring=True, causes=2):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, size=n).astype(float)
    stage = rng.choice(["I", "II", "III"], size=n, p=[0.5, 0.3, 0.2])
    lp = 0.5 * x1 - 0.4 * x2 + 0.3 * (stage == "III")
    times = np.column_stack([rng.exponential(1 / (0.1 * np.exp(lp if k == 0 else -0.2 * x1)))
                             for k in range(causes)])
    t = times.min(axis=1)
    e = times.argmin(axis=1) + 1
    if censoring:
        c = rng.uniform(0, 15, size=n)
        e = np.where(c < t, 0, e)
        t = np.minimum(t, c)
    if ties is not None:
        t = np.floor(t / ties)
    return pd.DataFrame({"time": t, "event": e, "x1": x1, "x2": x2, "stage": stage})


CASES = {
    "continuous": dict(n=90, seed=1),
    "heavy_ties_with_zero": dict(n=110, seed=2, ties=2.0),
    "no_censoring": dict(n=80, seed=3),
    "three_causes": dict(n=100, seed=4, causes=3, ties=0.5),
}
for _k in ("no_censoring",):
    CASES[_k]["censoring"] = False


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    return request.param, simulate(**CASES[request.param])


def _sorted_arrays(df, covs, cause=1):
    order = np.argsort(df["time"].to_numpy(), kind="stable")
    t = df["time"].to_numpy()[order]
    e = df["event"].to_numpy()[order]
    eps = np.where(e == cause, 1, np.where(e == 0, 0, 2))
    X = pd.get_dummies(df[covs], drop_first=True).to_numpy(dtype=float)[order]
    return t, eps, X


def test_case_properties():
    ties = simulate(**CASES["heavy_ties_with_zero"])
    assert ((ties["time"] == 0) & (ties["event"] == 0)).any()
    assert ((ties["time"] == 0) & (ties["event"] != 0)).any()
    assert ties["time"].nunique() < 12
    assert (simulate(**CASES["no_censoring"])["event"] != 0).all()
    assert set(simulate(**CASES["three_causes"])["event"]) == {0, 1, 2, 3}


def test_censoring_weights_match(case):
    _, df = case
    t, eps, X = _sorted_arrays(df, ["x1", "x2"])
    D = _FGData(t, eps, X)
    np.testing.assert_allclose(D.G_left, ref.censoring_left_limits(t, eps), rtol=1e-13, atol=0)


@pytest.mark.parametrize("beta", [[0.0, 0.0, 0.0, 0.0], [0.4, -0.6, 0.2, 0.7]])
def test_loglik_score_information_variance(case, beta):
    _, df = case
    t, eps, X = _sorted_arrays(df, ["x1", "x2", "stage"])
    beta = np.array(beta)
    D = _FGData(t, eps, X)
    f, g, info, parts = _fg_eval(D, beta)
    ll, score, info_ref, _ = ref.evaluate(t, eps, X, beta)
    np.testing.assert_allclose(-f, ll, rtol=1e-12)
    np.testing.assert_allclose(-g, score, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(info, info_ref, rtol=1e-11, atol=1e-12)
    V = _fg_variance(D, beta, info, parts)
    np.testing.assert_allclose(V, ref.variance(t, eps, X, beta), rtol=1e-10, atol=1e-14)


def test_fit_matches_reference(case):
    _, df = case
    t, eps, X = _sorted_arrays(df, ["x1", "x2", "stage"])
    coef_ref, ll_ref, conv_ref = ref.fit(t, eps, X)
    fit = fine_gray(df, "time", "event", ["x1", "x2", "stage"], cause=1)
    assert fit.converged == conv_ref
    np.testing.assert_allclose(fit.coef.to_numpy(), coef_ref, rtol=1e-9)
    np.testing.assert_allclose(fit.loglik, ll_ref, rtol=1e-12)
    V = ref.variance(t, eps, X, coef_ref)
    np.testing.assert_allclose(fit.var.to_numpy(), V, rtol=1e-8)


def test_order_of_rows_does_not_matter(case):
    _, df = case
    a = fine_gray(df, "time", "event", ["x1", "x2"])
    shuffled = df.sample(frac=1.0, random_state=7)
    b = fine_gray(shuffled, "time", "event", ["x1", "x2"])
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9)
    np.testing.assert_allclose(a.var, b.var, rtol=1e-8)


def test_dense_reference_equals_loop_reference(case):
    """The vectorised O(n^2) reference (used by the benchmark) equals the loop one."""
    _, df = case
    t, eps, X = _sorted_arrays(df, ["x1", "x2", "stage"])
    beta = np.array([0.4, -0.6, 0.2, 0.7])
    ll, score, info, _ = ref.dense_evaluate(t, eps, X, beta, chunk=7)
    ll0, score0, info0, _ = ref.evaluate(t, eps, X, beta)
    np.testing.assert_allclose([ll], [ll0], rtol=1e-12)
    np.testing.assert_allclose(score, score0, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(info, info0, rtol=1e-11)
    np.testing.assert_allclose(ref.dense_variance(t, eps, X, beta, chunk=7),
                               ref.variance(t, eps, X, beta), rtol=1e-10, atol=1e-14)
    coef, _, conv, var = ref.dense_fit(t, eps, X)
    fit = fine_gray(df, "time", "event", ["x1", "x2", "stage"])
    assert conv == fit.converged
    np.testing.assert_allclose(fit.coef.to_numpy(), coef, rtol=1e-9)
    np.testing.assert_allclose(fit.var.to_numpy(), var, rtol=1e-8)
