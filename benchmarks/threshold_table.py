"""Located η* against each prediction, for d ∈ {20, 50, 200} and σ ∈ {0.5, 1, 2} (the relu network).

Each cell is one sweep of 32 step sizes on a geometric grid from 0.25 to 4 times 8π/(σ²d²),
3 seeds, T·η = 10, n = 300, λ = 3; the located η* (trend departure, and the edge-of-stability
criterion) is printed with its bracket next to the closed form and 2/λ_max along gradient flow.

    python benchmarks/threshold_table.py [--quick]
"""

import sys
import time

import numpy as np

from eos.dynamics import SweepConfig, run_sweep, theory
from eos.dynamics.model import ModelSpec


def cell(d: int, sigma: float, points: int, seeds: int) -> dict:
    eta = theory.threshold_lr_closed_form(d, sigma)
    start = time.perf_counter()
    r = run_sweep(
        SweepConfig(
            spec=ModelSpec(d=d, n=300, sigma=sigma), lrs=tuple(np.geomspace(0.25, 4, points) * eta), seeds=seeds
        )
    )
    dep, eos = r.transition["departure"], r.transition["eos"]
    return {
        "d": d,
        "sigma": sigma,
        "closed": eta,
        "flow": r.theory["threshold_lr"]["gradient_flow_peak"]["median"],
        "dep": dep,
        "eos": eos,
        "wall": time.perf_counter() - start,
    }


def fmt(s: dict) -> str:
    if not s["bracketed"]:
        return f"{'—':>9} {'':>19}"
    return f"{s['median']:>9.3g} [{s['lo']:.3g}, {s['hi']:.3g}]".ljust(30)


def main():
    quick = "--quick" in sys.argv
    ds, sigmas = ((20, 50), (0.5, 1.0)) if quick else ((20, 50, 200), (0.5, 1.0, 2.0))
    print(
        f"{'d':>4} {'σ':>4} {'8π/(σ²d²)':>10} {'2/λ flow':>9} {'located (trend) [bracket]':<30} "
        f"{'/closed':>7} {'/flow':>6} {'held 2/η from [bracket]':<30} {'/closed':>7} {'s':>5}"
    )
    for d in ds:
        for sigma in sigmas:
            c = cell(d, sigma, 16 if quick else 32, 1 if quick else 3)
            ratio = lambda s, ref: f"{s['median'] / ref:>7.2f}" if s["bracketed"] else f"{'—':>7}"
            print(
                f"{d:>4} {sigma:>4} {c['closed']:>10.4g} {c['flow']:>9.4g} {fmt(c['dep'])} "
                f"{ratio(c['dep'], c['closed'])} {ratio(c['dep'], c['flow']):>6} {fmt(c['eos'])} "
                f"{ratio(c['eos'], c['closed'])} {c['wall']:>5.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
