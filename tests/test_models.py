import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from eos.dynamics import theory
from eos.dynamics.data import sparse_coding
from eos.dynamics.models import ModelSpec, ReluParams, make_model, rank_coordinates, relu_sums_dense, relu_sums_ranked
from eos.dynamics.sharpness import dense_sharpness


def test_auto_picks_the_search_on_a_cpu_and_the_count_on_accelerators():
    from eos.dynamics.models import resolve_impl

    assert resolve_impl("auto", "cpu") == "sorted"
    assert resolve_impl("auto", "gpu") == resolve_impl("auto", "tpu") == "counted"
    assert resolve_impl("dense", "gpu") == "dense"


def test_sparse_coding_has_one_signal_coordinate_per_sample():
    (x, y), _ = sparse_coding(jax.random.key(0), d=50, n=400, lam=30.0, sigma=1.0, dtype=jnp.float64)
    j = jnp.argmax(jnp.abs(x), axis=1)
    signal = x[jnp.arange(400), j]
    assert jnp.all(jnp.sign(signal) == y)
    noise = x.at[jnp.arange(400), j].set(0.0)
    assert abs(float(jnp.std(noise)) - 1.0) < 0.05


@pytest.mark.parametrize("block", [1, 7, 64, 2000])
@pytest.mark.parametrize("b", [-9.0, -2.5, -0.7, 0.0, 0.4, 9.0])
def test_ranked_relu_sums_and_their_slopes_equal_dense(b, block):
    x = jax.random.normal(jax.random.key(1), (30, 17), dtype=jnp.float64)
    x = x.at[3, 4].set(-b).at[5, 6].set(b)  # coordinates exactly at both kinks
    r = rank_coordinates(x, jnp.ones(30), block)
    for dense, fast in zip(relu_sums_dense(x, b), relu_sums_ranked(r, jnp.asarray(b))):
        np.testing.assert_allclose(fast, dense, rtol=1e-12, atol=1e-12)
    slope = lambda f: jax.jacfwd(lambda c: jnp.stack(f(c)))(jnp.asarray(b))
    np.testing.assert_array_equal(slope(lambda c: relu_sums_ranked(r, c)), slope(lambda c: relu_sums_dense(x, c)))


@pytest.mark.parametrize("impl", ["sorted", "counted"])
def test_ranked_relu_loss_gradient_and_hessian_equal_dense(impl):
    models = [make_model(ModelSpec(d=15, n=40, impl=name), jnp.float64) for name in (impl, "dense")]
    key = jax.random.key(2)
    p = ReluParams(jnp.asarray(0.3), jnp.asarray(-0.2), jnp.asarray(-0.45))
    values = []
    for m in models:
        train, _ = m.sample(key)
        f = lambda q: m.loss(q, train)
        values.append(jax.jit(lambda q: (f(q), jax.grad(f)(q), dense_sharpness(f, q)))(p))
    (l1, g1, h1), (l2, g2, h2) = values
    assert abs(l1 - l2) < 1e-12
    np.testing.assert_allclose(np.array(g1), np.array(g2), rtol=1e-10)
    assert abs(h1 - h2) < 1e-10 * abs(h2)


@pytest.mark.parametrize("d,b", [(10, 0.0), (50, -0.5), (200, -1.2)])
def test_mean_model_sharpness_at_zero_output_matches_closed_form(d, b):
    m = make_model(ModelSpec(model="mean", d=d), jnp.float64)
    p = ReluParams(jnp.asarray(0.01), jnp.asarray(-0.01), jnp.asarray(b))  # A = 0
    measured = dense_sharpness(lambda q: m.loss(q, ()), p)
    predicted = theory.mean_sharpness(d, b)
    assert abs(measured - predicted) < 1e-9 * predicted, (d, b, float(measured), predicted)


def test_closed_form_threshold_is_two_over_mean_sharpness_at_init():
    for d in (20, 200):
        assert math.isclose(theory.threshold_lr_closed_form(d), 2.0 / theory.mean_sharpness(d, 0.0), rel_tol=1e-12)


