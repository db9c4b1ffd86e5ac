"""Gradient flow dθ/dt = −∇L(θ), integrated from one seed's initialisation, and its peak sharpness.

GD with step η tracks gradient flow while the flow's sharpness λ(t) stays below 2/η, so the
flow's own peak λ_max over the run's total time T·η predicts the critical step size

    η*_flow = 2 / max_{0 ≤ t ≤ T·η} λ(t)                      ([EoS] §2; THEORY.md §1.5)

This is a prediction computed from the seed's data and initialisation alone, by an ODE solver,
independent of the sweep's grid and of its record stride: SciPy's implicit BDF with the dense
Hessian as its Jacobian for small models (the flow is stiff: λ reaches 2/η*, and the ReLU kinks
make explicit solvers crawl), an explicit Runge–Kutta pair for the others. The sharpness
is the largest eigenvalue of the dense Hessian for models of at most DENSE_PARAMS parameters and
Lanczos on Hessian-vector products otherwise (then at most BATCH of the solver's steps), at
every step the solver takes and at SAMPLES evenly spaced times.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from . import traces
from .sharpness import lanczos_top

DENSE_PARAMS = 256
SAMPLES = 257
# At d = 200 these tolerances put the peak within 1e-5 of LSODA's at rtol 1e-8, in 600 steps instead of 53,000.
RTOL, ATOL = 1e-5, 1e-8
LANCZOS_STEPS = 40
BATCH = 256
# A solver's budget per seed: gradient evaluations (deterministic, the same on every machine), and
# wall-clock seconds as a backstop for a model whose gradient is slow. Past it the method gives up
# and the next is tried; a seed no method finishes is "not converged", with the time it reached.
# At d = 200 BDF needs about 1,500 evaluations; at λ = 2 the ReLU kinks at b ≈ 0 held it to steps
# of 1e-9 for over 300 s (THEORY.md §1.2).
MAX_EVALUATIONS = 20_000
MAX_SECONDS = 60.0
REPORT_EVERY = 200  # evaluations between progress reports (and signal safe points)
METHOD_TEXT = (
    "gradient flow from each seed's start (SciPy BDF with the Hessian, LSODA or RK45 if it stalls; rtol 1e-5; "
    f"at most {MAX_EVALUATIONS:,} gradients or {MAX_SECONDS:g} s a method)"
)


def _pad(rows: np.ndarray, size: int) -> np.ndarray:
    return np.concatenate([rows, np.repeat(rows[-1:], size - len(rows), axis=0)])


def seed_keys(seed: int):
    """(data key, init key) of a seed: the engine and this module draw a seed's state alike."""
    key = jax.random.key(int(seed))
    return jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)


