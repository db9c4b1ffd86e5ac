"""What each column of a robustness run's summary.csv means: written beside it as columns.csv.

kind: config, measurement, certificate (a proven bound, rounded outward), label, prediction.
"""

from __future__ import annotations

from eos.results.files import column_dictionary

COLUMNS = {
    "n": ("config", "points", "training points"),
    "d": ("config", "—", "input dimension"),
    "width": ("config", "units", "hidden units k"),
    "params": ("config", "—", "parameter count p = k(d + 2) + 1"),
    "seed": ("config", "—", "seed: fixes data, labels and initialisation"),
    "train_mse": ("measurement", "label²", "training mean squared error of the kept iterate"),
    "noise_level": ("config", "label²", "σ² = E Var(y | x) of the labels"),
    "fits_below_noise": ("label", "—", "train_mse ≤ σ² − ε"),
    "train_steps": ("measurement", "steps", "Adam steps taken"),
    "lip_spectral": ("certificate", "label / input", "upper bound ‖a‖₂‖W‖_op"),
    "lip_path": ("certificate", "label / input", "upper bound Σ_j |a_j| ‖w_j‖ (path norm)"),
    "lip_sdp": ("certificate", "label / input", "upper bound LipSDP-Neuron (NaN where skipped or failed)"),
    "lip_sdp_status": ("label", "—", "LipSDP's outcome"),
    "lip_sdp_time_s": ("measurement", "s", "LipSDP solve time"),
    "lip_lower": ("measurement", "label / input", "best lower bound on the Lipschitz constant (a value f attains)"),
    "lip_lower_method": ("label", "—", "which lower bound won"),
    "lip_upper": ("certificate", "label / input", "least certified upper bound"),
    "lip_upper_method": ("label", "—", "which certificate won"),
    "bracket": ("label", "—", "ok when lip_lower ≤ lip_upper, else what is wrong"),
    "bracket_ratio": ("measurement", "—", "lip_upper / lip_lower"),
    "smoothing_gain": ("measurement", "—", "the smoothness criterion at the first fit over the kept one"),
    "floor": ("measurement", "label / input", "a Lipschitz constant every fit with MSE ≤ σ² − ε must exceed (data)"),
    "in_window": ("label", "—", "n ≤ p ≤ nd and √(nd/p) ≥ floor: inside the law's window"),
    "p_over_nd": ("config", "—", "p/(nd): how far the fit is from the law's regime (small is inside)"),
    "in_regime": ("label", "—", "n ≤ p ≤ 0.035·nd and √(nd/p) ≥ floor: fitted for the exponents and the collapse"),
    "lip_lower_exact": (
        "certificate",
        "label / input",
        "k ≤ d independent units: max over all activation patterns (the constant)",
    ),
    "lip_lower_pattern_search": (
        "measurement",
        "label / input",
        "k ≤ d: the best pattern a bit-flip search reaches (a lower bound)",
    ),
    "law_scale": ("prediction", "label / input", "√(nd/p), the law's scale (up to a constant)"),
    "two_layer_scale": ("prediction", "label / input", "√(n/k), the two-layer law's scale [BLN] (up to a constant)"),
    "certified_bound": ("prediction", "label / input", "Bubeck & Sellke Theorem 3's certified lower bound"),
}


def dictionary(names) -> dict[str, list]:
    """Columns of columns.csv for the columns `names`."""
    return column_dictionary(names, COLUMNS, lambda n: ("measurement", "—", "see README"))
