"""Peak memory against the feasibility estimate, three sizes per command, side by side.

Each run is a fresh `eos` process; its peak resident set comes from wait4. A process's peak
includes what every run holds whatever its size (the interpreter, JAX, compiled programs), so
the table compares growth: measured peak minus the smallest size's peak, against the estimate
minus the smallest size's estimate. An estimate that is an upper bound and not a wild one has
a ratio (measured growth / estimated growth) between about 0.3 and 1.

    python benchmarks/memory.py            # all four commands (about 5 minutes on 2 cores)
    python benchmarks/memory.py sweep      # one of them
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.io import savemat

ROOT = Path(__file__).resolve().parents[1]
MB = 1e6


def peak_rss(args: list[str], cwd: Path) -> float:
    """Peak resident set (bytes) of `eos ARGS`, run to the end."""
    env = dict(os.environ, EOS_COMPILATION_CACHE="", JAX_PLATFORMS="cpu")
    proc = subprocess.Popen(
        [sys.executable, "-m", "eos", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"eos {' '.join(args)} failed: {err[-500:]}")
    return usage.ru_maxrss * 1024


def sweep_sizes():
    from eos.dynamics.config import ModelSpec, SweepConfig
    from eos.dynamics.sweep import footprint

    for count, seeds in ((50, 10), (200, 25), (400, 50)):
        args = ["--model", "mean", "--lr", f"0.1:2:{count}", "--seeds", str(seeds), "--steps", "100", "--no-flow"]
        config = SweepConfig(
            ModelSpec("mean"), lrs=tuple(np.linspace(0.1, 2, count)), seeds=seeds, steps=100, flow=False
        )
        yield f"{count} × {seeds} members", ["sweep", *args], footprint(config)


def robustness_sizes():
    from eos.robustness.config import RobustnessConfig
    from eos.robustness.experiment import footprint

    for n, d in ((200, 100), (1000, 500), (2000, 1000)):
        args = ["--vary", "width", "--n", str(n), "--d", str(d), "--widths", "4", "--seeds", "2", "--steps", "50"]
        config = RobustnessConfig(vary="width", n=n, d=d, widths=(4,), seeds=2, steps=50)
        yield f"n {n}, d {d}", ["robustness", *args], footprint(config)


def lipschitz_sizes(tmp: Path):
    from eos.robustness.upper_bounds import lmi_footprint

    rng = np.random.default_rng(0)
    for width in (20, 60, 120):
        w = [
            rng.standard_normal((width, 50)) / 7,
            rng.standard_normal((width, width)) / 7,
            rng.standard_normal((1, width)),
        ]
        path = tmp / f"net{width}.mat"
        savemat(path, {"weights": np.array(w, dtype=object)})
        yield f"2 × {width} hidden", ["lipschitz", str(path)], lmi_footprint(w)


def figures_sizes():
    from eos.figures.runs import footprint as figure_footprint

    for names in (["bracket"], ["threshold"], ["robustness"]):
        yield (
            f"{names[0]} --quick",
            ["figures", *names, "--quick", "--out", "f-" + names[0]],
            figure_footprint(names, True),
        )


COMMANDS = {
    "sweep": sweep_sizes,
    "robustness": robustness_sizes,
    "lipschitz": lipschitz_sizes,
    "figures": figures_sizes,
}


def main(names: list[str]) -> None:
    print(f"{'command':<11} {'size':<22} {'estimate':>10} {'peak':>9} {'Δ estimate':>11} {'Δ peak':>9} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in names or list(COMMANDS):
            sizes = COMMANDS[name](tmp) if name == "lipschitz" else COMMANDS[name]()
            first = None
            for i, (label, args, estimate) in enumerate(sizes):
                if name in ("sweep", "robustness"):
                    args = [*args, "--out", f"run-{name}-{i}"]
                total, peak = sum(estimate.values()), peak_rss(args, tmp)
                first = first or (total, peak)
                growth = (total - first[0], peak - first[1])
                ratio = f"{growth[1] / growth[0]:6.2f}" if growth[0] > 0 else "     -"
                print(
                    f"{name:<11} {label:<22} {total / MB:>8.0f}MB {peak / MB:>7.0f}MB {growth[0] / MB:>9.0f}MB "
                    f"{growth[1] / MB:>7.0f}MB {ratio}",
                    flush=True,
                )


if __name__ == "__main__":
    main(sys.argv[1:])
