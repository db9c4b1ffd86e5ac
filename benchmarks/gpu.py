"""The engine's workloads as a GPU user meets them: wall time with compile, in one process.

Workloads (float32, the relu model on d = 200, n = 300, λ = 3, T = round(10/η), sharpness every
99 steps unless said otherwise):
  W1        128 step sizes on 1e-4..0.012 × 3 seeds (1.7 M member-steps), cold (first call,
            compile included) and warm (the same call again: programs compiled)
  W1x32     4096 step sizes × 3 seeds (55 M member-steps)
  W2        mlp of width 256, 64 step sizes × 1 seed, 500 steps
  S1024x8   `eos sweep --lr 1e-4:0.012:1024 --seeds 8` through run_sweep (chunks, files' arrays)
and, to see what a pool step costs, W1 at stride 99 against stride 999 (records, Lanczos and
host synchronisation are paid once a block) and impl counted against sorted.

Each row: wall seconds with compile, compile seconds, useful member-steps/s (compile excluded),
µs per pool step (wall without compile over pool steps), peak device memory, slots per device,
pool policy and relu formulation. The 2-core CPU figures of benchmarks/README.md follow for
comparison. On a CPU, `--quick` runs the same script on 1/8 of each grid (a smoke test).

Run: python benchmarks/gpu.py [--quick]    (about 3 minutes on one H100/H200)
"""

from __future__ import annotations

import argparse
import time

import jax.numpy as jnp
import numpy as np
from common import compile_seconds, device_line, peak_memory_mb

from eos.dynamics import engine
from eos.dynamics.engine import EngineConfig
from eos.dynamics.models import ModelSpec, make_model, resolve_impl
from eos.dynamics.planning import pool_policy
from eos.dynamics.sweep import SweepConfig, run_sweep

CPU_README = {  # 2-core CPU, benchmarks/README.md (wall with compile, member-steps/s)
    "W1": (18.8, 125_027),
    "W2": (60.7, 581),
}


def grid(count: int, seeds: int, lo=1e-4, hi=0.012, time_=10.0, steps=None):
    lrs = np.repeat(np.linspace(lo, hi, count), seeds)
    member_seeds = np.tile(np.arange(seeds), count)
    horizons = np.full(len(lrs), steps) if steps else np.maximum(1, np.round(time_ / lrs)).astype(np.int64)
    return lrs, member_seeds, horizons


def timed(label, model, lrs, seeds, horizons, config: EngineConfig, impl: str):
    before = compile_seconds()
    start = time.perf_counter()
    tr = engine.run(model, lrs, seeds, horizons, dtype=jnp.float32, config=config)
    wall = time.perf_counter() - start
    compiled = compile_seconds() - before
    pool_steps = tr.computed_steps / tr.slots
    row = dict(
        label=label,
        wall=wall,
        compile=compiled,
        rate=tr.useful_steps / max(wall - compiled, 1e-9),
        us_per_pool_step=1e6 * (wall - compiled) / max(pool_steps, 1),
        memory=peak_memory_mb(),
        slots=tr.slots,
        pool=pool_policy(config),
        impl=impl,
    )
    print_row(row)
    return row


def print_row(r):
    print(
        f"{r['label']:<22} {r['wall']:>8.1f} {r['compile']:>8.1f} {r['rate']:>14,.0f} {r['us_per_pool_step']:>10.1f} "
        f"{r['memory']:>9.0f} {r['slots']:>6d}  {r['pool']:<11} {r['impl']}",
        flush=True,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1/8 of each grid (a smoke run on a CPU)")
    scale = 8 if ap.parse_args().quick else 1
    print(f"device: {device_line()}; quick = {scale > 1}")
    print(
        f"{'workload':<22} {'wall s':>8} {'compile':>8} {'member-steps/s':>14} {'µs/step':>10} {'peak MiB':>9} "
        f"{'slots':>6}  {'pool':<11} impl"
    )
    spec = ModelSpec(d=200, n=300, lam=3.0, n_test=1000)
    impl = resolve_impl(spec.impl)
    relu = make_model(spec, jnp.float32)
    cfg = EngineConfig(stride=99)

    w1 = grid(128 // scale, 3)
    timed("W1 cold", relu, *w1, cfg, impl)
    timed("W1 warm", relu, *w1, cfg, impl)
    timed("W1 stride 999", relu, *w1, EngineConfig(stride=999), impl)
    other = "sorted" if impl == "counted" else "counted"
    timed(
        f"W1 impl {other}",
        make_model(ModelSpec(d=200, n=300, lam=3.0, n_test=1000, impl=other), jnp.float32),
        *w1,
        cfg,
        other,
    )
    timed("W1x32", relu, *grid(4096 // scale, 3), cfg, impl)
    mlp = make_model(ModelSpec(model="mlp", d=200, n=300, lam=3.0, n_test=1000, width=256), jnp.float32)
    timed("W2 mlp width 256", mlp, *grid(64 // scale, 1, steps=500), cfg, "-")

    before, start = compile_seconds(), time.perf_counter()
    result = run_sweep(SweepConfig(spec=spec, lrs=tuple(np.linspace(1e-4, 0.012, 1024 // scale)), seeds=8, time=10.0))
    wall = time.perf_counter() - start
    compiled = compile_seconds() - before
    useful = result.meta["engine"]["useful_steps"]
    slots = result.meta["engine"]["slots_per_device"]
    print_row(
        dict(
            label=f"S{1024 // scale}x8 run_sweep",
            wall=wall,
            compile=compiled,
            rate=useful / max(wall - compiled, 1e-9),
            us_per_pool_step=1e6 * (wall - compiled) / max(result.meta["engine"]["computed_steps"] / slots, 1),
            memory=peak_memory_mb(),
            slots=slots,
            pool=pool_policy(result.config.engine),
            impl=impl,
        )
    )
    print(
        "2-core CPU (benchmarks/README.md): "
        + "; ".join(f"{k} {w:.1f} s, {r:,} member-steps/s" for k, (w, r) in CPU_README.items())
    )


if __name__ == "__main__":
    main()
