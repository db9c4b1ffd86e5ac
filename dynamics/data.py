"""The sparse coding task of [AB] §2 (THEORY.md §1.1).

Each sample is x = λ·y·e_j + ξ with y ~ Uniform{−1, +1}, j ~ Uniform{1..d},
ξ ~ N(0, σ² I_d); the label is y.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr


class Samples(NamedTuple):
    x: jax.Array  # (n, d)
    y: jax.Array  # (n,), entries ±1


def sparse_signals(z, lam: float, sigma: float):
    """Samples of the sparse coding model from standard normals z (n, d + 2): (x (n, d), y (n,)).

    ξ = σ z[:, :d]; y = sign z[:, d] (uniform ±1); j = ⌊d Φ(z[:, d+1])⌋ (uniform on 0..d−1,
    as Φ(z) is uniform on (0, 1)). One normal draw feeds everything: every separate random
    call costs compile time on the CPU.
    """
    d = z.shape[1] - 2
    y = jnp.where(z[:, d] >= 0, 1.0, -1.0).astype(z.dtype)
    j = jnp.clip(jnp.floor(d * ndtr(z[:, d + 1])), 0, d - 1).astype(jnp.int32)
    x = sigma * z[:, :d] + lam * y[:, None] * jax.nn.one_hot(j, d, dtype=z.dtype)
    return x, y


def sparse_coding(
    key, d: int, n: int, lam: float, sigma: float, n_test: int = 2000, dtype=jnp.float32
) -> tuple[Samples, Samples]:
    """(train, test): n training samples and an independent set of n_test test samples."""
    z = jax.random.normal(key, (n + n_test, d + 2), dtype=dtype)
    return Samples(*sparse_signals(z[:n], lam, sigma)), Samples(*sparse_signals(z[n:], lam, sigma))


def accuracy(output, y):
    """Fraction of correct signs; an output of exactly 0 (no unit active) scores ½, a coin flip."""
    return jnp.mean(jnp.where(output == 0, 0.5, jnp.sign(output) == y))


def sparse_coding_split(key, spec, dtype):
    """(train, test) of the sparse coding task with the sizes of a ModelSpec (d, n, λ, σ, n_test)."""
    return sparse_coding(key, spec.d, spec.n, spec.lam, spec.sigma, spec.n_test, dtype)
