"""Bracketing the ℓ2 Lipschitz constant of ReLU networks (THEORY.md §2.4).

Lower bounds are exact gradient norms or difference quotients at points we choose, so
any point gives a valid bound; upper bounds are certificates:
  spectral   ‖a‖₂ ‖W‖_op (a product of layer norms in general)
  path norm  Σ_j |a_j| ‖w_j‖₂ (one hidden layer)
  LipSDP     [LipSDP] Theorem 2: minimise ρ s.t. M(ρ, T) ⪯ 0, then Lip ≤ √ρ.

A network is a list of weight matrices W_i of shape (out, in), applied in order with ReLU
between them (LipSDP's `.mat` convention); biases do not change a Lipschitz constant.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import sparse
from scipy.linalg import cho_factor, cho_solve


class SDPResult(NamedTuple):
    bound: float  # √ρ for the smallest ρ that makes M ⪯ 0 with the solver's multipliers; NaN on failure
    solver_bound: float  # √ρ as the solver returned it
    form: str  # "neuron" or "layer"
    solver: str
    status: str  # cvxpy status of the solver that answered last
    solve_time_s: float
    lmi_size: int

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


def load_mat_weights(path) -> list[np.ndarray]:
    """Weights of a LipSDP `.mat` file (key `weights`, a 1×L cell array); ValueError if unusable."""
    from scipy.io import loadmat

    path = Path(path)
    try:
        mat = loadmat(path)
    except Exception as e:  # scipy raises several unrelated types for a file that is not a .mat
        raise ValueError(f"cannot read {str(path)!r} as a MATLAB .mat file: {e}") from None
    if "weights" not in mat:
        found = ", ".join(k for k in mat if not k.startswith("__")) or "nothing"
        raise ValueError(f"{str(path)!r} has no 'weights' entry (found: {found})")
    cells = np.asarray(mat["weights"], dtype=object).ravel()
    try:
        weights = [_real_matrix(w) for w in cells]
    except (ValueError, TypeError) as e:
        raise ValueError(f"{str(path)!r}: 'weights' must be a cell array of real matrices ({e})") from None
    check_weights(weights, str(path))
    return weights


def _real_matrix(w) -> np.ndarray:
    a = np.asarray(w)
    if a.dtype == object or np.iscomplexobj(a) or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"found an entry of type {a.dtype}")
    return a.astype(float)


TINY = 1e-100  # smallest largest-entry of a layer the float64 SVD and solvers handle reliably


def check_weights(weights: Sequence[np.ndarray], name: str = "network") -> None:
    if not weights or any(w.ndim != 2 for w in weights):
        raise ValueError(f"{name}: weights must be a non-empty list of matrices")
    for i, w in enumerate(weights):
        if not w.size:
            raise ValueError(f"{name}: layer {i} is empty (shape {w.shape[0]}×{w.shape[1]})")
        if not np.isfinite(w).all():
            raise ValueError(f"{name}: layer {i} holds {np.sum(~np.isfinite(w))} non-finite values (NaN or Inf)")
        top = float(np.abs(w).max())
        if 0 < top < TINY:  # the SVD and the solvers lose such a layer (subnormal entries, 'did not converge')
            raise ValueError(
                f"{name}: layer {i}'s largest entry is {top:.3g}, below {TINY:g}; rescale it (a ReLU network's "
                f"Lipschitz constant scales with each layer's factor)"
            )
    for i, (w, v) in enumerate(zip(weights, weights[1:])):
        if v.shape[1] != w.shape[0]:
            raise ValueError(
                f"{name}: layer {i + 1} expects {v.shape[1]} inputs, layer {i} gives {w.shape[0]} "
                f"(layers are (out, in), applied in order)"
            )
    # ρ = Lip² and the LMI's entries must stay finite in float64: bound Π‖W_i‖_F² well below overflow.
    log_product = sum(
        2 * math.log10(max(np.linalg.norm(w / max(np.abs(w).max(), 1e-300)), 1e-300))
        + 2 * math.log10(max(np.abs(w).max(), 1e-300))
        for w in weights
    )
    if log_product > 250:
        raise ValueError(
            f"{name}: weights too large: the squared product of layer norms is about 1e{log_product:.0f}, "
            f"past what float64 arithmetic can certify"
        )


def spectral_product(weights: Sequence[np.ndarray]) -> float:
    """Π_i ‖W_i‖_op: the naive certified bound (ReLU is 1-Lipschitz)."""
    return float(np.prod([np.linalg.norm(w, 2) for w in weights]))


def path_norm(w: np.ndarray, a: np.ndarray) -> float:
    """Σ_j |a_j| ‖w_j‖₂ for f(x) = Σ_j a_j ReLU(w_j·x + b_j): ‖∇f‖ ≤ Σ_j |a_j| ‖w_j‖ everywhere."""
    return float(np.sum(np.abs(a) * np.linalg.norm(w, axis=1)))


def _input_reduction(w0: np.ndarray) -> np.ndarray:
    """U S of the thin SVD of W₀ (N₁ × r): x enters only through W₀ x, and the part of x in
    ker W₀ only adds −ρ‖x_⊥‖² ≤ 0, so the LMI needs rank W₀ input rows, not n₀."""
    u, s, _ = np.linalg.svd(w0, full_matrices=False)
    r = int(np.sum(s > s[0] * 1e-12)) if len(s) and s[0] > 0 else 0
    return u[:, :r] * s[:r] if r < w0.shape[1] else w0


def _pow2(x: np.ndarray) -> np.ndarray:
    """The power of two nearest x > 0: scaling by it is exact in floating point."""
    return np.exp2(np.round(np.log2(x)))


def prune(weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Drop hidden units with no incoming or no outgoing weight: they add nothing to ∇f."""
    weights = [np.array(w, float) for w in weights]
    changed = True
    while changed:
        changed = False
        for i in range(len(weights) - 1):
            live = (np.abs(weights[i]).sum(axis=1) > 0) & (np.abs(weights[i + 1]).sum(axis=0) > 0)
            if not live.all():
                weights[i], weights[i + 1] = weights[i][live], weights[i + 1][:, live]
                changed = True
    return weights


