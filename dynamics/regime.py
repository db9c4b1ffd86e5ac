"""Regimes of a run, named from its measurements, so that a report can say what happens where.

Per member, first match wins:
  diverged            the loss turned non-finite or exploded (status diverged)
  dead                every ReLU unit is inactive on the training data
  silent              the network answers test inputs no better than a coin (test accuracy ≤ SILENT):
                      b so negative that almost no unit fires on fresh data
  edge_of_stability   after the transient the sharpness sits at 2/η: edge_ratio ≥ transition.EOS_LEVEL
  catapult            the threshold variable left its small-η trend after the sharpness went past
                      2/η (edge_ratio_max ≥ 1) and then fell back below it
  off_trend           it left the trend with no recorded sharpness above 2/η (records are `stride` apart)
  gradient_flow       on the small-η trend: gradient descent tracks gradient flow
"""

from __future__ import annotations

import numpy as np

from .transition import EOS_LEVEL

SILENT = 0.55
NAMES = ("gradient_flow", "edge_of_stability", "catapult", "off_trend", "silent", "dead", "diverged")
LABELS = {
    "gradient_flow": "gradient-flow-like",
    "edge_of_stability": "edge of stability",
    "catapult": "catapult",
    "off_trend": "off the trend",
    "silent": "silent network",
    "dead": "dead network",
    "diverged": "diverged",
}


def classify(summary: dict, departed: np.ndarray) -> np.ndarray:
    """One regime name per row of a sweep summary (columns status, dead, edge_ratio, edge_ratio_max,
    and test_acc where the model has test data); `departed` from transition.departed."""
    n = len(departed)
    acc = summary.get("test_acc", np.full(n, np.nan))
    out = np.where(departed, "off_trend", "gradient_flow").astype(object)
    out[departed & (summary["edge_ratio_max"] >= 1.0)] = "catapult"
    out[summary["edge_ratio"] >= EOS_LEVEL] = "edge_of_stability"
    out[np.asarray(acc, float) <= SILENT] = "silent"
    out[np.asarray(summary["dead"], bool)] = "dead"
    out[summary["status"] == "diverged"] = "diverged"
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
