"""Faults during a sweep: a full disk, an unwritable directory, a second process, a corrupted
chunk. Each ends with one clear line, the finished chunks kept, and `--resume` finishing the run
with the summary.csv of an undisturbed one, byte for byte. Writes fail by patching the chunk
writer (a full disk is ENOSPC from write, whatever fills it)."""

import errno
from pathlib import Path

import pytest
from helpers import run

import eos.results.chunks as chunks
from eos.results.files import exclusive

SWEEP = ["sweep", "--model", "mean", "--lr", "0.01:0.5:24", "--seeds", "2", "--time", "5", "--chunk", "8"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("ref")
    code, _, err = run([*SWEEP, "--out", "run"], cwd)
    assert code == 0, err
    return (cwd / "run" / "summary.csv").read_bytes()


def failing_writes(monkeypatch, after: int, error: OSError):
    """Let `after` chunk writes through, then fail every one with `error`."""
    real = chunks.write_npz
    calls = []

    def write(path, **arrays):
        calls.append(path)
        if len(calls) > after:
            raise OSError(error.errno, error.strerror, str(path))
        real(path, **arrays)

    monkeypatch.setattr(chunks, "write_npz", write)


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"), OSError(errno.EACCES, "Permission denied")],
    ids=["disk-full", "unwritable"],
)
def test_a_failing_disk_keeps_finished_chunks_and_resume_finishes(reference, tmp_path, monkeypatch, error):
    failing_writes(monkeypatch, 2, error)
    code, _, err = run([*SWEEP, "--out", "run"], tmp_path)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
    assert error.strerror in lines[0] and "2 finished chunks kept" in lines[0] and "--resume run" in lines[0], err
    assert len(list((tmp_path / "run" / "chunks").glob("*.npz"))) == 2
    assert not (tmp_path / "run" / ".lock").exists()
    monkeypatch.undo()
    code, _, err = run(["sweep", "--resume", "run"], tmp_path)
    assert code == 0, err
    assert (tmp_path / "run" / "summary.csv").read_bytes() == reference


def test_a_second_process_is_refused_while_the_first_holds_the_directory(tmp_path, monkeypatch):
    failing_writes(monkeypatch, 1, OSError(errno.ENOSPC, "No space left on device"))
    run([*SWEEP, "--out", "run"], tmp_path)
    monkeypatch.undo()
    with exclusive(tmp_path / "run"):
        code, _, err = run(["sweep", "--resume", "run"], tmp_path)
    assert code == 2 and err.strip().splitlines() == ["error: 'run' is in use by another eos process"], err
    assert len(list((tmp_path / "run" / "chunks").glob("*.npz"))) == 1


@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_a_corrupted_chunk_is_set_aside_and_computed_again(reference, tmp_path, monkeypatch, damage):
    failing_writes(monkeypatch, 2, OSError(errno.ENOSPC, "No space left on device"))
    run([*SWEEP, "--out", "run"], tmp_path)
    monkeypatch.undo()
    chunk = sorted((tmp_path / "run" / "chunks").glob("*.npz"))[0]
    data = chunk.read_bytes()
    chunk.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\0" * 64 + data[64:])
    code, _, err = run(["sweep", "--resume", "run"], tmp_path)
    assert code == 0, err
    assert f"chunk {chunk.stem} on disk could not be read" in err and "Traceback" not in err
    assert (tmp_path / "run" / "summary.csv").read_bytes() == reference
    files = ["columns.csv", "overview.png", "run.json", "summary.csv", "trajectories.npz"]
    assert sorted(p.name for p in Path(tmp_path / "run").iterdir()) == files
