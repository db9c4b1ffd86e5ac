"""Checks that need a GPU (`pytest -m gpu`): the accelerator formulation and pool are what runs
there, they agree with the dense path, and results are bit-for-bit reproducible on the GPU as
they are on a CPU (no atomics in a step: same pool size, same numbers)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from eos.dynamics import SweepConfig, engine, planning, run_sweep
from eos.dynamics.models import ModelSpec, make_model, resolve_impl
from eos.results.chunks import ChunkStore

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(jax.default_backend() != "gpu", reason="needs a GPU")]

SPEC = ModelSpec(d=60, n=120, n_test=200)


def test_auto_runs_the_counted_formulation_in_an_accelerator_pool():
    assert resolve_impl("auto") == "counted"
    assert planning.pool_policy(engine.EngineConfig()) == "accelerator"


def test_counted_path_reproduces_dense_trajectories_in_float64_on_the_gpu():
    with jax.enable_x64(True):
        lrs, seeds, horizons = [0.002, 0.02, 0.08], [0, 1, 0], [400, 200, 120]
        runs = [
            engine.run(
                make_model(ModelSpec(d=40, n=60, n_test=50, impl=impl), jnp.float64),
                lrs,
                seeds,
                horizons,
                dtype=jnp.float64,
                config=engine.EngineConfig(stride=7),
            )
            for impl in ("counted", "dense")
        ]
    for name in ("loss", "threshold", "sharpness"):
        np.testing.assert_allclose(getattr(runs[0], name), getattr(runs[1], name), rtol=1e-9, atol=1e-12)


def test_gpu_summary_is_bit_identical_across_runs_chunks_and_resume(tmp_path):
    cfg = dict(spec=SPEC, lrs=tuple(np.linspace(0.01, 1.0, 48)), seeds=3, time=5.0, refine=1, refine_points=2)
    texts = [
        (run_sweep(SweepConfig(**cfg, chunk=c)).save(tmp_path / f"r{i}") / "summary.csv").read_bytes()
        for i, c in enumerate((1000, 1000, 7))
    ]
    store = ChunkStore(tmp_path / "chunks")
    run_sweep(SweepConfig(**cfg, chunk=16), store=store)
    (tmp_path / "chunks" / f"{store.keys()[1]}.npz").unlink()
    resumed = run_sweep(SweepConfig(**cfg, chunk=16), store=ChunkStore(tmp_path / "chunks"))
    texts.append((resumed.save(tmp_path / "resumed") / "summary.csv").read_bytes())
    assert all(t == texts[0] for t in texts[1:])
