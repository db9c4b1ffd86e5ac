"""Regimes of a run, named from its dynamics, so that a report can say what happens where.

Each run is first measured from its records (`measure`; r = sharpness·η/2, so r = 1 is 2/η):
  initial_instability  r ≥ 1 at initialisation or within the first EARLY_STEPS steps: the start's own
                       instability (the output scale relaxing), not a catapult of the dynamics
  late_ratio_max       max r after the first EARLY_STEPS steps
  edge_ratio           the level r stays at or above for STRETCH of the run after the first TRANSIENT
  edge_held            r stays inside the band [EOS_LOW, EOS_HIGH] for STRETCH of the run after TRANSIENT
  loss_fall_end        the share of the run's whole loss decrease that came in its last END (mean loss
                       over the last END against the mean over the END before it)

Then one regime per run, first match wins (each a one-line rule, quoted in the README):
  diverged            the loss turned non-finite or exploded
  dead                every ReLU unit is inactive on the training data
  silent              at most SILENT_ACTIVE of the test inputs have any active unit (active_frac)
  chance              units fire, but test accuracy is at most CHANCE: no better than a coin
  unfinished          over UNFINISHED of the loss decrease came in the last END of the run: the horizon
                      ended the run, not the dynamics (a finite-T effect, not a regime)
  edge_of_stability   r reached 1 after the start (late_ratio_max ≥ EOS_REACH), was held inside the band
                      [EOS_LOW, EOS_HIGH] for a stretch (edge_held). A run converging to a sharpness
                      just under 2/η from below (the product model within 5 % below its η*) reads so too:
                      records `stride` steps apart cannot tell the two apart
  above_edge          r held at or above EOS_HIGH for a stretch: sharpness sustained past 2/η
  catapult            r reached 1 after the start, then fell back: not held
  off_trend           r stayed below 1 after the start, but the threshold variable left its small-η trend
  gradient_flow       r stayed below 1 after the start and the threshold variable is on its trend
"""

from __future__ import annotations

import numpy as np

EARLY_STEPS = 3  # steps 0..3: sharpness above 2/η here is the initialisation's instability
TRANSIENT = 0.05  # the first 5 % of a run's steps: a⁺ + a⁻ relaxes, the sharpness climbs
STRETCH = 0.10  # a level held for 10 % of the steps is sustained, not a passing peak
# The edge of stability: the sharpness within −15 %/+10 % of 2/η. Self-stabilisation holds it just
# under 2/η (THEORY.md §1.3): at d = 100 the level held is 0.85–0.92 and the recorded peak 0.97–0.98.
EOS_LOW, EOS_HIGH = 0.85, 1.1
EOS_REACH = 0.95  # r reached 1, up to the records' phase: records are `stride` steps apart
END = 0.10  # the last 10 % of a run, against the 10 % before it
UNFINISHED = 0.15  # 15 % of the whole decrease in the last tenth: still falling faster than on average
SILENT_ACTIVE = 0.05  # at most 5 % of fresh inputs reach any unit: the network is silent
CHANCE = 0.55  # test accuracy at most this is a coin flip (2000 test samples: ±0.011 standard error)

NAMES = (
    "gradient_flow",
    "off_trend",
    "catapult",
    "edge_of_stability",
    "above_edge",
    "unfinished",
    "chance",
    "silent",
    "dead",
    "diverged",
)
LABELS = {
    "gradient_flow": "gradient-flow-like",
    "off_trend": "off the trend (stable)",
    "catapult": "catapult",
    "edge_of_stability": "edge of stability",
    "above_edge": "above the edge",
    "unfinished": "unfinished",
    "chance": "chance-level accuracy",
    "silent": "silent network",
    "dead": "dead network",
    "diverged": "diverged",
}
RULES = {
    "gradient_flow": "sharpness below 2/η after the first 3 steps, threshold variable on its small-η trend",
    "off_trend": "sharpness below 2/η after the first 3 steps, threshold variable off its small-η trend",
    "catapult": "sharpness past 2/η after the first 3 steps, then back below it, not held",
    "edge_of_stability": "sharpness reached 2/η, held within 0.85–1.1 × 2/η for 10 % of the run",
    "above_edge": "sharpness held at or above 1.1 × 2/η for 10 % of the run",
    "unfinished": "over 15 % of the loss decrease came in the last 10 % of the run: the horizon ended it",
    "chance": "test accuracy ≤ 0.55 while units fire",
    "silent": "≤ 5 % of test inputs reach any active unit",
    "dead": "every ReLU unit inactive on the training data",
    "diverged": "loss non-finite or exploded",
}
# Regimes whose final threshold variable says nothing about the curve v(η): left out of the kink fit.
NOT_ON_CURVE = ("diverged", "dead", "silent", "chance")


