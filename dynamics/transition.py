"""Locating the critical step size η* in a sweep, one seed at a time.

Criterion ("departure"): the threshold variable at the end of training (b for relu
and mean, the mean bias for mlp, y for product) departs from its gradient-flow value
by more than margin · max(1, |gradient-flow value|). The gradient-flow value is the
one reached at the seed's smallest step size; with a fixed total time (T·η constant)
gradient descent below η* tracks gradient flow, so that value does not depend on η.
η* is bracketed by the last grid point before the first departure and that point;
the estimate is the geometric mean of the bracket.

A second, independent criterion ("eos") reports the smallest η whose measured
sharpness reached 2/η at some record (max sharpness · η/2 ≥ 1).
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


def departed(lrs, final_threshold, margin: float) -> np.ndarray:
    """Per member of one seed: has the final threshold variable left its gradient-flow value?"""
    ref = final_threshold[np.argmin(lrs)]
    return np.abs(final_threshold - ref) > margin * max(1.0, abs(ref))


def locate(lrs, seeds, final_threshold, max_sharpness, margin: float = 0.03) -> dict:
    """η* per seed by both criteria, with median and spread (min, max) over bracketed seeds."""
    lrs, seeds = np.asarray(lrs, float), np.asarray(seeds)
    final_threshold, max_sharpness = np.asarray(final_threshold, float), np.asarray(max_sharpness, float)
    at_eos = max_sharpness * lrs / 2.0 >= 1.0
    per_seed = []
    for seed in np.unique(seeds):
        rows = seeds == seed
        lr, thr, eos = lrs[rows], final_threshold[rows], at_eos[rows]
        reference_at_eos = bool(eos[np.argmin(lr)])
        per_seed.append(
            {
                "seed": int(seed),
                "departure": _bracket(lr, departed(lr, thr, margin), reference_at_eos),
                "eos": _bracket(lr, eos, False),
            }
        )
    return {
        "margin": margin,
        "per_seed": per_seed,
        "departure": summarise([s["departure"] for s in per_seed]),
        "eos": summarise([s["eos"] for s in per_seed]),
    }


def summarise(brackets: list[dict]) -> dict:
    est = np.array([b["estimate"] for b in brackets if b["status"] == "bracketed"])
    if not len(est):
        return {"median": math.nan, "min": math.nan, "max": math.nan, "bracketed": 0, "seeds": len(brackets)}
    return {
        "median": float(np.median(est)),
        "min": float(est.min()),
        "max": float(est.max()),
        "bracketed": int(len(est)),
        "seeds": len(brackets),
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
