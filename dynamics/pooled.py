"""The transition measured on the seeds' mean curve, with intervals from a bootstrap over seeds.

A seed is the independent unit of a sweep (it fixes the data and the initialisation), so every
number a verdict rests on is computed from the mean over seeds of the final threshold variable,
v̄(η) = mean_s v_s(η), and its uncertainty from resampling the seeds (scipy.stats.bootstrap,
percentile intervals). Three numbers:

  ratio   |s₊| / |s₋| of the hinge fit (kink.fit) to v̄ over [κ/2, 2κ]: how much faster the
          threshold variable moves after the knot κ than before it
  knot    κ, the located η*
  flow    how far gradient flow alone moves the threshold variable, in units of the model's scale
          for it (Theory.threshold_scale: σ for the relu network):
              flow = |v̄(η_min) − v̄₀| / scale
          with v̄₀ its mean initial value and η_min the grid's smallest step size (gradient-flow-like
          when η_min ≤ κ/2; otherwise, or without a scale, the premise is not measured)

Why the mean curve and not a median of per-seed ratios: a seed whose initial output is small has a
pre-kink slope ≈ 0, and its own ratio reads 45–830× at any d (THEORY.md §1.2, "Measuring the
transition"); the ratio of the mean slopes weighs each seed by how much it actually moves. Measured
on the relu network (σ = 1, λ = 3, 8 seeds, default grid): 4.9 at d = 20, 10 at d = 35, 12 at d = 50,
22 at d = 80, 48 at d = 100, 136–294 at d = 200; doubling the grid moves each by less than its interval
(README, "Where the theorem holds").
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from . import kink

LEVEL = 0.95  # two-sided confidence level of every interval
RESAMPLES = 999


def mean_curve(lrs, seeds, values, keep) -> tuple[np.ndarray, np.ndarray]:
    """(grid, per-seed values (grid, seeds)): every seed's kept points, linearly interpolated onto the
    union of their step sizes (NaN outside a seed's own range), so that seeds refined at other step
    sizes, or with a diverged run left out, still average point by point."""
    lrs, seeds, values, keep = np.asarray(lrs, float), np.asarray(seeds), np.asarray(values, float), np.asarray(keep)
    keep = keep & np.isfinite(values)
    grid = np.unique(lrs[keep])
    columns = []
    for s in np.unique(seeds):
        rows = keep & (seeds == s)
        x, v = lrs[rows], values[rows]
        order = np.argsort(x, kind="stable")
        x, v = x[order], v[order]
        col = np.full(len(grid), np.nan)
        if len(x):
            inside = (grid >= x[0]) & (grid <= x[-1])
            col[inside] = np.interp(grid[inside], x, v)
        columns.append(col)
    return grid, np.stack(columns, axis=1) if columns else np.zeros((len(grid), 0))


def average(table: np.ndarray) -> np.ndarray:
    """Mean over the chosen seeds at each step size where at least half of them have a value."""
    have = np.isfinite(table)
    with np.errstate(invalid="ignore"):
        mean = np.nansum(table, axis=1) / have.sum(axis=1)
    return np.where(2 * have.sum(axis=1) >= table.shape[1], mean, np.nan)


def measure(grid, table, initial, start: float, scale: float | None = None) -> dict:
    """The hinge fit of the mean over the seeds (columns of `table`) and the flow level."""
    v = average(table)
    fit = kink.fit(grid, v, start)
    finite = np.isfinite(v)
    x, y = grid[finite], v[finite]
    out = {"fit": fit, "ratio": fit["ratio"], "knot": fit["knot"], "flow": math.nan, "flow_measured": False}
    out["smallest"] = float(y[0]) if len(y) else math.nan
    if fit["status"] != "fitted":
        return out
    knot = fit["knot"]
    if scale is not None and x[0] <= knot / kink.WINDOW:
        out["flow"] = abs(y[0] - float(np.mean(initial))) / scale
        out["flow_measured"] = True
    return out


def measure_with_intervals(
    lrs, seeds, values, keep, initial, start: float, scale: float | None = None, resamples: int = RESAMPLES
) -> dict:
    """`measure` on all seeds, and percentile intervals at LEVEL for ratio, knot and flow from a
    bootstrap over seeds (None for an interval where there is one seed, which has none).

    initial: the threshold variable at initialisation, one value per seed (in np.unique(seeds) order).
    The bootstrap is seeded: the same sweep gives the same intervals, byte for byte.
    """
    grid, table = mean_curve(lrs, seeds, values, keep)
    initial = np.asarray(initial, float)
    whole = measure(grid, table, initial, start, scale)
    names = ("ratio", "knot", "flow")
    out = {name: {"value": float(whole[name]), "lo": None, "hi": None} for name in names}
    out.update(fit=whole["fit"], flow_measured=whole["flow_measured"], smallest=whole["smallest"])
    out.update(seeds=table.shape[1], level=LEVEL)
    # seeds that are copies of one another (a model that draws nothing at random) are one unit, not many
    copies = table.shape[1] > 1 and np.array_equal(table, np.repeat(table[:, :1], table.shape[1], 1), equal_nan=True)
    if copies and np.all(initial == initial[0]):
        for name in names:
            out[name]["identical"] = True
        return out
    if table.shape[1] < 2 or whole["fit"]["status"] != "fitted" or resamples == 0:
        return out
    cache: dict[tuple, np.ndarray] = {}

    def statistic(index):
        key = tuple(sorted(int(i) for i in index))  # a resample is a multiset of seeds: fit each once
        if key not in cache:
            m = measure(grid, table[:, list(key)], initial[list(key)], whole["knot"], scale)
            cache[key] = np.array([m[name] if m["fit"]["status"] == "fitted" else np.nan for name in names])
        return cache[key]

    from scipy.stats import bootstrap  # here: scipy.stats takes 0.2 s to import, and a sweep needs it only at the end

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a degenerate resample (all seeds alike) warns; its interval is a point
        replicates = bootstrap(
            (np.arange(table.shape[1]),),
            statistic,
            vectorized=False,
            n_resamples=resamples,
            confidence_level=LEVEL,
            method="percentile",
            random_state=np.random.default_rng(0),  # the same sweep gives the same intervals, byte for byte
        ).bootstrap_distribution
    tail = 100 * (1 - LEVEL) / 2
    for j, name in enumerate(names):
        sample = np.asarray(replicates[j], float)
        good = sample[np.isfinite(sample)]
        out[name]["failed_resamples"] = int(len(sample) - len(good))  # a resample whose fit failed is left out
        if len(good) >= 0.9 * len(sample):
            out[name]["lo"], out[name]["hi"] = (float(v) for v in np.percentile(good, [tail, 100 - tail]))
        else:
            out[name]["failed"] = True
    return out


def interval_of(value: dict, kind: str = "plain") -> str:
    """A measurement with its interval: '95× (95 % over seeds: 48–111×)' (kind "times"), '36 % (29–44 %)'
    (kind "percent"), or the value and why it has no interval."""
    form = {
        "times": lambda v: f"{v:.3g}×",
        "percent": lambda v: f"{100 * v:.0f} %",
        "plain": lambda v: f"{v:.4g}",
    }[kind]
    if value["lo"] is None:
        why = "over 10 % of the resamples failed to fit" if value.get("failed") else "one seed"
        why = "the seeds are identical, the model draws nothing at random" if value.get("identical") else why
        return f"{form(value['value'])} ({why}: no interval)"
    return f"{form(value['value'])} ({100 * LEVEL:.0f} % over seeds: {form(value['lo'])}–{form(value['hi'])})"
