"""Where the theorem holds: the verdict of `eos sweep` over d (σ = 1) and at σ = 2 (the relu network).

Each row is one sweep on the default grid (0.2 to 5 × 8π/(σ²d²), 48 step sizes, evenly spaced), 3 seeds,
T·η = 10, n = 300, λ = 3, then `--refine 2`: the verdict, the kink's slope ratio (median over seeds),
the located η* over the closed form and over 2/max λ along gradient flow (integrated from each seed's
start), and the gradient-flow-like bias and test accuracy (the grid's smallest η, median over seeds).

    python benchmarks/threshold_table.py [--quick]      # --quick: 2 seeds, no refinement
"""

import sys
import time

import common  # noqa: F401  (maps `eos` onto the checkout when it is not installed)
import numpy as np

from eos.dynamics import SweepConfig, run_sweep
from eos.dynamics.model import ModelSpec

ROWS = [(20, 1.0), (50, 1.0), (100, 1.0), (200, 1.0), (100, 2.0)]


def row(d: int, sigma: float, seeds: int, refine: int) -> dict:
    start = time.perf_counter()
    r = run_sweep(SweepConfig(spec=ModelSpec(d=d, n=300, sigma=sigma), seeds=seeds, refine=refine))
    t, th, s = r.transition, r.theory["threshold_lr"], r.summary
    first = s["lr"] == s["lr"].min()
    return {
        "d": d,
        "sigma": sigma,
        "verdict": t["verdict"],
        "ratio": t["sharpness"]["median"],
        "located": t["estimate"]["median"],
        "spread": (t["estimate"]["min"], t["estimate"]["max"]),
        "closed": th["closed_form"],
        "flow": th["gradient_flow"]["median"],
        "b_flow": float(np.median(s["final_threshold"][first])),
        "acc_flow": float(np.median(s["test_acc"][first])),
        "acc_top": float(np.median(s["test_acc"][s["lr"] == s["lr"].max()])),
        "wall": time.perf_counter() - start,
    }


def main() -> None:
    quick = "--quick" in sys.argv
    print(
        f"{'d':>4} {'σ':>4} {'verdict':>11} {'slope ×':>8} {'located η*':>11} {'/ 8π/(σ²d²)':>11} {'/ flow':>7} "
        f"{'GF b':>7} {'GF acc':>7} {'acc at 5η*':>10} {'wall':>6}"
    )
    for d, sigma in ROWS:
        c = row(d, sigma, 2 if quick else 3, 0 if quick else 2)
        print(
            f"{c['d']:>4} {c['sigma']:>4g} {c['verdict']:>11} {c['ratio']:>8.3g} {c['located']:>11.4g} "
            f"{c['located'] / c['closed']:>11.3f} {c['located'] / c['flow']:>7.3f} {c['b_flow']:>7.3f} "
            f"{c['acc_flow']:>7.3f} {c['acc_top']:>10.3f} {c['wall']:>5.1f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
