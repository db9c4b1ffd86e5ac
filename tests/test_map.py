"""`eos map`: one verdict per cell, resumable cells, and bad input refused before anything is written."""

import numpy as np
import pytest
from helpers import eos

from eos.dynamics import verdict_map
from eos.dynamics.config import ModelSpec, SweepConfig


@pytest.mark.parametrize(
    "args, word",
    [
        (["--d", ""], "--d is empty"),
        (["--d", "35,35"], "more than once"),
        (["--sigma", "1,-1"], "--sigma"),
        (["--lr", "0.01:1"], "relative"),
        (["--d", "100000000", "--n", "100000000"], "d"),
        (["--depth", "3"], "--depth"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, args, word):
    r = eos("map", *args, "--out", str(tmp_path / "m"))
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and word in r.stderr, r.stderr
    assert not (tmp_path / "m").exists()


def test_cells_are_the_product_of_the_axes_each_on_its_own_relative_grid():
    config = verdict_map.MapConfig(
        axes=(("d", (20, 40)), ("sigma", (1.0, 2.0))),
        base=SweepConfig(spec=ModelSpec(), lrs=(1.0,)),
        grid=(0.5, 2.0, 4),
    )
    sweeps = verdict_map.sweeps(config, lambda spec: 8 * np.pi / (spec.sigma**2 * spec.d**2))
    assert [(c.spec.d, c.spec.sigma) for c in sweeps] == [(20, 1.0), (20, 2.0), (40, 1.0), (40, 2.0)]
    for c in sweeps:
        np.testing.assert_allclose(np.array(c.lrs) * c.spec.sigma**2 * c.spec.d**2 / (8 * np.pi), [0.5, 1, 1.5, 2])


def test_axis_lines_merge_runs_of_one_verdict():
    config = verdict_map.MapConfig(axes=(("d", (35, 50, 70, 100)),))
    rows = [{"d": d, "verdict": v} for d, v in zip((35, 50, 70, 100), ("premise_fails",) * 2 + ("sharp",) * 2)]
    assert verdict_map.axis_lines(config, rows) == ["along d: premise_fails at 35–50, sharp from 70"]


def test_a_small_map_runs_writes_its_files_and_reads_its_cells_back(tmp_path):
    out = tmp_path / "m"
    args = ["map", "--model", "mean", "--d", "100,200", "--seeds", "2", "--lr", "0.3x:3x:16", "--no-flow"]
    r = eos(*args, "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "map.csv").is_file() and (out / "run.json").is_file() and (out / "map.png").is_file()
    result = verdict_map.load(out)
    assert [row["d"] for row in result.rows] == [100, 200]
    assert all(row["verdict"] in ("sharp", "undecided") for row in result.rows), result.rows
    assert len(list((out / "cells").glob("*/run.json"))) == 2
