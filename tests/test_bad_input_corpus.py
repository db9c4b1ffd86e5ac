"""Bad input for all four commands: a listed corpus and a generated one.

Each case must end with exit code 2, exactly one line on stderr naming the problem, no
traceback, and nothing written: the working directory holds afterwards what it held before.
The commands run in-process (`cli.main` with argv), so hundreds of cases take seconds.
"""

import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers import check_rejected, run
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.io import savemat

HERE = Path(__file__).resolve().parent


# --- listed cases: (arguments, a word the message must contain) --------------------------

SWEEP = [
    (["--lr", ""], "--lr"),
    (["--lr", "1:0.1"], "reversed"),
    (["--lr", "abc"], "abc"),
    (["--lr", "nan"], "nan"),
    (["--lr", "0:1"], "'0'"),
    (["--lr", "-1,2"], "-1"),
    (["--lr", "0.1:1:0"], "count"),
    (["--lr", "inf"], "inf"),
    (["--lr", "1:2:3:4"], "A:B"),
    (["--lr", "0.1:1:x"], "count"),
    (["--lr", "1e400"], "1e400"),
    (["--lr", ","], "--lr"),
    (["--lr", "0.1,,0.2"], "--lr"),
    (["--lr", "1:1:5"], "empty"),
    (["--lr", "-inf"], "-inf"),
    (["--lr", "0x"], "0x"),
    (["--lr", "1 2"], "--lr"),
    (["--lr", "0.1:1:-3"], "count"),
    (["--lr", ":"], "--lr"),
    (["--model", "foo"], "foo"),
    (["--model", "product", "--loss", "bar"], "bar"),
    (["--impl", "fast"], "fast"),
    (["--d", "0"], "d must"),
    (["--d", "-1"], "d must"),
    (["--d", "x"], "'x'"),
    (["--d", "1.5"], "'1.5'"),
    (["--n", "0"], "n must"),
    (["--n", "-2"], "n must"),
    (["--n", "x"], "'x'"),
    (["--seeds", "2.5"], "'2.5'"),
    (["--sigma", "abc"], "'abc'"),
    (["--lr", "x"], "a multiple such as 0.5x"),
    (["--n-test", "0"], "n_test"),
    (["--model", "mlp", "--width", "0"], "width"),
    (["--width", "32"], "--width 32: model 'relu' does not read it"),
    (["--model", "product", "--d", "30"], "--d 30: model 'product' does not read it"),
    (["--model", "mean", "--n", "30"], "--n 30: model 'mean' does not read it"),
    (["--seeds", "0"], "seeds"),
    (["--seeds", "-1"], "seeds"),
    (["--steps", "0"], "steps"),
    (["--steps", "-3"], "steps"),
    (["--time", "0"], "time"),
    (["--time", "-1"], "time"),
    (["--time", "nan"], "time"),
    (["--time", "inf"], "time"),
    (["--refine", "-1"], "refine"),
    (["--margin", "0"], "margin"),
    (["--margin", "-1"], "margin"),
    (["--margin", "nan"], "margin"),
    (["--stride", "-1"], "stride"),
    (["--slots", "-1"], "max_slots"),
    (["--chunk", "0"], "chunk"),
    (["--chunk", "-4"], "chunk"),
    (["--devices", "64"], "devices"),
    (["--devices", "-1"], "devices"),
    (["--lam", "nan"], "lam"),
    (["--lam", "inf"], "lam"),
    (["--sigma", "0"], "sigma"),
    (["--sigma", "-1"], "sigma"),
    (["--sigma", "nan"], "sigma"),
    (["--x0", "nan"], "x0"),
    (["--y0", "inf"], "y0"),
    (["--model", "product", "--loss", ""], "loss"),
    (["--foo", "1"], "--foo"),
    (["extra"], "extra"),
    (["--d", "100000", "--n", "100000"], "int32"),
    (["--d", "100000", "--n", "100000", "--impl", "dense", "--lr", "0.01:1.0"], "memory"),
    (["--model", "mlp", "--width", "100000", "--d", "20000", "--n", "20000", "--lr", "0.01:1.0"], "memory"),
    (["--model", "mlp"], "predicts no η*"),
    (["--lr", "0.01:1.0", "--seeds", "100000000"], "memory"),
    (["--lr", "0.01:1.0:100000000"], "1,000,000"),
    (["--lr", "1e-300"], "int32"),
    (["--time", "1e300"], "int32"),
    (["--model", "mlp", "--lr", "0.5x:2x"], "predicts no η*"),
    (["--lr", "0.2x:abcx"], "abc"),
    (["--lr", "-1x:2x"], "positive"),
    (["--lr", "5x:0.2x"], "reversed"),
    (["--steps", "3000000000"], "int32"),
    (["--lr", "1e-12", "--time", "10"], "int32"),
    (["--resume", "nowhere"], "nowhere"),
]


