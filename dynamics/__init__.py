"""Edge of stability and threshold neurons [AB]: data, models, GD engine, sharpness, theory, sweeps.

The public names are imported on first use, so that the configuration (eos.dynamics.config) and the
command line's help load without JAX.
"""

from importlib import import_module

_PUBLIC = {
    "Model": "model",
    "Theory": "model",
    "ModelSpec": "config",
    "SweepConfig": "config",
    "SweepResult": "sweep",
    "load": "sweep",
    "run_sweep": "sweep",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
