import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from eos.robustness import constructions, fits, networks, theory
from eos.robustness.experiment import RobustnessConfig, load, run_robustness
from eos.robustness.lipschitz import two_layer_bracket
from eos.robustness.lower_bounds import lower_bound


@pytest.fixture(scope="module")
def small_run():
    return run_robustness(RobustnessConfig(n=120, d=8, widths=(2, 8, 32), seeds=2, eps=0.3, steps=600, vary="width"))


def test_every_bracket_is_ordered_and_fits_lie_above_the_data_floor(small_run):
    s = small_run.summary
    assert (s["bracket"] == "ok").all(), s["bracket"]
    assert (s["lip_lower"] <= s["lip_upper"] * (1 + 1e-9)).all(), s
    fits = s["fits_below_noise"]
    assert fits.any()
    assert (s["lip_upper"][fits] >= s["floor"][fits]).all()
    assert (s["floor"] > 0).all()
    assert (s["train_mse"][fits] <= s["noise_level"][fits] - 0.3 + 1e-6).all()
    # LipSDP runs at every width now and is the tightest certificate of a trained network.
    assert (s["lip_sdp_status"] == "optimal").all()
    assert (s["lip_sdp"] <= np.minimum(s["lip_path"], s["lip_spectral"]) * (1 + 1e-6)).all()
    # The smoothest-fit search never returns a fit rougher (in path norm) than its first one.
    assert (s["smoothing_gain"][fits] >= 1 - 1e-4).all(), s["smoothing_gain"]


def test_n_and_d_sweeps_hold_what_they_say():
    base = dict(seeds=1, eps=0.3, steps=200, widths=(4,))
    n_sweep = run_robustness(RobustnessConfig(n=40, d=6, vary="n", values=(30, 60), **base))
    assert list(n_sweep.summary["n"]) == [30, 60] and set(n_sweep.summary["width"]) == {4}
    assert n_sweep.slope["axis"] == "n"
    d_sweep = run_robustness(RobustnessConfig(n=40, d=6, vary="d", values=(6, 14), **base))
    assert list(d_sweep.summary["d"]) == [6, 14] and list(d_sweep.summary["width"]) == [4, 2]  # p held at 33
    assert list(d_sweep.summary["params"]) == [33, 33]
    with pytest.raises(ValueError, match="needs --values"):
        RobustnessConfig(vary="n")
    with pytest.raises(ValueError, match="unknown vary"):
        RobustnessConfig(vary="q", values=(1,))


def test_result_round_trips(small_run, tmp_path):
    back = load(small_run.save(tmp_path / "r"))
    assert back.config == small_run.config
    for k, v in small_run.summary.items():
        np.testing.assert_array_equal(back.summary[k], v, err_msg=k)
    assert back.slope == small_run.slope
    assert set(back.summary["bracket"]) == {"ok"}


def test_param_count_is_the_number_of_trained_parameters():
    p = networks.init(np.random.default_rng(0), 7, 5)
    assert sum(a.size for a in p) == networks.param_count(7, 5) == 5 * 9 + 1


def test_least_squares_recovers_a_power_law():
    p = np.array([10, 100, 1000, 10000.0])
    fit = fits.least_squares([p], 3 * p**-0.5, np.ones(4, bool), ("p",), np.arange(4))["p"]
    assert abs(fit["slope"] + 0.5) < 1e-12 and fit["stderr"] < 1e-9 and fit["clusters"] == 4