def _as64(tree):
    return jax.tree_util.tree_map(
        lambda a: jnp.asarray(a, jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree
    )


def _programs(model, unravel, dense: bool, flat, train, code: str | None):
    """(gradient, Hessian or None, top eigenvalue at BATCH points), compiled once per model and shape
    for arguments like (flat, train); with `code` (see peak_sharpness), their traces kept on disk."""
    loss = lambda flat, train: model.loss(unravel(flat), train)

    def top(flat, train):
        if dense:
            return jnp.linalg.eigvalsh(jax.hessian(loss)(flat, train))[-1]
        matvec = lambda v: jax.jvp(lambda f: jax.grad(loss)(f, train), (flat,), (v,))[1]
        return lanczos_top(matvec, jnp.ones_like(flat), LANCZOS_STEPS)[0]

    points = jnp.zeros((BATCH, flat.size), flat.dtype)
    return (
        _kept(jax.grad(loss), (flat, train), "gradient", code),
        _kept(jax.hessian(loss), (flat, train), "hessian", code) if dense else None,
        _kept(jax.vmap(top, in_axes=(0, None)), (points, train), "top", code),
    )


def _kept(fn, args, role: str, code: str | None):
    """jax.jit(fn) for arguments like `args`, traced in an earlier process where one kept its trace
    (traces.traced_once; a trace is 0.05–0.2 s here, and the flow runs beside the engine)."""
    name = None if code is None else f"flow.{role} {code}"
    return traces.traced_once(fn, args, name, {}) or jax.jit(fn)


def peak_sharpness(model, seeds, total_time: float, progress=None, code: str | None = None) -> list[dict]:
    """Per seed, {"peak": max λ along the flow, "time": where, "steps": solver steps}, or NaN and
    "failed" with the reason (no method converged within its budget, a NaN gradient).

    A seed's data and initialisation are drawn as the engine draws them (in the model's own
    dtype: the numbers the sweep trains on) and integrated in float64, on a CPU. `progress(done,
    total)` is called with done in seeds (fractional while a seed integrates: the time it has reached).
    `code` names what the model's programs depend on besides their shapes (config.program_code): with
    it, their traces are kept across processes (dynamics/traces.py): the same programs, bit for bit.
    """
    with jax.default_device(_cpu()):
        return _peak_sharpness(model, seeds, total_time, progress, code)


def _cpu():
    """The first CPU device: the flow's small float64 calls run there whatever the engine runs on, so
    its numbers are the same on every machine (None where JAX has no CPU backend: the default)."""
    try:
        return jax.devices("cpu")[0]
    except RuntimeError:
        return None


def _peak_sharpness(model, seeds, total_time: float, progress=None, code=None) -> list[dict]:
    out, programs, sample, init = [], None, None, None
    for i, seed in enumerate(seeds):
        if progress is not None:
            progress(i, len(seeds))
        data_key, init_key = seed_keys(seed)
        # compiled as the engine compiles them: the same numbers, and one program instead of an eager op each
        sample = sample or _kept(model.sample, (data_key,), "sample", code)
        train, _ = sample(data_key)
        init = init or _kept(model.init, (init_key, train), "init", code)
        params = init(init_key, train)
        with jax.enable_x64(True):
            train, params = _as64(train), _as64(params)
            flat0, unravel = ravel_pytree(params)
            dense = flat0.size <= DENSE_PARAMS
            programs = programs or _programs(model, unravel, dense, flat0, train, code)
            report = None if progress is None else (lambda f, i=i: progress(i + f, len(seeds)))
            out.append(_integrate(programs, flat0, train, total_time, dense, report))
    if progress is not None:
        progress(len(seeds), len(seeds))
    return out


class _OverBudget(Exception):
    pass


def _integrate(programs, flat0, train, total_time, dense, report=None) -> dict:
    """Solve with the first method that succeeds within its budget (a ReLU kink can stall an
    implicit solver's step control); a seed none can integrate gets NaN and the solvers' messages,
    never an exception and never an unbounded wait."""
    from scipy.integrate import solve_ivp  # here, on the flow's own thread: 0.27 s of imports off the sweep's path

    grad, hessian, top = programs
    # y goes to the compiled programs as it is (float64): a jnp.asarray first costs a third of a call
    jac = (lambda t, y: -np.asarray(hessian(y, train))) if dense else None
    messages = []
    for method in ("BDF", "LSODA", "RK45") if dense else ("RK45", "LSODA"):
        options = {"jac": jac} if method in ("BDF", "LSODA") and jac is not None else {}
        budget = {"calls": 0, "reached": 0.0, "start": time.perf_counter()}

        def fun(t, y, budget=budget):
            budget["calls"] += 1
            budget["reached"] = max(budget["reached"], float(t))
            if budget["calls"] % REPORT_EVERY == 0:
                if report is not None:
                    report(min(budget["reached"] / total_time, 1.0))
                if budget["calls"] > MAX_EVALUATIONS or time.perf_counter() - budget["start"] > MAX_SECONDS:
                    raise _OverBudget
            return -np.asarray(grad(y, train))

        try:
            solution = solve_ivp(
                fun,
                (0.0, float(total_time)),
                np.asarray(flat0),
                method=method,
                rtol=RTOL,
                atol=ATOL,
                dense_output=True,
                **options,
            )
        except (ValueError, np.linalg.LinAlgError) as e:  # a NaN gradient or Hessian: the factorisation refuses it
            messages.append(f"{method}: {e}")
            continue
        except _OverBudget:
            messages.append(
                f"{method}: not converged within {MAX_EVALUATIONS:,} gradients or {MAX_SECONDS:g} s "
                f"(reached t = {budget['reached']:.3g} of {total_time:g})"
            )
            continue
        if solution.success:
            break
        messages.append(f"{method}: {solution.message}")
    else:
        return {"peak": float("nan"), "time": float("nan"), "steps": 0, "failed": "; ".join(messages)}
    steps = solution.t if dense else solution.t[:: max(1, len(solution.t) // BATCH)]  # Lanczos is dearer
    times = np.union1d(steps, np.linspace(0.0, total_time, SAMPLES))
    points = solution.sol(times).T
    # Fixed-size batches: one compiled program serves every seed, whatever its step count.
    lam = np.concatenate(
        [np.asarray(top(jnp.asarray(_pad(points[i : i + BATCH], BATCH)), train)) for i in range(0, len(points), BATCH)]
    )[: len(points)]
    if not np.isfinite(lam).any():
        return {"peak": float("nan"), "time": float("nan"), "steps": len(solution.t), "failed": "no finite sharpness"}
    i = int(np.nanargmax(lam))
    return {"peak": float(lam[i]), "time": float(times[i]), "steps": int(len(solution.t)), "method": method}
