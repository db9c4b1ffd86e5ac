"""Properties of Part 1 (docs/THEORY.md), checked on instances hypothesis generates.

Each failing example is printed by hypothesis and repeated in the assertion message, so it
can be replayed with the same sizes, η and seed.
"""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from eos.dynamics import engine, theory
from eos.dynamics.config import ModelSpec
from eos.dynamics.losses import LOSSES
from eos.dynamics.model import Model
from eos.dynamics.registry import builtin_models, make_model
from eos.dynamics.sharpness import dense_sharpness

F64 = jnp.float64
# Example counts below are the `ci` profile's; `thorough` (HYPOTHESIS_PROFILE=thorough) runs 20×.
SCALE = 20 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 1
losses = st.sampled_from(sorted(LOSSES))
sub_quadratic = st.sampled_from(["logcosh", "sqrt", "logistic"])


def run(model, lrs, horizons, seeds=None, stride=7, **kw):
    seeds = [0] * len(lrs) if seeds is None else seeds
    return engine.run(model, lrs, seeds, horizons, dtype=F64, config=engine.EngineConfig(stride=stride, **kw))


@given(loss=losses, x=st.floats(-3, 3), y=st.floats(-3, 3), lr=st.floats(1e-3, 2.0), steps=st.integers(1, 3))
@settings(max_examples=50 * SCALE)
def test_product_step_identity(loss, x, y, lr, steps):
    """y'² − x'² = (1 − η² ℓ'(xy)²)(y² − x²) for every GD step on ℓ(xy), checked on the steps the
    engine itself takes (its recorded trace of (x, y), one record per step)."""
    with jax.enable_x64(True):
        m = make_model(ModelSpec(model="product", loss=loss, x0=x, y0=y), F64)
        tr = run(m, [lr], [steps], stride=1)
        # A member whose loss explodes is frozen at that step: only the steps before it are GD's.
        taken = steps if tr.diverged_step[0] < 0 else max(0, tr.diverged_step[0] - 1)
        path = tr.trace[0, : taken + 1]
        for (x0, y0), (x1, y1) in zip(path[:-1], path[1:]):
            d = float(jax.grad(LOSSES[loss].value)(jnp.asarray(x0 * y0, F64)))
            lhs, rhs = y1**2 - x1**2, (1 - lr**2 * d**2) * (y0**2 - x0**2)
            scale = max(1.0, y1**2 + x1**2, y0**2 + x0**2)
            assert abs(lhs - rhs) <= 1e-12 * scale, dict(
                loss=loss, x=x, y=y, lr=lr, step=(x0, y0, x1, y1), lhs=lhs, rhs=rhs
            )


def quadratic_model(curvatures) -> Model:
    """L(θ) = ½ Σ λ_i θ_i²: a model record built here, run by the unchanged engine."""
    lam = jnp.asarray(curvatures, F64)
    return Model(
        "quadratic",
        lambda key: ((), ()),
        lambda key, train: jnp.ones_like(lam),
        lambda p, train: 0.5 * jnp.sum(lam * p**2),
        lambda p: p[0],
        lambda p, test: {"final_norm": jnp.linalg.norm(p)},
        lambda p, train: jnp.asarray(False),
    )


@given(
    curv=st.lists(st.floats(0.1, 100.0), min_size=1, max_size=4),
    margin=st.floats(0.05, 0.5),
    steps=st.integers(10, 4000),
)
@settings(max_examples=15 * SCALE)
def test_gd_on_a_quadratic_is_stable_exactly_below_two_over_lambda(curv, margin, steps):
    """GD multiplies coordinate i by (1 − ηλ_i) each step. Below 2/λ_max every factor is below 1 in
    size, so ‖θ_T‖ ≤ ρ^T ‖θ_0‖ with ρ = max_i |1 − ηλ_i| < 1 (what stability implies; how small
    θ_T is depends on the smallest curvature); above 2/λ_max the top coordinate grows as ρ^T > 1."""
    top = max(curv)
    lrs = [(2 / top) * (1 - margin), (2 / top) * (1 + margin)]
    with jax.enable_x64(True):
        tr = run(quadratic_model(curv), lrs, [steps, steps], stride=50)
    sharp = tr.sharpness[0, 0]
    rho = max(abs(1 - lrs[0] * c) for c in curv)
    bound = rho**steps * math.sqrt(len(curv))
    info = dict(curv=curv, margin=margin, steps=steps, rho=rho, bound=bound)
    assert abs(sharp - top) <= 1e-9 * top, (curv, sharp)
    assert tr.diverged_step[0] == -1 and tr.observables["final_norm"][0] <= bound * (1 + 1e-9) + 1e-300, info
    log_grown = steps * math.log(abs(1 - lrs[1] * top))  # > 0; in logs, as ρ^T overflows
    assert tr.diverged_step[1] >= 0 or math.log(tr.observables["final_norm"][1]) >= log_grown - 1e-9, info