def test_clustered_errors_see_what_the_naive_ones_miss():
    """Networks trained on one dataset share its draw: a dataset's own offset moves all its rows
    together. For a slope along an axis that is constant within a dataset (n, say), the naive OLS error
    counts the five rows as five draws and comes out about √5 too small; the clustered one matches the
    slope's spread over repeated experiments (checked by simulation)."""
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 5)
    n = np.repeat(np.geomspace(100, 1000, 12), 5)
    slopes, naive, robust = [], [], []
    for _ in range(300):
        offset = 0.1 * rng.standard_normal(12)[groups]
        lip = np.exp(0.5 * np.log(n) + offset + 0.01 * rng.standard_normal(60))
        fit = fits.least_squares([n], lip, np.ones(60, bool), ("n",), groups)["n"]
        slopes.append(fit["slope"]), naive.append(fit["naive_stderr"]), robust.append(fit["stderr"])
    spread = np.std(slopes)
    assert np.median(naive) < 0.6 * spread, (np.median(naive), spread)
    assert 0.7 * spread < np.median(robust) < 1.3 * spread, (np.median(robust), spread)


def test_rbf_bracket_contains_its_known_lipschitz_constant():
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(1), (40, 5), jnp.float64) / math.sqrt(5)
        y = jnp.where(jax.random.bernoulli(jax.random.key(2), 0.5, (40,)), 1.0, -1.0)
        f = constructions.rbf_interpolant(x, y)
        assert all(abs(float(f(xi)) - float(yi)) < 1e-12 for xi, yi in zip(x, y)), "must interpolate"
        # Bump centres are flat (∇f = 0); start the ascent a third of a radius away.
        offsets = f.radius / 3 * jax.random.normal(jax.random.key(3), x.shape, jnp.float64)
        low = lower_bound(f, x + offsets, jax.random.key(4), steps=400)
        assert low.value <= f.lipschitz * (1 + 1e-9)
        assert low.value >= 0.99 * f.lipschitz, (low, f.lipschitz)
        assert f.params == 40 * 6


def test_cap_ramp_interpolates_and_its_brackets_contain_the_known_values():
    with jax.enable_x64(True):
        d, n, s = 6, 10, 0.05
        z = jax.random.normal(jax.random.key(5), (n, d), jnp.float64)
        x = z / jnp.linalg.norm(z, axis=1, keepdims=True)
        y = jnp.where(jnp.arange(n) % 2 == 0, 1.0, -1.0)
        assert constructions.caps_disjoint(x, s)
        p = constructions.cap_ramp(x, y, s)
        np.testing.assert_allclose(networks.forward(p, x), y, atol=1e-12)
        row = two_layer_bracket(p, x * (1 - s / 2), np.random.default_rng(6))
        assert 1 / s * (1 - 1e-9) <= row["lip_lower"] <= row["lip_upper"] * (1 + 1e-9)
        starts = x + 0.05 * jax.random.normal(jax.random.key(7), x.shape, jnp.float64)
        tangential = constructions.tangential_gradient_lower_bound(p, starts)
        known = constructions.cap_ramp_tangential_lipschitz(s)
        assert 0.98 * known <= tangential <= known * (1 + 1e-9), (tangential, known)
        assert known <= row["lip_upper"]


def test_law_scales_and_certified_condition():
    assert math.isclose(theory.law_scale(1000, 50, 5001), math.sqrt(50000 / 5001))
    assert math.isclose(theory.two_layer_scale(100, 4), 5.0)
    assert not theory.certified_applies(1000, 0.5, 0.01)
    assert theory.certified_applies(10**6, 0.9, 0.01)