@pytest.mark.parametrize("args,needle", SWEEP)
def test_sweep_rejects(args, needle, tmp_path):
    check_rejected(["sweep", *args, "--out", "out"], tmp_path, needle)


def test_sweep_rejects_a_taken_output_and_misused_resume(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "afile").write_text("x")
    check_rejected(["sweep", "--out", "full"], tmp_path, "not empty")
    check_rejected(["sweep", "--out", "afile"], tmp_path, "afile")
    check_rejected(["sweep", "--resume", "full"], tmp_path, "no interrupted sweep")
    check_rejected(["sweep", "--resume", "full", "--d", "5"], tmp_path, "--d")
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "run.json").write_text("{}")
    check_rejected(["sweep", "--resume", "done"], tmp_path, "already complete")


ROBUSTNESS = [
    (["--n", "0"], "n must"),
    (["--d", "0"], "d must"),
    (["--n", "x"], "'x'"),
    (["--seeds", "2.5"], "'2.5'"),
    (["--lr", "x"], "'x'"),
    (["--widths", ""], "--widths"),
    (["--widths", "0:4"], "'0'"),
    (["--widths", "a"], "a"),
    (["--widths", "4:1"], "reversed"),
    (["--widths", "-3"], "-3"),
    (["--seeds", "0"], "seeds"),
    (["--inputs", "cube"], "cube"),
    (["--labels", "noisy"], "noisy"),
    (["--labels", "rule", "--flip", "-0.1"], "flip"),
    (["--labels", "rule", "--flip", "0.6"], "flip"),
    (["--labels", "rule", "--flip", "0"], "eps"),
    (["--eps", "0"], "eps"),
    (["--eps", "1"], "eps"),
    (["--eps", "2"], "eps"),
    (["--eps", "nan"], "eps"),
    (["--eps", "-0.5"], "eps"),
    (["--steps", "0"], "steps"),
    (["--lr", "0"], "lr"),
    (["--lr", "-1"], "lr"),
    (["--lr", "nan"], "lr"),
    (["--lr", "inf"], "lr"),
    (["--penalty", "-1"], "penalty"),
    (["--penalty", "nan"], "penalty"),
    (["--regulariser", "l1"], "l1"),
    (["--vary", "k"], "vary"),
    (["--vary", "n"], "needs --values"),
    (["--values", "1,2"], "values"),
    (["--vary", "n", "--values", "0,4"], "'0'"),
    (["--vary", "d", "--values", "abc"], "abc"),
    (["--vary", "width", "--n", "1000000"], "memory"),
    (["--vary", "width", "--d", "10000000", "--n", "1000"], "memory"),
    (["--design-n", "1000000"], "memory"),
    (["--n", "100"], "--design-n"),
    (["--vary", "width", "--design-d", "100"], "--vary joint"),
    (["--design-k", "0"], "--design-k"),
    (["--vary", "width", "--widths", "99999999999999999999"], "over 2,147,483,647"),
    (["--design-n", "99999999999999999999"], "over 2,147,483,647"),
    (["--design-d", "100,3000000000000"], "over 2,147,483,647"),
    (["--bogus"], "--bogus"),
]


@pytest.mark.parametrize("args,needle", ROBUSTNESS)
def test_robustness_rejects(args, needle, tmp_path):
    check_rejected(["robustness", *args, "--out", "out"], tmp_path, needle)


