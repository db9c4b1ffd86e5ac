"""relu: the network of [AB] eq. (2), a⁻ Σ_i ReLU(−x_i + b) + a⁺ Σ_i ReLU(x_i + b), logistic loss.

THEORY.md Part 1. The loss is exact in O(n) a step: all n·d training coordinates are ranked once
(`rank_coordinates`), then each step reads one block per threshold (`relu_sums_ranked`);
`impl dense` is the O(n d) reference.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..config import ModelSpec
from ..data import accuracy, sparse_coding_split
from ..losses import logistic
from ..model import Model
from ..theory import mean_model_theory
from ._network import COLUMNS, MEAN_MODEL_COLUMN, REGIME_INPUTS, ReluParams


class RankedCoordinates(NamedTuple):
    """All n·d training coordinates in one increasing order v, cut into blocks of B.

    owner[m] is the sample of v[m]; count[c, j] and total[c, j] are how many of sample j's
    coordinates lie in the first c blocks, and their sum; last[c] is the last value of block c.
    v is padded with +inf (owner 0) to whole blocks plus one spare block.
    """

    last: jax.Array  # (C,)
    v: jax.Array  # ((C + 1) B,)
    owner: jax.Array  # ((C + 1) B,) int32
    count: jax.Array  # (C + 1, n)
    total: jax.Array  # (C + 1, n)
    row_sum: jax.Array  # (n,) Σ_i x_ji
    y: jax.Array  # (n,)


RANK_BLOCK = 64  # B: a step reads one block per threshold; memory is 2 (n d / B) n numbers per seed
IMPLS = ("auto", "sorted", "counted", "dense")


def resolve_impl(impl: str, backend: str | None = None) -> str:
    """The relu formulation to run: `auto` is `sorted` on a CPU and `counted` on an accelerator.

    Both are exact and O(n + B) a step; they differ in how they reach the block holding the
    threshold. `sorted` uses a binary search (searchsorted) and a scatter-add (segment_sum),
    cheapest on a CPU; on a GPU the search runs as a loop and the scatter-add as atomics
    (slow, and not deterministic). `counted` counts the block boundaries below the threshold
    (a reduction) and sums the block through a one-hot comparison of its owners against
    arange(n) (a small matrix-vector product): loop-free, scatter-free, deterministic.
    """
    if impl != "auto":
        return impl
    return "sorted" if (backend or jax.default_backend()) == "cpu" else "counted"


def relu_sums_dense(x, b):
    """(Σ_i ReLU(−x_i + b), Σ_i ReLU(x_i + b)) for each row of x (n, d)."""
    return jnp.sum(jax.nn.relu(b - x), -1), jnp.sum(jax.nn.relu(x + b), -1)


def rank_coordinates(x, y, block: int = RANK_BLOCK, scatter_free: bool = False) -> RankedCoordinates:
    """The RankedCoordinates of samples x (n, d) with labels y: one sort, O(n d log(n d)).

    The per-block tables are a scatter-add (segment_sum), or with `scatter_free` a one-hot
    product block by block (O(n² d) once, but no atomics: deterministic on a GPU).
    """
    n, d = x.shape
    order = jnp.argsort(x.reshape(-1))
    blocks = -(-n * d // block)
    pad = (blocks + 1) * block - n * d
    v = jnp.concatenate([x.reshape(-1)[order], jnp.full((pad,), jnp.inf, x.dtype)])
    owner = jnp.concatenate([(order // d).astype(jnp.int32), jnp.zeros((pad,), jnp.int32)])
    cell = (jnp.arange(blocks * block) // block) * n + owner[: blocks * block]
    real = jnp.isfinite(v[: blocks * block])

    def cumulative(values):
        values = jnp.where(real, values, 0)
        if scatter_free:
            pairs = (values.reshape(blocks, block), owner[: blocks * block].reshape(blocks, block))
            per_block = jax.lax.map(lambda vo: vo[0] @ (vo[1][:, None] == jnp.arange(n)).astype(x.dtype), pairs)
        else:
            per_block = jax.ops.segment_sum(values, cell, blocks * n).reshape(blocks, n)
        return jnp.concatenate([jnp.zeros((1, n), x.dtype), jnp.cumsum(per_block, axis=0)])

    return RankedCoordinates(
        v[block - 1 : blocks * block : block],
        v,
        owner,
        cumulative(jnp.ones_like(v[: blocks * block])),
        cumulative(v[: blocks * block]),
        jnp.sum(x, axis=-1),
        y,
    )


def _read_block(r: RankedCoordinates, c, t, strict: bool):
    """Block c's values, their samples, and which of them lie below t (≤ t, or < t if strict)."""
    block = r.v.shape[0] // (r.last.shape[0] + 1)
    v = jax.lax.dynamic_slice(r.v, (c * block,), (block,))
    owner = jax.lax.dynamic_slice(r.owner, (c * block,), (block,))
    return v, owner, jnp.where(strict, v < t, v <= t)


