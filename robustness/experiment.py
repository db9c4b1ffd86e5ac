"""Sweeps for the law of robustness: train, bracket Lip(f), set it against the law.

The default sweeps the width at fixed (n, d); `vary="n"` sweeps n at a fixed width (the law:
Lip ∝ n^½) and `vary="d"` sweeps d at a fixed parameter count (Lip ∝ d^½). Every row carries
the data's floor (robustness/floor.py), below which no fit can be; exponents are fitted only
inside the law's window: n ≤ p ≤ nd and √(nd/p) at or above the floor.

Files of a robustness directory:
  summary.csv   one row per (n, d, width, seed): fit, Lipschitz bracket and its status, floor,
                law_scale and certified_bound (predictions and measurements in separate columns)
  run.json      config, fitted exponents, versions, device, precision, commit, wall time
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from eos.results.files import read_csv, read_json, write_atomically, write_csv, write_json
from eos.results.provenance import provenance

from . import columns, data, networks, theory
from .config import REGIME, VARY, RobustnessConfig  # noqa: F401  (kept importable here)
from .floor import fit_floor
from .lipschitz import two_layer_bracket


class RobustnessResult(NamedTuple):
    config: RobustnessConfig
    summary: dict  # column -> (widths × seeds,) array
    slope: dict  # fitted slopes of log Lip against log p
    meta: dict

    def save(self, path) -> Path:
        def write(tmp: Path):
            write_csv(tmp / "summary.csv", self.summary)
            write_csv(tmp / "columns.csv", columns.dictionary(self.summary))
            run = {"kind": "robustness", "config": dataclasses.asdict(self.config), "slope": self.slope, **self.meta}
            write_json(tmp / "run.json", run)

        return write_atomically(path, write)


def load(path) -> RobustnessResult:
    path = Path(path)
    raw, run = read_json(path / "run.json")
    config = dict(raw["config"], widths=tuple(raw["config"]["widths"]), values=tuple(raw["config"].get("values", ())))
    meta = {k: v for k, v in run.items() if k not in ("kind", "config", "slope")}
    return RobustnessResult(RobustnessConfig(**config), read_csv(path / "summary.csv"), run["slope"], meta)


CHECK_EVERY = 25  # steps between the search's checks of its fit (networks.fit's default)
SLICE_STEPS = 10 * CHECK_EVERY  # steps per device call: a multiple of CHECK_EVERY, so slicing changes no number


def bucket(k: int) -> int:
    """Padded width: the next power of two, so widths share compiled programs."""
    return 1 << max(0, (k - 1).bit_length())


def train(config: RobustnessConfig, x, y, progress=None):
    """Train every (width, seed) network; one compiled search per width bucket, vmapped inside it and
    run in slices of SLICE_STEPS steps.

    Returns rows in the order of `members` = [(width, seed)] and the trained params (unpadded).
    """
    target = config.noise_level - config.eps
    members = [(k, s) for k in config.widths for s in range(config.seeds)]
    results: dict = {}
    compiles = 0
    if progress:  # the start: the first bucket's time (compile included) counts towards the rate
        progress("train", 0, train_cost(config))
    for size in sorted({bucket(k) for k in config.widths}):
        group = [(k, s) for k, s in members if bucket(k) == size]
        keys = jnp.stack([jax.random.fold_in(jax.random.key(s), 1) for _, s in group])
        params = jax.vmap(lambda key: networks.init(key, config.d, size))(keys)
        masks = jnp.stack([(jnp.arange(size) < k).astype(jnp.float32) for k, _ in group])
        seeds = np.array([s for _, s in group])
        done = sum(cost(config.n, config.d, k) for k, _ in results)
        search = lambda m, xs, ys: networks.Search(
            xs, ys, m, target, config.steps, config.lr, config.penalty, config.regulariser, CHECK_EVERY
        )
        data = (masks, x[seeds], y[seeds])
        start = jax.jit(jax.vmap(lambda p, *d: search(*d).start(p)))
        advance = jax.jit(jax.vmap(lambda c, stop, *d: search(*d).advance(c, stop), in_axes=(0, None, 0, 0, 0)))
        finish = jax.jit(jax.vmap(lambda c, *d: search(*d).finish(c)))
        state = start(params, *data)
        # Slices of the step budget: the progress (a safe point for a signal, and the time
        # projection's rate) moves within a bucket; the numbers are those of one call.
        for stop in range(SLICE_STEPS, config.steps + SLICE_STEPS, SLICE_STEPS):
            state = advance(state, min(stop, config.steps), *data)
            state["t"].block_until_ready()
            if progress:
                part = cost(config.n, config.d, size) * len(group) * min(stop, config.steps) // config.steps
                progress("train", done + part, train_cost(config))
        out = finish(state, *data)
        compiles += 1
        for i, (k, s) in enumerate(group):
            p = jax.tree_util.tree_map(lambda a: a[i], out.params)
            results[(k, s)] = (
                networks.TwoLayer(p.w[:k], p.b[:k], p.a[:k], p.c),
                float(out.train_mse[i]),
                int(out.steps[i]),
                bool(out.fitted[i]),
                _gain(float(out.first_roughness[i]), float(out.roughness[i])),
            )
    return members, results, compiles


def _gain(first: float, last: float) -> float:
    """How much smoother the search made the fit: the criterion at the first fit over the returned one's
    (1 when both are 0, a constant network; inf when only the returned one is)."""
    if last > 0:
        return first / last
    return 1.0 if first == last else math.inf


def cost(n: int, d: int, k: int) -> int:
    """A network's training work, n·d·width (multiply-adds per step; its width padded as trained)."""
    return n * d * bucket(k)


