"""The data's own floor: a Lipschitz constant that every fit below the noise level must exceed.

A fit f with (1/n) Σ (f(x_i) − y_i)² ≤ σ² − ε need not interpolate, so one pair of points with
different labels does not bound Lip(f) by itself. A set of disjoint pairs does: if Lip(f) ≤ L,
the pair (i, j) at distance δ with label gap g = |y_i − y_j| has |f(x_i) − f(x_j)| ≤ Lδ, so its
residuals r_i, r_j satisfy |r_i − r_j| ≥ g − Lδ and r_i² + r_j² ≥ (g − Lδ)₊²/2. Summed over the
pairs, the fit's squared error is at least Σ_p (g_p − Lδ_p)₊²/2; it may not exceed n(σ² − ε), so

    Lip(f) ≥ L_floor = min { L ≥ 0 : Σ_p (g_p − Lδ_p)₊² / 2 ≤ n (σ² − ε) }.

Every disjoint set of pairs gives a valid floor; the nearest pairs of different labels, matched
greedily, give a high one. (Derived here; it is a property of the data, not of any network.)
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.spatial.distance import pdist, squareform


def nearest_pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gaps g_p, distances δ_p) of disjoint pairs with y_i ≠ y_j, matched greedily by δ/g."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    dist = squareform(pdist(x))
    gap = np.abs(y[:, None] - y[None, :])
    i, j = np.triu_indices(len(y), k=1)
    keep = gap[i, j] > 0
    i, j = i[keep], j[keep]
    order = np.argsort(dist[i, j] / gap[i, j], kind="stable")
    used = np.zeros(len(y), bool)
    gaps, dists = [], []
    for a, b in zip(i[order], j[order]):
        if not (used[a] or used[b]):
            used[a] = used[b] = True
            gaps.append(gap[a, b])
            dists.append(dist[a, b])
    return np.array(gaps), np.array(dists)


def fit_floor(x: np.ndarray, y: np.ndarray, mse_budget: float) -> float:
    """L_floor for fits with train MSE ≤ mse_budget (= σ² − ε); 0 if the budget needs no slope."""
    gaps, dists = nearest_pairs(x, y)
    budget = len(y) * mse_budget
    excess = lambda lip: np.sum(np.maximum(gaps - lip * dists, 0.0) ** 2) / 2 - budget
    if gaps.size == 0 or excess(0.0) <= 0:
        return 0.0
    moving = dists > 0  # equal inputs with different labels: only their residuals can absorb the gap
    if np.sum(gaps[~moving] ** 2) / 2 > budget:  # no Lipschitz constant is enough: no such fit exists
        return float("inf")
    hi = float(np.max(gaps[moving] / dists[moving]))  # every moving pair fitted exactly: excess ≤ 0
    if excess(hi) >= 0:  # ≤ 0 in exact arithmetic; rounding left the budget spent exactly at hi
        return hi
    return brentq(excess, 0.0, hi, xtol=1e-12)
