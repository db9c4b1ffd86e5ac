"""W2: a two-layer ReLU network of width 256 (every parameter trained) on W1's data (d = 200,
n = 300, λ = 3), 64 step sizes on 1e-4..0.012, one seed, 500 steps each, sharpness (20 Lanczos
steps) every 99 steps. Matmul-bound, so the engine's rate is also shown as a fraction of the
machine's float32 matrix-multiply rate, measured in the same run.

FLOPs counted: a step is two n×d×m matrix products (forward x Wᵀ, backward δᵀ x) at 2ndm each;
a sharpness measurement is 20 Hessian-vector products of four such products each. Everything
else (elementwise work, the Lanczos basis algebra) is left out, so the fraction is a lower bound.

Run: python benchmarks/w2_mlp.py [--quick]
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from common import (
    device_line,
    peak_memory_mb,
    print_table,
    sgemm_flops,
    step_sizes,
    subsample,
    time_engine,
    time_per_member,
)

from eos.dynamics.data import sparse_coding
from eos.dynamics.engine import EngineConfig
from eos.dynamics.models import ModelSpec, make_model

D, N, LAM, WIDTH, STEPS, STRIDE, LANCZOS = 200, 300, 3.0, 256, 500, 99, 20


def numpy_mlp(x, y, lr, steps, w, b, a):
    """Plain NumPy GD on f(x) = Σ_j a_j ReLU(w_j·x + b_j), logistic loss, one step size; a 20-step
    Lanczos on central-difference Hessian-vector products every STRIDE steps."""
    n = len(y)
    shapes = [w.shape, b.shape, a.shape]
    sizes = [int(np.prod(s)) for s in shapes]

    def grad(theta):
        w, b, a = (theta[lo : lo + k].reshape(s) for lo, k, s in zip(np.cumsum([0] + sizes[:-1]), sizes, shapes))
        pre = x @ w.T + b
        h = np.maximum(pre, 0)
        g = -y / (1 + np.exp(y * (h @ a))) / n
        dpre = np.outer(g, a) * (pre > 0)
        return np.concatenate([(dpre.T @ x).ravel(), dpre.sum(0), h.T @ g])

    theta = np.concatenate([w.ravel(), b, a])
    for t in range(steps):
        theta = theta - lr * grad(theta)
        if t % STRIDE == 0:
            v, basis, alpha, beta = np.ones_like(theta) / np.sqrt(theta.size), [], [], []
            for _ in range(LANCZOS):
                basis.append(v)
                eps = 1e-3
                hv = (grad(theta + eps * v) - grad(theta - eps * v)) / (2 * eps)
                alpha.append(hv @ v)
                q = np.array(basis)
                hv = hv - q.T @ (q @ hv)
                beta.append(np.linalg.norm(hv))
                v = hv / beta[-1]
            np.linalg.eigvalsh(np.diag(alpha) + np.diag(beta[:-1], 1) + np.diag(beta[:-1], -1))
    return theta


def main():
    count = step_sizes(64)
    print(f"W2: mlp width {WIDTH}, d = {D}, n = {N}, {count} step sizes × 1 seed, {STEPS} steps; {device_line()}")
    model = make_model(ModelSpec(model="mlp", d=D, n=N, lam=LAM, width=WIDTH, n_test=1000), jnp.float32)
    lrs = np.linspace(1e-4, 0.012, count)
    seeds, horizons = np.zeros(count, int), np.full(count, STEPS)
    eng = time_engine(model, lrs, seeds, horizons, EngineConfig(stride=STRIDE, lanczos_steps=LANCZOS))
    memory = peak_memory_mb()
    pick = subsample(4, count, 1)
    loop = time_per_member(model, lrs[pick], seeds[pick], horizons[pick], stride=STRIDE, lanczos_steps=LANCZOS)

    k = jax.random.key(0)
    (x, y), _ = sparse_coding(jax.random.fold_in(k, 0), D, N, LAM, 1.0, 10)
    train, _ = model.sample(jax.random.fold_in(k, 0))
    p0 = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), model.init(jax.random.fold_in(k, 1), train))
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    numpy_pick = pick[:2]
    t0 = time.perf_counter()
    for i in numpy_pick:
        numpy_mlp(x, y, lrs[i], STEPS, p0.w, p0.b, p0.a)
    numpy_rate = len(numpy_pick) * STEPS / (time.perf_counter() - t0)

    print_table([("numpy", numpy_rate), ("per-member", loop), ("engine", eng.rate)])
    tr = eng.trajectories
    measurements = int((tr.step > 0).sum())  # sharpness measurements after steps (the first is at init)
    product = 2 * N * D * WIDTH
    flops = tr.useful_steps * 2 * product + measurements * LANCZOS * 4 * product
    peak = sgemm_flops()
    achieved = flops / (eng.wall_s - eng.compile_s)
    print(
        f"engine: {tr.useful_steps:,} member-steps; wall {eng.wall_s:.1f} s of which compile {eng.compile_s:.1f} s; "
        f"{tr.slots} slots"
    )
    print(
        f"matmul FLOPs counted {flops / 1e9:.0f} G → {achieved / 1e9:.1f} GFLOP/s; machine SGEMM (2048², same run) "
        f"{peak / 1e9:.1f} GFLOP/s; fraction {achieved / peak:.0%}"
    )
    print(
        f"engine wall, compile included, against the NumPy loop for all members: "
        f"{tr.useful_steps / numpy_rate / eng.wall_s:.1f}× faster"
    )
    print(f"peak memory after the engine run: {memory:.0f} MiB")

    # How the pool size trades batching against XLA:CPU's batched matrix products, on 16 members.
    few = subsample(16, count, 1)
    rates = {
        s: time_engine(
            model,
            lrs[few],
            seeds[few],
            horizons[few],
            EngineConfig(stride=STRIDE, lanczos_steps=LANCZOS, max_slots=s, max_waste=10.0),
        ).rate
        for s in (1, 4, 16)
    }
    print(
        "engine on 16 members by pool size (member-steps/s, compile excluded): "
        + ", ".join(f"{s} slots {r:,.0f}" for s, r in rates.items())
    )


if __name__ == "__main__":
    main()
