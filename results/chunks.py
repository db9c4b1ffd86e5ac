"""Finished pieces of a long run, kept on disk so that an interrupted run loses nothing.

A ChunkStore is a directory of `.npz` files, one per finished chunk, each a flat
mapping name -> array. A chunk is written to a temporary name and renamed into place
(os.replace is atomic on POSIX), so a kill at any moment leaves either the whole chunk
or none of it; leftovers of interrupted writes are ignored and swept away. A chunk that
cannot be read back (truncated or corrupted on disk) is set aside as `.corrupt-KEY.npz`,
named in `discarded`, and computed again.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .files import replace_whole, write_npz


class ChunkStore:
    def __init__(self, path, writable: bool = True):
        self.path = Path(path)
        self.writable = writable  # False for the processes of a multi-host run other than the first
        self.discarded: list[str] = []  # chunks found unreadable, to be computed again
        if writable:
            self.path.mkdir(parents=True, exist_ok=True)
            for stale in self.path.glob(".*.partial*"):
                stale.unlink(missing_ok=True)

    def _file(self, key: str) -> Path:
        return self.path / f"{key}.npz"

    def get(self, key: str) -> dict | None:
        """The arrays of chunk `key`, or None if it was never finished."""
        file = self._file(key)
        if not file.exists():
            return None
        try:
            with np.load(file, allow_pickle=False) as z:
                return {name: z[name] for name in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):
            if self.writable:
                file.replace(self.path / f".corrupt-{key}.npz")
            self.discarded.append(key)
            return None

    def put(self, key: str, arrays: dict) -> None:
        if not self.writable:
            return
        replace_whole(self._file(key), lambda tmp: write_npz(tmp, **arrays))

    def keys(self) -> list[str]:
        return sorted(p.stem for p in self.path.glob("*.npz") if not p.name.startswith("."))
