"""Reference interpolants with known Lipschitz behaviour (THEORY.md §2.3).

RBF bumps: f(x) = Σ_i y_i h(‖x − x_i‖/r), h(t) = (1 − t²)² on [0, 1) and 0 beyond, so h(0) = 1,
h ∈ C¹ and max|h'| = 8/(3√3) at t = 1/√3. With r below half the smallest pairwise distance
the bumps are disjoint: f interpolates and Lip(f) = 8/(3√3 r) exactly; p = n(d + 1).

Spherical cap ramps on unit-sphere data: two ReLU units per point,
φ_i(x) = (1/s)[ReLU(⟨x_i, x⟩ − (1 − s)) − ReLU(⟨x_i, x⟩ − 1)], f = Σ y_i φ_i. With disjoint caps
f interpolates; its tangential Lipschitz constant on the sphere is √((2 − s)/s), reached on the
cap boundary ⟨x_i, x⟩ = 1 − s. Its Euclidean constant on R^d is at least 1/s (the gradient inside
one ramp is y_i x_i / s) and can be larger where ramps overlap off the sphere.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .networks import TwoLayer, forward

BUMP_SLOPE = 8.0 / (3.0 * math.sqrt(3.0))  # max |h'| of h(t) = (1 − t²)²


class RBF(NamedTuple):
    centers: jax.Array  # (n, d)
    labels: jax.Array  # (n,)
    radius: float

    def __call__(self, x):
        t2 = jnp.sum((x - self.centers) ** 2, axis=-1) / self.radius**2
        return jnp.sum(self.labels * jnp.where(t2 < 1.0, (1.0 - t2) ** 2, 0.0))

    @property
    def lipschitz(self) -> float:
        """8/(3√3 r): exact when the bumps are disjoint."""
        return BUMP_SLOPE / self.radius

    @property
    def params(self) -> int:
        return int(self.centers.size + self.labels.size)


def min_distance(x) -> float:
    x = np.asarray(x, float)
    sq = np.sum(x**2, 1)
    dist2 = sq[:, None] + sq[None, :] - 2 * x @ x.T
    np.fill_diagonal(dist2, np.inf)
    return float(np.sqrt(max(dist2.min(), 0.0)))


def rbf_interpolant(x, y, radius: float | None = None) -> RBF:
    """Bumps of radius r (default 0.45 × the smallest pairwise distance, so they are disjoint)."""
    limit = 0.5 * min_distance(x)
    r = 0.9 * limit if radius is None else radius
    if r >= limit:
        raise ValueError(f"radius {r:g} overlaps bumps: it must be below half the smallest distance, {limit:g}")
    return RBF(jnp.asarray(x), jnp.asarray(y), float(r))


def cap_ramp(x, y, s: float) -> TwoLayer:
    """The two-units-per-point ReLU network of spherical cap ramps of height 1 and depth s."""
    x = jnp.asarray(x)
    y = jnp.asarray(y, x.dtype)
    w = jnp.concatenate([x, x])
    b = jnp.concatenate([jnp.full(len(x), -(1.0 - s)), jnp.full(len(x), -1.0)]).astype(x.dtype)
    a = jnp.concatenate([y / s, -y / s])
    return TwoLayer(w, b, a, jnp.zeros((), x.dtype))


def cap_ramp_tangential_lipschitz(s: float) -> float:
    """√((2 − s)/s): sin θ / s on the cap boundary cos θ = 1 − s.  THEORY.md §2.3."""
    return math.sqrt((2.0 - s) / s)


def caps_disjoint(x, s: float) -> bool:
    """Caps {⟨x_i, x⟩ > 1 − s} of angular radius θ = arccos(1 − s) are disjoint iff centres are > 2θ apart."""
    g = np.clip(np.asarray(x, float) @ np.asarray(x, float).T, -1, 1)
    np.fill_diagonal(g, -1.0)
    return bool(np.arccos(g.max()) > 2 * math.acos(1 - s))


def tangential_gradient_lower_bound(p: TwoLayer, starts, *, steps: int = 600, lr: float = 1e-3) -> float:
    """max ‖(I − xxᵀ)∇f(x)‖ over projected-ascent iterates on the unit sphere: a lower bound on the
    tangential (geodesic) Lipschitz constant of f restricted to the sphere."""

    def tangential2(x):
        g = jax.grad(lambda z: forward(p, z))(x)
        return jnp.sum((g - jnp.dot(g, x) * x) ** 2)

    tangential = lambda x: jnp.sqrt(tangential2(x))

    def step(carry, _):
        x, best = carry
        g = jax.grad(tangential2)(x)
        x = x + lr * g / jnp.maximum(jnp.linalg.norm(g), 1e-30)  # fixed arc steps: never leap the cliff
        x = x / jnp.linalg.norm(x)
        return (x, jnp.maximum(best, tangential(x))), None

    def run(x):
        x = x / jnp.linalg.norm(x)
        (_, best), _ = jax.lax.scan(step, (x, tangential(x)), None, length=steps)
        return best

    return float(jnp.max(jax.jit(jax.vmap(run))(jnp.asarray(starts))))
