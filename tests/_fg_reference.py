"""Direct O(n^2) Fine-Gray (cmprsk::crr), written from METHODS 2.2-2.6 for tests only.

Every quantity is computed the slow, obvious way: an explicit weight matrix w[k, j] (cause-of-
interest failure k x subject j), sums over it, and loops over censoring times. The fast running-sum
code in micromet.competing must give the same numbers.
"""

from __future__ import annotations

import numpy as np


def censoring_left_limits(t: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """Ĝ(T_i-) for every subject: censoring KM with every subject with T >= u at risk at u."""
    out = np.empty(len(t))
    for i, ti in enumerate(t):
        g = 1.0
        for u in np.unique(t):
            if u < ti or (ti == 0 and u == 0):
                c = np.sum((t == u) & (eps == 0))
                g *= 1.0 - c / np.sum(t >= u)
        out[i] = g
    return out


def weights(t: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """w[k, j] for every cause-of-interest failure k (rows, in data order) and subject j."""
    G = censoring_left_limits(t, eps)
    fails = np.flatnonzero(eps == 1)
    w = np.zeros((len(fails), len(t)))
    for a, k in enumerate(fails):
        tk = t[k]
        Gk = G[k]
        for j in range(len(t)):
            if t[j] >= tk:
                w[a, j] = 1.0
            elif eps[j] == 2:
                w[a, j] = Gk / G[j]
    return w, fails


def evaluate(t, eps, Z, beta):
    """loglik, score, information and the per-failure S0, Z̄ at beta."""
    w, fails = weights(t, eps)
    r = np.exp(Z @ beta)
    S0 = w @ r
    S1 = w @ (r[:, None] * Z)
    zbar = S1 / S0[:, None]
    loglik = float(np.sum(Z[fails] @ beta - np.log(S0)))
    score = np.sum(Z[fails] - zbar, axis=0)
    p = Z.shape[1]
    info = np.zeros((p, p))
    for a in range(len(fails)):
        S2 = (Z * (w[a] * r)[:, None]).T @ Z
        info += S2 / S0[a] - np.outer(zbar[a], zbar[a])
    return loglik, score, info, (w, fails, r, S0, zbar)


def variance(t, eps, Z, beta):
    """Ω⁻¹ Σ (η_i + ψ_i)(η_i + ψ_i)' Ω⁻¹ (METHODS 2.6), term by term."""
    _, _, info, (w, fails, r, S0, zbar) = evaluate(t, eps, Z, beta)
    n, p = Z.shape
    eta = np.zeros((n, p))
    for i in range(n):
        if eps[i] == 1:
            a = int(np.flatnonzero(fails == i)[0])
            eta[i] += Z[i] - zbar[a]
        for a in range(len(fails)):
            eta[i] -= w[a, i] * r[i] * (Z[i] - zbar[a]) / S0[a]
    ctimes = np.unique(t[eps == 0])
    q = {}
    pi = {}
    c = {}
    for u in ctimes:
        pi[u] = np.sum(t >= u)
        c[u] = np.sum((t == u) & (eps == 0))
        qu = np.zeros(p)
        for a, k in enumerate(fails):
            if t[k] < u:
                continue
            for j in range(n):
                if eps[j] == 2 and t[j] < u:
                    qu += w[a, j] * r[j] * (Z[j] - zbar[a]) / S0[a]
        q[u] = qu
    psi = np.zeros((n, p))
    for i in range(n):
        if eps[i] == 0:
            psi[i] += q[t[i]] / pi[t[i]]
        for u in ctimes:
            if u <= t[i]:
                psi[i] -= c[u] * q[u] / pi[u] ** 2
    u_all = eta + psi
    inv = np.linalg.inv(info)
    return inv @ (u_all.T @ u_all) @ inv


def fit(t, eps, Z, *, gtol=1e-6, maxiter=10):
    """crr's Newton path (test before the step, Armijo halving); returns coef, loglik, converged."""
    b = np.zeros(Z.shape[1])
    for ll in range(maxiter + 1):
        loglik, score, info, _ = evaluate(t, eps, Z, b)
        f, g = -loglik, -score
        if np.max(np.abs(g) * np.maximum(np.abs(b), 1)) < max(abs(f), 1) * gtol:
            return b, loglik, True
        if ll == maxiter:
            return b, loglik, False
        s = -np.linalg.solve(info, g)
        for _ in range(21):
            fn = -evaluate(t, eps, Z, b + s)[0]
            if np.isfinite(fn) and fn <= f + 1e-4 * np.sum(s * g):
                break
            s = s / 2
        b = b + s
    return b, loglik, False


# ------------------------------------------------------------------------------------------
# The same O(n^2) formulas with numpy arrays instead of Python loops (for larger data, e.g. the
# 10,000-row comparison in benchmarks/bench_competing.py). Failures are processed in chunks of
# rows of the weight matrix w[k, j] so memory stays O(chunk * n).
# ------------------------------------------------------------------------------------------


def _dense_setup(t, eps):
    ut = np.unique(t)
    n_at = (t[None, :] >= ut[:, None]).sum(axis=1)
    cens = ((t[None, :] == ut[:, None]) & (eps[None, :] == 0)).sum(axis=1)
    G = np.cumprod(1.0 - cens / n_at)
    G_minus = np.concatenate(([1.0], G[:-1]))
    if ut[0] == 0:
        G_minus[0] = G[0]
    G_left = G_minus[np.searchsorted(ut, t)]
    return G_left


def _dense_w(t, eps, G_left, rows):
    """Rows ``rows`` (failures) of the weight matrix, dense."""
    tk = t[rows][:, None]
    at_risk = t[None, :] >= tk
    comp = (eps[None, :] == 2) & (t[None, :] < tk)
    return np.where(at_risk, 1.0, np.where(comp, G_left[rows][:, None] / G_left[None, :], 0.0))


def dense_evaluate(t, eps, Z, beta, chunk=512):
    """loglik, score, information (and S0, Z̄ per failure) by dense weight-matrix products."""
    G_left = _dense_setup(t, eps)
    fails = np.flatnonzero(eps == 1)
    r = np.exp(Z @ beta)
    S0 = np.empty(len(fails))
    S1 = np.empty((len(fails), Z.shape[1]))
    for s in range(0, len(fails), chunk):
        w = _dense_w(t, eps, G_left, fails[s:s + chunk])
        S0[s:s + chunk] = w @ r
        S1[s:s + chunk] = w @ (r[:, None] * Z)
    zbar = S1 / S0[:, None]
    a = np.zeros(len(t))
    for s in range(0, len(fails), chunk):
        w = _dense_w(t, eps, G_left, fails[s:s + chunk])
        a += (1.0 / S0[s:s + chunk]) @ w
    info = (Z * (r * a)[:, None]).T @ Z - zbar.T @ zbar
    loglik = float(np.sum(Z[fails] @ beta - np.log(S0)))
    score = np.sum(Z[fails] - zbar, axis=0)
    return loglik, score, info, (G_left, fails, r, S0, zbar)


def dense_variance(t, eps, Z, beta, chunk=512):
    """crr's sandwich by dense weight-matrix products (pairs (k, j) summed explicitly)."""
    _, _, info, (G_left, fails, r, S0, zbar) = dense_evaluate(t, eps, Z, beta, chunk)
    n, p = Z.shape
    eta = np.zeros((n, p))
    eta[fails] += Z[fails] - zbar
    cu = np.unique(t[eps == 0])
    diff = np.zeros((len(cu) + 1, p))
    lo = np.searchsorted(cu, t, side="right")  # first censoring time > T_j
    comp = eps == 2
    for s in range(0, len(fails), chunk):
        rows = fails[s:s + chunk]
        w = _dense_w(t, eps, G_left, rows)
        ws = w / S0[s:s + chunk, None]  # w_kj / S0_k
        zb = zbar[s:s + chunk]
        # η: - Σ_k w_ki r_i (Z_i - Z̄_k) / S0_k
        eta -= r[:, None] * (Z * ws.sum(axis=0)[:, None] - ws.T @ zb)
        # q(u): pairs (k, j), j competing with T_j < u <= T_k
        wc = np.where(comp[None, :] & (t[None, :] < t[rows][:, None]), ws, 0.0) * r[None, :]
        np.add.at(diff, lo, Z * wc.sum(axis=0)[:, None] - wc.T @ zb)
        hi = np.searchsorted(cu, t[rows], side="right")
        np.add.at(diff, hi, -(wc @ Z - zb * wc.sum(axis=1)[:, None]))
    q = np.cumsum(diff, axis=0)[: len(cu)]
    pi = (t[None, :] >= cu[:, None]).sum(axis=1).astype(float)
    c = ((t[None, :] == cu[:, None]) & (eps[None, :] == 0)).sum(axis=1).astype(float)
    psi = np.zeros((n, p))
    cens_idx = np.flatnonzero(eps == 0)
    where = np.searchsorted(cu, t[cens_idx])
    psi[cens_idx] += q[where] / pi[where][:, None]
    cum = np.cumsum((c / pi**2)[:, None] * q, axis=0)
    upto = np.searchsorted(cu, t, side="right")  # censoring times <= T_i
    has = upto > 0
    psi[has] -= cum[upto[has] - 1]
    u_all = eta + psi
    inv = np.linalg.inv(info)
    return inv @ (u_all.T @ u_all) @ inv


def dense_fit(t, eps, Z, *, gtol=1e-6, maxiter=10):
    """crr's Newton path with the dense evaluation; returns coef, loglik, converged, variance."""
    b = np.zeros(Z.shape[1])
    converged = False
    for ll in range(maxiter + 1):
        loglik, score, info, _ = dense_evaluate(t, eps, Z, b)
        f, g = -loglik, -score
        if np.max(np.abs(g) * np.maximum(np.abs(b), 1)) < max(abs(f), 1) * gtol:
            converged = True
            break
        if ll == maxiter:
            break
        s = -np.linalg.solve(info, g)
        for _ in range(21):
            fn = -dense_evaluate(t, eps, Z, b + s)[0]
            if np.isfinite(fn) and fn <= f + 1e-4 * np.sum(s * g):
                break
            s = s / 2
        b = b + s
    return b, loglik, converged, dense_variance(t, eps, Z, b)
