"""The law of robustness (THEORY.md §2.2), each formula with its source. No measurements here."""

from __future__ import annotations

import math


def law_scale(n: int, d: int, p: int) -> float:
    """√(nd/p): the Lipschitz constant any p-parameter fit below the noise level needs, up to
    constants and logs.  [BS] Theorem 1 (informal form)."""
    return math.sqrt(n * d / p)


def two_layer_scale(n: int, k: int) -> float:
    """√(n/k): the law for width-k two-layer networks, p ≈ k(d + 2).  [BLN] conjecture, [BS] §1."""
    return math.sqrt(n / k)


# The exponents each form predicts for log Lip: √(nd/p) [BS] Theorem 1 (informal form), and √(n/k)
# for width-k two-layer networks [BLN] (p ≈ k·d carries the d of [BS]).
LAW_EXPONENTS = {"n": 0.5, "d": 0.5, "params": -0.5}
TWO_LAYER_EXPONENTS = {"n": 0.5, "d": 0.0, "width": -0.5}


def certified_bound(
    n: int, d: int, p: int, eps: float, delta: float, diameter: float, jac: float, c: float = 1.0
) -> float:
    """ε/(2⁹√c) · √(nd / (p log(60 W J/ε) + log(4/δ))).  [BS] Theorem 3 (THEORY.md §2.2).

    With probability ≥ 1 − δ every f of the class that fits below the noise level by ε has
    Lip(f) at least this, provided `certified_applies` holds.
    """
    log_term = p * math.log(max(60.0 * diameter * jac / eps, 1.0 + 1e-12)) + math.log(4.0 / delta)
    return eps / (2**9 * math.sqrt(c)) * math.sqrt(n * d / log_term)


def certified_applies(n: int, eps: float, delta: float) -> bool:
    """The sample-size condition 8⁴ log(8/δ) ≤ n ε² of the certified bound.  [BS] Theorem 3."""
    return 8**4 * math.log(8.0 / delta) <= n * eps**2


def finite_class_probability(n: int, d: int, eps: float, lip: float, log_size: float, c: float = 1.0) -> float:
    """P(some L-Lipschitz f in a finite class F fits below the noise level by ε) ≤
    4 exp(−nε²/8³) + 2 exp(log|F| − ε² n d/(8⁴ c L²)).  [BS] Theorem 2 (THEORY.md §2.2)."""
    a = 4.0 * math.exp(-n * eps**2 / 8**3)
    exponent = log_size - eps**2 * n * d / (8**4 * c * lip**2)
    return min(1.0, a + (2.0 * math.exp(exponent) if exponent < 700 else math.inf))


def two_layer_parametrisation_lipschitz(radius: float, input_radius: float) -> float:
    """J with |f_θ(x) − f_θ'(x)| ≤ J ‖θ − θ'‖ for ‖θ‖, ‖θ'‖ ≤ R and ‖x‖ ≤ R_x, f two-layer ReLU.

    ‖∇_θ f‖² ≤ Σ_j (‖w_j‖R_x + |b_j|)² + Σ_j a_j²(R_x² + 1) + 1 ≤ 3R²(R_x² + 1) + 1.
    (Derived here; it enters the certified bound only through log J.)
    """
    return math.sqrt(3.0 * radius**2 * (input_radius**2 + 1.0) + 1.0)


def gaussian_tail(d: int, t: float, lip: float, c: float = 1.0) -> float:
    """c-isoperimetry: P(|f(x) − E f| ≥ t) ≤ 2 exp(−d t² / (2 c L²)).  THEORY.md §2.1."""
    return min(1.0, 2.0 * math.exp(-d * t**2 / (2.0 * c * lip**2)))
