"""The transition's statistic on synthetic curves, its grid convergence, and its bootstrap's coverage."""

import numpy as np

from eos.dynamics import pooled, verdict
from eos.dynamics.config import ModelSpec, SweepConfig, command_line


def curves(shape, seeds, grid, noise=0.0, rng=None):
    rng = rng or np.random.default_rng(0)
    lrs = np.tile(grid, seeds)
    s = np.repeat(np.arange(seeds), len(grid))
    v = shape(lrs) + noise * rng.standard_normal(len(lrs))
    return lrs, s, v


def measure(shape, seeds=5, grid=np.linspace(0.2, 5.0, 48), noise=0.0, rng=None, resamples=199):
    lrs, s, v = curves(shape, seeds, grid, noise, rng)
    return pooled.measure_with_intervals(lrs, s, v, np.ones(len(lrs), bool), np.zeros(seeds), 1.0, 1.0, resamples)


step = lambda x: -0.1 - 0.01 * x - np.where(x > 1.0, x - 1.0, 0.0)
bend = lambda x: -1.0 - 0.1 * x - 0.2 * np.log1p(np.exp(3 * (x - 1.5))) / 3


def test_a_kink_is_sharp_a_smooth_bend_is_not_and_a_flat_noisy_pre_slope_does_not_decide_alone():
    assert measure(step, noise=0.002)["ratio"]["lo"] >= verdict.SHARP_RATIO
    assert measure(bend, noise=0.002)["ratio"]["hi"] < verdict.SHARP_RATIO
    exact = measure(step)  # noiseless seeds are copies: no interval over them, and it says why
    assert (
        exact["ratio"]["lo"] is None and exact["ratio"]["identical"] and exact["ratio"]["value"] >= verdict.SHARP_RATIO
    )
    assert "the seeds are identical" in pooled.interval_of(exact["ratio"])
    # A flat pre-slope with noise: one seed's ratio is anything, the mean curve's stays near the truth.
    flat = lambda x: -np.where(x > 1.0, 0.5 * (x - 1.0), 0.0)
    m = measure(flat, seeds=8, noise=0.002)
    assert m["ratio"]["lo"] >= verdict.SHARP_RATIO and abs(m["knot"]["value"] - 1.0) < 0.05


def test_doubling_the_grid_moves_the_statistic_by_less_than_its_interval():
    rng = np.random.default_rng(1)
    coarse = measure(bend, seeds=6, noise=0.005, rng=rng)
    fine = measure(bend, seeds=6, grid=np.linspace(0.2, 5.0, 96), noise=0.005, rng=np.random.default_rng(1))
    for name in ("ratio", "knot"):
        assert coarse[name]["lo"] <= fine[name]["value"] <= coarse[name]["hi"], (name, coarse[name], fine[name])


def test_the_bootstrap_interval_of_the_gradient_flow_level_covers_the_truth():
    """Seeds whose gradient-flow level scatters around 0.3: the 95 % interval over 8 seeds must cover
    0.3 in most of 40 independent draws (the percentile bootstrap under-covers a little at 8)."""
    rng = np.random.default_rng(2)
    covered = 0
    for _ in range(40):
        offsets = 0.3 + 0.1 * rng.standard_normal(8)
        grid = np.linspace(0.2, 5.0, 24)
        lrs, s = np.tile(grid, 8), np.repeat(np.arange(8), len(grid))
        v = -offsets[s] - np.where(lrs > 1.0, lrs - 1.0, 0.0)
        m = pooled.measure_with_intervals(lrs, s, v, np.ones(len(lrs), bool), np.zeros(8), 1.0, 1.0, 199)
        covered += m["flow"]["lo"] <= 0.3 <= m["flow"]["hi"]
    assert covered >= 32, covered


def test_one_seed_has_no_interval_and_says_so():
    m = measure(step, seeds=1)
    assert m["ratio"]["lo"] is None and "one seed" in pooled.interval_of(m["ratio"])


def test_the_command_a_report_advises_keeps_the_run_s_settings():
    config = SweepConfig(spec=ModelSpec(d=35, lam=5.0), lrs=tuple(np.linspace(0.01, 1.0, 64)), flow=False)
    assert command_line(config, seeds=8) == "eos sweep --d 35 --lam 5 --seeds 8 --no-flow --lr 0.01:1:64"
    assert command_line(config, lr="0.2x:5x") == "eos sweep --d 35 --lam 5 --no-flow --lr 0.2x:5x"
