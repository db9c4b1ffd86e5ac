"""A sweep that survives interruption: the directory protocol of `eos sweep` and `eos figures`.

While a sweep runs (and after an interruption) its directory holds
  sweep.json   its config, written first (the directory appears whole or not at all)
  chunks/      its finished chunks, each kept the moment its last member finishes
and a process working in it holds a lock on it (a second one is refused: InUse).
Once finished, the three result files are written and sweep.json and chunks/ go. Running the
same directory again computes only the chunks it lacks, and ends with the summary.csv of a sweep
that was never interrupted, byte for byte.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path

from eos.results.chunks import ChunkStore
from eos.results.files import exclusive, read_json, write_atomically, write_json

from .registry import source_digest
from .sweep import SweepConfig, SweepResult, load, run_sweep, write_files

STATE = "sweep.json"


def begin(directory, config: SweepConfig) -> None:
    """Create `directory` holding the sweep's config and its model's source digest; OSError if it
    exists or cannot be written."""
    state = {"kind": "sweep", "config": config.to_dict(), "model_source": source_digest(config.spec.model)}
    write_atomically(directory, lambda tmp: write_json(tmp / STATE, state))


def pending_config(directory) -> SweepConfig:
    """The config of the unfinished sweep in `directory`; ValueError (one line) if there is none,
    if its sweep.json is damaged, or if the model's source changed since the sweep started."""
    directory = Path(directory)
    if (directory / "run.json").is_file():
        raise ValueError(f"{str(directory)!r}: that sweep is already complete")
    if not (directory / STATE).is_file():
        raise ValueError(f"{str(directory)!r}: no interrupted sweep there (no {STATE})")
    try:
        state = read_json(directory / STATE)[0]
        config = SweepConfig.from_dict(state["config"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{str(directory / STATE)!r} is damaged ({type(e).__name__}: {e}); start a new run") from None
    if state.get("model_source") != source_digest(config.spec.model):
        raise ValueError(
            f"{str(directory)!r}: the source of model {config.spec.model!r} changed since this sweep started; "
            f"its finished chunks came from the old code: start a new run in another directory"
        )
    return config


def _remove_partials(directory: Path) -> None:
    """Half-written files a killed process left (`.NAME.partial-PID`): under the lock, none is live."""
    for stale in [*directory.glob(".*.partial-*"), *(directory / "chunks").glob(".*.partial-*")]:
        with contextlib.suppress(OSError):
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink()


def kept_chunks(directory) -> int:
    """Finished chunks on disk in `directory`."""
    return len(list((Path(directory) / "chunks").glob("*.npz")))


def run_in(
    directory, config: SweepConfig, progress: Callable | None = None, lead: bool = True, flow_process=None
) -> tuple[SweepResult, list[str]]:
    """Run (or finish) the sweep kept in `directory` (see `begin`): chunks already there are read,
    the others computed and kept as they finish; then the result files are written (by the lead
    process of a multi-host run only). Returns the result and the chunks found unreadable on disk
    (set aside and computed again). `flow_process`: as run_sweep takes it."""
    directory = Path(directory)
    with exclusive(directory) if lead else contextlib.nullcontext():
        if lead:
            _remove_partials(directory)
        store = ChunkStore(directory / "chunks", writable=lead)
        result = run_sweep(config, progress=progress, store=store, flow_process=flow_process)
        if lead:
            write_files(result, directory)
            shutil.rmtree(directory / "chunks", ignore_errors=True)
            (directory / STATE).unlink(missing_ok=True)
            _remove_partials(directory)
    return result, store.discarded


def kept_text(directory) -> str:
    """'N finished chunks', for the line that says what an interruption kept."""
    kept = kept_chunks(directory)
    return f"{kept} finished chunk{'s' * (kept != 1)}"


def finish(directory, config: SweepConfig, progress: Callable | None = None) -> SweepResult:
    """The sweep `config` in `directory`, however far it got: read back if finished, else begun (a
    start cut short before its config was kept is begun again) or continued. ValueError if the
    directory holds another sweep."""
    directory = Path(directory)
    if (directory / "run.json").is_file():
        return load(directory)
    if not (directory / STATE).is_file():
        shutil.rmtree(directory, ignore_errors=True)
        begin(directory, config)
    elif pending_config(directory) != config:
        raise ValueError(f"{str(directory)!r} holds another sweep than this one; start a new run")
    return run_in(directory, config, progress)[0]


def finish_into(directory, name: str, config: SweepConfig, progress: Callable | None = None):
    """(path, result): the sweep `config` run in a hidden pending directory of `directory` (named by
    its fingerprint, so an interrupted one is finished by the same call), then moved to `name` there."""
    from eos.results.paths import fresh

    from .sweep import fingerprint

    pending = Path(directory) / f".{name}-{fingerprint(config)[:16]}"
    result = finish(pending, config, progress)
    path = fresh(Path(directory), name)
    pending.rename(path)
    return path, result
