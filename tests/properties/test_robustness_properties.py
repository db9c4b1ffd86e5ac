"""Properties of Part 2 (docs/THEORY.md): concentration, bracket order, the certified bound."""

import itertools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st
from scipy.stats import beta

from eos.robustness import networks, theory
from eos.robustness.experiment import RobustnessConfig, run_robustness
from eos.robustness.floor import fit_floor
from eos.robustness.lower_bounds import lower_bound
from eos.robustness.upper_bounds import lipsdp, lipsdp_two_layer, path_norm, spectral_product

F64 = jnp.float64
SCALE = 20 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 1


def random_net(seed, d, k, bias_scale=0.5, spread=0.0) -> networks.TwoLayer:
    """A random two-layer network; `spread` > 0 gives its units and layers scales over that many decades."""
    rng = np.random.default_rng(seed)
    unit = 10.0 ** rng.uniform(-spread / 2, spread / 2, size=(k, 1))
    layer = 10.0 ** rng.uniform(-spread / 2, spread / 2)
    return networks.TwoLayer(
        jnp.asarray(rng.normal(size=(k, d)) * unit * layer),
        jnp.asarray(bias_scale * rng.normal(size=k) * unit[:, 0] * layer),
        jnp.asarray(rng.normal(size=k) / math.sqrt(k) / unit[:, 0] ** rng.uniform(0, 2)),
        jnp.asarray(rng.normal()),
    )


def clopper_pearson_lower(k: int, n: int, alpha: float) -> float:
    return 0.0 if k == 0 else float(beta.ppf(alpha, k, n - k + 1))


@given(seed=st.integers(0, 10**6), d=st.integers(2, 40), k=st.integers(1, 16))
@settings(max_examples=15 * SCALE)
def test_gaussian_concentration_of_lipschitz_networks(seed, d, k):
    """x ~ N(0, I/d), f L-Lipschitz (L certified): P(|f − E f| ≥ t) ≤ 2 exp(−d t²/(2L²)).

    E f is estimated from an independent sample; with m̂ within err of E f,
    {|f − m̂| ≥ t + err} ⊆ {|f − E f| ≥ t}. The test fails only if the Clopper–Pearson lower
    confidence bound (α = 1e-4) on the frequency of the former exceeds the bound at t.
    """
    alpha, m = 1e-4, 40_000
    p = random_net(seed, d, k)
    lip = min(path_norm(np.asarray(p.w), np.asarray(p.a)), spectral_product([np.asarray(p.w), np.asarray(p.a)[None]]))
    with jax.enable_x64(True):
        kx, km = jax.random.split(jax.random.key(seed))
        fx = np.asarray(networks.forward(p, jax.random.normal(kx, (m, d), F64) / math.sqrt(d)))
        mean = float(np.mean(networks.forward(p, jax.random.normal(km, (m, d), F64) / math.sqrt(d))))
    err = lip * math.sqrt(8 * math.log(2 / alpha) / (d * m))  # sub-Gaussian mean of m draws
    for q in (0.5, 0.1, 0.01):
        t = lip * math.sqrt(2 * math.log(2 / q) / d)  # bound(t) = q
        hits = int(np.sum(np.abs(fx - mean) >= t + err))
        low = clopper_pearson_lower(hits, m, alpha)
        assert low <= theory.gaussian_tail(d, t, lip), dict(seed=seed, d=d, k=k, L=lip, t=t, freq=hits / m, bound=q)


