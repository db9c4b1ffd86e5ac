"""Where a command writes: its default directory, and the checks an --out (or any path given) must
pass before any work starts. Each check raises ValueError naming the option and the reason."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def default_out(kind: str) -> Path:
    return Path("runs") / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"


def fresh(directory: Path, name: str) -> Path:
    """A new run's place in `directory`: `name`, or beside an earlier run of that name, stamped."""
    path = directory / name
    return path if not path.exists() else directory / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def check_path(path: Path, option: str) -> None:
    """ValueError for a path the file system cannot hold: a component longer than its name limit."""
    try:
        limit = os.pathconf(path.anchor or ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for part in path.parts:
        if len(os.fsencode(part)) > limit:
            raise ValueError(f"{option}: the name {part[:20]!r}... is {len(os.fsencode(part))} bytes, over {limit}")


def check_out(out: Path, empty: bool = True) -> None:
    """ValueError, with its reason, for an --out that cannot be the run's directory (or, with
    `empty`, its new one): a file, a dangling link, a path through a file, a full directory."""
    check_path(out, "--out")
    for path in (out, *out.parents):  # the path itself, else the nearest part of it that exists
        if path.is_symlink() and not path.exists():
            raise ValueError(
                f"--out {str(out)!r}: {str(path)!r} is a link to {os.readlink(path)!r}, which does not exist"
            )
        if path.exists():
            if not path.is_dir():
                where = "" if path == out else f": {str(path)!r}"
                raise ValueError(f"--out {str(out)!r}{where} is a file, not a directory")
            try:  # before any work: a directory that cannot be written would lose the whole run at the end
                tempfile.TemporaryDirectory(dir=path, prefix=".eos-probe-").cleanup()
            except OSError as e:
                raise ValueError(f"--out {str(out)!r}: cannot write in {str(path)!r}: {e.strerror or e}") from None
            break
    if empty and out.is_dir() and any(out.iterdir()):
        raise ValueError(f"--out {str(out)!r} exists and is not empty; choose another directory")


def check_file(path: Path, option: str) -> None:
    """ValueError unless `path` is a regular file that can be named."""
    check_path(path, option)
    if not path.is_file():
        what = "a directory" if path.is_dir() else "not a regular file" if path.exists() else "no such file"
        raise ValueError(f"cannot read {str(path)!r}: {what}")
