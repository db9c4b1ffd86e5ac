"""Tightness of the Lipschitz bracket: each certificate divided by the best lower bound, per width."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullFormatter

from . import style


def draw(result):
    s = result.summary
    fig, ax = style.figure(style.COLUMN, 2.4)
    widths = np.unique(s["width"])
    for k, (column, label) in enumerate(
        (("lip_spectral", r"$\|a\|\,\|W\|_{op}$"), ("lip_path", "path norm"), ("lip_sdp", "LipSDP-Neuron"))
    ):
        ratio = s[column] / s["lip_lower"]
        med = [
            np.nanmedian(ratio[s["width"] == w]) if np.isfinite(ratio[s["width"] == w]).any() else np.nan
            for w in widths
        ]
        ax.loglog(widths, med, "o-", color=style.PALETTE[k], label=label)
    ax.axhline(1.0, color="k", lw=0.6)
    ax.set_xlabel("width $k$")
    ax.set_ylabel("upper / lower (median over seeds)")
    ax.legend(loc="upper left")
    ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels on a log axis collide
    return fig