@given(
    model=st.sampled_from(sorted(builtin_models())), seed=st.integers(0, 10**6), lr=st.floats(0.001, 0.2), loss=losses
)
@settings(max_examples=8 * SCALE)
def test_engine_sharpness_equals_dense_hessian(model, seed, lr, loss):
    spec = ModelSpec.of(model, d=5, n=16, n_test=8, width=4, loss=loss, x0=0.4, y0=1.3)
    with jax.enable_x64(True):
        m = make_model(spec, F64)
        tr = run(m, [lr], [9], seeds=[seed], stride=3)
        train, _ = m.sample(jax.random.fold_in(jax.random.key(seed), 0))
        p = jax.tree_util.tree_map(lambda a: jnp.asarray(a[0]), tr.final_params)
        ref = float(dense_sharpness(lambda q: m.loss(q, train), p))
    last = tr.sharpness[0, (tr.step[0] >= 0).sum() - 1]
    assert abs(last - ref) <= 1e-6 * max(1.0, abs(ref)), dict(
        model=model, seed=seed, lr=lr, loss=loss, engine=last, dense=ref
    )


@given(loss=losses, y0=st.floats(1.0, 6.0), ratio=st.floats(0.05, 0.5), r=st.floats(0.05, 0.5))
@settings(max_examples=15 * SCALE)
def test_product_below_transition_tracks_gradient_flow(loss, y0, ratio, r):
    """η = r·η*, r ≤ ½: y∞² lies in [(y₀² − x₀²) exp(−ηκx₀²/(1 − r)), y₀² − x₀²].

    Upper end: the step identity shrinks y² − x² at every step. Lower end (derived here):
    Σ_t η²ℓ'(x_t y_t)² ≤ η²κ²y² Σ x_t² with x_t contracting by |1 − ηκy²| ≈ |1 − 2r|.
    """
    x0 = ratio * y0
    kappa = LOSSES[loss].curvature
    eta = r * theory.product_threshold_lr(kappa, x0, y0)
    with jax.enable_x64(True):
        tr = run(make_model(ModelSpec(model="product", loss=loss, x0=x0, y0=y0), F64), [eta], [int(60 / r)])
    gf = y0**2 - x0**2
    y2 = tr.observables["final_y"][0] ** 2 + tr.observables["final_x"][0] ** 2
    low = gf * math.exp(-eta * kappa * x0**2 / (1 - r))
    assert low * (1 - 1e-9) <= y2 <= gf * (1 + 1e-9), dict(loss=loss, y0=y0, x0=x0, eta=eta, y2=y2, low=low, gf=gf)


@given(
    loss=sub_quadratic,
    y0=st.floats(5.5, 8.0),
    ratio=st.floats(0.05, 0.5),
    r=st.floats(1.2, 2.0),
    jitter=st.floats(0.5, 2.0),
)
@settings(max_examples=15 * SCALE)
def test_product_above_transition_self_stabilises_below_two_over_eta(loss, y0, ratio, r, jitter):
    """η = r·η* with ηκ ≤ 0.2: the final sharpness κy∞² sits below 2/η with a gap within 10 % of
    κ²η/(2c) (THEORY.md §1.4), and a second start (y₀·jitter^½, x₀·jitter) ends at the same point."""
    spec = LOSSES[loss]
    x0 = ratio * y0
    eta = r * theory.product_threshold_lr(spec.curvature, x0, y0)
    starts = [(x0, y0), (x0 * jitter, y0 * math.sqrt(1.5 + jitter))]
    finals = []
    with jax.enable_x64(True):
        for x, y in starts:
            tr = run(make_model(ModelSpec(model="product", loss=loss, x0=x, y0=y), F64), [eta], [3000])
            assert tr.diverged_step[0] == -1
            finals.append(tr.sharpness[0, (tr.step[0] >= 0).sum() - 1])
    gap = 2 / eta - np.array(finals)
    predicted = 2 / eta - theory.product_final_sharpness_above(eta, spec.curvature, spec.c)
    info = dict(loss=loss, y0=y0, x0=x0, eta=eta, finals=finals, predicted_gap=predicted)
    assert (gap > 0).all(), info
    assert (np.abs(gap / predicted - 1) <= 0.1).all(), info
    assert abs(finals[0] - finals[1]) <= 0.01 * finals[0], info


