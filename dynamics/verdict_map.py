"""Where the theorem holds: one sweep per cell of a product of settings, one verdict per cell.

A map varies the settings of the data (d, n, λ, σ) and the total time T·η over the values given,
and runs in every cell the same grid relative to that cell's own predicted η* (0.2x:5x:48 by
default), so that cells are compared on the same footing. Each cell is a whole sweep in
DIR/cells/NAME/ (resumable like any sweep: a finished cell is read back, an interrupted one
finished), and its verdict, intervals and premise become one row of map.csv. Cells with the same
array shapes (the same d and n) run the same compiled programs.

Files of a map directory:
  map.csv      one row per cell: its settings, the verdict and the measurements it rests on
  run.json     the map's config, the rows, one line per axis, versions, commit, wall time
  cells/NAME/  each cell's sweep (summary.csv, trajectories.npz, run.json)
While a map runs the directory holds map.json (its config) instead of run.json.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .config import DEFAULT_GRID, ModelSpec, SweepConfig

# The settings a map may vary: ModelSpec fields, and the sweep's total time.
AXES = {"d": "spec", "n": "spec", "lam": "spec", "sigma": "spec", "time": "sweep"}
SYMBOLS = {"d": "d", "n": "n", "lam": "λ", "sigma": "σ", "time": "T·η"}
INTEGER_AXES = ("d", "n")
DEFAULT_AXES = (("d", (35, 50, 70, 100, 150, 200)),)  # `eos map` with no axis given
STATE = "map.json"


@dataclass(frozen=True)
class MapConfig:
    """axes: ((name, values), ...) in AXES, each with at least one value and no value twice; base:
    the sweep every cell starts from (its model, seeds, refinement, engine; its grid is replaced);
    grid: (lo, hi, count), each cell's step sizes as multiples of its own predicted η*."""

    axes: tuple = (("d", (35, 50, 70, 100, 150)),)
    base: SweepConfig | None = None
    grid: tuple = DEFAULT_GRID
    log: bool = False

    def __post_init__(self):
        axes = tuple((str(name), tuple(values)) for name, values in self.axes)
        object.__setattr__(self, "axes", axes)
        if not axes:
            raise ValueError("a map needs at least one axis (--d, --n, --lam, --sigma or --time)")
        for name, values in axes:
            if name not in AXES:
                raise ValueError(f"unknown axis {name!r} (choose from {', '.join(AXES)})")
            if not values:
                raise ValueError(f"axis {name!r} has no values")
            repeated = [v for v in values if values.count(v) > 1]
            if repeated:
                raise ValueError(f"axis {name!r}: {repeated[0]!r} is given more than once")
        lo, hi, count = self.grid
        if not (0 < lo < hi and isinstance(count, int) and count >= 2):
            raise ValueError(f"the relative grid must be lo:hi:count with 0 < lo < hi and count ≥ 2, got {self.grid!r}")
        if self.base is None:
            object.__setattr__(self, "base", SweepConfig(spec=ModelSpec(), lrs=(1.0,)))

    def cells(self) -> list[dict]:
        """Every combination of the axes' values, the first axis varying slowest."""
        names = [name for name, _ in self.axes]
        return [dict(zip(names, combo)) for combo in itertools.product(*(values for _, values in self.axes))]

    def to_dict(self) -> dict:
        return {
            "axes": [[name, list(values)] for name, values in self.axes],
            "base": self.base.to_dict(),
            "grid": list(self.grid),
            "log": self.log,
        }

    @classmethod
    def from_dict(cls, d: dict) -> MapConfig:
        return cls(
            axes=tuple((name, tuple(values)) for name, values in d["axes"]),
            base=SweepConfig.from_dict(d["base"]),
            grid=tuple(d["grid"]),
            log=bool(d["log"]),
        )


def cell_name(values: dict) -> str:
    return "-".join(
        f"{name}{value:g}" if isinstance(value, float) else f"{name}{value}" for name, value in values.items()
    )


