"""Exponents of the law of robustness, fitted with errors over their independent unit.

A dataset is one (n, d, seed): its points, labels and initialisations are drawn from their own stream.
Every network trained on a dataset shares its points, and every dataset of a cell (n, d) shares the
cell's own deviation from a power law, so the fits are not independent: the errors here are
cluster-robust (the CR1 sandwich) over cells, or over datasets where a design has too few cells
(`unit`), not the naive OLS ones, which treat every network as a draw of its own (THEORY.md §2.2).

Two forms are fitted side by side on the same rows:
  BS   log Lip = c + α log n + β log d + γ log p   [BS] Theorem 1: (α, β, γ) = (½, ½, −½)
  BLN  log Lip = c + α log n + β log d + κ log k   [BLN]: (α, β, κ) = (½, 0, −½), since p ≈ k·d
Each form's prediction is its closed form's exponents (robustness/theory.py), never a measured number.
"""

from __future__ import annotations

import math

import numpy as np

from . import theory
from .config import REGIME

FORMS = {"BS": ("n", "d", "params"), "BLN": ("n", "d", "width")}
PREDICTION = {"BS": theory.LAW_EXPONENTS, "BLN": theory.TWO_LAYER_EXPONENTS}
AXIS = {"width": "params", "n": "n", "d": "d"}  # the axis a one-axis design varies
SIGNIFICANT = 2.0  # a trend is reported as one when it is this many (clustered) errors from zero


def clusters(summary: dict, by: tuple = ("n", "d", "seed")) -> np.ndarray:
    """The group each row belongs to, as an integer label: its dataset (n, d, seed) or its cell (n, d)."""
    keys = list(zip(*(np.asarray(summary[c]) for c in by)))
    index = {k: i for i, k in enumerate(sorted(set(keys)))}
    return np.array([index[k] for k in keys])


def unit(summary: dict, rows, coefficients: int) -> tuple[str, np.ndarray]:
    """The independent unit the errors count, and each row's label: the cell (n, d) where the design
    has more cells than coefficients, else the dataset (n, d, seed).

    Datasets are independent draws, but the cells of a design are not a random sample: a cell's own
    deviation from a power law is shared by its seeds and changes with the design. Clustering by cell
    counts it, so that another design's exponents fall within the errors (measured: by dataset, a held-out
    design's n exponent sat 2.1 combined errors from the default's)."""
    cells = clusters(summary, ("n", "d"))
    if len(np.unique(cells[rows])) > coefficients:
        return "cell (n, d)", cells
    return "dataset (n, d, seed)", clusters(summary)


def least_squares(columns, target, mask, names, groups) -> dict:
    """log target = c + Σ_i e_i log column_i over the rows in mask: {name: {slope, stderr, naive_stderr,
    points, clusters}}.

    stderr is cluster-robust: V = G/(G−1)·(N−1)/(N−K) · B⁻¹ (Σ_g X_gᵀu_g u_gᵀX_g) B⁻¹, B = XᵀX;
    it needs more clusters than coefficients, and is NaN otherwise (a slope with no honest error).
    """
    mask = np.asarray(mask, bool)
    x = np.stack([np.log(np.asarray(c, float)[mask]) for c in columns], axis=1)
    y = np.log(np.asarray(target, float)[mask])
    g = np.asarray(groups)[mask]
    design = np.column_stack([x, np.ones(len(y))])
    n_rows, n_coef = design.shape
    n_groups = len(np.unique(g))
    empty = {"slope": math.nan, "stderr": math.nan, "naive_stderr": math.nan}
    if n_rows < n_coef or np.linalg.matrix_rank(design) < n_coef:
        return {name: dict(empty, points=int(n_rows), clusters=n_groups) for name in names}
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    u = y - design @ coef
    bread = np.linalg.inv(design.T @ design)
    naive = float(u @ u) / (n_rows - n_coef) * bread if n_rows > n_coef else np.full_like(bread, math.nan)
    if n_groups > n_coef and n_rows > n_coef:
        scores = np.stack([design[g == label].T @ u[g == label] for label in np.unique(g)])
        scale = n_groups / (n_groups - 1) * (n_rows - 1) / (n_rows - n_coef)
        robust = scale * bread @ (scores.T @ scores) @ bread
    else:
        robust = np.full_like(bread, math.nan)
    return {
        name: {
            "slope": float(coef[i]),
            "stderr": math.sqrt(robust[i, i]) if np.isfinite(robust[i, i]) else math.nan,
            "naive_stderr": math.sqrt(naive[i, i]) if np.isfinite(naive[i, i]) else math.nan,
            "points": int(n_rows),
            "clusters": n_groups,
        }
        for i, name in enumerate(names)
    }


