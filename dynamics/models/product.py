"""product: ℓ(x·y) from a fixed start (x₀, y₀), the two-variable reduction of THEORY.md §1.4."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from .. import theory
from ..config import ModelSpec
from ..losses import get_loss
from ..model import Model, Theory


class ProductParams(NamedTuple):
    x: jax.Array
    y: jax.Array


# the ModelSpec fields this model reads; run.json records only these
PARAMS = ("loss", "x0", "y0")


def make(spec: ModelSpec, dtype=jnp.float32) -> Model:
    """GD on ℓ(x·y) from the fixed start (x₀, y₀); every seed starts there."""
    loss = get_loss(spec.loss)
    value = loss.value

    def init(key, data):
        return ProductParams(jnp.asarray(spec.x0, dtype), jnp.asarray(spec.y0, dtype))

    return Model(
        "product",
        lambda key: ((), ()),
        init,
        lambda p, data: value(p.x * p.y),
        lambda p: p.y,
        lambda p, data: {"final_x": p.x, "final_y": p.y},
        lambda p, data: jnp.asarray(False),
        lambda p: jnp.stack([p.x, p.y]),
        theory=product_theory(spec),
        symbol="y",
        columns={
            "final_x": ("measurement", "—", "x at the end"),
            "final_y": ("measurement", "—", "y at the end"),
            "theory_final_sharpness": ("prediction", "loss / parameter²", "the final sharpness (THEORY.md §1.4)"),
        },
    )


def product_theory(spec: ModelSpec) -> Theory:
    """η* = 2/(ℓ''(0)|y₀² − x₀²|); the final sharpness κ(y₀² − x₀²) below it and 2/η − κ²η/(2c) above."""
    loss = get_loss(spec.loss)
    eta = theory.product_threshold_lr(loss.curvature, spec.x0, spec.y0)
    below = loss.curvature * abs(spec.y0**2 - spec.x0**2)

    def columns(lr, p):
        above = theory.product_final_sharpness_above(lr, loss.curvature, loss.c)
        return {"theory_final_sharpness": below if lr <= eta else above}

    constants = {
        "final_y_squared_below": theory.product_final_y_squared_below(spec.x0, spec.y0),
        "loss": {"name": loss.name, "curvature": loss.curvature, "c": loss.c},
    }
    return Theory(eta, "2/(ℓ''(0)|y₀²−x₀²|)", constants, columns=columns)
