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

import heapq
from dataclasses import dataclass
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .models import Model
from .sharpness import sharpness


@dataclass(frozen=True)
class EngineConfig:
    stride: int = 0  # steps between records (and sharpness measurements); 0 = automatic
    max_slots: int = 0  # members computed at once; 0 = automatic (memory budget and waste)
    memory_mb: float = 512.0  # budget for the pool's training data
    max_waste: float = 0.2  # target for wasted / useful member-steps
    lanczos_steps: int = 20
    blowup: float = 1e6  # loss > blowup · max(L₀, 1) counts as divergence

    def __post_init__(self):
        for name in ("stride", "max_slots"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        if self.lanczos_steps < 1:
            raise ValueError(f"lanczos_steps must be positive, got {self.lanczos_steps!r}")


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
    steps_done: np.ndarray  # (M,) steps actually taken
    diverged_step: np.ndarray  # (M,) −1 if the member never diverged
    dead: np.ndarray  # (M,) bool
    observables: dict  # name -> (M,) final-state measurements of the model
    initial_sharpness: np.ndarray  # (seeds,) sharpness at initialisation, per seed (sorted seeds)
    initial_params: object  # params pytree, leading axis seeds
    final_params: object  # params pytree, leading axis members
    useful_steps: int  # Σ_i T_i
    computed_steps: int  # slots × blocks × stride actually computed
    slots: int
    stride: int


def default_stride(horizons: np.ndarray) -> int:
    """Short enough that the shortest member records a few points, at most 99 steps.

    Odd, so that records alternate between the two phases of a period-2 oscillation
    (the signature of the edge of stability); an even stride would see only one phase.
    """
    stride = max(1, min(99, int(horizons.min()) // 4))
    return stride if stride % 2 else stride - 1


def schedule_blocks(blocks_needed: np.ndarray, slots: int) -> int:
    """Blocks the refilled pool runs for members needing `blocks_needed` blocks, longest first."""
    free_at = [0] * slots
    for b in sorted(blocks_needed.tolist(), reverse=True):
        heapq.heappush(free_at, heapq.heappop(free_at) + b)
    return max(free_at)


def choose_slots(horizons: np.ndarray, stride: int, max_slots: int, max_waste: float) -> int:
    """The largest pool (power of two, or all members) whose simulated waste is ≤ max_waste."""
    blocks = -(-horizons // stride)
    useful = float(horizons.sum())
    candidates = sorted({min(2 ** i, max_slots, len(horizons)) for i in range(31)})
    best = candidates[0]
    for s in candidates:
        if schedule_blocks(blocks, s) * s * stride - useful <= max_waste * useful:
            best = s
    return best


def member_block(model: Model, lanczos_steps: int, stride: int):
    """The per-member block: `stride` steps, then a measurement of (loss, threshold, trace, sharpness)."""

    def measure(params, train, ritz):
        loss_fn = lambda p: model.loss(p, train)
        lam, ritz = sharpness(loss_fn, params, ritz, lanczos_steps)
        trace = model.trace(params) if model.trace is not None else jnp.zeros((0,), lam.dtype)
        return loss_fn(params), (model.threshold(params), trace), lam, ritz

    def step(carry, _, train, lr, horizon, cap):
        params, t, div = carry
        loss, grad = jax.value_and_grad(model.loss)(params, train)
        new = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grad)
        new_finite = jnp.all(jnp.isfinite(ravel_pytree(new)[0]))
        active = (t < horizon) & (div < 0)
        blown = ~jnp.isfinite(loss) | (loss > cap)
        div = jnp.where(active & blown, t, div)
        div = jnp.where(active & ~blown & ~new_finite, t + 1, div)
        move = active & ~blown & new_finite
        params = jax.tree_util.tree_map(lambda a, b: jnp.where(move, b, a), params, new)
        return (params, t + move, div), None

    def advance(params, train, lr, horizon, cap, t, div, ritz):
        body = lambda c, x: step(c, x, train, lr, horizon, cap)
        (params, t, div), _ = jax.lax.scan(body, (params, t, div), None, length=stride)
        loss, thr, lam, ritz = measure(params, train, ritz)
        return params, t, div, ritz, loss, thr, lam

    return advance


class _Pool(NamedTuple):
    params: object
    train: object
    lr: jax.Array
    horizon: jax.Array
    cap: jax.Array
    t: jax.Array
    div: jax.Array
    ritz: jax.Array


def _gather(tree, index):
    return jax.tree_util.tree_map(lambda a: a[index], tree)


def run(model: Model, lrs, seeds, horizons, *, dtype=jnp.float32, config: EngineConfig = EngineConfig(),
        progress: Callable[[int, int], None] | None = None) -> Trajectories:
    """Run gradient descent for members (lrs[i], seeds[i]) for horizons[i] steps each.

    Members that share a seed share data (key fold 0) and initialisation (key fold 1),
    so step sizes are compared on the same problem. `progress(done, total)` is called
    after each block with useful member-steps.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    horizons = np.asarray(horizons, dtype=np.int64)
    seeds = np.asarray(seeds, dtype=np.int64)
    n_members = len(lrs)
    seed_values, seed_index = np.unique(seeds, return_inverse=True)

    keys = jax.vmap(jax.random.key)(jnp.asarray(seed_values))
    data_keys = jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys)
    init_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    train, test = jax.jit(jax.vmap(model.sample))(data_keys)
    params0 = jax.jit(jax.vmap(model.init))(init_keys, train)

    stride = config.stride or default_stride(horizons)
    advance = member_block(model, config.lanczos_steps, stride)
    flat0 = jax.vmap(lambda p: ravel_pytree(p)[0])(params0)
    per_member_bytes = sum(a[0].nbytes for a in jax.tree_util.tree_leaves(train)) + 16 * flat0[0].nbytes
    budget_slots = max(1, int(config.memory_mb * 2**20 // max(per_member_bytes, 1)))
    max_slots = config.max_slots or budget_slots
    slots = choose_slots(horizons, stride, max_slots, config.max_waste)

    advance_pool = jax.jit(jax.vmap(advance))

    @jax.jit
    def load(pool: _Pool, mask, seed_idx, lr, horizon, cap, ritz):
        fresh = _Pool(_gather(params0, seed_idx), _gather(train, seed_idx), lr.astype(dtype),
                      horizon, cap[seed_idx], jnp.zeros_like(horizon), jnp.full_like(horizon, -1), ritz[seed_idx])
        pick = lambda new, old: jnp.where(mask.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)
        return jax.tree_util.tree_map(pick, fresh, pool)

    def run_pool(pool):
        params, t, div, ritz, loss, thr, lam = advance_pool(
            pool.params, pool.train, pool.lr, pool.horizon, pool.cap, pool.t, pool.div, pool.ritz)
        return pool._replace(params=params, t=t, div=div, ritz=ritz), loss, thr, lam

    first = np.zeros(slots, int)  # empty slots hold seed 0's state with horizon 0: they never step
    zeros = jnp.zeros(slots, jnp.int32)
    empty = _Pool(_gather(params0, first), _gather(train, first), jnp.zeros(slots, dtype), zeros,
                  jnp.zeros(slots, dtype), zeros, zeros - 1, jnp.ones((slots,) + flat0.shape[1:], dtype))

    # The state at initialisation, measured by the same program with horizon 0 (nothing
    # steps), so that no separate measurement program is compiled.
    initial = []
    no_cap, start = jnp.full(len(seed_values), jnp.inf, dtype), jnp.ones_like(flat0)
    for lo in range(0, len(seed_values), slots):
        idx = np.minimum(np.arange(lo, lo + slots), len(seed_values) - 1)
        pool, loss, thr, lam = run_pool(load(empty, jnp.ones(slots, bool), jnp.asarray(idx), jnp.zeros(slots),
                                             zeros, no_cap, start))
        initial.append(jax.tree_util.tree_map(lambda a: np.asarray(a)[: len(seed_values) - lo],
                                              (loss, thr, lam, pool.ritz)))
    loss0, thr0, sharp0, ritz0 = jax.tree_util.tree_map(lambda *a: np.concatenate(a), *initial)
    cap0 = config.blowup * np.maximum(loss0, 1.0)

    n_records = int(np.max(-(-horizons // stride))) + 1
    step_rec = np.full((n_members, n_records), -1, dtype=np.int64)
    loss_rec, thr_rec, sharp_rec = (np.full((n_members, n_records), np.nan) for _ in range(3))
    step_rec[:, 0] = 0
    loss_rec[:, 0] = np.asarray(loss0)[seed_index]
    thr_rec[:, 0] = np.asarray(thr0[0])[seed_index]
    trace_rec = np.full((n_members, n_records, thr0[1].shape[-1]), np.nan)
    trace_rec[:, 0] = np.asarray(thr0[1])[seed_index]
    sharp_rec[:, 0] = np.asarray(sharp0)[seed_index]
    n_rec = np.ones(n_members, dtype=np.int64)
    steps_done = np.zeros(n_members, dtype=np.int64)
    diverged_step = np.full(n_members, -1, dtype=np.int64)
    final_params: list = [None] * n_members

    queue = list(np.argsort(-horizons, kind="stable"))[::-1]  # pop() yields the longest first
    occupant = np.full(slots, -1, dtype=np.int64)
    pool = empty
    useful_total = int(horizons.sum())
    done_steps = 0
    blocks = 0

    def refill(pool):
        free = np.flatnonzero(occupant < 0)
        if not queue or not len(free):
            return pool
        take = free[: len(queue)]
        members = np.array([queue.pop() for _ in take])
        occupant[take] = members
        mask = np.zeros(slots, bool)
        mask[take] = True
        idx = np.zeros(slots, np.int64)
        lr = np.zeros(slots)
        hor = np.zeros(slots, np.int32)
        idx[take], lr[take], hor[take] = seed_index[members], lrs[members], horizons[members]
        return load(pool, jnp.asarray(mask), jnp.asarray(idx), jnp.asarray(lr), jnp.asarray(hor), cap0, ritz0)

    pool = refill(pool)
    while (occupant >= 0).any():
        pool, loss, thr, lam = run_pool(pool)
        params, t, div = pool.params, pool.t, pool.div
        blocks += 1
        t_h, div_h = np.asarray(t), np.asarray(div)
        loss_h, thr_h, lam_h = np.asarray(loss), np.asarray(thr[0]), np.asarray(lam)
        live = np.flatnonzero(occupant >= 0)
        members = occupant[live]
        r = n_rec[members]
        step_rec[members, r] = t_h[live]
        loss_rec[members, r], thr_rec[members, r], sharp_rec[members, r] = loss_h[live], thr_h[live], lam_h[live]
        trace_rec[members, r] = np.asarray(thr[1])[live]
        n_rec[members] += 1
        done_steps += int((t_h[live] - steps_done[members]).sum())
        steps_done[members] = t_h[live]
        finished = live[(t_h[live] >= horizons[members]) | (div_h[live] >= 0)]
        if len(finished):
            host_params = jax.tree_util.tree_map(np.asarray, params)
            for s in finished:
                m = occupant[s]
                diverged_step[m] = div_h[s]
                final_params[m] = _gather(host_params, s)
                occupant[s] = -1
            pool = refill(pool)
        if progress is not None:
            progress(done_steps, useful_total)

    stacked = jax.tree_util.tree_map(lambda *a: np.stack(a), *final_params)
    observables, dead = _final_measurements(model, stacked, train, test, seed_index)
    return Trajectories(step_rec, loss_rec, thr_rec, trace_rec, sharp_rec, steps_done, diverged_step, dead,
                        observables, np.asarray(sharp0), params0, stacked, useful_total, blocks * slots * stride,
                        slots, stride)


def _final_measurements(model: Model, params, train, test, seed_index):
    """Observables on the test data and the dead flag, one seed at a time (data not copied per member)."""
    obs_fn = jax.jit(jax.vmap(model.observables, in_axes=(0, None)))
    dead_fn = jax.jit(jax.vmap(model.dead, in_axes=(0, None)))
    n = len(seed_index)
    observables: dict[str, np.ndarray] = {}
    dead = np.zeros(n, bool)
    for s in np.unique(seed_index):
        rows = np.flatnonzero(seed_index == s)
        p = _gather(params, rows)
        for name, value in obs_fn(p, _gather(test, s)).items():
            observables.setdefault(name, np.full(n, np.nan))[rows] = np.asarray(value)
        dead[rows] = np.asarray(dead_fn(p, _gather(train, s)))
    return observables, dead
