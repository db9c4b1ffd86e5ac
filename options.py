"""The command line's options: config fields as typer options, and the grammar of their values.

A config field with a "help" in its metadata is an option of its command (`config_options`), so a
new field is one edit. Ranges are written 'A:B' (a default count of points), 'A:B:N', 'a,b,c' or
one number; a step size ending in x ('0.5x') is a multiple of the model's predicted η*. Nothing here
loads JAX: help and bad input answer at once.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import typing
from contextlib import contextmanager

import numpy as np
import typer

from eos.dynamics.config import INT32_MAX

MAX_POINTS = 1_000_000  # values in one range: beyond that a grid is a typo, not a sweep


class BadInput(ValueError):
    """Raised for input the user must fix; reported as one line with exit code 2."""


@contextmanager
def bad_input():
    """Configs validate themselves with ValueError; while building them that means bad input."""
    try:
        yield
    except ValueError as e:
        raise BadInput(str(e)) from None


def config_options(*classes):
    """Give a command an option for every field of these config dataclasses that carries a "help"
    in its metadata, with the field's default and type (a callable help is called here). The
    command receives them in **options, keyed by field name."""

    def decorate(command):
        signature = inspect.signature(command)
        params = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        for cls in classes:
            hints = typing.get_type_hints(cls)
            for f in dataclasses.fields(cls):
                if "help" in f.metadata:
                    params.append(_option(f, hints[f.name]))
        command.__signature__ = signature.replace(parameters=params)
        return command

    return decorate


def _option(f: dataclasses.Field, annotation) -> inspect.Parameter:
    text = f.metadata["help"]() if callable(f.metadata["help"]) else f.metadata["help"]
    flag = "--" + f.metadata.get("cli", f.name).replace("_", "-")
    option = typer.Option(f.default, flag, help=text, metavar=_metavar(annotation))
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)


def _metavar(annotation) -> str | None:
    """A plain word for an option's value in --help, not a Python type name."""
    kinds = set(typing.get_args(annotation)) or {annotation}
    for word, kind in (("INTEGER", int), ("NUMBER", float), ("TEXT", str)):
        if kind in kinds:
            return word
    return None


def from_options(cls, options: dict, **given):
    """The config `cls` from the options config_options added for it, and the fields `given`."""
    return cls(**{f.name: options[f.name] for f in dataclasses.fields(cls) if "help" in f.metadata}, **given)


def check_hours(max_hours: float) -> None:
    if not (math.isfinite(max_hours) and max_hours > 0):
        raise BadInput(f"--max-hours must be a positive number of hours, got {max_hours!r}")


def predicted(spec) -> float:
    """The model's predicted η*, the unit of '0.5x'; BadInput for a model without one."""
    from eos.dynamics.registry import predicted_lr

    eta = predicted_lr(spec)
    if eta is None:
        raise BadInput(f"--lr: model {spec.model!r} predicts no η*, so 'x' (a multiple of it) has no meaning")
    return eta


def _number(s: str, name: str, text: str, integer: bool, unit):
    scale, written = 1.0, s.strip()
    if unit is not None and written.lower().endswith("x"):
        s, scale = written[:-1], unit()
    try:
        v = (int if integer else float)(s) * scale
    except ValueError:
        wanted = "an integer" if integer else "a number" + (" or a multiple such as 0.5x" if unit else "")
        raise BadInput(f"{name} {text!r}: {written!r} is not {wanted}") from None
    if not math.isfinite(v) or v <= 0:
        raise BadInput(f"{name} {text!r}: {s!r} must be finite and positive")
    if integer and v > INT32_MAX:  # before NumPy, which would wrap it to a negative number
        raise BadInput(f"{name} {text!r}: {s!r} is over {INT32_MAX:,}")
    return v


