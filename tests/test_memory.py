"""The feasibility estimate against the code's own allocations.

A sweep's host memory is measured with tracemalloc (NumPy reports its buffers to it) at two sizes
that differ in one dimension only: members, parameters per member, or records per member. The
estimate must grow at least as much as the measured peak (it is a bound a refusal can rest on) and
at most a few times as much (a refusal must not be groundless). The device side (pool, data) is
estimated from shapes by jax.eval_shape and is not measured here; benchmarks/memory.py sets whole
processes' peak resident sets against the estimate for every command.
"""

import tempfile
import tracemalloc

import numpy as np
import pytest

from eos.dynamics import ModelSpec, SweepConfig, run_sweep
from eos.dynamics.config import EngineConfig
from eos.dynamics.sweep import footprint

LOOSE = 5.0  # the estimate may exceed the measured growth by at most this factor


def config(count, seeds=4, steps=100, stride=0, **spec):
    spec = {"model": "mean", **spec}
    lrs = tuple(np.geomspace(0.05, 1.0, count))
    engine = EngineConfig(stride=stride)
    return SweepConfig(spec=ModelSpec(**spec), lrs=lrs, seeds=seeds, steps=steps, flow=False, engine=engine)


def traced_peak(c) -> int:
    """Peak bytes allocated on the host while the sweep runs and its files are written."""
    tracemalloc.start()
    try:
        result = run_sweep(c)
        with tempfile.TemporaryDirectory() as d:
            result.save(f"{d}/run")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "small,large",
    [
        (config(100), config(400)),  # members
        (config(100, steps=100, stride=1), config(100, steps=1600, stride=1)),  # records per member
        (
            config(100, model="relu", d=20, n=40),
            config(100, model="relu", d=320, n=40),
        ),  # parameters per member
    ],
    ids=["members", "records", "parameters"],
)
def test_the_estimate_bounds_the_measured_host_growth(small, large):
    run_sweep(small)  # compile outside the measurement: the two sizes share their programs
    measured = traced_peak(large) - traced_peak(small)
    estimated = sum(footprint(large).values()) - sum(footprint(small).values())
    assert measured > 0, measured
    assert measured <= estimated <= LOOSE * measured, (measured, estimated, footprint(small), footprint(large))