def balance(weights: Sequence[np.ndarray], form: str = "neuron", sweeps: int = 4) -> tuple[list[np.ndarray], float]:
    """The same function with well-scaled layers: (balanced weights, scale), f = scale · f_balanced.

    ReLU is positively homogeneous, so unit j of a hidden layer may carry its incoming row times
    s_j > 0 and its outgoing column over s_j (form "neuron"), or a whole layer a scalar (any form),
    without changing f. LipSDP-Neuron is invariant under the first and both forms under the
    second (the multipliers change by a congruence), but an interior-point solver is not: layers
    or units four orders of magnitude apart once made it stop at a ρ far below the optimum.
    Rows and columns are balanced to equal norms, then every layer to operator norm ≈ 1; all
    factors are powers of two, so the balanced network is the same function to the last bit.
    """
    weights = prune(weights)
    if form == "neuron":
        for _ in range(sweeps):
            for i in range(len(weights) - 1):
                rows = np.linalg.norm(weights[i], axis=1)
                cols = np.linalg.norm(weights[i + 1], axis=0)
                s = _pow2(np.sqrt(cols / rows))
                weights[i] = weights[i] * s[:, None]
                weights[i + 1] = weights[i + 1] / s[None, :]
    norms = np.array([np.linalg.norm(w, 2) for w in weights])
    if not np.all(norms > 0):
        return weights, 0.0
    c = _pow2(norms)
    return [w / ci for w, ci in zip(weights, c)], float(np.prod(c))


def lmi_footprint(weights: Sequence[np.ndarray]) -> dict[str, int]:
    """Bytes `lipsdp` will hold: N dense size × size generators while they are built, and the
    solver's dense blocks (size = rank W₀ + hidden units, N = hidden units)."""
    hidden = sum(w.shape[0] for w in weights[:-1])
    size = min(weights[0].shape) + hidden
    return {"LMI generators": 8 * size * size * min(hidden, 64), "solver": 8 * size * size * (hidden + 16)}


SOLVERS = ("CVXOPT", "CLARABEL", "SCS")


