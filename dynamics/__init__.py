"""Edge of stability and threshold neurons [AB]: data, models, GD engine, sharpness, theory, sweeps."""

from .sweep import SweepConfig, SweepResult, load, run_sweep

__all__ = ["SweepConfig", "SweepResult", "load", "run_sweep"]
