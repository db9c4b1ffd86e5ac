import math

import numpy as np
import pytest

from eos.dynamics import kink, regime, transition, verdict


def test_departure_bracket_and_estimate_on_a_synthetic_sweep():
    lrs = np.array([0.01, 0.02, 0.03, 0.04, 0.05] * 2)
    seeds = np.array([0] * 5 + [1] * 5)
    bias = np.array([-0.2, -0.21, -0.25, -0.9, -1.4, -0.1, -0.1, -0.1, -0.1, -0.6])
    regimes = np.array(["gradient_flow"] * 3 + ["edge_of_stability"] * 2 + ["gradient_flow"] * 5)
    out = transition.locate(lrs, seeds, bias, regimes, margin=0.1)
    s0, s1 = out["per_seed"]
    assert (s0["departure"]["lo"], s0["departure"]["hi"]) == (0.03, 0.04)
    assert math.isclose(s0["departure"]["estimate"], math.sqrt(0.03 * 0.04))
    assert (s1["departure"]["lo"], s1["departure"]["hi"]) == (0.04, 0.05)
    assert (s0["eos"]["lo"], s0["eos"]["hi"]) == (0.03, 0.04)
    assert s1["eos"]["status"] == "above_grid"
    assert out["departure"]["bracketed"] == 2
    assert out["departure"]["min"] <= out["departure"]["median"] <= out["departure"]["max"]


def test_refinement_fills_the_bracket_and_probes_both_neighbouring_intervals():
    grid = np.array([0.1, 0.2, 0.3, 0.4])
    new = transition.refinement_lrs(grid, {"status": "fitted", "lo": 0.2, "hi": 0.3}, 3)
    inside = new[(new > 0.2) & (new < 0.3)]
    assert len(inside) == 3
    np.testing.assert_allclose(sorted(set(new) - set(inside)), [0.15, 0.35])  # a kink one interval off is found
    assert len(transition.refinement_lrs(grid, {"status": "above_grid", "lo": 0.4, "hi": math.inf}, 3)) == 0


def test_a_linear_drift_below_the_threshold_is_not_a_departure_but_a_kink_is():
    """Below η* the final value drifts as O(η) (a finite-step error); the locator follows that trend
    and marks the kink where the regime changes, wherever the drift would have crossed a fixed margin."""
    lrs = np.linspace(0.01, 1.0, 64)
    knot = 0.5
    bias = -1.0 - 0.2 * lrs - np.where(lrs > knot, 3.0 * (lrs - knot), 0.0)
    flags = transition.departed(lrs, bias, margin=0.03)
    first = lrs[np.argmax(flags)]
    assert knot < first <= knot + 2 * (lrs[1] - lrs[0]), first
    assert np.all(~flags[lrs < knot])


# Synthetic curves v(η) of one seed, in units of a prediction η* = 1.
GRID = np.linspace(0.2, 5.0, 48)


def step(x):  # flat, then falling 100× faster: the theorem's picture
    return -0.1 - 0.01 * x - np.where(x > 1.0, 1.0 * (x - 1.0), 0.0)


def bend(x):  # a smooth bend: the slope changes 3× over a wide range
    return -1.0 - 0.1 * x - 0.2 * np.log1p(np.exp(3 * (x - 1.5))) / 3


def line(x):
    return -0.5 - 0.2 * x


def sweep(curve, grid=GRID, seeds=3, regimes=None, noise=0.0):
    lrs = np.tile(grid, seeds)
    s = np.repeat(np.arange(seeds), len(grid))
    v = curve(lrs) + noise * np.random.default_rng(0).standard_normal(len(lrs))
    if regimes is None:
        moved = transition.departed_rows(lrs, s, v, 0.03)
        regimes = np.where(moved, "edge_of_stability", "gradient_flow")
    return transition.locate(lrs, s, v, regimes, prediction=1.0)