def lipsdp(
    weights: Sequence[np.ndarray],
    form: str = "neuron",
    solver: str = "CVXOPT",
    fallback: Sequence[str] = ("CLARABEL", "SCS"),
    alpha: float = 0.0,
    beta: float = 1.0,
) -> SDPResult:
    """LipSDP-Neuron (T diagonal) or LipSDP-Layer (T = blkdiag(λ_i I)) for any depth.

    With z = (x̃, hidden units) and T ⪰ 0 the multiplier of the slope condition of φ in [α, β],

        M = [A; B]ᵀ [[−2αβ T, (α+β) T], [(α+β) T, −2T]] [A; B] + blkdiag(−ρ I, 0, …, 0, W_Lᵀ W_L) ⪯ 0,

    A = [blkdiag(W̃₀, W₁, …, W_{L−1}), 0], B = [0, I_N], W̃₀ = U S (see _input_reduction).
    The network is first balanced (`balance`); the bound is √ρ with ρ re-derived from the
    solver's multipliers and checked by an exact eigenvalue test (`certify`), so what is
    returned is a certificate or NaN with a status saying why, never an uncertified number.
    A solver that fails hands over to the next in `fallback`.
    CVXOPT is the default: its interior point method factors an m × m Schur complement (m
    multipliers), while Clarabel's KKT system carries the dense PSD block, O(size⁴): on the
    784-50-10 MNIST network 0.8 s against 57 s for the same optimum.
    """
    import cvxpy as cp

    if form not in ("neuron", "layer"):
        raise ValueError(f"unknown LipSDP form {form!r} (choose neuron or layer)")
    weights = [np.asarray(w, float) for w in weights]
    check_weights(weights)
    weights, scale = balance(weights, form)
    if scale == 0.0 or not weights[0].size:  # some layer is zero: f is constant
        return SDPResult(0.0, 0.0, form, "exact", "optimal", 0.0, 0)
    hidden = [w.shape[0] for w in weights[:-1]]
    if not hidden:  # a linear map
        norm = scale * float(np.linalg.norm(weights[0], 2))
        return SDPResult(norm, norm, form, "exact", "optimal", 0.0, 0)
    w0 = _input_reduction(weights[0])
    n0, n_hidden = w0.shape[1], sum(hidden)
    size = n0 + n_hidden

    a_mat = np.zeros((n_hidden, size))
    row, col = 0, 0
    for w in [w0] + weights[1:-1]:
        a_mat[row : row + w.shape[0], col : col + w.shape[1]] = w
        row, col = row + w.shape[0], col + w.shape[1]
    b_mat = np.zeros((n_hidden, size))
    b_mat[:, n0:] = np.eye(n_hidden)
    const = np.zeros((size, size))
    w_last = weights[-1]
    const[size - w_last.shape[1] :, size - w_last.shape[1] :] = w_last.T @ w_last
    e0 = np.zeros((size, size))
    e0[:n0, :n0] = np.eye(n0)

    # M is affine in the multipliers: M = Σ_i t_i G_i − ρ E₀ + C, with one G_i per hidden unit,
    # G_i = −2αβ a_i a_iᵀ + (α+β)(a_i b_iᵀ + b_i a_iᵀ) − 2 b_i b_iᵀ (a_i, b_i rows of A, B).
    # One sparse coefficient matrix keeps cvxpy's canonicalisation cheap.
    gens = []
    for a_i, b_i in zip(a_mat, b_mat):
        g = (
            (-2 * alpha * beta) * np.outer(a_i, a_i)
            + (alpha + beta) * (np.outer(a_i, b_i) + np.outer(b_i, a_i))
            - 2 * np.outer(b_i, b_i)
        )
        gens.append(sparse.csr_matrix(g.reshape(1, -1)))
    per_unit = sparse.vstack(gens).T.tocsr()  # (size², N)
    if form == "layer":
        groups = np.repeat(np.arange(len(hidden)), hidden)
        per_unit = per_unit @ sparse.csr_matrix((np.ones(n_hidden), (np.arange(n_hidden), groups)))
    rho = cp.Variable(nonneg=True)
    lam = cp.Variable(per_unit.shape[1], nonneg=True)
    m = cp.reshape(per_unit @ lam, (size, size), order="C") - rho * e0 + const
    problem = cp.Problem(cp.Minimize(rho), [cp.PSD(-m)])

    result = None
    for name in [solver] + [f for f in fallback if f != solver]:
        start = time.perf_counter()
        try:
            problem.solve(solver=name)
            status = problem.status
        except (cp.error.SolverError, ValueError, ArithmeticError) as e:
            status = f"solver error: {e}".splitlines()[0]
        ok = status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and lam.value is not None
        certified = math.nan
        if ok:
            t = np.maximum(np.asarray(lam.value, float), 0.0)
            # Any T ⪰ 0 is admissible; a slightly larger T can make a hidden block that the
            # solver left singular definite, at a cost in ρ of the same relative size.
            for grow in (0.0, 1e-9, 1e-6, 1e-3, 1e-1):
                certified = certify(np.reshape(per_unit @ (t * (1 + grow)), (size, size)) + const, n0)
                if math.isfinite(certified):
                    break
            ok = math.isfinite(certified)
            status = "optimal" if ok else f"not certified (solver said {status})"
        elapsed = time.perf_counter() - start
        result = SDPResult(
            scale * math.sqrt(certified) if ok else math.nan,
            scale * math.sqrt(max(rho.value, 0.0)) if rho.value is not None else math.nan,
            form,
            name,
            status,
            elapsed,
            size,
        )
        if ok:
            break
    return result


