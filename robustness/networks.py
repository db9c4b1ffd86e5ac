"""Two-layer ReLU networks f(x) = Σ_j a_j ReLU(w_j·x + b_j) + c and their training.

Networks of several widths are trained together as one *pack*: their units stacked into one
(K, d) matrix, `seg[j]` naming the network unit j belongs to, one output bias per network. The
networks share no parameter and their losses are summed, so each one's gradient (and Adam, which
acts elementwise) is exactly its own; the data are read once per step for all of them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
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


def init(rng: np.random.Generator, d: int, k: int, dtype=np.float32) -> TwoLayer:
    """w_j ~ N(0, I_d) (pre-activations O(1) for inputs of norm ≈ 1), b = 0, a_j ~ N(0, 1/k), c = 0."""
    w = rng.standard_normal((k, d)).astype(dtype)
    a = (rng.standard_normal(k) / math.sqrt(k)).astype(dtype)
    return TwoLayer(w, np.zeros(k, dtype), a, np.zeros((), dtype))


def forward(p: TwoLayer, x):
    """f(x) for x (..., d)."""
    return jax.nn.relu(x @ p.w.T + p.b) @ p.a + p.c


def input_gradients(p: TwoLayer, x):
    """∇_x f at each row of x: (n, d). ∇f(x) = Σ_j a_j 1[w_j·x + b_j > 0] w_j."""
    return ((x @ p.w.T + p.b > 0).astype(x.dtype) * p.a) @ p.w


def pack(nets: list[TwoLayer]) -> tuple[TwoLayer, np.ndarray]:
    """One pack of the networks (units stacked, biases c as a vector) and seg, each unit's network."""
    cat = np.concatenate if all(isinstance(p.w, np.ndarray) for p in nets) else jnp.concatenate
    joined = TwoLayer(
        *(cat([p_field.reshape(-1) if p_field.ndim == 0 else p_field for p_field in fields]) for fields in zip(*nets))
    )
    return joined, segments([p.a.shape[0] for p in nets])


def segments(widths) -> np.ndarray:
    """seg of a pack of networks of these widths: the network each unit belongs to."""
    return np.repeat(np.arange(len(widths)), widths)


def unpack(p: TwoLayer, seg) -> list[TwoLayer]:
    """The networks of a pack, in order."""
    seg = np.asarray(seg)
    return [TwoLayer(p.w[seg == m], p.b[seg == m], p.a[seg == m], p.c[m]) for m in range(int(seg.max()) + 1)]


class Pack(NamedTuple):
    """The functions of a pack of networks over one data set: every value is one per network."""

    seg: np.ndarray  # (K,) the network of each unit
    regulariser: str

    @property
    def owner(self):
        """(K, M) one-hot: unit j belongs to network m."""
        return jax.nn.one_hot(self.seg, int(self.seg.max()) + 1)

    def outputs(self, p: TwoLayer, x):
        """(n, M): each network's f at each row of x."""
        return (jax.nn.relu(x @ p.w.T + p.b) * p.a) @ self.owner + p.c

    def mse(self, p: TwoLayer, x, y):
        return jnp.mean((self.outputs(p, x) - y[:, None]) ** 2, axis=0)

    def roughness(self, p: TwoLayer, x):
        """(penalty, criterion), one each per network: what the smoothest-fit search adds to the loss and
        what it minimises.

        gradient  penalty mean_i ‖∇f(x_i)‖², criterion max_i ‖∇f(x_i)‖ (a lower bound on Lip(f)). With
                  q_i = a ∘ 1[W x_i + b > 0], ‖∇f(x_i)‖² = q_iᵀ (W Wᵀ) q_i: O(nK² + K²d) for the penalty
                  and its gradient instead of O(nKd), since the Gram matrix is formed once — where the
                  pack's K units are fewer than d; otherwise each network's n × d gradients directly.
        path      penalty and criterion the path norm Σ_j |a_j| ‖w_j‖ (an upper bound on Lip(f)).
        """
        owner = self.owner
        if self.regulariser == "gradient":
            q = (x @ p.w.T + p.b > 0).astype(x.dtype) * p.a
            units, d = p.w.shape
            if units < d:  # the Gram matrix is the cheaper way: O(nK²) against O(nKd)
                gram = (p.w @ p.w.T) * (owner @ owner.T)  # only units of one network interact
                sq = ((q @ gram) * q) @ owner  # (n, M)
            else:  # wide packs: each network's input gradients, its units a contiguous block
                edges = np.flatnonzero(np.diff(np.r_[-1, self.seg, -1]))
                sq = jnp.stack(
                    [jnp.sum((q[:, a:b] @ p.w[a:b]) ** 2, axis=1) for a, b in zip(edges[:-1], edges[1:])], axis=1
                )
            return jnp.mean(sq, axis=0), jnp.sqrt(jnp.maximum(jnp.max(sq, axis=0), 0.0))
        norms = jnp.sqrt(jnp.sum(p.w**2, axis=1))
        pen = (jnp.abs(p.a) * norms) @ owner
        return pen, pen


