"""The gradient-flow prediction (flow.peak_sharpness) in a process of its own, started as soon as a
command knows its sweep: before this process has loaded JAX, if it likes.

Why a process: beside the engine in this one, each of the flow's ~5,000 small device calls waits for
XLA's threads, which the engine keeps busy (measured on W1, 2 cores: the flow took 5.8 s beside the
engine in-process, 1.5 s in a process of its own, with the engine as fast as alone; a CPU device of
its own in this process did not help: 9.2 s for the whole command against 7.4 s). Why early: the
process spends about 1.5 s loading JAX and eos, sampling and compiling before it integrates, and
while this process starts up (imports, tracing: one core) a second core is idle; started with the
command rather than with the engine, W1 took 6.9 s instead of 7.5 s.

This module loads without JAX; the child imports it (`python -m eos.dynamics.flow_apart`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys

from .config import SweepConfig, flow_time, program_code

# A sweep at least this long (member-steps) integrates the flow in a process of its own; shorter
# sweeps keep it in-process: a process costs about a second of start-up.
APART_MIN_STEPS = 200_000


def wanted(config: SweepConfig) -> bool:
    """Whether the sweep's flow is worth a process of its own (see APART_MIN_STEPS)."""
    return config.flow and int(config.horizons(config.lrs).sum()) * config.seeds >= APART_MIN_STEPS


def task(config: SweepConfig) -> dict:
    """What the child computes for `config`: its seeds' flows, from the sweep's model, for its time."""
    spec = dataclasses.asdict(config.spec)
    return _task(spec, config.x64, range(config.seeds), flow_time(config), program_code(config))


def _task(spec: dict, x64: bool, seeds, total_time: float, code: str | None = None) -> dict:
    # the seeds as given (a range for a sweep): listed only when sent, after the sweep's checks, so that
    # a refused --seeds 10¹² is never listed; `code` names the programs' kept traces (flow.peak_sharpness)
    return {"spec": spec, "x64": x64, "seeds": seeds, "time": float(total_time), "code": code}


class Apart:
    """flow.peak_sharpness of one task in a child process pinned to one core (the last this process
    may use), started at construction: it loads its libraries at once, and gets the task (and builds
    the model) when `result` is first called, which waits for the answer. The same numbers as in-process.

    The child has a session of its own, so a Ctrl-C at the terminal reaches this process alone
    (which stops the child); it ends by itself at its next report once this process is gone. Used as
    a context manager, the child is stopped on leaving it, whatever happened meanwhile."""

    def __init__(self, task: dict):
        self.task, self.proc = task, None
        # the flow runs on a CPU (see flow.peak_sharpness), on one core: OpenBLAS's threads would only spin there
        env = dict(os.environ, JAX_PLATFORMS="cpu", OPENBLAS_NUM_THREADS="1")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                text=True,
                start_new_session=True,
            )
        except OSError:  # no interpreter to start
            self.proc = None

    def _send(self) -> None:
        """The task to the child, which has loaded its libraries meanwhile and waits for it: it builds
        nothing before, so a sweep refused by a later check (its memory) never makes the child allocate."""
        if self.proc is not None and not self.proc.stdin.closed:
            seeds = [int(seed) for seed in self.task["seeds"]]
            self.proc.stdin.write(json.dumps({**self.task, "seeds": seeds, "parent": os.getpid()}))
            self.proc.stdin.close()

    @classmethod
    def for_sweep(cls, config: SweepConfig) -> Apart:
        return cls(task(config))

    def result(self, progress=None) -> list[dict] | None:
        """Per seed, what flow.peak_sharpness gives, once the child has finished; `progress(done,
        total)` is called as it reports (an exception it raises stops the child). None where the
        child could not run (eos not importable by a fresh interpreter, a crash): the caller
        integrates in-process instead."""
        if self.proc is None:
            return None
        try:
            self._send()
            answer = None
            for line in self.proc.stdout:
                kind, _, rest = line.partition(" ")
                if kind == "progress" and progress is not None:
                    progress(*map(float, rest.split()))
                elif kind == "result":
                    answer = json.loads(rest)
            return answer if self.proc.wait() == 0 else None
        except OSError:  # a pipe broken by a crash
            return None
        finally:
            self.stop()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Apart:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def started(config: SweepConfig | None):
    """A context holding the flow's process for `config`, started now, where the sweep wants one
    (see wanted); else (or for config None) holding None. The process is stopped on leaving it."""
    return Apart.for_sweep(config) if config is not None and wanted(config) else contextlib.nullcontext()


def peak_sharpness_apart(
    spec: dict, x64: bool, seeds, total_time: float, progress=None, code: str | None = None
) -> list[dict] | None:
    """flow.peak_sharpness(model of `spec`, seeds, total_time, code=code) in a process of its own (see
    Apart); `spec` is the model's ModelSpec as a dict."""
    with Apart(_task(spec, x64, seeds, total_time, code)) as apart:
        return apart.result(progress)


def _child() -> None:
    """The child of Apart: the task from stdin, progress and the result on stdout."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})  # before JAX starts its threads
    from eos import runtime

    with runtime.loading():
        import jax
        import jax.numpy as jnp
        import scipy.integrate  # noqa: F401  (the solver flow.py imports where it integrates: loaded here with the rest)

        from eos.dynamics.config import ModelSpec
        from eos.dynamics.flow import peak_sharpness
        from eos.dynamics.registry import make_model

    given = sys.stdin.read()  # the task comes once the parent's checks passed (Apart._send)
    if not given:  # stopped before it was sent
        return
    task = json.loads(given)

    def report(done, total):
        if os.getppid() != task["parent"]:  # orphaned: nobody reads the answer
            raise SystemExit(1)
        print(f"progress {done} {total}", flush=True)

    runtime.use_compilation_cache()
    with jax.enable_x64(task["x64"]):
        model = make_model(ModelSpec(**task["spec"]), jnp.float64 if task["x64"] else jnp.float32)
        result = peak_sharpness(model, task["seeds"], task["time"], report, task["code"])
    print("result " + json.dumps(result), flush=True)


if __name__ == "__main__":
    _child()