def certify(c: np.ndarray, n0: int) -> float:
    """A ρ with C − ρE₀ ⪯ 0 proved by an eigenvalue test, near the least such ρ; inf if none.

    C is the LMI without ρ, its first n0 rows the input block. With H the hidden block
    (C = [[C₁₁, C₁₂], [C₂₁, H]]), C − ρE₀ + mI ⪯ 0 holds iff H + mI ≺ 0 and
    ρ ≥ m + λ_max(C₁₁ + C₁₂ (−H − mI)⁻¹ C₂₁) (Schur complement). The margin m covers rounding:
    a symmetric eigensolver returns the exact eigenvalues of a matrix within about
    size·ε_mach·‖M‖ of M, so a computed λ_max(M) ≤ −m/2 with m = 8·size·ε_mach·‖M‖_F proves
    M ⪯ 0. Solvers stop at a tolerance and can undershoot the optimum; this is the check that
    turns their multipliers into a certificate.
    """
    c = 0.5 * (c + c.T)
    size = c.shape[0]
    c11, c12, h = c[:n0, :n0], c[:n0, n0:], c[n0:, n0:]
    margin = lambda rho: 8.0 * size * np.finfo(float).eps * (np.linalg.norm(c) + rho * math.sqrt(n0))
    rho = 0.0
    for _ in range(3):  # the margin depends on ρ; two rounds settle it
        m = margin(rho)
        try:
            chol = cho_factor(-h - m * np.eye(size - n0))
        except np.linalg.LinAlgError:
            return math.inf
        schur = c11 + c12 @ cho_solve(chol, c12.T)
        rho = (m + float(np.linalg.eigvalsh(0.5 * (schur + schur.T))[-1])) * (1 + 1e-12) + m
    for _ in range(8):
        e0 = np.zeros_like(c)
        e0[:n0, :n0] = np.eye(n0)
        if np.linalg.eigvalsh(c - rho * e0)[-1] <= -0.5 * margin(rho):
            return max(rho, 0.0)
        rho += 4.0 * margin(rho) + 1e-9 * abs(rho)
    return math.inf


def lipsdp_two_layer(w: np.ndarray, a: np.ndarray, form: str = "neuron", rank: int = 32) -> SDPResult:
    """LipSDP of f(x) = Σ_j a_j ReLU(w_j·x + b_j) without an SDP solver, for any width.

    With one hidden layer the LMI (see `lipsdp`) is [[−ρI, W̃ᵀT], [TW̃, aaᵀ − 2T]] ⪯ 0, which by a
    Schur complement and Sherman–Morrison holds iff s = Σ_j a_j²/(2t_j) < 1 and

        ρ ≥ ρ(T) = λ_max( ½ W̃ᵀ T W̃ + (W̃ᵀa)(W̃ᵀa)ᵀ / (4(1 − s)) ).

    Neuron form: writing λ_max as a maximum over Z ⪰ 0, tr Z = 1 and minimising over T in closed
    form (s_j = a_j²/(2t_j) ∝ |a_j| ‖Z^½ w̃_j‖) gives the dual

        √ρ* = ½ max_Z ( Σ_j |a_j| ‖Z^½ w̃_j‖ + ‖Z^½ W̃ᵀa‖ ),

    maximised over Z = VVᵀ/‖V‖² with V of `rank` columns by L-BFGS (O(k r · rank) an
    evaluation, against the interior point method's dense (r + k)² blocks). T is then read off
    the maximiser, and `certify` turns it into the bound; the dual value is a lower bound on
    the SDP's optimum, so `solver_bound` and `bound` bracket it (the gap is checked in tests).
    Layer form (T = λI): a one-dimensional convex minimisation of ρ(λ).
    """
    from scipy.optimize import minimize_scalar

    if form not in ("neuron", "layer"):
        raise ValueError(f"unknown LipSDP form {form!r} (choose neuron or layer)")
    start = time.perf_counter()
    weights, scale = balance([np.asarray(w, float), np.asarray(a, float).reshape(1, -1)], form)
    if scale == 0.0 or not weights[0].size:
        return SDPResult(0.0, 0.0, form, "exact", "optimal", 0.0, 0)
    wt, a = _input_reduction(weights[0]), weights[1][0]
    r, k = wt.shape[1], len(a)
    u = wt.T @ a
    if form == "layer":
        norm2 = a @ a
        gram = wt.T @ wt
        rho = lambda g: np.linalg.eigvalsh(norm2 / (4 * g) * gram + np.outer(u, u) / (4 * (1 - g)))[-1]
        opt = minimize_scalar(rho, bounds=(1e-9, 1 - 1e-9), method="bounded", options=dict(xatol=1e-12))
        t, low = np.full(k, norm2 / (2 * opt.x)), math.nan
    else:
        t, low = _dual_multipliers(wt, a, u, min(rank, r))
    c = np.zeros((r + k, r + k))
    c[:r, r:] = wt.T * t
    c[r:, :r] = c[:r, r:].T
    c[r:, r:] = np.outer(a, a) - 2.0 * np.diag(t)
    certified = certify(c, r)
    ok = math.isfinite(certified)
    return SDPResult(
        scale * math.sqrt(certified) if ok else math.nan,
        scale * low,
        form,
        "dual L-BFGS" if form == "neuron" else "1-D",
        "optimal" if ok else "not certified",
        time.perf_counter() - start,
        r + k,
    )


