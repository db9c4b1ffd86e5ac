"""`eos sweep` as long runs meet it: killed, interrupted and resumed, sharded over four (forced) CPU
devices or over two processes. Each must end with the summary.csv of one plain run, byte for byte."""

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import command, environment

ROOT = Path(__file__).resolve().parents[1]
SWEEP = [
    "--lr",
    "0.01:1.0:32",
    "--seeds",
    "3",
    "--d",
    "20",
    "--n",
    "200",
    "--n-test",
    "200",
    "--time",
    "30",
    "--chunk",
    "8",
    "--refine",
    "1",
]  # 12 grid chunks, then one of refinement


def finish(cmd, env, timeout=300):
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    start = time.perf_counter()
    finish(command("sweep", *SWEEP, "--out", str(out)), environment())
    return out, time.perf_counter() - start


def chunks(out):
    return list((out / "chunks").glob("*.npz"))


def wait_for_chunks(proc, out, count, timeout=120):
    deadline = time.monotonic() + timeout
    while len(chunks(out)) < count and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)


def test_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_summary(reference, tmp_path):
    ref, _ = reference
    rng = random.Random()
    out = tmp_path / "run"
    moments = []  # (chunks on disk before the kill, extra delay); (0, ·) may land before the sweep starts
    for attempt in range(3):
        started = (out / "sweep.json").exists()
        cmd = command("sweep", "--resume", str(out)) if started else command("sweep", *SWEEP, "--out", str(out))
        proc = subprocess.Popen(cmd, cwd=ROOT, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if attempt == 2:
            assert proc.wait(timeout=300) == 0, f"killed at {moments}"
            assert not (out / "chunks").exists() and not (out / "sweep.json").exists()
            break
        moments.append((len(chunks(out)) + rng.randint(0, 4), round(rng.uniform(0, 0.5), 3)))
        wait_for_chunks(proc, out, moments[-1][0])
        time.sleep(moments[-1][1])
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (out / "run.json").exists():
            break
        assert (out / "sweep.json").exists() or not chunks(out), f"killed at {moments}: chunks but no config"
    assert (out / "summary.csv").read_bytes() == (ref / "summary.csv").read_bytes(), f"killed at {moments}"


@pytest.mark.parametrize("sig,code,word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_stops_cleanly_keeps_finished_chunks_and_says_how_to_resume(reference, tmp_path, sig, code, word):
    ref, _ = reference
    out = tmp_path / "run"
    # A child inherits an ignored SIGINT (background jobs of scripts have one); Ctrl-C's handler back.
    cmd = [
        sys.executable,
        "-c",
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); from eos.cli import main; main()",
        "sweep",
        *SWEEP,
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_chunks(proc, out, 2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the sweep finished before the signal arrived")
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1].startswith(f"{word}: ") and "Traceback" not in err, err
    assert f"eos sweep --resume {out}" in err
    assert chunks(out) and not (out / "run.json").exists() and not (out / ".lock").exists()
    resumed = finish(command("sweep", "--resume", str(out)), environment())
    assert "chunks read from the interrupted run" in resumed.stdout
    assert (out / "summary.csv").read_bytes() == (ref / "summary.csv").read_bytes()


def test_four_devices_give_the_summary_of_one(reference, tmp_path):
    ref, _ = reference
    out = tmp_path / "run"
    env = environment(XLA_FLAGS="--xla_force_host_platform_device_count=4")
    finish(command("sweep", *SWEEP, "--devices", "4", "--out", str(out)), env)
    assert json.loads((out / "run.json").read_text())["engine"]["devices"] == 4
    assert (out / "summary.csv").read_bytes() == (ref / "summary.csv").read_bytes()


@pytest.mark.slow
def test_two_processes_through_jax_distributed_give_the_summary_of_one(reference, tmp_path):
    """Multi-host as a cluster runs it: two processes on this machine, one coordinator."""
    import socket

    ref, _ = reference
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    out = tmp_path / "run"
    procs = [
        subprocess.Popen(
            command("sweep", *SWEEP, "--distributed", "--out", str(out)),
            cwd=ROOT,
            env=environment(JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(i)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    assert json.loads((out / "run.json").read_text())["engine"]["devices"] == 2
    assert (out / "summary.csv").read_bytes() == (ref / "summary.csv").read_bytes()


def test_a_sweep_whose_grid_comes_from_the_prediction_runs_on_every_core(tmp_path):
    # the default grid (0.2x:5x) asks the model for its η* before JAX is set up: the device count must
    # be fixed first, or JAX starts with one CPU device
    import os

    env = environment()
    env.pop("JAX_NUM_CPU_DEVICES", None)
    out = tmp_path / "run"
    finish(
        command(
            "sweep", "--d", "20", "--n", "100", "--n-test", "100", "--time", "2", "--seeds", "1", "--out", str(out)
        ),
        env,
    )
    engine = json.loads((out / "run.json").read_text())["engine"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert engine["devices"] == cores