@pytest.mark.parametrize("k, d", [(3, 5), (7, 7), (12, 40)])
def test_with_independent_units_every_activation_pattern_is_realised_and_the_largest_is_the_constant(k, d):
    """k ≤ d independent units: each pattern s has a point (W x + b = ±1) where ∇f = Σ s_j a_j w_j, so the
    enumerated maximum is a lower bound that no point beats: the Lipschitz constant itself."""
    import itertools

    from eos.robustness.lower_bounds import pattern_bound
    from eos.robustness.upper_bounds import lipsdp_two_layer

    rng = np.random.default_rng(k * d)
    w, b, a = rng.normal(size=(k, d)), rng.normal(size=k), rng.normal(size=k)
    p = networks.TwoLayer(jnp.asarray(w), jnp.asarray(b), jnp.asarray(a), jnp.asarray(0.0))
    value, method = pattern_bound(w, a, np.zeros((1, k)))
    assert method == "exact"
    with jax.enable_x64(True):
        grad = jax.vmap(jax.grad(lambda x: networks.forward(p, x)))
        signs = np.where(np.array(list(itertools.product([0, 1], repeat=k))), 1.0, -1.0)  # (2^k, k)
        x = np.linalg.lstsq(w, (signs - b).T, rcond=None)[0].T  # a point in each pattern's region
        attained = float(jnp.max(jnp.linalg.norm(grad(jnp.asarray(x)), axis=1)))
    assert value <= attained * (1 + 1e-9) and attained <= value * (1 + 1e-9), (value, attained)
    upper = lipsdp_two_layer(w, a, "neuron")
    assert upper.ok and value <= upper.bound * (1 + 1e-9)


def test_the_pattern_search_is_never_below_the_patterns_it_starts_from():
    from eos.robustness.lower_bounds import pattern_bound

    rng = np.random.default_rng(1)
    w, a = rng.normal(size=(40, 60)), rng.normal(size=40)
    starts = rng.random((50, 40)) > 0.5
    value, method = pattern_bound(w, a, starts)
    start_values = np.linalg.norm((starts * a) @ w, axis=1)
    assert method == "pattern_search" and value >= start_values.max() * (1 - 1e-9)


def test_a_gradient_taken_exactly_on_a_kink_is_not_a_lower_bound():
    """f(x) = ReLU(x₁) − ReLU(x₁) is zero: every point with x₁ = 0 lies on both units' kink, where autodiff
    picks one derivative per unit; such points are left out, so the bound stays at the constant, 0."""
    w = jnp.array([[1.0, 0.0], [1.0, 0.0]])
    p = networks.TwoLayer(w, jnp.zeros(2), jnp.array([1.0, -1.0]), jnp.asarray(0.0))
    x = jnp.array([[0.0, 1.0], [0.0, -2.0]])
    low = lower_bound(
        lambda z: networks.forward(p, z), x, jax.random.key(0), off_kink=lambda z: jnp.all(w @ z != 0), steps=5
    )
    assert low.by_method["data_gradient"] == 0.0
    row = two_layer_bracket(p, x, np.random.default_rng(0), sdp=False, steps=5)
    assert row["lip_lower"] <= 1e-12 and row["bracket"] == "ok", row


def test_the_joint_design_runs_widths_up_to_its_ratio_and_fits_three_exponents_at_once():
    from eos.robustness.experiment import settings

    cfg = RobustnessConfig(design_n=(250, 1000), design_d=(200, 800), widths=(2, 4, 8, 16, 32, 64), run_ratio=0.1)
    for n, d, ks in settings(cfg):
        assert ks and all(networks.param_count(d, k) <= 0.1 * n * d for k in ks), (n, d, ks)
    rng = np.random.default_rng(0)
    n, d, p = (np.exp(rng.uniform(3, 8, 40)) for _ in range(3))
    lip = 0.45 * n**0.5 * d**0.5 * p**-0.5 * np.exp(0.01 * rng.standard_normal(40))
    fit = fits.least_squares([n, d, p], lip, np.ones(40, bool), ("n", "d", "params"), np.arange(40))
    for name, expected in (("n", 0.5), ("d", 0.5), ("params", -0.5)):
        assert abs(fit[name]["slope"] - expected) < 4 * fit[name]["stderr"] + 1e-3, fit


