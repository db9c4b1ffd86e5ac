"""The process's set-up for a command: the version, the compilation cache, a multi-host start and
quiet libraries. JAX is imported only inside the functions that need it (help stays fast)."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from pathlib import Path


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("eos-theory-sim")
    except PackageNotFoundError:  # run from a checkout without an install
        return "0.1.0 (not installed)"


@contextlib.contextmanager
def loading():
    """Imports without the cyclic garbage collector, their objects then frozen out of its reach.

    A module's objects (functions, classes, constants) live as long as the process; collecting
    while hundreds of thousands of them are created only walks them again and again. Measured on W1
    (eos sweep --lr 0.0001:0.012:128, 2 cores), collection during the imports of JAX, eos, SciPy and
    the picture's libraries took about 0.3 s of the command's 5.5 s. Outside these blocks the collector
    runs as usual, so a long run's own garbage is still collected. Freezing keeps everything alive at
    that moment out of later collections, whatever thread made it (a cycle another thread dropped
    meanwhile is never freed): a cost paid once per block, bounded by what exists then, never one that
    grows with the run."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def use_compilation_cache() -> None:
    """Keep compiled programs on disk: a repeated command skips most of its compile time."""
    import jax

    path = os.environ.get("EOS_COMPILATION_CACHE", str(Path.home() / ".cache" / "eos" / "jax"))
    if path:
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


def use_every_core() -> None:
    """One CPU device per core this process may run on, unless the environment sets the count
    (JAX_NUM_CPU_DEVICES, or XLA_FLAGS' xla_force_host_platform_device_count) or JAX has started.

    The engine splits its pool over the devices, and XLA runs each device's share on its own
    thread: on two cores, 8 relu members on each of two devices take a step in 24 µs where 16 on
    one took 50 µs. A member's numbers do not depend on how the pool is split (engine.CPU_OPTIONS).
    """
    if "JAX_NUM_CPU_DEVICES" in os.environ or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if "jax" not in sys.modules:  # JAX reads the count from the environment as it loads: no import here
        os.environ["JAX_NUM_CPU_DEVICES"] = str(cores)
        return
    import jax

    try:
        jax.config.update("jax_num_cpu_devices", cores)
    except RuntimeError:  # JAX has started (eos called from a running program): keep its devices
        pass


def start(distributed: bool) -> bool:
    """Set up a run's process (the compilation cache, a CPU device per core, a multi-host start);
    whether it leads: in a multi-host run the first process writes and reports."""
    with loading():
        use_compilation_cache()
        if distributed:
            start_distributed()
        else:
            use_every_core()
        import jax

        return jax.process_index() == 0


def start_distributed() -> None:
    """jax.distributed.initialize() with the coordinator from the environment; ValueError naming
    --distributed when it fails.

    JAX_COORDINATOR_ADDRESS (host:port of process 0) is read by JAX itself; JAX_NUM_PROCESSES and
    JAX_PROCESS_ID are passed on when set. Without them JAX detects SLURM, Open MPI and other
    cluster managers.
    """
    import jax

    kw = {
        name: int(os.environ[env])
        for name, env in (("num_processes", "JAX_NUM_PROCESSES"), ("process_id", "JAX_PROCESS_ID"))
        if env in os.environ
    }
    try:
        jax.distributed.initialize(**kw)
    except (ValueError, RuntimeError) as e:
        raise ValueError(f"--distributed: {e}") from None


def quiet_libraries() -> None:
    """The command speaks in its own lines: the libraries' raw warnings (NumPy overflow on a refused
    value, JAX's compilation-cache writes to a read-only cache, matplotlib's cache directory under a
    read-only HOME) would precede or follow them with nothing the user can act on."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    for name in ("jax", "matplotlib", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


def import_beside(*modules: str):
    """A callable that imports `modules` on a thread of its own (once, whenever it is called first), so
    that what a command needs only at its end (the picture's matplotlib and seaborn, 0.8 s; the
    bootstrap's scipy.stats, 0.5 s) loads while its engine runs and waits on the devices. Call it once
    the devices are busy, not before: an import holds the interpreter's lock, and beside the engine's
    tracing (pure Python) it made that tracing 0.6 s slower on W1. An import that fails here fails again
    where the command needs it, with its own message."""
    import importlib
    import threading

    def load():
        with loading():
            for name in modules:
                try:
                    importlib.import_module(name)
                except Exception:  # noqa: BLE001, S112  (said where the module is used)
                    continue

    once = threading.Lock()  # held from the first call on: the thread starts once

    def start() -> None:
        if once.acquire(blocking=False):
            threading.Thread(target=load, name="eos-imports", daemon=True).start()

    return start