def _dual_multipliers(wt: np.ndarray, a: np.ndarray, u: np.ndarray, rank: int) -> tuple[np.ndarray, float]:
    """(T, dual value) from max_V (Σ_j |a_j| ‖Vᵀw̃_j‖ + ‖Vᵀu‖) / (2‖V‖_F); see lipsdp_two_layer."""
    from scipy.optimize import minimize

    r, abs_a = wt.shape[1], np.abs(a)

    def negative(x):
        v = x.reshape(r, rank)
        y, vu, f = wt @ v, v.T @ u, np.linalg.norm(v)
        norms, norm_u = np.linalg.norm(y, axis=1), np.linalg.norm(vu)
        total = abs_a @ norms + norm_u
        grad = wt.T @ ((abs_a / np.maximum(norms, 1e-300))[:, None] * y) + np.outer(u, vu / max(norm_u, 1e-300))
        return -total / f, -(grad / f - total * v / f**3).ravel()

    x0 = np.random.default_rng(0).normal(size=r * rank)
    opt = minimize(
        negative, x0, jac=True, method="L-BFGS-B", options=dict(maxiter=5000, ftol=1e-15, gtol=1e-12, maxcor=30)
    )
    v = opt.x.reshape(r, rank)
    f = np.linalg.norm(v)
    share = abs_a * np.linalg.norm(wt @ v, axis=1) / (2 * f)  # √α_j: s_j ∝ it minimises over T
    total, share_u = share.sum(), np.linalg.norm(v.T @ u) / (2 * f)
    s = total / (total + share_u)
    return a**2 / (2 * s * np.maximum(share, 1e-300 * total) / total), -opt.fun / 2


# --- lower bounds -----------------------------------------------------------------------


class LowerBound(NamedTuple):
    value: float
    method: str  # which of `by_method` won
    by_method: dict  # "data_gradient", "ascent", "quotient" -> value


