import json
import os
import subprocess
import sys

import pytest
from helpers import ROOT, check_rejected, eos


def test_a_parameter_the_model_does_not_read_is_refused_through_the_entry_point(tmp_path):
    """Through `python -m eos` (the end-of-command path included), as a user meets it: one line, exit 2,
    nothing written. The in-process corpus (test_bad_input_corpus.py) holds the other refusals."""
    r = eos("sweep", "--loss", "sqrt", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "error: --loss 'sqrt': model 'relu' does not read it (it reads --d, --n, --lam, --sigma, --n-test, --impl)"
    ]
    assert os.listdir(tmp_path) == []


def test_sweep_writes_its_files_and_reports_prediction_and_measurement(tmp_path):
    r = eos(
        "sweep",
        "--model",
        "mean",
        "--d",
        "20",
        "--lr",
        "0.01:0.3:8",
        "--seeds",
        "2",
        "--out",
        str(tmp_path / "run"),
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "verdict: " in r.stdout and "predicted η*" in r.stdout
    files = ["columns.csv", "overview.png", "run.json", "summary.csv", "trajectories.npz"]
    assert sorted(os.listdir(tmp_path / "run")) == files
    # Strict JSON: no NaN or Infinity tokens; the dictionary names every summary column.
    json.loads((tmp_path / "run" / "run.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    header = (tmp_path / "run" / "summary.csv").read_text().splitlines()[0].split(",")
    described = [line.split(",")[0] for line in (tmp_path / "run" / "columns.csv").read_text().splitlines()[1:]]
    assert described == header
    lines = (tmp_path / "run" / "summary.csv").read_text().splitlines()
    assert len(lines) == 1 + 8 * 2


def test_existing_output_directory_is_refused(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    r = eos("sweep", "--lr", "0.1", "--out", str(tmp_path / "full"), cwd=tmp_path)
    assert r.returncode == 2 and "not empty" in r.stderr
    assert (tmp_path / "full" / "x").read_text() == "keep me"


def test_a_link_to_an_empty_directory_is_written_through(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to("target")
    r = eos("sweep", "--model", "product", "--lr", "0.1:1:3", "--time", "5", "--out", "link", cwd=tmp_path)
    assert r.returncode == 0 and "wrote link/" in r.stdout, r.stderr
    assert (tmp_path / "link").is_symlink() and (tmp_path / "target" / "summary.csv").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial left beside it


def test_robustness_on_ten_points_with_a_network_of_width_one_reports_its_rows(tmp_path):
    r = eos("robustness", "--vary", "width", "--n", "10", "--d", "2", "--widths", "1,2", "--steps", "30", cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert len([line for line in r.stdout.splitlines() if line.startswith("   10    2")]) == 2, r.stdout


def test_a_reader_that_leaves_early_loses_no_file_and_gets_no_error(tmp_path):
    """`eos sweep | head -1`: the files, overview.png included, are written before the report is
    printed, and the closed pipe ends the command quietly."""
    args = ["sweep", "--model", "product", "--lr", "0.1:1:3", "--time", "5", "--out", "run"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "eos", *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert proc.returncode in (0, 1) and "error" not in err and "Traceback" not in err, (proc.returncode, err)
    written = {p.name for p in (tmp_path / "run").iterdir()}
    assert written == {"summary.csv", "columns.csv", "trajectories.npz", "run.json", "overview.png"}, written


def test_resume_refuses_a_finished_sweep_and_other_options(tmp_path):
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "run.json").write_text("{}")
    for args, needle in (
        (["--resume", "done"], "already complete"),
        (["--resume", "nowhere"], "no interrupted"),
        (["--resume", "done", "--lr", "0.1"], "drop --lr"),
    ):
        r = eos("sweep", *args, cwd=tmp_path)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr, r.stderr
    assert os.listdir(tmp_path / "done") == ["run.json"]


BAD_ROBUSTNESS = [
    (["--n", "0"], "n must"),
    (["--d", "-1"], "d must"),
    (["--widths", "8:4"], "reversed"),
    (["--widths", "a:b"], "--widths"),
    (["--widths", "0,4"], "'0'"),
    (["--seeds", "0"], "seeds"),
    (["--eps", "1.5"], "eps"),
    (["--labels", "maybe"], "maybe"),
    (["--inputs", "cube"], "cube"),
]


@pytest.mark.parametrize("args,needle", BAD_ROBUSTNESS)
def test_robustness_bad_input_is_one_line_exit_2(args, needle, tmp_path):
    r = eos("robustness", *args, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr, (args, r.stderr)
    assert os.listdir(tmp_path) == []


def test_lipschitz_bad_files_are_one_line_exit_2(tmp_path):
    (tmp_path / "junk.mat").write_bytes(b"junk")
    for args, needle in (
        (["missing.mat"], "no such file"),
        (["junk.mat"], "cannot read"),
        (["junk.mat", "--form", "pair"], "pair"),
    ):
        r = eos("lipschitz", *args, cwd=tmp_path)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr, r.stderr


def test_robustness_end_to_end_writes_a_loadable_result(tmp_path):
    r = eos(
        "robustness",
        "--vary",
        "width",
        "--n",
        "60",
        "--d",
        "5",
        "--widths",
        "2,8",
        "--seeds",
        "1",
        "--steps",
        "200",
        "--eps",
        "0.2",
        "--out",
        str(tmp_path / "r"),
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "exponent of Lip upper in p" in r.stdout
    header = (tmp_path / "r" / "summary.csv").read_text().splitlines()[0].split(",")
    for col in (
        "n",
        "d",
        "width",
        "params",
        "seed",
        "train_mse",
        "noise_level",
        "fits_below_noise",
        "lip_lower",
        "lip_upper",
        "lip_upper_method",
        "bracket",
        "floor",
        "in_window",
        "in_regime",
        "p_over_nd",
        "smoothing_gain",
        "law_scale",
        "certified_bound",
    ):
        assert col in header, col


def test_figures_rejects_unknown_names_and_missing_run_dirs(tmp_path):
    for args, needle in ((["nope"], "nope"), (["threshold", "--from", "missing"], "missing")):
        r = eos("figures", *args, "--out", str(tmp_path / "f"), cwd=tmp_path)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr, r.stderr
    assert os.listdir(tmp_path) == []


def test_help_is_plain_text_and_lists_the_figures():
    from eos import cli
    from eos.figures.catalog import FIGURES

    assert tuple(FIGURES) == cli.FIGURE_NAMES
    r = eos("sweep", "--help", cwd=ROOT)
    assert "A:B:N" in r.stdout and "🅱" not in r.stdout and "<bool>" not in r.stdout, r.stdout
    figures = eos("figures", "--help", cwd=ROOT).stdout
    assert all(name in figures for name in FIGURES) and "[NAME]..." in figures, figures
    for command in ("sweep", "robustness", "figures"):  # a Python type is no word for a user
        shown = eos(command, "--help", cwd=ROOT).stdout
        assert not any(t in shown for t in ("list[", "<str>", "<int>", "<float>", "[[")), shown


def test_every_config_field_with_help_is_an_option_with_its_default():
    """The options are derived from the configs: a field that carries a help is an option of its
    command, with the field's own default, and nothing is restated by hand."""
    import dataclasses

    import typer.main

    from eos import cli
    from eos.dynamics.config import ModelSpec
    from eos.dynamics.engine import EngineConfig
    from eos.dynamics.sweep import SweepConfig
    from eos.robustness.experiment import RobustnessConfig

    commands = {c.name: c for c in typer.main.get_command(cli.app).commands.values()}
    for command, classes in (("sweep", (ModelSpec, SweepConfig, EngineConfig)), ("robustness", (RobustnessConfig,))):
        params = {p.name: p for p in commands[command].params}
        for cls in classes:
            for f in dataclasses.fields(cls):
                if "help" in f.metadata:
                    assert f.name in params, (command, f.name)
                    assert params[f.name].default == f.default, (command, f.name, params[f.name].default)


@pytest.mark.parametrize(
    "option, value",
    [
        ("--memory-mb", "-1"),
        ("--memory-mb", "nan"),
        ("--max-waste", "-0.1"),
        ("--lanczos-steps", "0"),
        ("--refine-points", "0"),
    ],
)
def test_options_derived_from_the_engine_config_are_validated(tmp_path, option, value):

    check_rejected(["sweep", option, value, "--out", "o"], tmp_path, option.lstrip("-").replace("-", "_"))


def test_every_package_folder_is_installed_under_eos():
    """pyproject maps the top-level folders under `eos`; a sub-package left off that list would be
    missing from a wheel (an editable install hides it: it maps the whole checkout)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"eos"} | {
        "eos." + ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("dynamics", "robustness", "figures", "results")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert found == listed, (found - listed, listed - found)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["--version"],
        ["sweep", "--help"],
        ["robustness", "--help"],
        ["sweep", "--lr", "abc"],
        ["sweep", "--d", "-1"],
        ["robustness", "--widths", "0"],
        ["lipschitz", "nofile.mat"],
        ["figures", "nope"],
    ],
)
def test_help_version_and_bad_input_answer_without_loading_jax_scipy_or_cvxpy(args):
    probe = (
        "import sys\nfrom eos.cli import main\nsys.argv = ['eos', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = [m for m in ('jax', 'scipy', 'cvxpy') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in r.stderr, (args, r.stderr[-500:])
    if args in ([], ["--help"]):
        assert "sweep" in r.stdout and "robustness" in r.stdout and "figures" in r.stdout
    if args == ["--version"]:
        assert r.stdout.startswith("eos ")


def test_a_sweep_projected_past_max_hours_is_refused_in_one_line_and_leaves_nothing(tmp_path):
    args = ["sweep", "--model", "mean", "--seeds", "300", "--no-flow", "--max-hours", "0.0002", "--out", "run"]
    r = eos(*args, cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and "--max-hours 0.0002" in lines[-1] and "member-steps" in lines[-1], r.stderr
    assert "Traceback" not in r.stderr
    # finished work is never lost: chunks done before the refusal stay, with the way to finish them
    if (tmp_path / "run").exists():
        assert list((tmp_path / "run" / "chunks").glob("*.npz")) and "--resume run" in lines[-1], r.stderr


def test_imports_run_without_the_collector_and_leave_its_state_as_it_was():
    import gc

    from eos import runtime

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with runtime.loading():
        assert not gc.isenabled()
        with runtime.loading():  # nested: the inner block leaves it off for the outer one
            made = [[i] for i in range(1000)]
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(made)
    gc.disable()
    try:
        with runtime.loading():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