def train_cost(config: RobustnessConfig) -> int:
    return sum(cost(n, d, k) for n, d, ks in settings(config) for k in ks) * config.seeds


def settings(config: RobustnessConfig) -> list[tuple[int, int, tuple]]:
    """(n, d, widths) of each data set the sweep trains on; a d-sweep holds p = k(d + 2) + 1."""
    if config.vary == "width":
        return [(config.n, config.d, config.widths)]
    if config.vary == "joint":  # every (n, d) of the design, with its widths up to p/(nd) ≤ run_ratio
        out = []
        for n in config.design_n:
            for d in config.design_d:
                ks = tuple(k for k in config.design_k if networks.param_count(d, k) <= config.run_ratio * n * d)
                out.append((n, d, ks or (min(config.design_k),)))
        return out
    k = config.widths[0]
    if config.vary == "n":
        return [(v, config.d, (k,)) for v in config.values]
    p = networks.param_count(min(config.values), k)  # the smallest d's p: p/(nd) only falls from there
    return [(config.n, v, (max(1, round((p - 1) / (v + 2))),)) for v in config.values]


def footprint(config: RobustnessConfig) -> dict[str, int]:
    """Bytes the largest part of the sweep will hold at its peak, by item (float32 training,
    float64 brackets); see dynamics/budget.py."""
    parts = settings(config)
    n, d = max(s[0] for s in parts), max(s[1] for s in parts)
    width = bucket(max(max(s[2]) for s in parts))
    members = config.seeds * max(len(s[2]) for s in parts)
    return {
        "data": 2 * config.seeds * n * d * 4,
        "training": members * (8 * n * width + 6 * width * (d + 2)) * 4,  # activations, params, Adam state
        "floor": 6 * n * n * 8,  # pairwise distances and gaps
        "LipSDP": 4 * (min(width, d) + width) ** 2 * 8,
    }


