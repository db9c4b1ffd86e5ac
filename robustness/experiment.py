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
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from eos import memory
from eos.results.files import read_csv, read_json, write_atomically, write_csv, write_json
from eos.results.provenance import provenance

from . import columns, data, fits, networks, theory
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

    @property
    def frame(self):
        """The summary as a pandas DataFrame, one row per (n, d, width, seed)."""
        import pandas as pd

        return pd.DataFrame(self.summary)


def load(path) -> RobustnessResult:
    path = Path(path)
    raw, run = read_json(path / "run.json")
    config = dict(raw["config"], widths=tuple(raw["config"]["widths"]), values=tuple(raw["config"].get("values", ())))
    meta = {k: v for k, v in run.items() if k not in ("kind", "config", "slope")}
    return RobustnessResult(RobustnessConfig(**config), read_csv(path / "summary.csv"), run["slope"], meta)


CHECK_EVERY = 25  # steps between the search's checks of its fit (networks.fit's default)
SLICE_STEPS = 10 * CHECK_EVERY  # steps per device call: a multiple of CHECK_EVERY, so slicing changes no number


def train(config: RobustnessConfig, x, y, tally=None):
    """Train every (width, seed) network of one (n, d): one pack of all the widths per seed, the seeds
    vmapped, one compiled search for the whole cell, run in slices of SLICE_STEPS steps.

    Adds to `tally` (a Tally) one program and the work (see `cost`) of each slice as it finishes.
    Returns rows in the order of `members` = [(width, seed)] and the trained params.
    """
    target = config.noise_level - config.eps
    members = [(k, s) for k in config.widths for s in range(config.seeds)]
    work = train_cost(config)

    def initial(seed):  # one stream per dataset, drawn width after width: no two networks share a draw
        rng = data.streams(seed, config.n, config.d)[1]
        return networks.pack([networks.init(rng, config.d, k) for k in config.widths])

    packs = [initial(s) for s in range(config.seeds)]
    seg = packs[0][1]
    params = networks.TwoLayer(*(jnp.asarray(np.stack(f)) for f in zip(*[p for p, _ in packs])))
    pack = networks.Pack(seg, config.regulariser)
    search = lambda xs, ys: networks.Search(pack, xs, ys, target, config.steps, config.lr, config.penalty, CHECK_EVERY)
    start = jax.jit(jax.vmap(lambda p, *d: search(*d).start(p)))
    advance = jax.jit(jax.vmap(lambda c, stop, *d: search(*d).advance(c, stop), in_axes=(0, None, 0, 0)))
    finish = jax.jit(jax.vmap(lambda c, *d: search(*d).finish(c)))
    state = start(params, x, y)
    # Slices of the step budget: the progress (a safe point for a signal, and the time projection's
    # data) moves within the cell; the numbers are those of one call.
    done = 0
    # two short slices first: their times tell a clock the compile from the cost of a step at once
    stops = sorted(
        {
            min(s, config.steps)
            for s in (CHECK_EVERY, 2 * CHECK_EVERY, *range(SLICE_STEPS, config.steps + SLICE_STEPS, SLICE_STEPS))
        }
    )
    for stop in stops:
        state = advance(state, stop, x, y)
        state["t"].block_until_ready()
        if tally:
            now = work * stop // config.steps
            tally.add(programs=int(done == 0), work=now - done)
            done = now
    out = jax.tree_util.tree_map(np.asarray, finish(state, x, y))  # NumPy from here: no op compiles
    results = {}
    for s in range(config.seeds):
        trained = networks.unpack(networks.TwoLayer(*(a[s] for a in out.params)), seg)
        for m, k in enumerate(config.widths):
            results[(k, s)] = (
                trained[m],
                float(out.train_mse[s, m]),
                int(out.steps[s, m]),
                bool(out.fitted[s, m]),
                _gain(float(out.first_roughness[s, m]), float(out.roughness[s, m])),
            )
    return members, results


def _gain(first: float, last: float) -> float:
    """How much smoother the search made the fit: the criterion at the first fit over the returned one's
    (1 when both are 0, a constant network; inf when only the returned one is)."""
    if last > 0:
        return first / last
    return 1.0 if first == last else math.inf


def cost(n: int, d: int, k: int) -> int:
    """A network's training work, n·d·width (multiply-adds per step)."""
    return n * d * k


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


def check_fits(config: RobustnessConfig) -> None:
    """ValueError, naming the sizes, if the experiment cannot fit in the free memory."""
    parts = settings(config)
    n, d = max(s[0] for s in parts), max(s[1] for s in parts)
    memory.require(footprint(config), f"this experiment (n up to {n}, d up to {d}, widths up to {max(config.widths)})")