def cell_config(config: MapConfig, values: dict, predicted: Callable[[ModelSpec], float | None]) -> SweepConfig:
    """The sweep of one cell: the base sweep with the cell's settings and the relative grid around
    its own predicted η* (ValueError for a model without one)."""
    spec = dataclasses.replace(config.base.spec, **{k: v for k, v in values.items() if AXES[k] == "spec"})
    eta = predicted(spec)
    if eta is None:
        raise ValueError(f"model {spec.model!r} predicts no η*, so a map has no relative grid for it")
    lo, hi, count = config.grid
    lrs = (np.geomspace if config.log else np.linspace)(lo * eta, hi * eta, count)
    sweep = {k: v for k, v in values.items() if AXES[k] == "sweep"}
    return dataclasses.replace(config.base, spec=spec, lrs=tuple(float(x) for x in lrs), **sweep)


def row(values: dict, result, wall: float) -> dict:
    """One cell's line of map.csv from its sweep: the verdict and every number it rests on, each with
    its interval over seeds (NaN where there is none)."""
    t, th, s = result.transition, result.theory, result.summary
    closed = th["threshold_lr"].get("closed_form", math.nan)
    flow = th["threshold_lr"].get("gradient_flow", {}).get("median", math.nan)
    num = lambda v: math.nan if v is None else float(v)
    smallest = s["lr"] == s["lr"].min()
    out = dict(values)
    out.update(
        verdict=t["verdict"],
        sharpness=num(t["sharpness"]["value"]),
        sharpness_lo=num(t["sharpness"]["lo"]),
        sharpness_hi=num(t["sharpness"]["hi"]),
        flow_level=num(t["premise"]["value"]) if t["premise"]["measured"] else math.nan,
        flow_level_lo=num(t["premise"]["lo"]) if t["premise"]["measured"] else math.nan,
        flow_level_hi=num(t["premise"]["hi"]) if t["premise"]["measured"] else math.nan,
        eta_star=num(t["estimate"]["value"]),
        eta_star_lo=num(t["estimate"]["lo"]),
        eta_star_hi=num(t["estimate"]["hi"]),
        prediction=num(closed),
        eta_star_over_prediction=num(t["estimate"]["value"]) / closed if closed else math.nan,
        flow_prediction=num(flow),
        flow_threshold=float(np.median(s["final_threshold"][smallest])),
        flow_test_acc=float(np.median(s["test_acc"][smallest])) if "test_acc" in s else math.nan,
        linear_rule_accuracy=float(th.get("linear_rule_accuracy", math.nan)),
        seeds=int(result.config.seeds),
        wall_s=float(wall),
    )
    return out


class MapResult(NamedTuple):
    config: MapConfig
    rows: list[dict]
    lines: list[str]
    meta: dict


def axis_lines(config: MapConfig, rows: list[dict]) -> list[str]:
    """One line per axis with two or more values and per setting of the other axes: the verdicts
    along it, runs of equal verdicts merged ('premise_fails at d = 35–50, undecided at 70, sharp
    from 100')."""
    out = []
    names = [name for name, _ in config.axes]
    for axis, values in config.axes:
        if len(values) < 2:
            continue
        others = [n for n in names if n != axis]
        for fixed in sorted({tuple(r[n] for n in others) for r in rows}):
            along = [r for r in rows if tuple(r[n] for n in others) == fixed]
            along.sort(key=lambda r: r[axis])
            spans: list[list] = []
            for r in along:
                if spans and spans[-1][0] == r["verdict"]:
                    spans[-1][2] = r[axis]
                else:
                    spans.append([r["verdict"], r[axis], r[axis]])
            parts = []
            for i, (verdict, first, last) in enumerate(spans):
                if i == len(spans) - 1 and i > 0 and first != last:
                    parts.append(f"{verdict} from {first:g}")
                else:
                    parts.append(f"{verdict} at {first:g}" + (f"–{last:g}" if last != first else ""))
            where = ", ".join(f"{SYMBOLS[n]} = {v:g}" for n, v in zip(others, fixed))
            out.append(f"along {SYMBOLS[axis]}{f' ({where})' if where else ''}: " + ", ".join(parts))
    return out


