"""A sweep over step sizes and seeds: configuration, run, predictions next to measurements, files.

Files of a sweep directory (readable without this package):
  summary.csv        one row per (step size, seed): measurements, then `theory_*` predictions
  trajectories.npz   records (members, records) of step, loss, threshold variable, sharpness;
                     trace (members, records, q) of the model's trace (x, y for product; q = 0 otherwise)
  run.json           config, theory, transition, versions, device, precision, git commit, wall time
While a sweep runs (and after an interruption) the directory holds instead
  sweep.json         its config
  chunks/*.npz       finished chunks (summary/*, trajectories/*, initial/* arrays), one file each
"""

from __future__ import annotations

import contextlib
import hashlib
import json
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
from eos.results.chunks import ChunkStore
from eos.results.files import read_csv, read_json, replace_whole, write_atomically, write_csv, write_json, write_npz
from eos.results.provenance import provenance

from . import columns, engine, flow, flow_apart, planning, regime, transition
from .config import DEFAULT_GRID, INT32_MAX, SweepConfig, default_lrs, flow_time, program_code  # noqa: F401
from .registry import dynamics_digest, make_model, params_read, predicted_lr, source_digest  # noqa: F401


def _shapes_of(model, dtype=None):
    """(train, test, params) as ShapeDtypeStructs for one seed of `model`, or ValueError when the
    sizes overflow the index arithmetic while tracing."""
    key = jax.random.key(0)
    try:
        train, test = jax.eval_shape(model.sample, key)
        params = jax.eval_shape(model.init, key, train)
        loss = jax.eval_shape(model.loss, params, train)
    except OverflowError as e:
        raise ValueError(f"the model's sizes overflow its index arithmetic ({e})") from None
    except Exception as e:  # a user's model may fail in any way while it is traced
        raise ValueError(f"model {model.name!r} cannot be traced: {type(e).__name__}: {e}") from None
    if getattr(loss, "shape", None) != ():
        raise ValueError(
            f"model {model.name!r}: loss(params, data) must be a scalar, got shape {getattr(loss, 'shape', loss)}"
        )
    return train, test, params


# Host bytes per run besides its parameters and records: summary columns, schedule, bookkeeping.
# tests/test_memory.py measures it (tracemalloc, at two sizes) and holds this above what it finds.
UNITS = ("member-steps",)  # what the grid and refinement stages count, for the progress clock
HOST_BYTES_PER_MEMBER = 2048
ARRAY_HEADER_BYTES = 128  # a NumPy array object's own size, around its data


def footprint(config: SweepConfig) -> dict[str, int]:
    """Bytes the sweep will hold at its peak, by item, from shapes alone (nothing is allocated).

    ValueError when a size overflows the engine's int32 step counter or the model's indices.
    """
    dtype = jnp.float64 if config.x64 else jnp.float32
    members = (len(config.lrs) + config.refine * (config.refine_points + 2)) * config.seeds  # transition.refinement_lrs
    # Before any array of the members' size exists: their host rows (summary, records, schedule).
    memory.require({"members": members * HOST_BYTES_PER_MEMBER}, f"this sweep ({members} runs)")
    horizons = config.horizons(config.lrs)
    stride = config.engine.stride or planning.default_stride(horizons)
    if int(horizons.max()) + stride > INT32_MAX:
        raise ValueError(
            f"a horizon of {int(horizons.max())} steps overflows the int32 step counter (at most {INT32_MAX - stride})"
        )
    with jax.enable_x64(config.x64):
        model = make_model(config.spec, dtype)
        train, test, params = _shapes_of(model)
        trace = jax.eval_shape(model.trace, params) if model.trace is not None else None
        grid = _plan(model, config, dtype)
    fields = 5 + (math.prod(trace.shape) if trace is not None else 0)  # step, loss, threshold, sharpness, rises
    records = int(grid.records(horizons).max())
    per_member_pool = memory.tree_bytes(train) + 16 * memory.tree_bytes(params)
    leaves = len(jax.tree_util.tree_leaves(params))
    return {
        "members": members * HOST_BYTES_PER_MEMBER,
        # each member's final parameters on the host: one array per leaf (with its header), then
        # stacked per chunk and for the whole
        "parameters": 3 * members * (memory.tree_bytes(params) + ARRAY_HEADER_BYTES * leaves),
        "data": 2 * config.seeds * (memory.tree_bytes(train) + memory.tree_bytes(test)),  # device and host copies
        "pool": grid.devices * grid.slots * per_member_pool,
        # float64 on the host: the engine's records, the chunks, the whole, the whole in (lr, seed)
        # order, and the copy being written
        "trajectories": 5 * members * records * fields * 8,
    }


