"""Locating the critical step size η* in a sweep, one seed at a time, and what it amounts to.

η* is the knot of a local hinge fit to the seed's final threshold variable v(η) (kink.py: the
slopes before and after it give the transition's sharpness), started at the model's prediction
and moved to where the data put the kink; the verdict (verdict.py) says whether that is a sharp
transition, a crossover, or nothing the grid can tell.

Beside it, two readings kept for comparison:
- "departure": walking up the grid, the first value that leaves the straight line through the values
  before it by more than margin · max(1, |value at the smallest η|). It is a low-side onset on a sharp
  transition and moves with the grid on a crossover; runs off the trend are labelled off_trend.
- "eos": the smallest η whose run holds the edge of stability (regime.py: sharpness reached 2/η and
  held within 10 % of it for a tenth of the run).
"""

from __future__ import annotations

import math

import numpy as np

from . import kink, regime, verdict


def _bracket(lrs: np.ndarray, flags: np.ndarray) -> dict:
    order = np.argsort(lrs)
    lrs, flags = lrs[order], flags[order]
    hits = np.flatnonzero(flags)
    if len(hits) and hits[0] == 0:
        return {"status": "below_grid", "lo": 0.0, "hi": float(lrs[0]), "estimate": math.nan}
    if not len(hits):
        return {"status": "above_grid", "lo": float(lrs[-1]), "hi": math.inf, "estimate": math.nan}
    lo, hi = float(lrs[hits[0] - 1]), float(lrs[hits[0]])
    return {"status": "bracketed", "lo": lo, "hi": hi, "estimate": math.sqrt(lo * hi)}


TREND_POINTS = 10**9  # all on-trend values before a point: a kink must not bend the line it is judged by


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


def start_of(lrs, prediction: float | None, departure: dict) -> float:
    """Where the kink fit starts: the model's prediction if it lies in the grid, else the departure
    estimate, else the grid's geometric middle. The fit then moves to the kink the data show."""
    lrs = np.asarray(lrs, float)
    if prediction is not None and lrs.min() <= prediction <= lrs.max():
        return float(prediction)
    if np.isfinite(departure.get("median", math.nan)):
        return float(departure["median"])
    return float(math.sqrt(lrs.min() * lrs.max()))


def locate(
    lrs, seeds, final_threshold, regimes, prediction: float | None = None, margin: float = 0.03, moved=None
) -> dict:
    """η* per seed by the kink of the threshold variable (kink.fit), with the verdict and the
    transition's sharpness; the trend departure and the edge-of-stability onset beside it.

    regimes: per row (regime.classify); rows whose regime says nothing about the curve
    (regime.NOT_ON_CURVE) are left out of the kink fit. moved: departed_rows(...) where the caller
    has it already (computed here otherwise).
    """
    lrs, seeds = np.asarray(lrs, float), np.asarray(seeds)
    final_threshold, regimes = np.asarray(final_threshold, float), np.asarray(regimes)
    at_eos = regimes == "edge_of_stability"
    on_curve = ~np.isin(regimes, regime.NOT_ON_CURVE)
    moved = departed_rows(lrs, seeds, final_threshold, margin) if moved is None else np.asarray(moved, bool)
    per_seed = []
    for seed in np.unique(seeds):
        rows = seeds == seed
        lr, eos = lrs[rows], at_eos[rows]
        departure = _bracket(lr, moved[rows])
        departure["trend_points"] = int(np.sum(lr < departure["hi"])) if departure["status"] == "bracketed" else 0
        per_seed.append({"seed": int(seed), "departure": departure, "eos": _bracket(lr, eos)})
    dep = summarise([s["departure"] for s in per_seed])
    start = start_of(lrs, prediction, dep)
    for s in per_seed:
        rows = (seeds == s["seed"]) & on_curve
        s["kink"] = kink.fit(lrs[rows], final_threshold[rows], start)
    fits = [s["kink"] for s in per_seed]
    fitted = [f for f in fits if f["status"] == "fitted"]
    ratios = [f["ratio"] for f in fitted]
    return {
        **verdict.decide(lrs, seeds, regimes, moved, fits, prediction),
        "sharpness": {
            "median": float(np.median(ratios)) if ratios else math.nan,
            "per_seed": [f["ratio"] for f in fits],
            "sharp_from": verdict.SHARP_RATIO,
            "definition": "slope of the threshold variable after the kink over the slope before (hinge fit)",
        },
        "estimate": _kinks(fits),
        "start": start,
        "margin": margin,
        "per_seed": per_seed,
        "departure": dep,
        "eos": summarise([s["eos"] for s in per_seed]),
    }


def _kinks(fits: list[dict]) -> dict:
    """Median, spread and outer bracket of the fitted knots (`coarse` also when a seed has no fit)."""
    out = summarise(fits, status="fitted", value="knot")
    out["coarse"] = out["coarse"] or out["bracketed"] < len(fits)
    return out


def departed_rows(lrs, seeds, final_threshold, margin: float) -> np.ndarray:
    """transition.departed for every seed of a sweep's rows."""
    lrs, seeds, values = np.asarray(lrs, float), np.asarray(seeds), np.asarray(final_threshold, float)
    out = np.zeros(len(lrs), bool)
    for s in np.unique(seeds):
        rows = np.flatnonzero(seeds == s)
        out[rows] = departed(lrs[rows], values[rows], margin)
    return out


COARSE = verdict.COARSE


def summarise(brackets: list[dict], status: str = "bracketed", value: str = "estimate") -> dict:
    """Median, spread and the outer bracket of `value` over the seeds whose bracket has `status`;
    `coarse` when a bracket is wider than COARSE or stands on fewer than two points of trend (then
    --refine can tell)."""
    done = [b for b in brackets if b["status"] == status]
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
    est = np.array([b[value] for b in done])
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
    """New step sizes strictly inside each seed's bracket (a kink fit's or a departure's; empty
    where a seed has none)."""
    out = []
    for b in brackets:
        if b["status"] not in ("bracketed", "fitted", "too_coarse") or not (b["lo"] < b["hi"]):
            out.append(np.array([]))
        else:
            out.append(np.linspace(b["lo"], b["hi"], points + 2)[1:-1])
    return out
