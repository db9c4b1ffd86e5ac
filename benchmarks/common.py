"""What every workload script measures, side by side in one process (these machines are noisy,
so only ratios from the same run are comparable):

  numpy       a plain NumPy loop, one step size at a time, on a subsample of members
  per-member  the engine's own block function, jit of one member, Python loop over members
  engine      eos's pooled jit(vmap(scan)), all members; compile time reported apart

Compile time is what JAX reports through jax.monitoring (tracing, lowering, XLA compilation);
the persistent compilation cache is off, so it is a cold start's. Peak memory is the process's
peak resident set (CPU) or the device's peak bytes in use (GPU).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

try:  # without an install (a machine with no package index: PYTHONPATH=.), map `eos` onto the checkout
    import eos.dynamics  # noqa: F401
except ModuleNotFoundError:
    sys.modules["eos"] = types.ModuleType("eos")
    sys.modules["eos"].__path__ = [str(Path(__file__).resolve().parents[1])]

from eos.dynamics import engine
from eos.dynamics.engine import EngineConfig, member_block

_COMPILE_EVENTS = (
    "/jax/core/compile/backend_compile_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/jaxpr_trace_duration",
)
_compile_seconds = [0.0]


def _listen(name, seconds, **_):
    if name in _COMPILE_EVENTS:
        _compile_seconds[0] += seconds


jax.monitoring.register_event_duration_secs_listener(_listen)


def compile_seconds() -> float:
    return _compile_seconds[0]


def device_line() -> str:
    d = jax.devices()
    return f"{d[0].device_kind} × {len(d)} ({d[0].platform})"


def peak_memory_mb() -> float:
    stats = jax.devices()[0].memory_stats() if jax.devices()[0].platform != "cpu" else None
    if stats and "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class EngineTiming:
    wall_s: float
    compile_s: float
    rate: float  # useful member-steps per second, compile excluded
    trajectories: engine.Trajectories


def time_engine(model, lrs, seeds, horizons, config: EngineConfig, dtype=jnp.float32) -> EngineTiming:
    before = compile_seconds()
    start = time.perf_counter()
    tr = engine.run(model, lrs, seeds, horizons, dtype=dtype, config=config)
    wall = time.perf_counter() - start
    compiled = compile_seconds() - before
    return EngineTiming(wall, compiled, tr.useful_steps / max(wall - compiled, 1e-9), tr)


def time_per_member(model, lrs, seeds, horizons, stride: int, lanczos_steps: int = 20, dtype=jnp.float32) -> float:
    """Member-steps per second of jit(member block) driven by a Python loop, one member at a time."""
    block = jax.jit(member_block(model, lanczos_steps, stride))
    state = {}

    def start(seed):
        if seed not in state:
            k = jax.random.key(int(seed))
            train, _ = jax.jit(model.sample)(jax.random.fold_in(k, 0))
            params = jax.jit(model.init)(jax.random.fold_in(k, 1), train)
            state[seed] = (train, params, jnp.ones(jax.flatten_util.ravel_pytree(params)[0].shape, dtype))
        return state[seed]

    def one(lr, seed, horizon):
        train, params, ritz = start(seed)
        t, div = jnp.int32(0), jnp.int32(-1)
        lr, horizon, cap = jnp.asarray(lr, dtype), jnp.int32(horizon), jnp.asarray(1e30, dtype)
        for start_step in range(0, int(horizon), stride):
            steps = jnp.int32(min(stride, int(horizon) - start_step))
            params, t, div, ritz, *_ = block(params, train, (), jnp.int32(0), lr, horizon, cap, t, div, ritz, steps)
        jax.block_until_ready(params)

    one(lrs[0], seeds[0], min(int(horizons[0]), stride))  # compile, and the data of the first seed
    for s in seeds:
        start(s)
    t0 = time.perf_counter()
    for lr, s, h in zip(lrs, seeds, horizons):
        one(lr, s, h)
    return float(np.sum(horizons)) / (time.perf_counter() - t0)


def sgemm_flops(size: int = 2048, repeats: int = 10) -> float:
    """The machine's float32 matrix-multiply rate (FLOP/s) through the same XLA backend."""
    a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    t0 = time.perf_counter()
    for _ in range(repeats):
        out = f(a)
    out.block_until_ready()
    return 2 * size**3 * repeats / (time.perf_counter() - t0)


def subsample(count: int, members: int, seeds: int) -> np.ndarray:
    """`count` members spread over the step-size grid (members ordered lr-major, seed-minor)."""
    lr_index = np.linspace(0, members // seeds - 1, count).round().astype(int)
    return lr_index * seeds + np.arange(count) % seeds


def print_table(rows: list[tuple[str, float]], reference: str = "numpy", loop: str = "per-member") -> None:
    rates = dict(rows)
    print(f"{'path':<12} {'member-steps/s':>15} {'× numpy':>9} {'× per-member':>13}")
    for name, rate in rows:
        print(f"{name:<12} {rate:>15,.0f} {rate / rates[reference]:>9.1f} {rate / rates[loop]:>13.1f}")


def step_sizes(full: int) -> int:
    """The grid's step-size count: `full`, or 16 with --quick (a smoke run)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="16 step sizes (a smoke run)")
    return 16 if ap.parse_args().quick else full