def save_weights(path, cells):
    cell = np.empty((1, len(cells)), dtype=object)
    for i, c in enumerate(cells):
        cell[0, i] = c
    savemat(path, {"weights": cell})


BAD_WEIGHTS = {
    "nan": ([np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones((1, 2))], "non-finite"),
    "inf": ([np.ones((3, 2)), np.array([[np.inf, 1.0, 1.0]])], "non-finite"),
    "neg_inf": ([np.full((2, 2), -np.inf), np.ones((1, 2))], "non-finite"),
    "orientation": ([np.ones((3, 2)), np.ones((3, 1))], "expects"),
    "ragged": ([np.ones((3, 2)), np.ones((1, 4))], "expects"),
    "empty_layer": ([np.ones((3, 2)), np.zeros((1, 0))], "empty"),
    "empty_matrix": ([np.zeros((0, 0))], "empty"),
    "huge": ([np.full((3, 2), 1e200), np.ones((1, 3))], "too large"),
    "huge_deep": ([np.full((3, 2), 1e60), np.full((3, 3), 1e60), np.full((1, 3), 1e60)], "too large"),
    "strings": (["abc", np.ones((1, 3))], "real matrices"),
    "complex": ([np.ones((3, 2)) * 1j, np.ones((1, 3))], "real matrices"),
    "tiny": ([np.full((3, 2), 1e-200), np.ones((1, 3))], "rescale"),
    "subnormal": ([np.full((3, 2), 1e-310), np.full((1, 3), 1e-310)], "rescale"),
}


@pytest.mark.parametrize("name", sorted(BAD_WEIGHTS))
def test_lipschitz_rejects_malformed_weights(name, tmp_path):
    cells, needle = BAD_WEIGHTS[name]
    save_weights(tmp_path / "w.mat", cells)
    check_rejected(["lipschitz", "w.mat"], tmp_path, needle)


def test_lipschitz_rejects_files_that_are_no_networks(tmp_path):
    (tmp_path / "junk.mat").write_bytes(b"not a mat file")
    (tmp_path / "empty.mat").write_bytes(b"")
    savemat(tmp_path / "other.mat", {"w": np.eye(2)})
    savemat(tmp_path / "vector.mat", {"weights": np.ones(3)})
    savemat(tmp_path / "cube.mat", {"weights": np.ones((2, 2, 2))})
    (tmp_path / "adir.mat").mkdir()
    for args, needle in (
        (["missing.mat"], "no such file"),
        (["junk.mat"], "cannot read"),
        (["empty.mat"], "cannot read"),
        (["other.mat"], "no 'weights'"),
        (["vector.mat"], "matri"),
        (["cube.mat"], "matri"),
        (["adir.mat"], "a directory"),
        (["/dev/null"], "not a regular file"),
        (["junk.mat", "--form", "pair"], "pair"),
        (["junk.mat", "--solver", "mosek"], "mosek"),
        ([], "missing argument"),
        (["a.mat", "b.mat"], "b.mat"),
    ):
        check_rejected(["lipschitz", *args], tmp_path, needle)


FIGURES = [
    (["nope"], "nope"),
    (["threshold", "nope"], "nope"),
    (["all", "x"], "x"),
    (["threshold", "--from", "missing"], "missing"),
    (["robustness", "--from", "empty"], "no robustness run"),
    (["threshold", "--from", "empty"], "no sweep run"),
    (["bracket", "--from", "n" * 300], "bytes"),
    (["--bad"], "--bad"),
]


@pytest.mark.parametrize("args,needle", FIGURES)
def test_figures_rejects(args, needle, tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "empty" / "a" / "b").mkdir(parents=True)
    check_rejected(["figures", *args, "--out", "f"], tmp_path, needle)


def test_a_damaged_run_under_from_is_named_before_the_refusal(tmp_path):
    (tmp_path / "runs" / "a" / "b" / "damaged").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "b" / "damaged" / "run.json").write_text("{not json")
    code, _, err = run(["figures", "robustness", "--from", "runs", "--out", "f"], tmp_path)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2, err
    assert lines[0].startswith("note: skipped runs/a/b/damaged: its run.json cannot be read"), err
    assert lines[1].startswith("error: --from 'runs': no robustness run") and "1 run directories" in lines[1], err


