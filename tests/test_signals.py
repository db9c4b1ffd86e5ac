"""SIGTERM in every command and phase (starting, compiling, integrating, training, solving, drawing):
exit 143 within seconds, the phase's one line last on stderr, never a traceback or a crash; and
at a stride of 10⁵ steps, well within the stride's own time."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "sweep": ["sweep", "--d", "20", "--n", "100", "--lr", "0.01:0.2:8", "--time", "200", "--out", "run"],
    "robustness": ["robustness", "--vary", "width", "--n", "200", "--d", "50", "--widths", "4,64", "--out", "run"],
    "lipschitz": ["lipschitz", str(ROOT / "tests" / "data" / "lipsdp" / "mnist_weights.mat"), "--solver", "SCS"],
    "figures": ["figures", "bracket", "--quick", "--out", "figs"],
}
LIMIT_S = 4.0  # the watcher's grace (1 s) and the line, with room for a loaded machine
# A process past its last act (in os._exit, its memory being freed) cannot answer a signal; it exits
# 0 within milliseconds. One that exits 0 later went on working after the signal: that is a failure.
FINISHING_S = 0.2


READY_TIMEOUT_S = 600  # a busy machine may take minutes to reach a state; the test waits for it, not a clock


def terminate_after(args, moment, cwd, ready=None):
    """(exit code, stderr, seconds from the signal to the exit) of `python -m eos ARGS`, sent SIGTERM
    `moment` seconds after it started (after `ready()` first holds, if given); None if it finished
    first (or was finishing: FINISHING_S)."""
    env = dict(os.environ, EOS_COMPILATION_CACHE="")
    proc = subprocess.Popen(
        [sys.executable, "-m", "eos", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    waited = time.monotonic()
    while ready is not None and not ready() and proc.poll() is None:
        assert time.monotonic() - waited < READY_TIMEOUT_S, "the command never reached the state to signal"
        time.sleep(0.05)
    time.sleep(moment)
    if proc.poll() is not None:
        return None
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    latency = time.monotonic() - sent
    if proc.returncode == 0 and latency < FINISHING_S:
        return None  # it was already leaving (the kernel tearing the process down): finished first
    return proc.returncode, err.decode(), latency


@pytest.mark.parametrize("moment", [0.3, 1.2, 3.0])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_sigterm_in_any_phase_ends_with_its_code_and_line(command, moment, tmp_path):
    outcome = terminate_after(COMMANDS[command], moment, tmp_path)
    if outcome is None:
        pytest.skip(f"{command} finished within {moment} s")
    code, err, latency = outcome
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    assert code == 143, err
    assert lines and lines[-1].startswith("terminated"), err
    assert "Traceback" not in err and "Fatal Python error" not in err, err
    assert latency < LIMIT_S, (latency, err)
    assert not list(tmp_path.rglob(".*.partial-*")) or command == "figures", list(tmp_path.rglob("*"))
    assert not list(tmp_path.rglob(".lock")), list(tmp_path.rglob("*"))  # however the process ended


def test_sigterm_at_a_stride_of_a_hundred_thousand_steps_answers_within_seconds(tmp_path):
    args = ["sweep", "--d", "20", "--n", "100", "--lr", "0.01,0.02", "--steps", "2000000", "--stride", "100001"]
    # signalled once the sweep has started its grid (its directory made, the first device call under way)
    started = lambda: (tmp_path / "run" / "sweep.json").is_file()
    outcome = terminate_after([*args, "--out", "run"], 2.0, tmp_path, ready=started)
    assert outcome is not None, "the sweep finished: its stride was not long enough"
    code, err, latency = outcome
    assert code == 143 and "eos sweep --resume run" in err, err
    assert latency < LIMIT_S, (latency, err)
    assert (tmp_path / "run" / "sweep.json").is_file()  # what was started stays, to be resumed


def test_sigterm_in_a_commands_last_moments_ends_with_its_code_or_a_finished_run(tmp_path):
    """The interpreter's shutdown puts SIGTERM back to its default action, and a signal in the
    last tenths of a second of a finished command used to kill it silently (exit -15)."""
    args = COMMANDS["lipschitz"]
    # timed warm, as the signalled runs are: a first run in a fresh clone compiles, and timed alone it
    # put every signal after the warm runs had finished
    subprocess.run([sys.executable, "-m", "eos", *args], cwd=tmp_path, capture_output=True, check=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "eos", *args], cwd=tmp_path, capture_output=True, check=True)
    whole = time.monotonic() - started
    fractions = (0.5, 0.7, 0.86, 0.9, 0.94, 0.98, 1.02)
    outcomes = [terminate_after(args, whole * fraction, tmp_path) for fraction in fractions]
    assert any(outcomes), "every run finished before its signal: the moments missed the command"
    for outcome in outcomes:
        if outcome is not None:  # else it finished first
            code, err, _ = outcome
            assert code == 143 and err.strip().splitlines()[-1].startswith("terminated"), (code, err)