def exact_lipschitz(p: networks.TwoLayer) -> float:
    """Max ‖∇f‖ over the linear pieces of a two-layer ReLU network on R^1 or R^2, by enumeration."""
    w, b, a = (np.asarray(v, float) for v in (p.w, p.b, p.a))
    d = w.shape[1]
    grad = lambda x: ((w @ x + b > 0) * a) @ w
    if d == 1:
        cuts = np.sort(-b / w[:, 0])
        pts = np.concatenate([[cuts[0] - 1], (cuts[1:] + cuts[:-1]) / 2, [cuts[-1] + 1]])
        return float(max(abs(grad(np.array([x]))[0]) for x in pts))
    normals = w / np.linalg.norm(w, axis=1, keepdims=True)
    points = [np.zeros(2) + 1e3 * np.array([math.cos(t), math.sin(t)]) for t in np.linspace(0, 2 * math.pi, 64)]
    for i, j in itertools.combinations(range(len(w)), 2):
        v = np.linalg.solve(w[[i, j]], -b[[i, j]])
        others = [m for m in range(len(w)) if m not in (i, j)]
        dist = min([abs(w[m] @ v + b[m]) / np.linalg.norm(w[m]) for m in others], default=1.0)
        delta = 0.1 * min(dist, 1.0)
        points += [v + delta * (s1 * normals[i] + s2 * normals[j]) / 2 for s1 in (-1, 1) for s2 in (-1, 1)]
    for m in range(len(w)):  # the two sides of each line, for arrangements with a single line
        points += [-b[m] * w[m] / (w[m] @ w[m]) + s * 1e-3 * normals[m] for s in (-1, 1)]
    return float(max(np.linalg.norm(grad(x)) for x in points))


@given(seed=st.integers(0, 10**6), d=st.sampled_from([1, 2]), k=st.integers(1, 7), spread=st.sampled_from([0.0, 4.0]))
@settings(max_examples=15 * SCALE)
def test_bracket_order_against_the_exact_constant(seed, d, k, spread):
    """every lower bound ≤ exact Lip ≤ LipSDP-Neuron ≤ LipSDP-Layer ≤ ‖a‖‖W‖, and Neuron ≤ path norm.

    In 1-D and 2-D with k > d units the first layer is rank-deficient; `spread` = 4 puts the
    units' and layers' scales over four decades.
    """
    p = random_net(seed, d, k, spread=spread)
    exact = exact_lipschitz(p)
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(seed), (64, d), F64)
        low = lower_bound(lambda z: networks.forward(p, z), x, jax.random.key(seed + 1), steps=100)
    w, a = np.asarray(p.w), np.asarray(p.a)
    neuron, layer = lipsdp([w, a[None]], "neuron"), lipsdp([w, a[None]], "layer")
    info = dict(seed=seed, d=d, k=k, spread=spread, lower=low.by_method, exact=exact, neuron=neuron, layer=layer)
    assert neuron.ok and layer.ok, info
    assert max(low.by_method.values()) <= exact * (1 + 1e-9), info
    assert exact <= neuron.bound * (1 + 1e-9), info
    assert neuron.bound <= min(path_norm(w, a), layer.bound) * (1 + 1e-6), info
    assert layer.bound <= spectral_product([w, a[None]]) * (1 + 1e-6), info


def exact_lipschitz_independent(w: np.ndarray, a: np.ndarray) -> float:
    """Lip of x ↦ Σ_j a_j ReLU(w_j·x) when the distinct directions among the w_j are linearly
    independent: units along the same ray merge (c·ReLU(w·x) = ReLU(c w·x), c > 0), and then every
    activation pattern S occurs, so Lip = max_S ‖Σ_{j∈S} a_j w_j‖."""
    rays, coef = [], []
    for wj, aj in zip(w[a != 0], a[a != 0]):  # a unit with a_j = 0 adds nothing
        for i, r in enumerate(rays):
            c = (r @ wj) / (r @ r)
            if c > 0 and np.allclose(wj, c * r, rtol=1e-12, atol=0):
                coef[i] += aj * c
                break
        else:
            rays.append(wj)
            coef.append(aj)
    rays, coef = np.array(rays), np.array(coef)
    assert np.linalg.matrix_rank(rays) == len(rays)
    return max(np.linalg.norm((np.array(s) * coef) @ rays) for s in itertools.product([0, 1], repeat=len(rays)))


