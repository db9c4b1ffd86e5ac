"""What a model is: a record of pure functions that the generic engine runs, with its own theory.

A model knows how to sample its data for one seed, initialise its parameters, evaluate its
training loss and read off the quantities the experiment is about; it also carries its
predictions (`Theory`) and the names a report gives its threshold variable. The engine, the
sweep, the report and the command line never branch on a model's name.

Models are found by name in `registry` (the built-in ones are the modules of
`eos.dynamics.models`; a researcher's own is `path/to/file.py:make` or `package.module:make`).
This module is plain data and imports nothing of eos: every other module may import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True, eq=False)  # hashed by identity, like the model's functions: engines cache on models
class Theory:
    """A model's predictions: numbers from formulas alone, never from a measurement.

    threshold_lr  the predicted critical step size η* (None: no closed form), written as `formula`
    constants     named predictions that hold for every seed (run.json `theory`)
    per_seed      initial params of one seed -> {name: float}, predictions that depend on the init
    columns       (η, initial params of the member's seed) -> {theory_*: float}, one summary row's
    threshold_scale  the size at which the threshold variable counts as learned, in its own units (relu:
                  the noise level σ); the premise of [AB], that gradient flow does not learn it, is checked
                  against it (verdict.PREMISE_LEVEL). None: the model states no such premise
    """

    threshold_lr: float | None = None
    formula: str = ""
    constants: dict = field(default_factory=dict)
    per_seed: Callable | None = None
    columns: Callable | None = None
    threshold_scale: float | None = None


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
    # The model's own summary columns (its observables and theory_* predictions), name -> (kind, unit,
    # definition), written to columns.csv; a column it does not describe is called "the model's own".
    columns: dict = {}
    # Which observables the regime rules read (regime.INPUTS): {"accuracy": name} enables `chance`,
    # {"active_share": name} `silent`; a model without test data states none.
    regime_inputs: dict = {}

    def __hash__(self) -> int:  # engines cache compiled programs on models: the dicts hashed by content
        return hash(tuple(tuple(sorted(v.items())) if isinstance(v, dict) else v for v in self))
