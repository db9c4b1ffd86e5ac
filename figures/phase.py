"""Phase diagram: located η* against d beside each run's predicted η*, and final bias over (η/η*_predicted, d)."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullFormatter

from . import style


def draw(sweeps: dict):
    """sweeps: {d: SweepResult of the relu model with a grid of η/η*_theory shared across d}."""
    fig, (ax_l, ax_h) = style.figure(style.FULL, 2.6, ncols=2)
    ds = np.array(sorted(sweeps))
    # Only a sweep whose verdict is `sharp` has a located η*; the others are left out of the markers.
    sharp = [sweeps[d].transition["verdict"] == "sharp" for d in ds]
    est = [sweeps[d].transition["estimate"] for d in ds]
    med = np.array([e["value"] if ok else np.nan for e, ok in zip(est, sharp)])
    lo = np.array([e["lo"] if ok and e["lo"] is not None else np.nan for e, ok in zip(est, sharp)])
    hi = np.array([e["hi"] if ok and e["hi"] is not None else np.nan for e, ok in zip(est, sharp)])
    ax_l.errorbar(
        ds,
        med,
        yerr=[med - lo, hi - med],
        fmt="o",
        color=style.PALETTE[0],
        label=r"located $\eta^*$ (95 % interval over seeds)",
    )
    predicted = np.array([sweeps[d].theory["threshold_lr"]["closed_form"] for d in ds])  # each run's own, σ and all
    ax_l.loglog(ds, predicted, "--", color="k", lw=0.8, label=style.prediction_label(sweeps[ds[0]]))
    for ax in (ax_l, ax_h):
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax_l.set_xticks(ds, [str(d) for d in ds])  # the design's own d, not one decade label
    ax_l.set_xlabel("dimension $d$")
    ax_l.set_ylabel(r"critical step size $\eta^*$")
    ax_l.legend(loc="upper right", frameon=True)  # framed: its marker must not read as a data point
    others = [f"d = {d}: {sweeps[d].transition['verdict']}" for d, ok in zip(ds, sharp) if not ok]
    if others:  # no located η* to draw: say what the sweep concluded instead
        ax_l.text(
            0.03,
            0.04,
            "no sharp transition, so no η*:\n" + "\n".join(others),
            transform=ax_l.transAxes,
            fontsize=5.5,
            va="bottom",
        )
    ratios = None
    rows = []
    for d in ds:
        s = sweeps[d].summary
        grid_rows = s["round"] == 0
        r = s["lr"][grid_rows] / sweeps[d].theory["threshold_lr"]["closed_form"]
        uniq = np.unique(np.round(r, 6))
        ratios = uniq if ratios is None else ratios
        rows.append([np.median(s["final_bias"][grid_rows][np.isclose(r, u, rtol=1e-5)]) for u in uniq])
    image = np.array(rows)
    mesh = ax_h.pcolormesh(_edges(ratios), _edges(ds.astype(float)), image, cmap="viridis", shading="flat")
    ax_h.set_xscale("log")
    ax_h.set_yscale("log")
    ax_h.xaxis.set_minor_formatter(NullFormatter())
    ax_h.yaxis.set_minor_formatter(NullFormatter())
    ax_h.set_yticks(ds, [str(d) for d in ds])
    ticks = [t for t in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0) if ratios.min() <= t <= ratios.max()]
    ax_h.set_xticks(ticks, [f"{t:g}" for t in ticks])  # plain ratios, not one decade label
    ax_h.axvline(1.0, ls="--", color="w", lw=0.8)
    ax_h.set_xlabel(r"$\eta\,/$ predicted $\eta^*$")
    ax_h.set_ylabel("dimension $d$")
    fig.colorbar(mesh, ax=ax_h, label="final bias $b$ (median over seeds)")
    return fig


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges for a log-spaced axis: geometric midpoints, extended at both ends."""
    logc = np.log(centres)
    mids = (logc[1:] + logc[:-1]) / 2
    step = np.diff(logc).mean() if len(logc) > 1 else 0.5
    return np.exp(np.concatenate([[logc[0] - step / 2], mids, [logc[-1] + step / 2]]))