def test_a_step_is_a_sharp_transition_located_at_its_kink():
    out = sweep(step)
    assert out["verdict"] == "sharp", out["reason"]
    assert abs(out["estimate"]["value"] - 1.0) < 0.05, out["estimate"]
    assert out["estimate"]["lo"] <= 1.0 <= out["estimate"]["hi"]
    # noiseless seeds are copies of one curve: one unit, so no interval over them, and the reason why
    assert out["sharpness"]["value"] >= verdict.SHARP_RATIO and out["sharpness"]["lo"] is None
    assert out["sharpness"]["identical"]
    noisy = sweep(step, noise=0.002)
    assert noisy["verdict"] == "sharp" and noisy["sharpness"]["lo"] >= verdict.SHARP_RATIO, noisy["reason"]


def test_a_smooth_bend_is_a_crossover_not_a_transition():
    out = sweep(bend)
    assert out["verdict"] == "crossover", out["reason"]
    assert 1.0 < out["sharpness"]["value"] < verdict.SHARP_RATIO
    noisy = sweep(bend, noise=0.002)
    assert noisy["verdict"] == "crossover" and noisy["sharpness"]["hi"] < verdict.SHARP_RATIO, noisy["reason"]


def test_a_straight_line_with_no_regime_change_is_no_change_or_above_grid():
    regimes = np.full(3 * len(GRID), "gradient_flow")
    assert sweep(line, regimes=regimes)["verdict"] == "no_change"  # the prediction 1.0 lies inside the grid
    above = sweep(line, grid=GRID / 10, regimes=np.full(3 * len(GRID), "gradient_flow"))
    assert above["verdict"] == "above_grid", above["reason"]


def test_a_grid_entirely_past_the_transition_is_below_grid_and_locates_nothing():
    grid = np.linspace(10, 100, 32)
    out = sweep(step, grid=grid, regimes=np.full(3 * len(grid), "catapult"))
    assert out["verdict"] == "below_grid", out["reason"]


def test_a_grid_too_coarse_at_the_kink_says_so():
    out = sweep(step, grid=np.array([0.2, 0.6, 1.4, 3.0, 5.0]))
    assert out["verdict"] == "too_coarse", out


@pytest.mark.parametrize("curve, spacings", [(step, 1), (bend, 2)])
def test_refining_inside_the_brackets_keeps_the_estimate_near_them(curve, spacings):
    """Grid convergence: after refinement a sharp kink stays inside its bracket; the bend of a
    crossover (a knot of a smooth curve, not a located transition) within two grid spacings."""
    grid = np.linspace(0.2, 5.0, 25)
    before = sweep(curve, grid=grid, seeds=1)
    b = before["fit"]
    finer = np.union1d(grid, transition.refinement_lrs(grid, b, 4))
    after = sweep(curve, grid=finer, seeds=1)["estimate"]["value"]
    slack = (spacings - 1) * (grid[1] - grid[0])
    assert b["lo"] - slack <= after <= b["hi"] + slack, (b, after)


def test_the_kink_fit_recovers_slopes_and_knot_of_an_exact_hinge():
    x = np.linspace(0.5, 2.0, 40)
    v = 1.0 - 0.1 * np.minimum(x - 1.2, 0) - 5.0 * np.maximum(x - 1.2, 0)
    f = kink.fit(x, v, start=1.0)
    assert f["status"] == "fitted" and abs(f["knot"] - 1.2) < 1e-3, f
    # the knot is found to 1/SUBDIVISIONS of a grid spacing, the slopes to a few per cent
    assert math.isclose(f["slope_before"], -0.1, rel_tol=0.03) and math.isclose(f["slope_after"], -5.0, rel_tol=0.01)
    assert math.isclose(f["ratio"], 50.0, rel_tol=0.03)
    assert f["lo"] < f["knot"] < f["hi"]


def test_silent_and_diverged_runs_are_left_out_of_the_kink_fit():
    lrs = np.tile(GRID, 1)
    v = step(lrs)
    v_with_collapse = np.where(lrs > 4.0, -8.0, v)
    regimes = np.where(lrs > 4.0, "silent", np.where(lrs > 1.0, "edge_of_stability", "gradient_flow"))
    out = transition.locate(lrs, np.zeros(len(lrs), int), v_with_collapse, regimes, prediction=1.0)
    assert out["verdict"] == "sharp" and abs(out["estimate"]["value"] - 1.0) < 0.05, out["estimate"]


