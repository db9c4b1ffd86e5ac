"""The configuration of a robustness experiment, importable without JAX (the command line's help and
bad-input errors answer at once); a field with a "help" is an option of `eos robustness`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

INPUTS = ("gaussian", "sphere")
LABELS = ("random", "rule")
REGULARISERS = ("gradient", "path")
SOLVERS = ("CVXOPT", "CLARABEL", "SCS")  # LipSDP's solvers, in the order they are tried (upper_bounds.lipsdp)


def noise_level(kind: str, flip: float = 0.0) -> float:
    """σ² = E[Var(y | x)]: 1 for random ±1 labels, 4q(1 − q) for a rule flipped w.p. q."""
    return 1.0 if kind == "random" else 4.0 * flip * (1.0 - flip)


VARY = ("joint", "width", "n", "d")
# Inside n ≤ p ≤ REGIME·nd the law's √(nd/p) term dominates the smoothest fits found; beyond it they
# flatten onto an O(1) plateau (THEORY.md §2.2: Lip² ≈ A²·nd/p + B²). Measured: the fits' collapse
# constant Lip/√(nd/p) holds within ±15 % up to 0.035 and rises past it (README, the law of robustness).
REGIME = 0.035


@dataclass(frozen=True)
class RobustnessConfig:
    # Fields with a "help" are options of `eos robustness`; widths and values are parsed from ranges there.
    n: int = field(default=500, metadata={"help": "Training points."})
    d: int = field(default=200, metadata={"help": "Input dimension."})
    widths: tuple = (2, 4, 8, 16, 32, 64, 128, 256, 512)
    seeds: int = field(default=3, metadata={"help": "Seeds 0..N-1 (each fixes data and initialisation)."})
    inputs: str = field(default="gaussian", metadata={"help": "gaussian (N(0, I/d)) | sphere."})
    labels: str = field(
        default="random", metadata={"help": "random (σ² = 1) | rule (a linear rule flipped w.p. --flip)."}
    )
    flip: float = field(default=0.0, metadata={"help": "Label flip probability q for --labels rule (σ² = 4q(1−q))."})
    eps: float = field(default=0.5, metadata={"help": "Fit below the noise level by ε: train MSE ≤ σ² − ε."})
    steps: int = field(default=2000, metadata={"help": "Training step budget."})
    lr: float = field(default=0.01, metadata={"help": "Adam step size."})
    penalty: float = field(
        default=1e-3, metadata={"help": ("Initial smoothness penalty (smoothest fit); 0 stops at the first fit.")}
    )
    regulariser: str = field(
        default="gradient",
        metadata={
            "help": "gradient (mean ‖∇f(x_i)‖², the way to the smoothest fits) | path (the path norm: it "
            "concentrates the fit in a few units and finds far rougher fits; README has the measurement)."
        },
    )
    lipsdp_max_width: int = field(default=4096, metadata={"help": "Run LipSDP-Neuron up to this width."})
    delta: float = 0.01  # failure probability of the certified bound
    vary: str = field(
        default="joint",
        metadata={
            "help": "What to sweep: joint (n, d and p together: --design-n, --design-d, the widths) | width | "
            "n (at the first width) | d (p held fixed at the first width and the smallest d)."
        },
    )
    values: tuple = ()  # the n or d values for vary = n | d; the width is widths[0] (for d: p held)
    design_n: tuple = (250, 500, 1000)  # vary = joint: the n of the design
    design_d: tuple = (200, 400, 800)  # vary = joint: the d of the design
    design_k: tuple = (2, 4, 8, 16, 32)  # vary = joint: the widths, each run where p/(nd) ≤ run_ratio
    run_ratio: float = 0.07  # vary = joint: beyond REGIME up to this, fits are shown, not fitted

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(int(k) for k in self.widths))
        object.__setattr__(self, "values", tuple(int(v) for v in self.values))
        if self.vary not in VARY:
            raise ValueError(f"unknown vary {self.vary!r} (choose from {', '.join(VARY)})")
        object.__setattr__(self, "design_n", tuple(int(v) for v in self.design_n))
        object.__setattr__(self, "design_d", tuple(int(v) for v in self.design_d))
        object.__setattr__(self, "design_k", tuple(int(v) for v in self.design_k))
        if not self.design_k or min(self.design_k) <= 0:
            raise ValueError(f"design widths must be positive integers, got {self.design_k!r}")
        if not self.design_n or not self.design_d or min(self.design_n + self.design_d) <= 0:
            raise ValueError(f"design n and d must be positive integers, got {self.design_n!r}, {self.design_d!r}")
        if (self.vary in ("width", "joint")) != (not self.values):
            raise ValueError(
                "values are the n or d of vary = n | d, and only those"
                if self.values
                else f"vary = {self.vary} needs --values"
            )
        if self.values and min(self.values) <= 0:
            raise ValueError(f"values must be positive integers, got {self.values!r}")
        for name in ("n", "d", "seeds", "steps"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.steps > 2**31 - 1:  # the training loop counts in int32
            raise ValueError(f"steps must be at most {2**31 - 1:,}, got {self.steps!r}")
        if not self.widths or min(self.widths) <= 0:
            raise ValueError(f"widths must be positive integers, got {self.widths!r}")
        if self.regulariser not in REGULARISERS:
            raise ValueError(f"unknown regulariser {self.regulariser!r} (choose from {', '.join(REGULARISERS)})")
        if self.inputs not in INPUTS:
            raise ValueError(f"unknown inputs {self.inputs!r} (choose from {', '.join(INPUTS)})")
        if self.labels not in LABELS:
            raise ValueError(f"unknown labels {self.labels!r} (choose from {', '.join(LABELS)})")
        if not 0.0 <= self.flip <= 0.5:
            raise ValueError(f"flip must lie in [0, 0.5], got {self.flip!r}")
        sigma2 = noise_level(self.labels, self.flip)
        if not 0.0 < self.eps < sigma2:
            raise ValueError(f"eps must lie in (0, σ² = {sigma2:g}), got {self.eps!r}")
        if not 0.0 < self.delta < 1.0:
            raise ValueError(f"delta must lie in (0, 1), got {self.delta!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)) or not (self.penalty >= 0 and math.isfinite(self.penalty)):
            raise ValueError(f"lr must be positive and penalty non-negative, got {self.lr!r}, {self.penalty!r}")

    @property
    def noise_level(self) -> float:
        return noise_level(self.labels, self.flip)