def _plan(model, config: SweepConfig, dtype) -> planning.Plan:
    """One plan for the whole grid, every chunk and round: the same stride, so that records (and
    sharpness) are taken at the same steps, and the same pool size per device: one compiled program."""
    return planning.plan(model, np.repeat(config.horizons(config.lrs), config.seeds), config.engine, dtype)


def check_fits(config: SweepConfig) -> None:
    """ValueError, naming the sizes, if the sweep cannot fit in the free memory or asks for more
    devices than there are."""
    planning.member_devices(config.engine.devices)
    memory.require(
        footprint(config),
        f"this sweep ({config.spec.model}, n = {config.spec.n}, d = {config.spec.d}, "
        f"{len(config.lrs)} step sizes × {config.seeds} seeds)",
    )


class SweepResult(NamedTuple):
    config: SweepConfig
    summary: dict  # column -> (members,) array
    trajectories: dict  # name -> (members, records) array
    theory: dict
    transition: dict
    meta: dict

    def save(self, path) -> Path:
        return save(self, path)

    @property
    def frame(self):
        """The summary as a pandas DataFrame, one row per (step size, seed)."""
        import pandas as pd

        return pd.DataFrame(self.summary)


TRAJECTORY_FIELDS = ("step", "loss", "threshold", "sharpness", "trace", "rises")


def run_sweep(
    config: SweepConfig,
    progress: Callable[[str, int, int], None] | None = None,
    store: ChunkStore | None = None,
    flow_process: flow_apart.Apart | None = None,
) -> SweepResult:
    """Run the grid, then `refine` rounds inside the η* brackets; predictions and measurements apart.
    `flow_process`: the gradient flow's process, already started for this sweep
    (flow_apart.Apart.for_sweep(config)), e.g. by a command before it loaded JAX.

    Members are run in chunks of `config.chunk`; with a `store`, each finished chunk is kept
    there and chunks already in it are read instead of recomputed (resuming a run). A member's
    numbers do not depend on its chunk, so the result is the same whatever the chunking.
    """
    start = time.perf_counter()
    dtype = jnp.float64 if config.x64 else jnp.float32
    with jax.enable_x64(config.x64):
        model = make_model(config.spec, dtype)
        run = _ChunkRunner(model, config, _plan(model, config, dtype), store, progress)
        seeds = np.arange(config.seeds)
        predicted = model.theory.threshold_lr
        beside = _Beside(lambda report: _flow(model, config, seeds, report, flow_process), config.x64)
        with beside.cancelled_on_error():
            if config.flow:
                beside.start(_stage(progress, "gradient flow", ("seeds",), background=True))
            parts = _rounds(run, model, config, seeds, predicted)
            flows = beside.result()
    summary, trajectories, initial = _concat(parts)
    order = np.lexsort((summary["seed"], summary["lr"]))
    summary = {k: v[order] for k, v in summary.items()}
    trajectories = {k: v[order] for k, v in trajectories.items()}
    located = _locate(summary, initial, model, config, predicted)
    theory_block = _theory(model, initial, flows)
    _add_theory_columns(model, summary, initial)
    if predicted and np.isfinite(predicted):  # where each step size sits on a grid relative to η* (0.5x … 2x)
        summary["lr_over_prediction"] = summary["lr"] / predicted
    meta = provenance("float64" if config.x64 else "float32", time.perf_counter() - start)
    # Work done by this call (a resumed sweep counts only what it recomputed).
    meta["engine"] = {k: sum(p["engine"][k] for p in parts) for k in ("useful_steps", "computed_steps")}
    useful = meta["engine"]["useful_steps"]
    meta["engine"]["wasted_fraction"] = meta["engine"]["computed_steps"] / useful - 1 if useful else 0.0
    meta["engine"]["stride"] = run.plan.stride
    # Records per member are bounded (planning.MAX_RECORDS at the automatic stride), so memory
    # does not grow with the horizon; a long horizon is recorded more sparsely instead.
    meta["engine"]["records_per_member"] = int(run.plan.records(config.horizons(config.lrs)).max())
    meta["engine"]["record_cap"] = None if config.engine.stride else planning.MAX_RECORDS
    meta["engine"]["slots_per_device"] = run.plan.slots
    meta["engine"]["devices"] = len(planning.member_devices(config.engine.devices))
    meta["engine"]["rounds"] = [p["engine"] for p in parts]
    meta["resumed_chunks"] = run.resumed
    meta["model"] = facts(model)
    return SweepResult(config, at_precision(summary, config.x64), trajectories, theory_block, located, meta)


