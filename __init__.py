"""eos: simulations that check two theorems of deep-learning theory (see README.md).

import eos
run = eos.load("runs/sweep-20261203-120000")   # any finished run directory
run.frame                                      # its summary.csv as a pandas DataFrame
run.config, run.meta                           # what was run, and on what (run.json)
"""

from __future__ import annotations

from pathlib import Path


def load(path):
    """A finished run directory, whichever command wrote it: a SweepResult (eos sweep) or a
    RobustnessResult (eos robustness). Both carry `.summary` (column -> array), `.frame` (the same as a
    pandas DataFrame), `.config` and `.meta` (versions, device, precision, commit, time)."""
    import json

    run = Path(path) / "run.json"
    try:
        kind = json.loads(run.read_text()).get("kind")
    except (OSError, ValueError, AttributeError) as e:
        raise ValueError(f"{str(path)!r} is no finished run: {run} cannot be read ({type(e).__name__})") from None
    if kind == "sweep":
        from eos.dynamics.sweep import load as load_sweep

        return load_sweep(path)
    if kind == "robustness":
        from eos.robustness.experiment import load as load_robustness

        return load_robustness(path)
    raise ValueError(f"{str(path)!r}: run.json's kind is {kind!r}, not a sweep or a robustness run")