def _count(text: str, name: str, written: str | None, default: int) -> int:
    try:
        count = int(written) if written is not None else default
    except ValueError:
        raise BadInput(f"{name} {text!r}: count {written!r} is not an integer") from None
    if count <= 0:
        raise BadInput(f"{name} {text!r}: count must be positive, got {count}")
    if count > MAX_POINTS:
        raise BadInput(f"{name} {text!r}: {count} points is more than {MAX_POINTS:,}; use fewer")
    return count


def parse_range(text: str, name: str, log: bool, default_count: int, integer: bool = False, unit=None) -> np.ndarray:
    """'A:B' (default_count points), 'A:B:N', 'a,b,c' or one number; geometric spacing if log.
    With `unit` (a function giving a number), a value written '0.5x' means 0.5 × unit()."""
    text = text.strip()
    if not text:
        raise BadInput(f"{name} is empty")
    if ":" in text:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise BadInput(f"{name} {text!r}: use A:B or A:B:N")
        lo, hi = (_number(p, name, text, integer, unit) for p in parts[:2])
        count = _count(text, name, parts[2] if len(parts) == 3 else None, default_count)
        if hi < lo or (hi == lo and count > 1):
            raise BadInput(f"{name} {text!r}: range is reversed or empty ({lo} to {hi})")
        values = np.geomspace(lo, hi, count) if log else np.linspace(lo, hi, count)
    else:
        if text.count(",") >= MAX_POINTS:
            raise BadInput(f"{name}: more than {MAX_POINTS:,} values; use fewer")
        values = np.array([_number(s, name, text, integer, unit) for s in text.split(",")])
        repeated = [v for v in dict.fromkeys(values.tolist()) if values.tolist().count(v) > 1]
        if repeated:  # the same run twice: a typo, and a weight the locator would count twice
            raise BadInput(f"{name} {text!r}: {repeated[0]:g} is given more than once")
    if integer:
        values = np.unique(np.round(values).astype(int))
    return values


def integers(text: str, name: str, default_count: int, log: bool = True) -> tuple[int, ...]:
    """parse_range of integers, as a tuple of ints (widths, n, d)."""
    return tuple(int(v) for v in parse_range(text, name, log, default_count, integer=True))


def relative_grid(text: str) -> tuple[float, float, int]:
    """A map's grid 'LOx:HIx:N', relative to each cell's own prediction, as (lo, hi, count)."""
    parts = text.split(":")
    if len(parts) != 3 or not all(p.strip().lower().endswith("x") for p in parts[:2]):
        raise BadInput(
            f"--lr {text!r}: a map's grid is relative to each cell's prediction: write LOx:HIx:N (0.2x:5x:48)"
        )
    try:
        grid = (float(parts[0].strip()[:-1]), float(parts[1].strip()[:-1]), int(parts[2]))
    except ValueError:
        raise BadInput(f"--lr {text!r}: LO and HI must be numbers and N an integer (0.2x:5x:48)") from None
    if grid[2] > MAX_POINTS:
        raise BadInput(f"--lr {text!r}: {grid[2]} points is more than {MAX_POINTS:,}; use fewer")
    return grid


def map_config(model: str, given: dict, lr: str, log: bool, seeds: int, refine: int, flow: bool):
    """The MapConfig of `eos map`'s options: `given` maps each axis to its text (None: not given)."""
    from eos.dynamics.config import ModelSpec, SweepConfig
    from eos.dynamics.verdict_map import DEFAULT_AXES, INTEGER_AXES, MapConfig

    axes = []
    for name, text in given.items():
        if text is not None:
            values = parse_range(text, f"--{name}", False, 5, integer=name in INTEGER_AXES)
            axes.append((name, tuple(int(v) if name in INTEGER_AXES else float(v) for v in values)))
    base = SweepConfig(spec=ModelSpec(model=model), lrs=(1.0,), seeds=seeds, refine=refine, flow=flow)
    return MapConfig(axes=tuple(axes) or DEFAULT_AXES, base=base, grid=relative_grid(lr), log=log)
