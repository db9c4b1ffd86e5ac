"""Which finished runs a figure is drawn from: its own earlier run under the output's runs/, or any
run of the right kind among the --from directories. This module only finds and reads; a run that
is missing is computed by the caller (`compute`), which is the only part that trains.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

FROM_DEPTH = 8  # folders below a --from directory searched for runs


class NoRun(ValueError):
    """--from was given and holds no run a figure can use: reusing never silently computes."""


def run_dirs(bases: list[Path]):
    """Every finished run directory (one holding run.json) among bases and up to FROM_DEPTH levels
    below them (hidden folders, unfinished runs, are not searched)."""
    for base in bases:
        for root, dirs, files in os.walk(base):
            depth = len(Path(root).relative_to(base).parts)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < FROM_DEPTH else []
            if "run.json" in files:
                yield Path(root)


def kind(path: Path, note: Callable[[str], None] | None = None) -> str | None:
    """The kind ("sweep", "robustness") of the run in `path`; None (said through `note`) if unreadable."""
    try:
        return json.loads((path / "run.json").read_text()).get("kind")
    except (OSError, ValueError, AttributeError) as e:
        if note:  # a damaged run is skipped in one line, as a failed load is
            note(f"skipped {path}: its run.json cannot be read ({type(e).__name__})")
        return None


def _loader(sweep: bool):
    from eos.dynamics import load as load_sweep
    from eos.robustness.experiment import load as load_robustness

    return load_sweep if sweep else load_robustness


def find(name: str, config, runs_dir: Path, extra: list[Path], stands_in, note: Callable[[str], None]):
    """(path, result): an earlier run with this config (under runs_dir, or anywhere in `extra`); else, for
    a figure that can be drawn from any run of its kind, the first such run in `extra`; else None.
    NoRun where `extra` was given and holds nothing usable."""
    from eos.dynamics.config import SweepConfig

    sweep = isinstance(config, SweepConfig)
    looked = list(run_dirs(extra))
    own = runs_dir / name
    candidates = [
        p for p in [own, *looked] if kind(p, note if p != own else None) == ("sweep" if sweep else "robustness")
    ]
    loaded = []
    for path in dict.fromkeys(candidates):
        try:
            result = _loader(sweep)(path)
        except Exception as e:  # a damaged earlier run is skipped, said in one line, never a traceback
            note(f"skipped {path}: {type(e).__name__}: {e}")
            continue
        if result.config == config:
            return path, result
        loaded.append((path, result))
    for path, result in loaded:
        if stands_in is not None and path != own and stands_in(result):
            return path, result
    if extra:
        where = ", ".join(repr(str(p)) for p in extra)
        raise NoRun(
            f"--from {where}: no {'sweep' if sweep else 'robustness'} run that the figure {name!r} can use among "
            f"the {len(looked)} run directories found (searched {FROM_DEPTH} folders deep); drop --from to compute "
            f"it under {runs_dir}"
        )
    return None


def footprint(chosen, quick: bool) -> dict[str, int]:
    """The largest of the memory estimates of the runs these figures may need (they run one at a time)."""
    from eos.dynamics.sweep import SweepConfig
    from eos.dynamics.sweep import footprint as sweep_footprint
    from eos.robustness.experiment import footprint as robustness_footprint

    from .catalog import FIGURES

    estimates = [
        (sweep_footprint if isinstance(config, SweepConfig) else robustness_footprint)(config)
        for name in chosen
        for config in FIGURES[name].runs(quick).values()
    ]
    return max(estimates, key=lambda e: sum(e.values()))


def draw(chosen, quick: bool, out: Path, extra: list[Path], compute: Callable, note: Callable[[str], None]):
    """Draw each figure of `chosen` into `out` from its runs, found or else made by compute(name,
    config, runs_dir) -> (path, result); yields (name, files written, caption)."""
    from . import style
    from .catalog import FIGURES

    suffix = "-quick" if quick else ""
    for name in chosen:
        fig = FIGURES[name]
        results, sources = {}, {}
        for run_name, config in fig.runs(quick).items():
            found = find(run_name + suffix, config, out / "runs", extra, fig.stands_in, note)
            path, result = found or compute(run_name + suffix, config)
            results[run_name], sources[run_name] = result, path
        yield name, style.save(fig.draw(results), out, name + suffix, sources), fig.caption
