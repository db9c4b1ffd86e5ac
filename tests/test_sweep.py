import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

from eos.dynamics import SweepConfig, engine, load, run_sweep
from eos.dynamics.models import ModelSpec, make_model


@pytest.fixture(scope="module")
def product_sweep():
    spec = ModelSpec(model="product", loss="logcosh", x0=1.0, y0=5.0)
    lrs = tuple(np.linspace(0.02, 0.2, 10))
    return run_sweep(
        SweepConfig(spec=spec, lrs=lrs, seeds=1, time=30.0, refine=1, refine_points=3, margin=0.02, x64=True)
    )


def test_product_sweep_locates_the_transition_near_its_prediction(product_sweep):
    r = product_sweep
    predicted = r.theory["threshold_lr"]["closed_form"]
    assert math.isclose(predicted, 2 / (25 - 1))
    dep = r.transition["per_seed"][0]["departure"]
    assert dep["status"] == "bracketed"
    assert abs(dep["estimate"] - predicted) <= 0.1 * predicted, (dep, predicted)
    assert (r.summary["round"] == 1).sum() == 3 + 2  # inside the bracket, and one in each neighbouring interval


def test_summary_keeps_predictions_and_measurements_in_separate_columns(product_sweep):
    s = product_sweep.summary
    for col in (
        "lr",
        "seed",
        "steps",
        "diverged",
        "diverged_step",
        "dead",
        "final_loss",
        "final_sharpness",
        "max_sharpness",
        "final_x",
        "final_y",
        "theory_final_sharpness",
    ):
        assert col in s, col
    above = s["lr"] > product_sweep.theory["threshold_lr"]["closed_form"] * 1.15
    assert above.sum() >= 5
    # Above η* the measured final sharpness lands on 2/η − η/(2c) (THEORY.md §1.4) within 1 %.
    np.testing.assert_allclose(s["final_sharpness"][above], s["theory_final_sharpness"][above], rtol=0.01)
    assert (s["final_sharpness"][above] < 2 / s["lr"][above]).all()
    assert not np.array_equal(s["final_sharpness"], s["theory_final_sharpness"])


def test_result_round_trips_through_its_files(product_sweep, tmp_path):
    out = product_sweep.save(tmp_path / "run")
    assert sorted(p.name for p in out.iterdir()) == ["columns.csv", "run.json", "summary.csv", "trajectories.npz"]
    back = load(out)
    assert back.config == product_sweep.config
    for k, v in product_sweep.summary.items():
        np.testing.assert_array_equal(back.summary[k], v, err_msg=k)
    np.testing.assert_array_equal(back.trajectories["sharpness"], product_sweep.trajectories["sharpness"])
    run = json.loads((out / "run.json").read_text())
    for key in ("config", "theory", "transition", "versions", "device", "precision", "git_commit", "wall_time_s"):
        assert key in run, key
    assert run["precision"] == "float64"


def test_saving_twice_into_the_same_directory_refuses(product_sweep, tmp_path):
    product_sweep.save(tmp_path / "run")
    with pytest.raises(FileExistsError):
        product_sweep.save(tmp_path / "run")


def test_float32_sweep_stays_float32():
    r = run_sweep(SweepConfig(spec=ModelSpec(model="mean", d=20), lrs=(0.01, 0.2), seeds=1, steps=50))
    assert r.meta["precision"] == "float32"
    assert r.summary["final_loss"].dtype == np.float32  # computed in float32, kept at its precision
    assert r.summary["lr"].dtype == np.float64  # a config, not a measurement
    assert np.isfinite(r.summary["final_loss"]).all()


@pytest.mark.parametrize("impl,pool", [("auto", "auto"), ("counted", "accelerator")])
def test_summary_csv_is_bit_identical_across_runs_and_chunk_sizes(tmp_path, impl, pool):
    # 96 members: enough for pools of 8 and 32, which XLA compiles into different float32 code.
    # The accelerator formulation and pool are held to the same standard (here on the CPU).
    spec = ModelSpec(d=20, n=200, n_test=100, impl=impl)
    texts = []
    for i, chunk in enumerate((1000, 1000, 64, 7)):
        cfg = SweepConfig(
            spec=spec,
            lrs=tuple(np.linspace(0.01, 1.0, 32)),
            seeds=3,
            time=5.0,
            chunk=chunk,
            refine=1,
            refine_points=2,
            engine=engine.EngineConfig(pool=pool),
        )
        texts.append((run_sweep(cfg).save(tmp_path / f"r{i}") / "summary.csv").read_bytes())
    assert all(t == texts[0] for t in texts[1:])


