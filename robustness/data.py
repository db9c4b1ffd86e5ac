"""Inputs and noisy labels for the law of robustness (THEORY.md §2.1).

Inputs are normalised to norm ≈ 1: x ~ N(0, I_d/d) (c = 1 isoperimetry) or uniform on
the unit sphere. Labels are random ±1 (noise level σ² = 1), or the sign of a fixed
linear rule flipped with probability q (σ² = E Var(y|x) = 4q(1 − q)).
"""

from __future__ import annotations

import math

import numpy as np

from .config import INPUTS, LABELS, noise_level  # noqa: F401  (kept importable here)


def streams(seed: int, n: int, d: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The random streams of dataset (n, d, seed): (points and labels, initialisations). Every dataset
    has its own, so datasets are independent (the unit robustness/fits.py counts). NumPy's generators
    draw at once, where a compiled JAX draw costs seconds of compilation per shape on a CPU."""
    data, init = np.random.SeedSequence([seed, n, d]).spawn(2)
    return np.random.default_rng(data), np.random.default_rng(init)


def inputs(rng: np.random.Generator, n: int, d: int, kind: str = "gaussian") -> np.ndarray:
    """(n, d) float32 inputs: N(0, I/d) or uniform on the unit sphere S^{d−1}."""
    z = rng.standard_normal((n, d))
    if kind == "gaussian":
        return (z / math.sqrt(d)).astype(np.float32)
    if kind == "sphere":
        return (z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32)
    raise ValueError(f"unknown input distribution {kind!r} (choose from {', '.join(INPUTS)})")


def labels(rng: np.random.Generator, x: np.ndarray, kind: str = "random", flip: float = 0.0) -> np.ndarray:
    """(n,) float32 labels in {−1, +1}: uniform, or sign(⟨w*, x⟩) with a random w*, flipped w.p. flip."""
    n, d = x.shape
    if kind == "random":
        return np.where(rng.random(n) < 0.5, 1.0, -1.0).astype(np.float32)
    if kind == "rule":
        w = rng.standard_normal(d)
        clean = np.where(x @ w >= 0, 1.0, -1.0)
        return np.where(rng.random(n) < flip, -clean, clean).astype(np.float32)
    raise ValueError(f"unknown labels {kind!r} (choose from {', '.join(LABELS)})")