@given(
    seed=st.integers(0, 10**6),
    k=st.integers(1, 6),
    extra=st.integers(0, 3),
    spread=st.floats(0.0, 6.0),
    duplicates=st.integers(0, 2),
    zeros=st.integers(0, 1),
)
@settings(max_examples=40 * SCALE)
def test_lipsdp_certifies_unbalanced_networks_against_exact_constants(seed, k, extra, spread, duplicates, zeros):
    """exact Lip ≤ LipSDP-Neuron ≤ LipSDP-Layer ≤ ‖a‖‖W‖, for weights whose units and layers span
    `spread` decades, with duplicated units (positive multiples of a row) and units with a_j = 0;
    and Neuron is invariant under rescaling units (w_j s_j, a_j / s_j), as the function is."""
    rng = np.random.default_rng(seed)
    d = k + extra
    w = rng.normal(size=(k, d)) * 10.0 ** rng.uniform(-spread / 2, spread / 2, size=(k, 1))
    w *= 10.0 ** rng.uniform(-spread / 2, spread / 2)
    a = rng.normal(size=k) * 10.0 ** rng.uniform(-spread / 2, spread / 2, size=k)
    for _ in range(duplicates):
        j = rng.integers(len(a))
        w = np.vstack([w, 2.0 ** rng.integers(-8, 9) * w[j]])
        a = np.append(a, rng.normal() * abs(a[j]))
    if zeros:
        w, a = np.vstack([w, rng.normal(size=d)]), np.append(a, 0.0)
    exact = exact_lipschitz_independent(w, a)
    neuron, layer = lipsdp([w, a[None]], "neuron"), lipsdp([w, a[None]], "layer")
    s = 10.0 ** rng.uniform(-spread / 2, spread / 2, size=len(a))
    rescaled = lipsdp([w * s[:, None], (a / s)[None]], "neuron")
    first_order = {form: lipsdp_two_layer(w, a, form) for form in ("neuron", "layer")}
    info = dict(
        seed=seed,
        k=k,
        d=d,
        spread=spread,
        exact=exact,
        neuron=neuron,
        layer=layer,
        rescaled=rescaled,
        first_order=first_order,
    )
    assert neuron.ok and layer.ok and rescaled.ok, info
    assert first_order["neuron"].ok and first_order["layer"].ok, info
    # The first-order solver reaches the same optimum, and its dual value brackets it from below.
    assert abs(first_order["neuron"].bound - neuron.bound) <= 1e-5 * neuron.bound, info
    assert abs(first_order["layer"].bound - layer.bound) <= 1e-5 * layer.bound, info
    assert first_order["neuron"].solver_bound <= first_order["neuron"].bound * (1 + 1e-9), info
    assert exact <= first_order["neuron"].bound * (1 + 1e-9), info
    assert exact <= neuron.bound * (1 + 1e-9) and exact <= rescaled.bound * (1 + 1e-9), info
    assert neuron.bound <= layer.bound * (1 + 1e-6), info
    assert layer.bound <= spectral_product([w, a[None]]) * (1 + 1e-6), info
    assert abs(rescaled.bound - neuron.bound) <= 1e-4 * neuron.bound, info


args = dict(
    n=st.integers(10, 10**7),
    d=st.integers(1, 10**4),
    p=st.integers(1, 10**7),
    eps=st.floats(0.01, 1.0),
    delta=st.floats(1e-6, 0.5),
    W=st.floats(1.0, 1e4),
    J=st.floats(1.0, 1e4),
)


@given(**args, which=st.sampled_from(["n", "d", "eps", "p", "W", "J", "delta"]), factor=st.floats(1.01, 10.0))
@settings(max_examples=200 * SCALE)
def test_certified_bound_is_monotone_and_below_the_law(n, d, p, eps, delta, W, J, which, factor):
    """grows with n, d, ε; falls with p, W, J and 1/δ; never exceeds √(nd/p)."""
    kw = dict(n=n, d=d, p=p, eps=eps, delta=delta, diameter=W, jac=J)
    base = theory.certified_bound(**kw)
    name = {"W": "diameter", "J": "jac"}.get(which, which)
    bumped = dict(kw)
    bumped[name] = kw[name] * factor if name not in ("n", "d", "p") else int(math.ceil(kw[name] * factor))
    if name == "eps":
        bumped[name] = min(1.0, bumped[name])
    if name == "delta":
        bumped[name] = min(0.99, bumped[name])
    new = theory.certified_bound(**bumped)
    info = dict(kw, which=which, factor=factor, base=base, new=new)
    grows = name in ("n", "d", "eps", "delta")  # larger δ = smaller 1/δ
    assert (new >= base * (1 - 1e-12)) if grows else (new <= base * (1 + 1e-12)), info
    assert base <= theory.law_scale(n, d, p), info


