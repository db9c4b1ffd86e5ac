"""The Lipschitz bracket of a two-layer ReLU network: a certified lower bound (lower_bounds.py) and
a certified upper bound (upper_bounds.py), kept as separate numbers, and whether they are ordered.
"""

from __future__ import annotations

import math

import numpy as np

from .lower_bounds import LowerBound, pattern_bound, two_layer_lower_bound
from .upper_bounds import lipsdp_two_layer, path_norm, spectral_product


def two_layer_bracket(p, x_data, rng: np.random.Generator, *, sdp: bool = True, smoothing: float = 20.0, **kw) -> dict:
    """Lipschitz bracket of f(x) = Σ a_j ReLU(w_j·x + b_j) + c: lower and upper as separate numbers.

    Upper is the least of ‖a‖₂‖W‖_op, the path norm and (if `sdp`) LipSDP-Neuron by
    `lipsdp_two_layer`; a LipSDP failure is recorded in `lip_sdp_status` and the bracket falls
    back to the other certificates. `bracket` says whether lower ≤ upper, and if not, why.
    """
    w, a = np.asarray(p.w, float), np.asarray(p.a, float)
    low = two_layer_lower_bound(p, x_data, rng, smoothing=smoothing, **kw)
    starts = np.asarray(x_data) @ w.T + np.asarray(p.b, float) > 0  # the data's own patterns
    patterns = pattern_bound(w, a, starts)
    by_method = {**low.by_method, "exact": math.nan, "pattern_search": math.nan}  # every row, the same columns
    if patterns is not None:
        by_method[patterns[1]] = patterns[0]
    method = max((m for m in by_method if math.isfinite(by_method[m])), key=by_method.get)
    best = by_method[method]
    # exact is the constant itself: another bound above it by rounding only is a tie, and exact names it
    if math.isfinite(by_method["exact"]) and best <= by_method["exact"] * (1 + 1e-9):
        method = "exact"
    low = LowerBound(best, method, by_method)
    uppers = {"spectral": spectral_product([w, a[None, :]]), "path": path_norm(w, a)}
    row = {
        "lip_spectral": uppers["spectral"],
        "lip_path": uppers["path"],
        "lip_sdp": math.nan,
        "lip_sdp_status": "skipped",
        "lip_sdp_time_s": 0.0,
    }
    if sdp:
        res = lipsdp_two_layer(w, a, "neuron")
        row.update(lip_sdp=res.bound, lip_sdp_status=res.status, lip_sdp_time_s=res.solve_time_s)
        if res.ok:
            uppers["lipsdp"] = res.bound
    method = min(uppers, key=uppers.get)
    row.update(
        lip_lower=low.value,
        lip_lower_method=low.method,
        lip_upper=uppers[method],
        lip_upper_method=method,
        **{f"lip_lower_{k}": v for k, v in low.by_method.items()},
    )
    row["bracket"] = bracket_status(low.value, uppers[method], method)
    return row


def bracket_status(lower: float, upper: float, upper_method: str) -> str:
    """ "ok" when lower ≤ upper (to float64 rounding); otherwise what is wrong, in words.

    Both ends are valid bounds, so an unordered bracket means a defect, not a measurement:
    the row says so instead of passing it on as one.
    """
    if not (math.isfinite(lower) and math.isfinite(upper)):
        return f"incomplete: lower {lower:g}, upper {upper:g}"
    if lower <= upper * (1 + 1e-9):
        return "ok"
    return f"unordered: lower {lower:.6g} > upper {upper:.6g} ({upper_method})"
