"""What each column of a sweep's summary.csv means: written beside it as columns.csv.

kind: config (set by the sweep), measurement (read off the run), label (a word derived from
measurements by a stated rule), prediction (a formula's value, never a measurement).
"""

from __future__ import annotations

from eos.results.files import column_dictionary

# name: (kind, unit, definition)
COLUMNS = {
    "lr": ("config", "—", "step size η"),
    "lr_over_prediction": ("config", "—", "η over the model's predicted η* (Theory.threshold_lr); absent without one"),
    "seed": ("config", "—", "seed: fixes the training data and the initialisation"),
    "round": ("config", "—", "0 for the grid, k for the k-th refinement round"),
    "steps": ("config", "steps", "horizon T: round(time/η), or --steps"),
    "steps_done": ("measurement", "steps", "steps run (fewer than steps once diverged)"),
    "diverged": ("label", "—", "the loss turned non-finite or exploded"),
    "diverged_step": ("measurement", "steps", "the step it diverged at, −1 if it did not"),
    "dead": ("measurement", "—", "every ReLU unit inactive on the training data at the end"),
    "final_loss": ("measurement", "nats", "mean training loss at the last step"),
    "final_sharpness": ("measurement", "loss / parameter²", "largest Hessian eigenvalue at the last record"),
    "max_sharpness": ("measurement", "loss / parameter²", "largest sharpness over the run's records"),
    "initial_sharpness": ("measurement", "loss / parameter²", "sharpness at initialisation (per seed)"),
    "final_threshold": ("measurement", "model's", "the model's threshold variable at the end (b, y, mean b, …)"),
    "edge_ratio_max": ("measurement", "—", "max over records of sharpness·η/2 (1 = 2/η), the start included"),
    "initial_instability": ("label", "—", "sharpness·η/2 ≥ 1 at initialisation or within the first 3 steps"),
    "late_ratio_max": ("measurement", "—", "max of sharpness·η/2 after the first 3 steps"),
    "edge_ratio": ("measurement", "—", "the level sharpness·η/2 holds for 10 % of the run after its first 5 %"),
    "edge_held": ("label", "—", "sharpness·η/2 within 0.85–1.1 for 10 % of the run after its first 5 %"),
    "loss_fall_end": ("measurement", "—", "share of the run's loss decrease that came in its last 10 %"),
    "status": ("label", "—", "ok | diverged | dead | sharpness_unreliable: whether the row's numbers are measurements"),
    "final_bias": ("measurement", "input units", "bias b at the end (mlp: the mean bias)"),
    "test_acc": ("measurement", "fraction", "accuracy on the fresh test set (an output of 0 scores ½)"),
    "active_frac": ("measurement", "fraction", "test inputs that reach at least one active ReLU unit"),
    "neg_bias_frac": ("measurement", "fraction", "mlp: units with a negative bias"),
    "final_x": ("measurement", "—", "product model: x at the end"),
    "final_y": ("measurement", "—", "product model: y at the end"),
    "departed": ("label", "—", "the threshold variable left the straight line through the smaller η's values"),
    "regime": ("label", "—", "the run's regime (README: one rule each)"),
    "theory_mean_model_final_bias": ("prediction", "input units", "the mean model's final b (THEORY.md §1.3)"),
    "theory_final_sharpness": (
        "prediction",
        "loss / parameter²",
        "product model: the final sharpness (THEORY.md §1.4)",
    ),
}


def dictionary(names) -> dict[str, list]:
    """Columns of columns.csv for the columns `names`; a column a user's model adds is its own."""
    own = lambda n: ("prediction" if n.startswith("theory_") else "measurement", "—", "the model's own column")
    return column_dictionary(names, COLUMNS, own)