@example(n=20, d=2, widths=[3], eps=0.5)  # a masked unit once made the path-norm gradient 0/0
@given(
    n=st.integers(20, 60),
    d=st.integers(2, 6),
    widths=st.lists(st.integers(1, 24), min_size=1, max_size=3, unique=True),
    eps=st.floats(0.1, 0.6),
)
@settings(max_examples=3 * SCALE, phases=[Phase.explicit, Phase.reuse, Phase.generate])  # training is slow to shrink
def test_trained_fits_respect_the_data_floor_and_their_brackets_are_ordered(n, d, widths, eps):
    """A network that fits below the noise level has Lip ≥ the data's floor, so its certified
    upper bound must be at least the floor; every bracket is ordered and says so."""
    r = run_robustness(
        RobustnessConfig(n=n, d=d, widths=tuple(sorted(widths)), seeds=1, eps=eps, steps=300, vary="width")
    )
    s = r.summary
    fits = s["fits_below_noise"]
    info = dict(n=n, d=d, widths=widths, eps=eps, floor=s["floor"], upper=s["lip_upper"], lower=s["lip_lower"])
    assert (s["bracket"] == "ok").all(), info
    assert (s["lip_lower"] <= s["lip_upper"] * (1 + 1e-9)).all(), info
    assert (s["lip_upper"][fits] >= s["floor"][fits] * (1 - 1e-9)).all(), info
    assert np.all(s["train_mse"][fits] <= s["noise_level"][fits] - eps + 1e-6), info


@given(seed=st.integers(0, 10**6), n=st.integers(4, 60), d=st.integers(1, 30), shrink=st.floats(0.0, 0.99))
@settings(max_examples=20 * SCALE)
def test_the_data_floor_lies_below_the_lipschitz_constant_of_a_known_fit(seed, n, d, shrink):
    """α·f for the RBF interpolant f (Lip known exactly) has MSE (1 − α)² on ±1 labels, so its
    Lipschitz constant α·Lip(f) must be at least the floor for that budget; the floor falls as
    the budget grows."""
    from eos.robustness import constructions

    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(seed), (n, d), F64) / math.sqrt(d)
        y = jnp.where(jax.random.bernoulli(jax.random.key(seed + 1), 0.5, (n,)), 1.0, -1.0)
        f = constructions.rbf_interpolant(x, y)
    alpha = 1.0 - shrink
    budget = shrink**2
    floor = fit_floor(np.asarray(x), np.asarray(y), budget)
    info = dict(seed=seed, n=n, d=d, alpha=alpha, floor=floor, lip=alpha * f.lipschitz)
    assert floor <= alpha * f.lipschitz * (1 + 1e-9), info
    assert fit_floor(np.asarray(x), np.asarray(y), budget + 0.1) <= floor + 1e-12, info


@pytest.mark.parametrize(
    "n,d,p,eps,delta,W,J",
    [
        (10**6, 100, 1000, 0.5, 0.01, 10.0, 10.0),
        (5000, 50, 20_000, 0.9, 0.1, 3.0, 2.0),
        (10**8, 10, 10, 0.2, 1e-4, 100.0, 1.0),
    ],
)
def test_certified_bound_matches_theorem_3_as_stated(n, d, p, eps, delta, W, J):
    """ε/(2⁹√c) · √(nd/(p·log(60WJ/ε) + log(4/δ))), written out again from [BS] Theorem 3 (c = 1)."""
    stated = (eps / 512.0) * (n * d / (p * math.log(60.0 * W * J / eps) + math.log(4.0 / delta))) ** 0.5
    assert theory.certified_bound(n, d, p, eps, delta, W, J) == pytest.approx(stated, rel=1e-12)
