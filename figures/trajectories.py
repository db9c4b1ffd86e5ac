"""Loss, bias and sharpness against steps, one η below and two above the transition, with 2/η."""

from __future__ import annotations

import numpy as np

from . import style


def draw(sweeps: dict):
    """sweeps: {"relu": SweepResult, "mean": SweepResult}, each with one seed and three step sizes."""
    fig, axes = style.figure(style.FULL, 4.0, nrows=2, ncols=3)
    for row, (name, sweep) in enumerate(sweeps.items()):
        tr, s = sweep.trajectories, sweep.summary
        eta_star = sweep.theory["threshold_lr"]["closed_form"]
        for i in np.argsort(s["lr"]):
            keep = tr["step"][i] >= 0
            steps, color = tr["step"][i][keep], style.PALETTE[int(np.argsort(np.argsort(s["lr"]))[i]) % 10]
            label = rf"$\eta = {s['lr'][i] / eta_star:.2g}\,\eta^*$"
            axes[row, 0].plot(steps, tr["loss"][i][keep], color=color, label=label)
            axes[row, 1].plot(steps, tr["threshold"][i][keep], color=color)
            axes[row, 2].plot(steps, tr["sharpness"][i][keep], color=color)
            axes[row, 2].axhline(2 / s["lr"][i], ls="--", lw=0.8, color=color)
        axes[row, 0].set_ylabel(f"{name}: training loss")
        axes[row, 1].set_ylabel("bias $b$")
        axes[row, 2].set_ylabel(r"sharpness $\lambda_{\max}$ (dashed: $2/\eta$)")
        axes[row, 2].set_yscale("log")
        for ax in axes[row]:
            ax.set_xscale("symlog", linthresh=10)
            ax.set_xlim(left=0)
            ax.set_xlabel("step")
        axes[row, 0].legend(loc="upper right")
    relu = sweeps["relu"]
    eta = relu.theory["threshold_lr"]["closed_form"]
    fig.suptitle(f"d = {relu.config.spec.d}; {style.prediction_label(relu)} = {eta:.4g}", fontsize=8)
    return fig
