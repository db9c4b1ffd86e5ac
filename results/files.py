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

NULLS = "null_values"  # run.json's key: the path of each null and the number it stands for


def to_json(x, notes: dict | None = None, path: str = ""):
    """x as strict JSON data: NaN and ±inf become null, and `notes` (when given) records each one's
    path and what it stands for ("NaN", "+inf", "-inf")."""
    if isinstance(x, dict):
        return {k: to_json(v, notes, f"{path}.{k}" if path else str(k)) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_json(v, notes, f"{path}[{i}]") for i, v in enumerate(x)]
    if isinstance(x, (np.floating, float)):
        x = float(x)
        if math.isfinite(x):
            return x
        if notes is not None:
            notes[path] = "NaN" if math.isnan(x) else ("+inf" if x > 0 else "-inf")
        return None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def from_json(x, notes: dict | None = None, path: str = ""):
    """The inverse of to_json: a null is the number its note names (NaN without a note); the
    string "inf" of older files is read as inf."""
    if isinstance(x, dict):
        return {k: from_json(v, notes, f"{path}.{k}" if path else str(k)) for k, v in x.items() if k != NULLS}
    if isinstance(x, list):
        return [from_json(v, notes, f"{path}[{i}]") for i, v in enumerate(x)]
    if x is None:
        return {"+inf": math.inf, "-inf": -math.inf}.get((notes or {}).get(path), math.nan)
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
    if isinstance(v, np.float32):  # the shortest decimal that reads back as the same float32, not its float64 tail
        return str(v)
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
    """Build the directory beside its target and rename it into place: never a half-written result.
    An empty directory that exists already (a link to one, or `.`) is filled instead, file by file
    with run.json last, so that it stays the directory its holders name."""
    given = path = Path(path)
    if (path.is_symlink() and path.is_dir()) or path.name in ("", ".", ".."):
        path = path.resolve()
    if path.exists() and any(path.iterdir()):
        raise FileExistsError(f"output directory {str(path)!r} exists and is not empty")
    path.parent.mkdir(parents=True, exist_ok=True)
    # built inside an existing target (whose parent may not be writable), else beside it
    tmp = path / f".partial-{os.getpid()}" if path.is_dir() else path.parent / f".{path.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write(tmp)
        if path.exists():  # an empty directory named as the target (perhaps the working one): fill it
            for entry in sorted(tmp.iterdir(), key=lambda e: e.name == "run.json"):  # run.json last
                os.replace(entry, path / entry.name)
            tmp.rmdir()
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return given


class InUse(RuntimeError):
    """Another process holds the directory (see `exclusive`)."""


@contextmanager
def exclusive(directory):
    """Hold an advisory flock on `directory` itself while the body runs; InUse if another process
    holds it. Two runs writing chunks and results into one directory would interleave them. The
    lock is on the directory's own descriptor, not on a file in it, so a process ended at any
    moment leaves nothing behind: the kernel lets go of the lock with the process."""
    import fcntl

    handle = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        raise InUse(f"{str(directory)!r} is in use by another eos process") from None
    try:
        yield
    finally:
        os.close(handle)


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
    """Strict JSON (no NaN or Infinity tokens, no numbers as strings): a non-finite number is null,
    and the key "null_values" maps each null's path to what it stands for ("NaN", "+inf", "-inf")."""
    notes: dict = {}
    data = to_json(obj, notes)
    if notes:
        data[NULLS] = notes
    Path(path).write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


def read_json(path: Path) -> tuple[dict, dict]:
    """(as stored, with each null read back as the number it stands for)."""
    raw = json.loads(Path(path).read_text())
    return raw, from_json(raw, raw.get(NULLS) if isinstance(raw, dict) else None)


def column_dictionary(names, known: dict, default: tuple) -> dict[str, list]:
    """columns.csv's columns (name, kind, unit, definition) for the columns `names`, from `known`
    (name -> (kind, unit, definition)); `default(name)` describes a column it does not list."""
    rows = [(n, *known.get(n, default(n))) for n in names]
    return {key: [r[i] for r in rows] for i, key in enumerate(("name", "kind", "unit", "definition"))}
