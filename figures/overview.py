"""The picture every sweep writes beside its files: what it measured against η, and what it concluded.

Panels: the final threshold variable, the test accuracy (where the model has one) and the level
the sharpness held (sharpness·η/2 ≈ 1 is the edge of stability), each per seed and as the median.
The model's predictions are drawn as predictions (dashed: the closed form; dotted: gradient flow),
and the sweep's verdict as what it is: only `sharp` draws a located η* (with its interval over seeds);
the kink of the other verdicts that have one is shaded and labelled as what it is.
"""

from __future__ import annotations

import numpy as np

from . import style


def _median_by_lr(lrs, values):
    grid = np.unique(lrs)
    return grid, np.array(
        [np.nanmedian(values[lrs == x]) if np.isfinite(values[lrs == x]).any() else np.nan for x in grid]
    )


def draw(sweep):
    """sweep: any SweepResult."""
    from eos.dynamics.model import make_model

    s, t = sweep.summary, sweep.transition
    model = make_model(sweep.config.spec)
    panels = [("final_threshold", f"final {model.symbol}"), ("edge_ratio", "held sharpness·η/2")]
    if "test_acc" in s:
        panels.insert(1, ("test_acc", "test accuracy"))
    fig, axes = style.figure(style.FULL, 2.3, ncols=len(panels))
    ok = np.asarray(s["status"]) != "diverged"
    lrs = np.asarray(s["lr"], float)
    th = sweep.theory["threshold_lr"]
    for ax, (column, label) in zip(axes, panels):
        values = np.where(ok, np.asarray(s[column], float), np.nan)
        for seed in np.unique(s["seed"]):
            rows = np.asarray(s["seed"]) == seed
            order = np.argsort(lrs[rows])
            ax.plot(lrs[rows][order], values[rows][order], ".", ms=2, alpha=0.5, color=style.PALETTE[0])
        grid, med = _median_by_lr(lrs, values)
        ax.plot(grid, med, "-", lw=1.2, color=style.PALETTE[0], label="median over seeds")
        if "closed_form" in th:
            formula = model.theory.formula.replace("ℓ", r"$\ell$")  # the serif font has no ℓ glyph
            ax.axvline(th["closed_form"], ls="--", color="k", lw=0.8, label=f"predicted: {formula}")
        if "gradient_flow" in th and np.isfinite(th["gradient_flow"]["median"]):
            ax.axvline(th["gradient_flow"]["median"], ls=":", color="k", lw=0.8, label="predicted: 2/max λ (flow)")
        _draw_verdict(ax, t)
        if column == "edge_ratio":
            ax.axhspan(0.85, 1.1, color=style.PALETTE[2], alpha=0.15, lw=0, label="edge-of-stability band")
        ax.set_xlabel(r"step size $\eta$")
        ax.set_ylabel(label)
    axes[-1].legend(loc="best", fontsize=5)
    spec = sweep.config.spec
    sizes = f", d = {spec.d}, n = {spec.n}" if "test_acc" in s else ""  # the data's sizes, where there are data
    fig.suptitle(f"{spec.model}{sizes}: verdict {t['verdict']} — {t['reason']}", fontsize=6)
    return fig


NOT_LOCATED = {
    "crossover": "bend of a crossover (not a transition)",
    "too_coarse": "kink, grid too coarse",
    "premise_fails": "kink that gradient flow already makes",
    "undecided": "kink, verdict undecided",
}


def _draw_verdict(ax, t):
    """A located η* with its interval over seeds for `sharp`; the bracket of the kink, shaded and named
    for what it is, for the verdicts that do not locate a transition."""
    est = t["estimate"]
    if not np.isfinite(est["value"]):
        return
    if t["verdict"] == "sharp":
        ax.axvline(est["value"], color=style.PALETTE[3], lw=1.2, label=r"located $\eta^*$ (sharp)")
        if est["lo"] is not None:
            ax.axvspan(est["lo"], max(est["hi"], est["lo"] * 1.002), color=style.PALETTE[3], alpha=0.15, lw=0)
    elif t["verdict"] in NOT_LOCATED:
        lo, hi = est["bracket"]
        ax.axvspan(lo, hi if hi > lo else lo * 1.01, color="0.6", alpha=0.3, lw=0, label=NOT_LOCATED[t["verdict"]])
