"""The generic engine: full-batch gradient descent for many (step size, seed) members at once.

One compiled program, `jit(vmap(scan))`, advances a pool of `slots` members by one
block of `stride` steps and then measures each (loss, threshold variable, sharpness).
Members have their own horizons T_i (for a fixed total time, T_i = round(time/η_i)),
so the pool is refilled as in continuous batching: members run longest first, and when
one finishes at a block boundary the next waiting member takes its slot. A member
therefore pays for at most one partial block, never for the longest horizon, and the
pool size bounds memory whatever the number of members. The slot count is chosen by
simulating this schedule so that the wasted member-steps stay under `max_waste` of
the useful ones.

A member whose loss turns non-finite or exceeds `blowup · max(L₀, 1)` is *diverged*:
its parameters freeze at the last finite state and `diverged_step` records when.
Members never share arithmetic (vmap), so one member's divergence cannot change
another's numbers.
"""

from __future__ import annotations

import functools
import heapq
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .config import POOLS, EngineConfig  # noqa: F401  (the engine's configuration, kept importable here)
from .model import Model
from .sharpness import sharpness


class NonFiniteStart(ValueError):
    """A seed's training loss is not finite at initialisation: the model, not a step size, is at
    fault, and every run from that seed would read as diverged at step 0."""


class Trajectories(NamedTuple):
    """What the engine measured, one row per member (M members, R records at most).

    Records are taken at local steps 0, stride, 2·stride, …, and at the horizon;
    padding is step = −1 and NaN.
    """

    step: np.ndarray  # (M, R) int
    loss: np.ndarray  # (M, R)
    threshold: np.ndarray  # (M, R)
    trace: np.ndarray  # (M, R, q): the model's trace(params) at each record; q = 0 without one
    sharpness: np.ndarray  # (M, R)
    rises: np.ndarray  # (M, R) steps since the record before at which the loss rose (after step RISE_AFTER)
    steps_done: np.ndarray  # (M,) steps actually taken
    diverged_step: np.ndarray  # (M,) −1 if the member never diverged
    dead: np.ndarray  # (M,) bool
    observables: dict  # name -> (M,) final-state measurements of the model
    initial_sharpness: np.ndarray  # (seeds,) sharpness at initialisation, per seed (sorted seeds)
    initial_params: object  # params pytree, leading axis seeds
    final_params: object  # params pytree, leading axis members
    useful_steps: int  # Σ_i min(T_i, steps done): a diverged member's steps end where it diverged
    computed_steps: int  # member-steps computed by the pool, masked ones included
    slots: int
    stride: int


MAX_CALL_STEPS = 4096  # steps per device call at most, whatever the stride: Ctrl-C and SIGTERM wait one call
MAX_RECORDS = 4096  # records per member at the automatic stride: memory must not grow with the horizon
# The loss rising from one step to the next is the instability of GD past 2/η (a descent step on a
# locally quadratic loss with η < 2/λ never raises it). It is counted at every step, so that what
# a run is called does not depend on the record stride. RISE is a relative increase about 100
# float32 ulps above the loss (summation noise stays far below it); steps up to RISE_AFTER are the
# initialisation's own relaxation.
RISE = 1e-5
RISE_AFTER = 3


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


