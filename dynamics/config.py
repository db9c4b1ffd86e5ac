"""The configuration of a sweep: its model (ModelSpec), its engine (EngineConfig) and its grid
(SweepConfig). Frozen dataclasses that validate themselves, importable without JAX so that the
command line answers help and bad input at once; a field with a "help" is an option of `eos sweep`.
"""

from __future__ import annotations

import dataclasses
import math
import shlex
from dataclasses import dataclass, field

import numpy as np

from . import registry

INT32_MAX = 2**31 - 1  # the engine counts steps in int32
LOSS_NAMES = ("logcosh", "sqrt", "logistic", "quadratic")  # the product model's losses (losses.LOSSES)


POOLS = ("auto", "cpu", "accelerator")


@dataclass(frozen=True)
class EngineConfig:
    # Fields with a "help" are options of `eos sweep` (named by "cli" where it differs).
    stride: int = field(
        default=0, metadata={"help": "Steps between records and sharpness measurements (0: automatic)."}
    )
    max_slots: int = field(default=0, metadata={"help": "Members computed at once (0: automatic).", "cli": "slots"})
    memory_mb: float = field(default=512.0, metadata={"help": "CPU pools: MB of training data the pool may hold."})
    max_waste: float = field(default=0.2, metadata={"help": "CPU pools: largest wasted / useful member-steps."})
    lanczos_steps: int = field(default=20, metadata={"help": "Lanczos iterations per sharpness measurement."})
    blowup: float = 1e6  # loss > blowup · max(L₀, 1) counts as divergence
    devices: int = field(default=0, metadata={"help": "Devices to shard the members over (0: all visible)."})
    pool: str = field(
        default="auto",
        metadata={
            "help": (
                "Pool policy: auto | cpu (waste-bounded, data copied per slot) | "
                "accelerator (every member at once, data "
                "once per seed)."
            )
        },
    )
    device_memory_fraction: float = 0.5  # accelerator pools: share of the device's memory they may fill

    def __post_init__(self):
        if self.pool not in POOLS:
            raise ValueError(f"unknown pool policy {self.pool!r} (choose from {', '.join(POOLS)})")
        for name in ("stride", "max_slots", "devices"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        if self.stride > INT32_MAX // 2:  # the engine counts steps in int32: a stride past a run is no stride
            raise ValueError(f"stride must be at most {INT32_MAX // 2:,} steps, got {self.stride!r}")
        if not isinstance(self.lanczos_steps, int) or self.lanczos_steps < 1:
            raise ValueError(f"lanczos_steps must be a positive integer, got {self.lanczos_steps!r}")
        if not (math.isfinite(self.memory_mb) and self.memory_mb > 0):
            raise ValueError(f"memory_mb must be finite and positive, got {self.memory_mb!r}")
        if not (math.isfinite(self.max_waste) and self.max_waste >= 0):
            raise ValueError(f"max_waste must be finite and non-negative, got {self.max_waste!r}")
        if not (math.isfinite(self.blowup) and self.blowup > 1):
            raise ValueError(f"blowup must be finite and above 1, got {self.blowup!r}")
        if not 0 < self.device_memory_fraction <= 1:
            raise ValueError(f"device_memory_fraction must be in (0, 1], got {self.device_memory_fraction!r}")


def _read_by(name: str, text):
    """An option's help, with the built-in models that read the parameter (the others refuse it)."""
    return lambda: f"{text() if callable(text) else text} Read by: {', '.join(registry.readers(name))}."


@dataclass(frozen=True)
class ModelSpec:
    """Everything that defines a model and its data; one sweep has one spec.

    `model` is a built-in name or a user's `file.py:make` / `package.module:make`. Each model
    reads the fields it needs (the mlp its width, the product model its loss and start).
    """

    model: str = field(
        default="relu",
        metadata={
            "help": lambda: (
                f"{' | '.join(registry.builtin_models())}, or your own: file.py:make or package.module:make "
                "(a function (spec, dtype) -> Model; see README)."
            )
        },
    )
    d: int = field(default=200, metadata={"help": _read_by("d", "Input dimension ([AB] Fig. 1: 200).")})
    n: int = field(default=300, metadata={"help": _read_by("n", "Training samples ([AB] Fig. 1: 300).")})
    lam: float = field(default=3.0, metadata={"help": _read_by("lam", "Signal strength λ.")})
    sigma: float = field(default=1.0, metadata={"help": _read_by("sigma", "Noise level σ.")})
    n_test: int = field(default=2000, metadata={"help": _read_by("n_test", "Test samples.")})
    width: int = field(default=64, metadata={"help": _read_by("width", "Hidden units of the mlp model.")})
    loss: str = field(
        default="logcosh", metadata={"help": _read_by("loss", lambda: f"Product-model loss: {' | '.join(LOSS_NAMES)}.")}
    )
    x0: float = field(default=0.5, metadata={"help": _read_by("x0", "Product-model start x₀.")})
    y0: float = field(default=2.0, metadata={"help": _read_by("y0", "Product-model start y₀.")})
    impl: str = field(
        default="auto",
        metadata={
            "help": _read_by(
                "impl",
                (
                    "relu formulation: auto (sorted on a CPU, counted on a GPU) | sorted | "
                    "counted (both exact, O(n) a step) "
                    "| dense (O(nd) reference)."
                ),
            )
        },
    )

    def __post_init__(self):
        if ":" in self.model:
            registry.find_model(self.model)  # a user's file: loading it is the check
        else:
            registry.check_builtin(self.model)
        for name in ("d", "n", "n_test", "width"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("lam", "sigma", "x0", "y0"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)!r}")
        if self.sigma <= 0:
            raise ValueError(f"sigma must be positive, got {self.sigma!r}")
        if self.loss not in LOSS_NAMES:
            raise ValueError(f"unknown loss {self.loss!r} (choose from {', '.join(LOSS_NAMES)})")
        self._check_read()

    @classmethod
    def of(cls, model: str, **params) -> ModelSpec:
        """The spec of `model` from those of `params` it reads, the others dropped: for code that holds
        one set of parameters for several models (ModelSpec itself refuses one the model ignores)."""
        reads = registry.params_read(model)
        return cls(model=model, **{k: v for k, v in params.items() if reads is None or k in reads})

    def _check_read(self) -> None:
        """ValueError for a parameter set away from its default that the model never reads: a run.json
        would record it, and a reader would take it for part of the run."""
        reads = registry.params_read(self.model)
        if reads is None:
            return
        for f in dataclasses.fields(self):
            if f.name not in (*registry.SHARED, *reads) and getattr(self, f.name) != f.default:
                flag = "--" + f.name.replace("_", "-")
                raise ValueError(
                    f"{flag} {getattr(self, f.name)!r}: model {self.model!r} does not read it "
                    f"(it reads {', '.join('--' + r.replace('_', '-') for r in reads) or 'no parameter'})"
                )


@dataclass(frozen=True)
class SweepConfig:
    """One `eos sweep`: gradient descent from each seed's start at every step size of the grid.

    spec      the model and its parameters (ModelSpec)
    lrs       the step sizes η (None: DEFAULT_GRID, 0.2 to 5 × the model's predicted η*, 48 points)
    seeds     seeds 0..N−1; each fixes the data and the initialisation
    steps / time   the horizon: a fixed number of steps, or T = round(time/η) (equal time T·η per η)
    refine, refine_points   rounds of step sizes added inside the located bracket
    engine    how the members are computed (EngineConfig): no number depends on it
    The other fields are documented by their option's help (`eos sweep --help`).
    """

    spec: ModelSpec = ModelSpec()
    lrs: tuple | None = None  # step sizes η of the grid; None: DEFAULT_GRID around the model's predicted η*
    # Fields with a "help" are options of `eos sweep`.
    seeds: int = field(default=3, metadata={"help": "Seeds 0..N-1 (each fixes data and initialisation)."})
    steps: int | None = field(default=None, metadata={"help": "Fixed number of steps (instead of --time)."})
    time: float = field(default=10.0, metadata={"help": "Total time T·η; T = round(time/η) ([AB] Fig. 1: 10)."})
    refine: int = field(default=0, metadata={"help": "Extra rounds of step sizes inside each η* bracket."})
    refine_points: int = field(default=4, metadata={"help": "Step sizes added per seed and refinement round."})
    margin: float = field(
        default=0.03,
        metadata={
            "help": (
                "η* criterion: the final threshold variable leaves its small-η trend by more than "
                "margin·max(1, |value|)."
            )
        },
    )
    chunk: int = field(default=64, metadata={"help": "Members per chunk; each finished chunk is kept on disk at once."})
    x64: bool = field(default=False, metadata={"help": "float64 instead of float32."})
    flow: bool = field(
        default=True,
        metadata={
            "help": "Predict η* as 2/max λ along gradient flow, integrated from each seed's start (seconds).",
            "cli": "flow/--no-flow",
        },
    )
    engine: EngineConfig = EngineConfig()

    def __post_init__(self):
        lrs = tuple(float(x) for x in (self.lrs if self.lrs is not None else default_lrs(self.spec)))
        object.__setattr__(self, "lrs", lrs)
        if not lrs:
            raise ValueError("the step-size grid is empty")
        bad = [x for x in lrs if not (math.isfinite(x) and x > 0)]
        if bad:
            raise ValueError(f"step sizes must be finite and positive, got {bad[0]!r}")
        if not isinstance(self.seeds, int) or self.seeds <= 0:
            raise ValueError(f"seeds must be a positive integer, got {self.seeds!r}")
        if self.steps is not None and (not isinstance(self.steps, int) or self.steps <= 0):
            raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
        if not (math.isfinite(self.time) and self.time > 0):
            raise ValueError(f"time must be finite and positive, got {self.time!r}")
        if not isinstance(self.refine, int) or self.refine < 0:
            raise ValueError(f"refine must be a non-negative integer, got {self.refine!r}")
        if not isinstance(self.refine_points, int) or self.refine_points <= 0:
            raise ValueError(f"refine_points must be a positive integer, got {self.refine_points!r}")
        if not isinstance(self.chunk, int) or self.chunk <= 0:
            raise ValueError(f"chunk must be a positive integer, got {self.chunk!r}")
        if not (math.isfinite(self.margin) and self.margin > 0):
            raise ValueError(f"margin must be positive, got {self.margin!r}")
        longest = self.steps if self.steps is not None else self.time / min(lrs)  # in floats: no wrap-around
        if longest > INT32_MAX:
            raise ValueError(
                f"a horizon of {longest:.3g} steps (time {self.time:g} / η {min(lrs):g}) overflows the int32 step "
                f"counter (at most {INT32_MAX}); use a larger η or a shorter --time"
            )

    def horizons(self, lrs) -> np.ndarray:
        """Steps per member: `steps`, or round(time/η) (at least 1)."""
        lrs = np.asarray(lrs, float)
        if self.steps is not None:
            return np.full(len(lrs), self.steps, dtype=np.int64)
        return np.maximum(1, np.round(self.time / lrs)).astype(np.int64)

    def __repr__(self) -> str:
        """The fields, with the grid in short: its size and range, not every step size."""
        import dataclasses

        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "lrs" and value is not None and len(value) > 4:
                value = f"<{len(value)} step sizes, {min(value):.4g}…{max(value):.4g}>"
            else:
                value = repr(value)
            parts.append(f"{f.name}={value}")
        return f"SweepConfig({', '.join(parts)})"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SweepConfig:
        d = dict(d)
        d["spec"] = ModelSpec(**d["spec"])
        d["engine"] = EngineConfig(**d["engine"])
        d["lrs"] = tuple(d["lrs"])
        return cls(**d)


DEFAULT_GRID = (0.2, 5.0, 48)  # η from 0.2 to 5 × the predicted η*, evenly spaced: both sides, 10 points below


def default_lrs(spec: ModelSpec) -> np.ndarray:
    """DEFAULT_GRID in units of the model's predicted η*; ValueError for a model without one."""
    eta = registry.predicted_lr(spec)  # the model's code, JAX and all: only when a grid is built from it
    if eta is None:
        raise ValueError(f"model {spec.model!r} predicts no η*: give the step sizes (--lr A:B)")
    lo, hi, count = DEFAULT_GRID
    return np.linspace(lo * eta, hi * eta, count)


def flow_time(config: SweepConfig) -> float:
    """Total time of the gradient flow the prediction integrates: T·η, or steps × the smallest η."""
    return config.time if config.steps is None else config.steps * min(config.lrs)


def program_code(config: SweepConfig) -> str | None:
    """What the compiled programs of this sweep's model (the engine's, the gradient flow's) depend on
    besides their arguments' shapes: the model's spec, the precision and this package's dynamics/
    sources (the name their traces are kept under, dynamics/traces.py). None for a researcher's own
    model, whose file may import code that no digest here would see."""
    import json

    if ":" in config.spec.model:
        return None
    spec = dataclasses.asdict(config.spec)
    return json.dumps({"spec": spec, "x64": config.x64, "dynamics": registry.dynamics_digest()})


def _written(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _grid_option(lrs: tuple, spec: ModelSpec) -> list[str]:
    """--lr as it would be written for this grid: nothing for the default, A:B:N (with --log for a
    geometric one), else a list."""
    x = np.asarray(lrs, float)
    try:
        if np.allclose(x, default_lrs(spec), rtol=1e-9, atol=0):
            return []
    except ValueError:  # a model without a prediction has no default grid
        pass
    if len(x) > 2 and np.allclose(np.diff(x), x[1] - x[0], rtol=1e-6, atol=0):
        return ["--lr", f"{x[0]:.6g}:{x[-1]:.6g}:{len(x)}"]
    if len(x) > 2 and np.all(x > 0) and np.allclose(np.diff(np.log(x)), math.log(x[1] / x[0]), rtol=1e-6, atol=0):
        return ["--lr", f"{x[0]:.6g}:{x[-1]:.6g}:{len(x)}", "--log"]
    return ["--lr", ",".join(f"{v:.6g}" for v in x)]


def command_line(config: SweepConfig, **advice) -> str:
    """`eos sweep` with the options that give this config (those that differ from their defaults),
    changed by `advice` (field names, or lr/log for the grid): the command a report tells a user to
    run next."""
    words = ["eos", "sweep"]
    for part, default in ((config.spec, ModelSpec), (config, SweepConfig), (config.engine, EngineConfig)):
        for f in dataclasses.fields(default):
            if "help" not in f.metadata or f.name == "lrs":
                continue
            value = advice.get(f.name, getattr(part, f.name))
            if value == f.default and f.name not in advice:
                continue
            flag = f.metadata.get("cli", f.name).replace("_", "-")
            if isinstance(f.default, bool):
                on, _, off = flag.partition("/--")
                words.append(f"--{on}" if value else f"--{off or 'no-' + on}")
            elif value != f.default:
                words += [f"--{flag}", _written(value)]
    if "lr" in advice:
        words += ["--lr", advice["lr"]] + (["--log"] if advice.get("log") else [])
    else:
        words += _grid_option(config.lrs, config.spec)
    return " ".join(shlex.quote(w) for w in words)
