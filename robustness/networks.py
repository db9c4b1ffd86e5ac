"""Two-layer ReLU networks f(x) = Σ_j a_j ReLU(w_j·x + b_j) + c and their training.

Networks of several widths are trained together: each is padded to a common width with
a mask m ∈ {0, 1}^K (a masked unit contributes m_j a_j ReLU(·) = 0 and gets zero gradient),
so one compiled program serves every width of a bucket.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from .config import REGULARISERS  # noqa: F401  (kept importable here)


class TwoLayer(NamedTuple):
    w: jax.Array  # (k, d)
    b: jax.Array  # (k,)
    a: jax.Array  # (k,)
    c: jax.Array  # ()


def param_count(d: int, k: int) -> int:
    """Trained parameters of a width-k network on R^d: k(d + 2) + 1."""
    return k * (d + 2) + 1


def init(key, d: int, k: int, dtype=jnp.float32) -> TwoLayer:
    """w_j ~ N(0, I_d) (pre-activations O(1) for inputs of norm ≈ 1), b = 0, a_j ~ N(0, 1/k), c = 0."""
    k_w, k_a = jax.random.split(key)
    return TwoLayer(
        jax.random.normal(k_w, (k, d), dtype),
        jnp.zeros((k,), dtype),
        jax.random.normal(k_a, (k,), dtype) / jnp.sqrt(k).astype(dtype),
        jnp.zeros((), dtype),
    )


def forward(p: TwoLayer, x, mask=None):
    """f(x) for x (..., d); mask (k,) switches units off."""
    a = p.a if mask is None else p.a * mask
    return jax.nn.relu(x @ p.w.T + p.b) @ a + p.c


def masked(p: TwoLayer, mask) -> TwoLayer:
    """The same function with masked units zeroed (their weights no longer matter)."""
    keep = mask.astype(p.w.dtype)
    return TwoLayer(p.w * keep[:, None], p.b * keep, p.a * keep, p.c)


def path_norm(p: TwoLayer):
    """Σ_j |a_j| ‖w_j‖₂, a certified ℓ2 Lipschitz upper bound (differentiable almost everywhere)."""
    sq = jnp.sum(p.w**2, axis=1)
    # ‖w_j‖ has no derivative at w_j = 0 (masked units): take 0 there instead of 0/0.
    norms = jnp.where(sq > 0, jnp.sqrt(jnp.where(sq > 0, sq, 1.0)), 0.0)
    return jnp.sum(jnp.abs(p.a) * norms)


def input_gradients(p: TwoLayer, x, mask=None):
    """∇_x f at each row of x: (n, d). ∇f(x) = Σ_j a_j 1[w_j·x + b_j > 0] w_j."""
    a = p.a if mask is None else p.a * mask
    return ((x @ p.w.T + p.b > 0).astype(x.dtype) * a) @ p.w


def roughness(p: TwoLayer, x, mask, regulariser: str):
    """(penalty, criterion): what the smoothest-fit search adds to the loss, and what it minimises.

    gradient  penalty mean_i ‖∇f(x_i)‖², criterion max_i ‖∇f(x_i)‖ (a lower bound on Lip(f));
    path      penalty and criterion the path norm Σ_j |a_j| ‖w_j‖ (an upper bound on Lip(f)).
    """
    if regulariser == "gradient":
        sq = jnp.sum(input_gradients(p, x, mask) ** 2, axis=1)
        return jnp.mean(sq), jnp.sqrt(jnp.max(sq))
    pen = path_norm(masked(p, mask))
    return pen, pen


class FitResult(NamedTuple):
    params: TwoLayer
    train_mse: jax.Array
    steps: jax.Array  # steps taken
    fitted: jax.Array  # reached train MSE ≤ target
    roughness: jax.Array  # the search's criterion at the returned fit
    first_roughness: jax.Array  # the criterion at the first iterate that fitted (inf if none)


def fit(
    params: TwoLayer,
    mask,
    x,
    y,
    target,
    *,
    steps: int,
    lr: float,
    penalty: float = 0.0,
    regulariser: str = "gradient",
    check_every: int = 25,
) -> FitResult:
    """Full-batch Adam on the MSE, until MSE ≤ target or `steps` (penalty = 0).

    With penalty μ₀ > 0 it looks for the smoothest fit instead: it minimises MSE + μ·penalty
    (see `roughness`) over the whole budget, adapting μ every `check_every` steps (×1.25 while
    the fit is below target, ÷1.25 above it) so the MSE settles at the target, and returns the
    fitting iterate of least criterion. In one call; `Search` runs the same search in slices.
    """
    search = Search(x, y, mask, target, steps, lr, penalty, regulariser, check_every)
    return search.finish(search.advance(search.start(params), steps))


class Search(NamedTuple):
    """The search `fit` runs, as three pure functions of its state, so that a caller can run it in
    slices of steps (a progress report and a safe point between them) with the numbers of one
    call: `advance(state, stop)` takes check rounds while the search is on and its step count is
    below `stop`, and the rounds are the same whatever the slicing (stops that are multiples of
    check_every)."""

    x: jax.Array
    y: jax.Array
    mask: jax.Array
    target: jax.Array
    steps: int
    lr: float
    penalty: float
    regulariser: str
    check_every: int

    def _mse(self, p):
        return jnp.mean((forward(p, self.x, self.mask) - self.y) ** 2)

    def _rough(self, p):
        return roughness(p, self.x, self.mask, self.regulariser)

    def start(self, params: TwoLayer) -> dict:
        mse0 = self._mse(params)
        inf = jnp.asarray(jnp.inf, mse0.dtype)
        return dict(
            p=params,
            state=optax.adam(self.lr).init(params),
            t=jnp.asarray(0),
            mse=mse0,
            mu=jnp.asarray(self.penalty, mse0.dtype),
            best=params,
            best_rough=inf,
            best_mse=mse0,
            first=inf,
        )

    def advance(self, c: dict, stop) -> dict:
        opt, smooth = optax.adam(self.lr), self.penalty > 0

        def inner(carry, _):
            p, state, mu = carry
            loss = lambda q: self._mse(q) + mu * self._rough(q)[0]
            updates, state = opt.update(jax.grad(loss)(p), state, p)
            return (optax.apply_updates(p, updates), state, mu), None

        def cond(c):
            return (c["t"] < jnp.minimum(self.steps, stop)) & (smooth | (c["mse"] > self.target))

        def body(c):
            (p, state, _), _ = jax.lax.scan(inner, (c["p"], c["state"], c["mu"]), None, length=self.check_every)
            mse = self._mse(p)
            rough = self._rough(p)[1]
            better = (mse <= self.target) & (rough < c["best_rough"])
            mu = jnp.where(mse <= self.target, c["mu"] * 1.25, c["mu"] / 1.25) if smooth else c["mu"]
            best = jax.tree_util.tree_map(lambda b, q: jnp.where(better, q, b), c["best"], p)
            first = jnp.where(jnp.isinf(c["first"]) & (mse <= self.target), rough, c["first"])
            return dict(
                p=p,
                state=state,
                t=c["t"] + self.check_every,
                mse=mse,
                mu=mu,
                best=best,
                first=first,
                best_rough=jnp.where(better, rough, c["best_rough"]),
                best_mse=jnp.where(better, mse, c["best_mse"]),
            )

        return jax.lax.while_loop(cond, body, c)

    def finish(self, c: dict) -> FitResult:
        found = jnp.isfinite(c["best_rough"])
        final = jax.tree_util.tree_map(lambda b, q: jnp.where(found, b, q), c["best"], c["p"])
        mse = jnp.where(found, c["best_mse"], c["mse"])
        rough = jnp.where(found, c["best_rough"], self._rough(c["p"])[1])
        return FitResult(masked(final, self.mask), mse, c["t"], mse <= self.target, rough, c["first"])
