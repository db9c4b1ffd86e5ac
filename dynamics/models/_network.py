"""What the built-in networks on the sparse coding task share (not a model: the registry skips
files starting with "_"): the parameters of the [AB] network and of its noise average, and the
columns and regime inputs of a network that has test data."""

from __future__ import annotations

from typing import NamedTuple

import jax


class ReluParams(NamedTuple):
    a_neg: jax.Array
    a_pos: jax.Array
    b: jax.Array


# The observables the regime rules `chance` and `silent` read (Model.regime_inputs).
REGIME_INPUTS = {"accuracy": "test_acc", "active_share": "active_frac"}

COLUMNS = {
    "final_bias": ("measurement", "input units", "bias b at the end"),
    "test_acc": ("measurement", "fraction", "accuracy on the fresh test set (an output of 0 scores ½)"),
    "active_frac": ("measurement", "fraction", "test inputs that reach at least one active ReLU unit"),
}
MEAN_MODEL_COLUMN = {
    "theory_mean_model_final_bias": ("prediction", "input units", "the mean model's final b (THEORY.md §1.3)")
}