class FitResult(NamedTuple):
    params: TwoLayer  # the pack
    train_mse: jax.Array  # one per network, as every field below
    steps: jax.Array  # steps taken
    fitted: jax.Array  # reached train MSE ≤ target
    roughness: jax.Array  # the search's criterion at the returned fit
    first_roughness: jax.Array  # the criterion at the first iterate that fitted (inf if none)


def fit(
    params: TwoLayer,
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
    """Full-batch Adam on the MSE of one network, until MSE ≤ target or `steps` (penalty = 0).

    With penalty μ₀ > 0 it looks for the smoothest fit instead: it minimises MSE + μ·penalty
    (see `Pack.roughness`) over the whole budget, adapting μ every `check_every` steps (×1.25 while
    the fit is below target, ÷1.25 above it) so the MSE settles at the target, and returns the
    fitting iterate of least criterion. In one call; `Search` runs the same search, for a pack, in slices.
    """
    packed, seg = pack([params])
    search = Search(Pack(seg, regulariser), x, y, target, steps, lr, penalty, check_every)
    out = search.finish(search.advance(search.start(packed), steps))
    return FitResult(unpack(out.params, seg)[0], *(v[0] for v in out[1:]))


class Search(NamedTuple):
    """The search `fit` runs, for every network of a pack at once, as three pure functions of its
    state, so that a caller can run it in slices of steps (a progress report and a safe point between
    them) with the numbers of one call: `advance(state, stop)` takes check rounds while the search is on
    and its step count is below `stop`, and the rounds are the same whatever the slicing (stops that are
    multiples of check_every). Each network keeps its own μ, its own best iterate and, without a
    penalty, stops moving at its first fit."""

    pack: Pack
    x: jax.Array
    y: jax.Array
    target: jax.Array
    steps: int
    lr: float
    penalty: float
    check_every: int

    def start(self, params: TwoLayer) -> dict:
        mse0 = self.pack.mse(params, self.x, self.y)
        inf = jnp.full_like(mse0, jnp.inf)
        return dict(
            p=params,
            state=optax.adam(self.lr).init(params),
            t=jnp.asarray(0),
            taken=jnp.zeros(mse0.shape, jnp.int32),
            mse=mse0,
            mu=jnp.full_like(mse0, self.penalty),
            best=params,
            best_rough=inf,
            best_mse=mse0,
            first=inf,
        )

    def _on(self, c):
        """Networks still searching: all of them with a penalty, the unfitted ones without."""
        return jnp.ones_like(c["mse"], bool) if self.penalty > 0 else c["mse"] > self.target

    def advance(self, c: dict, stop) -> dict:
        opt, seg = optax.adam(self.lr), self.pack.seg
        per_unit = lambda v: TwoLayer(v[seg][:, None], v[seg], v[seg], v)  # a network's flag on its parameters

        def inner(carry, _):
            p, state, mu, on = carry
            smooth = (lambda q: mu * self.pack.roughness(q, self.x)[0]) if self.penalty > 0 else (lambda q: 0.0)
            loss = lambda q: jnp.sum(self.pack.mse(q, self.x, self.y) + smooth(q))
            updates, state = opt.update(jax.grad(loss)(p), state, p)
            # a network that has stopped keeps its parameters (its Adam moments are never used again)
            moved = optax.apply_updates(p, updates)
            p = jax.tree_util.tree_map(lambda old, new, k: jnp.where(k, new, old), p, moved, per_unit(on))
            return (p, state, mu, on), None

        def cond(c):
            return (c["t"] < jnp.minimum(self.steps, stop)) & jnp.any(self._on(c))

        def body(c):
            on = self._on(c)
            (p, state, _, _), _ = jax.lax.scan(inner, (c["p"], c["state"], c["mu"], on), None, length=self.check_every)
            mse = self.pack.mse(p, self.x, self.y)
            rough = self.pack.roughness(p, self.x)[1]
            fits = mse <= self.target
            better = on & fits & (rough < c["best_rough"])
            mu = jnp.where(fits, c["mu"] * 1.25, c["mu"] / 1.25) if self.penalty > 0 else c["mu"]
            pick = per_unit(better)
            return dict(
                p=p,
                state=state,
                t=c["t"] + self.check_every,
                taken=jnp.where(on, c["taken"] + self.check_every, c["taken"]),
                mse=jnp.where(on, mse, c["mse"]),
                mu=mu,
                best=jax.tree_util.tree_map(lambda b, q, k: jnp.where(k, q, b), c["best"], p, pick),
                first=jnp.where(on & jnp.isinf(c["first"]) & fits, rough, c["first"]),
                best_rough=jnp.where(better, rough, c["best_rough"]),
                best_mse=jnp.where(better, mse, c["best_mse"]),
            )

        return jax.lax.while_loop(cond, body, c)

    def finish(self, c: dict) -> FitResult:
        found = jnp.isfinite(c["best_rough"])
        pick = TwoLayer(found[self.pack.seg][:, None], found[self.pack.seg], found[self.pack.seg], found)
        final = jax.tree_util.tree_map(lambda b, q, k: jnp.where(k, b, q), c["best"], c["p"], pick)
        mse = jnp.where(found, c["best_mse"], c["mse"])
        rough = jnp.where(found, c["best_rough"], self.pack.roughness(c["p"], self.x)[1])
        return FitResult(final, mse, c["taken"], mse <= self.target, rough, c["first"])