def _rounds(run, model, config: SweepConfig, seeds, predicted) -> list:
    """The grid, then up to config.refine rounds of step sizes inside the located bracket."""
    parts = [run(np.repeat(np.asarray(config.lrs), len(seeds)), np.tile(seeds, len(config.lrs)), 0)]
    for r in range(1, config.refine + 1):
        so_far, _, initial = _concat(parts)
        located = _locate(so_far, initial, model, config, predicted, resamples=0)
        new = transition.refinement_lrs(so_far["lr"], located["fit"], config.refine_points)
        if not len(new):
            break
        parts.append(run(np.repeat(new, len(seeds)), np.tile(seeds, len(new)), r))
    return parts


def _stage(progress, name: str, units: tuple, background: bool = False):
    """progress(done, total) for one stage of the sweep's progress callback (None without one)."""
    if progress is None:
        return None
    return lambda done, total: progress(name, done, total, units, background=background)


def _flow(model, config: SweepConfig, seeds, report, apart: flow_apart.Apart | None = None) -> list[dict]:
    """The gradient-flow predictions per seed: from `apart` (a process already started for this
    sweep), else in a process of its own for a long sweep (flow_apart.wanted), else in this one (also
    where that process cannot run)."""
    if apart is not None and apart.task != flow_apart.task(config):  # started for another sweep: not ours
        apart.stop()
        apart = None
    if apart is None and flow_apart.wanted(config):
        apart = flow_apart.Apart.for_sweep(config)
    if apart is not None:
        with apart:
            got = apart.result(report)
        if got is not None:
            return got
    return flow.peak_sharpness(model, seeds, flow_time(config), report, program_code(config))


class _Beside:
    """A computation on a thread of its own, beside the grid: the gradient-flow integration runs on the
    host (SciPy) while the engine's blocks run on the devices, and its numbers do not depend on what
    runs beside it. `work(report)` calls report(done, total) as it goes; an error of the sweep stops it
    at its next report."""

    def __init__(self, work, x64: bool):
        self.work, self.x64, self.future, self.stop = work, x64, None, threading.Event()

    def start(self, progress) -> None:
        def report(done, total):
            if self.stop.is_set():
                raise _Stopped
            if progress is not None:  # its own bar: its time is bounded by flow's budget
                progress(done, total)

        def run():
            with jax.enable_x64(self.x64):  # the context is the thread's own: the sweep's, as on the main thread
                return self.work(report)

        pool = ThreadPoolExecutor(1, thread_name_prefix="eos-beside")
        self.future = pool.submit(run)
        pool.shutdown(wait=False)

    @contextlib.contextmanager
    def cancelled_on_error(self):
        try:
            yield
        except BaseException:
            self.stop.set()
            raise

    def result(self):
        return None if self.future is None else self.future.result()


