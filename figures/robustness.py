"""The law of robustness: Lipschitz brackets of trained networks against p, with √(nd/p)."""
from __future__ import annotations

import numpy as np

from . import style


def draw(result):
    """result: a RobustnessResult."""
    s, cfg = result.summary, result.config
    fig, ax = style.figure(style.COLUMN, 2.6)
    fits = s["fits_below_noise"]
    jitter = np.where(s["seed"] % 2 == 0, 1.0, 1.04) * (1 + 0.02 * s["seed"])
    p = s["params"] * jitter
    for mask, marker, label in ((fits, "o", "fits below noise"), (~fits, "x", "does not fit")):
        if mask.any():
            ax.vlines(p[mask], s["lip_lower"][mask], s["lip_upper"][mask], color=style.PALETTE[0], lw=1.0)
            ax.plot(p[mask], s["lip_lower"][mask], marker, color=style.PALETTE[0], ms=3,
                    label=f"bracket [lower, upper], {label}")
            ax.plot(p[mask], s["lip_upper"][mask], marker, color=style.PALETTE[0], ms=3, mfc="none")
    grid = np.geomspace(s["params"].min() * 0.8, s["params"].max() * 1.25, 50)
    ax.loglog(grid, np.sqrt(cfg.n * cfg.d / grid), "--", color="k", lw=0.8, label=r"$\sqrt{nd/p}$")
    order = np.argsort(s["params"])
    ax.loglog(s["params"][order], s["certified_bound"][order], ":", color=style.PALETTE[3],
              label="certified bound (Thm 3)")
    up, low = result.slope["upper"], result.slope["lower"]
    ax.plot([], [], " ", label=f"fitted slope: lower {low['slope']:+.2f}±{low['stderr']:.2f}, "
                               f"upper {up['slope']:+.2f}±{up['stderr']:.2f} (law −0.5)")
    ax.set_xlabel("parameters $p$")
    ax.set_ylabel(r"Lipschitz constant ($\ell_2$)")
    ax.legend(loc="lower left", fontsize=5.5)
    ax.set_title(f"n = {cfg.n}, d = {cfg.d}, ε = {cfg.eps:g}", fontsize=7)
    return fig
