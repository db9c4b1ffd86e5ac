"""Edge of stability and threshold neurons [AB]: data, models, GD engine, sharpness, theory, sweeps."""

from .model import Model, ModelSpec, Theory
from .sweep import SweepConfig, SweepResult, load, run_sweep

__all__ = ["Model", "ModelSpec", "SweepConfig", "SweepResult", "Theory", "load", "run_sweep"]
