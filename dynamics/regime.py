"""Regimes of a run, named from its dynamics, so that a report can say what happens where.

Each run is first measured (`measure`; r = sharpness·η/2, so r = 1 is 2/η). The engine counts, at
every step, the steps at which the loss rose (engine.RISE: the instability of GD past 2/η, which a
descent step below 2/λ never shows); the sharpness is read at the records, `stride` steps apart.
  loss_rises          steps after the first engine.RISE_AFTER at which the loss rose (every step counted)
  initial_instability r ≥ 1 at initialisation or within the first EARLY_STEPS steps: the start's own
                      instability (the output scale relaxing), not a catapult of the dynamics
  late_ratio_max      max r over the records after the first EARLY_STEPS steps (a lower bound of the
                      true peak: records can miss a brief one)
  edge_ratio          the level r stays at or above for STRETCH of the run after the first TRANSIENT
  edge_held           r stays inside the band [EOS_LOW, EOS_HIGH] for STRETCH of the run after TRANSIENT
  edge_share          the share of the records after TRANSIENT with r inside the band
  edge_at_end         r inside the band over the last END of the run
  loss_fall_end       the share of the run's whole loss decrease that came in its last END (mean loss
                      over the last END against the mean over the END before it)

Then one regime per run, first match wins (each a one-line rule in RULES, quoted in the report):
  diverged            the loss turned non-finite or exploded
  dead                every ReLU unit is inactive on the training data
  silent              at most SILENT_ACTIVE of the test inputs have any active unit (active_frac)
  chance              units fire, but test accuracy is at most CHANCE: no better than a coin
  unfinished          over UNFINISHED of the loss decrease came in the last END of the run: the horizon
                      ended the run, not the dynamics (a finite-T effect, not a regime)
  edge_of_stability   the loss rose after the start, and r was held inside the band for a stretch and
                      is still there at the end: the edge of stability held to the end
  eos_transient       the same, but r has left the band by the end: an edge-of-stability phase (its
                      share of the run is edge_share)
  above_edge          r held at or above EOS_HIGH for a stretch: sharpness sustained past 2/η
  catapult            the loss rose after the start, then fell back without the sharpness holding the
                      band: a rise and fall
  off_trend           the loss never rose after the start, but the threshold variable left its
                      small-η trend
  gradient_flow       the loss never rose after the start and the threshold variable is on its trend

Which of the last five a run is does not depend on the record stride where it rests on the loss
(counted every step); a band held for STRETCH of the run spans at least that share of the records.
"""

from __future__ import annotations

import numpy as np

EARLY_STEPS = 3  # steps 0..3: sharpness above 2/η here is the initialisation's instability
TRANSIENT = 0.05  # the first 5 % of a run's steps: a⁺ + a⁻ relaxes, the sharpness climbs
STRETCH = 0.10  # a level held for 10 % of the steps is sustained, not a passing peak
# The edge of stability: the sharpness within −15 %/+10 % of 2/η. Self-stabilisation holds it just
# under 2/η (THEORY.md §1.3): at d = 100 the level held is 0.85–0.92 and the recorded peak 0.97–0.98.
EOS_LOW, EOS_HIGH = 0.85, 1.1
END = 0.10  # the last 10 % of a run, against the 10 % before it
UNFINISHED = 0.15  # 15 % of the whole decrease in the last tenth: still falling faster than on average
SILENT_ACTIVE = 0.05  # at most 5 % of fresh inputs reach any unit: the network is silent
CHANCE = 0.55  # test accuracy at most this is a coin flip (2000 test samples: ±0.011 standard error)

NAMES = (
    "gradient_flow",
    "off_trend",
    "catapult",
    "eos_transient",
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
    "eos_transient": "edge of stability, transient",
    "edge_of_stability": "edge of stability",
    "above_edge": "above the edge",
    "unfinished": "unfinished",
    "chance": "chance-level accuracy",
    "silent": "silent network",
    "dead": "dead network",
    "diverged": "diverged",
}
# The observables a model may name for the rules that need them (Model.regime_inputs).
INPUTS = {
    "accuracy": "test accuracy (rule chance)",
    "active_share": "share of test inputs reaching a unit (rule silent)",
}


def percent(share: float) -> str:
    return f"{100 * share:.3g} %"


def band() -> str:
    return f"{EOS_LOW:g}–{EOS_HIGH:g} × 2/η"


