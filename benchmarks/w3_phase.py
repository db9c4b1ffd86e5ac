"""W3: W1's grid (128 step sizes on 1e-4..0.012, 3 seeds, T = round(10/η), sharpness every 99
steps) over d ∈ {50, 100, 200, 400}, as for a phase diagram; n = 300, λ = 3. One engine run per d
(each compiles its own shapes); NumPy and the per-member loop on 6 members per d, capped at 3000
steps each (see w1_relu.py and common.py).

Run: python benchmarks/w3_phase.py [--quick]
"""

from __future__ import annotations

from common import device_line, step_sizes
from w1_relu import measure

DIMS = (50, 100, 200, 400)


def main():
    count = step_sizes(128)
    print(f"W3: relu n = 300, {count} step sizes × 3 seeds, T = round(10/η), d ∈ {DIMS}; {device_line()}")
    print(
        f"{'d':>4} {'numpy/s':>9} {'per-member/s':>13} {'engine/s':>10} {'× numpy':>8} {'× per-member':>13} "
        f"{'compile s':>10} {'wall s':>7} {'wall × numpy':>13} {'peak MiB':>9}"
    )
    totals = {"useful": 0, "wall": 0.0, "numpy_s": 0.0}
    for d in DIMS:
        r = measure(d, count)
        eng = r["engine"]
        numpy_s = r["useful"] / r["numpy"]
        totals["useful"] += r["useful"]
        totals["wall"] += eng.wall_s
        totals["numpy_s"] += numpy_s
        print(
            f"{d:>4} {r['numpy']:>9,.0f} {r['per-member']:>13,.0f} {eng.rate:>10,.0f} {eng.rate / r['numpy']:>8.1f} "
            f"{eng.rate / r['per-member']:>13.1f} {eng.compile_s:>10.1f} {eng.wall_s:>7.1f} "
            f"{numpy_s / eng.wall_s:>13.1f} {r['peak_mb']:>9.0f}"
        )
    print(
        f"all d: {totals['useful']:,} useful member-steps; engine wall {totals['wall']:.1f} s, compile included; "
        f"NumPy estimate {totals['numpy_s']:.0f} s: {totals['numpy_s'] / totals['wall']:.1f}× faster"
    )


if __name__ == "__main__":
    main()