def inside(summary: dict) -> np.ndarray:
    """Rows the exponents are fitted on: fits below the noise level, inside the regime, bracket ordered."""
    return (
        np.asarray(summary["fits_below_noise"], bool)
        & np.asarray(summary["in_regime"], bool)
        & (np.asarray(summary["bracket"]) == "ok")
    )


def exponents(vary: str, summary: dict) -> dict:
    """Every exponent the design can measure, with clustered errors, beside its prediction.

    joint: both forms (FORMS) of log Lip (lower and upper) at once; the BS form's are also at the top
    level ("lower", "upper", "law") and the BLN form's under "two_layer". One-axis designs fit the one
    exponent of the axis they vary, and the collapse constant's trend along it ("drift": the exponent of
    Lip lower/√(nd/p), 0 when the law's constant holds), and count the fits outside the regime.
    """
    rows = inside(summary)
    name, groups = unit(summary, rows, 4 if vary == "joint" else 2)
    out: dict = {"regime": REGIME, "rows": int(rows.sum()), "unit": name}
    out["clusters"] = int(len(np.unique(groups[rows])))
    fit = lambda axes, target, mask: least_squares([summary[a] for a in axes], target, mask, axes, groups)
    if vary == "joint":
        out["axis"] = "joint"
        for form, axes in FORMS.items():
            part = {kind: fit(axes, summary[f"lip_{kind}"], rows) for kind in ("lower", "upper")}
            part["law"] = dict(PREDICTION[form])
            if form == "BS":
                out.update(part)
            else:
                out["two_layer"] = part
    else:
        axis = AXIS[vary]
        out["axis"] = axis
        one = lambda target, mask: fit((axis,), target, mask)[axis]
        for kind in ("lower", "upper"):
            out[kind] = one(summary[f"lip_{kind}"], rows)
        out["law"] = theory.LAW_EXPONENTS[axis]
        out["drift"] = one(np.asarray(summary["lip_lower"], float) / np.asarray(summary["law_scale"], float), rows)
        out["outside"] = _outside(summary, axis)
    for kind in ("lower", "upper"):
        ratio = (np.asarray(summary[f"lip_{kind}"], float) / np.asarray(summary["law_scale"], float))[rows]
        out[f"collapse_{kind}"] = (
            {"median": float(np.median(ratio)), "min": float(ratio.min()), "max": float(ratio.max())}
            if len(ratio)
            else {"median": math.nan, "min": math.nan, "max": math.nan}
        )
    return out


def _outside(summary: dict, axis: str) -> dict:
    """The fits below the noise level that lie outside the regime, and where along the axis."""
    fits = np.asarray(summary["fits_below_noise"], bool)
    out = fits & ~np.asarray(summary["in_regime"], bool)
    values = sorted({int(v) for v in np.asarray(summary[axis])[out]})
    return {"fits": int(out.sum()), "of": int(fits.sum()), "values": values}


def significant(entry: dict) -> bool:
    """A slope more than SIGNIFICANT clustered errors from zero (False when it has no honest error)."""
    return bool(np.isfinite(entry["stderr"]) and abs(entry["slope"]) > SIGNIFICANT * entry["stderr"])
