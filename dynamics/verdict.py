"""What a sweep concludes about its transition: one verdict, from measurements, in six words.

  below_grid   the smallest step sizes are already past the transition: for most seeds the run at
               the grid's smallest η reached 2/η after its start (edge of stability, catapult, above the
               edge) or ended silent, at chance, dead or diverged
  above_grid   no seed's threshold variable leaves its small-η trend and no run reaches 2/η after its
               start, and the model's prediction (if any) lies above the grid: every run is before it
  no_change    as above_grid, but the prediction lies inside the grid (or below it): nothing happens
               where the model says it should
  too_coarse   a kink is there but most seeds' hinge fits have under kink.MIN_SIDE points on a side
               within the fit window, or a bracket wider than COARSE: refine
  sharp        the median over seeds of the kink's slope ratio s₊/s₋ is at least SHARP_RATIO
  crossover    it is below SHARP_RATIO: the threshold variable bends smoothly, no sharp transition

SHARP_RATIO = 10 separates the sizes where the theorem's picture holds from those where it does not:
on the relu network (σ = 1, n = 300, λ = 3, T·η = 10, 3 seeds, refined twice) the median ratio is 2.5
at d = 20 and 7.0 at d = 50, against 38 at d = 100, 89 at d = 200 and 685 at d = 100, σ = 2 (README,
"Where the theorem holds"; benchmarks/threshold_table.py).
"""

from __future__ import annotations

import numpy as np

SHARP_RATIO = 10.0
COARSE = 1.2  # a bracket wider than this ratio hi/lo cannot place η* within 20 %
PAST = ("edge_of_stability", "catapult", "above_edge", "silent", "chance", "dead", "diverged")
MOVED = ("edge_of_stability", "catapult", "above_edge")  # reached 2/η after the start

VERDICTS = ("sharp", "crossover", "too_coarse", "below_grid", "above_grid", "no_change")


def _at_extreme(lrs, seeds, regimes, pick) -> list[str]:
    out = []
    for s in np.unique(seeds):
        rows = np.flatnonzero(seeds == s)
        out.append(str(regimes[rows[pick(lrs[rows])]]))
    return out


def decide(lrs, seeds, regimes, departed, fits: list[dict], prediction: float | None) -> dict:
    """{"verdict": one of VERDICTS, "reason": one line} for a sweep's rows (lrs, seeds, regimes,
    departed: per row) and its per-seed kink fits (kink.fit), given the model's predicted η*."""
    lrs, seeds, regimes = np.asarray(lrs, float), np.asarray(seeds), np.asarray(regimes)
    lo, hi = float(lrs.min()), float(lrs.max())
    first = _at_extreme(lrs, seeds, regimes, np.argmin)
    past = sum(r in PAST for r in first)
    if 2 * past > len(first):
        where = f"; the prediction {prediction:.3g} lies below it" if prediction is not None and prediction < lo else ""
        return {
            "verdict": "below_grid",
            "reason": f"at the smallest η = {lo:.3g}, {past} of {len(first)} seeds are already past the transition "
            f"({', '.join(sorted(set(first)))}){where}",
        }
    if not np.any(departed) and not np.any(np.isin(regimes, MOVED)):
        if prediction is None or prediction > hi:
            where = f" (prediction {prediction:.3g})" if prediction is not None else ""
            return {
                "verdict": "above_grid",
                "reason": f"no run leaves its small-η trend or reaches 2/η up to η = {hi:.3g}: every run is before "
                f"the transition{where}",
            }
        return {
            "verdict": "no_change",
            "reason": f"no run leaves its small-η trend or reaches 2/η over η = {lo:.3g}–{hi:.3g}, "
            f"although the prediction {prediction:.3g} lies inside it",
        }
    fitted = [f for f in fits if f["status"] == "fitted"]
    wide = [f for f in fitted if f["hi"] > COARSE * f["lo"]]
    if 2 * len(fitted) <= len(fits) or 2 * len(wide) > len(fitted):
        why = (
            [
                f"{len(fits) - len(fitted)} of {len(fits)} seeds have under two grid points on a side of the kink "
                f"within a factor 2"
            ]
            if len(fitted) < len(fits)
            else []
        )
        why += [f"{len(wide)} of {len(fitted)} fitted seeds bracket it wider than 20 %"] if wide else []
        return {"verdict": "too_coarse", "reason": f"{'; '.join(why)}: refine (--refine 2) or a finer --lr"}
    ratio = float(np.median([f["ratio"] for f in fitted]))
    kind = "sharp" if ratio >= SHARP_RATIO else "crossover"
    text = "a sharp transition" if kind == "sharp" else "a smooth crossover, no sharp transition"
    return {
        "verdict": kind,
        "reason": f"{text}: the slope of the threshold variable changes {ratio:.3g}× at the kink "
        f"(median over {len(fitted)} seeds; sharp from {SHARP_RATIO:g}×)",
    }
