"""The built-in models, one module each; every module defines `make(spec, dtype) -> Model`.

A new module here is a new model: `eos sweep --model NAME` finds it by its file name.
"""

from ..config import ModelSpec
from ..model import Model, Theory
from ..registry import find_model, make_model
from ._network import ReluParams
from .relu import (
    IMPLS,
    RANK_BLOCK,
    RankedCoordinates,
    rank_coordinates,
    relu_sums_dense,
    relu_sums_ranked,
    resolve_impl,
)

__all__ = [
    "IMPLS",
    "RANK_BLOCK",
    "Model",
    "ModelSpec",
    "RankedCoordinates",
    "ReluParams",
    "Theory",
    "find_model",
    "make_model",
    "rank_coordinates",
    "relu_sums_dense",
    "relu_sums_ranked",
    "resolve_impl",
]
