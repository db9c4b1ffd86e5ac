"""deep_linear: a scalar deep linear network, L(w) = ½(w₁w₂w₃ − 1)², run by `eos sweep` as it is.

A worked example of bringing your own model (nothing in eos knows this file):

    eos sweep --model examples/deep_linear.py:make --x0 0.3 --y0 2 --lr 0.05:1.2:24 --time 40

The hypothesis it tests: gradient flow conserves the differences w_i² − w_j², so from
w₀ = (x₀, y₀, 1) it ends at the minimum w_i² = w₀ᵢ² + c with Π_i (w₀ᵢ² + c) = 1. There the
Hessian is ∇Π ∇Πᵀ, of sharpness |∇Π|² = Σ_i 1/w_i². Gradient descent with a step η above
η* = 2 / Σ_i 1/(w₀ᵢ² + c) cannot stop there; it stops at a flatter, more balanced minimum
instead, so the imbalance max w_i² − min w_i² (conserved below η*) falls above it.
"""

import math

import jax.numpy as jnp
from scipy.optimize import brentq

from eos.dynamics.model import Model, Theory

PARAMS = ("x0", "y0")  # the options it reads (run.json records only these; any other is refused)


def gradient_flow_sharpness(w0) -> float:
    """Σ_i 1/w_i² at the minimum gradient flow reaches from w0 (w_i² = w0_i² + c, Π w_i² = 1)."""
    squares = [float(w) ** 2 for w in w0]
    c = brentq(lambda c: sum(math.log(s + c) for s in squares), -min(squares) + 1e-12, 10.0 + max(squares))
    return sum(1.0 / (s + c) for s in squares)


def make(spec, dtype=jnp.float32) -> Model:
    w0 = jnp.asarray([spec.x0, spec.y0, 1.0], dtype)
    eta = 2.0 / gradient_flow_sharpness([spec.x0, spec.y0, 1.0])
    return Model(
        name="deep_linear",
        sample=lambda key: ((), ()),  # no data: the loss is a function of the weights alone
        init=lambda key, train: w0,
        loss=lambda w, train: 0.5 * (jnp.prod(w) - 1.0) ** 2,
        threshold=lambda w: jnp.max(w**2) - jnp.min(w**2),
        observables=lambda w, test: {"final_product": jnp.prod(w)},
        columns={"final_product": ("measurement", "—", "w₁w₂w₃ at the end (1 at a minimum)")},
        dead=lambda w, train: jnp.asarray(False),
        theory=Theory(threshold_lr=eta, formula="2/Σ 1/w_i² at the gradient-flow minimum"),
        symbol="imbalance",
    )
