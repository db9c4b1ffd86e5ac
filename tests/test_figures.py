import json

import numpy as np
import pytest

from eos.dynamics import SweepConfig, run_sweep
from eos.dynamics.models import ModelSpec
from eos.figures import catalog, style
from eos.robustness.experiment import RobustnessConfig, run_robustness


@pytest.fixture(scope="module")
def tiny_results():
    sweep = run_sweep(
        SweepConfig(spec=ModelSpec(d=30, n=50, n_test=100), lrs=tuple(np.linspace(0.005, 0.1, 6)), seeds=2, time=5.0)
    )
    rob = run_robustness(RobustnessConfig(n=40, d=4, widths=(2, 4, 8), seeds=2, eps=0.3, steps=200, vary="width"))
    return sweep, rob


def test_every_figure_draws_and_saves_pdf_png_and_sidecar(tiny_results, tmp_path):
    sweep, rob = tiny_results
    inputs = {
        "threshold": {"threshold": sweep},
        "trajectories": {"trajectories-relu": sweep, "trajectories-mean": sweep},
        "phase": {"phase-d30": sweep, "phase-d31": sweep},
        "robustness": {"robustness": rob},
        "bracket": {"robustness": rob},
    }
    for name, results in inputs.items():
        fig = catalog.FIGURES[name].draw(results)
        paths = style.save(fig, tmp_path, name, {k: f"runs/{k}" for k in results})
        assert [p.suffix for p in paths] == [".pdf", ".png", ".json"]
        assert all(p.stat().st_size > 1000 for p in paths[:2]), name
        assert json.loads(paths[2].read_text())["runs"] == {k: f"runs/{k}" for k in results}


def test_quick_runs_are_smaller_than_full_runs():
    for name, fig in catalog.FIGURES.items():
        quick, full = fig.runs(True), fig.runs(False)
        assert quick.keys() <= full.keys(), name
        for key in quick:
            q, f = quick[key], full[key]
            size = (
                (lambda c: len(c.lrs) * c.seeds)
                if isinstance(q, SweepConfig)
                else (lambda c: len(c.widths) * c.seeds * c.n)
            )
            assert size(q) <= size(f), (name, key)