def rules() -> dict[str, str]:
    """Each regime's rule in one line, built from the constants it states."""
    held, early = f"{percent(STRETCH)} of the run", f"after the first {EARLY_STEPS} steps"
    return {
        "gradient_flow": f"the loss never rose {early}, threshold variable on its small-η trend",
        "off_trend": f"the loss never rose {early}, threshold variable off its small-η trend",
        "catapult": f"the loss rose {early}, then fell back; sharpness not held within {band()}",
        "eos_transient": f"the loss rose, sharpness held within {band()} for {held}, out of it by the end",
        "edge_of_stability": f"the loss rose, sharpness held within {band()} for {held} and to the end",
        "above_edge": f"sharpness held at or above {EOS_HIGH:g} × 2/η for {held}",
        "unfinished": f"over {percent(UNFINISHED)} of the loss decrease came in the last {percent(END)} of the run: "
        "the horizon ended it",
        "chance": f"test accuracy ≤ {CHANCE:g} while units fire",
        "silent": f"≤ {percent(SILENT_ACTIVE)} of test inputs reach any active unit",
        "dead": "every ReLU unit inactive on the training data",
        "diverged": "loss non-finite or exploded",
    }


AT_EDGE = ("edge_of_stability", "eos_transient")  # regimes that hold the edge of stability, for a while or to the end
# Regimes whose final threshold variable says nothing about the curve v(η): left out of the kink fit.
NOT_ON_CURVE = ("diverged", "dead", "silent", "chance")


def _windows(values: np.ndarray, width: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(values, width)


def measure(step, loss, sharpness, stride: int, horizons, lrs, rises=None) -> dict:
    """The per-run measurements above from records (runs, records) taken every `stride` steps
    (step −1 pads a run that recorded fewer); horizons and lrs (runs,); rises (runs, records): the
    engine's count of loss rises since the record before (None: none counted)."""
    runs = len(lrs)
    out = {
        "loss_rises": np.zeros(runs, np.int64),
        "initial_instability": np.zeros(runs, bool),
        "late_ratio_max": np.full(runs, np.nan),
        "edge_ratio": np.full(runs, np.nan),
        "edge_held": np.zeros(runs, bool),
        "edge_share": np.full(runs, np.nan),
        "edge_at_end": np.zeros(runs, bool),
        "loss_fall_end": np.full(runs, np.nan),
    }
    for m, (horizon, lr) in enumerate(zip(np.asarray(horizons), np.asarray(lrs, float))):
        recorded = step[m] >= 0
        steps, r = step[m][recorded], sharpness[m][recorded] * lr / 2.0
        if rises is not None:
            out["loss_rises"][m] = int(np.sum(np.maximum(rises[m][recorded], 0)))
        early = steps <= EARLY_STEPS
        out["initial_instability"][m] = bool(np.nanmax(r[early], initial=-np.inf) >= 1.0)
        if (~early).any() and np.isfinite(r[~early]).any():
            out["late_ratio_max"][m] = np.nanmax(r[~early])
        width = int(STRETCH * horizon // stride) + 1  # records spanning STRETCH·T steps
        after = r[steps >= TRANSIENT * horizon]
        band = (after >= EOS_LOW) & (after <= EOS_HIGH)
        if len(after):
            out["edge_share"][m] = float(np.mean(band))
        end = r[steps > (1 - END) * horizon]
        out["edge_at_end"][m] = bool(len(end) and np.all((end >= EOS_LOW) & (end <= EOS_HIGH)))
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


def classify(summary: dict, departed: np.ndarray, inputs: dict | None = None) -> np.ndarray:
    """One regime name per row of a sweep summary (columns status, dead and the `measure` columns);
    `departed` from transition.departed; `inputs` the model's regime_inputs (INPUTS -> column name),
    without which the rules chance and silent do not apply."""
    inputs = inputs or {}
    n = len(departed)
    column = lambda name, fill: np.asarray(summary.get(name, np.full(n, fill)), float)
    rose = column("loss_rises", 0) > 0
    held = rose & np.asarray(summary["edge_held"], bool)
    out = np.where(departed, "off_trend", "gradient_flow").astype(object)
    out[rose] = "catapult"
    out[column("edge_ratio", np.nan) >= EOS_HIGH] = "above_edge"
    out[held] = "eos_transient"
    out[held & np.asarray(summary.get("edge_at_end", np.zeros(n)), bool)] = "edge_of_stability"
    out[column("loss_fall_end", np.nan) > UNFINISHED] = "unfinished"
    if "accuracy" in inputs:
        out[column(inputs["accuracy"], np.nan) <= CHANCE] = "chance"
    if "active_share" in inputs:
        out[column(inputs["active_share"], np.nan) <= SILENT_ACTIVE] = "silent"
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
