"""W1: the paper's relu network (d = 200, n = 300, λ = 3), 128 step sizes on 1e-4..0.012, 3 seeds,
T = round(10/η), sharpness every 99 steps. Prints rates measured side by side in one run:

  numpy       a plain NumPy loop, one step size at a time (dense O(nd) steps, finite-difference
              3×3 Hessian every 99 steps), on a subsample of members
  per-member  the engine's own compiled block function for one member, Python loop over members
  engine      eos's pooled jit(vmap(scan)) over all members (compile time reported apart)

Run: python benchmarks/w1_relu.py [--quick]
"""
from __future__ import annotations

import argparse
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np

from dynamics import engine
from dynamics.engine import EngineConfig, member_block
from dynamics.models import ModelSpec, make_model

D, N, LAM = 200, 300, 3.0
STRIDE = 99


def numpy_reference(x, y, lr, steps, a0):
    """Plain NumPy GD on the paper's network; returns the final bias."""
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer step sizes (for a smoke run)")
    args = ap.parse_args()
    lrs = np.linspace(1e-4, 0.012, 16 if args.quick else 128)
    seeds = 3
    member_lrs, member_seeds = np.repeat(lrs, seeds), np.tile(np.arange(seeds), len(lrs))
    horizons = np.maximum(1, np.round(10 / member_lrs)).astype(int)
    useful = int(horizons.sum())
    model = make_model(ModelSpec(d=D, n=N, lam=LAM, n_test=1000), jnp.float32)
    cfg = EngineConfig(stride=STRIDE)
    print(f"W1: {len(member_lrs)} members, {useful:,} useful member-steps, device {jax.devices()[0].device_kind}")

    # engine, all members; compile measured by a run of one step per member (same programs)
    t0 = time.perf_counter()
    engine.run(model, member_lrs, member_seeds, np.ones_like(horizons), config=cfg)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tr = engine.run(model, member_lrs, member_seeds, horizons, config=cfg)
    engine_s = time.perf_counter() - t0
    engine_rate = useful / max(engine_s - compile_s, 1e-9)

    # subsample for the loops: small, middle and large η of seed 0, capped at 3000 steps each
    pick = np.array([0, len(lrs) // 2, len(lrs) - 1]) * seeds
    sub_h = np.minimum(horizons[pick], 3000)

    train, _ = jax.jit(model.sample)(jax.random.fold_in(jax.random.key(0), 0))
    p0 = model.init(jax.random.fold_in(jax.random.key(0), 1), train)
    from dynamics.data import sparse_coding

    (x, y), _ = sparse_coding(jax.random.fold_in(jax.random.key(0), 0), D, N, LAM, 1.0, 1000)
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    t0 = time.perf_counter()
    for i, h in zip(pick, sub_h):
        numpy_reference(x, y, member_lrs[i], int(h), np.array([float(p0.a_neg), float(p0.a_pos)]))
    numpy_rate = sub_h.sum() / (time.perf_counter() - t0)

    advance = member_block(model, 20, STRIDE)
    one = jax.jit(advance)
    flat = jnp.ones(3, jnp.float32)
    one(p0, train, 0.01, 1, 1e6, 0, -1, flat)[0].b.block_until_ready()  # compile
    t0 = time.perf_counter()
    for i, h in zip(pick, sub_h):
        state = (p0, 0, -1, flat)
        for _ in range(-(-int(h) // STRIDE)):
            p, t, div, ritz, *_ = one(state[0], train, jnp.float32(member_lrs[i]), int(h), 1e6, state[1], state[2], state[3])
            state = (p, t, div, ritz)
        state[0].b.block_until_ready()
    loop_rate = sub_h.sum() / (time.perf_counter() - t0)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'path':<12} {'member-steps/s':>15} {'× numpy':>9} {'× per-member':>13}")
    for name, rate in (("numpy", numpy_rate), ("per-member", loop_rate), ("engine", engine_rate)):
        print(f"{name:<12} {rate:>15,.0f} {rate / numpy_rate:>9.1f} {rate / loop_rate:>13.1f}")
    print(f"engine: wall {engine_s:.1f} s including compile ≈ {compile_s:.1f} s; {tr.slots} slots; "
          f"wasted {tr.computed_steps / tr.useful_steps - 1:.1%}; "
          f"engine wall vs numpy estimate for all members: {useful / numpy_rate / engine_s:.1f}× faster, compile included")
    print(f"peak resident memory of this process: {peak_mb:.0f} MiB")


if __name__ == "__main__":
    main()