def run_robustness(
    config: RobustnessConfig, progress: Callable[[str, int, int], None] | None = None
) -> RobustnessResult:
    """Train, bracket and compare; predictions (law_scale, certified_bound) apart from measurements."""
    start = time.perf_counter()
    rows, train_time, compiles = [], 0.0, 0
    parts = settings(config)
    # progress over the whole experiment: training work (see `cost`) and networks bracketed
    totals = {"train": train_cost(config), "bracket": sum(len(ks) for *_, ks in parts) * config.seeds}
    base = dict.fromkeys(totals, 0)
    for n, d, widths in parts:
        part = dataclasses.replace(config, n=n, d=d, widths=widths, vary="width", values=())
        report = progress and (lambda stage, done, total: progress(stage, base[stage] + done, totals[stage]))
        more, seconds, count = width_sweep(part, report)
        base = {"train": base["train"] + train_cost(part), "bracket": base["bracket"] + len(more)}
        rows, train_time, compiles = rows + more, train_time + seconds, compiles + count
    summary = {name: np.array([r[name] for r in rows]) for name in rows[0]}
    meta = provenance("float32 training, float64 brackets", time.perf_counter() - start)
    meta.update(
        train_time_s=train_time,
        train_compiles=compiles,
        certified_applies=theory.certified_applies(config.n, config.eps, config.delta),
    )
    return RobustnessResult(config, summary, exponents(config, summary), meta)


def width_sweep(config: RobustnessConfig, progress=None) -> tuple[list[dict], float, int]:
    """Rows of one (n, d): every (width, seed) trained, bracketed and set beside the law and the floor."""
    keys = [jax.random.key(s) for s in range(config.seeds)]
    x = jnp.stack([data.inputs(jax.random.fold_in(k, 0), config.n, config.d, config.inputs) for k in keys])
    y = jnp.stack([data.labels(jax.random.fold_in(k, 2), x[i], config.labels, config.flip) for i, k in enumerate(keys)])
    floors = [
        fit_floor(np.asarray(x[s]), np.asarray(y[s]), config.noise_level - config.eps) for s in range(config.seeds)
    ]
    t0 = time.perf_counter()
    members, trained, compiles = train(config, x, y, progress)
    train_time = time.perf_counter() - t0

    rows = []
    input_radius = float(jnp.max(jnp.linalg.norm(x, axis=-1)))
    with jax.enable_x64(True):  # brackets in float64: quotients and gradients as exact as they can be
        for i, (k, s) in enumerate(members):
            p, mse, steps, fitted, gain = trained[(k, s)]
            p64 = jax.tree_util.tree_map(lambda a: jnp.asarray(np.asarray(a), jnp.float64), p)
            if not all(np.isfinite(np.asarray(a)).all() for a in p):
                raise FloatingPointError(f"training width {k}, seed {s} produced non-finite weights")
            row = two_layer_bracket(
                p64,
                jnp.asarray(np.asarray(x[s]), jnp.float64),
                jax.random.fold_in(keys[s], 3),
                sdp=k <= config.lipsdp_max_width,
            )
            n_params = networks.param_count(config.d, k)
            radius = float(np.sqrt(sum(np.sum(np.asarray(a, float) ** 2) for a in p)))
            jac = theory.two_layer_parametrisation_lipschitz(radius, input_radius)
            law = theory.law_scale(config.n, config.d, n_params)
            rows.append(
                {
                    "n": config.n,
                    "d": config.d,
                    "width": k,
                    "params": n_params,
                    "seed": s,
                    "train_mse": mse,
                    "noise_level": config.noise_level,
                    "fits_below_noise": fitted,
                    "train_steps": steps,
                    **row,
                    "bracket_ratio": row["lip_upper"] / row["lip_lower"] if row["lip_lower"] > 0 else math.inf,
                    "smoothing_gain": gain if fitted else math.nan,
                    "floor": floors[s],
                    "in_window": bool(config.n <= n_params <= config.n * config.d and law >= floors[s]),
                    "p_over_nd": n_params / (config.n * config.d),
                    # p ≥ n: below it a fit below the noise level is barely possible and the search
                    # finds no smooth one; p ≤ REGIME·nd: the law's term dominates (config.REGIME)
                    "in_regime": bool(config.n <= n_params <= REGIME * config.n * config.d and law >= floors[s]),
                    "law_scale": law,
                    "certified_bound": theory.certified_bound(
                        config.n, config.d, n_params, config.eps, config.delta, 2.0 * radius, jac
                    ),
                }
            )
            if progress:
                progress("bracket", i + 1, len(members))
    return rows, train_time, compiles


