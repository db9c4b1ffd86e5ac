"""Reading a network's weights (LipSDP's `.mat` convention: a list of matrices W_i of shape
(out, in), applied in order with ReLU between them) and checking that the bounds can use them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def load_mat_weights(path) -> list[np.ndarray]:
    """Weights of a LipSDP `.mat` file (key `weights`, a 1×L cell array); ValueError if unusable."""
    from scipy.io import loadmat

    path = Path(path)
    try:
        mat = loadmat(path)
    except Exception as e:  # scipy raises several unrelated types for a file that is not a .mat
        raise ValueError(f"cannot read {str(path)!r} as a MATLAB .mat file: {e}") from None
    if "weights" not in mat:
        found = ", ".join(k for k in mat if not k.startswith("__")) or "nothing"
        raise ValueError(f"{str(path)!r} has no 'weights' entry (found: {found})")
    cells = np.asarray(mat["weights"], dtype=object).ravel()
    try:
        weights = [_real_matrix(w) for w in cells]
    except (ValueError, TypeError) as e:
        raise ValueError(f"{str(path)!r}: 'weights' must be a cell array of real matrices ({e})") from None
    check_weights(weights, str(path))
    return weights


def _real_matrix(w) -> np.ndarray:
    a = np.asarray(w)
    if a.dtype == object or np.iscomplexobj(a) or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"found an entry of type {a.dtype}")
    return a.astype(float)


TINY = 1e-100  # smallest largest-entry of a layer the float64 SVD and solvers handle reliably


def check_weights(weights: Sequence[np.ndarray], name: str = "network") -> None:
    if not weights or any(w.ndim != 2 for w in weights):
        raise ValueError(f"{name}: weights must be a non-empty list of matrices")
    for i, w in enumerate(weights):
        if not w.size:
            raise ValueError(f"{name}: layer {i} is empty (shape {w.shape[0]}×{w.shape[1]})")
        if not np.isfinite(w).all():
            raise ValueError(f"{name}: layer {i} holds {np.sum(~np.isfinite(w))} non-finite values (NaN or Inf)")
        top = float(np.abs(w).max())
        if 0 < top < TINY:  # the SVD and the solvers lose such a layer (subnormal entries, 'did not converge')
            raise ValueError(
                f"{name}: layer {i}'s largest entry is {top:.3g}, below {TINY:g}; rescale it (a ReLU network's "
                f"Lipschitz constant scales with each layer's factor)"
            )
    for i, (w, v) in enumerate(zip(weights, weights[1:])):
        if v.shape[1] != w.shape[0]:
            raise ValueError(
                f"{name}: layer {i + 1} expects {v.shape[1]} inputs, layer {i} gives {w.shape[0]} "
                f"(layers are (out, in), applied in order)"
            )
    # ρ = Lip² and the LMI's entries must stay finite in float64: bound Π‖W_i‖_F² well below overflow.
    log_product = sum(
        2 * math.log10(max(np.linalg.norm(w / max(np.abs(w).max(), 1e-300)), 1e-300))
        + 2 * math.log10(max(np.abs(w).max(), 1e-300))
        for w in weights
    )
    if log_product > 250:
        raise ValueError(
            f"{name}: weights too large: the squared product of layer norms is about 1e{log_product:.0f}, "
            f"past what float64 arithmetic can certify"
        )
