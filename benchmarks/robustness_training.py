"""The law of robustness's training, side by side in one process (only ratios from one run compare):

  one-at-a-time  each (width, seed) network alone: `networks.fit`, one jit per network shape, the
                 smoothest-fit search of `eos robustness` (penalty 1e-3, gradient criterion)
  packed         `experiment.train`: every width of a cell packed into one network, the seeds vmapped,
                 one compiled program for the cell (what `eos robustness` runs)

on the cells (n, d) given, with the default widths and 3 seeds. Prints seconds (compile included,
as a command pays it), network-steps per second and the ratio; then the whole default command's
phases from its run.json if a directory is given with --run.

    python benchmarks/robustness_training.py [--cells 250x200,1000x800] [--steps 2000]
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

try:  # without an install (a machine with no package index: PYTHONPATH=.), map `eos` onto the checkout
    import eos.robustness  # noqa: F401
except ModuleNotFoundError:
    sys.modules["eos"] = types.ModuleType("eos")
    sys.modules["eos"].__path__ = [str(Path(__file__).resolve().parents[1])]

from eos.robustness import data, experiment, networks
from eos.robustness.config import RobustnessConfig


def datasets(config):
    x, y = [], []
    for s in range(config.seeds):
        rng = data.streams(s, config.n, config.d)[0]
        x.append(data.inputs(rng, config.n, config.d))
        y.append(data.labels(rng, x[-1]))
    return jnp.asarray(np.stack(x)), jnp.asarray(np.stack(y))


def one_at_a_time(config, x, y) -> float:
    start = time.perf_counter()
    target = config.noise_level - config.eps
    for s in range(config.seeds):
        rng = data.streams(s, config.n, config.d)[1]
        for k in config.widths:
            p = networks.init(rng, config.d, k)
            out = networks.fit(
                networks.TwoLayer(*(jnp.asarray(a) for a in p)), x[s], y[s], target,
                steps=config.steps, lr=config.lr, penalty=config.penalty, check_every=experiment.CHECK_EVERY,
            )  # fmt: skip
            out.train_mse.block_until_ready()
    return time.perf_counter() - start


def packed(config, x, y) -> float:
    start = time.perf_counter()
    experiment.train(config, x, y)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="250x200,500x400,1000x800")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; widths 2..32, 3 seeds, {args.steps} steps")
    print(f"{'cell':>10} {'nets':>5} {'one-at-a-time s':>16} {'packed s':>9} {'ratio':>6}  network-steps/s (packed)")
    total = {"alone": 0.0, "packed": 0.0}
    for cell in args.cells.split(","):
        n, d = (int(v) for v in cell.split("x"))
        config = RobustnessConfig(n=n, d=d, widths=(2, 4, 8, 16, 32), vary="width", steps=args.steps)
        x, y = datasets(config)
        alone, pack = one_at_a_time(config, x, y), packed(config, x, y)
        nets = len(config.widths) * config.seeds
        total["alone"] += alone
        total["packed"] += pack
        rate = nets * args.steps / pack
        print(f"{cell:>10} {nets:>5} {alone:>16.2f} {pack:>9.2f} {alone / pack:>5.2f}×  {rate:,.0f}")
    alone, pack = total["alone"], total["packed"]
    print(f"{'all':>10} {'':>5} {alone:>16.2f} {pack:>9.2f} {alone / pack:>5.2f}×")


if __name__ == "__main__":
    main()
