"""The verdict of real sweeps, one per class, on small and fast settings (the mean model without its
gradient-flow integration, a small relu network), and the regimes they label along the way."""

import numpy as np
import pytest

from eos.dynamics import SweepConfig, run_sweep
from eos.dynamics.config import ModelSpec

MEAN = ModelSpec(model="mean", d=200)
ETA = 8 * np.pi / 200**2


def sweep(spec, lrs, **kw):
    return run_sweep(SweepConfig(spec=spec, lrs=tuple(lrs), flow=False, **kw))


@pytest.fixture(scope="module")
def sharp():
    return sweep(MEAN, np.linspace(0.2, 5, 40) * ETA, seeds=2)


def test_the_mean_model_across_its_prediction_is_a_sharp_transition_near_it(sharp):
    t = sharp.transition
    assert t["verdict"] == "sharp", t["reason"]
    assert abs(t["estimate"]["value"] / ETA - 1) < 0.1, t["estimate"]
    assert t["sharpness"]["lo"] >= 10


def test_its_runs_are_gradient_flow_below_and_at_the_edge_of_stability_above(sharp):
    s = sharp.summary
    assert set(s["regime"][s["lr"] < 0.85 * ETA]) == {"gradient_flow"}
    at_edge = np.isin(s["regime"][(s["lr"] > 1.3 * ETA) & (s["lr"] < 3 * ETA)], ("edge_of_stability", "eos_transient"))
    assert at_edge.mean() > 0.9
    assert (s["loss_rises"][s["lr"] < 0.85 * ETA] == 0).all()


@pytest.mark.parametrize(
    "lrs, kw, verdict",
    [
        (np.linspace(10, 40, 12) * ETA, {}, "below_grid"),
        (np.linspace(0.05, 0.5, 12) * ETA, {}, "above_grid"),
        (np.array([0.2, 0.7, 1.6, 3.0, 5.0]) * ETA, {}, "too_coarse"),
    ],
)
def test_grids_that_miss_or_cannot_resolve_the_transition_say_so(lrs, kw, verdict):
    t = sweep(MEAN, lrs, seeds=1, **kw).transition
    assert t["verdict"] == verdict, t["reason"]
    if verdict != "too_coarse":
        assert t["verdict"] not in ("sharp", "crossover")


def test_a_small_relu_network_whose_gradient_flow_learns_the_threshold_fails_the_premise():
    """At d = 20 gradient flow alone ends at b ≈ −1.1 σ: whatever the kink, not the phenomenon of [AB]."""
    t = sweep(ModelSpec(d=20, n=200, n_test=400), np.linspace(0.02, 0.2, 40), seeds=2).transition
    assert t["verdict"] == "premise_fails", t["reason"]
    assert t["premise"]["lo"] > 0.5 and t["premise"]["gradient_flow_value"] < -0.5


def test_a_prediction_inside_the_grid_where_nothing_happens_is_no_change(tmp_path):
    """A model whose record predicts η* = 0.5 but whose loss is far too flat ever to reach 2/η there."""
    (tmp_path / "flat.py").write_text(
        "import jax.numpy as jnp\n"
        "from eos.dynamics.model import Model, Theory\n"
        "def make(spec, dtype=jnp.float32):\n"
        "    return Model('flat', lambda key: ((), ()), lambda key, train: jnp.asarray(1.0, dtype),\n"
        "                 lambda w, train: 0.005 * w**2, lambda w: 0 * w, lambda w, test: {},\n"
        "                 lambda w, train: jnp.asarray(False), theory=Theory(threshold_lr=0.5, formula='a guess'))\n"
    )
    t = sweep(ModelSpec(model=f"{tmp_path / 'flat.py'}:make"), np.linspace(0.1, 1.0, 10), seeds=1).transition
    assert t["verdict"] == "no_change", t["reason"]