def run_map(
    config: MapConfig,
    directory,
    run_cell: Callable[[Path, SweepConfig], object],
    predicted: Callable[[ModelSpec], float | None],
    on_cell: Callable[[int, int, dict, dict], None] | None = None,
) -> MapResult:
    """Every cell's sweep, each in DIR/cells/NAME through `run_cell(cell directory, sweep config)`
    (which finishes or reads it back and returns its SweepResult); `on_cell(index, total, values,
    row)` after each. Returns the rows and the axis lines; writes nothing else."""
    from eos.results.provenance import provenance

    start = time.perf_counter()
    directory = Path(directory)
    rows = []
    cells = config.cells()
    for i, values in enumerate(cells):
        began = time.perf_counter()
        result = run_cell(directory / "cells" / cell_name(values), cell_config(config, values, predicted))
        wall = result.meta.get("wall_time_s", time.perf_counter() - began)
        rows.append(row(values, result, wall))
        if on_cell is not None:
            on_cell(i, len(cells), values, rows[-1])
    precision = "float64" if config.base.x64 else "float32"
    return MapResult(config, rows, axis_lines(config, rows), provenance(precision, time.perf_counter() - start))


def write_files(result: MapResult, directory) -> None:
    """map.csv and run.json (last: it marks a finished map) into the map's directory."""
    from eos.results.files import replace_whole, write_csv, write_json

    directory = Path(directory)
    columns = {k: [r[k] for r in result.rows] for k in result.rows[0]}
    replace_whole(directory / "map.csv", lambda p: write_csv(p, columns))
    run = {"kind": "map", "config": result.config.to_dict(), "rows": result.rows, "lines": result.lines, **result.meta}
    replace_whole(directory / "run.json", lambda p: write_json(p, run))


def load(directory) -> MapResult:
    """The MapResult saved in `directory`."""
    from eos.results.files import read_json

    raw, run = read_json(Path(directory) / "run.json")
    meta = {k: v for k, v in run.items() if k not in ("kind", "config", "rows", "lines")}
    return MapResult(MapConfig.from_dict(raw["config"]), run["rows"], run["lines"], meta)


def sweeps(config: MapConfig, predicted: Callable[[ModelSpec], float | None]) -> list[SweepConfig]:
    """Every cell's sweep config, built before anything runs, so that a bad cell is refused first."""
    return [cell_config(config, values, predicted) for values in config.cells()]


def begin(directory, config: MapConfig) -> None:
    """Create the map's directory holding its config; OSError if it exists or cannot be written."""
    from eos.results.files import write_atomically, write_json

    write_atomically(directory, lambda tmp: write_json(tmp / STATE, {"kind": "map", "config": config.to_dict()}))


def pending(directory) -> MapConfig:
    """The config of the unfinished map in `directory`; ValueError (one line) if there is none."""
    from eos.results.files import read_json

    directory = Path(directory)
    if (directory / "run.json").is_file():
        raise ValueError(f"{str(directory)!r}: that map is already complete")
    if not (directory / STATE).is_file():
        raise ValueError(f"{str(directory)!r}: no interrupted map there (no {STATE})")
    try:
        return MapConfig.from_dict(read_json(directory / STATE)[1]["config"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{str(directory / STATE)!r} is damaged ({type(e).__name__}: {e}); start a new map") from None


def finished_cells(directory) -> int:
    return len(list((Path(directory) / "cells").glob("*/run.json")))


def run_in(directory, config: MapConfig, run_cell, predicted, on_cell=None) -> MapResult:
    """Run (or finish) the map kept in `directory` (see `begin`) under its lock, then write its files
    and drop map.json."""
    from eos.results.files import exclusive

    directory = Path(directory)
    with exclusive(directory):
        result = run_map(config, directory, run_cell, predicted, on_cell)
        write_files(result, directory)
        (directory / STATE).unlink(missing_ok=True)
    return result