class _Stopped(Exception):
    pass


class _ChunkRunner:
    """Runs a round's members: chunks found in the store are read, all the others run together
    in one refilled pool, and each is kept the moment its last member finishes."""

    def __init__(self, model, config: SweepConfig, plan: planning.Plan, store, progress):
        self.model, self.config, self.plan = model, config, plan
        self.store, self.progress = store, progress
        self.dtype = jnp.float64 if config.x64 else jnp.float32
        self.fingerprint = fingerprint(config)
        self.code = program_code(config)
        key = jax.random.key(0)
        train = jax.eval_shape(lambda k: model.sample(k)[0], key)
        self.params_def = jax.tree_util.tree_structure(jax.eval_shape(model.init, key, train))
        self.resumed = 0

    def __call__(self, lrs, seeds, round_index) -> dict:
        config = self.config
        horizons = config.horizons(lrs)
        # Chunks take members in the order the pool is expected to finish them, so that chunks
        # complete (and are kept) one after another rather than all at the end.
        order = self.plan.finish_order(horizons)
        chunks = [order[i : i + config.chunk] for i in range(0, len(order), config.chunk)]
        keys = [f"round{round_index}-chunk{c:04d}" for c in range(len(chunks))]
        parts: dict[int, dict] = {}
        for c, (key, rows) in enumerate(zip(keys, chunks)):
            arrays = self.store.get(key) if self.store is not None else None
            if arrays is not None:
                _check_chunk(key, arrays, self.fingerprint, lrs[rows], seeds[rows])
                parts[c] = _part_from_arrays(arrays, self.params_def)
                self.resumed += 1
        missing = [c for c in range(len(chunks)) if c not in parts]
        stats = {"useful_steps": 0, "computed_steps": 0}
        if missing:
            # Every missing chunk in one refilled pool (chunking must not cost pool efficiency);
            # each chunk is kept as soon as its last member finishes.
            rows = np.concatenate([chunks[c] for c in missing])
            bounds = np.cumsum([0] + [len(chunks[c]) for c in missing])
            groups = [np.arange(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
            stage = "grid" if round_index == 0 else f"refine {round_index}"
            base = int(sum(horizons[chunks[c]].sum() for c in parts))
            report = (
                None
                if self.progress is None
                else (lambda done, total: self.progress(stage, base + done, base + total, UNITS))
            )

            def keep(g, tr):
                c = missing[g]
                arrays = _chunk_arrays(tr, lrs[chunks[c]], seeds[chunks[c]], round_index, horizons[chunks[c]])
                arrays["config/fingerprint"] = np.array(self.fingerprint)
                if self.store is not None:
                    self.store.put(keys[c], arrays)
                parts[c] = _part_from_arrays(arrays, self.params_def)

            tr = engine.run(
                self.model,
                lrs[rows],
                seeds[rows],
                horizons[rows],
                dtype=self.dtype,
                config=self.config.engine,
                plan=self.plan,
                progress=report,
                groups=groups,
                on_group=keep,
                code=self.code,
            )
            stats = {"useful_steps": tr.useful_steps, "computed_steps": tr.computed_steps, "slots": tr.slots}
        whole = _concat_parts([parts[c] for c in range(len(chunks))])
        back = np.argsort(np.concatenate(chunks), kind="stable")  # rows in the round's member order
        whole["summary"] = {k: v[back] for k, v in whole["summary"].items()}
        whole["trajectories"] = {k: v[back] for k, v in whole["trajectories"].items()}
        whole["engine"] = dict(stats, members=len(lrs), chunks=len(chunks), resumed=len(chunks) - len(missing))
        return whole


def _chunk_arrays(tr: engine.Trajectories, lrs, seeds, round_index, horizons) -> dict:
    """A finished chunk as flat arrays: its summary rows, trajectories and the initial state of its seeds."""
    last = (tr.step >= 0).sum(axis=1) - 1
    rows = np.arange(len(lrs))
    summary = {
        "lr": np.asarray(lrs, float),
        "seed": np.asarray(seeds),
        "round": np.full(len(lrs), round_index),
        "steps": horizons,
        "steps_done": tr.steps_done,
        "diverged": tr.diverged_step >= 0,
        "diverged_step": tr.diverged_step,
        "dead": tr.dead,
        "final_loss": tr.loss[rows, last],
        "final_sharpness": tr.sharpness[rows, last],
        "max_sharpness": np.nanmax(tr.sharpness, axis=1),
        "initial_sharpness": tr.initial_sharpness[np.searchsorted(np.unique(seeds), seeds)],
        "final_threshold": tr.threshold[rows, last],
    }
    summary["edge_ratio_max"] = summary["max_sharpness"] * summary["lr"] / 2.0
    summary.update(regime.measure(tr.step, tr.loss, tr.sharpness, tr.stride, horizons, summary["lr"], tr.rises))
    summary["status"] = member_status(tr)
    summary.update(tr.observables)
    arrays = {f"summary/{k}": np.asarray(v) for k, v in summary.items()}
    arrays.update({f"trajectories/{name}": getattr(tr, name) for name in TRAJECTORY_FIELDS})
    arrays["initial/seed"], arrays["initial/sharpness"] = np.unique(seeds), tr.initial_sharpness
    for i, leaf in enumerate(jax.tree_util.tree_leaves(tr.initial_params)):
        arrays[f"initial/params/{i}"] = np.asarray(leaf)
    return arrays


def member_status(tr: engine.Trajectories) -> np.ndarray:
    """One word per member saying whether its numbers can be read as measurements:
    ok; diverged (loss non-finite or exploded, see diverged_step); dead (no ReLU unit active);
    sharpness_unreliable (a recorded sharpness failed Lanczos's check or is non-finite while
    the loss is finite: that record is NaN, not a number)."""
    recorded = tr.step >= 0
    bad_sharpness = np.any(recorded & np.isfinite(tr.loss) & ~np.isfinite(tr.sharpness), axis=1)
    status = np.where(bad_sharpness, "sharpness_unreliable", "ok")
    status = np.where(tr.dead, "dead", status)
    return np.where(tr.diverged_step >= 0, "diverged", status)


def fingerprint(config: SweepConfig) -> str:
    """A digest of everything that can change a number: the config (not the device count), the
    model's source code and the code that trains and measures it (this package's dynamics/): chunks
    of an earlier eos are never merged with this one's."""
    d = config.to_dict()
    d["engine"].pop("devices")
    d["model_source"] = source_digest(config.spec.model)
    d["dynamics_source"] = dynamics_digest()
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


class ChunkMismatch(ValueError):
    """A chunk on disk that this configuration did not compute: a refusal to merge, not a fault."""


def _check_chunk(key, arrays, expected: str, lrs, seeds):
    if str(arrays["config/fingerprint"]) != expected:
        raise ChunkMismatch(
            f"chunk {key!r} on disk was computed with another configuration or another version of the "
            f"model's source code or of eos's; start a new run in another directory"
        )
    if not (np.array_equal(arrays["summary/lr"], lrs) and np.array_equal(arrays["summary/seed"], seeds)):
        raise ChunkMismatch(f"chunk {key!r} on disk holds other members than this configuration runs")


def _part_from_arrays(arrays: dict, params_def) -> dict:
    group = lambda prefix: {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
    leaves = group("initial/params/")
    params = jax.tree_util.tree_unflatten(params_def, [leaves[str(i)] for i in range(len(leaves))])
    return {
        "summary": group("summary/"),
        "trajectories": group("trajectories/"),
        "initial": {"seed": arrays["initial/seed"], "sharpness": arrays["initial/sharpness"], "params": params},
    }


def _pad_records(parts, name):
    width = max(p["trajectories"]["step"].shape[1] for p in parts)
    fill = -1 if name in ("step", "rises") else np.nan
    pad = lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1])) + ((0, 0),) * (a.ndim - 2), constant_values=fill)
    return np.concatenate([pad(p["trajectories"][name]) for p in parts])