def _summary(lip_of, seeds=3, rng=None):
    """A synthetic joint design: every row inside the regime, Lip drawn by lip_of(n, d, k) with noise."""
    rng = rng or np.random.default_rng(1)
    rows = [(n, d, k, s) for n in (250, 500, 1000) for d in (200, 400, 800) for k in (2, 4, 8) for s in range(seeds)]
    n, d, k, seed = (np.array(c) for c in zip(*rows))
    p = k * (d + 2) + 1
    lip = lip_of(n, d, k) * np.exp(0.03 * rng.standard_normal(len(rows)))
    return {
        "n": n, "d": d, "width": k, "params": p, "seed": seed, "lip_lower": lip, "lip_upper": lip * 1.01,
        "law_scale": np.sqrt(n * d / p), "two_layer_scale": np.sqrt(n / k),
        "fits_below_noise": np.ones(len(rows), bool), "in_regime": np.ones(len(rows), bool),
        "bracket": np.array(["ok"] * len(rows)),
    }  # fmt: skip


def test_both_forms_are_fitted_and_the_reading_follows_the_measured_d():
    """Nets that follow [BLN] (Lip = c·√(n/k)) give d ≈ 0 at fixed k and ≈ +½ at fixed p, and the
    report reads them as the two-layer form; nets whose constant grows with d at fixed k do not."""
    from eos import report

    bln = fits.exponents("joint", _summary(lambda n, d, k: 0.45 * np.sqrt(n / k)))
    d_fixed_k = bln["two_layer"]["lower"]["d"]
    assert abs(d_fixed_k["slope"]) < 3 * d_fixed_k["stderr"] and d_fixed_k["clusters"] == 9  # cells (n, d)
    assert abs(bln["lower"]["d"]["slope"] - 0.5) < 0.05 and bln["two_layer"]["law"]["d"] == pytest.approx(0, abs=1e-9)
    assert report._reading(bln, _summary(lambda n, d, k: 0.45 * np.sqrt(n / k))).startswith(
        "reading: at fixed width the constant does not depend on d"
    )
    steep = _summary(lambda n, d, k: 0.45 * np.sqrt(n * d / k))  # d enters beyond the width
    assert "does not depend on d" not in report._reading(fits.exponents("joint", steep), steep)


def test_a_small_joint_run_reports_exponents_collapse_and_the_regime_per_row():
    r = run_robustness(
        RobustnessConfig(design_n=(60, 120), design_d=(20, 40), widths=(2, 4), seeds=1, steps=200, eps=0.3)
    )
    s = r.summary
    assert {"p_over_nd", "in_regime"} <= set(s) and r.slope["axis"] == "joint"
    np.testing.assert_allclose(s["p_over_nd"], s["params"] / (s["n"] * s["d"]))
    assert (s["in_regime"] <= (s["p_over_nd"] <= r.slope["regime"])).all()
    assert set(r.slope["lower"]) == {"n", "d", "params"} and "collapse_lower" in r.slope


def test_a_run_that_fits_nothing_says_so_instead_of_printing_nan():
    """No fit below the noise level (a step size too small to move): no exponent and no collapse
    constant can be measured, the law's prediction still stands, and no overview is drawn."""
    from eos import report
    from eos.figures import NothingToDraw
    from eos.figures import robustness as figure

    r = run_robustness(RobustnessConfig(n=60, d=8, widths=(2, 8), seeds=1, steps=20, lr=1e-30, vary="width"))
    assert not r.summary["fits_below_noise"].any()
    lines = report.robustness(r)
    assert not any("nan" in line for line in lines), lines
    assert sum("not fitted" in line and "the law predicts -0.500" in line for line in lines) == 2, lines
    assert sum("none (no fit inside the regime)" in line for line in lines) == 2, lines
    with pytest.raises(NothingToDraw):
        figure.draw(r)


def test_the_smoothing_gain_of_a_constant_network_is_a_number_not_a_crash():
    """The search can end at a constant network (criterion 0: width 1 on ten points in float32),
    where first/last used to divide by zero."""
    from eos.robustness.experiment import _gain

    assert _gain(math.inf, 0.0) == math.inf and _gain(0.0, 0.0) == 1.0 and _gain(3.0, 1.5) == 2.0