def test_mean_bias_above_solves_the_stability_equation():
    d, lr = 200, 0.004
    b = theory.mean_bias_above(d, lr)
    assert b < 0
    assert math.isclose(theory.mean_sharpness(d, b), 2.0 / lr, rel_tol=1e-9)
    assert math.isnan(theory.mean_bias_above(d, 0.5 * theory.threshold_lr_closed_form(d)))


def test_mlp_reports_negative_bias_fraction():
    m = make_model(ModelSpec(model="mlp", d=5, n=10, width=4, n_test=20), jnp.float64)
    train, test = m.sample(jax.random.key(0))
    p = m.init(jax.random.key(1), train)
    p = p._replace(b=jnp.array([-1.0, -0.5, 0.2, 0.0]))
    obs = m.observables(p, test)
    assert float(obs["neg_bias_frac"]) == 0.5
    assert math.isclose(float(obs["final_bias"]), -0.325)


def test_scatter_free_tables_equal_the_scatter_tables():
    x, y = sparse_coding(jax.random.key(4), 30, 50, 3.0, 1.0, 10, jnp.float64)[0]
    a, b = rank_coordinates(x, y), rank_coordinates(x, y, scatter_free=True)
    np.testing.assert_array_equal(a.count, b.count)
    np.testing.assert_allclose(a.total, b.total, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(a.v, b.v)


def test_mean_model_limit_below_the_transition_carries_sigma():
    """σ = 2, far below η*: gradient descent on the mean model ends at −(√(2π)/(8σ))(a⁺₀ + a⁻₀)²,
    half the σ = 1 formula (THEORY.md §1.3); the σ-less formula would be off by a factor 2."""
    from eos.dynamics import engine

    with jax.enable_x64(True):
        d, sigma = 50, 2.0
        m = make_model(ModelSpec(model="mean", d=d, sigma=sigma), jnp.float64)
        eta = 0.1 * theory.threshold_lr_closed_form(d, sigma)
        tr = engine.run(m, [eta], [0], [20000], dtype=jnp.float64, config=engine.EngineConfig(stride=999))
    p0 = jax.tree_util.tree_map(lambda a: float(a[0]), tr.initial_params)
    predicted = theory.mean_bias_below(d, p0.a_neg, p0.a_pos, sigma)
    measured = float(tr.observables["final_bias"][0])
    assert abs(measured - predicted) <= 0.2 * abs(predicted), (measured, predicted)
    assert abs(measured - theory.mean_bias_below(d, p0.a_neg, p0.a_pos)) > 0.3 * abs(predicted)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_the_logistic_loss_is_logaddexp_with_its_exact_first_and_second_derivatives(dtype):
    from eos.dynamics.losses import logistic

    with jax.enable_x64(dtype == jnp.float64):
        special = [0.0, -0.0, 1e-30, -1e-30, 30.0, -30.0, 80.0, -80.0, 800.0, -800.0, np.inf, -np.inf]
        m = jnp.asarray(np.concatenate([special, np.random.default_rng(0).normal(size=2000) * 10]), dtype)
        value = jax.vmap(logistic)(m)
        assert np.array_equal(value, jax.vmap(lambda x: jnp.logaddexp(0.0, -x))(m))  # the value, bit for bit
        grad = jax.vmap(jax.grad(logistic))(m)
        np.testing.assert_allclose(grad, -jax.nn.sigmoid(-m), rtol=4 * jnp.finfo(dtype).eps, atol=0)
        # σ(m)σ(−m) everywhere: 1/4 at m = 0 (where autodiff of |m| alone gives 0), no cancellation in the tails
        hess = jax.vmap(jax.grad(jax.grad(logistic)))(m)
        np.testing.assert_allclose(hess, jax.nn.sigmoid(m) * jax.nn.sigmoid(-m), rtol=8 * jnp.finfo(dtype).eps, atol=0)
        assert hess[0] == hess[1] == 0.25
