"""Locating the critical step size η* in a sweep, one seed at a time.

Criterion ("departure"): a change of regime, not a drift. Below η*, at a fixed total time
T·η, gradient descent tracks gradient flow and the final threshold variable (b for relu and
mean, the mean bias for mlp, y for product) depends on η only through the O(η) error of a
finite step: a smooth trend. Walking up the seed's grid, each final value is compared with
the straight line through the (up to TREND_POINTS) values before it that are still on the
trend; the first that leaves it by more than margin · max(1, |value at the smallest η|)
marks η*. η* is bracketed by that grid point and the one before; the estimate is the
geometric mean of the bracket. With fewer than two points before the departure the trend is
a constant, and the report says the grid is too coarse below η* to tell a drift from a change.

A second, independent criterion ("eos") reports the smallest η whose run sits at the edge of
stability after the initial transient: sharpness·η/2 holds at EOS_LEVEL or above for a sustained
stretch (`edge_ratio`, sweep.py), not just at a passing peak (`edge_ratio_max`).
"""

from __future__ import annotations

import math

import numpy as np


def _bracket(lrs: np.ndarray, flags: np.ndarray, below_grid: bool) -> dict:
    order = np.argsort(lrs)
    lrs, flags = lrs[order], flags[order]
    hits = np.flatnonzero(flags)
    if below_grid or (len(hits) and hits[0] == 0):
        return {"status": "below_grid", "lo": 0.0, "hi": float(lrs[0]), "estimate": math.nan}
    if not len(hits):
        return {"status": "above_grid", "lo": float(lrs[-1]), "hi": math.inf, "estimate": math.nan}
    lo, hi = float(lrs[hits[0] - 1]), float(lrs[hits[0]])
    return {"status": "bracketed", "lo": lo, "hi": hi, "estimate": math.sqrt(lo * hi)}


TREND_POINTS = 10**9  # all on-trend values before a point: a kink must not bend the line it is judged by
EOS_LEVEL = 0.9  # edge_ratio at or above this: the run sits at the edge of stability


def departed(lrs, final_threshold, margin: float) -> np.ndarray:
    """Per member of one seed: is its final threshold variable off the small-η trend?

    Members are walked in order of η; once one departs, it and every larger η count as departed
    (the regime above η* is not a trend to extrapolate). NaN values (diverged runs) depart.
    """
    lrs, values = np.asarray(lrs, float), np.asarray(final_threshold, float)
    order = np.argsort(lrs, kind="stable")
    tolerance = margin * max(1.0, abs(values[order[0]])) if np.isfinite(values[order[0]]) else 0.0
    out = np.zeros(len(lrs), bool)
    for k in range(1, len(order)):
        before = order[max(0, k - TREND_POINTS) : k]
        x, v = lrs[before], values[before]
        if len(before) >= 2 and np.ptp(x) > 0:
            slope, intercept = np.polyfit(x, v, 1)
            expected = slope * lrs[order[k]] + intercept
        else:
            expected = v[-1]
        value = values[order[k]]
        if not (np.isfinite(value) and abs(value - expected) <= tolerance):
            out[order[k:]] = True
            break
    return out


def locate(lrs, seeds, final_threshold, edge_ratio, margin: float = 0.03) -> dict:
    """η* per seed by both criteria, with median and spread (min, max) over bracketed seeds.

    edge_ratio: per member, the level of sharpness·η/2 sustained after the transient.
    """
    lrs, seeds = np.asarray(lrs, float), np.asarray(seeds)
    final_threshold, edge_ratio = np.asarray(final_threshold, float), np.asarray(edge_ratio, float)
    at_eos = edge_ratio >= EOS_LEVEL
    per_seed = []
    for seed in np.unique(seeds):
        rows = seeds == seed
        lr, thr, eos = lrs[rows], final_threshold[rows], at_eos[rows]
        departure = _bracket(lr, departed(lr, thr, margin), bool(eos[np.argmin(lr)]))
        departure["trend_points"] = int(np.sum(lr < departure["hi"])) if departure["status"] == "bracketed" else 0
        per_seed.append({"seed": int(seed), "departure": departure, "eos": _bracket(lr, eos, False)})
    return {
        "margin": margin,
        "per_seed": per_seed,
        "departure": summarise([s["departure"] for s in per_seed]),
        "eos": summarise([s["eos"] for s in per_seed]),
    }


COARSE = 1.2  # a bracket wider than this ratio hi/lo cannot place η* within 20 %


def summarise(brackets: list[dict]) -> dict:
    """Median, spread and the outer bracket over the bracketed seeds; `coarse` when a bracket is
    wider than COARSE or stands on fewer than two points of trend (then --refine can tell)."""
    done = [b for b in brackets if b["status"] == "bracketed"]
    if not done:
        return {
            "median": math.nan,
            "min": math.nan,
            "max": math.nan,
            "lo": math.nan,
            "hi": math.nan,
            "bracketed": 0,
            "seeds": len(brackets),
            "coarse": False,
        }
    est = np.array([b["estimate"] for b in done])
    coarse = any(b["hi"] > COARSE * b["lo"] or b.get("trend_points", 2) < 2 for b in done)
    return {
        "median": float(np.median(est)),
        "min": float(est.min()),
        "max": float(est.max()),
        "lo": min(b["lo"] for b in done),
        "hi": max(b["hi"] for b in done),
        "bracketed": len(done),
        "seeds": len(brackets),
        "coarse": bool(coarse),
    }


def refinement_lrs(brackets: list[dict], points: int) -> list[np.ndarray]:
    """New step sizes strictly inside each bracketed seed's bracket (empty for the others)."""
    out = []
    for b in brackets:
        if b["status"] != "bracketed":
            out.append(np.array([]))
        else:
            out.append(np.linspace(b["lo"], b["hi"], points + 2)[1:-1])
    return out
