"""What a model is: a record of pure functions that the generic engine runs, with its own theory.

A model knows how to sample its data for one seed, initialise its parameters, evaluate its
training loss and read off the quantities the experiment is about; it also carries its
predictions (`Theory`) and the names a report gives its threshold variable. The engine, the
sweep, the report and the command line never branch on a model's name.

Models are found by name: the built-in ones are the modules of `eos.dynamics.models` (each
defines `make(spec, dtype) -> Model`; a new file there is a new model), and a researcher's own
is `path/to/file.py:make` or `package.module:make`.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import jax.numpy as jnp

from .losses import LOSSES, get_loss


@dataclass(frozen=True, eq=False)  # hashed by identity, like the model's functions: engines cache on models
class Theory:
    """A model's predictions: numbers from formulas alone, never from a measurement.

    threshold_lr  the predicted critical step size η* (None: no closed form), written as `formula`
    constants     named predictions that hold for every seed (run.json `theory`)
    per_seed      initial params of one seed -> {name: float}, predictions that depend on the init
    columns       (η, initial params of the member's seed) -> {theory_*: float}, one summary row's
    """

    threshold_lr: float | None = None
    formula: str = ""
    constants: dict = field(default_factory=dict)
    per_seed: Callable | None = None
    columns: Callable | None = None


class Model(NamedTuple):
    name: str
    sample: Callable  # key -> (train, test): one seed's data pytrees
    init: Callable  # (key, train) -> params pytree
    loss: Callable  # (params, train) -> scalar training loss
    threshold: Callable  # params -> scalar: the threshold variable (b for relu, y for product, ...)
    observables: Callable  # (params, test) -> dict of scalars, the final-state columns
    dead: Callable  # (params, train) -> bool: every ReLU unit inactive on the training data
    trace: Callable | None = None  # params -> small vector recorded along trajectories (e.g. (x, y))
    theory: Theory = Theory()
    symbol: str = "threshold"  # the threshold variable in reports: "b", "y", "mean b"


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
                f"{' | '.join(builtin_models())}, or your own: file.py:make or package.module:make "
                "(a function (spec, dtype) -> Model; see README)."
            )
        },
    )
    d: int = field(default=200, metadata={"help": "Input dimension ([AB] Fig. 1: 200)."})
    n: int = field(default=300, metadata={"help": "Training samples ([AB] Fig. 1: 300)."})
    lam: float = field(default=3.0, metadata={"help": "Signal strength λ."})
    sigma: float = field(default=1.0, metadata={"help": "Noise level σ."})
    n_test: int = field(default=2000, metadata={"help": "Test samples."})
    width: int = field(default=64, metadata={"help": "Hidden units of the mlp model."})
    loss: str = field(default="logcosh", metadata={"help": lambda: f"Product-model loss: {' | '.join(LOSSES)}."})
    x0: float = field(default=0.5, metadata={"help": "Product-model start x₀."})
    y0: float = field(default=2.0, metadata={"help": "Product-model start y₀."})
    impl: str = field(
        default="auto",
        metadata={
            "help": (
                "relu formulation: auto (sorted on a CPU, counted on a GPU) | sorted | "
                "counted (both exact, O(n) a step) "
                "| dense (O(nd) reference)."
            )
        },
    )

    def __post_init__(self):
        find_model(self.model)
        for name in ("d", "n", "n_test", "width"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("lam", "sigma", "x0", "y0"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)!r}")
        if self.sigma <= 0:
            raise ValueError(f"sigma must be positive, got {self.sigma!r}")
        get_loss(self.loss)


def builtin_models() -> dict[str, str]:
    """Name -> one-line description of every module in eos.dynamics.models."""
    from . import models

    out = {}
    for info in pkgutil.iter_modules(models.__path__):
        if not info.name.startswith("_"):
            doc = importlib.import_module(f"{models.__name__}.{info.name}").__doc__ or ""
            out[info.name] = doc.strip().splitlines()[0] if doc.strip() else ""
    return out


def find_model(name: str) -> Callable:
    """The `make(spec, dtype) -> Model` of a built-in name, `file.py:make` or `package.module:make`.

    ValueError (one line) when it cannot be found or loaded.
    """
    if ":" not in name:
        if name not in builtin_models():
            raise ValueError(
                f"unknown model {name!r} (choose from {', '.join(builtin_models())}, or give file.py:make)"
            )
        return importlib.import_module(f"{__package__}.models.{name}").make
    where, _, attr = name.rpartition(":")
    try:
        if where.endswith(".py"):
            module = _load_file(Path(where))
        else:
            module = importlib.import_module(where)
    except FileNotFoundError:
        raise ValueError(f"model {name!r}: no such file {where!r}") from None
    except Exception as e:  # a user's file may fail in any way; the report names it in one line
        raise ValueError(f"model {name!r}: cannot load {where!r}: {type(e).__name__}: {e}") from None
    make = getattr(module, attr, None)
    if not callable(make):
        raise ValueError(f"model {name!r}: {where!r} defines no function {attr!r}")
    return make


def _load_file(path: Path):
    path = path.resolve()
    key = f"eos_user_model_{abs(hash(str(path)))}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, path)
    if spec is None or not path.is_file():
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[key]
        raise
    return module


def make_model(spec: ModelSpec, dtype=jnp.float32) -> Model:
    model = find_model(spec.model)(spec, dtype)
    if not isinstance(model, Model):
        raise ValueError(f"model {spec.model!r}: make returned {type(model).__name__}, not a Model")
    return model
