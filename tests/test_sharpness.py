import jax
import jax.numpy as jnp
import numpy as np
import pytest

from eos.dynamics.models import ModelSpec, make_model
from eos.dynamics.sharpness import dense_sharpness, lanczos_top, sharpness

SMALL = dict(d=6, n=12, width=5, n_test=10)


@pytest.mark.parametrize("model", ["relu", "mlp", "mean", "product"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lanczos_sharpness_matches_dense_hessian(model, seed):
    spec = ModelSpec.of(model, loss="sqrt", x0=0.3 + 0.2 * seed, y0=1.5, **SMALL)
    m = make_model(spec, jnp.float64)
    train, _ = m.sample(jax.random.key(seed))
    params = m.init(jax.random.key(100 + seed), train)
    if model in ("relu", "mean"):  # move off the initial b = 0 so the b-row of the Hessian matters
        params = params._replace(b=jnp.asarray(-0.3))
    loss = lambda p: m.loss(p, train)
    fast, _ = jax.jit(lambda p: sharpness(loss, p, steps=64))(params)
    ref = dense_sharpness(loss, params)
    assert abs(fast - ref) <= 1e-4 * abs(ref), (model, seed, float(fast), float(ref))


def test_lanczos_finds_largest_algebraic_not_largest_magnitude():
    h = jnp.diag(jnp.array([-10.0, 0.5, 1.0, 2.0], dtype=jnp.float64))
    q, _ = jnp.linalg.qr(jax.random.normal(jax.random.key(3), (4, 4), dtype=jnp.float64))
    a = q @ h @ q.T
    top, vec = lanczos_top(lambda v: a @ v, jnp.ones(4, jnp.float64), 20)
    assert abs(top - 2.0) < 1e-10, float(top)
    assert np.allclose(a @ vec, 2.0 * vec, atol=1e-8)


def test_lanczos_with_few_steps_is_a_lower_bound_and_warm_start_improves_it():
    key = jax.random.key(4)
    g = jax.random.normal(key, (200, 200), dtype=jnp.float64)
    a = (g + g.T) / 2
    exact = jnp.linalg.eigvalsh(a)[-1]
    est, vec = lanczos_top(lambda v: a @ v, jnp.ones(200, jnp.float64), 10)
    assert est <= exact + 1e-9
    est2, _ = lanczos_top(lambda v: a @ v, vec, 10)
    assert est <= est2 + 1e-12 <= exact + 1e-9


def test_lanczos_reports_nan_when_its_basis_cannot_be_trusted():
    """A matvec that is not a symmetric linear map (as if rounding had destroyed the basis's
    orthogonality) fails the Rayleigh-quotient check: NaN, not a plausible number."""
    import jax.numpy as jnp

    from eos.dynamics.sharpness import lanczos_top

    a = jnp.diag(jnp.arange(1.0, 9.0))
    skew = jnp.triu(jnp.ones((8, 8)), 1) * 3.0
    good, _ = lanczos_top(lambda v: a @ v, jnp.ones(8), 8)
    bad, _ = lanczos_top(lambda v: (a + skew) @ v, jnp.ones(8), 8)
    assert abs(float(good) - 8.0) < 1e-9
    assert jnp.isnan(bad)
