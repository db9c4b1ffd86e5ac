"""A researcher's own model, brought with --model file.py:make: the worked example of the README
(examples/deep_linear.py) runs through the same engine, files and report, and its own prediction
of η* is set against the located one. Broken model files are bad input, reported in one line."""

from pathlib import Path

import numpy as np
import pytest
from helpers import check_rejected, run

from eos.dynamics import SweepConfig, run_sweep
from eos.dynamics.config import ModelSpec
from eos.dynamics.registry import builtin_models, make_model

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
        ("exits.py:make", "sys.exit(0)"),
        ("makefails.py:make", "raised RuntimeError"),
        ("vectorloss.py:make", "must be a scalar"),
        ("nanloss.py:make", "loss at initialisation is nan for seeds 0, 1, 2"),
        ("exitloss.py:make", "its loss() called sys.exit(0)"),
        ("nantheory.py:make", "predicted η* (Theory.threshold_lr) is nan"),
        ("negtheory.py:make", "predicted η* (Theory.threshold_lr) is -1.0"),
        ("inftheory.py:make", "predicted η* (Theory.threshold_lr) is inf"),
        ("complexloss.py:make", "its loss() returns complex"),
        ("vectorobs.py:make", "its observables()['final_product'] returns float32[3]"),
    ],
)
def test_a_broken_own_model_is_bad_input(tmp_path, model, needle):
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "nomake.py").write_text("x = 1\n")
    (tmp_path / "notamodel.py").write_text("def make(spec, dtype):\n    return 42\n")
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(0)\n")
    (tmp_path / "makefails.py").write_text("def make(spec, dtype):\n    raise RuntimeError('no')\n")
    vector = EXAMPLE.read_text().replace("0.5 * (jnp.prod(w) - 1.0) ** 2", "jnp.stack([jnp.prod(w), jnp.prod(w)])")
    assert vector != EXAMPLE.read_text()
    (tmp_path / "vectorloss.py").write_text(vector)
    exiting = "def _exit(w, train):\n    import sys\n\n    sys.exit(0)\n\n\n" + EXAMPLE.read_text()
    (tmp_path / "exitloss.py").write_text(
        exiting.replace("loss=lambda w, train: 0.5 * (jnp.prod(w) - 1.0) ** 2", "loss=_exit")
    )
    (tmp_path / "nanloss.py").write_text(
        EXAMPLE.read_text().replace("0.5 * (jnp.prod(w) - 1.0) ** 2", "jnp.nan * w[0]")
    )
    replace = lambda old, new: EXAMPLE.read_text().replace(old, new)
    (tmp_path / "complexloss.py").write_text(replace("0.5 * (jnp.prod(w) - 1.0) ** 2", "(jnp.prod(w) + 1j) ** 2"))
    (tmp_path / "vectorobs.py").write_text(replace('{"final_product": jnp.prod(w)}', '{"final_product": w}'))
    for name, value in (("nantheory", "float('nan')"), ("negtheory", "-1.0"), ("inftheory", "float('inf')")):
        (tmp_path / f"{name}.py").write_text(EXAMPLE.read_text().replace("threshold_lr=eta", f"threshold_lr={value}"))
    check_rejected(["sweep", "--model", model, "--out", "out"], tmp_path, needle)


def test_every_builtin_model_is_a_record_with_its_theory():
    for name in builtin_models():
        model = make_model(ModelSpec(model=name))
        assert model.name == name and model.symbol
        assert model.theory.threshold_lr is None or model.theory.threshold_lr > 0