def test_figures_rejects_a_file_as_a_run_directory(tmp_path):
    (tmp_path / "afile").write_text("x")
    check_rejected(["figures", "threshold", "--from", "afile", "--out", "f"], tmp_path, "afile")


# --- generated cases ----------------------------------------------------------------------

not_number = st.sampled_from(["x", "", "1,2", "one", "0x1p", "--", "1e", "ten"])
positive_int = ["--d", "--n", "--n-test", "--seeds", "--steps", "--chunk"]
nonneg_int = ["--refine", "--stride", "--slots"]
positive_float = ["--time", "--margin", "--sigma"]
finite_float = ["--lam", "--x0", "--y0"]

sweep_case = st.one_of(
    st.tuples(st.sampled_from(positive_int), st.integers(-(10**9), 0).map(str)),
    st.tuples(st.sampled_from(positive_int + nonneg_int), not_number),
    st.tuples(st.sampled_from(nonneg_int), st.integers(-(10**9), -1).map(str)),
    st.tuples(
        st.sampled_from(positive_float),
        st.one_of(st.floats(max_value=0.0, allow_nan=False).map(repr), st.sampled_from(["nan", "inf", "-inf"])),
    ),
    st.tuples(st.sampled_from(finite_float), st.sampled_from(["nan", "inf", "-inf", "NaN", "Infinity"])),
    st.tuples(
        st.just("--lr"),
        st.one_of(
            st.floats(max_value=0.0, allow_nan=False).map(repr),
            st.sampled_from(["nan", "inf", "1:0.5", "a:b", "0.1:0.2:0"]),
        ),
    ),
    st.tuples(st.sampled_from(["--model", "--loss", "--impl"]), st.text("qwxz_-", min_size=1, max_size=8)),
)


@given(case=sweep_case)
@settings(max_examples=60)
def test_generated_sweep_options_are_rejected(case):
    option, value = case
    if option == "--loss":
        args = ["--model", "product", option, value]
    else:
        args = [option, value]
    with tempfile.TemporaryDirectory() as cwd:
        check_rejected(["sweep", *args, "--out", "out"], cwd)


robustness_case = st.one_of(
    st.tuples(st.sampled_from(["--n", "--d", "--seeds", "--steps"]), st.integers(-(10**6), 0).map(str)),
    st.tuples(st.sampled_from(["--n", "--d", "--seeds", "--steps", "--lr", "--eps", "--flip"]), not_number),
    st.tuples(
        st.just("--eps"), st.one_of(st.floats(max_value=0.0, allow_nan=False), st.floats(min_value=1.0)).map(repr)
    ),
    st.tuples(st.just("--lr"), st.floats(max_value=0.0, allow_nan=False).map(repr)),
    st.tuples(st.just("--penalty"), st.floats(max_value=-1e-300, allow_nan=False).map(repr)),
    st.tuples(
        st.sampled_from(["--inputs", "--labels", "--vary", "--regulariser"]), st.text("qxz_", min_size=1, max_size=6)
    ),
    st.tuples(st.just("--widths"), st.sampled_from(["0", "-1", "4:2", "x:8", "2:8:0", "", "1.5e400"])),
)


@given(case=robustness_case)
@settings(max_examples=40)
def test_generated_robustness_options_are_rejected(case):
    with tempfile.TemporaryDirectory() as cwd:
        check_rejected(["robustness", *case, "--out", "out"], cwd)


