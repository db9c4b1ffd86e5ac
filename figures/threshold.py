"""Figure 1 of [AB] reproduced: final bias and test accuracy against η, the predicted η* and the located one."""

from __future__ import annotations

import numpy as np

from . import style


def per_lr(summary: dict, column: str):
    """(η, median, first quartile, third quartile) over seeds for the grid rows of a sweep summary: the
    statistic of the overview and of the report's table."""
    grid = summary["round"] == 0
    lrs = np.unique(summary["lr"][grid])
    q = np.array([np.percentile(summary[column][grid & (summary["lr"] == x)], [50, 25, 75]) for x in lrs])
    return lrs, q[:, 0], q[:, 1], q[:, 2]


def draw(sweep):
    """sweep: a relu SweepResult (d, n, λ as in [AB], T·η fixed)."""
    fig, (ax_b, ax_a) = style.figure(style.FULL, 2.4, ncols=2)
    theory_lr = sweep.theory["threshold_lr"]["closed_form"]
    # Drawn as located only where the run's own verdict locates a transition (a crossover or a
    # too-coarse estimate is no η*); the verdict is printed in the title.
    t = sweep.transition
    located = t["estimate"]["value"] if t["verdict"] == "sharp" else float("nan")
    for ax, column, label in ((ax_b, "final_bias", "final bias $b$"), (ax_a, "test_acc", "test accuracy")):
        lrs, med, lo, hi = per_lr(sweep.summary, column)
        ax.fill_between(lrs, lo, hi, alpha=0.3, lw=0, color=style.PALETTE[0], label="quartiles over seeds")
        ax.plot(lrs, med, "o-", color=style.PALETTE[0], label="median over seeds")
        ax.axvline(theory_lr, ls="--", color="k", lw=0.8, label=style.prediction_label(sweep))
        if np.isfinite(located):
            ax.axvline(located, ls=":", color=style.PALETTE[3], lw=1.2, label=r"located $\eta^*$")
        ax.set_xlabel(r"step size $\eta$")
        ax.set_ylabel(label)
    ax_a.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    ax_a.legend(loc="lower right")  # the accuracy curve leaves that corner empty
    inset = ax_b.inset_axes([0.5, 0.5, 0.47, 0.45])
    lrs, med, lo, hi = per_lr(sweep.summary, "final_bias")
    near = (lrs > 0.2 * theory_lr) & (lrs < 3 * theory_lr)
    inset.fill_between(lrs[near], lo[near], hi[near], alpha=0.3, lw=0, color=style.PALETTE[0])
    inset.plot(lrs[near], med[near], "o-", ms=2, color=style.PALETTE[0])
    inset.axvline(theory_lr, ls="--", color="k", lw=0.6)
    if np.isfinite(located):
        inset.axvline(located, ls=":", color=style.PALETTE[3], lw=0.8)
    inset.tick_params(labelsize=5)
    inset.text(0.97, 0.92, "near the transition", transform=inset.transAxes, ha="right", va="top", fontsize=5)
    spec = sweep.config.spec
    fig.suptitle(
        f"relu network, d = {spec.d}, n = {spec.n}, λ = {spec.lam:g}, T·η = {sweep.config.time:g}, "
        f"{sweep.config.seeds} seeds; verdict: {t['verdict']}",
        fontsize=8,
    )
    return fig