@given(
    d=st.integers(20, 400), seed=st.integers(0, 10**6), r=st.floats(0.02, 0.2), sigma=st.sampled_from([0.5, 1.0, 2.0])
)
@settings(max_examples=10 * SCALE)
def test_mean_model_bias_below_transition_is_order_one_over_d(d, seed, r, sigma):
    """Well below η* the mean model's bias ends near −(√(2π)/(8σ))(a⁺₀ + a⁻₀)² (THEORY.md §1.3), O(1/d).

    The limit is gradient flow's; at η = η*/2 gradient descent removes A in about one step instead
    of flowing (it is off by 2× at d = 20), so the property is stated for η ≤ η*/5.
    """
    eta = r * theory.threshold_lr_closed_form(d, sigma)
    with jax.enable_x64(True):
        m = make_model(ModelSpec(model="mean", d=d, sigma=sigma), F64)
        tr = run(m, [eta], [int(40 / r)], seeds=[seed])
    p0 = jax.tree_util.tree_map(lambda a: float(a[0]), tr.initial_params)
    predicted = theory.mean_bias_below(d, p0.a_neg, p0.a_pos, sigma)
    b = tr.observables["final_bias"][0]
    info = dict(d=d, sigma=sigma, seed=seed, eta=eta, final_bias=b, predicted=predicted)
    assert abs(b) * d <= 5.0 * max(1.0, (p0.a_neg + p0.a_pos) ** 2 * d), info
    assert abs(b - predicted) <= 0.25 * abs(predicted) + 0.02 / d, info


@given(
    lrs=st.lists(st.floats(0.01, 0.5), min_size=2, max_size=5),
    horizons=st.lists(st.integers(1, 60), min_size=5, max_size=5),
    blowup=st.floats(3.0, 40.0),
)
@settings(max_examples=6 * SCALE)
def test_pooled_sweep_equals_members_alone_and_divergence_is_isolated(lrs, horizons, blowup):
    m = make_model(ModelSpec(model="product", loss="quadratic", x0=0.3, y0=1.5), F64)
    lrs = np.array(lrs)
    hs = np.array(horizons[: len(lrs)])
    with jax.enable_x64(True):
        pooled = run(m, np.append(lrs, blowup), np.append(hs, 60), stride=4, max_slots=2)
        assert pooled.diverged_step[-1] >= 0
        for i in range(len(lrs)):
            alone = run(m, lrs[i : i + 1], hs[i : i + 1], stride=4, max_slots=1)
            r = alone.loss.shape[1]
            info = dict(lr=lrs[i], horizon=hs[i], blowup=blowup)
            np.testing.assert_array_equal(pooled.loss[i, :r], alone.loss[0], err_msg=str(info))
            assert pooled.diverged_step[i] == alone.diverged_step[0], info


@given(
    d=st.integers(50, 400), seed=st.integers(0, 10**6), r=st.floats(1.5, 4.0), sigma=st.sampled_from([0.5, 1.0, 2.0])
)
@settings(max_examples=8 * SCALE)
def test_mean_model_above_transition_stops_where_the_sharpness_is_two_over_eta(d, seed, r, sigma):
    """Above η* the mean model drives b down until the sharpness is just under 2/η: b_∞ solves
    σ g(b_∞/σ) = 2/(d√η) (THEORY.md §1.3). That holds where it is the binding limit, i.e. where it
    lies well below the bias gradient flow already reaches (−(√(2π)/(8σ))A₀², set by the init),
    and where 100 ≤ dσ ≤ 400: below, the O(1/(dσ)) start is not negligible (b ends 45 % below the
    formula at d = 100, σ = 0.5, r = 2, and 3× at dσ = 25); above 400, η* is so small that 5000
    steps are too short a time to settle. In every case the run ends stable, sharpness ≤ 2/η."""
    assume(100 <= d * sigma <= 400)
    eta = r * theory.threshold_lr_closed_form(d, sigma)
    with jax.enable_x64(True):
        tr = run(make_model(ModelSpec(model="mean", d=d, sigma=sigma), F64), [eta], [5000], seeds=[seed], stride=49)
    p0 = jax.tree_util.tree_map(lambda a: float(a[0]), tr.initial_params)
    above, below = theory.mean_bias_above(d, eta, sigma), theory.mean_bias_below(d, p0.a_neg, p0.a_pos, sigma)
    b = tr.observables["final_bias"][0]
    held = tr.sharpness[0, (tr.step[0] >= 0).sum() - 1] * eta / 2
    info = dict(d=d, sigma=sigma, seed=seed, r=r, final_bias=b, predicted_above=above, below=below, held=held)
    assert tr.diverged_step[0] == -1 and held <= 1.0 + 1e-6, info
    if above < 2 * below:
        assert abs(b / above - 1) <= 0.1, info
        assert held >= 0.85, info
