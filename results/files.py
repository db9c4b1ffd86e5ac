"""Result files a scientist can open without this package: CSV, JSON, written atomically."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def to_json(x):
    if isinstance(x, dict):
        return {k: to_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_json(v) for v in x]
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def from_json(x):
    if isinstance(x, dict):
        return {k: from_json(v) for k, v in x.items()}
    if isinstance(x, list):
        return [from_json(v) for v in x]
    if x is None:
        return math.nan
    if x in ("inf", "-inf"):
        return float(x)
    return x


def write_csv(path: Path, columns: dict) -> None:
    names = list(columns)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        for row in zip(*(columns[n] for n in names)):
            w.writerow([_csv_cell(v) for v in row])


def _csv_cell(v):
    if isinstance(v, (str, np.str_)):
        return str(v)
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (np.integer, int)):
        return int(v)
    return repr(float(v))


def read_csv(path: Path) -> dict:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    names, body = rows[0], rows[1:]
    out = {}
    for j, name in enumerate(names):
        cells = [r[j] for r in body]
        if all(c in ("true", "false") for c in cells):
            out[name] = np.array([c == "true" for c in cells])
        else:
            for kind in (np.int64, np.float64):
                try:
                    out[name] = np.array([kind(c) for c in cells], dtype=kind)
                    break
                except ValueError:
                    continue
            else:
                out[name] = np.array(cells)
    return out


def write_atomically(path, write: Callable[[Path], None]) -> Path:
    """Build the directory beside its target and rename it into place: never a half-written result."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(f"output directory {str(path)!r} exists and is not empty")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write(tmp)
        if path.exists():
            path.rmdir()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


class InUse(RuntimeError):
    """Another process holds the directory (see `exclusive`)."""


@contextmanager
def exclusive(directory):
    """Hold `directory/.lock` (an advisory flock) while the body runs; InUse if another process
    holds it. Two runs writing chunks and results into one directory would interleave them."""
    import fcntl

    lock = Path(directory) / ".lock"
    handle = open(lock, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise InUse(f"{str(directory)!r} is in use by another eos process") from None
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        handle.close()


def replace_whole(path, write: Callable[[Path], None]) -> None:
    """Write a file beside `path` (hidden, `.partial` in its name) and rename it into place:
    readers and a kill at any moment see the old file or the whole new one."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.partial-{os.getpid()}"
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_npz(path, compress: bool = False, **arrays) -> None:
    with open(path, "wb") as f:  # a file object: np.savez would append .npz to a name
        (np.savez_compressed if compress else np.savez)(f, **arrays)


def write_json(path: Path, obj: dict) -> None:
    """JSON with NaN as null and ±inf as strings, so any JSON reader can open it."""
    Path(path).write_text(json.dumps(to_json(obj), indent=2) + "\n")


def read_json(path: Path) -> tuple[dict, dict]:
    """(as stored, with null read back as NaN and "inf" as inf)."""
    raw = json.loads(Path(path).read_text())
    return raw, from_json(raw)
