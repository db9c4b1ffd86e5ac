"""Sharpness: the largest algebraic eigenvalue of the training-loss Hessian ([EoS]).

Computed by Lanczos with full reorthogonalisation on Hessian-vector products
(forward-over-reverse: H v = d/dε ∇L(θ + ε v)), so the Hessian is never formed.
k steps build an orthonormal basis V of the Krylov space K_k(H, v₀) and the
tridiagonal T = Vᵀ H V; the largest eigenvalue of T is a Rayleigh–Ritz lower bound
on λ_max(H) that is exact once k equals the parameter count. Unlike power
iteration it is not fooled by a negative eigenvalue of larger magnitude.
Everything is jit- and vmap-friendly; the returned Ritz vector warm-starts the next call.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree


def hvp(loss, params, vector):
    """H(params) · vector for loss: params -> scalar; vector has params' structure."""
    return jax.jvp(jax.grad(loss), (params,), (vector,))[1]


def lanczos_top(matvec, v0, steps: int):
    """(λ_max estimate, its unit Ritz vector) of the symmetric map matvec: R^m -> R^m.

    v0 (m,) is the start (ones if it is zero); steps is capped at m. A breakdown (an
    invariant Krylov space) ends the iteration early. The estimate is NaN when it fails the
    Rayleigh-quotient check below (one more matvec).
    """
    m = v0.shape[0]
    k = min(steps, m)
    dtype = v0.dtype
    tiny = jnp.finfo(dtype).tiny
    norm0 = jnp.linalg.norm(v0)
    v = jnp.where(norm0 > tiny, v0 / jnp.where(norm0 > tiny, norm0, 1.0), 1.0 / jnp.sqrt(m))

    eps = jnp.finfo(dtype).eps

    def body(j, carry):
        basis, alpha, beta, v, v_prev, b_prev, alive, scale = carry
        basis = basis.at[j].set(v)
        w = matvec(v)
        a = jnp.vdot(w, v)
        w = w - a * v - b_prev * v_prev
        for _ in range(2):  # twice is enough (Kahan–Parlett)
            w = w - basis.T @ (basis @ w)
        b = jnp.linalg.norm(w)
        alpha = alpha.at[j].set(jnp.where(alive, a, 0.0))
        scale = jnp.maximum(scale, jnp.abs(a) + b)
        # Round-off level: the Krylov space is invariant; going on would only normalise noise.
        alive_next = alive & (b > m * eps * scale)
        beta = beta.at[j].set(jnp.where(alive_next, b, 0.0))
        v_next = jnp.where(alive_next, w / jnp.where(alive_next, b, 1.0), 0.0)
        return basis, alpha, beta, v_next, v, b, alive_next, scale

    init = (
        jnp.zeros((k, m), dtype),
        jnp.zeros((k,), dtype),
        jnp.zeros((k,), dtype),
        v,
        jnp.zeros_like(v),
        jnp.zeros((), dtype),
        jnp.asarray(True),
        jnp.zeros((), dtype),
    )
    basis, alpha, beta, *_, scale = jax.lax.fori_loop(0, k, body, init)
    # Rows past a breakdown are zero. Decouple them with a diagonal strictly below every
    # Ritz value of the used block, so neither the estimate nor its Ritz vector can come from them.
    used = jnp.any(basis != 0, axis=1)
    floor = jnp.min(jnp.where(used, alpha, jnp.inf)) - scale - 1.0
    alpha = jnp.where(used, alpha, floor)
    off = jnp.where(used[1:], beta[:-1], 0.0)
    t = jnp.diag(alpha) + jnp.diag(off, 1) + jnp.diag(off, -1)
    evals, evecs = jnp.linalg.eigh(t)
    ritz = basis.T @ evecs[:, -1]
    ritz = ritz / jnp.maximum(jnp.linalg.norm(ritz), tiny)
    # With an orthonormal basis the top Ritz value is the Rayleigh quotient of its Ritz vector.
    # A basis that lost orthogonality (or a matvec gone non-finite) breaks that identity; the
    # estimate is then NaN, never a number that looks like a measurement.
    rayleigh = jnp.vdot(ritz, matvec(ritz))
    trusted = jnp.abs(rayleigh - evals[-1]) <= 1e-3 * jnp.maximum(scale, tiny) + 64 * m * eps * scale
    return jnp.where(trusted, evals[-1], jnp.nan), ritz


def sharpness(loss, params, v0=None, steps: int = 20):
    """(λ_max of ∇²loss at params, Ritz vector as a flat array (m,)).

    v0 is a flat warm start (e.g. the previous Ritz vector); ones if omitted.
    """
    flat, unravel = ravel_pytree(params)
    if v0 is None:
        v0 = jnp.ones_like(flat)

    def matvec(v):
        return ravel_pytree(hvp(loss, params, unravel(v)))[0]

    return lanczos_top(matvec, v0, steps)


def dense_sharpness(loss, params):
    """λ_max from the dense Hessian (jax.hessian + eigh): the reference for small models."""
    flat, unravel = ravel_pytree(params)
    h = jax.hessian(lambda f: loss(unravel(f)))(flat)
    return jnp.linalg.eigvalsh(0.5 * (h + h.T))[-1]
