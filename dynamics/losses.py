"""The even, convex losses ℓ of the product model GD on ℓ(x·y) (THEORY.md §1.4).

Each loss is a record of its value ℓ(s), its curvature at zero κ = ℓ''(0) and its
local constant c in  ℓ'(s)/s = κ (1 − c s² + o(s²)).  A loss is *sub-quadratic*
when ℓ'(s)/s decreases in |s| (c > 0); the quadratic control has c = 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp

from .config import LOSS_NAMES


class Loss(NamedTuple):
    name: str
    value: Callable  # ℓ(s), elementwise
    curvature: float  # κ = ℓ''(0)
    c: float  # ℓ'(s)/s = κ(1 − c s² + …); 0 for the quadratic control


def _log_cosh(s):
    # log cosh s = |s| + log(1 + e^{−2|s|}) − log 2, finite for every float s.
    a = jnp.abs(s)
    return a + jnp.log1p(jnp.exp(-2.0 * a)) - math.log(2.0)


# In the order of config.LOSS_NAMES, the one list of their names (the configs check it without JAX).
LOSSES: dict[str, Loss] = {
    name: Loss(name, value, curvature, c)
    for name, (value, curvature, c) in zip(
        LOSS_NAMES,
        (
            (_log_cosh, 1.0, 1.0 / 3.0),  # logcosh
            (lambda s: jnp.sqrt(1.0 + s * s) - 1.0, 1.0, 0.5),  # sqrt
            # logistic, log(2 cosh(s/2)): ℓ'(s)/s = ½ tanh(s/2)/s = ¼ (1 − s²/12 + …), so κ = 1/4, c = 1/12.
            (lambda s: _log_cosh(s / 2.0) + math.log(2.0), 0.25, 1.0 / 12.0),
            (lambda s: 0.5 * s * s, 1.0, 0.0),  # quadratic
        ),
        strict=True,
    )
}


def get_loss(name: str) -> Loss:
    """The loss called `name`; ValueError naming it if there is none."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r} (choose from {', '.join(LOSSES)})") from None


def logistic(margin):
    """Logistic loss log(1 + e^{−m}) of a margin m = y f(x), stable for every m."""
    return jnp.logaddexp(0.0, -margin)
