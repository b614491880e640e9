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
