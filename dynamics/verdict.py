"""What a sweep concludes about its transition: one verdict, from measurements with intervals.

  below_grid     the smallest step sizes are already past the transition: for most seeds the run at
                 the grid's smallest η went unstable after its start (edge of stability, catapult,
                 above the edge: the loss rose) or ended silent, at chance, dead or diverged
  above_grid     no seed's threshold variable leaves its small-η trend and no run reaches 2/η after its
                 start, and the model's prediction (if any) lies above the grid: every run is before it
  no_change      as above_grid, but the prediction lies inside the grid (or below it): nothing happens
                 where the model says it should
  too_coarse     the seeds' mean curve has under kink.MIN_SIDE grid points on a side of its kink within
                 the fit window: the grid cannot resolve the kink (refine)
  crossover      the kink's slope ratio (pooled.py: the hinge fit of the seeds' mean curve) is below
                 SHARP_RATIO with the whole of its interval over seeds: the threshold variable bends smoothly
  premise_fails  gradient flow alone moves the threshold variable by more than PREMISE_LEVEL of the
                 model's scale for it (Theory.threshold_scale; σ for the relu network), with the whole
                 interval: it learns the threshold without large steps, so whatever the kink, this is not
                 the phenomenon of [AB] (THEORY.md §1.2)
  sharp          the ratio's interval lies at or above SHARP_RATIO and the flow level's below PREMISE_LEVEL
                 (or the model states no premise)
  undecided      an interval straddles its cut: more seeds decide (the reason gives the command)

SHARP_RATIO = 10 separates a smooth bend from a kink: on the relu network (σ = 1, λ = 3, n = 300,
T·η = 10, 8 seeds) the ratio of the mean curve is 4.9 (95 %: 2.7–7.4) at d = 20, where b bends over
the whole grid, and 48 (20–69) at d = 100 and 136–294 at d = 200, where it is flat below η*.
PREMISE_LEVEL = ½: a threshold neuron filters the noise, so gradient flow has learned one once |b|
is a sizeable part of σ (at b = −σ/2 a unit still fires on 31 % of pure-noise coordinates, against
50 % at b = 0). Measured, |b|/σ at the smallest η (8 seeds): 1.0 at d = 35, 0.78 at d = 50, 0.67 at
d = 80 and 1.25 at λ = 5, where gradient flow also beats the linear rule's accuracy by 5–17 points;
0.43 at d = 100, 0.23 at d = 200 and 0.01 at d = 100, σ = 2, where it beats it by at most 2 points
(README, "Where the theorem holds").
"""

from __future__ import annotations

import math

import numpy as np

from .kink import MIN_SIDE
from .pooled import interval_of

SHARP_RATIO = 10.0
PREMISE_LEVEL = 0.5
COARSE = 1.2  # a bracket wider than this ratio hi/lo cannot place η* within 20 %
MOVED = ("edge_of_stability", "eos_transient", "catapult", "above_edge")  # the loss rose after the start
PAST = (*MOVED, "silent", "chance", "dead", "diverged")

VERDICTS = ("sharp", "crossover", "premise_fails", "undecided", "too_coarse", "below_grid", "above_grid", "no_change")


def _at_smallest(lrs, seeds, regimes) -> dict[int, str]:
    """Seed -> the regime of its run at its smallest step size."""
    out = {}
    for s in np.unique(seeds):
        rows = np.flatnonzero(seeds == s)
        out[int(s)] = str(regimes[rows[np.argmin(lrs[rows])]])
    return out


def _range(value: dict) -> tuple[float, float]:
    """The interval of a pooled measurement; the value itself for one seed (which has none); nothing
    decided (−inf, inf) where too many resamples failed to give one."""
    if value["lo"] is not None:
        return value["lo"], value["hi"]
    return (-math.inf, math.inf) if value.get("failed") else (value["value"], value["value"])


def decide(lrs, seeds, regimes, departed, measured: dict, prediction: float | None) -> dict:
    """{"verdict": one of VERDICTS, "reason": one line, "advice": options that would decide or
    bracket it ({} if none)} for a sweep's rows (lrs, seeds, regimes, departed: per row) and the
    pooled measurement of its mean curve (pooled.measure_with_intervals), given the predicted η*."""
    lrs, seeds, regimes = np.asarray(lrs, float), np.asarray(seeds), np.asarray(regimes)
    return _outside(lrs, seeds, regimes, departed, prediction) or _measured(measured)


