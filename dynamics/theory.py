"""Predictions of THEORY.md Part 1, each with its source. Nothing here is a measurement.

Symbols: d input dimension, σ noise level, η step size, κ = ℓ''(0), c the local
constant of ℓ'(s)/s = κ(1 − c s² + …).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from .model import Theory


class _Normal:
    """φ and Φ of N(0, 1) for numbers, as scipy.stats.norm computes them (without its 0.2 s import)."""

    pdf = staticmethod(lambda x: np.exp(-(x**2) / 2.0) / np.sqrt(2 * np.pi))
    cdf = staticmethod(ndtr)


def gaussian_relu_mean(b, stats=_Normal):
    """g(b) = E ReLU(z + b) = φ(b) + b Φ(b), z ~ N(0, 1).  [AB] §3 (THEORY.md §1.2).
    `stats` gives φ and Φ (pdf, cdf): SciPy's for numbers, jax.scipy.stats.norm inside a model."""
    return stats.pdf(b) + b * stats.cdf(b)


def threshold_lr_closed_form(d: int, sigma: float = 1.0) -> float:
    """η* = 2 / (d² σ² / (4π)) = 8π / (σ² d²): 2/sharpness at A = 0, b = 0.  [AB] §3, Fig. 1."""
    return 8.0 * math.pi / (sigma**2 * d**2)


def linear_rule_accuracy(d: int, lam: float, sigma: float = 1.0) -> float:
    """Test accuracy of the linear rule sign(Σ_i x_i): Σ_i x_i = λy + N(0, dσ²), so Φ(λ/(σ√d)).  THEORY.md §1.1.

    A network that beats it by a margin at the smallest η has learned a threshold by gradient flow alone.
    """
    return float(ndtr(lam / (sigma * math.sqrt(d))))


def mean_sharpness(d: int, b: float, sigma: float = 1.0) -> float:
    """Sharpness of the mean model at A = 0: ℓ_sym''(0)·2·(dσ g(b/σ))² = (dσ g(b/σ))²/2.  THEORY.md §1.3."""
    return 0.5 * (d * sigma * float(gaussian_relu_mean(b / sigma))) ** 2


def mean_bias_below(d: int, a_neg0: float, a_pos0: float, sigma: float = 1.0) -> float:
    """Below η*: b_∞ ≈ −(√(2π)/(8σ))(a⁺₀ + a⁻₀)², O(1/d) at the default init.  THEORY.md §1.3 (derived).

    Gradient flow of the mean model: db/dA = A Φ(b/σ)/(2σ g(b/σ)), integrated from A₀ to 0 at b ≈ 0.
    A mean-model prediction: the relu network's own gradient-flow bias is larger (THEORY.md §1.3).
    """
    return -math.sqrt(2 * math.pi) / (8.0 * sigma) * (a_neg0 + a_pos0) ** 2


def mean_bias_above(d: int, lr: float, sigma: float = 1.0) -> float:
    """Above η*: GD stops where the sharpness is 2/η, i.e. g(b_∞/σ) = 2/(dσ√η).  THEORY.md §1.3 (derived).

    Returns NaN at or below the transition, where the equation has no negative root.
    """
    target = 2.0 / (d * sigma * math.sqrt(lr))
    if target >= gaussian_relu_mean(0.0):
        return math.nan
    from scipy.optimize import brentq  # here: 0.3 s of imports that a model's construction does not need

    return sigma * brentq(lambda z: gaussian_relu_mean(z) - target, -40.0, 0.0, xtol=1e-14)


def product_threshold_lr(curvature: float, x0: float, y0: float) -> float:
    """η* = 2 / (ℓ''(0)|y₀² − x₀²|): the gradient-flow limit's sharpness equals 2/η.  THEORY.md §1.4.

    (With x₀² > y₀² the flow ends on the x axis instead, by the x ↔ y symmetry.) Infinite when equal.
    """
    gap = abs(y0**2 - x0**2)
    return 2.0 / (curvature * gap) if gap > 0 else math.inf


def product_final_y_squared_below(x0: float, y0: float) -> float:
    """Below η*: gradient flow conserves y² − x² and ends at x = 0, so y_∞² = y₀² − x₀².  THEORY.md §1.4."""
    return y0**2 - x0**2


def product_final_sharpness_above(lr: float, curvature: float, c: float) -> float:
    """Above η*, sub-quadratic ℓ: κ y_∞² ≈ 2/η − κ² η / (2c) (leading order in η).  THEORY.md §1.4 (derived).

    For κ = 1 this is y_∞² ≈ 2/η − η/(2c); the general form follows from GD on κ h with h''(0) = 1
    being GD on h with step κη. NaN for the quadratic control (c = 0), which does not self-stabilise.
    """
    if c <= 0:
        return math.nan
    return 2.0 / lr - curvature**2 * lr / (2.0 * c)


def quadratic_stable(lr: float, curvature: float) -> bool:
    """GD on a quadratic of curvature λ is stable iff η < 2/λ.  [EoS] §2."""
    return lr * curvature < 2.0


def mean_model_theory(spec):
    """A ModelSpec's mean-model Theory: η* = 8π/(σ²d²), and the final bias below η* (set by the
    seed's init, `mean_bias_below`) and above it (`mean_bias_above`).  THEORY.md §1.3."""
    eta = threshold_lr_closed_form(spec.d, spec.sigma)

    def below(p):
        return mean_bias_below(spec.d, p.a_neg, p.a_pos, spec.sigma)

    def columns(lr, p):
        bias = below(p) if lr <= eta else mean_bias_above(spec.d, lr, spec.sigma)
        return {"theory_mean_model_final_bias": bias}

    return Theory(
        eta,
        "8π/(σ²d²)",
        constants={"linear_rule_accuracy": linear_rule_accuracy(spec.d, spec.lam, spec.sigma)},
        per_seed=lambda p: {"mean_model_bias_below": below(p)},
        columns=columns,
        # A threshold neuron filters the noise: b is learned once it is a sizeable fraction of σ.
        threshold_scale=spec.sigma,
    )