def _concat_parts(parts) -> dict:
    """One part from several: rows stacked, initial state merged by seed, engine counts summed."""
    summary = {k: np.concatenate([p["summary"][k] for p in parts]) for k in parts[0]["summary"]}
    trajectories = {k: _pad_records(parts, k) for k in TRAJECTORY_FIELDS}
    seeds = np.concatenate([p["initial"]["seed"] for p in parts])
    keep = np.unique(seeds, return_index=True)[1]
    stack = lambda get: np.concatenate([np.atleast_1d(get(p)) for p in parts])[keep]
    params = jax.tree_util.tree_map(lambda *a: np.concatenate(a)[keep], *[p["initial"]["params"] for p in parts])
    initial = {"seed": seeds[keep], "sharpness": stack(lambda p: p["initial"]["sharpness"]), "params": params}
    return {"summary": summary, "trajectories": trajectories, "initial": initial}


def _concat(parts):
    whole = _concat_parts(parts)
    return whole["summary"], whole["trajectories"], whole["initial"]


def _locate(summary, initial, model, config, predicted, resamples=None):
    """Classify every row (columns departed, regime), then locate η* and the verdict; summary is
    updated in place. resamples = 0 skips the intervals (a refinement round needs only the kink)."""
    summary["departed"] = transition.departed_rows(
        summary["lr"], summary["seed"], summary["final_threshold"], config.margin
    )
    summary["regime"] = regime.classify(summary, summary["departed"], model.regime_inputs)
    return transition.locate(
        summary["lr"],
        summary["seed"],
        summary["final_threshold"],
        summary["regime"],
        predicted,
        config.margin,
        moved=summary["departed"],
        initial=[float(model.threshold(_seed_params(initial, s))) for s in np.unique(summary["seed"])],
        scale=model.theory.threshold_scale,
        **({} if resamples is None else {"resamples": resamples}),
    )