def lower_bound(
    f,
    x_data,
    key,
    *,
    f_smooth=None,
    off_kink=None,
    starts: int = 16,
    steps: int = 300,
    lr: float = 0.02,
    pairs: int = 2048,
) -> LowerBound:
    """max of valid lower bounds on the ℓ2 Lipschitz constant of f: R^d -> R (a JAX function).

    data_gradient  max_i ‖∇f(x_i)‖ at the data;
    ascent         multi-start ascent on ‖∇f_smooth(x)‖² (ReLU gradients are piecewise constant,
                   so a smooth surrogate gives the direction), scoring the exact ‖∇f‖ at every
                   iterate; starts are the steepest data points and random points of the data's scale;
    quotient       |f(x) − f(x')| / ‖x − x'‖ over random pairs of data points and a short step
                   along the gradient at the best point found.
    Every candidate is an exact value of f or ∇f at a point, hence a valid bound, except a gradient
    taken exactly on a kink (where autodiff picks one side's derivative per unit, a mix no region
    has): `off_kink(x)` (True where no unit's pre-activation is zero) leaves such points out.
    """
    import optax

    x_data = jnp.asarray(x_data)
    f_smooth = f_smooth or f
    off_kink = off_kink or (lambda x: True)
    exact_norm = lambda x: jnp.where(off_kink(x), jnp.linalg.norm(jax.grad(f)(x)), 0.0)
    grad_norm = jax.vmap(exact_norm)
    norms = grad_norm(x_data)
    out = {"data_gradient": float(jnp.max(norms))}

    k_start, k_pairs = jax.random.split(key)
    scale = jnp.sqrt(jnp.mean(jnp.sum(x_data**2, axis=1)) / x_data.shape[1])
    n_data = min(starts // 2, x_data.shape[0])
    x0 = jnp.concatenate(
        [
            x_data[jnp.argsort(-norms)[:n_data]],
            scale * jax.random.normal(k_start, (starts - n_data, x_data.shape[1]), x_data.dtype),
        ]
    )
    opt = optax.adam(lr * scale)
    objective = lambda x: -jnp.sum(jax.grad(f_smooth)(x) ** 2)

    def step(carry, _):
        x, state, best, best_x = carry
        g = jax.grad(objective)(x)
        upd, state = opt.update(g, state, x)
        x = optax.apply_updates(x, upd)
        exact = exact_norm(x)
        better = exact > best
        return (x, state, jnp.where(better, exact, best), jnp.where(better, x, best_x)), None

    def ascend(x):
        init = (x, opt.init(x), exact_norm(x), x)
        (_, _, best, best_x), _ = jax.lax.scan(step, init, None, length=steps)
        return best, best_x

    best, best_x = jax.jit(jax.vmap(ascend))(x0)
    out["ascent"] = float(jnp.max(best))

    i, j = jax.random.randint(k_pairs, (2, pairs), 0, x_data.shape[0])
    keep = i != j
    fx = jax.vmap(f)(x_data)
    dist = jnp.linalg.norm(x_data[i] - x_data[j], axis=1)
    quot = jnp.where(keep & (dist > 0), jnp.abs(fx[i] - fx[j]) / jnp.where(dist > 0, dist, 1.0), 0.0)
    xb = best_x[jnp.argmax(best)]
    g = jax.grad(f)(xb)
    h = 1e-3 * scale
    local = jnp.abs(f(xb + h * g / jnp.linalg.norm(g)) - f(xb)) / h
    out["quotient"] = float(jnp.maximum(jnp.max(quot), local))
    method = max(out, key=out.get)
    return LowerBound(out[method], method, out)


EXACT_WIDTH = 24  # up to 2^24 activation patterns are enumerated: the lower bound is then the constant itself


def _patterns(k: int) -> np.ndarray:
    """Every s ∈ {0, 1}^k, one per row."""
    return ((np.arange(2**k)[:, None] >> np.arange(k)) & 1).astype(float)


def _enumerate(gram: np.ndarray, rows: int = 256) -> float:
    """max over s ∈ {0, 1}^k of sᵀ G s, meeting in the middle: with the units split in halves A and B,
    q(s_A, s_B) = q_A(s_A) + q_B(s_B) + 2 s_Aᵀ G_AB s_B, so the 2^k values are a sum of two tables of
    2^(k/2) values and one matrix product, taken a block of A's patterns at a time."""
    k = gram.shape[0]
    half = k // 2
    sa, sb = _patterns(half), _patterns(k - half)
    ga, gb, gab = gram[:half, :half], gram[half:, half:], gram[:half, half:]
    qa = np.einsum("ij,jk,ik->i", sa, ga, sa)
    qb = np.einsum("ij,jk,ik->i", sb, gb, sb)
    cross = 2.0 * sa @ gab  # (2^|A|, |B|)
    best = -math.inf
    for lo in range(0, len(sa), rows):
        block = qa[lo : lo + rows, None] + qb[None, :] + cross[lo : lo + rows] @ sb.T
        best = max(best, float(block.max()))
    return best


def pattern_bound(w, a, starts) -> tuple[float, str] | None:
    """The largest ‖Σ_j s_j a_j w_j‖ over activation patterns s ∈ {0, 1}^k of f = Σ a_j ReLU(w_j·x + b_j),
    or None when not every pattern is realisable.

    When the k ≤ d rows of W are linearly independent every pattern is realisable: w_j·x + b_j = ±1
    can be solved for any signs, so each pattern owns an open region where ∇f = Σ_j s_j a_j w_j. Each
    value is then a valid lower bound, and their maximum is the Lipschitz constant itself (f is
    piecewise linear). Up to EXACT_WIDTH units every pattern is enumerated ("exact": a proof of
    optimality); above, best-improvement bit flips from the patterns `starts` (n, k) reach a local
    maximum ("pattern_search"). Rounded down by 1e-12 so that float rounding cannot lift it.
    """
    w, a = np.asarray(w, float), np.asarray(a, float)
    k, d = w.shape
    if k > d or np.linalg.matrix_rank(w) < k:
        return None
    v = a[:, None] * w
    gram = v @ v.T
    if k <= EXACT_WIDTH:
        return math.sqrt(max(_enumerate(gram), 0.0)) * (1 - 1e-12), "exact"
    s = np.asarray(starts, float).reshape(-1, k)
    diag = np.diag(gram)
    for _ in range(4 * k):
        delta = 1.0 - 2.0 * s  # +1 turns a unit on, −1 off
        gains = delta * 2.0 * (s @ gram) + diag  # q(s with bit j flipped) − q(s)
        j = np.argmax(gains, axis=1)
        rows = np.flatnonzero(gains[np.arange(len(s)), j] > 1e-12 * max(1.0, float(diag.max())))
        if not len(rows):
            break
        s[rows, j[rows]] = 1.0 - s[rows, j[rows]]
    q = np.einsum("ij,jk,ik->i", s, gram, s)
    return math.sqrt(max(float(q.max()), 0.0)) * (1 - 1e-12), "pattern_search"


def two_layer_lower_bound(
    p,
    x_data,
    rng: np.random.Generator,
    *,
    smoothing: float = 20.0,
    starts: int = 16,
    steps: int = 300,
    lr: float = 0.02,
    pairs: int = 2048,
) -> LowerBound:
    """`lower_bound` for f(x) = Σ a_j ReLU(w_j·x + b_j) + c, the same three methods, with the ascent
    compiled once per shape of (W, starts) rather than once per network: the gradient at the data and
    the quotients are closed forms, computed in float64 NumPy, and the draws are NumPy's (`rng`).

    ∇f(x) = Σ_j a_j 1[w_j·x + b_j > 0] w_j off the kinks; the surrogate for the ascent's direction is
    Σ_j a_j softplus(s (w_j·x + b_j)) / s, s = `smoothing`.
    """
    w, b, a = (np.asarray(v, float) for v in (p.w, p.b, p.a))
    c = float(np.asarray(p.c, float))
    x_data = np.asarray(x_data, float)
    f = lambda x: np.maximum(x @ w.T + b, 0.0) @ a + c

    def grad_norm(x):
        z = x @ w.T + b
        norms = np.linalg.norm(((z > 0) * a) @ w, axis=-1)
        return np.where(np.all(z != 0, axis=-1), norms, 0.0)  # a kink's autodiff gradient is no region's

    norms = grad_norm(x_data)
    out = {"data_gradient": float(np.max(norms))}
    scale = math.sqrt(float(np.mean(np.sum(x_data**2, axis=1))) / x_data.shape[1])
    n_data = min(starts // 2, x_data.shape[0])
    random = scale * rng.standard_normal((starts - n_data, x_data.shape[1]))
    x0 = np.concatenate([x_data[np.argsort(-norms, kind="stable")[:n_data]], random])
    # units padded to a power of two (a = 0, pre-activation 1: no kink, no contribution) share programs
    k = len(a)
    width = max(8, 1 << (k - 1).bit_length())
    pad = lambda v, fill: np.concatenate([v, np.full((width - k, *v.shape[1:]), fill)])
    best, best_x = _ascend(pad(w, 0.0), pad(b, 1.0), pad(a, 0.0), x0, lr * scale, smoothing, steps)
    best, best_x = np.asarray(best), np.asarray(best_x)
    out["ascent"] = float(np.max(best))
    i, j = rng.integers(0, x_data.shape[0], (2, pairs))
    fx = f(x_data)
    dist = np.linalg.norm(x_data[i] - x_data[j], axis=1)
    keep = (i != j) & (dist > 0)
    quot = np.where(keep, np.abs(fx[i] - fx[j]) / np.where(dist > 0, dist, 1.0), 0.0)
    xb = best_x[np.argmax(best)]
    z = xb @ w.T + b
    g = ((z > 0) * a) @ w
    h = 1e-3 * scale
    g_norm = np.linalg.norm(g)
    local = abs(f(xb + h * g / g_norm) - f(xb)) / h if g_norm > 0 else 0.0
    out["quotient"] = float(max(np.max(quot), local))
    method = max(out, key=out.get)
    return LowerBound(out[method], method, out)


@functools.partial(jax.jit, static_argnames="steps")
def _ascend(w, b, a, x0, lr, smoothing, steps: int):
    """Adam ascent on ‖∇f_smooth(x)‖² from each row of x0, scoring the exact ‖∇f‖ off the kinks:
    (best score, its point) per start."""
    import optax

    soft = lambda x: jax.nn.softplus(smoothing * (w @ x + b)) @ a / smoothing
    objective = lambda x: -jnp.sum(jax.grad(soft)(x) ** 2)

    def exact_norm(x):
        z = w @ x + b
        return jnp.where(jnp.all(z != 0), jnp.linalg.norm(((z > 0) * a) @ w), 0.0)

    opt = optax.adam(lr)

    def step(carry, _):
        x, state, best, best_x = carry
        upd, state = opt.update(jax.grad(objective)(x), state, x)
        x = optax.apply_updates(x, upd)
        exact = exact_norm(x)
        better = exact > best
        return (x, state, jnp.where(better, exact, best), jnp.where(better, x, best_x)), None

    def ascend(x):
        (_, _, best, best_x), _ = jax.lax.scan(step, (x, opt.init(x), exact_norm(x), x), None, length=steps)
        return best, best_x

    return jax.vmap(ascend)(x0)


def two_layer_bracket(p, x_data, rng: np.random.Generator, *, sdp: bool = True, smoothing: float = 20.0, **kw) -> dict:
    """Lipschitz bracket of f(x) = Σ a_j ReLU(w_j·x + b_j) + c: lower and upper as separate numbers.

    Upper is the least of ‖a‖₂‖W‖_op, the path norm and (if `sdp`) LipSDP-Neuron by
    `lipsdp_two_layer`; a LipSDP failure is recorded in `lip_sdp_status` and the bracket falls
    back to the other certificates. `bracket` says whether lower ≤ upper, and if not, why.
    """
    w, a = np.asarray(p.w, float), np.asarray(p.a, float)
    low = two_layer_lower_bound(p, x_data, rng, smoothing=smoothing, **kw)
    starts = np.asarray(x_data) @ w.T + np.asarray(p.b, float) > 0  # the data's own patterns
    patterns = pattern_bound(w, a, starts)
    by_method = {**low.by_method, "exact": math.nan, "pattern_search": math.nan}  # every row, the same columns
    if patterns is not None:
        by_method[patterns[1]] = patterns[0]
    method = max((m for m in by_method if math.isfinite(by_method[m])), key=by_method.get)
    best = by_method[method]
    # exact is the constant itself: another bound above it by rounding only is a tie, and exact names it
    if math.isfinite(by_method["exact"]) and best <= by_method["exact"] * (1 + 1e-9):
        method = "exact"
    low = LowerBound(best, method, by_method)
    uppers = {"spectral": spectral_product([w, a[None, :]]), "path": path_norm(w, a)}
    row = {
        "lip_spectral": uppers["spectral"],
        "lip_path": uppers["path"],
        "lip_sdp": math.nan,
        "lip_sdp_status": "skipped",
        "lip_sdp_time_s": 0.0,
    }
    if sdp:
        res = lipsdp_two_layer(w, a, "neuron")
        row.update(lip_sdp=res.bound, lip_sdp_status=res.status, lip_sdp_time_s=res.solve_time_s)
        if res.ok:
            uppers["lipsdp"] = res.bound
    method = min(uppers, key=uppers.get)
    row.update(
        lip_lower=low.value,
        lip_lower_method=low.method,
        lip_upper=uppers[method],
        lip_upper_method=method,
        **{f"lip_lower_{k}": v for k, v in low.by_method.items()},
    )
    row["bracket"] = bracket_status(low.value, uppers[method], method)
    return row


def bracket_status(lower: float, upper: float, upper_method: str) -> str:
    """ "ok" when lower ≤ upper (to float64 rounding); otherwise what is wrong, in words.

    Both ends are valid bounds, so an unordered bracket means a defect, not a measurement:
    the row says so instead of passing it on as one.
    """
    if not (math.isfinite(lower) and math.isfinite(upper)):
        return f"incomplete: lower {lower:g}, upper {upper:g}"
    if lower <= upper * (1 + 1e-9):
        return "ok"
    return f"unordered: lower {lower:.6g} > upper {upper:.6g} ({upper_method})"
