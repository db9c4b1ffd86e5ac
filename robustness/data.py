"""Inputs and noisy labels for the law of robustness (THEORY.md §2.1).

Inputs are normalised to norm ≈ 1: x ~ N(0, I_d/d) (c = 1 isoperimetry) or uniform on
the unit sphere. Labels are random ±1 (noise level σ² = 1), or the sign of a fixed
linear rule flipped with probability q (σ² = E Var(y|x) = 4q(1 − q)).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from .config import INPUTS, LABELS, noise_level  # noqa: F401  (kept importable here)


def inputs(key, n: int, d: int, kind: str = "gaussian", dtype=jnp.float32):
    """(n, d) inputs: N(0, I/d) or uniform on the unit sphere S^{d−1}."""
    z = jax.random.normal(key, (n, d), dtype)
    if kind == "gaussian":
        return z / math.sqrt(d)
    if kind == "sphere":
        return z / jnp.linalg.norm(z, axis=1, keepdims=True)
    raise ValueError(f"unknown input distribution {kind!r} (choose from {', '.join(INPUTS)})")


def labels(key, x, kind: str = "random", flip: float = 0.0):
    """(n,) labels in {−1, +1}: uniform, or sign(⟨w*, x⟩) with w* fixed by key, flipped w.p. flip."""
    k_rule, k_flip = jax.random.split(key)
    n, d = x.shape
    if kind == "random":
        return jnp.where(jax.random.bernoulli(k_flip, 0.5, (n,)), 1.0, -1.0).astype(x.dtype)
    if kind == "rule":
        w = jax.random.normal(k_rule, (d,), x.dtype)
        clean = jnp.where(x @ w >= 0, 1.0, -1.0).astype(x.dtype)
        return jnp.where(jax.random.bernoulli(k_flip, flip, (n,)), -clean, clean)
    raise ValueError(f"unknown labels {kind!r} (choose from {', '.join(LABELS)})")
