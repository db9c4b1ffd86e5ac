import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from eos.dynamics import flow, flow_apart, sweep
from eos.dynamics.config import ModelSpec, SweepConfig
from eos.dynamics.registry import make_model

SPEC = ModelSpec(d=20, n=40, n_test=50)


def _child_can_import_eos() -> bool:
    return subprocess.run([sys.executable, "-c", "import eos.dynamics.flow"], capture_output=True).returncode == 0


def _children() -> list[int]:
    """This process's flow children still alive (other test workers may run their own)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or b"eos.dynamics.flow" not in (entry / "cmdline").read_bytes():
                continue
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


@pytest.mark.skipif(not _child_can_import_eos(), reason="eos is not installed: a fresh interpreter cannot import it")
def test_the_flow_in_a_process_of_its_own_gives_the_numbers_of_this_one():
    reports = []
    apart = flow_apart.peak_sharpness_apart(
        dataclasses.asdict(SPEC), False, [0, 1], 10.0, lambda d, t: reports.append(d)
    )
    here = flow.peak_sharpness(make_model(SPEC, jnp.float32), [0, 1], 10.0)
    assert apart == here  # floats through JSON exactly: the same integration, bit for bit
    assert reports and reports[-1] == 2


@pytest.mark.skipif(not __import__("importlib").util.find_spec("flatbuffers"), reason="needs flatbuffers")
@pytest.mark.parametrize("spec", [SPEC, ModelSpec(model="mlp", d=10, n=20, n_test=20, width=32)])
def test_the_flows_programs_traced_in_an_earlier_process_give_the_same_numbers(spec, tmp_path, monkeypatch):
    from eos.dynamics import traces

    monkeypatch.setattr(traces, "_directory", lambda: tmp_path)
    model = make_model(spec, jnp.float32)
    plain = flow.peak_sharpness(model, [0, 1], 2.0)
    kept = flow.peak_sharpness(model, [0, 1], 2.0, code="this model's code")  # traced and written
    dense = sum(x.size for x in jax.tree_util.tree_leaves(model.init(jax.random.key(0), None))) <= flow.DENSE_PARAMS
    # the data, the initialisation, the gradient, the top eigenvalue, and the Hessian where it is dense
    assert len(list(tmp_path.glob("*.bin"))) == 4 + dense
    traces._loaded.cache_clear()  # as a new process: read back from the files
    read = flow.peak_sharpness(model, [0, 1], 2.0, code="this model's code")
    assert plain == kept == read and all(seed.get("method") for seed in plain)


def test_a_flow_process_that_cannot_start_leaves_the_flow_to_this_one(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    assert flow_apart.peak_sharpness_apart(dataclasses.asdict(SPEC), False, [0], 10.0) is None
    monkeypatch.setattr(flow_apart, "APART_MIN_STEPS", 0)
    config = SweepConfig(spec=SPEC, lrs=(0.01, 0.02), seeds=1)
    got = sweep._flow(make_model(SPEC, jnp.float32), config, [0], None)
    assert got == flow.peak_sharpness(make_model(SPEC, jnp.float32), [0], sweep.flow_time(config))


@pytest.mark.skipif(not (_child_can_import_eos() and os.path.isdir("/proc")), reason="needs eos installed and /proc")
def test_a_stopped_sweep_leaves_no_flow_process_behind():
    class Stop(Exception):
        pass

    def progress(done, total):
        raise Stop

    with pytest.raises(Stop):
        flow_apart.peak_sharpness_apart(dataclasses.asdict(ModelSpec()), False, [0, 1, 2], 10.0, progress)
    assert not _children()


def test_the_flow_process_can_start_before_jax_loads():
    # the command starts it first thing, so that its start-up overlaps this process's (flow_apart)
    code = "import sys, eos.dynamics.flow_apart; assert 'jax' not in sys.modules, 'flow_apart loaded jax'"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


@pytest.mark.skipif(not _child_can_import_eos(), reason="eos is not installed: a fresh interpreter cannot import it")
def test_a_sweep_given_its_started_flow_process_gives_the_flows_it_computes_itself():
    config = SweepConfig(spec=SPEC, lrs=(0.01, 0.02), seeds=2)
    model = make_model(SPEC, jnp.float32)
    here = flow.peak_sharpness(model, [0, 1], sweep.flow_time(config))
    with flow_apart.Apart.for_sweep(config) as started:
        assert sweep._flow(model, config, [0, 1], None, started) == here
    other = SweepConfig(spec=SPEC, lrs=(0.01, 0.03), seeds=2)  # another sweep's time: its process is not used
    with flow_apart.Apart.for_sweep(other) as wrong:
        assert sweep._flow(model, config, [0, 1], None, wrong) == here
        assert wrong.proc.poll() is not None  # stopped, not left running


@pytest.mark.skipif(not (_child_can_import_eos() and os.path.isdir("/proc")), reason="needs eos installed and /proc")
def test_a_sweep_refused_after_its_flow_process_started_leaves_none_behind(tmp_path):
    marker = f"eos-test-{os.getpid()}-{tmp_path.name}"
    taken = tmp_path / "taken"
    taken.write_text("a file where the run's directory would go")
    env = dict(os.environ, EOS_TEST_MARKER=marker)
    # long enough for a process of its own, refused only once it runs (--out is checked after JAX starts)
    done = subprocess.run(
        [sys.executable, "-m", "eos", "sweep", "--lr", "0.0001:0.012:128", "--out", str(taken)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2 and "is a file" in done.stderr
    left = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "environ").read_bytes():
                left.append(int(entry.name))
        except OSError:
            continue
    assert left == []
