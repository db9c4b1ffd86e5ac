"""The even, convex losses ℓ of the product model GD on ℓ(x·y) (THEORY.md §1.4).

Each loss is a record of its value ℓ(s), its curvature at zero κ = ℓ''(0) and its
local constant c in  ℓ'(s)/s = κ (1 − c s² + o(s²)).  A loss is *sub-quadratic*
when ℓ'(s)/s decreases in |s| (c > 0); the quadratic control has c = 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
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


@jax.custom_jvp
def logistic(margin):
    """Logistic loss log(1 + e^{−m}) = max(−m, 0) + log1p(e^{−|m|}) of a margin m = y f(x), stable for
    every m (the value jnp.logaddexp(0, −m) computes).

    Its derivative −σ(−m) reuses the value's one exponential e^{−|m|} (autodiff through logaddexp
    computed two more: a relu step evaluates both on all n samples, and this is 10 % of the step)."""
    return _logistic_from(margin, jnp.exp(-jnp.abs(margin)))


def _logistic_from(m, e):
    """log(1 + e^{−m}), given e = e^{−|m|}."""
    return jnp.maximum(-m, 0.0) + jnp.log1p(e)


@logistic.defjvp
def _logistic_jvp(primals, tangents):
    (m,), (dm,) = primals, tangents
    e = jnp.exp(-jnp.abs(m))
    return _logistic_from(m, e), -_sigmoid_of_minus(m, e) * dm


@jax.custom_jvp
def _sigmoid_of_minus(m, e):
    """σ(−m) = 1 / (1 + e^m), from e = e^{−|m|}: e / (1 + e) for m ≥ 0, 1 / (1 + e) below."""
    return jnp.where(m >= 0, e, 1.0) / (1.0 + e)


@_sigmoid_of_minus.defjvp
def _sigmoid_of_minus_jvp(primals, tangents):
    # e is a function of m: the whole change is m's, dσ(−m)/dm = −σ(−m) σ(m) (at m = 0 too, where
    # autodiff of |m| would give 0), so Hessians and Hessian-vector products stay exact
    (m, e), (dm, _) = primals, tangents
    s, s_plus = _sigmoid_of_minus(m, e), jnp.where(m >= 0, 1.0, e) / (1.0 + e)  # σ(−m), σ(m) (not 1 − σ(−m))
    return s, -s * s_plus * dm