def _below_counted(r: RankedCoordinates, t, strict: bool):
    """`_below` without a search or a scatter: the block index is the number of block ends
    below t, and the block's per-sample counts and sums come from a one-hot (B, n) product."""
    c = jnp.sum(jnp.where(strict, r.last < t, r.last <= t))
    v, owner, inside = _read_block(r, c, t, strict)
    onehot = (owner[:, None] == jnp.arange(r.count.shape[1], dtype=owner.dtype)).astype(v.dtype)
    return r.count[c] + inside.astype(v.dtype) @ onehot, r.total[c] + jnp.where(inside, v, 0) @ onehot


def _below(r: RankedCoordinates, t, strict: bool):
    """Per sample j: (#{i : x_ji ≤ t}, Σ of those x_ji), or with < if strict. O(n + B + log(n d / B)).

    Whole blocks come from the stored counts and sums; only the block holding t is read
    value by value. Every value of block c lies above last[c−1] and at most last[c], so the
    blocks wholly below t are the first searchsorted(last, t) of them.
    """
    n = r.count.shape[1]
    c = jnp.where(strict, jnp.searchsorted(r.last, t, side="left"), jnp.searchsorted(r.last, t, side="right"))
    v, owner, inside = _read_block(r, c, t, strict)
    k = r.count[c] + jax.ops.segment_sum(inside.astype(v.dtype), owner, n)
    total = r.total[c] + jax.ops.segment_sum(jnp.where(inside, v, 0), owner, n)
    return k, total


def relu_sums_ranked(r: RankedCoordinates, b, below=None):
    """(Σ_i ReLU(−x_i + b), Σ_i ReLU(x_i + b)) for every sample, exactly, in O(n + B + log(n d)).

    With k = #{i : x_i ≤ −b} and S its sum,  Σ ReLU(x_i + b) = (Σ_i x_i − S) + (d − k) b;
    with k' = #{i : x_i < b} and S',         Σ ReLU(b − x_i) = k' b − S'.
    The counts are constants to autodiff, so gradients and Hessians equal the dense ones
    (ReLU'(0) = 0 in both: a coordinate exactly at the kink counts as inactive). Both thresholds go
    through one batched call (`strict` is data there): fewer operations a step, and the same numbers.
    """
    below = below or _below
    t = jnp.stack([-b, b])
    (k_pos, k_neg), (s_pos, s_neg) = jax.vmap(lambda t, strict: below(r, t, strict))(t, jnp.array([False, True]))
    d = r.count[-1]  # = d for every sample
    return k_neg * b - s_neg, (r.row_sum - s_pos) + (d - k_pos) * b


def _relu_output(p: ReluParams, x):
    neg, pos = relu_sums_dense(x, p.b)
    return p.a_neg * neg + p.a_pos * pos


# the ModelSpec fields this model reads; run.json records only these
PARAMS = ("d", "n", "lam", "sigma", "n_test", "impl")


def make(spec: ModelSpec, dtype=jnp.float32) -> Model:
    d = spec.d
    if spec.impl not in IMPLS:
        raise ValueError(f"unknown relu implementation {spec.impl!r} (choose from {', '.join(IMPLS)})")
    if spec.impl != "dense" and spec.n * spec.d + 2 * RANK_BLOCK > 2**31 - 1:
        raise ValueError(
            f"n·d = {spec.n * spec.d} coordinates exceed the int32 indices of the sorted relu path "
            f"(at most {2**31 - 1 - 2 * RANK_BLOCK}); use smaller n, d or impl dense"
        )

    def sample_sorted(key):
        train, test = sparse_coding_split(key, spec, dtype)
        return rank_coordinates(train.x, train.y, scatter_free=resolve_impl(spec.impl) == "counted"), test

    def init(key, data):
        a = jax.random.normal(key, (2,), dtype) * math.sqrt(1.0 / (2 * d))
        return ReluParams(a[0], a[1], jnp.zeros((), dtype))

    impl = resolve_impl(spec.impl)
    if impl in ("sorted", "counted"):
        below = _below if impl == "sorted" else _below_counted

        def loss(p, data):
            neg, pos = relu_sums_ranked(data, p.b, below)
            return jnp.mean(logistic(data.y * (p.a_neg * neg + p.a_pos * pos)))

        def dead(p, data):
            largest = jnp.max(jnp.where(jnp.isfinite(data.v), data.v, -jnp.inf))
            return p.b <= jnp.minimum(-largest, data.v[0])

        sample = sample_sorted
    else:

        def loss(p, data):
            return jnp.mean(logistic(data.y * _relu_output(p, data.x)))

        def dead(p, data):
            return p.b <= -jnp.max(jnp.abs(data.x))

        sample = lambda key: sparse_coding_split(key, spec, dtype)

    def observables(p, test):
        acc = accuracy(_relu_output(p, test.x), test.y)
        # A unit fires on x when some |x_i| > −b: the fraction of inputs that reach any unit.
        active = jnp.mean(jnp.max(jnp.abs(test.x), axis=-1) + p.b > 0)
        return {"final_bias": p.b, "test_acc": acc, "active_frac": active}

    # The mean model's predictions are shown for the network too, labelled as the mean model's.
    return Model(
        "relu",
        sample,
        init,
        loss,
        lambda p: p.b,
        observables,
        dead,
        theory=mean_model_theory(spec),
        symbol="b",
        columns={**COLUMNS, **MEAN_MODEL_COLUMN},
        regime_inputs=REGIME_INPUTS,
    )