def choose_slots(horizons: np.ndarray, stride: int, max_slots: int, max_waste: float) -> int:
    """The largest pool (power of two, or all members) whose simulated waste is ≤ max_waste."""
    blocks = -(-horizons // stride)
    useful = float(horizons.sum())
    candidates = sorted({min(2**i, max_slots, len(horizons)) for i in range(31)})
    best = candidates[0]
    for s in candidates:
        if schedule_blocks(blocks, s) * s * stride - useful <= max_waste * useful:
            best = s
    return best


def member_block(model: Model, lanczos_steps: int, stride: int, indexed: bool = False):
    """The per-member block: `steps` ≤ stride steps (the same for the whole pool), then a
    measurement of (loss, threshold, trace, sharpness). steps = 0 measures the state as it is;
    a pool whose members all need fewer than `stride` more steps runs only those.

    The member's data is `own` (its copy, `indexed` False) or `tables[seed]` read where it is
    used (`indexed` True: one copy per seed for the whole pool; XLA fuses the read into its
    consumers, so a step touches only what the loss reads).
    """

    def read(own, tables, seed):
        return jax.tree_util.tree_map(lambda a: a[seed], tables) if indexed else own

    def measure(params, train, ritz):
        loss_fn = lambda p: model.loss(p, train)
        lam, ritz = sharpness(loss_fn, params, ritz, lanczos_steps)
        trace = model.trace(params) if model.trace is not None else jnp.zeros((0,), lam.dtype)
        return loss_fn(params), (model.threshold(params), trace), lam, ritz

    def rose(loss, before, t):
        return (t > RISE_AFTER) & (loss - before > RISE * jnp.abs(before))

    def step(carry, _, train, lr, horizon, cap):
        params, t, div, before, rises = carry
        loss, grad = jax.value_and_grad(model.loss)(params, train)
        new = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grad)
        new_finite = jnp.all(jnp.isfinite(ravel_pytree(new)[0]))
        active = (t < horizon) & (div < 0)
        blown = ~jnp.isfinite(loss) | (loss > cap)
        rises = rises + (active & ~blown & rose(loss, before, t))
        before = jnp.where(active, loss, before)
        div = jnp.where(active & blown, t, div)
        div = jnp.where(active & ~blown & ~new_finite, t + 1, div)
        move = active & ~blown & new_finite
        params = jax.tree_util.tree_map(lambda a, b: jnp.where(move, b, a), params, new)
        return (params, t + move, div, before, rises), None

    def advance(params, own, tables, seed, lr, horizon, cap, t, div, ritz, steps):
        """... and the steps of the block at which the loss rose (every step is compared with the one
        before it: the block's first with nothing, its last with the measurement after it)."""
        body = lambda i, c: step(c, i, read(own, tables, seed), lr, horizon, cap)[0]
        start = (params, t, div, jnp.asarray(jnp.inf, cap.dtype), jnp.zeros((), jnp.int32))
        params, t, div, before, rises = jax.lax.fori_loop(0, jnp.minimum(steps, stride), body, start)
        loss, thr, lam, ritz = measure(params, read(own, tables, seed), ritz)
        rises = rises + ((div < 0) & rose(loss, before, t))
        return params, t, div, ritz, loss, (thr, rises), lam

    return advance


class _Pool(NamedTuple):
    params: object
    own: object  # each slot's copy of its data (cpu pools), or () (accelerator pools read the tables)
    seed: jax.Array  # (slots,) index of the member's seed in the per-seed tables
    lr: jax.Array
    horizon: jax.Array
    cap: jax.Array
    t: jax.Array
    div: jax.Array
    ritz: jax.Array


def _gather(tree, index):
    return jax.tree_util.tree_map(lambda a: a[index], tree)


def _load(pool: _Pool, mask, seed_idx, lr, horizon, params0, train, cap, ritz) -> _Pool:
    """Put fresh members (seed_idx, lr, horizon) into the slots where mask is set; `train` is
    the per-seed data to copy into the slots, or () for a pool that reads the tables."""
    fresh = _Pool(
        _gather(params0, seed_idx),
        _gather(train, seed_idx),
        seed_idx,
        lr.astype(pool.lr.dtype),
        horizon,
        cap[seed_idx],
        jnp.zeros_like(horizon),
        jnp.full_like(horizon, -1),
        ritz[seed_idx],
    )
    pick = lambda new, old: jnp.where(mask.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)
    return jax.tree_util.tree_map(pick, fresh, pool)


class _Programs(NamedTuple):
    sample: Callable
    init: Callable
    advance: Callable
    load: Callable
    observables: Callable
    dead: Callable


@functools.lru_cache(maxsize=4)
def _programs(model: Model, lanczos_steps: int, stride: int, indexed: bool) -> _Programs:
    """The compiled programs of one (model, stride, data layout), kept so that repeated runs (a
    sweep's chunks and rounds) compile once per shape instead of once per call."""
    block = member_block(model, lanczos_steps, stride, indexed)
    return _Programs(
        jax.jit(model.sample),
        jax.jit(model.init),
        jax.jit(jax.vmap(block, in_axes=(0, 0, None) + (0,) * 7 + (None,))),
        jax.jit(_load),
        jax.jit(jax.vmap(model.observables, in_axes=(0, None))),
        jax.jit(jax.vmap(model.dead, in_axes=(0, None))),
    )