def test_the_search_in_slices_gives_the_numbers_of_one_call_and_reports_as_it_goes():
    """Training runs in device calls of a few steps (a progress report and a safe point for a signal
    between them); any stops that are multiples of check_every give the one call's numbers."""
    from eos.robustness import experiment

    key = jax.random.key(3)
    x = jax.random.normal(key, (40, 5))
    y = jnp.sign(jax.random.normal(jax.random.fold_in(key, 1), (40,)))
    params, seg = networks.pack([networks.init(np.random.default_rng(2), 5, k) for k in (3, 6)])
    for penalty in (0.0, 1e-3):
        search = networks.Search(networks.Pack(seg, "gradient"), x, y, 0.5, 130, 0.01, penalty, 10)
        whole = search.finish(search.advance(search.start(params), 130))
        state = search.start(params)
        for stop in (20, 50, 60, 130):
            state = search.advance(state, stop)
        sliced = search.finish(state)
        for a, b in zip(jax.tree_util.tree_leaves(whole), jax.tree_util.tree_leaves(sliced)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    reports = []
    config = RobustnessConfig(n=30, d=4, widths=(2,), seeds=1, steps=3 * experiment.SLICE_STEPS, vary="width")
    tally = experiment.Tally(
        lambda stage, done, total, units: reports.append(done), (1, 1, experiment.train_cost(config))
    )
    experiment.train(config, jax.random.normal(key, (1, 30, 4)), jnp.sign(jax.random.normal(key, (1, 30))), tally)
    # the start, two short slices, then one report per SLICE_STEPS; one program, the work in full
    assert len(reports) == 1 + 2 + 3 and reports == sorted(reports), reports
    assert reports[-1] == (1, 0, experiment.train_cost(config))


def test_a_pack_trains_each_network_as_it_would_alone():
    """Packed networks share no parameter and Adam acts elementwise: each one's numbers are its own
    (up to float32 summation order), and without a penalty each stops at its own first fit."""
    key = jax.random.key(5)
    x = jax.random.normal(key, (30, 4))
    y = jnp.sign(jax.random.normal(jax.random.fold_in(key, 1), (30,)))
    nets = [networks.init(np.random.default_rng(k), 4, k) for k in (2, 5)]
    for penalty in (0.0, 1e-3):
        kw = dict(steps=200, lr=0.01, penalty=penalty, check_every=10)
        alone = [networks.fit(p, x, y, 0.7, **kw) for p in nets]
        params, seg = networks.pack(nets)
        search = networks.Search(networks.Pack(seg, "gradient"), x, y, 0.7, 200, 0.01, penalty, 10)
        packed = search.finish(search.advance(search.start(params), 200))
        for m, one in enumerate(alone):
            assert int(packed.steps[m]) == int(one.steps)
            np.testing.assert_allclose(float(packed.train_mse[m]), float(one.train_mse), rtol=1e-4)
            np.testing.assert_allclose(networks.unpack(packed.params, seg)[m].w, one.params.w, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("d", [6, 12])  # a pack of 9 units: input gradients directly (d ≤ 9), or the Gram matrix
def test_the_pack_penalty_is_each_networks_mean_squared_input_gradient(d):
    rng = np.random.default_rng(d)
    nets = [networks.init(rng, d, k) for k in (2, 3, 4)]
    params, seg = networks.pack(nets)
    x = jnp.asarray(rng.standard_normal((20, d)), jnp.float32)
    penalty, criterion = networks.Pack(seg, "gradient").roughness(networks.TwoLayer(*map(jnp.asarray, params)), x)
    for m, net in enumerate(nets):
        sq = jnp.sum(networks.input_gradients(networks.TwoLayer(*map(jnp.asarray, net)), x) ** 2, axis=1)
        np.testing.assert_allclose(penalty[m], jnp.mean(sq), rtol=1e-5)
        np.testing.assert_allclose(criterion[m], jnp.sqrt(jnp.max(sq)), rtol=1e-5)