# Regime rules on recorded trajectories (records every `stride` steps; r = sharpness·η/2).


def records(r_values, loss=None, stride=1, rises=None):
    """One run's records; rises: the records (indices) after which the engine counted a loss rise."""
    r = np.asarray(r_values, float)[None, :]
    steps = (np.arange(r.shape[1]) * stride)[None, :]
    loss = np.linspace(1.0, 0.5, r.shape[1])[None, :] ** 0.1 if loss is None else np.asarray(loss, float)[None, :]
    horizon = int(steps.max())
    counted = np.zeros_like(steps)
    counted[0, list(rises or [])] = 1
    return steps, loss, r * 2.0, stride, np.array([horizon]), np.array([1.0]), counted  # η = 1: sharpness = 2r


def classify_one(measured, departed=False, **extra):
    summary = {k: v for k, v in measured.items()}
    summary.update(status=np.array(["ok"]), dead=np.array([False]), **{k: np.array([v]) for k, v in extra.items()})
    inputs = {"accuracy": "test_acc", "active_share": "active_frac"}  # as the relu network states them
    return regime.classify(summary, np.array([departed]), inputs)[0]


def test_sharpness_past_two_over_eta_only_at_the_start_is_the_initial_instability_not_a_catapult():
    r = np.r_[1.5, 1.2, 0.4, np.full(97, 0.3)]
    m = regime.measure(*records(r))
    assert m["initial_instability"][0] and m["late_ratio_max"][0] < 1
    assert classify_one(m) == "gradient_flow"


def test_a_loss_that_rose_after_the_start_and_fell_back_is_a_catapult_and_a_peak_alone_is_not():
    r = np.r_[np.full(20, 0.5), 1.6, 1.2, np.full(78, 0.4)]
    m = regime.measure(*records(r, rises=[21, 22]))
    assert not m["initial_instability"][0] and m["loss_rises"][0] == 2
    assert classify_one(m, departed=True) == "catapult"
    # The same sharpness with a loss that never rose: a record's peak is no instability (records can
    # miss or catch a brief peak depending on the stride; the loss is counted at every step).
    assert classify_one(regime.measure(*records(r)), departed=True) == "off_trend"


def test_the_edge_of_stability_is_a_band_around_two_over_eta_held_to_the_end_or_transient():
    oscillating = 0.97 + 0.03 * np.tile([1, -1], 40)
    held = np.r_[np.linspace(0.2, 1.0, 20), oscillating]
    rises = list(range(20, 100, 2))
    assert classify_one(regime.measure(*records(held, rises=rises))) == "edge_of_stability"
    left = np.r_[np.linspace(0.2, 1.0, 20), oscillating[:30], np.linspace(0.9, 0.3, 50)]  # an early phase
    m = regime.measure(*records(left, rises=rises[:15]))
    assert classify_one(m) == "eos_transient" and 0.2 < m["edge_share"][0] < 0.5
    above = np.r_[np.linspace(0.2, 2.0, 20), np.full(80, 2.0)]  # held at 2 × 2/η: past the edge, not at it
    assert classify_one(regime.measure(*records(above, rises=rises))) == "above_edge"


def test_a_loss_still_falling_fast_at_the_horizon_is_unfinished():
    loss = np.r_[np.full(80, 1.0), np.linspace(1.0, 0.2, 20)]
    m = regime.measure(*records(np.full(100, 0.3), loss=loss))
    assert m["loss_fall_end"][0] > regime.UNFINISHED
    assert classify_one(m) == "unfinished"


def test_silent_needs_a_measured_fraction_of_active_inputs_and_chance_is_named_apart():
    m = regime.measure(*records(np.full(100, 0.3)))
    assert classify_one(m, test_acc=0.5, active_frac=0.01) == "silent"
    assert classify_one(m, test_acc=0.5, active_frac=0.6) == "chance"
    assert classify_one(m, test_acc=0.8, active_frac=0.6) == "gradient_flow"
