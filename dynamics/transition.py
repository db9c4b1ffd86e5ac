"""Locating the critical step size η* in a sweep, one seed at a time, and what it amounts to.

η* is the knot of a local hinge fit to the seeds' mean final threshold variable v̄(η) (kink.py,
pooled.py: the slopes before and after it give the transition's sharpness, a bootstrap over seeds
their intervals), started at the model's prediction and moved to where the data put the kink; the
verdict (verdict.py) says whether that is a sharp transition, a crossover, a kink that gradient flow
already makes (the premise fails), or something more seeds or a finer grid must decide.

Beside it, two readings kept for comparison:
- "departure": walking up the grid, the first value that leaves the straight line through the values
  before it by more than margin · max(1, |value at the smallest η|). It is a low-side onset on a sharp
  transition and moves with the grid on a crossover; runs off the trend are labelled off_trend.
- "eos": the smallest η whose run holds the edge of stability (regime.py).
"""

from __future__ import annotations

import math

import numpy as np

from . import kink, pooled, regime, verdict


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
    lrs,
    seeds,
    final_threshold,
    regimes,
    prediction: float | None = None,
    margin: float = 0.03,
    moved=None,
    initial=None,
    scale: float | None = None,
    resamples: int = pooled.RESAMPLES,
) -> dict:
    """η* as the kink of the seeds' mean curve of the threshold variable (pooled.py), with its
    sharpness, the premise and the verdict, each with an interval over seeds; per seed, its own kink
    fit, the trend departure and the edge-of-stability onset beside them.

    regimes: per row (regime.classify); rows whose regime says nothing about the curve
    (regime.NOT_ON_CURVE) are left out of the fits. moved: departed_rows(...) where the caller
    has it already (computed here otherwise). initial: the threshold variable at initialisation, one
    per seed in np.unique(seeds) order; scale: the model's Theory.threshold_scale (the premise is
    measured only with both).
    """
    lrs, seeds = np.asarray(lrs, float), np.asarray(seeds)
    final_threshold, regimes = np.asarray(final_threshold, float), np.asarray(regimes)
    at_eos = np.isin(regimes, regime.AT_EDGE)
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
    v0 = np.zeros(len(per_seed)) if initial is None else np.asarray(initial, float)
    scale = None if initial is None else scale
    measured = pooled.measure_with_intervals(lrs, seeds, final_threshold, on_curve, v0, start, scale, resamples)
    fit = measured["fit"]
    knots = [s["kink"]["knot"] for s in per_seed if s["kink"]["status"] == "fitted"]
    return {
        **verdict.decide(lrs, seeds, regimes, moved, measured, prediction),
        "sharpness": {
            **measured["ratio"],
            "per_seed": [s["kink"]["ratio"] for s in per_seed],
            "sharp_from": verdict.SHARP_RATIO,
            "definition": "slope of the seeds' mean threshold variable after the kink over the slope before "
            "(hinge fit over [η*/2, 2η*])",
        },
        "premise": {
            **measured["flow"],
            "measured": bool(measured["flow_measured"]),
            "cut": verdict.PREMISE_LEVEL,
            "gradient_flow_value": measured["smallest"],
            "scale": scale,
            "definition": "|mean threshold variable at the smallest step size (gradient-flow-like) − its initial "
            "value| over the model's threshold scale",
        },
        "estimate": {
            **_with_resolution(measured["knot"], fit),
            "bracket": [fit["lo"], fit["hi"]],
            "coarse": bool(fit["status"] == "fitted" and fit["hi"] > COARSE * fit["lo"]),
            "per_seed_min": min(knots) if knots else math.nan,
            "per_seed_max": max(knots) if knots else math.nan,
            "seeds": len(per_seed),
        },
        "fit": fit,
        "interval": f"{100 * pooled.LEVEL:.0f} % percentile bootstrap over seeds ({pooled.RESAMPLES} resamples)",
        "start": start,
        "margin": margin,
        "per_seed": per_seed,
        "departure": dep,
        "eos": summarise([s["eos"] for s in per_seed]),
    }


def _with_resolution(knot: dict, fit: dict) -> dict:
    """The knot's interval over seeds widened by the grid's resolution: one grid spacing (the bracket
    around the knot) on each side. A hinge fitted to a curve that is not exactly a hinge places its
    knot within about a spacing of where a finer grid would (measured at d = 200: 3 seeds put it at
    1.028 × 8π/d², 8 seeds at 0.990, on grids of spacing 0.10 and 0.05 × 8π/d²), and a few seeds can
    agree by chance far more closely than that. With one seed the interval is the resolution alone."""
    out = dict(knot)
    if fit["status"] != "fitted":
        return out
    spacing = fit["hi"] - fit["lo"]
    lo = knot["value"] if knot["lo"] is None else min(knot["lo"], knot["value"])
    hi = knot["value"] if knot["hi"] is None else max(knot["hi"], knot["value"])
    out.update(lo=lo - spacing, hi=hi + spacing, over_seeds=[knot["lo"], knot["hi"]], resolution=spacing)
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


def refinement_lrs(lrs, fit: dict, points: int) -> np.ndarray:
    """New step sizes around the kink of the mean curve, the same for every seed: `points` strictly
    inside its bracket and one in the middle of each neighbouring grid interval, so that a kink
    that sits one interval off is found there and the next round's bracket moves to it (empty
    where there is no bracket)."""
    if fit["status"] not in ("fitted", "too_coarse") or not (fit["lo"] < fit["hi"]):
        return np.array([])
    grid = np.unique(np.asarray(lrs, float))
    below, above = grid[grid < fit["lo"]], grid[grid > fit["hi"]]
    new = list(np.linspace(fit["lo"], fit["hi"], points + 2)[1:-1])
    if len(below):
        new.append((below[-1] + fit["lo"]) / 2)
    if len(above):
        new.append((above[0] + fit["hi"]) / 2)
    return np.setdiff1d(np.array(sorted(new)), grid)
