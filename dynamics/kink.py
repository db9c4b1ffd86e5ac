"""The kink of one seed's curve v(η) of a final threshold variable: a local hinge fit.

Model, continuous at the knot κ:

    v(η) ≈ c + s₋ (η − κ)   for η ≤ κ,        v(η) ≈ c + s₊ (η − κ)   for η ≥ κ,

fitted by least squares to the grid points inside the window [κ/WINDOW, WINDOW·κ], each weighted by
the stretch of η it stands for (trapezoid weights: the fit does not depend on where the grid is dense). For a fixed
window the best κ is found by scanning candidate knots (each a 3-parameter linear least squares);
the window is then re-centred on the new κ until it stops moving. A window that is a fixed ratio
around the knot makes the fit local (far above η* the curve bends again: saturation, a silent
network) and the same on any grid fine enough to resolve it, so refining the grid does not move it.

The sharpness of the kink is s₊ / s₋ (the slope after over the slope before; reported as |s₊|/|s₋|,
at most RATIO_CAP). Measured with this fit on the relu network at σ = 1, T·η = 10 (README, "Where the
theorem holds"): 2.5 at d = 20, 7.0 at d = 50, 38 at d = 100, 89 at d = 200.
"""

from __future__ import annotations

import math

import numpy as np

WINDOW = 2.0  # the fit uses grid points within a factor 2 of the knot, on both sides
MIN_SIDE = 2  # points on each side of the knot below which the fit is too coarse to read slopes
RATIO_CAP = 1e3  # a slope before the knot that is zero to rounding does not make the kink infinitely sharp
SUBDIVISIONS = 32  # candidate knots between two neighbouring grid points
MAX_ITERATIONS = 20


def _weights(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Nearest-point quadrature weights over exactly [lo, hi] for sorted points x: each point stands
    for the stretch of η nearer to it than to its neighbours, clipped to the window (zero for points
    whose stretch misses it). The fit then approximates a least-squares fit over the interval
    itself, whatever the grid's density and wherever its points fall: points added by refinement do
    not pull it, so the estimate converges as the grid is refined."""
    edges = np.r_[-np.inf, (x[1:] + x[:-1]) / 2, np.inf]
    return np.clip(edges[1:], lo, hi) - np.clip(edges[:-1], lo, hi)


def _hinge(x: np.ndarray, v: np.ndarray, w: np.ndarray, knots: np.ndarray):
    """Best of the candidate knots for points (x, v) with weights w: (weighted sse, knot, c, s_before, s_after)."""
    below = np.minimum(x[None, :] - knots[:, None], 0.0)  # (knots, points)
    above = np.maximum(x[None, :] - knots[:, None], 0.0)
    root = np.sqrt(w)
    best = None
    for i, k in enumerate(knots):
        design = np.stack([np.ones_like(x), below[i], above[i]], axis=1)
        coef, *_ = np.linalg.lstsq(design * root[:, None], v * root, rcond=None)
        sse = float(np.sum(((design @ coef - v) * root) ** 2))
        if best is None or sse < best[0]:
            best = (sse, float(k), *map(float, coef))
    return best


def _candidates(x: np.ndarray) -> np.ndarray:
    """Knots strictly between grid points, from the MIN_SIDE-th point from each end, SUBDIVISIONS
    per gap (never on a grid point, so that every knot has a bracket of two grid points)."""
    lo, hi = MIN_SIDE - 1, len(x) - MIN_SIDE
    if hi <= lo:
        return np.array([])
    return np.concatenate(
        [x[i] + (np.arange(SUBDIVISIONS) + 0.5) / SUBDIVISIONS * (x[i + 1] - x[i]) for i in range(lo, hi)]
    )


def fit(lrs, values, start: float) -> dict:
    """The hinge fit of one seed's v(η) around `start` (a first guess of the knot).

    lrs, values: the seed's grid points (NaN values are left out). Returns a dict with
    status "fitted" (knot, slope_before, slope_after, ratio, bracket lo/hi: the grid points
    around the knot, points: used in the window, below/above: how many on each side) or
    "too_coarse" (fewer than MIN_SIDE points on a side of the knot in its window).
    """
    x, v = np.asarray(lrs, float), np.asarray(values, float)
    keep = np.isfinite(v)
    order = np.argsort(x[keep], kind="stable")
    x, v = x[keep][order], v[keep][order]
    knot, seen = float(start), []
    for _ in range(MAX_ITERATIONS):
        w = _weights(x, knot / WINDOW, knot * WINDOW)
        inside = w > 0
        candidates = _candidates(x[inside])
        if not len(candidates):
            return _too_coarse(x, knot, int(inside.sum()))
        sse, new, c, s_before, s_after = _hinge(x[inside], v[inside], w[inside], candidates)
        if new == knot or new in seen:  # converged, or a 2-cycle between windows: keep the latest
            knot = new
            break
        seen.append(knot)
        knot = new
    inside = _weights(x, knot / WINDOW, knot * WINDOW) > 0
    below, above = int(np.sum(inside & (x < knot))), int(np.sum(inside & (x > knot)))
    if min(below, above) < MIN_SIDE:
        return _too_coarse(x, knot, int(inside.sum()))
    scale = max(abs(s_before), abs(s_after) / RATIO_CAP, np.finfo(float).tiny)
    lo = float(x[x < knot].max())
    hi = float(x[x > knot].min())
    return {
        "status": "fitted",
        "knot": knot,
        "lo": lo,
        "hi": hi,
        "slope_before": s_before,
        "slope_after": s_after,
        "ratio": min(abs(s_after) / scale, RATIO_CAP),
        "points": int(inside.sum()),
        "below": below,
        "above": above,
        "rmse": math.sqrt(sse / (knot * (WINDOW - 1 / WINDOW))),  # root mean square over the window
    }


def _too_coarse(x, knot, points) -> dict:
    lo = x[x <= knot]
    hi = x[x >= knot]
    return {
        "status": "too_coarse",
        "knot": float(knot),
        "lo": float(lo.max()) if len(lo) else math.nan,
        "hi": float(hi.min()) if len(hi) else math.nan,
        "slope_before": math.nan,
        "slope_after": math.nan,
        "ratio": math.nan,
        "points": int(points),
        "below": 0,
        "above": 0,
        "rmse": math.nan,
    }