def test_a_resumed_sweep_recomputes_only_missing_chunks_and_ends_identical(tmp_path):
    from eos.results.chunks import ChunkStore

    cfg = SweepConfig(
        spec=ModelSpec(d=16, n=40, n_test=50),
        lrs=tuple(np.linspace(0.02, 0.5, 6)),
        seeds=2,
        time=3.0,
        chunk=4,
        refine=1,
        refine_points=2,
    )
    store = ChunkStore(tmp_path / "chunks")
    whole = run_sweep(cfg, store=store)
    keys = store.keys()
    assert (
        keys[:3] == ["round0-chunk0000", "round0-chunk0001", "round0-chunk0002"] and whole.meta["resumed_chunks"] == 0
    )
    (tmp_path / "chunks" / f"{keys[1]}.npz").unlink()
    (tmp_path / "chunks" / f"{keys[-1]}.npz").unlink()
    (tmp_path / "chunks" / ".round0-chunk0001.partial-1.npz").write_bytes(b"torn")  # a write cut short
    again = run_sweep(cfg, store=ChunkStore(tmp_path / "chunks"))
    assert again.meta["resumed_chunks"] == len(keys) - 2
    a = (whole.save(tmp_path / "a") / "summary.csv").read_bytes()
    assert a == (again.save(tmp_path / "b") / "summary.csv").read_bytes()
    other = SweepConfig(spec=cfg.spec, lrs=cfg.lrs, seeds=2, time=3.5, chunk=4, refine=1, refine_points=2)
    with pytest.raises(ValueError, match="another configuration"):
        run_sweep(other, store=ChunkStore(tmp_path / "chunks"))


def test_status_column_flags_members_whose_numbers_are_not_measurements():
    from eos.dynamics.sweep import member_status

    m = make_model(ModelSpec(model="product", loss="quadratic", x0=0.5, y0=2.0), jnp.float64)
    tr = engine.run(m, [0.1, 3.0], [0, 0], [200, 200], dtype=jnp.float64, config=engine.EngineConfig(stride=7))
    assert list(member_status(tr)) == ["ok", "diverged"]
    spoiled = tr._replace(sharpness=np.where(np.arange(tr.sharpness.shape[1]) == 2, np.nan, tr.sharpness))
    assert list(member_status(spoiled)) == ["sharpness_unreliable", "diverged"]


def test_float32_overflow_is_flagged_where_float64_is_not():
    """ℓ(xy) = (xy)²/2 from a large start: the loss overflows float32 (x y ≈ 1e20) at once but
    not float64. A float32 run cannot start from an infinite loss (every run would read as
    diverged at step 0, whatever its step size), so it is refused, naming the overflow."""
    from eos.dynamics.sweep import member_status

    spec = ModelSpec(model="product", loss="quadratic", x0=1e10, y0=1e10)
    run = lambda dtype: engine.run(
        make_model(spec, dtype), [1e-30], [0], [20], dtype=dtype, config=engine.EngineConfig(stride=5)
    )
    with pytest.raises(engine.NonFiniteStart, match="loss at initialisation is inf for seed 0.*float64 avoids"):
        run(jnp.float32)
    assert member_status(run(jnp.float64))[0] == "ok"


def test_a_float32_sweep_writes_its_measurements_at_float32_precision(tmp_path):
    """No float32 noise: every measured number of a float32 run is its float32's shortest decimal
    (at most 9 significant digits), it reads back as the same float32, and η/η* sits beside η."""
    import csv

    import eos

    config = SweepConfig(spec=ModelSpec(model="relu", d=20, n=60), lrs=(0.01, 0.03), seeds=1, steps=120)
    result = run_sweep(config)
    out = result.save(tmp_path / "run")
    rows = list(csv.DictReader(open(out / "summary.csv")))
    measured = [c for c in rows[0] if c in ("final_loss", "final_sharpness", "test_acc", "edge_ratio_max")]
    assert len(measured) == 4
    for row in rows:
        for c in measured:
            digits = row[c].lower().split("e")[0].replace("-", "").replace(".", "").lstrip("0")
            assert len(digits) <= 9, (c, row[c])
    spec = json.loads((out / "run.json").read_text())["config"]["spec"]
    assert {"d", "n", "lam", "sigma"} <= set(spec) and not {"x0", "y0", "loss", "width"} & set(spec), spec
    back = eos.load(out)
    assert back.config == config
    for c in measured:
        np.testing.assert_array_equal(back.summary[c], result.summary[c], err_msg=c)
    np.testing.assert_allclose(
        back.frame["lr_over_prediction"], back.frame["lr"] / result.theory["threshold_lr"]["closed_form"]
    )


def test_chunks_of_another_version_of_the_dynamics_code_are_refused_not_merged(tmp_path, monkeypatch):
    """A built-in model's file may be unchanged while the engine that computed its chunks was not (a
    new compile option changes float32 last bits): the chunk fingerprint covers dynamics/ too."""
    from eos.dynamics import sweep
    from eos.dynamics.sweep import ChunkMismatch
    from eos.results.chunks import ChunkStore

    cfg = SweepConfig(spec=ModelSpec(d=16, n=40, n_test=50), lrs=(0.02, 0.1, 0.3, 0.5), seeds=1, time=3.0, chunk=2)
    run_sweep(cfg, store=ChunkStore(tmp_path / "chunks"))
    digest = sweep.dynamics_digest()
    assert len(digest) == 64 and digest == sweep.dynamics_digest()
    monkeypatch.setattr(sweep, "dynamics_digest", lambda: "another version")
    with pytest.raises(ChunkMismatch, match="another version of the model's source code"):
        run_sweep(cfg, store=ChunkStore(tmp_path / "chunks"))
