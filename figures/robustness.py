"""The law of robustness as what it is: a lower bound Lip ≳ C·√(nd/p), up to a constant.

Left: every network's Lipschitz bracket [lower, upper] against its √(nd/p), log-log, with the line
Lip = C·√(nd/p) at the fitted collapse constant C (the median of lower/√(nd/p) over the fits inside
the regime) and the data's floor as the constant it is (no fit below the noise level can be smoother).
Right: the collapse, Lip/√(nd/p) against p/(nd), with the regime's boundary: inside it the law's term
dominates and the points sit on C; beyond it they rise onto the O(1) plateau. Filled: inside the
regime (fitted); hollow: outside it (shown, not fitted). Theorem 3's certified bound, about 10³ below
the law at these sizes, is quoted in the title, not drawn.
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullFormatter

from . import NothingToDraw, style


def _brackets(ax, x, low, up, inside):
    ax.vlines(x, low, up, color=style.PALETTE[0], lw=0.8)
    for mask, fill, label in ((inside, None, "inside the regime (fitted)"), (~inside, "none", "outside (not fitted)")):
        if mask.any():
            ax.plot(x[mask], low[mask], "o", ms=2.5, color=style.PALETTE[0], mfc=fill, label=f"lower bound, {label}")
            ax.plot(x[mask], up[mask], "^", ms=2.5, color=style.PALETTE[1], mfc=fill, label=f"upper bound, {label}")


def draw(result):
    """result: a RobustnessResult."""
    s, fit = result.summary, result.slope
    fig, (ax_l, ax_r) = style.figure(style.FULL, 2.8, ncols=2)
    keep = np.asarray(s["fits_below_noise"], bool) & (np.asarray(s["bracket"]) == "ok")
    if not keep.any():
        raise NothingToDraw("no network fits the data below the noise level, and the law speaks only of those")
    law = np.asarray(s["law_scale"], float)[keep]
    low, up = np.asarray(s["lip_lower"], float)[keep], np.asarray(s["lip_upper"], float)[keep]
    inside = np.asarray(s["in_regime"], bool)[keep]
    ratio = np.asarray(s["p_over_nd"], float)[keep]
    c = fit["collapse_lower"]["median"]

    _brackets(ax_l, law, low, up, inside)
    grid = np.geomspace(law.min() / 1.3, law.max() * 1.3, 50)
    if np.isfinite(c):
        ax_l.loglog(grid, c * grid, "--", color="k", lw=0.8, label=f"Lip = {c:.2f}·√(nd/p) (fitted constant)")
    floor = float(np.median(s["floor"]))
    ax_l.axhline(floor, ls=":", color=style.PALETTE[3], lw=0.9, label=f"data floor {floor:.2f}: every fit lies above")
    ax_l.set_xscale("log")
    ax_l.set_yscale("log")
    ax_l.set_xlabel(r"$\sqrt{nd/p}$")
    ax_l.set_ylabel("Lipschitz constant (bracket)")
    ax_l.legend(fontsize=4.5, loc="upper left")

    _brackets(ax_r, ratio, low / law, up / law, inside)
    ax_r.axvline(fit["regime"], color="0.5", lw=0.8, ls="-.", label=f"regime boundary p/(nd) = {fit['regime']:g}")
    if np.isfinite(c):
        ax_r.axhline(c, ls="--", color="k", lw=0.8, label=f"collapse constant {c:.2f}")
    ax_r.set_xscale("log")
    ax_r.set_yscale("log")
    ax_r.set_xlabel(r"$p/(nd)$")
    ax_r.set_ylabel(r"Lip / $\sqrt{nd/p}$")
    handles, labels = ax_r.get_legend_handles_labels()
    keep_labels = [i for i, label in enumerate(labels) if not label.startswith(("lower", "upper"))]
    ax_r.legend([handles[i] for i in keep_labels], [labels[i] for i in keep_labels], fontsize=4.5, loc="upper left")

    for ax in (ax_l, ax_r):  # minor labels on a log axis collide ("3×10⁰4×10⁰"): majors only
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    certified = float(np.median(np.asarray(s["certified_bound"]) / np.asarray(s["law_scale"])))
    fig.suptitle(f"{_exponents(fit)}; Theorem 3's certified bound ≈ {certified:.1e} × √(nd/p) (not drawn)", fontsize=6)
    return fig


def _exponents(fit) -> str:
    if fit["axis"] == "joint":
        parts = [f"{a} {fit['lower'][a]['slope']:+.2f}±{fit['lower'][a]['stderr']:.2f}" for a in ("n", "d", "params")]
        return (
            "exponents of Lip (lower bound, inside the regime): "
            + ", ".join(parts).replace("params", "p")
            + (" (law: +0.5, +0.5, −0.5)")
        )
    axis = {"params": "p", "n": "n", "d": "d"}[fit["axis"]]
    low = fit["lower"]
    return f"exponent of Lip (lower bound) in {axis}: {low['slope']:+.2f}±{low['stderr']:.2f} (law {fit['law']:+.2f})"
