"""Lower bounds on the ℓ2 Lipschitz constant of a ReLU network (THEORY.md §2.4): exact gradient
norms or difference quotients at points we choose, so any point gives a valid bound; for one hidden
layer of at most EXACT_WIDTH units, the constant itself by enumerating activation patterns.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class LowerBound(NamedTuple):
    value: float
    method: str  # which of `by_method` won
    by_method: dict  # "data_gradient", "ascent", "quotient" -> value


def lower_bound(
    f,
    x_data,
    key,
    *,
    f_smooth=None,
    off_kink=None,
    starts: int = 16,
    steps: int = 300,
    lr: float = 0.02,
    pairs: int = 2048,
) -> LowerBound:
    """max of valid lower bounds on the ℓ2 Lipschitz constant of f: R^d -> R (a JAX function).

    data_gradient  max_i ‖∇f(x_i)‖ at the data;
    ascent         multi-start ascent on ‖∇f_smooth(x)‖² (ReLU gradients are piecewise constant,
                   so a smooth surrogate gives the direction), scoring the exact ‖∇f‖ at every
                   iterate; starts are the steepest data points and random points of the data's scale;
    quotient       |f(x) − f(x')| / ‖x − x'‖ over random pairs of data points and a short step
                   along the gradient at the best point found.
    Every candidate is an exact value of f or ∇f at a point, hence a valid bound, except a gradient
    taken exactly on a kink (where autodiff picks one side's derivative per unit, a mix no region
    has): `off_kink(x)` (True where no unit's pre-activation is zero) leaves such points out.
    """
    import optax

    x_data = jnp.asarray(x_data)
    f_smooth = f_smooth or f
    off_kink = off_kink or (lambda x: True)
    exact_norm = lambda x: jnp.where(off_kink(x), jnp.linalg.norm(jax.grad(f)(x)), 0.0)
    grad_norm = jax.vmap(exact_norm)
    norms = grad_norm(x_data)
    out = {"data_gradient": float(jnp.max(norms))}

    k_start, k_pairs = jax.random.split(key)
    scale = jnp.sqrt(jnp.mean(jnp.sum(x_data**2, axis=1)) / x_data.shape[1])
    n_data = min(starts // 2, x_data.shape[0])
    x0 = jnp.concatenate(
        [
            x_data[jnp.argsort(-norms)[:n_data]],
            scale * jax.random.normal(k_start, (starts - n_data, x_data.shape[1]), x_data.dtype),
        ]
    )
    opt = optax.adam(lr * scale)
    objective = lambda x: -jnp.sum(jax.grad(f_smooth)(x) ** 2)

    def step(carry, _):
        x, state, best, best_x = carry
        g = jax.grad(objective)(x)
        upd, state = opt.update(g, state, x)
        x = optax.apply_updates(x, upd)
        exact = exact_norm(x)
        better = exact > best
        return (x, state, jnp.where(better, exact, best), jnp.where(better, x, best_x)), None

    def ascend(x):
        init = (x, opt.init(x), exact_norm(x), x)
        (_, _, best, best_x), _ = jax.lax.scan(step, init, None, length=steps)
        return best, best_x

    best, best_x = jax.jit(jax.vmap(ascend))(x0)
    out["ascent"] = float(jnp.max(best))

    i, j = jax.random.randint(k_pairs, (2, pairs), 0, x_data.shape[0])
    keep = i != j
    fx = jax.vmap(f)(x_data)
    dist = jnp.linalg.norm(x_data[i] - x_data[j], axis=1)
    quot = jnp.where(keep & (dist > 0), jnp.abs(fx[i] - fx[j]) / jnp.where(dist > 0, dist, 1.0), 0.0)
    xb = best_x[jnp.argmax(best)]
    g = jax.grad(f)(xb)
    h = 1e-3 * scale
    local = jnp.abs(f(xb + h * g / jnp.linalg.norm(g)) - f(xb)) / h
    out["quotient"] = float(jnp.maximum(jnp.max(quot), local))
    method = max(out, key=out.get)
    return LowerBound(out[method], method, out)


EXACT_WIDTH = 24  # up to 2^24 activation patterns are enumerated: the lower bound is then the constant itself


def _patterns(k: int) -> np.ndarray:
    """Every s ∈ {0, 1}^k, one per row."""
    return ((np.arange(2**k)[:, None] >> np.arange(k)) & 1).astype(float)


def _enumerate(gram: np.ndarray, rows: int = 256) -> float:
    """max over s ∈ {0, 1}^k of sᵀ G s, meeting in the middle: with the units split in halves A and B,
    q(s_A, s_B) = q_A(s_A) + q_B(s_B) + 2 s_Aᵀ G_AB s_B, so the 2^k values are a sum of two tables of
    2^(k/2) values and one matrix product, taken a block of A's patterns at a time."""
    k = gram.shape[0]
    half = k // 2
    sa, sb = _patterns(half), _patterns(k - half)
    ga, gb, gab = gram[:half, :half], gram[half:, half:], gram[:half, half:]
    qa = np.einsum("ij,jk,ik->i", sa, ga, sa)
    qb = np.einsum("ij,jk,ik->i", sb, gb, sb)
    cross = 2.0 * sa @ gab  # (2^|A|, |B|)
    best = -math.inf
    for lo in range(0, len(sa), rows):
        block = qa[lo : lo + rows, None] + qb[None, :] + cross[lo : lo + rows] @ sb.T
        best = max(best, float(block.max()))
    return best


def pattern_bound(w, a, starts) -> tuple[float, str] | None:
    """The largest ‖Σ_j s_j a_j w_j‖ over activation patterns s ∈ {0, 1}^k of f = Σ a_j ReLU(w_j·x + b_j),
    or None when not every pattern is realisable.

    When the k ≤ d rows of W are linearly independent every pattern is realisable: w_j·x + b_j = ±1
    can be solved for any signs, so each pattern owns an open region where ∇f = Σ_j s_j a_j w_j. Each
    value is then a valid lower bound, and their maximum is the Lipschitz constant itself (f is
    piecewise linear). Up to EXACT_WIDTH units every pattern is enumerated ("exact": a proof of
    optimality); above, best-improvement bit flips from the patterns `starts` (n, k) reach a local
    maximum ("pattern_search"). Rounded down by 1e-12 so that float rounding cannot lift it.
    """
    w, a = np.asarray(w, float), np.asarray(a, float)
    k, d = w.shape
    if k > d or np.linalg.matrix_rank(w) < k:
        return None
    v = a[:, None] * w
    gram = v @ v.T
    if k <= EXACT_WIDTH:
        return math.sqrt(max(_enumerate(gram), 0.0)) * (1 - 1e-12), "exact"
    s = np.asarray(starts, float).reshape(-1, k)
    diag = np.diag(gram)
    for _ in range(4 * k):
        delta = 1.0 - 2.0 * s  # +1 turns a unit on, −1 off
        gains = delta * 2.0 * (s @ gram) + diag  # q(s with bit j flipped) − q(s)
        j = np.argmax(gains, axis=1)
        rows = np.flatnonzero(gains[np.arange(len(s)), j] > 1e-12 * max(1.0, float(diag.max())))
        if not len(rows):
            break
        s[rows, j[rows]] = 1.0 - s[rows, j[rows]]
    q = np.einsum("ij,jk,ik->i", s, gram, s)
    return math.sqrt(max(float(q.max()), 0.0)) * (1 - 1e-12), "pattern_search"


def two_layer_lower_bound(
    p,
    x_data,
    rng: np.random.Generator,
    *,
    smoothing: float = 20.0,
    starts: int = 16,
    steps: int = 300,
    lr: float = 0.02,
    pairs: int = 2048,
) -> LowerBound:
    """`lower_bound` for f(x) = Σ a_j ReLU(w_j·x + b_j) + c, the same three methods, with the ascent
    compiled once per shape of (W, starts) rather than once per network: the gradient at the data and
    the quotients are closed forms, computed in float64 NumPy, and the draws are NumPy's (`rng`).

    ∇f(x) = Σ_j a_j 1[w_j·x + b_j > 0] w_j off the kinks; the surrogate for the ascent's direction is
    Σ_j a_j softplus(s (w_j·x + b_j)) / s, s = `smoothing`.
    """
    w, b, a = (np.asarray(v, float) for v in (p.w, p.b, p.a))
    c = float(np.asarray(p.c, float))
    x_data = np.asarray(x_data, float)
    f = lambda x: np.maximum(x @ w.T + b, 0.0) @ a + c

    def grad_norm(x):
        z = x @ w.T + b
        norms = np.linalg.norm(((z > 0) * a) @ w, axis=-1)
        return np.where(np.all(z != 0, axis=-1), norms, 0.0)  # a kink's autodiff gradient is no region's

    norms = grad_norm(x_data)
    out = {"data_gradient": float(np.max(norms))}
    scale = math.sqrt(float(np.mean(np.sum(x_data**2, axis=1))) / x_data.shape[1])
    n_data = min(starts // 2, x_data.shape[0])
    random = scale * rng.standard_normal((starts - n_data, x_data.shape[1]))
    x0 = np.concatenate([x_data[np.argsort(-norms, kind="stable")[:n_data]], random])
    # units padded to a power of two (a = 0, pre-activation 1: no kink, no contribution) share programs
    k = len(a)
    width = max(8, 1 << (k - 1).bit_length())
    pad = lambda v, fill: np.concatenate([v, np.full((width - k, *v.shape[1:]), fill)])
    best, best_x = _ascend(pad(w, 0.0), pad(b, 1.0), pad(a, 0.0), x0, lr * scale, smoothing, steps)
    best, best_x = np.asarray(best), np.asarray(best_x)
    out["ascent"] = float(np.max(best))
    i, j = rng.integers(0, x_data.shape[0], (2, pairs))
    fx = f(x_data)
    dist = np.linalg.norm(x_data[i] - x_data[j], axis=1)
    keep = (i != j) & (dist > 0)
    quot = np.where(keep, np.abs(fx[i] - fx[j]) / np.where(dist > 0, dist, 1.0), 0.0)
    xb = best_x[np.argmax(best)]
    z = xb @ w.T + b
    g = ((z > 0) * a) @ w
    h = 1e-3 * scale
    g_norm = np.linalg.norm(g)
    local = abs(f(xb + h * g / g_norm) - f(xb)) / h if g_norm > 0 else 0.0
    out["quotient"] = float(max(np.max(quot), local))
    method = max(out, key=out.get)
    return LowerBound(out[method], method, out)


@functools.partial(jax.jit, static_argnames="steps")
def _ascend(w, b, a, x0, lr, smoothing, steps: int):
    """Adam ascent on ‖∇f_smooth(x)‖² from each row of x0, scoring the exact ‖∇f‖ off the kinks:
    (best score, its point) per start."""
    import optax

    soft = lambda x: jax.nn.softplus(smoothing * (w @ x + b)) @ a / smoothing
    objective = lambda x: -jnp.sum(jax.grad(soft)(x) ** 2)

    def exact_norm(x):
        z = w @ x + b
        return jnp.where(jnp.all(z != 0), jnp.linalg.norm(((z > 0) * a) @ w), 0.0)

    opt = optax.adam(lr)

    def step(carry, _):
        x, state, best, best_x = carry
        upd, state = opt.update(jax.grad(objective)(x), state, x)
        x = optax.apply_updates(x, upd)
        exact = exact_norm(x)
        better = exact > best
        return (x, state, jnp.where(better, exact, best), jnp.where(better, x, best_x)), None

    def ascend(x):
        (_, _, best, best_x), _ = jax.lax.scan(step, (x, opt.init(x), exact_norm(x), x), None, length=steps)
        return best, best_x

    return jax.vmap(ascend)(x0)