def _windows(values: np.ndarray, width: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(values, width)


def measure(step, loss, sharpness, stride: int, horizons, lrs) -> dict:
    """The per-run measurements above from records (runs, records) taken every `stride` steps
    (step −1 pads a run that recorded fewer); horizons and lrs (runs,)."""
    runs = len(lrs)
    out = {
        "initial_instability": np.zeros(runs, bool),
        "late_ratio_max": np.full(runs, np.nan),
        "edge_ratio": np.full(runs, np.nan),
        "edge_held": np.zeros(runs, bool),
        "loss_fall_end": np.full(runs, np.nan),
    }
    for m, (horizon, lr) in enumerate(zip(np.asarray(horizons), np.asarray(lrs, float))):
        recorded = step[m] >= 0
        steps, r = step[m][recorded], sharpness[m][recorded] * lr / 2.0
        early = steps <= EARLY_STEPS
        out["initial_instability"][m] = bool(np.nanmax(r[early], initial=-np.inf) >= 1.0)
        if (~early).any() and np.isfinite(r[~early]).any():
            out["late_ratio_max"][m] = np.nanmax(r[~early])
        width = int(STRETCH * horizon // stride) + 1  # records spanning STRETCH·T steps
        after = r[steps >= TRANSIENT * horizon]
        if 1 <= width <= len(after):
            windows = _windows(after, width)
            floors = windows.min(axis=1)  # NaN in a window makes it no evidence
            if np.isfinite(floors).any():
                out["edge_ratio"][m] = np.nanmax(floors)
            out["edge_held"][m] = bool(np.any((floors >= EOS_LOW) & (windows.max(axis=1) <= EOS_HIGH)))
        out["loss_fall_end"][m] = _loss_fall(steps, loss[m][recorded], horizon)
    return out


def _loss_fall(steps, loss, horizon) -> float:
    last = loss[steps > (1 - END) * horizon]
    before = loss[(steps > (1 - 2 * END) * horizon) & (steps <= (1 - END) * horizon)]
    if not (len(last) and len(before)) or not (np.isfinite(last).all() and np.isfinite(before).all()):
        return np.nan
    total = loss[0] - np.mean(last)
    return float((np.mean(before) - np.mean(last)) / total) if total > 0 else 0.0


def classify(summary: dict, departed: np.ndarray) -> np.ndarray:
    """One regime name per row of a sweep summary (columns status, dead, the `measure` columns, and
    test_acc / active_frac where the model has them); `departed` from transition.departed."""
    n = len(departed)
    column = lambda name, fill: np.asarray(summary.get(name, np.full(n, fill)), float)
    reached = column("late_ratio_max", np.nan) >= EOS_REACH
    out = np.where(departed, "off_trend", "gradient_flow").astype(object)
    out[reached] = "catapult"
    out[column("edge_ratio", np.nan) >= EOS_HIGH] = "above_edge"
    out[reached & np.asarray(summary["edge_held"], bool)] = "edge_of_stability"
    out[column("loss_fall_end", np.nan) > UNFINISHED] = "unfinished"
    out[column("test_acc", np.nan) <= CHANCE] = "chance"
    out[column("active_frac", np.nan) <= SILENT_ACTIVE] = "silent"
    out[np.asarray(summary["dead"], bool)] = "dead"
    out[np.asarray(summary["status"]) == "diverged"] = "diverged"
    return out.astype(str)


def ranges(lrs: np.ndarray, regimes: np.ndarray) -> list[tuple[str, float, float, int]]:
    """(regime, first η, last η, grid points) of consecutive runs of the per-η regime, where the
    regime at each η is the most common over its seeds (ties: the later one in NAMES)."""
    grid = np.unique(lrs)
    per_lr = []
    for x in grid:
        names, counts = np.unique(regimes[lrs == x], return_counts=True)
        best = max(zip(counts, [NAMES.index(m) for m in names], names))
        per_lr.append(best[2])
    out: list[tuple[str, float, float, int]] = []
    for x, name in zip(grid, per_lr):
        if out and out[-1][0] == name:
            out[-1] = (name, out[-1][1], float(x), out[-1][3] + 1)
        else:
            out.append((name, float(x), float(x), 1))
    return out
