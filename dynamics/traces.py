"""Traced programs kept on disk, so that a later process compiles (or loads) them without tracing.

JAX's persistent compilation cache skips XLA's compile, but every process still traces and lowers a
program before it can look it up: 0.5–0.7 s for the engine's step program on the relu network (W1),
on the command's critical path. Here the traced program itself is kept (jax.export's serialized
StableHLO, arguments and results flattened to lists of arrays), under a key that names everything
that makes it: the caller's name for the code (a sweep gives the model's spec and the digest of its
sources), the arguments' shapes, dtypes and shardings, the devices, the versions of JAX, jaxlib and
NumPy, and the environment variables that steer them. The program run is the one traced, so its
numbers are those of jax.jit(fn), bit for bit. A file that cannot be read back is ignored and
replaced: it costs a trace, never a wrong program. (Serialized executables would skip the compile
cache's lookup too, but XLA's CPU executables do not run once deserialized that way.)

Files live beside JAX's compilation cache (its directory's `eos-programs/`); without that cache, or
without the `flatbuffers` package that serialization needs, programs are traced as usual.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import pickle
import tempfile
from pathlib import Path

import jax
import numpy as np

FOLDER = "eos-programs"


def _directory() -> Path | None:
    cache = jax.config.jax_compilation_cache_dir
    return Path(cache) / FOLDER if cache else None


def key(name: str, args, options: dict) -> str:
    """The file name of program `name` traced for `args` and compiled with `options` on this JAX."""
    import jaxlib

    leaves, tree = jax.tree_util.tree_flatten(args)
    described = {
        "name": name,
        "tree": str(tree),
        "args": [
            (np.shape(a), str(getattr(a, "dtype", None) or np.result_type(a)), str(getattr(a, "sharding", None)))
            for a in leaves
        ],
        "options": options,
        "devices": [str(d) for d in jax.devices()],
        "versions": [jax.__version__, jaxlib.__version__, np.__version__],
        "x64": bool(jax.config.jax_enable_x64),
        "environment": sorted((k, v) for k, v in os.environ.items() if k.startswith(("JAX_", "XLA_"))),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def traced_once(fn, args, name: str | None, options: dict):
    """A function of arguments shaped like `args` that computes jax.jit(fn, compiler_options=options):
    read from disk where a process traced program `name` for such arguments before, else traced now
    and kept. `name` must change whenever what fn traces could. None where nothing can be kept (no
    name, no cache, no flatbuffers, a read-only cache): the caller runs its own jit of fn."""
    directory = _directory()
    if name is None or directory is None or importlib.util.find_spec("flatbuffers") is None:
        return None
    path, given = directory / f"{key(name, args, options)}.bin", json.dumps(options, sort_keys=True)
    try:
        return _loaded(path, given)
    except Exception:  # noqa: BLE001, S110  (absent, truncated, or from another JAX: trace it)
        pass
    if not os.access(_existing(directory), os.W_OK):  # nothing could be kept: no trace spent on it
        return None
    try:
        _keep(fn, args, path)
        return _loaded(path, given)
    except Exception:  # noqa: BLE001  (no flatbuffers, a read-only cache, a program export cannot take)
        return None


def _existing(path: Path) -> Path:
    """`path`, or the nearest folder above it that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _keep(fn, args, path: Path) -> None:
    """fn traced for `args` (flattened), exported and written to `path` whole or not at all."""
    from jax import export

    leaves, in_tree = jax.tree_util.tree_flatten(args)
    out_tree = []

    def flat(*leaves):
        out, tree = jax.tree_util.tree_flatten(fn(*jax.tree_util.tree_unflatten(in_tree, leaves)))
        out_tree.append(tree)
        return out

    exported = export.export(jax.jit(flat))(*leaves)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as f:
        part = Path(f.name)
        try:
            pickle.dump((exported.serialize(), out_tree[0]), f)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    os.replace(part, path)  # a reader never sees half a file


@functools.lru_cache(maxsize=16)
def _loaded(path: Path, options: str):
    """The program kept at `path` as a function of the unflattened arguments (one per process)."""
    from jax import export

    data, out_tree = pickle.loads(path.read_bytes())
    call = jax.jit(export.deserialize(bytearray(data)).call, compiler_options=json.loads(options))

    def run(*args):
        return jax.tree_util.tree_unflatten(out_tree, call(*jax.tree_util.tree_leaves(args)))

    return run
