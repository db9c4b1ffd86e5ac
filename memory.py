"""What a run will hold in memory, estimated before it starts, and the memory there is.

A sweep that cannot fit should say so in one line before it computes anything, rather than
be killed by the kernel an hour in. Estimates come from shapes alone (jax.eval_shape: nothing
is allocated), so they hold for any model record, a user's own included.
"""

from __future__ import annotations

import math
import os


def available_bytes() -> int:
    """Memory this process can still take: MemAvailable on Linux, physical memory elsewhere."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 2**62


def tree_bytes(tree) -> int:
    """Bytes of a pytree of arrays or ShapeDtypeStructs."""
    import jax
    import jax.numpy as jnp

    return sum(math.prod(a.shape) * jnp.dtype(a.dtype).itemsize for a in jax.tree_util.tree_leaves(tree))


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} TB"  # pragma: no cover


def require(estimates: dict[str, int], what: str, fraction: float = 0.8) -> None:
    """ValueError naming the largest items if their sum exceeds `fraction` of the free memory."""
    total = sum(estimates.values())
    free = available_bytes()
    if total > fraction * free:
        parts = ", ".join(f"{k} {human(v)}" for k, v in sorted(estimates.items(), key=lambda kv: -kv[1])[:3])
        raise ValueError(
            f"{what} would hold about {human(total)} ({parts}) against {human(free)} of free memory; "
            f"choose smaller sizes"
        )
