"""How the engine will run a set of members, fixed before it starts (`Plan`): the record stride,
the members each device holds (the pool), the devices, and whether the pool reads per-seed tables.

The pool size comes from simulating the engine's schedule (members run longest first, a finished
member's slot refilled at once) so that wasted member-steps stay under max_waste of the useful ones
(cpu), or from the device's memory (accelerator); see pool_policy.
"""

from __future__ import annotations

import heapq
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .config import EngineConfig
from .model import Model

MAX_CALL_STEPS = 4096  # steps per device call at most, whatever the stride: Ctrl-C and SIGTERM wait one call
MAX_RECORDS = 4096  # records per member at the automatic stride: memory must not grow with the horizon


def record_count(horizons, stride: int) -> np.ndarray:
    """Records per member: steps 0, stride, 2·stride, … and the horizon."""
    return -(-np.asarray(horizons, np.int64) // stride) + 1


def default_stride(horizons: np.ndarray) -> int:
    """Short enough that the shortest member records a few points, at most 99 steps, unless the
    longest member would then record more than MAX_RECORDS points.

    Odd, so that records alternate between the two phases of a period-2 oscillation
    (the signature of the edge of stability); an even stride would see only one phase.
    """
    horizons = np.asarray(horizons)
    stride = max(1, min(99, int(horizons.min()) // 4))
    stride = stride if stride % 2 else stride - 1
    capped = -(-int(horizons.max()) // (MAX_RECORDS - 1))
    return max(stride, capped if capped % 2 else capped + 1)


def finish_blocks(horizons: np.ndarray, stride: int, slots: int) -> np.ndarray:
    """The block after which each member finishes in a refilled pool of `slots`, longest first
    (the engine's schedule, simulated; divergence can only make a member finish earlier)."""
    horizons = np.asarray(horizons)
    blocks = -(-horizons // stride)
    free_at = [0] * slots
    finish = np.zeros(len(horizons), np.int64)
    for m in np.argsort(-horizons, kind="stable"):
        finish[m] = heapq.heappop(free_at) + blocks[m]
        heapq.heappush(free_at, finish[m])
    return finish


def schedule_blocks(blocks_needed: np.ndarray, slots: int) -> int:
    """Blocks the refilled pool runs for members needing `blocks_needed` blocks, longest first."""
    return int(finish_blocks(blocks_needed, 1, slots).max(initial=0))


def choose_slots(horizons: np.ndarray, stride: int, max_slots: int, max_waste: float, devices: int = 1) -> int:
    """The largest pool per device (power of two, or all members) whose simulated waste is ≤
    max_waste, the pool being that many slots on each of `devices` devices run in step."""
    blocks = -(-horizons // stride)
    useful = float(horizons.sum())
    candidates = sorted({min(2**i, max_slots, -(-len(horizons) // devices)) for i in range(31)})
    best = candidates[0]
    for s in candidates:
        if schedule_blocks(blocks, s * devices) * s * devices * stride - useful <= max_waste * useful:
            best = s
    return best


def member_devices(count: int = 0) -> list:
    """The devices the member axis is sharded over: the first `count` of jax.devices() (0: all)."""
    devices = jax.devices()
    if count < 0 or count > len(devices):
        raise ValueError(f"devices must be between 0 (all) and {len(devices)} here, got {count}")
    return devices[: count or len(devices)]


def pool_policy(config: EngineConfig) -> str:
    """`cpu` or `accelerator`; `auto` follows the platform of the member devices.

    cpu: a step costs in proportion to the pool, so the pool is the largest whose simulated
    waste (member-steps computed past a member's horizon) stays under max_waste, within
    memory_mb; each slot holds a copy of its data (a CPU reads a copy fastest).
    accelerator: a step costs about the same up to thousands of members, so the pool takes
    every member of the grid at once, within device_memory_fraction of the device's memory;
    the data is held once per seed and each member reads its seed's tables.
    """
    if config.pool != "auto":
        return config.pool
    return "cpu" if member_devices(config.devices)[0].platform == "cpu" else "accelerator"


def device_memory_bytes(config: EngineConfig) -> int:
    """Memory of one member device (bytes_limit where the runtime reports it; else memory_mb)."""
    stats = member_devices(config.devices)[0].memory_stats() or {}
    return int(stats.get("bytes_limit", config.memory_mb * 2**20))


def pool_slots(model: Model, horizons, stride: int, config: EngineConfig, dtype=jnp.float32) -> int:
    """Members each device holds, by the pool policy (see pool_policy), for the members `horizons`."""
    key = jax.random.key(0)
    train = jax.eval_shape(lambda k: model.sample(k)[0], key)
    params = jax.eval_shape(model.init, key, train)
    size = lambda tree: sum(math.prod(a.shape) * jnp.dtype(a.dtype).itemsize for a in jax.tree_util.tree_leaves(tree))
    horizons = np.asarray(horizons)
    if pool_policy(config) == "accelerator":
        # State and Lanczos basis (16 × params), and a working set: a step reads a slice of its
        # seed's tables (one block of the ranked relu), allowed for as a sixteenth of them.
        per_member = 16 * size(params) + size(train) // 16
        budget = int(config.device_memory_fraction * device_memory_bytes(config) // max(per_member, 1))
        per_device = -(-len(horizons) // len(member_devices(config.devices)))
        return max(1, min(config.max_slots or budget, per_device))
    per_member = size(train) + 16 * size(params)
    budget = max(1, int(config.memory_mb * 2**20 // max(per_member, 1)))
    devices = len(member_devices(config.devices))
    return choose_slots(horizons, stride, config.max_slots or budget, config.max_waste, devices)


class Plan(NamedTuple):
    """How the engine runs a set of members, fixed before it starts. A member's numbers depend on
    `stride` (where it is measured); on a CPU the pool size and the device count change how the
    work is cut, not what a member computes (engine.CPU_OPTIONS), while an accelerator may compile
    another pool size into other code. A sweep plans once for its whole grid and runs every chunk
    and round with that plan."""

    stride: int  # steps between records (and sharpness measurements)
    slots: int  # members each device holds at once
    devices: int  # devices the member axis is sharded over
    indexed: bool  # True: the pool reads per-seed tables (accelerator); False: each slot holds a copy (cpu)

    def records(self, horizons) -> np.ndarray:
        """Records per member: steps 0, stride, 2·stride, … and the horizon."""
        return record_count(horizons, self.stride)

    def finish_order(self, horizons) -> np.ndarray:
        """Member indices in the order the refilled pool is expected to finish them."""
        return np.argsort(finish_blocks(horizons, self.stride, self.slots * self.devices), kind="stable")


def plan(model: Model, horizons, config: EngineConfig = EngineConfig(), dtype=jnp.float32) -> Plan:
    """The plan for members with these horizons: config.stride or the default stride, and the
    pool size of the pool policy (see pool_slots)."""
    horizons = np.asarray(horizons, np.int64)
    stride = config.stride or default_stride(horizons)
    slots = pool_slots(model, horizons, stride, config, dtype)
    return Plan(stride, slots, len(member_devices(config.devices)), pool_policy(config) == "accelerator")
