"""Run one `eos` command in this process and write where its time went, phase by phase, as JSON.

    python benchmarks/phases.py OUT.json sweep --lr 0.0001:0.012:128 --out DIR

A phase is the wall-clock span of the library calls that make it (several calls of one phase add
up; phases may overlap: the gradient-flow integration runs beside the engine). The functions are
wrapped by name, so the same driver times any checkout of eos that PYTHONPATH puts first (w1_command.py
runs it on an earlier commit too); a phase whose function a checkout lacks is reported as absent.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.abc
import json
import os
import sys
import threading
import time

START = time.perf_counter()

PHASES = {  # phase: (module, attribute) of the calls that make it
    "data and initialisation": [("eos.dynamics.engine", "_sample_seeds")],
    "engine (GD and sharpness)": [("eos.dynamics.engine", "run")],
    "gradient-flow integration": [
        ("eos.dynamics.flow", "peak_sharpness"),
        ("eos.dynamics.flow", "peak_sharpness_apart"),
        ("eos.dynamics.flow_apart", "Apart.result"),
    ],
    "verdict and intervals": [("eos.dynamics.sweep", "_locate")],
    "result files": [("eos.dynamics.resumable", "write_files")],
    "overview figure": [("eos.figures.style", "write_overview"), ("eos.cli", "write_overview")],
}
spans: dict[str, list[tuple[float, float]]] = {name: [] for name in PHASES}
compile_s = [0.0]
lock = threading.Lock()


def _listen(name, seconds, **_):
    if name == "/jax/core/compile/backend_compile_duration" or name.endswith("jaxpr_to_mlir_module_duration"):
        compile_s[0] += seconds


def _wrap(phase: str, fn):
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            with lock:
                spans[phase].append((t0 - START, time.perf_counter() - START))

    return timed


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls `then(module)` once each of `names` has been imported (by whoever imports it)."""

    def __init__(self, names: set, then):
        self.names, self.then = names, then

    def find_spec(self, name, path, target=None):
        if name not in self.names:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                run, then = spec.loader.exec_module, self.then

                def exec_module(module, run=run):
                    run(module)
                    then(module)

                spec.loader.exec_module = exec_module
                return spec
        return None


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    from eos import interrupts, runtime

    # as eos.__main__ starts the command (an earlier checkout may lack a piece: then as it started)
    getattr(interrupts, "install", lambda: None)()
    with getattr(runtime, "loading", contextlib.nullcontext)():
        from eos import cli

    # JAX is loaded where the command loads it (runtime.start), not before: what the command does
    # before JAX (parse, start the flow's process) keeps its place. Start-up ends there.
    started = {"at": None}
    start = runtime.start

    def timed_start(*args, **kwargs):
        lead = start(*args, **kwargs)
        import jax

        jax.monitoring.register_event_duration_secs_listener(_listen)
        started["at"] = started["at"] or time.perf_counter() - START
        return lead

    runtime.start = timed_start
    found = {}

    def wrap(mod) -> None:  # the phases' functions of module `mod`, as it is imported
        for phase, places in PHASES.items():
            for module, attr in places:
                if module != mod.__name__:
                    continue
                *path, name = attr.split(".")  # a function, or a class's method: "Class.method"
                owner = functools.reduce(lambda o, part: getattr(o, part, None), path, mod)
                if owner is not None and hasattr(owner, name):
                    setattr(owner, name, _wrap(phase, getattr(owner, name)))
                    found[phase] = True

    # wrapped when the command imports them, not imported here: importing them first would load
    # JAX, matplotlib and seaborn before the command's own start (0.8 s out of place)
    modules = {module for places in PHASES.values() for module, _ in places}
    sys.meta_path.insert(0, _AfterImport(modules, wrap))
    for name in modules & set(sys.modules):
        wrap(sys.modules[name])
    sys.argv = ["eos", *argv]
    try:
        cli.main()
    except SystemExit:
        pass
    total = time.perf_counter() - START
    phases = {
        name: {"seconds": sum(b - a for a, b in s), "first": min(a for a, _ in s), "last": max(b for _, b in s)}
        for name, s in spans.items()
        if s
    }
    record = {
        "import": started["at"],
        "compile": compile_s[0],
        "total": total,
        "phases": phases,
        "absent": sorted(set(PHASES) - set(found)),
    }
    with open(out, "w") as f:
        json.dump(record, f, indent=1)
    # the command ends so (eos.interrupts.leave): without the interpreter's shutdown, 0.3 s on W1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