def _per_seed(values) -> dict:
    values = [float(v) for v in values]
    finite = [v for v in values if math.isfinite(v)]
    return {"per_seed": values, "median": float(np.median(finite)) if finite else math.nan}


def _two_over(sharpness) -> np.ndarray:
    """2/λ where λ is a positive finite sharpness, NaN elsewhere: a flat or NaN Hessian predicts nothing."""
    lam = np.asarray(sharpness, np.float64)
    good = np.isfinite(lam) & (lam > 0)
    return np.where(good, 2.0 / np.where(good, lam, 1.0), np.nan)


def _seed_params(initial, seed):
    """The initial params of one seed, as numbers."""
    i = int(np.flatnonzero(initial["seed"] == seed)[0])
    return jax.tree_util.tree_map(lambda a: np.asarray(a)[i], initial["params"])


def _theory(model, initial, flows) -> dict:
    """Named predictions, from formulas and integrations alone: the model's closed form and its
    own, and 2/max λ along gradient flow integrated from each seed's start (flow.py). 2/λ of the
    initial Hessian is a diagnostic, not a prediction of η*."""
    predicted = model.theory
    out: dict = {"threshold_lr": {}}
    if predicted.threshold_lr is not None:
        out["threshold_lr"]["closed_form"] = predicted.threshold_lr
    out.update(predicted.constants)
    out["threshold_lr"]["initial_hessian"] = _per_seed(_two_over(initial["sharpness"]))
    if flows is not None:
        out["threshold_lr"]["gradient_flow"] = {
            **_per_seed(_two_over([f["peak"] for f in flows])),
            "peak_time": [f["time"] for f in flows],
            "failed": [
                f.get("failed") or (None if f["peak"] > 0 else "the flow's peak sharpness is not positive")
                for f in flows
            ],
            "method": flow.METHOD_TEXT,
        }
    if predicted.per_seed is not None:
        by_seed = [predicted.per_seed(_seed_params(initial, s)) for s in initial["seed"]]
        for name in by_seed[0]:
            out[name] = _per_seed(b[name] for b in by_seed)
    return out