def member_devices(count: int = 0) -> list:
    """The devices the member axis is sharded over: the first `count` of jax.devices() (0: all)."""
    devices = jax.devices()
    if count < 0 or count > len(devices):
        raise ValueError(f"devices must be between 0 (all) and {len(devices)} here, got {count}")
    return devices[: count or len(devices)]


def _to_devices(tree, sharding):
    """Host arrays as global arrays with `sharding` (works across processes: each supplies its part)."""

    def put(a):
        a = np.asarray(a)
        return jax.make_array_from_callback(a.shape, sharding, lambda index: a[index])

    return jax.tree_util.tree_map(put, tree)


def _to_host(tree):
    if jax.process_count() == 1:
        return jax.tree_util.tree_map(np.asarray, tree)
    from jax.experimental import multihost_utils

    return jax.tree_util.tree_map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))


def _stack(trees):
    return jax.tree_util.tree_map(lambda *a: np.stack(a), *trees)


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
    return choose_slots(horizons, stride, config.max_slots or budget, config.max_waste)


class Plan(NamedTuple):
    """How the engine runs a set of members, fixed before it starts. A member's last bits depend
    on `stride` (where it is measured) and `slots` (XLA compiles a pool of 32 into other float32
    code than a pool of 8), and on nothing else: a sweep plans once for its whole grid and runs
    every chunk and round with that plan."""

    stride: int  # steps between records (and sharpness measurements)
    slots: int  # members each device holds at once
    devices: int  # devices the member axis is sharded over
    indexed: bool  # True: the pool reads per-seed tables (accelerator); False: each slot holds a copy (cpu)

    def records(self, horizons) -> np.ndarray:
        """Records per member: steps 0, stride, 2·stride, … and the horizon."""
        return record_count(horizons, self.stride)

    def finish_order(self, horizons) -> np.ndarray:
        """Member indices in the order the refilled pool is expected to finish them."""
        return np.argsort(finish_blocks(horizons, self.stride, self.slots), kind="stable")


def plan(model: Model, horizons, config: EngineConfig = EngineConfig(), dtype=jnp.float32) -> Plan:
    """The plan for members with these horizons: config.stride or the default stride, and the
    pool size of the pool policy (see pool_slots)."""
    horizons = np.asarray(horizons, np.int64)
    stride = config.stride or default_stride(horizons)
    slots = pool_slots(model, horizons, stride, config, dtype)
    return Plan(stride, slots, len(member_devices(config.devices)), pool_policy(config) == "accelerator")


_make_plan = plan  # `run` takes a `plan` argument of the same name


class _Seeds(NamedTuple):
    """Each seed's data and initialisation, sampled one seed at a time (the same program whatever
    the number of seeds, so a member's data never depends on which other seeds share its run)."""

    values: np.ndarray  # (S,) the seeds, sorted
    index: np.ndarray  # (M,) each member's row in the tables
    train: object  # per-seed data, leading axis S
    test: object
    params: object  # initial params, leading axis S
    flat: np.ndarray  # (S, P) the same, flattened: the shape of a Lanczos start vector


def _sample_seeds(prog: _Programs, seeds) -> _Seeds:
    values, index = np.unique(seeds, return_inverse=True)
    keys = [jax.random.key(int(s)) for s in values]
    samples = [prog.sample(jax.random.fold_in(k, 0)) for k in keys]
    train, test = _stack([tr for tr, _ in samples]), _stack([te for _, te in samples])
    params = _stack([prog.init(jax.random.fold_in(k, 1), tr) for k, (tr, _) in zip(keys, samples)])
    flat = np.stack([np.asarray(ravel_pytree(_gather(params, i))[0]) for i in range(len(values))])
    return _Seeds(values, index, train, test, params, flat)


