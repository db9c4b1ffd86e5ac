"""The sparse coding task of [AB] §2 (THEORY.md §1.1).

Each sample is x = λ·y·e_j + ξ with y ~ Uniform{−1, +1}, j ~ Uniform{1..d},
ξ ~ N(0, σ² I_d); the label is y.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Samples(NamedTuple):
    x: jax.Array  # (n, d)
    y: jax.Array  # (n,), entries ±1


def sparse_signals(key, n: int, d: int, lam: float, sigma: float, dtype=jnp.float32):
    """n samples of the sparse coding model: (x (n, d), y (n,))."""
    k_sign, k_coord, k_noise = jax.random.split(key, 3)
    y = jax.random.rademacher(k_sign, (n,), dtype=dtype)
    j = jax.random.randint(k_coord, (n,), 0, d)
    noise = sigma * jax.random.normal(k_noise, (n, d), dtype=dtype)
    x = noise + lam * y[:, None] * jax.nn.one_hot(j, d, dtype=dtype)
    return x, y


def sparse_coding(key, d: int, n: int, lam: float, sigma: float, n_test: int = 2000,
                  dtype=jnp.float32) -> tuple[Samples, Samples]:
    """(train, test): n training samples and an independent set of n_test test samples."""
    k_train, k_test = jax.random.split(key)
    return (Samples(*sparse_signals(k_train, n, d, lam, sigma, dtype)),
            Samples(*sparse_signals(k_test, n_test, d, lam, sigma, dtype)))
