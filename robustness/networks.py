"""Two-layer ReLU networks f(x) = Σ_j a_j ReLU(w_j·x + b_j) + c and their training.

Networks of several widths are trained together: each is padded to a common width with
a mask m ∈ {0, 1}^K (a masked unit contributes m_j a_j ReLU(·) = 0 and gets zero gradient),
so one compiled program serves every width of a bucket.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class TwoLayer(NamedTuple):
    w: jax.Array  # (k, d)
    b: jax.Array  # (k,)
    a: jax.Array  # (k,)
    c: jax.Array  # ()


def param_count(d: int, k: int) -> int:
    """Trained parameters of a width-k network on R^d: k(d + 2) + 1."""
    return k * (d + 2) + 1


def init(key, d: int, k: int, dtype=jnp.float32) -> TwoLayer:
    """w_j ~ N(0, I_d) (pre-activations O(1) for inputs of norm ≈ 1), b = 0, a_j ~ N(0, 1/k), c = 0."""
    k_w, k_a = jax.random.split(key)
    return TwoLayer(jax.random.normal(k_w, (k, d), dtype), jnp.zeros((k,), dtype),
                    jax.random.normal(k_a, (k,), dtype) / jnp.sqrt(k).astype(dtype), jnp.zeros((), dtype))


def forward(p: TwoLayer, x, mask=None):
    """f(x) for x (..., d); mask (k,) switches units off."""
    a = p.a if mask is None else p.a * mask
    return jax.nn.relu(x @ p.w.T + p.b) @ a + p.c


def masked(p: TwoLayer, mask) -> TwoLayer:
    """The same function with masked units zeroed (their weights no longer matter)."""
    keep = mask.astype(p.w.dtype)
    return TwoLayer(p.w * keep[:, None], p.b * keep, p.a * keep, p.c)


def path_norm(p: TwoLayer):
    """Σ_j |a_j| ‖w_j‖₂, a certified ℓ2 Lipschitz upper bound (differentiable almost everywhere)."""
    sq = jnp.sum(p.w**2, axis=1)
    # ‖w_j‖ has no derivative at w_j = 0 (masked units): take 0 there instead of 0/0.
    norms = jnp.where(sq > 0, jnp.sqrt(jnp.where(sq > 0, sq, 1.0)), 0.0)
    return jnp.sum(jnp.abs(p.a) * norms)


class FitResult(NamedTuple):
    params: TwoLayer
    train_mse: jax.Array
    steps: jax.Array  # steps taken
    fitted: jax.Array  # reached train MSE ≤ target


def fit(params: TwoLayer, mask, x, y, target, *, steps: int, lr: float, penalty: float = 0.0,
        check_every: int = 25) -> FitResult:
    """Full-batch Adam on the MSE, until MSE ≤ target or `steps` (penalty = 0).

    With penalty μ₀ > 0 it looks for the smoothest fit instead: it minimises MSE + μ·path norm
    over the whole budget, adapting μ every `check_every` steps (×1.25 while the fit is below
    target, ÷1.25 above it) so the MSE settles at the target, and returns the iterate of least
    path norm among those that fit.
    """
    opt = optax.adam(lr)
    smooth = penalty > 0

    def mse_of(p):
        return jnp.mean((forward(p, x, mask) - y) ** 2)

    def inner(carry, _):
        p, state, mu = carry
        loss = lambda q: mse_of(q) + mu * path_norm(masked(q, mask))
        updates, state = opt.update(jax.grad(loss)(p), state, p)
        return (optax.apply_updates(p, updates), state, mu), None

    def cond(c):
        return (c["t"] < steps) & (smooth | (c["mse"] > target))

    def body(c):
        (p, state, _), _ = jax.lax.scan(inner, (c["p"], c["state"], c["mu"]), None, length=check_every)
        mse = mse_of(p)
        pen = path_norm(masked(p, mask))
        better = (mse <= target) & (pen < c["best_pen"])
        mu = jnp.where(mse <= target, c["mu"] * 1.25, c["mu"] / 1.25) if smooth else c["mu"]
        best = jax.tree_util.tree_map(lambda b, q: jnp.where(better, q, b), c["best"], p)
        return dict(p=p, state=state, t=c["t"] + check_every, mse=mse, mu=mu, best=best,
                    best_pen=jnp.where(better, pen, c["best_pen"]), best_mse=jnp.where(better, mse, c["best_mse"]))

    mse0 = mse_of(params)
    init = dict(p=params, state=opt.init(params), t=jnp.asarray(0), mse=mse0, mu=jnp.asarray(penalty, mse0.dtype),
                best=params, best_pen=jnp.asarray(jnp.inf, mse0.dtype), best_mse=mse0)
    c = jax.lax.while_loop(cond, body, init)
    found = jnp.isfinite(c["best_pen"])
    final = jax.tree_util.tree_map(lambda b, q: jnp.where(found, b, q), c["best"], c["p"])
    mse = jnp.where(found, c["best_mse"], c["mse"])
    return FitResult(masked(final, mask), mse, c["t"], mse <= target)
