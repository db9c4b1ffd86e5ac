import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from robustness import constructions, networks, theory
from robustness.experiment import RobustnessConfig, fit_slope, load, run_robustness
from robustness.lipschitz import lower_bound, two_layer_bracket


@pytest.fixture(scope="module")
def small_run():
    return run_robustness(RobustnessConfig(n=120, d=8, widths=(2, 8, 32), seeds=2, eps=0.3, steps=600))


def test_every_bracket_is_ordered_and_fits_respect_the_certified_bound(small_run):
    s = small_run.summary
    assert (s["lip_lower"] <= s["lip_upper"] * (1 + 1e-9)).all(), s
    fits = s["fits_below_noise"]
    assert fits.any()
    assert (s["lip_upper"][fits] >= s["certified_bound"][fits]).all()
    assert (s["certified_bound"] < s["law_scale"]).all()
    assert (s["train_mse"][fits] <= s["noise_level"][fits] - 0.3 + 1e-6).all()


def test_result_round_trips(small_run, tmp_path):
    back = load(small_run.save(tmp_path / "r"))
    assert back.config == small_run.config
    for k, v in small_run.summary.items():
        np.testing.assert_array_equal(back.summary[k], v, err_msg=k)
    assert back.slope == small_run.slope


def test_param_count_is_the_number_of_trained_parameters():
    p = networks.init(jax.random.key(0), 7, 5)
    assert sum(a.size for a in p) == networks.param_count(7, 5) == 5 * 9 + 1


def test_fit_slope_recovers_a_power_law():
    p = np.array([10, 100, 1000, 10000.0])
    fit = fit_slope(p, 3 * p ** -0.5, np.ones(4, bool))
    assert abs(fit["slope"] + 0.5) < 1e-12 and fit["stderr"] < 1e-9


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
        row = two_layer_bracket(p, x * (1 - s / 2), jax.random.key(6))
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