AXIS = {"width": "params", "n": "n", "d": "d"}


def exponents(config: RobustnessConfig, summary: dict) -> dict:
    """Exponents of log Lip (lower, upper) over the fits inside the law's regime (p/(nd) ≤ REGIME and
    √(nd/p) above the data's floor) whose bracket is ordered: for vary = joint, the three exponents of
    log Lip = c + α log n + β log d + γ log p at once; otherwise the one of the swept axis. `law` is the
    same fit of √(nd/p) on those rows (a prediction), and `collapse` the constant Lip/√(nd/p) there."""
    rows = summary["fits_below_noise"] & summary["in_regime"] & (summary["bracket"] == "ok")
    out: dict = {"regime": REGIME, "rows": int(rows.sum())}
    if config.vary == "joint":
        axes = ("n", "d", "params")
        out["axis"] = "joint"
        for kind in ("lower", "upper"):
            out[kind] = fit_exponents([summary[a] for a in axes], summary[f"lip_{kind}"], rows, axes)
        law = lambda mask: {
            a: v["slope"]
            for a, v in fit_exponents([summary[a] for a in axes], summary["law_scale"], mask, axes).items()
        }
    else:
        axis = AXIS[config.vary]
        out["axis"] = axis
        for kind in ("lower", "upper"):
            out[kind] = fit_slope(summary[axis], summary[f"lip_{kind}"], rows)
        law = lambda mask: fit_slope(summary[axis], summary["law_scale"], mask)["slope"]
    # A prediction needs no fit: with too few rows in the regime to fit one, over the whole grid.
    out["law"] = law(rows)
    if np.isnan(list(out["law"].values()) if isinstance(out["law"], dict) else out["law"]).any():
        out["law"] = law(np.ones_like(rows))
    for kind in ("lower", "upper"):
        ratio = (summary[f"lip_{kind}"] / summary["law_scale"])[rows]
        out[f"collapse_{kind}"] = (
            {"median": float(np.median(ratio)), "min": float(ratio.min()), "max": float(ratio.max())}
            if len(ratio)
            else {"median": math.nan, "min": math.nan, "max": math.nan}
        )
    return out


def fit_exponents(columns, lip, mask, names) -> dict:
    """Least squares log Lip = c + Σ_i e_i log column_i over the rows in mask: {name: {slope, stderr}}."""
    x = np.stack([np.log(np.asarray(c, float)[mask]) for c in columns], axis=1)
    y = np.log(np.asarray(lip, float)[mask])
    design = np.column_stack([x, np.ones(len(y))])
    dof = len(y) - design.shape[1]
    if dof <= 0 or np.linalg.matrix_rank(design) < design.shape[1]:
        return {name: {"slope": math.nan, "stderr": math.nan, "points": int(len(y))} for name in names}
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    sigma2 = float(np.sum((y - design @ coef) ** 2) / dof)
    cov = sigma2 * np.linalg.inv(design.T @ design)
    return {
        name: {"slope": float(coef[i]), "stderr": math.sqrt(cov[i, i]), "points": int(len(y))}
        for i, name in enumerate(names)
    }


def fit_slope(params, lip, mask) -> dict:
    """Least-squares slope of log Lip against log p over the rows in mask, with its standard error."""
    x, y = np.log(np.asarray(params, float)[mask]), np.log(np.asarray(lip, float)[mask])
    if len(np.unique(x)) < 2:
        return {"slope": math.nan, "stderr": math.nan, "points": int(len(x))}
    a = np.vstack([x, np.ones_like(x)]).T
    coef, res, *_ = np.linalg.lstsq(a, y, rcond=None)
    dof = len(x) - 2
    sigma2 = float(np.sum((y - a @ coef) ** 2) / dof) if dof > 0 else math.nan
    stderr = math.sqrt(sigma2 / np.sum((x - x.mean()) ** 2)) if dof > 0 else math.nan
    return {"slope": float(coef[0]), "stderr": stderr, "points": int(len(x))}