def layer_lists():
    """Layer lists with exactly one defect: a non-finite entry, a shape mismatch, or a blown-up scale."""
    sizes = st.lists(st.integers(1, 5), min_size=2, max_size=4)

    @st.composite
    def build(draw):
        dims = draw(sizes)
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        layers = [rng.normal(size=(dims[i + 1], dims[i])) for i in range(len(dims) - 1)]
        defect = draw(st.sampled_from(["nan", "inf", "shape", "scale"]))
        i = draw(st.integers(0, len(layers) - 1))
        if defect in ("nan", "inf"):
            r, c = draw(st.integers(0, layers[i].shape[0] - 1)), draw(st.integers(0, layers[i].shape[1] - 1))
            layers[i][r, c] = {"nan": math.nan, "inf": draw(st.sampled_from([math.inf, -math.inf]))}[defect]
            needle = "non-finite"
        elif defect == "shape" and len(layers) > 1:
            j = max(i, 1)
            layers[j] = rng.normal(size=(layers[j].shape[0], layers[j].shape[1] + draw(st.integers(1, 3))))
            needle = "expects"
        else:
            layers[i] = layers[i] * 1e300
            needle = "too large"
        return layers, needle

    return build()


@given(case=layer_lists())
@settings(max_examples=40)
def test_generated_weight_files_are_rejected(case):
    layers, needle = case
    with tempfile.TemporaryDirectory() as cwd:
        save_weights(Path(cwd) / "w.mat", layers)
        check_rejected(["lipschitz", "w.mat"], cwd, needle)


# --- generated round two: sizes of 10⁸–10¹², repeats, subnormal values, names, weight dtypes ----

huge = st.integers(8, 12).map(lambda e: str(10**e))
sweep_size_case = st.one_of(
    st.tuples(st.sampled_from(["--d", "--n", "--n-test", "--seeds"]), huge),
    st.tuples(st.just("--width"), huge).map(lambda c: ("--model", "mlp", "--lr", "0.1", *c)),
    st.tuples(st.just("--refine-points"), huge).map(lambda c: ("--refine", "1", *c)),
    st.tuples(st.just("--stride"), st.integers(10, 12).map(lambda e: str(10**e))),
    st.tuples(st.just("--lr"), st.floats(5e-324, 1e-308).map(repr)),  # subnormal: a horizon past int32
    st.tuples(st.just("--sigma"), st.floats(5e-324, 1e-308).map(repr)),  # σ² underflows to zero
    st.lists(st.floats(1e-3, 1.0), min_size=1, max_size=4).map(  # a step size given twice
        lambda v: ("--lr", ",".join(repr(x) for x in [*v, v[0]]))
    ),
)


@given(case=sweep_size_case)
@settings(max_examples=40, deadline=None)
def test_generated_sizes_repeats_and_underflows_are_rejected_by_sweep(case):
    with tempfile.TemporaryDirectory() as cwd:
        check_rejected(["sweep", *case, "--out", "out"], cwd)


robustness_size_case = st.one_of(
    st.tuples(st.sampled_from(["--n", "--d"]), huge).map(lambda c: ("--vary", "width", *c)),
    st.tuples(st.just("--widths"), huge).map(lambda c: ("--vary", "width", *c)),
    st.tuples(st.just("--values"), huge).map(lambda c: ("--vary", "n", *c)),
    st.tuples(st.sampled_from(["--seeds", "--design-n", "--design-d", "--design-k"]), huge),
    st.tuples(st.just("--steps"), st.integers(10, 12).map(lambda e: str(10**e))),
    st.lists(st.integers(2, 64), min_size=1, max_size=3).map(
        lambda v: ("--design-k", ",".join(str(x) for x in [*v, v[0]]))
    ),
)


@given(case=robustness_size_case)
@settings(max_examples=30, deadline=None)
def test_generated_sizes_and_repeats_are_rejected_by_robustness(case):
    with tempfile.TemporaryDirectory() as cwd:
        check_rejected(["robustness", *case, "--out", "out"], cwd)


@given(length=st.integers(256, 400), command=st.sampled_from(["sweep", "robustness", "figures", "resume"]))
@settings(max_examples=12, deadline=None)
def test_generated_names_longer_than_the_file_system_allows_are_rejected(length, command):
    name = "n" * length
    args = ["sweep", "--resume", name] if command == "resume" else [command, "--out", name]
    with tempfile.TemporaryDirectory() as cwd:
        check_rejected(args, cwd, "bytes")


