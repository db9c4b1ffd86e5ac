"""The law of robustness, normalised: Lip / √(nd/p) against p/(nd), so the law is the line y = 1.

Each network is a bracket [lower, upper] divided by its √(nd/p). The data's floor (the least
Lipschitz constant any fit below the noise level can have, robustness/floor.py) becomes the
rising curve floor·√(p/(nd)); the law's window n ≤ p ≤ nd with √(nd/p) above the floor is
shaded. Theorem 3's certified bound, about 10³ below the law at these sizes, is given as a
note rather than drawn, so it does not stretch the axis.
"""

from __future__ import annotations

import numpy as np

from . import style


def draw(result):
    """result: a RobustnessResult."""
    s, cfg = result.summary, result.config
    fig, ax = style.figure(style.COLUMN, 3.6)
    x = s["params"] / (s["n"] * s["d"])
    law = s["law_scale"]
    fits = s["fits_below_noise"]
    for mask, marker, label in ((fits, "o", "fits below noise"), (~fits, "x", "does not fit")):
        if mask.any():
            ax.vlines(
                x[mask], (s["lip_lower"] / law)[mask], (s["lip_upper"] / law)[mask], color=style.PALETTE[0], lw=1.0
            )
            ax.plot(
                x[mask],
                (s["lip_lower"] / law)[mask],
                marker,
                color=style.PALETTE[0],
                ms=3,
                label=f"Lip bracket / law, {label}",
            )
            ax.plot(x[mask], (s["lip_upper"] / law)[mask], marker, color=style.PALETTE[0], ms=3, mfc="none")
    grid = np.geomspace(x.min() / 1.5, max(x.max() * 1.5, 1.0), 100)
    floor = float(np.median(s["floor"]))
    ax.axhline(1.0, color="k", ls="--", lw=0.8, label=r"law: Lip $=\sqrt{nd/p}$")
    ax.loglog(grid, floor * np.sqrt(grid), ":", color=style.PALETTE[3], label=f"data floor {floor:.2f} (any fit)")
    inside = s["in_window"]
    if inside.any():
        ax.axvspan(
            x[inside].min(),
            x[inside].max(),
            color=style.PALETTE[2],
            alpha=0.12,
            lw=0,
            label="window used for the exponent",
        )
    ax.axvline(1.0, color="0.6", lw=0.6)
    ax.axvline(1.0 / cfg.d, color="0.6", lw=0.6)
    low, up = result.slope["lower"], result.slope["upper"]
    axis = {"params": "p", "n": "n", "d": "d"}[result.slope["axis"]]
    ax.text(
        0.03,
        0.04,
        f"exponent in {axis} (window): lower {low['slope']:+.2f}±{low['stderr']:.2f},\n"
        f"upper {up['slope']:+.2f}±{up['stderr']:.2f}; the law {result.slope['law']:+.2f}",
        transform=ax.transAxes,
        fontsize=5.5,
    )
    ax.set_xlabel(r"$p / (nd)$   (grey lines: p = n and p = nd)")
    ax.set_ylabel(r"Lipschitz constant / $\sqrt{nd/p}$")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=5.5, ncol=1)
    ratio = float(np.median(s["certified_bound"] / law))
    ax.set_title(
        f"n = {cfg.n}, d = {cfg.d}, ε = {cfg.eps:g}\nTheorem 3's certified bound ≈ {ratio:.1e} × law (not drawn)",
        fontsize=6.5,
    )
    return fig