def _outside(lrs, seeds, regimes, departed, prediction: float | None) -> dict | None:
    """below_grid, above_grid or no_change: where the grid does not hold the transition; else None."""
    lo, hi = float(lrs.min()), float(lrs.max())
    first = _at_smallest(lrs, seeds, regimes)
    past = {s: r for s, r in first.items() if r in PAST}
    if 2 * len(past) > len(first):
        where = f"; the prediction {prediction:.3g} lies below it" if prediction is not None and prediction < lo else ""
        named = ", ".join(f"seed {s}: {r}" for s, r in past.items())
        return {
            "verdict": "below_grid",
            "reason": f"at the smallest η = {lo:.3g}, {len(past)} of {len(first)} seeds are already past the "
            f"transition ({named}){where}",
            "advice": _bracketing(prediction, lo / 20, hi),
        }
    if np.any(departed) or np.any(np.isin(regimes, MOVED)):
        return None
    if prediction is None or prediction > hi:
        where = f" (prediction {prediction:.3g})" if prediction is not None else ""
        return {
            "verdict": "above_grid",
            "reason": f"no run leaves its small-η trend or reaches 2/η up to η = {hi:.3g}: every run is before "
            f"the transition{where}",
            "advice": _bracketing(prediction, lo, hi * 20),
        }
    return {
        "verdict": "no_change",
        "reason": f"no run leaves its small-η trend or reaches 2/η over η = {lo:.3g}–{hi:.3g}, "
        f"although the prediction {prediction:.3g} lies inside it",
        "advice": {},
    }


def _measured(measured: dict) -> dict:
    """too_coarse, premise_fails, crossover, sharp or undecided: what the mean curve's kink and the
    premise's level say, with their intervals over seeds."""
    fit = measured["fit"]
    if fit["status"] != "fitted":
        return {
            "verdict": "too_coarse",
            "reason": f"the seeds' mean curve has {fit['points']} grid points within a factor 2 of its kink near "
            f"η = {fit['knot']:.3g}, under {2 * MIN_SIDE} (two on each side): the grid cannot resolve it",
            "advice": {"refine": 2},
        }
    ratio, flow, seeds_n = measured["ratio"], measured["flow"], measured["seeds"]
    r_lo, r_hi = _range(ratio)
    kink_text = f"the slope of the threshold variable changes {interval_of(ratio, 'times')} at the kink"
    flow_text = f"gradient flow alone moves the threshold variable by {interval_of(flow)} × its scale"
    f_lo, f_hi = _range(flow) if measured["flow_measured"] else (math.nan, math.nan)
    if not measured["flow_measured"]:
        flow_text = "the premise is not measured (the model states none, or the grid starts above η*/2)"
    elif f_lo > PREMISE_LEVEL:
        return {
            "verdict": "premise_fails",
            "reason": f"gradient flow already learns the threshold: {flow_text} (over {PREMISE_LEVEL:g}), so the "
            f"large steps do not teach it: not the phenomenon of [AB] ({kink_text})",
            "advice": {},
        }
    if r_hi < SHARP_RATIO:
        return {
            "verdict": "crossover",
            "reason": f"a smooth crossover, no sharp transition: {kink_text} (sharp from {SHARP_RATIO:g}×); "
            f"{flow_text}",
            "advice": {},
        }
    if r_lo >= SHARP_RATIO and not (f_hi > PREMISE_LEVEL):
        single = "; one seed: no interval (--seeds 3 gives one)" if seeds_n == 1 else ""
        return {
            "verdict": "sharp",
            "reason": f"a sharp transition: {kink_text} (sharp from {SHARP_RATIO:g}×); {flow_text} "
            f"(the premise: under {PREMISE_LEVEL:g}){single}",
            "advice": {} if seeds_n > 1 else {"seeds": 3},
        }
    straddles = [f"{kink_text}, across the cut {SHARP_RATIO:g}×"] if r_lo < SHARP_RATIO else []
    if f_hi > PREMISE_LEVEL:
        straddles.append(f"{flow_text}, across the cut {PREMISE_LEVEL:g}")
    return {
        "verdict": "undecided",
        "reason": f"{'; '.join(straddles)}: {seeds_n} seeds cannot tell",
        "advice": {"seeds": max(8, 2 * seeds_n)},
    }


def _bracketing(prediction: float | None, lo: float, hi: float) -> dict:
    """The --lr that brackets the transition: the default relative grid where the model predicts η*,
    else the grid stretched geometrically past the side that missed it."""
    if prediction is not None:
        return {"lr": "0.2x:5x", "log": False}
    return {"lr": f"{lo:.3g}:{hi:.3g}", "log": True}