def test_resuming_after_the_model_file_changed_is_refused_not_merged(tmp_path, monkeypatch):
    """Chunks of two different models must never meet in one summary."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(EXAMPLE.read_text())
    args = ["sweep", "--model", "m.py:make", "--x0", "0.3", "--y0", "2", "--lr", "0.1:0.6:6", "--time", "20"]
    code, _, err = run([*args, "--seeds", "1", "--chunk", "2", "--out", "run"], tmp_path)
    assert code == 0, err
    # an interrupted run: the finished directory turned back into a pending one
    from eos.dynamics import resumable

    config = resumable.SweepConfig.from_dict(
        __import__("json").loads((tmp_path / "run" / "run.json").read_text())["config"]
    )
    resumable.begin(tmp_path / "pending", config)
    changed = EXAMPLE.read_text().replace("- 1.0) ** 2", "- 2.0) ** 2")
    assert changed != EXAMPLE.read_text()
    (tmp_path / "m.py").write_text(changed)
    check_rejected(["sweep", "--resume", "pending"], tmp_path, "changed")


def test_the_model_identity_covers_the_helpers_it_imports_from_its_folder(tmp_path, monkeypatch):
    """A model file that imports a helper module from its own folder is the helper too: editing the
    helper changes the digest a resume checks, as editing the file does; site-packages never count."""
    import sys

    from eos.dynamics.registry import source_digest

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "helper_for_eos_test.py").write_text("SHIFT = 1.0\n")
    text = EXAMPLE.read_text().replace("- 1.0) ** 2", "- helper_for_eos_test.SHIFT) ** 2")
    assert text != EXAMPLE.read_text()
    (tmp_path / "m.py").write_text("import helper_for_eos_test\n" + text)
    before = source_digest(f"{tmp_path / 'm.py'}:make")
    assert before
    (tmp_path / "helper_for_eos_test.py").write_text("SHIFT = 2.0\n")
    assert source_digest(f"{tmp_path / 'm.py'}:make") != before
    sys.modules.pop("helper_for_eos_test", None)


def test_a_damaged_sweep_json_is_one_line_naming_the_file(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "sweep.json").write_text('{"kind": "sweep", "config": {"spec": {"d": "x"')
    check_rejected(["sweep", "--resume", "run"], tmp_path, "sweep.json")
    (tmp_path / "run" / "sweep.json").write_text('{"kind": "sweep", "config": {"seeds": -1}}')
    check_rejected(["sweep", "--resume", "run"], tmp_path, "sweep.json")


def test_an_unexpected_error_is_one_line_saying_it_is_a_bug_with_the_traceback_kept(tmp_path, monkeypatch):
    from eos import cli

    def broken(*a, **k):
        raise TypeError("an internal slip")

    monkeypatch.setattr(cli, "parse_range", broken)
    code, out, err = run(["sweep", "--lr", "0.1:0.2:2", "--out", "run"], tmp_path)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "internal error (a bug in eos): TypeError: an internal slip" in lines[0]
    saved = Path(lines[0].rsplit("traceback saved to ", 1)[1])
    assert "Traceback" in saved.read_text() and "Traceback" not in err
    saved.unlink()


def test_half_written_files_a_killed_process_left_are_removed_when_the_run_finishes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from eos.dynamics import SweepConfig, resumable

    config = SweepConfig(spec=ModelSpec(model=f"{EXAMPLE}:make", x0=0.3, y0=2.0), lrs=(0.1, 0.2), seeds=1, time=20.0)
    resumable.begin(tmp_path / "run", config)
    (tmp_path / "run" / "chunks").mkdir()
    for stale in ("run/.summary.csv.partial-99999", "run/chunks/.round0-chunk0000.npz.partial-99999"):
        (tmp_path / stale).write_text("half")
    code, _, err = run(["sweep", "--resume", "run"], tmp_path)
    assert code == 0, err
    assert not list((tmp_path / "run").rglob("*.partial-*")) and (tmp_path / "run" / "run.json").is_file()


def test_a_sys_exit_inside_a_command_is_a_failure_not_a_success(tmp_path, monkeypatch):
    from eos import cli

    def exits(*a, **k):
        raise SystemExit(0)

    monkeypatch.setattr(cli, "parse_range", exits)
    code, out, err = run(["sweep", "--lr", "0.1:0.2:2", "--out", "run"], tmp_path)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "called sys.exit(0)" in lines[0], err
    assert not (tmp_path / "run").exists()