class _Devices:
    """The pool on the devices: its slots sharded over the member axis, the per-seed tables
    replicated; `load` puts members into slots, `advance` runs every slot one block."""

    def __init__(self, prog: _Programs, seeds: _Seeds, plan: Plan, devices, dtype):
        self.prog, self.indexed, self.dtype = prog, plan.indexed, dtype
        mesh = jax.sharding.Mesh(np.array(devices), ("members",))
        self.split = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("members"))
        self.whole = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
        self.slots = plan.slots * len(devices)
        self.params_table, self.train_table = _to_devices((seeds.params, seeds.train), self.whole)
        self.copied = () if plan.indexed else self.train_table  # what a refill copies into its slots
        first = np.zeros(self.slots, np.int32)  # empty slots hold seed 0's state with horizon 0: they never step
        n = self.slots
        self.empty = _to_devices(
            _Pool(
                _gather(seeds.params, first),
                () if plan.indexed else _gather(seeds.train, first),
                first,
                np.zeros(n, dtype),
                np.zeros(n, np.int32),
                np.zeros(n, dtype),
                np.zeros(n, np.int32),
                np.full(n, -1, np.int32),
                np.ones((n,) + seeds.flat.shape[1:], dtype),
            ),
            self.split,
        )

    def replicate(self, tree):
        return _to_devices(tree, self.whole)

    def load(self, pool, mask, idx, lr, hor, per_seed):
        """per_seed: (cap, ritz start) of every seed, already on the devices."""
        host = (mask, idx.astype(np.int32), lr.astype(self.dtype), hor.astype(np.int32))
        return self.prog.load(pool, *_to_devices(host, self.split), self.params_table, self.copied, *per_seed)

    def advance(self, pool, steps, between=None):
        """`steps` steps of every slot, then the block's measurement. A long block is cut into device
        calls of at most MAX_CALL_STEPS steps, with `between(steps so far)` called after each cut
        call (progress, and a signal's safe point, every call rather than every stride): a step
        does not depend on the call it runs in, and every cut call's Ritz vector is dropped, so the
        block's measurement starts from the same warm start: the same numbers, bit for bit."""
        ritz, taken = pool.ritz, 0
        while steps - taken > MAX_CALL_STEPS:
            pool = self._call(pool, MAX_CALL_STEPS)[0]._replace(ritz=ritz)
            taken += MAX_CALL_STEPS
            if between is not None:
                pool.t.block_until_ready()  # dispatch is asynchronous: wait, or every call is queued at once
                between(taken)
        return self._call(pool, steps - taken)

    def _call(self, pool, steps):
        params, t, div, ritz, loss, thr, lam = self.prog.advance(
            pool.params,
            pool.own,
            self.train_table if self.indexed else (),
            pool.seed,
            pool.lr,
            pool.horizon,
            pool.cap,
            pool.t,
            pool.div,
            pool.ritz,
            np.int32(steps),
        )
        return pool._replace(params=params, t=t, div=div, ritz=ritz), loss, thr, lam


def _measure_initial(dev: _Devices, seeds: _Seeds):
    """(loss, (threshold, trace), sharpness, ritz) at initialisation per seed, measured by the same
    program with no steps, so that no separate measurement program is compiled."""
    n, slots = len(seeds.values), dev.slots
    parts = []
    unmeasured = dev.replicate((np.full(n, np.inf, dev.dtype), np.ones_like(seeds.flat).astype(dev.dtype)))
    for lo in range(0, n, slots):
        idx = np.minimum(np.arange(lo, lo + slots), n - 1)
        pool = dev.load(dev.empty, np.ones(slots, bool), idx, np.zeros(slots), np.zeros(slots), unmeasured)
        pool, loss, (thr, _), lam = dev.advance(pool, 0)
        parts.append(jax.tree_util.tree_map(lambda a: a[: n - lo], _to_host((loss, thr, lam, pool.ritz))))
    return jax.tree_util.tree_map(lambda *a: np.concatenate(a), *parts)


