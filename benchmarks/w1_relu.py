"""W1: the paper's relu network (d = 200, n = 300, λ = 3), 128 step sizes on 1e-4..0.012, 3 seeds,
T = round(10/η), sharpness every 99 steps (see common.py for what is measured and how).

The NumPy reference takes dense O(nd) steps and a central-difference 3×3 Hessian every 99 steps;
it and the per-member loop run on a subsample of members capped at 3000 steps each. The exact
fast path (`impl="sorted"`) is then set against the dense path (`impl="dense"`) in the engine,
on every 8th step size.

Run: python benchmarks/w1_relu.py [--quick]
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from common import device_line, peak_memory_mb, print_table, step_sizes, subsample, time_engine, time_per_member

from eos.dynamics.data import sparse_coding
from eos.dynamics.engine import EngineConfig
from eos.dynamics.models import ModelSpec, make_model

N, LAM, STRIDE, CAP = 300, 3.0, 99, 3000


def numpy_relu(x, y, lr, steps, a0):
    """Plain NumPy GD on the paper's network, one step size; returns the final bias."""
    a_neg, a_pos, b = a0[0], a0[1], 0.0
    n = len(y)

    def grad(a_neg, a_pos, b):
        pos, neg = x + b, b - x
        s_pos, s_neg = np.maximum(pos, 0).sum(1), np.maximum(neg, 0).sum(1)
        m = y * (a_neg * s_neg + a_pos * s_pos)
        g = -y / (1 + np.exp(m)) / n
        db = a_neg * (neg > 0).sum(1) + a_pos * (pos > 0).sum(1)
        return np.array([g @ s_neg, g @ s_pos, g @ db])

    for t in range(steps):
        ga = grad(a_neg, a_pos, b)
        a_neg, a_pos, b = a_neg - lr * ga[0], a_pos - lr * ga[1], b - lr * ga[2]
        if t % STRIDE == 0:  # sharpness: central differences of the gradient, then eigvalsh
            h, theta = 1e-5, np.array([a_neg, a_pos, b])
            hess = np.stack([(grad(*(theta + h * e)) - grad(*(theta - h * e))) / (2 * h) for e in np.eye(3)])
            np.linalg.eigvalsh(0.5 * (hess + hess.T))
    return b


def time_numpy_relu(model, d, lrs, seeds, horizons) -> float:
    """Member-steps per second of numpy_relu on the engine's data and initialisation (made beforehand)."""
    problems = []
    for s in seeds:
        k = jax.random.key(int(s))
        (x, y), _ = sparse_coding(jax.random.fold_in(k, 0), d, N, LAM, 1.0, 10)
        p0 = model.init(jax.random.fold_in(k, 1), None)
        problems.append((np.asarray(x, np.float64), np.asarray(y, np.float64), [float(p0.a_neg), float(p0.a_pos)]))
    t0 = time.perf_counter()
    for lr, (x, y, a0), h in zip(lrs, problems, horizons):
        numpy_relu(x, y, lr, int(h), a0)
    return float(np.sum(horizons)) / (time.perf_counter() - t0)


def grid(d: int, count: int, seeds: int = 3):
    lrs = np.linspace(1e-4, 0.012, count)
    member_lrs, member_seeds = np.repeat(lrs, seeds), np.tile(np.arange(seeds), count)
    return member_lrs, member_seeds, np.maximum(1, np.round(10 / member_lrs)).astype(int)


def measure(d: int, count: int, n_sub: int = 6) -> dict:
    """Engine, per-member loop and NumPy on W1's grid at dimension d; rates and times."""
    model = make_model(ModelSpec(d=d, n=N, lam=LAM, n_test=1000), jnp.float32)
    lrs, seeds, horizons = grid(d, count)
    eng = time_engine(model, lrs, seeds, horizons, EngineConfig(stride=STRIDE))
    memory = peak_memory_mb()
    pick = subsample(n_sub, len(lrs), 3)
    sub = (lrs[pick], seeds[pick], np.minimum(horizons[pick], CAP))
    loop = time_per_member(model, *sub, stride=STRIDE)
    numpy_rate = time_numpy_relu(model, d, *sub)
    return {"engine": eng, "numpy": numpy_rate, "per-member": loop, "peak_mb": memory, "useful": int(horizons.sum())}


def main():
    count = step_sizes(128)
    print(f"W1: relu d = 200, n = {N}, {count} step sizes × 3 seeds, T = round(10/η); {device_line()}")
    r = measure(200, count)
    eng = r["engine"]
    print_table([("numpy", r["numpy"]), ("per-member", r["per-member"]), ("engine", eng.rate)])
    print(
        f"engine: {r['useful']:,} useful member-steps; wall {eng.wall_s:.1f} s of which compile {eng.compile_s:.1f} s; "
        f"{eng.trajectories.slots} slots; "
        f"wasted {eng.trajectories.computed_steps / eng.trajectories.useful_steps - 1:.1%}"
    )
    print(
        f"engine wall, compile included, against the NumPy loop for all members "
        f"({r['useful'] / r['numpy']:.0f} s estimated): {r['useful'] / r['numpy'] / eng.wall_s:.1f}× faster"
    )
    print(f"peak memory after the engine run: {r['peak_mb']:.0f} MiB")

    # The fast path against the dense reference, same engine, same members (every 8th step size).
    model = {
        impl: make_model(ModelSpec(d=200, n=N, lam=LAM, n_test=1000, impl=impl), jnp.float32)
        for impl in ("sorted", "dense")
    }
    lrs, seeds, horizons = grid(200, count)
    keep = np.isin(np.arange(len(lrs)) // 3, np.arange(0, count, 8))
    t = {
        impl: time_engine(model[impl], lrs[keep], seeds[keep], horizons[keep], EngineConfig(stride=STRIDE))
        for impl in ("dense", "sorted")
    }
    bias = {impl: t[impl].trajectories.observables["final_bias"] for impl in t}
    print(
        f"fast path: {keep.sum()} members; engine member-steps/s dense {t['dense'].rate:,.0f}, "
        f"sorted {t['sorted'].rate:,.0f}: {t['sorted'].rate / t['dense'].rate:.1f}× (compile excluded); "
        f"float32 final biases differ by at most {np.max(np.abs(bias['sorted'] - bias['dense'])):.1e}"
    )


if __name__ == "__main__":
    main()
