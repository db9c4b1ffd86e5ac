"""Where a result came from: library versions, device, precision and git commit."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path


def git_commit() -> str:
    """HEAD of the checkout this package runs from, '+dirty' if it has changes; 'unknown' outside git."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if head.returncode:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions(packages=("jax", "jaxlib", "numpy", "scipy", "optax", "cvxpy")) -> dict:
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def device() -> dict:
    import jax

    devs = jax.devices()
    return {"platform": devs[0].platform, "kind": devs[0].device_kind, "count": len(devs), "host": platform.node()}


def provenance(dtype_name: str, wall_time_s: float) -> dict:
    return {
        "versions": versions(),
        "device": device(),
        "precision": dtype_name,
        "git_commit": git_commit(),
        "wall_time_s": wall_time_s,
    }
