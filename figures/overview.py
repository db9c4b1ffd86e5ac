"""The picture every sweep writes beside its files: what it measured against η, and what it concluded.

Panels: the final threshold variable, the test accuracy (where the model has one) and the level
the sharpness held (sharpness·η/2 ≈ 1 is the edge of stability), each per seed and as the median
with its quartiles (dead and diverged seeds left out of both, and of the y-range; dead seeds are
marked). The x axis is logarithmic where the grid is geometric (--log).
The model's predictions are drawn as predictions (dashed: the closed form; dotted: gradient flow),
and the sweep's verdict as what it is: only `sharp` draws a located η* (with its interval over seeds);
the kink of the other verdicts that have one is shaded and labelled as what it is.
"""

from __future__ import annotations

import textwrap

import numpy as np

from . import style


def _by_lr(lrs, values):
    """The grid, and per step size the median and quartiles over seeds (NaN where no seed has a value)."""
    grid = np.unique(lrs)
    stats = []
    for x in grid:
        v = values[lrs == x]
        v = v[np.isfinite(v)]
        stats.append(np.percentile(v, [25, 50, 75]) if len(v) else [np.nan] * 3)
    return grid, np.array(stats).T


def geometric(grid) -> bool:
    """A grid spaced evenly in log η (what --log and a relative grid over decades give)."""
    grid = np.unique(np.asarray(grid, float))
    if len(grid) < 3 or grid[0] <= 0:
        return False
    logs, steps = np.diff(np.log(grid)), np.diff(grid)
    return bool(np.std(logs) < 0.05 * np.mean(logs) < np.inf and np.std(steps) > 0.05 * np.mean(steps))


def _y_range(values):
    """Limits from the bulk of the values (2nd to 98th percentile, padded): one dead or runaway seed
    does not set the scale; the points beyond are drawn at the edge, marked."""
    v = values[np.isfinite(values)]
    if not len(v):
        return None
    lo, hi = np.percentile(v, [2, 98])
    pad = 0.1 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
    return lo - pad, hi + pad


def draw(sweep):
    """sweep: any SweepResult."""
    from eos.dynamics.regime import EOS_HIGH, EOS_LOW
    from eos.dynamics.sweep import model_facts

    s, t = sweep.summary, sweep.transition
    model = model_facts(sweep)
    panels = [("final_threshold", f"final {model['symbol']}"), ("edge_ratio", "held sharpness·η/2")]
    if "test_acc" in s:
        panels.insert(1, ("test_acc", "test accuracy"))
    fig, axes = style.figure(style.FULL, 2.6, ncols=len(panels))
    dead = np.asarray(s["dead"], bool) if "dead" in s else np.zeros(len(s["lr"]), bool)
    ok = (np.asarray(s["status"]) != "diverged") & ~dead
    lrs = np.asarray(s["lr"], float)
    log = geometric(lrs[np.asarray(s["round"]) == 0] if "round" in s else lrs)
    th = sweep.theory["threshold_lr"]
    for ax, (column, label) in zip(axes, panels):
        raw = np.asarray(s[column], float)
        values = np.where(ok, raw, np.nan)
        ax.plot(lrs, values, ".", ms=2, alpha=0.5, color=style.PALETTE[0], label="each seed")
        grid, (q1, med, q3) = _by_lr(lrs, values)
        ax.fill_between(grid, q1, q3, color=style.PALETTE[0], alpha=0.2, lw=0, label="quartiles over seeds")
        ax.plot(grid, med, "-", lw=1.2, color=style.PALETTE[0], label="median over seeds (dead, diverged left out)")
        limits = _y_range(np.concatenate([values, q1, q3]))
        if limits is not None:
            ax.set_ylim(*limits)
            out = dead & np.isfinite(raw)
            if out.any():  # dead seeds at their value, or at the panel's edge when beyond it
                ax.plot(lrs[out], np.clip(raw[out], *limits), "x", ms=3, color="0.5", label="dead seed (clipped)")
        if "closed_form" in th:
            ax.axvline(th["closed_form"], ls="--", color="k", lw=0.8, label=style.prediction_label(sweep))
        if "gradient_flow" in th and np.isfinite(th["gradient_flow"]["median"]):
            ax.axvline(
                th["gradient_flow"]["median"], ls=":", color=style.PALETTE[4], lw=1.4, label="predicted: 2/max λ (flow)"
            )
        _draw_verdict(ax, t)
        if column == "edge_ratio":
            ax.axhspan(EOS_LOW, EOS_HIGH, color=style.PALETTE[2], alpha=0.15, lw=0, label="edge-of-stability band")
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(r"step size $\eta$")
        ax.set_ylabel(label)
    handles = {}
    for ax in axes:  # one legend for all panels, below them: off the data
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=4, fontsize=5, frameon=False)
    spec = sweep.config.spec
    sizes = f", d = {spec.d}, n = {spec.n}" if "test_acc" in s else ""  # the data's sizes, where there are data
    reason = textwrap.fill(t["reason"], 160)  # a title a reader takes in: the verdict first, its reason below
    fig.suptitle(f"{spec.model}{sizes}: verdict {t['verdict']}\n{reason}", fontsize=6)
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