OUT_COMMANDS = {
    "sweep": ["sweep", "--model", "product", "--lr", "0.1:1:3", "--time", "5"],
    "robustness": ["robustness", "--vary", "width", "--n", "100", "--d", "20", "--widths", "4,8", "--steps", "50"],
    "figures": ["figures", "bracket", "--quick"],
}
BAD_OUTS = {  # --out: the reason its message must give
    "dangling": "a link to 'nowhere', which does not exist",
    "dangling/sub": "a link to 'nowhere', which does not exist",
    "filelink": "'filelink' is a file, not a directory",
    "afile": "'afile' is a file, not a directory",
    "afile/sub": "'afile' is a file, not a directory",
    "afile/sub/deeper": "'afile' is a file, not a directory",
}


@pytest.mark.parametrize("out", list(BAD_OUTS))
@pytest.mark.parametrize("command", list(OUT_COMMANDS))
def test_an_output_through_a_file_or_a_dangling_link_is_refused_with_its_reason(command, out, tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "dangling").symlink_to("nowhere")
    (tmp_path / "filelink").symlink_to("afile")
    check_rejected([*OUT_COMMANDS[command], "--out", out], tmp_path, BAD_OUTS[out])


DTYPES = ["int8", "uint8", "int16", "int32", "int64", "float16", "float32", "float64", "bool", "complex64"]


@given(dtype=st.sampled_from(DTYPES), shape=st.sampled_from([(), (3,), (2, 2, 2), (1, 3, 1, 2)]))
@settings(max_examples=30, deadline=None)
def test_generated_weight_files_of_any_dtype_and_a_wrong_shape_are_rejected(dtype, shape):
    with tempfile.TemporaryDirectory() as cwd:
        savemat(Path(cwd) / "w.mat", {"weights": np.ones(shape, dtype=dtype)})
        check_rejected(["lipschitz", "w.mat"], cwd)


def test_the_corpus_is_large_enough():
    listed = len(SWEEP) + 5 + 4 + len(ROBUSTNESS) + len(BAD_WEIGHTS) + 12 + len(FIGURES) + 1
    listed += len(OUT_COMMANDS) * len(BAD_OUTS)
    generated = 60 + 40 + 40 + 40 + 30 + 12 + 30
    assert listed == 185 and listed + generated >= 430, (listed, generated)


def test_environment_and_model_faults_are_one_line_refusals(tmp_path):
    """A backend the machine lacks, a parameter whose arithmetic fails in the model's constructor, a
    resume given an option it takes from the run: one line each, exit 2, nothing written."""
    import subprocess

    env = dict(os.environ, JAX_PLATFORMS="gpu")
    args = [sys.executable, "-m", "eos", "sweep", "--d", "20", "--lr", "0.01,0.02", "--steps", "100", "--out", "out"]
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:  # where a GPU is lent the run is valid; elsewhere it names the variable
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert "JAX_PLATFORMS='gpu'" in done.stderr and not (tmp_path / "out").exists(), done.stderr
    check_rejected(["sweep", "--model", "mean", "--sigma", "1e-310", "--out", "o"], tmp_path, "--sigma 1e-310")
    check_rejected(["sweep", "--model", "product", "--x0", "1e200", "--out", "o"], tmp_path, "--x0 1e+200")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "sweep.json").write_text("{}")
    check_rejected(["sweep", "--resume", "run", "--no-flow"], tmp_path, "drop --no-flow")


def test_an_output_that_cannot_be_written_is_refused_before_any_work(tmp_path, monkeypatch):
    """A read-only place for --out (simulated: root writes through permissions) is refused up front,
    by every command, not after the run at the save."""
    import errno

    from eos.results import paths

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(paths.tempfile, "TemporaryDirectory", read_only)
    for command in OUT_COMMANDS.values():
        check_rejected([*command, "--out", "ro/out"], tmp_path, "cannot write in '.': read-only file system")


def test_an_empty_working_directory_can_be_the_output(tmp_path):
    code, _, err = run([*OUT_COMMANDS["robustness"], "--out", "."], tmp_path)
    assert code == 0, err
    assert {"summary.csv", "columns.csv", "run.json"} <= {p.name for p in tmp_path.iterdir()}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
