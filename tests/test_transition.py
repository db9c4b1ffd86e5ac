import math

import numpy as np

from eos.dynamics import transition


def test_departure_bracket_and_estimate_on_a_synthetic_sweep():
    lrs = np.array([0.01, 0.02, 0.03, 0.04, 0.05] * 2)
    seeds = np.array([0] * 5 + [1] * 5)
    bias = np.array([-0.2, -0.21, -0.25, -0.9, -1.4, -0.1, -0.1, -0.1, -0.1, -0.6])
    held = np.array([0.5, 0.7, 0.85, 1.1, 1.2, 0.3, 0.4, 0.5, 0.6, 0.89])
    out = transition.locate(lrs, seeds, bias, held, margin=0.1)
    s0, s1 = out["per_seed"]
    assert (s0["departure"]["lo"], s0["departure"]["hi"]) == (0.03, 0.04)
    assert math.isclose(s0["departure"]["estimate"], math.sqrt(0.03 * 0.04))
    assert (s1["departure"]["lo"], s1["departure"]["hi"]) == (0.04, 0.05)
    assert (s0["eos"]["lo"], s0["eos"]["hi"]) == (0.03, 0.04)
    assert s1["eos"]["status"] == "above_grid"
    assert out["departure"]["bracketed"] == 2
    assert out["departure"]["min"] <= out["departure"]["median"] <= out["departure"]["max"]


def test_reference_already_at_the_edge_of_stability_means_below_grid():
    lrs = np.array([0.1, 0.2, 0.3])
    out = transition.locate(lrs, np.zeros(3, int), np.array([-1.0, -1.5, -2.0]), np.full(3, 1.0))
    assert out["per_seed"][0]["departure"]["status"] == "below_grid"
    assert out["departure"]["bracketed"] == 0


def test_refinement_points_lie_strictly_inside_the_bracket():
    b = {"status": "bracketed", "lo": 0.2, "hi": 0.3, "estimate": 0.0}
    (new,), (none,) = transition.refinement_lrs([b], 3), transition.refinement_lrs([{"status": "above_grid"}], 3)
    assert len(new) == 3 and (new > 0.2).all() and (new < 0.3).all()
    assert len(none) == 0


def test_a_linear_drift_below_the_threshold_is_not_a_departure_but_a_kink_is():
    """Below η* the final value drifts as O(η) (a finite-step error); the locator follows that trend
    and marks the kink where the regime changes, wherever the drift would have crossed a fixed margin."""
    lrs = np.linspace(0.01, 1.0, 64)
    kink = 0.5
    bias = -1.0 - 0.2 * lrs - np.where(lrs > kink, 3.0 * (lrs - kink), 0.0)
    flags = transition.departed(lrs, bias, margin=0.03)
    first = lrs[np.argmax(flags)]
    assert kink < first <= kink + 2 * (lrs[1] - lrs[0]), first
    # the old rule (a fixed distance from the smallest η's value) would have fired at η ≈ 0.16
    assert np.all(~flags[lrs < kink])


def test_a_coarse_bracket_is_flagged_for_refinement():
    lrs = np.array([0.01, 0.1, 0.5, 1.0])
    out = transition.locate(lrs, np.zeros(4, int), np.array([-1.0, -1.0, -1.0, -3.0]), np.zeros(4))
    assert out["departure"]["coarse"] and out["departure"]["lo"] == 0.5 and out["departure"]["hi"] == 1.0
