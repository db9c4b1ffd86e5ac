"""A researcher's own model, brought with --model file.py:make: the worked example of the README
(examples/deep_linear.py) runs through the same engine, files and report, and its own prediction
of η* is set against the located one. Broken model files are bad input, reported in one line."""

from pathlib import Path

import numpy as np
import pytest
from test_bad_input_corpus import check_rejected, run

from eos.dynamics import SweepConfig, run_sweep
from eos.dynamics.model import ModelSpec, builtin_models, make_model

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "deep_linear.py"


def test_the_worked_example_locates_its_own_predicted_threshold():
    spec = ModelSpec(model=f"{EXAMPLE}:make", x0=0.3, y0=2.0)
    predicted = make_model(spec).theory.threshold_lr
    result = run_sweep(SweepConfig(spec=spec, lrs=tuple(np.linspace(0.05, 0.8, 16)), seeds=1, time=40.0))
    located = result.transition["departure"]
    assert located["bracketed"] == 1, result.transition
    assert result.theory["threshold_lr"]["closed_form"] == predicted
    # The located η* is a measurement: within a grid spacing or two of the model's own formula.
    assert abs(located["median"] - predicted) < 0.1, (located, predicted)
    assert np.all(result.summary["final_threshold"][result.summary["lr"] < 0.8 * predicted] > 3.5)


def test_the_command_line_runs_an_own_model_and_reports_its_formula(tmp_path):
    code, out, err = run(
        [
            "sweep",
            "--model",
            f"{EXAMPLE}:make",
            "--x0",
            "0.3",
            "--y0",
            "2",
            "--lr",
            "0.1:0.6:6",
            "--seeds",
            "1",
            "--time",
            "20",
            "--out",
            "run",
        ],
        tmp_path,
    )
    assert code == 0, err
    assert "final imbalance" in out and "2/Σ 1/w_i² at the gradient-flow minimum" in out, out
    assert (tmp_path / "run" / "summary.csv").is_file()


@pytest.mark.parametrize(
    "model, needle",
    [
        ("missing.py:make", "no such file"),
        ("broken.py:make", "cannot load"),
        ("nomake.py:make", "defines no function 'make'"),
        ("notamodel.py:make", "not a Model"),
        ("no_such_package_xyz:make", "cannot load"),
        ("nonsense", "unknown model"),
    ],
)
def test_a_broken_own_model_is_bad_input(tmp_path, model, needle):
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "nomake.py").write_text("x = 1\n")
    (tmp_path / "notamodel.py").write_text("def make(spec, dtype):\n    return 42\n")
    check_rejected(["sweep", "--model", model, "--out", "out"], tmp_path, needle)


def test_every_builtin_model_is_a_record_with_its_theory():
    for name in builtin_models():
        model = make_model(ModelSpec(model=name))
        assert model.name == name and model.symbol
        assert model.theory.threshold_lr is None or model.theory.threshold_lr > 0