def _add_theory_columns(model, summary, initial):
    """Per-member predictions, in columns named theory_* (never in a measured column)."""
    if model.theory.columns is None:
        return
    params = {int(s): _seed_params(initial, s) for s in initial["seed"]}
    rows = [model.theory.columns(float(lr), params[int(s)]) for lr, s in zip(summary["lr"], summary["seed"])]
    for name in rows[0]:
        if not name.startswith("theory_"):
            raise ValueError(f"model {model.name!r}: prediction column {name!r} must be named theory_*")
        summary[name] = np.array([r[name] for r in rows])


def facts(model) -> dict:
    """What a report or figure reads of the model, kept in run.json so that none rebuilds it: its
    name, the symbol of its threshold variable, its predicted η*'s formula, its own columns and the
    observables the regime rules read."""
    columns_ = {k: list(v) for k, v in model.columns.items()}
    return dict(
        name=model.name,
        symbol=model.symbol,
        formula=model.theory.formula,
        columns=columns_,
        regime_inputs=dict(model.regime_inputs),
    )


def model_facts(result: SweepResult) -> dict:
    """facts() of the result's model: from its run.json, or (a run written before it kept them) rebuilt."""
    return result.meta.get("model") or facts(make_model(result.config.spec))


def own_params(config: dict) -> dict:
    """The config with only the model parameters its model reads (its module's PARAMS; a model that
    does not say keeps them all): a relu run's record names no product or mlp parameter. Loading fills
    the rest with their defaults."""
    keep = params_read(config["spec"]["model"])
    if keep is None:
        return config
    spec = {k: v for k, v in config["spec"].items() if k == "model" or k in keep}
    return dict(config, spec=spec)


def write_files(result: SweepResult, directory) -> None:
    """The three result files into an existing directory, each renamed into place whole; run.json,
    which marks a finished sweep, last."""
    directory = Path(directory)
    replace_whole(directory / "summary.csv", lambda p: write_csv(p, result.summary))
    own = model_facts(result)["columns"]
    replace_whole(directory / "columns.csv", lambda p: write_csv(p, columns.dictionary(result.summary, own)))
    replace_whole(
        directory / "trajectories.npz",
        lambda p: write_npz(
            p, compress=True, lr=result.summary["lr"], seed=result.summary["seed"], **result.trajectories
        ),
    )
    run = {
        "kind": "sweep",
        "config": own_params(result.config.to_dict()),
        "theory": result.theory,
        "transition": result.transition,
        **result.meta,
    }
    replace_whole(directory / "run.json", lambda p: write_json(p, run))


def save(result: SweepResult, path) -> Path:
    """The result as a new directory `path`, which appears whole or not at all."""
    return write_atomically(path, lambda tmp: write_files(result, tmp))


def at_precision(summary: dict, x64: bool) -> dict:
    """A float32 sweep's measured columns as float32: what the engine computed carries no more digits,
    so summary.csv prints none (the shortest decimal of each float32), and reading it back as float32
    gives the same numbers. Configs (lr) and predictions (theory_*) keep float64."""
    if x64:
        return summary
    kind = lambda name: columns.dictionary([name])["kind"][0]
    return {
        k: v.astype(np.float32) if v.dtype == np.float64 and kind(k) == "measurement" else v for k, v in summary.items()
    }


def load(path) -> SweepResult:
    """The SweepResult saved in directory `path`."""
    path = Path(path)
    raw, run = read_json(path / "run.json")
    summary = at_precision(read_csv(path / "summary.csv"), run.get("precision") != "float32")
    with np.load(path / "trajectories.npz") as z:
        trajectories = {k: z[k] for k in TRAJECTORY_FIELDS}
    meta = {k: v for k, v in run.items() if k not in ("kind", "config", "theory", "transition")}
    return SweepResult(
        SweepConfig.from_dict(raw["config"]), summary, trajectories, run["theory"], run["transition"], meta
    )
