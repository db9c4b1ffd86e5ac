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
    """Best of the candidate knots for sorted points (x, v) with weights w: (weighted sse, knot, c,
    s_before, s_after).

    Every knot is scored at once from prefix sums: for a knot κ the design columns are 1,
    b = min(x − κ, 0) and a = max(x − κ, 0), so the weighted normal equations need only the sums of
    w, wx, wx², wv and wxv below and above κ (time and memory linear in points + knots; a grid of
    thousands of step sizes is fitted in milliseconds). A sum of squares read off the normal
    equations loses digits to cancellation, so the knots that score within rounding of the best
    are then solved again by least squares on their residuals, and the first best one is kept.
    """
    sse = _scores(x, v, w, knots)
    tolerance = 1e-8 * float(np.sum(w * v * v)) + np.finfo(float).tiny
    close = np.flatnonzero(sse <= np.nanmin(sse) + tolerance) if np.isfinite(sse).any() else np.arange(len(knots))
    shortlist = np.union1d(close, np.argsort(sse, kind="stable")[:SHORTLIST])
    root = np.sqrt(w)
    best = None
    for k in knots[shortlist]:
        design = np.stack([np.ones_like(x), np.minimum(x - k, 0.0), np.maximum(x - k, 0.0)], axis=1)
        coef, *_ = np.linalg.lstsq(design * root[:, None], v * root, rcond=None)
        exact = float(np.sum(((design @ coef - v) * root) ** 2))
        if best is None or exact < best[0]:
            best = (exact, float(k), *map(float, coef))
    return best


SHORTLIST = 16  # knots solved again exactly, at least


def _scores(x, v, w, knots) -> np.ndarray:
    """The weighted sse of the hinge fit at each knot, from the normal equations (NaN where singular)."""
    below = np.searchsorted(x, knots)  # points x[:below] lie below the knot (knots are never on a point)
    sums = [np.r_[0.0, np.cumsum(a)] for a in (w, w * x, w * x * x, w * v, w * x * v)]
    lo = [s[below] for s in sums]
    hi = [s[-1] - s[below] for s in sums]
    k = knots

    def centred(part):  # Σw, Σw(x−κ), Σw(x−κ)², Σwv, Σw(x−κ)v over one side
        s0, s1, s2, sv, sxv = part
        return s0, s1 - k * s0, s2 - 2 * k * s1 + k * k * s0, sv, sxv - k * sv

    b0, b1, b2, bv, bxv = centred(lo)
    a0, a1, a2, av, axv = centred(hi)
    zero = np.zeros_like(k)
    normal = np.stack([np.stack([b0 + a0, b1, a1], -1), np.stack([b1, b2, zero], -1), np.stack([a1, zero, a2], -1)], -2)
    rhs = np.stack([bv + av, bxv, axv], -1)
    with np.errstate(all="ignore"):
        try:
            coef = np.linalg.solve(normal, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:  # a singular knot among them: score one at a time
            coef = np.stack([_solve_or_nan(m, r) for m, r in zip(normal, rhs)])
        return float(np.sum(w * v * v)) - np.sum(coef * rhs, axis=-1)


def _solve_or_nan(matrix, rhs):
    try:
        return np.linalg.solve(matrix, rhs)
    except np.linalg.LinAlgError:
        return np.full(3, np.nan)


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
    if len(x) < 2 * MIN_SIDE:  # every run of the seed diverged or went silent, or nearly
        return _too_coarse(x, knot, len(x))
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
