"""The map of `eos map`: one cell per setting, coloured by its verdict, annotated with what it rests on.

The x axis is the map's first axis with the most values; every setting of the other axes is a row.
Each cell shows the kink's slope ratio with its 95 % interval over seeds, the share of the move that
gradient flow already makes, and the located η* over the model's prediction where there is one.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from . import style

COLOURS = {
    "sharp": "#1b7837",
    "undecided": "#f4c542",
    "premise_fails": "#9970ab",
    "crossover": "#b2182b",
    "too_coarse": "#bbbbbb",
    "below_grid": "#dddddd",
    "above_grid": "#dddddd",
    "no_change": "#dddddd",
}


def _cell_text(r: dict) -> str:
    lines = []
    if math.isfinite(r["sharpness"]):
        interval = f" [{r['sharpness_lo']:.3g}–{r['sharpness_hi']:.3g}]" if math.isfinite(r["sharpness_lo"]) else ""
        lines.append(f"×{r['sharpness']:.3g}{interval}")
    if math.isfinite(r["flow_level"]):
        lines.append(f"flow {r['flow_level']:.2f}")
    if math.isfinite(r["eta_star_over_prediction"]) and r["verdict"] == "sharp":
        lines.append(f"η*/pred {r['eta_star_over_prediction']:.2f}")
    return "\n".join(lines)


def draw(result):
    """result: a verdict_map.MapResult."""
    from eos.dynamics.verdict_map import SYMBOLS

    axes = result.config.axes
    x_axis, x_values = max(axes, key=lambda a: len(a[1]))
    others = [name for name, _ in axes if name != x_axis]
    settings = sorted({tuple(r[n] for n in others) for r in result.rows})
    verdicts = list(COLOURS)
    image = np.full((len(settings), len(x_values)), np.nan)
    fig, ax = style.figure(style.FULL, 0.6 + 0.55 * len(settings))
    for r in result.rows:
        i, j = settings.index(tuple(r[n] for n in others)), list(x_values).index(r[x_axis])
        image[i, j] = verdicts.index(r["verdict"])
        ax.text(j, i, _cell_text(r), ha="center", va="center", fontsize=4.5)
    ax.imshow(image, cmap=ListedColormap(list(COLOURS.values())), vmin=-0.5, vmax=len(verdicts) - 0.5, aspect="auto")
    ax.set_xticks(range(len(x_values)), [f"{v:g}" for v in x_values])
    ax.set_xlabel(SYMBOLS[x_axis])
    labels = [", ".join(f"{SYMBOLS[n]} = {v:g}" for n, v in zip(others, s)) for s in settings]
    ax.set_yticks(range(len(settings)), labels if others else [""])
    ax.tick_params(length=0)
    seen = [v for v in verdicts if v in {r["verdict"] for r in result.rows}]
    ax.legend(
        handles=[Patch(color=COLOURS[v], label=v) for v in seen],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=5,
        frameon=False,
    )
    base = result.config.base
    lo, hi, count = result.config.grid
    ax.set_title(
        f"{base.spec.model}: verdict per cell ({base.seeds} seeds; grid {lo:g}–{hi:g} × predicted η*, {count} points)\n"
        "×: slope ratio at the kink [95 % over seeds]; flow: gradient flow's own move over the threshold scale",
        fontsize=6,
    )
    return fig
