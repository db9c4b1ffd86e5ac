"""Which runs each figure reads, at full (the papers' settings) and quick sizes, and how it draws.

Configs are data; running them is the caller's business (`eos figures` runs what is missing
through the public APIs), so nothing here trains.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from eos.dynamics import SweepConfig
from eos.dynamics.models import ModelSpec
from eos.dynamics.registry import predicted_lr
from eos.robustness.experiment import RobustnessConfig

from . import NAMES, bracket, phase, product, robustness, threshold, trajectories


class Figure(NamedTuple):
    runs: Callable[[bool], dict]  # quick -> {run name: SweepConfig | RobustnessConfig}
    draw: Callable[[dict], object]  # {run name: result} -> matplotlib Figure
    caption: str
    # For a figure of one run: which other results it can be drawn from (`eos figures NAME --from DIR`
    # takes any run directory of the right kind, found by its contents, not its folder name).
    stands_in: Callable[[object], bool] | None = None


def _relu_sweep(result) -> bool:
    return getattr(result.config, "spec", None) is not None and result.config.spec.model == "relu"


def _robustness_run(result) -> bool:
    return isinstance(result.config, RobustnessConfig)


PAPER = ModelSpec(model="relu", d=200, n=300, lam=3.0, sigma=1.0)


def _threshold(quick):
    # the preview on the default relative grid (24 of its points): enough on both sides of η* for a
    # verdict (sharp, 119× with 2 seeds), where 16 linear points up to 0.012 left one below it
    lrs = predicted_lr(PAPER) * np.linspace(0.2, 5.0, 24) if quick else np.linspace(1e-4, 0.012, 48)
    return {
        "threshold": SweepConfig(
            spec=PAPER, lrs=tuple(lrs), seeds=2 if quick else 3, time=10.0, refine=0 if quick else 2
        )
    }


def _trajectories(quick):
    eta = 8 * math.pi / PAPER.d**2
    lrs = tuple(eta * np.array([0.5, 2.0, 5.0]))
    return {
        f"trajectories-{m}": SweepConfig(
            spec=ModelSpec(model=m, d=PAPER.d, n=PAPER.n, lam=PAPER.lam), lrs=lrs, seeds=1, time=10.0, engine=_stride(3)
        )
        for m in ("relu", "mean")
    }


# Every start has 2/(y₀² − x₀²) well below η = 0.15, so all of them are above their transition.
PRODUCT_STARTS = ((1.0, 5.0), (3.0, 5.5), (0.2, 7.0), (2.5, 5.0), (-1.5, 6.0))


def _product(quick):
    runs = {
        f"product-path-{i}": SweepConfig(
            spec=ModelSpec(model="product", loss="logcosh", x0=x, y0=y),
            lrs=(0.15,),
            seeds=1,
            steps=400,
            engine=_stride(1),
        )
        for i, (x, y) in enumerate(PRODUCT_STARTS)
    }
    for loss, kappa in (("logcosh", 1.0), ("sqrt", 1.0), ("logistic", 0.25)):
        eta = 2 / (kappa * (64 - 1))
        lrs = eta * np.geomspace(1.2, 6.0, 8 if quick else 16)
        runs[f"product-gap-{loss}"] = SweepConfig(
            spec=ModelSpec(model="product", loss=loss, x0=1.0, y0=8.0), lrs=tuple(lrs), seeds=1, steps=3000, x64=True
        )
    return runs


def _stride(k: int):
    from eos.dynamics.engine import EngineConfig

    return EngineConfig(stride=k)


PHASE_RATIOS = (0.3, 3.0)


def _phase(quick):
    ds = (25, 50, 100, 200) if quick else (25, 50, 100, 200, 400)
    ratios = np.geomspace(*PHASE_RATIOS, 10 if quick else 24)
    return {
        f"phase-d{d}": SweepConfig(
            spec=ModelSpec(model="relu", d=d, n=300, lam=3.0),
            lrs=tuple(8 * math.pi / d**2 * ratios),
            seeds=1 if quick else 3,
            time=10.0,
            refine=0 if quick else 1,
        )
        for d in ds
    }


def _robustness(quick):
    cfg = (
        # the smallest design with a fit: six datasets inside the regime n ≤ p ≤ 0.035·nd (d ≥ 100)
        RobustnessConfig(design_n=(100, 200, 400), design_d=(100, 200), design_k=(2, 4, 8), seeds=2, steps=500)
        if quick
        else RobustnessConfig()
    )
    return {"robustness": cfg}


# In the order of NAMES (eos.figures), the one list of the names.
FIGURES: dict[str, Figure] = dict(
    zip(
        NAMES,
        (
            Figure(  # threshold
                _threshold,
                lambda r: threshold.draw(r["threshold"]),
                "Final bias and test accuracy against the step size (Fig. 1 of Ahn et al.).",
                _relu_sweep,
            ),
            Figure(  # trajectories
                _trajectories,
                lambda r: trajectories.draw({"relu": r["trajectories-relu"], "mean": r["trajectories-mean"]}),
                "Loss, bias and sharpness along training, below and above the transition.",
            ),
            Figure(  # product
                _product,
                lambda r: product.draw(
                    [r[k] for k in sorted(r) if k.startswith("product-path")],
                    {k.removeprefix("product-gap-"): r[k] for k in sorted(r) if k.startswith("product-gap")},
                ),
                "GD on ℓ(xy): paths from several starts, and the final sharpness gap against η.",
            ),
            Figure(  # phase
                _phase,
                lambda r: phase.draw({int(k.removeprefix("phase-d")): v for k, v in r.items()}),
                "Located η* against d, and final bias over (η/η*, d).",
            ),
            Figure(  # robustness
                _robustness,
                lambda r: robustness.draw(r["robustness"]),
                "Lipschitz brackets over √(nd/p) against p/(nd): the law, the data floor and the window.",
                _robustness_run,
            ),
            Figure(  # bracket
                _robustness,
                lambda r: bracket.draw(r["robustness"]),
                "Upper/lower ratio of the Lipschitz bracket per certificate, against width.",
                _robustness_run,
            ),
        ),
        strict=True,
    )
)