def footprint(config: RobustnessConfig) -> dict[str, int]:
    """Bytes the largest part of the sweep will hold at its peak, by item (float32 training,
    float64 brackets); see dynamics/budget.py."""
    parts = settings(config)
    n, d = max(s[0] for s in parts), max(s[1] for s in parts)
    units = max(sum(s[2]) for s in parts)  # the largest pack: every width of a cell
    width = max(max(s[2]) for s in parts)
    return {
        "data": 2 * config.seeds * n * d * 4,
        # activations, the Gram matrices, params and Adam state of every seed's pack
        "training": config.seeds * (8 * n * units + 2 * units**2 + 6 * units * (d + 2)) * 4,
        "floor": 6 * n * n * 8,  # pairwise distances and gaps
        "LipSDP": 4 * (min(width, d) + width) ** 2 * 8,
    }


UNITS = ("compiled program", "network bracketed", "n·d·width")  # Tally's counts, for the progress clock
TRAIN_THREADS = 2  # cells trained at once: a small cell's program keeps one core busy (measured 1.36× on 2 cores)


class Tally:
    """The experiment's progress as one stage, counted in (programs compiled, networks bracketed,
    training work), so that a clock can learn a fixed cost per program and per network beside the
    size-dependent training work; cells train on threads, so additions are locked."""

    def __init__(self, progress, total: tuple):
        self.progress, self.total, self.done, self.lock = progress, total, (0, 0, 0), threading.Lock()
        if progress:
            progress("robustness", self.done, total, UNITS)

    def add(self, programs: int = 0, networks: int = 0, work: int = 0) -> None:
        if self.progress:
            with self.lock:
                self.done = (self.done[0] + programs, self.done[1] + networks, self.done[2] + work)
                self.progress("robustness", self.done, self.total, UNITS)


def run_robustness(
    config: RobustnessConfig, progress: Callable[[str, tuple, tuple], None] | None = None
) -> RobustnessResult:
    """Train, bracket and compare; predictions (law_scale, certified_bound) apart from measurements.

    Cells (one (n, d) each) train TRAIN_THREADS at a time, and each is bracketed as soon as it is
    trained, in order: the numbers do not depend on the threads."""
    start = time.perf_counter()
    cells = [dataclasses.replace(config, n=n, d=d, widths=ks, vary="width", values=()) for n, d, ks in settings(config)]
    tally = Tally(progress, (len(cells), sum(len(c.widths) * c.seeds for c in cells), train_cost(config)))
    rows, train_done = [], 0.0
    pool = ThreadPoolExecutor(TRAIN_THREADS)
    try:
        futures = [pool.submit(_train_cell, cell, tally) for cell in cells]
        for cell, future in zip(cells, futures):
            trained = future.result()
            train_done = max(train_done, time.perf_counter() - start)
            rows += bracket_cell(cell, *trained, tally)
    finally:  # on an error or a signal, no new cell starts; a running one stops at its next report
        pool.shutdown(wait=False, cancel_futures=True)
    summary = {name: np.array([r[name] for r in rows]) for name in rows[0]}
    meta = provenance("float32 training, float64 brackets", time.perf_counter() - start)
    meta.update(
        train_time_s=train_done,
        train_compiles=len(cells),
        certified_applies=theory.certified_applies(config.n, config.eps, config.delta),
    )
    return RobustnessResult(config, summary, fits.exponents(config.vary, summary), meta)


def _train_cell(config: RobustnessConfig, tally=None):
    """One (n, d): its datasets, their floors, and every (width, seed) trained."""
    x, y = [], []
    for s in range(config.seeds):
        rng = data.streams(s, config.n, config.d)[0]
        x.append(data.inputs(rng, config.n, config.d, config.inputs))
        y.append(data.labels(rng, x[-1], config.labels, config.flip))
    x, y = np.stack(x), np.stack(y)
    floors = [fit_floor(x[s], y[s], config.noise_level - config.eps) for s in range(config.seeds)]
    members, trained = train(config, jnp.asarray(x), jnp.asarray(y), tally)
    return x, floors, members, trained


def bracket_cell(config: RobustnessConfig, x, floors, members, trained, tally=None) -> list[dict]:
    """Rows of one (n, d): every trained (width, seed) bracketed and set beside the law and the floor."""
    rows = []
    x = np.asarray(x, float)
    input_radius = float(np.max(np.linalg.norm(x, axis=-1)))
    with jax.enable_x64(True):  # brackets in float64: quotients and gradients as exact as they can be
        for k, s in members:
            p, mse, steps, fitted, gain = trained[(k, s)]
            p64 = networks.TwoLayer(*(np.asarray(a, float) for a in p))
            if not all(np.isfinite(a).all() for a in p64):
                raise FloatingPointError(f"training width {k}, seed {s} produced non-finite weights")
            row = two_layer_bracket(
                p64,
                x[s],
                np.random.default_rng(np.random.SeedSequence([s, config.n, config.d, k])),
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
                    "two_layer_scale": theory.two_layer_scale(config.n, k),
                    "certified_bound": theory.certified_bound(
                        config.n, config.d, n_params, config.eps, config.delta, 2.0 * radius, jac
                    ),
                }
            )
            if tally:
                tally.add(networks=1)
    return rows