class _Records:
    """The host-side record of every member: its measurements at each record, its progress and
    its final state, written block by block as the pool returns."""

    def __init__(self, horizons, stride: int, seed_index, initial):
        loss0, (thr0, trace0), sharp0, _ = initial
        m, r = len(horizons), int(np.max(-(-horizons // stride))) + 1
        self.step = np.full((m, r), -1, dtype=np.int64)
        self.loss, self.threshold, self.sharpness = (np.full((m, r), np.nan) for _ in range(3))
        self.trace = np.full((m, r, trace0.shape[-1]), np.nan)
        self.step[:, 0], self.loss[:, 0], self.threshold[:, 0] = 0, loss0[seed_index], thr0[seed_index]
        self.trace[:, 0], self.sharpness[:, 0] = trace0[seed_index], sharp0[seed_index]
        self.rises = np.where(self.step >= 0, 0, -1)
        self.count = np.ones(m, dtype=np.int64)
        self.steps_done = np.zeros(m, dtype=np.int64)
        self.diverged_step = np.full(m, -1, dtype=np.int64)
        self.final_params: list = [None] * m
        self.observables: dict[str, np.ndarray] = {}
        self.dead = np.zeros(m, bool)

    def write(self, members, t, loss, thr, trace, lam, rises) -> int:
        """One block's measurements of `members`; returns the member-steps they advanced."""
        r = self.count[members]
        self.step[members, r], self.loss[members, r], self.threshold[members, r] = t, loss, thr
        self.trace[members, r], self.sharpness[members, r], self.rises[members, r] = trace, lam, rises
        self.count[members] += 1
        advanced = int((t - self.steps_done[members]).sum())
        self.steps_done[members] = t
        return advanced


class _Scheduler:
    """Which member sits in which slot: members enter longest first and a slot is refilled as
    soon as its member finishes (continuous batching)."""

    def __init__(self, horizons, slots: int):
        self.queue = list(np.argsort(-horizons, kind="stable"))[::-1]  # pop() yields the longest first
        self.occupant = np.full(slots, -1, dtype=np.int64)

    def live(self) -> np.ndarray:
        return np.flatnonzero(self.occupant >= 0)

    def admit(self) -> tuple[np.ndarray, np.ndarray]:
        """(slots, members) newly filled from the queue."""
        free = np.flatnonzero(self.occupant < 0)
        take = free[: len(self.queue)] if self.queue else free[:0]
        members = np.array([self.queue.pop() for _ in take], dtype=np.int64)
        self.occupant[take] = members
        return take, members

    def release(self, slots) -> None:
        self.occupant[slots] = -1


def run(
    model: Model,
    lrs,
    seeds,
    horizons,
    *,
    dtype=jnp.float32,
    config: EngineConfig = EngineConfig(),
    plan: Plan | None = None,
    progress: Callable[[int, int], None] | None = None,
    groups: list | None = None,
    on_group: Callable[[int, Trajectories], None] | None = None,
) -> Trajectories:
    """Run gradient descent for members (lrs[i], seeds[i]) for horizons[i] steps each.

    Members that share a seed share data (key fold 0) and initialisation (key fold 1),
    so step sizes are compared on the same problem. `progress(done, total)` is called
    after each block with useful member-steps. `groups` partitions the member indices; as soon
    as every member of group g has finished, `on_group(g, its Trajectories)` is called (its
    computed_steps is 0: the pool's work is counted for the whole run only), so that finished
    work can be kept while the rest runs on in the same pool.

    `plan` (default: plan(model, horizons, config)) fixes the stride and the members per device.
    Given the plan, a member's numbers do not depend on the device count, on which members
    share a run, or on their order (members never interact).
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    horizons = np.asarray(horizons, dtype=np.int64)
    seeds = np.asarray(seeds, dtype=np.int64)
    plan = plan or _make_plan(model, horizons, config, dtype)
    prog = _programs(model, config.lanczos_steps, plan.stride, plan.indexed)
    table = _sample_seeds(prog, seeds)
    dev = _Devices(prog, table, plan, member_devices(config.devices), dtype)
    initial = _measure_initial(dev, table)
    bad = ~np.isfinite(initial[0])
    if bad.any():
        value, broken = initial[0][bad][0], table.values[bad]
        overflow = ""
        if np.isinf(value) and jnp.dtype(dtype) == jnp.float32:
            overflow = "; in float32 an infinite loss may be an overflow that float64 avoids"
        raise NonFiniteStart(
            f"model {model.name!r}: the training loss at initialisation is {value} for "
            f"seed{'s' * (len(broken) > 1)} {', '.join(map(str, broken[:5]))}{' …' * (len(broken) > 5)} "
            f"(a run must start from a finite loss{overflow})"
        )
    measured = dev.replicate(((config.blowup * np.maximum(initial[0], 1.0)).astype(dtype), initial[3]))
    rec = _Records(horizons, plan.stride, table.index, initial)
    groups = [np.arange(len(lrs))] if groups is None else [np.asarray(g, np.int64) for g in groups]
    group_of = np.empty(len(lrs), np.int64)
    for g, rows in enumerate(groups):
        group_of[rows] = g
    left = np.array([len(rows) for rows in groups])
    widest = int(left.max())

    def subset(rows) -> Trajectories:
        own = np.searchsorted(table.values, np.unique(seeds[rows]))
        return Trajectories(
            rec.step[rows],
            rec.loss[rows],
            rec.threshold[rows],
            rec.trace[rows],
            rec.sharpness[rows],
            rec.rises[rows],
            rec.steps_done[rows],
            rec.diverged_step[rows],
            rec.dead[rows],
            {k: v[rows] for k, v in rec.observables.items()},
            initial[2][own],
            _gather(table.params, own),
            _stack([rec.final_params[m] for m in rows]),
            # the steps its members needed: a diverged member needed none after it diverged
            int(np.minimum(horizons[rows], rec.steps_done[rows]).sum()),
            0,
            dev.slots,
            plan.stride,
        )

    def hand_over(members):
        """Final measurements of the groups these members complete, then hand the groups over."""
        for g in [g for g in np.unique(group_of[members]) if left[g] == 0]:
            rows = groups[g]
            obs, rec.dead[rows] = _final_measurements(
                prog, _stack([rec.final_params[m] for m in rows]), table.train, table.test, table.index[rows], widest
            )
            for name, value in obs.items():
                rec.observables.setdefault(name, np.full(len(lrs), np.nan))[rows] = value
            if on_group is not None:
                on_group(int(g), subset(rows))

    sched = _Scheduler(horizons, dev.slots)

    def refill(pool):
        take, members = sched.admit()
        if not len(take):
            return pool
        mask = np.zeros(dev.slots, bool)
        mask[take] = True
        idx, lr, hor = np.zeros(dev.slots, np.int64), np.zeros(dev.slots), np.zeros(dev.slots, np.int64)
        idx[take], lr[take], hor[take] = table.index[members], lrs[members], horizons[members]
        return dev.load(pool, mask, idx, lr, hor, measured)

    pool, done_steps, computed = refill(dev.empty), 0, 0  # computed: member-steps, masked ones included
    total = int(horizons.sum())
    while len(live := sched.live()):
        members = sched.occupant[live]
        remaining = horizons[members] - rec.steps_done[members]
        steps = int(min(plan.stride, np.max(remaining)))
        partly = lambda k: progress(done_steps + int(np.minimum(remaining, k).sum()), total)
        pool, loss, thr, lam = dev.advance(pool, steps, None if progress is None else partly)
        computed += dev.slots * steps
        t_h, div_h, loss_h, ((thr_h, trace_h), rise_h), lam_h = _to_host((pool.t, pool.div, loss, thr, lam))
        done_steps += rec.write(members, t_h[live], loss_h[live], thr_h[live], trace_h[live], lam_h[live], rise_h[live])
        finished = live[(t_h[live] >= horizons[members]) | (div_h[live] >= 0)]
        if len(finished):
            host_params = _to_host(pool.params)
            for s in finished:
                m = sched.occupant[s]
                rec.diverged_step[m] = div_h[s]
                rec.final_params[m] = _gather(host_params, s)
                left[group_of[m]] -= 1
            sched.release(finished)
            pool = refill(pool)
            hand_over(members[np.isin(live, finished)])
        if progress is not None:
            progress(done_steps, total)

    return subset(np.arange(len(lrs)))._replace(computed_steps=computed, slots=dev.slots)


def _final_measurements(prog: _Programs, params, train, test, seed_index, width: int):
    """Observables on the test data and the dead flag, one seed at a time (data not copied per
    member), in batches padded to `width` rows so that one program serves every call."""
    n = len(seed_index)
    observables: dict[str, np.ndarray] = {}
    dead = np.zeros(n, bool)
    for s in np.unique(seed_index):
        rows = np.flatnonzero(seed_index == s)
        p = _gather(params, np.resize(rows, width))
        for name, value in prog.observables(p, _gather(test, s)).items():
            observables.setdefault(name, np.full(n, np.nan))[rows] = np.asarray(value)[: len(rows)]
        dead[rows] = np.asarray(prog.dead(p, _gather(train, s)))[: len(rows)]
    return observables, dead
