"""The generic engine: full-batch gradient descent for many (step size, seed) members at once.

One compiled program, `jit(vmap(scan))`, advances a pool of `slots` members by blocks of
`stride` steps, measuring each member (loss, threshold variable, sharpness) after every block;
one device call runs every block until the first member's horizon (at most MAX_CALL_STEPS steps, and
about CALL_SECONDS of work).
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
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import traces
from .config import POOLS, EngineConfig  # noqa: F401  (the engine's configuration, kept importable here)
from .model import Model
from .planning import MAX_CALL_STEPS, Plan, member_devices
from .planning import plan as make_plan  # `run` takes a `plan` argument of the same name
from .regime import EARLY_STEPS
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


# The loss rising from one step to the next is the instability of GD past 2/η (a descent step on a
# locally quadratic loss with η < 2/λ never raises it). It is counted at every step, so that what
# a run is called does not depend on the record stride. RISE is a relative increase about 100
# float32 ulps above the loss (summation noise stays far below it); steps up to RISE_AFTER are the
# initialisation's own relaxation.
RISE = 1e-5
# A device call's length at most (the blocks it runs are chosen from the blocks before): progress, and a
# signal's safe point, come at least this often whatever a step costs (the numbers do not depend on it).
CALL_SECONDS = 0.25
RISE_AFTER = EARLY_STEPS  # the regime rules' "after the first EARLY_STEPS steps"


def member_block(model: Model, lanczos_steps: int, stride: int, indexed: bool = False, blowup: float = 1e6):
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

    def rose(loss, before, t, cap):
        # relative to the loss, and to the float resolution of its scale at the start (cap / blowup =
        # max(L₀, 1)): at a minimum where the loss is rounding noise (1e-14), noise is no rise
        resolution = jnp.finfo(cap.dtype).eps * cap / blowup
        return (t > RISE_AFTER) & (loss - before > RISE * (jnp.abs(before) + resolution))

    def step(carry, _, train, lr, horizon, cap):
        params, t, div, before, rises = carry
        loss, grad = jax.value_and_grad(model.loss)(params, train)
        new = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grad)
        new_finite = jnp.all(jnp.isfinite(ravel_pytree(new)[0]))
        active = (t < horizon) & (div < 0)
        blown = ~jnp.isfinite(loss) | (loss > cap)
        rises = rises + (active & ~blown & rose(loss, before, t, cap))
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
        rises = rises + ((div < 0) & rose(loss, before, t, cap))
        return params, t, div, ritz, loss, (thr, rises), lam

    return advance


def member_blocks(model: Model, lanczos_steps: int, stride: int, indexed: bool = False, blowup: float = 1e6):
    """Up to blocks_per_call(stride) of member_block's blocks in one call: `count` blocks, block j
    of steps[j] steps and then its measurement, each block's (t, div, loss, (threshold, rises),
    sharpness) stacked along a leading axis (rows past `count` are zero). Between two refills of
    the pool nothing on the host changes what the devices compute, so the blocks run without a
    round trip each; a block computes what it computes alone, bit for bit."""
    advance = member_block(model, lanczos_steps, stride, indexed, blowup)
    rows = blocks_per_call(stride)

    # jitted so that the shapes' trace and the loop's body share one trace (a trace is 0.4 s for the
    # relu network); XLA inlines it, so the code is what the block compiles to alone
    advance = jax.jit(advance)

    def blocks(params, own, tables, seed, lr, horizon, cap, t, div, ritz, steps, count):
        def one(j, params, t, div, ritz):
            params, t, div, ritz, loss, thr, lam = advance(
                params, own, tables, seed, lr, horizon, cap, t, div, ritz, steps[j]
            )
            return (params, t, div, ritz), (t, div, loss, thr, lam)

        # the rows' shapes without running a block outside the loop: one copy of the block's code to
        # compile, not two (the relu network's program compiled in half the time)
        first = jax.eval_shape(one, 0, params, t, div, ritz)[1]
        out = jax.tree_util.tree_map(lambda x: jnp.zeros((rows,) + x.shape, x.dtype), first)

        def body(j, carry):
            state, out = carry
            state, row = one(j, *state)
            return state, jax.tree_util.tree_map(lambda buf, x: buf.at[j].set(x), out, row)

        (params, t, div, ritz), out = jax.lax.fori_loop(0, count, body, ((params, t, div, ritz), out))
        return params, t, div, ritz, out

    return blocks


def blocks_per_call(stride: int) -> int:
    """Blocks one device call may run: MAX_CALL_STEPS steps at most, so that progress and a signal's
    safe point come at least that often."""
    return max(1, MAX_CALL_STEPS // stride)


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


def _load(pool: _Pool, mask, seed_idx, lr, horizon, params0, train, cap, ritz):
    """(the pool with fresh members (seed_idx, lr, horizon) in the slots where mask is set, the params
    it had before: the leaving members' final state); `train` is the per-seed data to copy into the
    slots, or () for a pool that reads the tables."""
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
    return jax.tree_util.tree_map(pick, fresh, pool), pool.params


class _Programs(NamedTuple):
    sample: Callable
    init: Callable
    advance: Callable
    load: Callable
    observables: Callable
    dead: Callable
    blocks: Callable  # advance before jit (member_blocks over the pool), for traces.traced_once
    options: dict  # the compiler options of advance, load, observables and dead


# XLA's CPU backend hands large enough reductions to YNNPACK, which sums in another order than its
# own loops: a member's last bits then depended on how many members shared its device (measured on
# the relu network: pools of ≤ 12 agreed with a member run alone, pools of ≥ 15 did not, and its
# trajectory at the edge of stability moved by 1.6e-5 in the loss). Without them every pool size
# and device count gives the same numbers, at the same speed.
# XLA's CPU compiler also splits loop fusions over as many threads as the process may run on (its
# parallel task assignment). A pool's fusions are small (8 members × 300 samples), and with one
# device per core every core already runs a device's share: the splits only hand work between
# threads. Without them the relu network's pool step of 8 members took 19.8 µs instead of 29.2 µs,
# and W1 0.4 core-seconds less, with the same numbers (a split cuts a loop, not a sum).
CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "", "xla_disable_hlo_passes": "cpu-parallel-task-assigner"}


@functools.cache
def compile_options(platform: str) -> dict:
    """The compiler options of the engine's programs on `platform`: CPU_OPTIONS on a CPU whose XLA
    knows them (an XLA without YNNPACK sums in one order whatever the pool), else none."""
    if platform != "cpu":
        return {}
    try:
        jax.jit(lambda x: x + 1, compiler_options=CPU_OPTIONS).lower(np.float32(0)).compile()
    except Exception:  # noqa: BLE001  (an XLA that does not know the option rejects it at compile time)
        return {}
    return CPU_OPTIONS


@functools.lru_cache(maxsize=4)
def _programs(
    model: Model, lanczos_steps: int, stride: int, indexed: bool, blowup: float, platform: str = "cpu"
) -> _Programs:
    """The compiled programs of one (model, stride, data layout, platform), kept so that repeated
    runs (a sweep's chunks and rounds) compile once per shape instead of once per call."""
    blocks = jax.vmap(
        member_blocks(model, lanczos_steps, stride, indexed, blowup), in_axes=(0, 0, None) + (0,) * 7 + (None, None)
    )
    options = compile_options(platform)
    jit = functools.partial(jax.jit, compiler_options=options)
    return _Programs(
        jax.jit(model.sample),  # one seed at a time, the same shape in every run: as any other jit samples it
        jax.jit(model.init),
        jit(blocks),
        jit(_load, donate_argnums=0),
        jit(jax.vmap(model.observables, in_axes=(0, None))),
        jit(jax.vmap(model.dead, in_axes=(0, None))),
        blocks,
        options,
    )


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


class _Seeds(NamedTuple):
    """Each seed's data and initialisation, sampled one seed at a time (the same program whatever
    the number of seeds, so a member's data never depends on which other seeds share its run)."""

    values: np.ndarray  # (S,) the seeds, sorted
    index: np.ndarray  # (M,) each member's row in the tables
    train: object  # per-seed data, leading axis S
    test: object
    params: object  # initial params, leading axis S
    flat: np.ndarray  # (S, P) the same, flattened: the shape of a Lanczos start vector


def _sample_seeds(prog: _Programs, seeds, code: str | None = None) -> _Seeds:
    """With `code` (see run), the sampling and initialisation programs' traces are kept on disk."""
    values, index = np.unique(seeds, return_inverse=True)
    keys = [jax.random.key(int(s)) for s in values]
    data_keys = [jax.random.fold_in(k, 0) for k in keys]
    sample = traces.traced_once(prog.sample, data_keys[:1], code and f"engine.sample {code}", {}) or prog.sample
    samples = [sample(k) for k in data_keys]
    init_keys = [jax.random.fold_in(k, 1) for k in keys]
    args = (init_keys[0], samples[0][0])
    init = traces.traced_once(prog.init, args, code and f"engine.init {code}", {}) or prog.init
    train, test = _stack([tr for tr, _ in samples]), _stack([te for _, te in samples])
    params = _stack([init(k, tr) for k, (tr, _) in zip(init_keys, samples)])
    flat = np.stack([np.asarray(ravel_pytree(_gather(params, i))[0]) for i in range(len(values))])
    return _Seeds(values, index, train, test, params, flat)


class _Devices:
    """The pool on the devices: its slots sharded over the member axis, the per-seed tables
    replicated; `load` puts members into slots, `advance` runs every slot one block."""

    def __init__(self, prog: _Programs, seeds: _Seeds, plan: Plan, devices, dtype, name: str | None = None):
        self.prog, self.indexed, self.dtype, self.devices = prog, plan.indexed, dtype, list(devices)
        self.name, self.stepper = name, None  # stepper: prog.advance, traced in an earlier process if kept there
        self.rows = blocks_per_call(plan.stride)
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
        """per_seed: (cap, ritz start) of every seed, already on the devices. The pool given is used up
        (its buffers are rewritten in place: a fresh pool's copy of the data is tens of MB, and
        allocating it anew at every refill cost more than writing it), except the empty pool."""
        host = (mask, idx.astype(np.int32), lr.astype(self.dtype), hor.astype(np.int32))
        if pool is self.empty:
            pool = jax.tree_util.tree_map(jnp.copy, pool)
        return self.prog.load(pool, *_to_devices(host, self.split), self.params_table, self.copied, *per_seed)

    def advance(self, pool, steps: list, between=None):
        """Blocks of steps[j] steps each, every slot, each block then measured; returns the pool after
        them and each block's measurements (leading axis: slots, then blocks). A block longer than
        MAX_CALL_STEPS (a stride that long) runs alone, cut into device calls of at most
        MAX_CALL_STEPS steps, with `between(steps so far)` called after each cut call (progress, and
        a signal's safe point, every call rather than every stride): a step does not depend on the
        call it runs in, and every cut call's Ritz vector is dropped, so the block's measurement
        starts from the same warm start: the same numbers, bit for bit."""
        ritz, taken = pool.ritz, 0
        while len(steps) == 1 and steps[0] - taken > MAX_CALL_STEPS:
            pool = self._call(pool, [MAX_CALL_STEPS])[0]._replace(ritz=ritz)
            taken += MAX_CALL_STEPS
            if between is not None:
                pool.t.block_until_ready()  # dispatch is asynchronous: wait, or every call is queued at once
                between(taken)
        return self._call(pool, [steps[0] - taken, *steps[1:]])

    def _call(self, pool, steps: list):
        per_block = np.zeros(self.rows, np.int32)
        per_block[: len(steps)] = steps
        args = (
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
            per_block,
            np.int32(len(steps)),
        )
        if self.stepper is None:  # the same program, bit for bit; with a name, its trace kept on disk
            kept = traces.traced_once(self.prog.blocks, args, self.name, self.prog.options)
            self.stepper = kept or self.prog.advance
        params, t, div, ritz, measured = self.stepper(*args)
        return pool._replace(params=params, t=t, div=div, ritz=ritz), measured


def _measure_initial(dev: _Devices, seeds: _Seeds):
    """(loss, (threshold, trace), sharpness, ritz) at initialisation per seed, measured by the same
    program with no steps, so that no separate measurement program is compiled."""
    n, slots = len(seeds.values), dev.slots
    parts = []
    unmeasured = dev.replicate((np.full(n, np.inf, dev.dtype), np.ones_like(seeds.flat).astype(dev.dtype)))
    for lo in range(0, n, slots):
        idx = np.minimum(np.arange(lo, lo + slots), n - 1)
        pool = dev.load(dev.empty, np.ones(slots, bool), idx, np.zeros(slots), np.zeros(slots), unmeasured)[0]
        pool, (_, _, loss, (thr, _), lam) = dev.advance(pool, [0])
        first = jax.tree_util.tree_map(lambda a: a[:, 0], (loss, thr, lam))
        parts.append(jax.tree_util.tree_map(lambda a: a[: n - lo], _to_host((*first, pool.ritz))))
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
    code: str | None = None,
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

    `code`: a name for the model's code that changes whenever what it traces could (a sweep gives
    its spec and the digest of the dynamics sources). With it, the step program's trace is kept on
    disk (traces) and a later process runs it without tracing it again.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    horizons = np.asarray(horizons, dtype=np.int64)
    seeds = np.asarray(seeds, dtype=np.int64)
    plan = plan or make_plan(model, horizons, config, dtype)
    devices = member_devices(config.devices)
    prog = _programs(model, config.lanczos_steps, plan.stride, plan.indexed, config.blowup, devices[0].platform)
    table = _sample_seeds(prog, seeds, code)
    name = None if code is None else f"engine.member_blocks {code} {config.lanczos_steps} {plan} {config.blowup}"
    dev = _Devices(prog, table, plan, devices, dtype, name)
    initial = _measure_initial(dev, table)
    _check_start(model, initial[0], table.values, dtype)
    groups = [np.arange(len(lrs))] if groups is None else [np.asarray(g, np.int64) for g in groups]
    state = _Run(prog, table, dev, plan, (lrs, seeds, horizons), initial, groups, on_group)
    measured = dev.replicate(((config.blowup * np.maximum(initial[0], 1.0)).astype(dtype), initial[3]))
    pool, done_steps, computed = state.refill(dev.empty, measured)[0], 0, 0  # computed: masked member-steps too
    total, block_s = int(horizons.sum()), None  # block_s: seconds a block took, the last call's
    # One call is always queued behind the one running: a call ends where a member reaches its horizon,
    # so the members it finishes are known when it is dispatched, their slots are refilled and the next
    # call dispatched at once, and the call before is read and recorded while the devices run (a member
    # that diverges is found when its call is read; its slot, frozen, waits one call more).
    flight, read_at = None, None  # the call dispatched and not yet read; when the one before was read
    while True:
        if not len(state.sched.live()) and state.sched.queue:  # slots freed by divergences only
            pool = state.refill(pool, measured)[0]
        call = None
        if len(state.sched.live()):
            most = 1 if block_s is None else max(1, min(dev.rows, int(CALL_SECONDS / max(block_s, 1e-9))))
            pool, call = state.dispatch(pool, measured, most, progress, done_steps, total)
            computed += dev.slots * sum(call.steps)
        # while the devices run: the groups whose final measurements ran before this call are handed
        # over (their files written), those completed since are measured (queued behind it), the call
        # before is recorded, then the progress report: a signal's safe point, where every call that
        # has ended is recorded and its completed groups are handed over (see _Run.report)
        state.hand_over()
        if flight is not None:
            jax.block_until_ready(flight.measurements)
            now = time.perf_counter()
            block_s = None if read_at is None else (now - read_at) / len(flight.steps)
            read_at = now
            done_steps += state.record(flight)
        if progress is not None:
            state.report(progress, done_steps, total)
        flight = call
        if flight is None and not len(state.sched.live()) and not state.sched.queue:
            break
    state.hand_over(everything=True)
    if progress is not None:
        progress(done_steps, total)
    return state.subset(np.arange(len(lrs)))._replace(computed_steps=computed, slots=dev.slots)


def _block_steps(remaining, stride: int, most: int) -> list[int]:
    """The steps of each block of the next device call: whole strides until the first live member
    reaches its horizon (its slot is then refilled), at most `most` blocks; a block is shortened
    only where every member needs less than a stride."""
    count = int(min(most, max(1, np.min(-(-remaining // stride)))))
    longest = int(np.max(remaining))
    return [min(stride, longest - j * stride) for j in range(count)]


def _check_start(model: Model, loss0, seed_values, dtype) -> None:
    """NonFiniteStart, naming the seeds, where the training loss at initialisation is not finite."""
    bad = ~np.isfinite(loss0)
    if not bad.any():
        return
    value, broken = loss0[bad][0], seed_values[bad]
    overflow = ""
    if np.isinf(value) and jnp.dtype(dtype) == jnp.float32:
        overflow = "; in float32 an infinite loss may be an overflow that float64 avoids"
    raise NonFiniteStart(
        f"model {model.name!r}: the training loss at initialisation is {value} for "
        f"seed{'s' * (len(broken) > 1)} {', '.join(map(str, broken[:5]))}{' …' * (len(broken) > 5)} "
        f"(a run must start from a finite loss{overflow})"
    )


class _Call(NamedTuple):
    """A device call dispatched and not yet recorded."""

    live: np.ndarray  # the slots it runs
    members: np.ndarray  # their members
    steps: list  # each block's steps
    measurements: object  # each block's measurements, on the devices
    after: object  # the pool's params once it ended (a member that finishes in it: its final state)
    ending: np.ndarray  # (len(live),) the members it was dispatched to finish (their horizons)


class _Run:
    """One call of `run`: which member is where (the scheduler), what has been recorded, and which
    groups of members are still running, so that a finished group is measured and handed over."""

    def __init__(self, prog, table, dev, plan, members, initial, groups, on_group):
        self.prog, self.table, self.dev, self.plan, self.initial = prog, table, dev, plan, initial
        self.lrs, self.seeds, self.horizons = members
        self.groups, self.on_group = groups, on_group
        self.group_of = np.empty(len(self.lrs), np.int64)
        for g, rows in enumerate(groups):
            self.group_of[rows] = g
        self.left = np.array([len(rows) for rows in groups])
        # the most members of one seed in one group: the rows of the final measurements' one program
        widest = max(int(np.unique(table.index[rows], return_counts=True)[1].max(initial=1)) for rows in groups)
        self.widest = -(-widest // len(dev.devices)) * len(dev.devices)  # split evenly over the devices
        self.rec = _Records(self.horizons, plan.stride, table.index, initial)
        self.dispatched = np.zeros(len(self.lrs), np.int64)  # steps of the calls dispatched, up to the horizon
        self.finished = np.zeros(len(self.lrs), bool)  # recorded to its end (its horizon, or diverged)
        self.complete: list = []  # groups whose members have all finished, not yet measured
        self.measuring: list = []  # (group, its final measurements in flight), not yet handed over
        self.sched = _Scheduler(self.horizons, dev.slots)

    def refill(self, pool, measured, leaving=()):
        """Release the slots `leaving` (whose members the call just dispatched finishes) and give every
        free slot the next waiting member: (the pool, its params before the refill: the leaving
        members' final state; the pool's own params where nothing was loaded)."""
        self.sched.release(leaving)
        take, members = self.sched.admit()
        if not len(take):
            return pool, pool.params
        slots = self.dev.slots
        mask = np.zeros(slots, bool)
        mask[take] = True
        idx, lr, hor = np.zeros(slots, np.int64), np.zeros(slots), np.zeros(slots, np.int64)
        idx[take], lr[take], hor[take] = self.table.index[members], self.lrs[members], self.horizons[members]
        return self.dev.load(pool, mask, idx, lr, hor, measured)

    def dispatch(self, pool, measured, most: int, progress, done_steps: int, total: int):
        """Dispatch the next call over the live slots (at most `most` blocks), then refill the slots of
        the members it finishes: (the pool, the _Call)."""
        live = self.sched.live()
        members, horizons = self.sched.occupant[live], self.horizons
        remaining = horizons[members] - self.dispatched[members]
        steps = _block_steps(remaining, self.plan.stride, most)

        def partly(k):
            self.hand_over()
            self.report(progress, done_steps + int(np.minimum(remaining, k).sum()), total)

        pool, measurements = self.dev.advance(pool, steps, None if progress is None else partly)
        self.dispatched[members] = np.minimum(horizons[members], self.dispatched[members] + sum(steps))
        ending = self.dispatched[members] >= horizons[members]
        pool, after = self.refill(pool, measured, live[ending])
        return pool, _Call(live, members, steps, measurements, after, ending)

    def record(self, call: _Call) -> int:
        """Write the measurements of one call's blocks for the members it ran. A member that finishes
        (its horizon, or diverged) in one block is not recorded in the call's later ones, nor in later
        calls: its state is frozen from there, so `after` holds its final state. A member that diverged
        before its horizon is released here, its slot refilled at the next dispatch. The groups these
        complete wait for hand_over. Returns the member-steps advanced."""
        live, members, count, ending = call.live, call.members, len(call.steps), call.ending
        t_h, div_h, loss_h, (thr_h, rise_h), lam_h = _to_host(call.measurements)
        thr_h, trace_h = thr_h
        rec, advanced = self.rec, 0
        going = ~self.finished[members]  # a member that diverged in the call before ran frozen in this one
        ran = going.copy()
        for j in range(count):
            at = live[going]
            row = (t_h[at, j], loss_h[at, j], thr_h[at, j], trace_h[at, j], lam_h[at, j], rise_h[at, j])
            advanced += rec.write(members[going], *row)
            going &= ~((t_h[live, j] >= self.horizons[members]) | (div_h[live, j] >= 0))
        done = ran & ~going
        if done.any():
            host_params = _to_host(call.after)
            for s, m in zip(live[done], members[done]):
                rec.diverged_step[m] = div_h[s, count - 1]  # frozen from the block it diverged in
                rec.final_params[m] = _gather(host_params, s)
                self.left[self.group_of[m]] -= 1
            self.finished[members[done]] = True
            early = done & ~ending  # diverged: its slot, unless refilled already, is free from the next call
            self.sched.release([s for s, m in zip(live[early], members[early]) if self.sched.occupant[s] == m])
            self.complete += [g for g in np.unique(self.group_of[members[done]]) if self.left[g] == 0]
        return advanced

    def hand_over(self, everything: bool = False) -> None:
        """Hand over the groups measured at the last call (their measurements ran before the call just
        dispatched: reading them does not wait for it), then measure the groups completed since (their
        programs queue behind that call, to be read at the next); `everything`: measure and hand over
        every completed group now."""
        for g, pending in self.measuring:
            rows, rec = self.groups[g], self.rec
            obs, rec.dead[rows] = _read_final(pending, len(rows))
            for name, value in obs.items():
                rec.observables.setdefault(name, np.full(len(self.lrs), np.nan))[rows] = value
            if self.on_group is not None:
                self.on_group(int(g), self.subset(rows))
        complete, self.complete = self.complete, []
        self.measuring = [(g, self._measure(g)) for g in complete]
        if everything and self.measuring:
            self.hand_over()

    def _measure(self, g):
        rows = self.groups[g]
        params = _stack([self.rec.final_params[m] for m in rows])
        index = self.table.index[rows]
        return _measure_final(self.prog, params, self.table, index, self.widest, self.dev.split)

    def report(self, progress, done: int, total: int) -> None:
        """progress(done, total), a signal's safe point: where it raises, every group completed so far is
        handed over first, so that no finished work is lost."""
        try:
            progress(done, total)
        except BaseException:
            self.hand_over(everything=True)
            raise

    def subset(self, rows) -> Trajectories:
        rec, initial = self.rec, self.initial
        own = np.searchsorted(self.table.values, np.unique(self.seeds[rows]))
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
            _gather(self.table.params, own),
            _stack([rec.final_params[m] for m in rows]),
            # the steps its members needed: a diverged member needed none after it diverged
            int(np.minimum(self.horizons[rows], rec.steps_done[rows]).sum()),
            0,
            self.dev.slots,
            self.plan.stride,
        )


def _measure_final(prog: _Programs, params, table: _Seeds, seed_index, width: int, split) -> list:
    """Observables on the test data and the dead flag (read by _read_final), one seed at a time (data
    not copied per member), in batches padded to `width` rows so that one program serves every call,
    the rows split over the devices as the pool's slots are (`split`; on W1 this took 0.42 s on one
    device). Every seed's programs are dispatched; none is waited for."""
    pending = []
    for s in np.unique(seed_index):
        rows = np.flatnonzero(seed_index == s)
        p = _to_devices(_gather(params, np.resize(rows, width)), split)
        pending.append((rows, prog.observables(p, _gather(table.test, s)), prog.dead(p, _gather(table.train, s))))
    return pending


def _read_final(pending: list, n: int):
    """(observables, dead) of n members from _measure_final's programs."""
    observables: dict[str, np.ndarray] = {}
    dead = np.zeros(n, bool)
    for rows, measured, flags in pending:
        for name, value in _to_host(measured).items():
            observables.setdefault(name, np.full(n, np.nan))[rows] = value[: len(rows)]
        dead[rows] = _to_host(flags)[: len(rows)]
    return observables, dead
