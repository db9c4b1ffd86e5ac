"""What each column of a sweep's summary.csv means: written beside it as columns.csv.

kind: config (set by the sweep), measurement (read off the run), label (a word derived from
measurements by a stated rule), prediction (a formula's value, never a measurement). A model's own
columns (its observables and theory_* predictions) are described by the model (Model.columns). The
sentences are built from the constants of regime.py that they state, when asked for.
"""

from __future__ import annotations

from eos.results.files import column_dictionary

from . import regime
from .regime import percent


def columns() -> dict[str, tuple[str, str, str]]:
    """name: (kind, unit, definition) of every column the sweep itself writes."""
    early = f"the first {regime.EARLY_STEPS} steps"
    held = f"for {percent(regime.STRETCH)} of the run after its first {percent(regime.TRANSIENT)}"
    return {
        "lr": ("config", "—", "step size η"),
        "lr_over_prediction": (
            "config",
            "—",
            "η over the model's predicted η* (Theory.threshold_lr); absent without one",
        ),
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
        "loss_rises": ("measurement", "steps", f"steps after {early} at which the loss rose"),
        "edge_ratio_max": ("measurement", "—", "max over records of sharpness·η/2 (1 = 2/η), the start included"),
        "initial_instability": ("label", "—", f"sharpness·η/2 ≥ 1 at initialisation or within {early}"),
        "late_ratio_max": ("measurement", "—", f"max of sharpness·η/2 after {early}"),
        "edge_ratio": ("measurement", "—", f"the level sharpness·η/2 holds {held}"),
        "edge_held": ("label", "—", f"sharpness·η/2 within {regime.band()} {held}"),
        "edge_share": (
            "measurement",
            "—",
            f"share of the records after the first {percent(regime.TRANSIENT)} within {regime.band()}",
        ),
        "edge_at_end": (
            "label",
            "—",
            f"sharpness·η/2 within {regime.band()} over the last {percent(regime.END)} of the run",
        ),
        "loss_fall_end": (
            "measurement",
            "—",
            f"share of the run's loss decrease that came in its last {percent(regime.END)}",
        ),
        "status": (
            "label",
            "—",
            "ok | diverged | dead | sharpness_unreliable: whether the row's numbers are measurements",
        ),
        "departed": ("label", "—", "the threshold variable left the straight line through the smaller η's values"),
        "regime": ("label", "—", "the run's regime (README: one rule each)"),
    }


def dictionary(names, own: dict | None = None) -> dict[str, list]:
    """Columns of columns.csv for the columns `names`, the model's `own` descriptions beside the sweep's."""
    default = lambda n: ("prediction" if n.startswith("theory_") else "measurement", "—", "the model's own column")
    return column_dictionary(names, {**columns(), **(own or {})}, default)
