"""mean: ℓ_sym((a⁺ + a⁻) d σ g(b/σ)), the noise average of relu (THEORY.md §1.3)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr

from ..config import ModelSpec
from ..losses import LOSSES
from ..model import Model
from ..theory import gaussian_relu_mean, mean_model_theory
from ._network import COLUMNS, MEAN_MODEL_COLUMN, ReluParams


class _Normal:
    """φ and Φ of N(0, 1) in JAX, for theory.gaussian_relu_mean inside the loss."""

    pdf = staticmethod(lambda b: jnp.exp(-0.5 * b * b) / math.sqrt(2 * math.pi))
    cdf = staticmethod(ndtr)


# the ModelSpec fields this model reads; run.json records only these
PARAMS = ("d", "lam", "sigma")


def make(spec: ModelSpec, dtype=jnp.float32) -> Model:
    """L(a⁻, a⁺, b) = ℓ_sym((a⁺ + a⁻) d σ g(b/σ)), ℓ_sym(s) = log(2 cosh(s/2)) (THEORY.md §1.3)."""
    d, sigma = spec.d, spec.sigma
    sym_logistic = LOSSES["logistic"].value

    def init(key, data):
        a = jax.random.normal(key, (2,), dtype) * math.sqrt(1.0 / (2 * d))
        return ReluParams(a[0], a[1], jnp.zeros((), dtype))

    def loss(p, data):
        return sym_logistic((p.a_neg + p.a_pos) * d * sigma * gaussian_relu_mean(p.b / sigma, _Normal))

    return Model(
        "mean",
        lambda key: ((), ()),
        init,
        loss,
        lambda p: p.b,
        lambda p, data: {"final_bias": p.b},
        lambda p, data: jnp.asarray(False),
        theory=mean_model_theory(spec),
        symbol="b",
        columns={"final_bias": COLUMNS["final_bias"], **MEAN_MODEL_COLUMN},
    )
