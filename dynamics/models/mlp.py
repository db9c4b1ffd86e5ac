"""mlp: Σ_j a_j ReLU(w_j·x + b_j) of width m on the sparse coding task, every parameter trained."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..config import ModelSpec
from ..data import accuracy, sparse_coding_split
from ..losses import logistic
from ..model import Model
from ._network import COLUMNS, REGIME_INPUTS


class MLPParams(NamedTuple):
    w: jax.Array  # (m, d)
    b: jax.Array  # (m,)
    a: jax.Array  # (m,)


def _mlp_output(p: MLPParams, x):
    return jax.nn.relu(x @ p.w.T + p.b) @ p.a


# the ModelSpec fields this model reads; run.json records only these
PARAMS = ("d", "n", "lam", "sigma", "n_test", "width")


def make(spec: ModelSpec, dtype=jnp.float32) -> Model:
    """Init w_j ~ N(0, I/d), b = 0, a_j ~ N(0, 1/m): unit-norm rows and the output scale of `relu`."""
    d, m = spec.d, spec.width

    def init(key, data):
        k_w, k_a = jax.random.split(key)
        w = jax.random.normal(k_w, (m, d), dtype) / math.sqrt(d)
        a = jax.random.normal(k_a, (m,), dtype) / math.sqrt(m)
        return MLPParams(w, jnp.zeros((m,), dtype), a)

    def loss(p, data):
        return jnp.mean(logistic(data.y * _mlp_output(p, data.x)))

    def observables(p, test):
        acc = accuracy(_mlp_output(p, test.x), test.y)
        active = jnp.mean(jnp.any(test.x @ p.w.T + p.b > 0, axis=-1))  # inputs that reach any unit
        return {"final_bias": jnp.mean(p.b), "test_acc": acc, "neg_bias_frac": jnp.mean(p.b < 0), "active_frac": active}

    def dead(p, data):
        return jnp.all(data.x @ p.w.T + p.b <= 0)

    return Model(
        "mlp",
        lambda key: sparse_coding_split(key, spec, dtype),
        init,
        loss,
        lambda p: jnp.mean(p.b),
        observables,
        dead,
        symbol="mean b",
        columns={
            **COLUMNS,
            "final_bias": ("measurement", "input units", "the mean bias at the end"),
            "neg_bias_frac": ("measurement", "fraction", "units with a negative bias"),
        },
        regime_inputs=REGIME_INPUTS,
    )
