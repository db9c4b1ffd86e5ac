"""GD on ℓ(xy): paths in the (x, y) plane above the transition, and the final sharpness gap."""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from . import style


def draw(paths, gaps: dict):
    """paths: SweepResult of the product model from several starts at one η above η* (one run each,
    as a list); gaps: {loss: SweepResult over η above η*}."""
    fig, (ax_p, ax_g) = style.figure(style.FULL, 2.6, ncols=2)
    for k, sweep in enumerate(paths):
        xy = sweep.trajectories["trace"][0]
        keep = sweep.trajectories["step"][0] >= 0
        ax_p.plot(xy[keep, 0], xy[keep, 1], "-", lw=0.6, color=style.PALETTE[k % 10], alpha=0.8)
        ax_p.plot(xy[0, 0], xy[0, 1], "o", color=style.PALETTE[k % 10])
    eta = paths[0].summary["lr"][0]
    kappa = paths[0].theory["loss"]["curvature"]
    y_end = np.sqrt(2 / (kappa * eta))
    ax_p.axhline(y_end, ls="--", color="k", lw=0.8, label=r"$\ell''(0)\,y^2 = 2/\eta$")
    ax_p.set_xlabel("$x$")
    ax_p.set_ylabel("$y$")
    ax_p.legend(loc="upper right")
    ax_p.set_title(rf"{paths[0].config.spec.loss}, $\eta$ = {eta:.3g}: starts (dots) to one end point")
    handles = []
    for k, (loss, sweep) in enumerate(gaps.items()):
        s = sweep.summary
        above = s["lr"] > 1.05 * sweep.theory["threshold_lr"]["closed_form"]
        lr = s["lr"][above]
        ax_g.loglog(lr, 2 / lr - s["final_sharpness"][above], "o", color=style.PALETTE[k])
        ax_g.loglog(lr, 2 / lr - s["theory_final_sharpness"][above], "-", color=style.PALETTE[k], lw=0.8)
        handles.append(Line2D([], [], color=style.PALETTE[k], marker="o", lw=0.8, label=loss))
    ax_g.xaxis.set_minor_formatter(NullFormatter())
    ax_g.yaxis.set_minor_formatter(NullFormatter())
    ax_g.set_xlabel(r"step size $\eta$")
    ax_g.set_ylabel(r"gap $2/\eta - \ell''(0)\,y_\infty^2$")
    low, high = ax_g.get_ylim()
    ax_g.set_ylim(low, high * 3)  # headroom: the legend sits above the data
    ax_g.legend(
        handles=handles,
        loc="upper left",
        fontsize=6,
        title=r"dots: measured; lines: $\kappa^2\eta/(2c)$ (slope 1)",
        title_fontsize=6,
    )
    return fig
