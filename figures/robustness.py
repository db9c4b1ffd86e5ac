"""The law of robustness as what it is: a lower bound Lip ≳ C·√(nd/p), up to a constant.

Left: every network's Lipschitz bracket [lower, upper] against its √(nd/p), log-log, with the line
Lip = C·√(nd/p) at the fitted collapse constant C (the median of lower/√(nd/p) over the fits inside
the regime) and the data's floor as the constant it is (no fit below the noise level can be smoother).
Right: the collapse, Lip/√(nd/p) against p/(nd), with both of the regime's boundaries (p = n, at
p/(nd) = 1/d for each d, and p/(nd) = REGIME): inside them the law's term dominates and the points
sit on C; beyond them they rise onto the O(1) plateau. Filled: inside the regime (fitted); hollow:
outside it (shown, not fitted); grey crosses: networks that did not fit below the noise level (the law
says nothing of them). The title carries the exponents with their clustered errors; Theorem 3's
certified bound, about 10³ below the law at these sizes, is quoted, not drawn.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

from . import NothingToDraw, style

GREY = "0.6"


def _brackets(ax, x, low, up, inside):
    ax.vlines(x, low, up, color=style.PALETTE[0], lw=0.8)
    for mask, fill in ((inside, None), (~inside, "white")):
        if mask.any():
            ax.plot(x[mask], low[mask], "o", ms=3.2, color=style.PALETTE[0], mfc=fill, mew=0.7, ls="none")
            ax.plot(x[mask], up[mask], "^", ms=3.2, color=style.PALETTE[1], mfc=fill, mew=0.7, ls="none")


def _legend_handles(unfitted: bool) -> list:
    mark = lambda marker, color, fill, label: Line2D(
        [], [], marker=marker, color=color, mfc=fill, mew=0.7, ms=3.2, ls="none", label=label
    )
    out = [
        mark("o", style.PALETTE[0], style.PALETTE[0], "lower bound"),
        mark("^", style.PALETTE[1], style.PALETTE[1], "upper bound (certified)"),
        mark("o", "0.2", "0.2", "filled: inside the regime (fitted)"),
        mark("o", "0.2", "white", "hollow: outside it (shown, not fitted)"),
    ]
    if unfitted:
        out.append(mark("x", GREY, GREY, "did not fit below the noise level"))
    return out


def _log_ticks(axis) -> None:
    """A log axis labelled inside the data's range (a range within one decade gets no major tick),
    in plain numbers: the wider the range, the fewer labels per decade, so that none collide."""
    lo, hi = sorted(axis.get_view_interval())
    span = math.log10(hi / lo) if lo > 0 else math.inf
    subs = (1, 2, 3, 4, 5, 6, 8) if span < 0.8 else (1, 2, 3, 5) if span < 1.3 else (1, 2, 5) if span < 3 else (1,)
    axis.set_major_locator(LogLocator(subs=[float(v) for v in subs]))
    axis.set_major_formatter(FormatStrFormatter("%g"))
    axis.set_minor_formatter(NullFormatter())


def draw(result):
    """result: a RobustnessResult."""
    s, fit = result.summary, result.slope
    fig, (ax_l, ax_r) = style.figure(style.FULL, 3.0, ncols=2)
    ok = np.asarray(s["bracket"]) == "ok"
    fitted = np.asarray(s["fits_below_noise"], bool) & ok
    if not fitted.any():
        raise NothingToDraw("no network fits the data below the noise level, and the law speaks only of those")
    law_all = np.asarray(s["law_scale"], float)
    low_all, up_all = np.asarray(s["lip_lower"], float), np.asarray(s["lip_upper"], float)
    ratio_all = np.asarray(s["p_over_nd"], float)
    law, low, up = law_all[fitted], low_all[fitted], up_all[fitted]
    inside = np.asarray(s["in_regime"], bool)[fitted]
    ratio = ratio_all[fitted]
    unfitted = ~np.asarray(s["fits_below_noise"], bool) & ok
    c = fit["collapse_lower"]["median"]

    _brackets(ax_l, law, low, up, inside)
    ax_l.plot(law_all[unfitted], low_all[unfitted], "x", ms=3, color=GREY, mew=0.7, ls="none")
    grid = np.geomspace(law.min() / 1.3, law.max() * 1.3, 50)
    extra = []
    if np.isfinite(c):
        (line,) = ax_l.loglog(grid, c * grid, "--", color="k", lw=0.8, label=f"Lip = {c:.2f}·√(nd/p) (fitted constant)")
        extra.append(line)
    floor = float(np.median(s["floor"]))
    extra.append(ax_l.axhline(floor, ls=":", color=style.PALETTE[3], lw=0.9, label=f"data floor {floor:.2f}"))
    ax_l.set_xscale("log")
    ax_l.set_yscale("log")
    ax_l.set_xlabel(r"$\sqrt{nd/p}$")
    ax_l.set_ylabel("Lipschitz constant (bracket)")
    ax_l.legend(handles=_legend_handles(unfitted.any()) + extra, fontsize=4.5, loc="upper left")

    _brackets(ax_r, ratio, low / law, up / law, inside)
    ax_r.plot(ratio_all[unfitted], (low_all / law_all)[unfitted], "x", ms=3, color=GREY, mew=0.7, ls="none")
    bounds = [ax_r.axvline(fit["regime"], color="0.4", lw=0.8, ls="-.", label=f"p/(nd) = {fit['regime']:g}")]
    for i, d in enumerate(sorted({int(v) for v in np.asarray(s["d"])})):
        label = "p = n (at 1/d, each d)" if not i else None
        bounds.append(ax_r.axvline(1.0 / d, color="0.6", lw=0.7, ls=":", label=label))
    if np.isfinite(c):
        bounds.append(ax_r.axhline(c, ls="--", color="k", lw=0.8, label=f"collapse constant {c:.2f}"))
    ax_r.set_xscale("log")
    ax_r.set_yscale("log")
    ratios = np.concatenate([low / law, up / law])
    ax_r.set_ylim(ratios.min() / 1.25, ratios.max() * 1.25)
    ax_r.set_xlabel(r"$p/(nd)$")
    ax_r.set_ylabel(r"Lip / $\sqrt{nd/p}$")
    ax_r.legend(
        handles=[b for b in bounds if b.get_label() and not b.get_label().startswith("_")],
        fontsize=4.5,
        loc="upper left",
    )
    for axis in (ax_l.xaxis, ax_l.yaxis, ax_r.xaxis, ax_r.yaxis):
        _log_ticks(axis)
    certified = float(np.median(np.asarray(s["certified_bound"]) / np.asarray(s["law_scale"])))
    fig.suptitle(f"{title(fit)}\nTheorem 3's certified bound ≈ {certified:.1e} × √(nd/p) (not drawn)", fontsize=6)
    return fig


def _pm(entry: dict) -> str:
    err = f"±{entry['stderr']:.2f}" if math.isfinite(entry["stderr"]) else " (no error)"
    return f"{entry['slope']:+.2f}{err}"


def title(fit: dict) -> str:
    """The exponents of the lower bound with their clustered errors, or 'not fitted' where there are none."""
    where = f"inside the regime, ± clustered over {fit['clusters']} {fit['unit'].split()[0]}s"
    if fit["axis"] == "joint":
        if not math.isfinite(fit["lower"]["n"]["slope"]):
            return f"exponents of Lip: not fitted ({fit['rows']} fits inside the regime)"
        bs = ", ".join(f"{a} {_pm(fit['lower'][a])}" for a in ("n", "d", "params")).replace("params", "p")
        bln = ", ".join(f"{a} {_pm(fit['two_layer']['lower'][a])}" for a in ("n", "d", "width")).replace("width", "k")
        return f"exponents of Lip (lower bound, {where}): [BS] {bs} (law ½, ½, −½); [BLN] {bln} (law ½, 0, −½)"
    axis = {"params": "p", "n": "n", "d": "d"}[fit["axis"]]
    low = fit["lower"]
    if not math.isfinite(low["slope"]):
        return f"exponent of Lip in {axis}: not fitted ({low['points']} fits inside the regime)"
    return f"exponent of Lip (lower bound) in {axis}: {_pm(low)} ({where}; law {fit['law']:+.2f})"
