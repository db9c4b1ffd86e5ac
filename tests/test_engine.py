import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from eos.dynamics import engine, planning
from eos.dynamics.models import ModelSpec, make_model

SMALL = ModelSpec(d=12, n=40, n_test=50)


def run(model, lrs, seeds, horizons, **kw):
    cfg = engine.EngineConfig(**kw)
    return engine.run(model, lrs, seeds, horizons, dtype=jnp.float64, config=cfg)


def test_divergent_member_never_changes_the_others():
    m = make_model(ModelSpec(model="product", loss="quadratic", x0=0.5, y0=2.0), jnp.float64)
    stable = [0.05, 0.1, 0.2]
    alone = run(m, stable, [0, 0, 0], [200] * 3, stride=7, max_slots=4)
    mixed = run(m, stable + [3.0], [0] * 4, [200] * 4, stride=7, max_slots=4)
    assert mixed.diverged_step[3] >= 0, "the quadratic control at η·λ ≫ 2 must diverge"
    assert (alone.diverged_step == -1).all() and (mixed.diverged_step[:3] == -1).all()
    np.testing.assert_array_equal(alone.loss, mixed.loss[:3, : alone.loss.shape[1]])
    np.testing.assert_array_equal(alone.observables["final_y"], mixed.observables["final_y"][:3])
    assert np.isfinite(mixed.loss[3][mixed.step[3] >= 0]).all(), "a diverged member freezes at its last finite state"
    assert mixed.steps_done[3] == mixed.diverged_step[3]
    # found when its call is read, while the call after it runs with it frozen and its slot waits: with
    # a queue of members behind (more than the slots), every record and final state is the member's alone
    # (horizon 14: the call queued behind the one it diverged in ends its horizon, so its slot is refilled
    # before the divergence is read, and the member put there must keep it)
    lrs = [3.0, 0.05, 2.5, 0.1, 0.2]
    for horizon in (200, 14):
        queued = run(m, lrs, [0] * 5, [horizon] * 5, stride=7, max_slots=1)
        assert queued.slots < len(lrs) and (queued.diverged_step[[0, 2]] >= 0).all()
        for i, lr in enumerate(lrs):
            alone = run(m, [lr], [0], [horizon], stride=7, max_slots=1)
            for name in ("loss", "threshold", "steps_done", "diverged_step"):
                np.testing.assert_array_equal(getattr(queued, name)[i], getattr(alone, name)[0], err_msg=name)
            for a, b in zip(jax.tree.leaves(queued.final_params), jax.tree.leaves(alone.final_params)):
                np.testing.assert_array_equal(np.asarray(a)[i], np.asarray(b)[0])


def test_pooled_run_equals_each_member_alone():
    m = make_model(SMALL, jnp.float64)
    lrs = np.array([0.02, 0.05, 0.2, 0.5])
    seeds = np.array([0, 1, 0, 1])
    horizons = np.array([40, 17, 9, 30])
    pooled = run(m, lrs, seeds, horizons, stride=3, max_slots=2)
    for i in range(4):
        single = run(m, lrs[i : i + 1], seeds[i : i + 1], horizons[i : i + 1], stride=3, max_slots=1)
        np.testing.assert_allclose(pooled.observables["final_bias"][i], single.observables["final_bias"][0], rtol=1e-12)
        r = single.loss.shape[1]
        np.testing.assert_allclose(pooled.loss[i, :r], single.loss[0], rtol=1e-12)
        np.testing.assert_allclose(pooled.sharpness[i, :r], single.sharpness[0], rtol=1e-9)
        assert pooled.steps_done[i] == horizons[i]


def test_records_land_on_the_stride_and_the_horizon():
    m = make_model(SMALL, jnp.float64)
    tr = run(m, [0.1], [0], [23], stride=5)
    assert tr.step[0][tr.step[0] >= 0].tolist() == [0, 5, 10, 15, 20, 23]


def test_fixed_time_sweep_wastes_under_a_quarter_of_useful_steps():
    m = make_model(ModelSpec(model="mean", d=200), jnp.float32)
    lrs = np.linspace(1e-4, 0.012, 64)
    horizons = np.maximum(1, np.round(10 / lrs)).astype(int)
    tr = engine.run(
        m, np.repeat(lrs, 2), np.tile([0, 1], 64), np.repeat(horizons, 2), config=engine.EngineConfig(stride=25)
    )
    waste = tr.computed_steps / tr.useful_steps - 1
    assert tr.useful_steps == 2 * horizons.sum()
    assert 0 <= waste < 0.25, waste


def test_schedule_simulation_bounds_what_the_engine_computes():
    # The simulation counts whole blocks; the engine shortens a block when every member in the
    # pool needs fewer steps, so it computes at most that, and one slot wastes nothing.
    horizons = np.array([100, 7, 33, 64, 12, 5, 90])
    m = make_model(ModelSpec(model="product"), jnp.float64)
    for slots in (1, 2, 3):
        blocks = planning.schedule_blocks(-(-horizons // 4), slots)
        tr = run(m, np.full(7, 0.01), np.zeros(7, int), horizons, stride=4, max_slots=slots, max_waste=10.0)
        assert horizons.sum() <= tr.computed_steps <= blocks * slots * 4
        assert tr.computed_steps > horizons.sum() or slots == 1
    assert run(m, [0.01, 0.02], [0, 0], [10, 10], stride=4, max_slots=2).computed_steps == 20


def test_dead_network_is_flagged_and_is_not_a_divergence():
    m = make_model(ModelSpec(d=8, n=30), jnp.float64)
    tr = run(m, [0.05, 40.0], [0, 0], [300, 300], stride=10)
    assert not tr.dead[0]
    assert tr.dead[1] and tr.diverged_step[1] == -1
    assert tr.observables["final_bias"][1] < -3


@pytest.mark.parametrize("impl", ["sorted", "counted"])
def test_ranked_relu_paths_reproduce_dense_trajectories_in_float64(impl):
    """Both exact formulations (the CPU's search and scatter, the accelerators' count and one-hot)
    against the O(nd) dense path, over whole trajectories, below and above the transition."""
    lrs, seeds, horizons = [0.002, 0.02, 0.08], [0, 1, 0], [400, 200, 120]
    runs = [
        run(make_model(ModelSpec(d=40, n=60, n_test=50, impl=name), jnp.float64), lrs, seeds, horizons, stride=7)
        for name in (impl, "dense")
    ]
    fast, dense = runs
    for name in ("loss", "threshold", "sharpness"):
        np.testing.assert_allclose(getattr(fast, name), getattr(dense, name), rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(fast.step, dense.step)


def _pool_sizes(sizes, options=None):
    """The paper's network in float32 (n = 300: large enough that XLA's CPU backend would hand its
    reductions to YNNPACK in a pool of 16), the same members run in pools of each size."""
    m = make_model(ModelSpec(n_test=50), jnp.float32)
    lrs = np.linspace(1e-3, 0.012, 32)
    horizons = np.full(32, 4 * 99)  # whole blocks: no waste, so the pool takes the size asked for
    if options is not None:
        engine._programs.cache_clear()
    try:
        return [
            engine.run(m, lrs, np.arange(32) % 3, horizons, config=engine.EngineConfig(stride=99, max_slots=k))
            for k in sizes
        ]
    finally:
        engine._programs.cache_clear()


def _same(a, b) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True) for f in ("loss", "threshold", "sharpness"))


def test_a_members_numbers_do_not_depend_on_the_pool_size():
    outs = _pool_sizes((1, 3, 16, 32))
    assert [o.slots for o in outs] == [1, 3, 16, 32]
    for other in outs[1:]:
        assert _same(outs[0], other)
        np.testing.assert_array_equal(outs[0].observables["final_bias"], other.observables["final_bias"])


def test_without_the_engines_compile_options_the_pool_size_would_show(monkeypatch):
    """What engine.CPU_OPTIONS is for: with XLA's YNNPACK reductions a pool of 16 sums in another order."""
    if not engine.compile_options("cpu"):
        pytest.skip("this XLA has no YNNPACK option to turn off")
    monkeypatch.setattr(engine, "compile_options", lambda platform: {})
    alone, sixteen = _pool_sizes((1, 16), options={})
    if _same(alone, sixteen):
        pytest.skip("this XLA sums alike in every pool size even with YNNPACK")
    assert not _same(alone, sixteen)


def test_the_engines_cpu_programs_are_not_split_over_threads():
    """With one device per core, XLA's splitting of a fusion over threads only hands work between busy
    cores (engine.CPU_OPTIONS): the step program is compiled without it, and a plain compile would split."""
    options = engine.compile_options("cpu")
    if "xla_disable_hlo_passes" not in options:
        pytest.skip("this XLA rejects the engine's compile options")
    m = make_model(ModelSpec(n_test=50), jnp.float32)
    blocks = jax.vmap(engine.member_blocks(m, 20, 99), in_axes=(0, 0, None) + (0,) * 7 + (None, None))
    key = jax.random.key(0)
    train, _ = m.sample(key)
    stack = lambda tree: jax.tree_util.tree_map(lambda a: jnp.stack([a] * 8), tree)
    zeros, rows = jnp.zeros(8, jnp.int32), engine.blocks_per_call(99)
    args = (
        stack(m.init(key, train)),
        stack(train),
        (),
        zeros,
        jnp.full(8, 1e-3, jnp.float32),
        zeros + 10**6,
        jnp.full(8, 1e6, jnp.float32),
        zeros,
        zeros - 1,
        jnp.ones((8, 3), jnp.float32),
        np.zeros(rows, np.int32),
        np.int32(1),
    )
    split = lambda opts: (
        "outer_dimension_partitions" in jax.jit(blocks, compiler_options=opts).lower(*args).compile().as_text()
    )
    assert not split(options)
    without = {k: v for k, v in options.items() if k != "xla_disable_hlo_passes"}
    if len(os.sched_getaffinity(0)) > 1:  # a compile for one CPU never splits: nothing to compare with
        assert split(without)


def test_automatic_stride_bounds_the_records_of_long_horizons():
    for horizons in ([10, 1000], [833, 100_000], [10**9, 10**9], [3, 5 * 10**7]):
        stride = planning.default_stride(np.array(horizons))
        assert stride % 2 == 1 or stride == 1
        assert planning.record_count(horizons, stride).max() <= planning.MAX_RECORDS, (horizons, stride)
    assert planning.default_stride(np.array([833, 100_000])) == 99  # short runs keep the old stride


@pytest.mark.parametrize("impl", ["sorted", "counted"])
def test_accelerator_pool_reads_per_seed_tables_and_matches_the_cpu_pool(impl):
    """The accelerator policy (every member in one pool, data held once per seed and indexed)
    computes what the CPU policy (per-slot copies, waste-bounded pool) computes, in float64."""
    m = make_model(ModelSpec(d=30, n=40, n_test=50, impl=impl), jnp.float64)
    lrs, seeds, horizons = [0.003, 0.01, 0.05, 0.2, 0.5], [0, 1, 2, 0, 1], [300, 120, 60, 25, 9]
    cpu = run(m, lrs, seeds, horizons, stride=5, pool="cpu", max_slots=2)
    acc = run(m, lrs, seeds, horizons, stride=5, pool="accelerator")
    assert acc.slots == 5 and cpu.slots == 2
    for name in ("loss", "threshold", "sharpness"):
        np.testing.assert_allclose(getattr(acc, name), getattr(cpu, name), rtol=1e-11, atol=1e-13, err_msg=name)
    np.testing.assert_array_equal(acc.steps_done, cpu.steps_done)


def test_accelerator_pool_is_capped_by_device_memory():
    m = make_model(SMALL, jnp.float32)
    horizons = np.full(1000, 50)
    cfg = engine.EngineConfig(pool="accelerator", stride=7, memory_mb=0.1, device_memory_fraction=1.0)
    slots = planning.pool_slots(m, horizons, 7, cfg)
    assert 1 <= slots < 1000  # a 100 kB "device" cannot hold a thousand members
    assert planning.pool_slots(m, horizons, 7, engine.EngineConfig(pool="accelerator", stride=7)) == 1000


def test_a_long_block_cut_into_device_calls_gives_the_same_numbers_bit_for_bit(monkeypatch):
    """Signals wait for one device call; cutting a stride into calls must change no number."""
    from eos.dynamics import SweepConfig, run_sweep
    from eos.dynamics.config import EngineConfig
    from eos.dynamics.config import ModelSpec as Spec

    config = SweepConfig(
        spec=Spec(model="mean", d=50), lrs=(0.005, 0.01, 0.02), seeds=2, flow=False, engine=EngineConfig(stride=25)
    )
    whole = run_sweep(config)
    monkeypatch.setattr(engine, "MAX_CALL_STEPS", 4)
    cut = run_sweep(config)
    for name in ("step", "loss", "threshold", "sharpness"):
        np.testing.assert_array_equal(whole.trajectories[name], cut.trajectories[name], err_msg=name)


def test_the_blocks_of_one_device_call_give_what_one_block_a_call_gives(monkeypatch):
    """Between refills the pool runs many blocks in one call; members that diverge or finish inside
    it are recorded up to that block, and every number is the one of a call per block."""
    m = make_model(ModelSpec(model="product", loss="quadratic", x0=0.5, y0=2.0), jnp.float64)
    lrs = np.array([0.05, 0.1, 3.0, 0.2, 2.0, 0.01])
    horizons = np.array([300, 41, 300, 97, 250, 7])
    config = engine.EngineConfig(stride=5, max_slots=3, max_waste=10.0)
    engine._programs.cache_clear()
    monkeypatch.setattr(engine, "CALL_SECONDS", 1e9)  # calls bounded by the refills alone
    many = engine.run(m, lrs, np.zeros(6, int), horizons, dtype=jnp.float64, config=config)
    calls = []
    call = engine._Devices._call
    monkeypatch.setattr(
        engine._Devices, "_call", lambda self, pool, steps: calls.append(len(steps)) or call(self, pool, steps)
    )
    monkeypatch.setattr(engine, "CALL_SECONDS", 0.0)  # a call bounded by time: one block each
    timed = engine.run(m, lrs, np.zeros(6, int), horizons, dtype=jnp.float64, config=config)
    assert set(calls) == {1}
    monkeypatch.setattr(engine, "CALL_SECONDS", 1e9)
    monkeypatch.setattr(engine, "blocks_per_call", lambda stride: 1)
    engine._programs.cache_clear()
    one = engine.run(m, lrs, np.zeros(6, int), horizons, dtype=jnp.float64, config=config)
    engine._programs.cache_clear()
    for name in ("loss", "threshold", "sharpness", "rises"):
        np.testing.assert_array_equal(getattr(timed, name), getattr(one, name), err_msg=name)
    assert (many.diverged_step[[2, 4]] >= 0).all() and (many.diverged_step[[0, 1, 3, 5]] == -1).all()
    for name in ("step", "loss", "threshold", "sharpness", "rises", "steps_done", "diverged_step"):
        np.testing.assert_array_equal(getattr(many, name), getattr(one, name), err_msg=name)
    np.testing.assert_array_equal(many.observables["final_y"], one.observables["final_y"])
    # a diverged member's slot waits for the end of the call after it (one call is queued behind the one
    # running), so it wastes at most what it would have computed had it not diverged
    bound = planning.schedule_blocks(-(-horizons // 5), 3) * 3 * 5
    assert one.computed_steps <= many.computed_steps <= bound


def _same(a: engine.Trajectories, b: engine.Trajectories) -> bool:
    fields = ("step", "loss", "threshold", "sharpness", "rises", "steps_done", "diverged_step")
    return all(np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True) for f in fields)


@pytest.mark.skipif(not __import__("importlib").util.find_spec("flatbuffers"), reason="needs flatbuffers")
def test_a_step_program_traced_in_an_earlier_process_gives_the_same_numbers(tmp_path, monkeypatch):
    from eos.dynamics import traces

    monkeypatch.setattr(traces, "_directory", lambda: tmp_path)
    model = make_model(ModelSpec(d=20, n=40, n_test=50), jnp.float32)
    members = (np.array([0.01, 0.05, 0.2]), np.array([0, 1, 0]), np.array([300, 250, 120]))
    plain = engine.run(model, *members)
    kept = engine.run(model, *members, code="a name for this model's code")  # traced and written
    paths = sorted(tmp_path.glob("*.bin"))
    assert len(paths) == 3  # the step program, the data's and the initialisation's
    traces._loaded.cache_clear()  # as a new process: read back from the files
    read = engine.run(model, *members, code="a name for this model's code")
    assert _same(plain, kept) and _same(plain, read)
    for path in paths:  # a file that cannot be read back is traced again and replaced
        path.write_bytes(b"half a file")
    traces._loaded.cache_clear()
    assert _same(plain, engine.run(model, *members, code="a name for this model's code"))
    assert all(path.stat().st_size > 100 for path in paths)
    other = engine.run(model, *members, code="another model's code")  # another name: other files
    assert _same(plain, other) and len(list(tmp_path.glob("*.bin"))) == 6


def test_a_kept_programs_key_names_its_code_its_arguments_and_its_options():
    from eos.dynamics import traces

    args = (np.zeros((4, 3), np.float32), np.int32(1))
    base = traces.key("code", args, {})
    assert base == traces.key("code", args, {})
    assert base != traces.key("other code", args, {})
    assert base != traces.key("code", (np.zeros((5, 3), np.float32), np.int32(1)), {})
    assert base != traces.key("code", (np.zeros((4, 3), np.float64), np.int32(1)), {})
    assert base != traces.key("code", args, {"an": "option"})


def test_a_progress_report_that_raises_hands_over_every_group_completed_before_it():
    """The report is a signal's safe point: a group whose members have all finished is handed over
    before the exception leaves the engine, even though its final measurements were still in flight."""
    model = make_model(ModelSpec(d=20, n=40, n_test=50), jnp.float32)
    lrs, seeds, horizons = np.array([0.01, 0.02, 0.03]), np.zeros(3, np.int64), np.array([20, 3000, 3000])
    whole = engine.run(model, lrs, seeds, horizons)
    handed = {}

    class Stop(Exception):
        pass

    def progress(done, total):
        if done >= 3 * 20:  # the first report after the call in which member 0 reached its 20 steps
            raise Stop

    groups, plan = [[0], [1], [2]], planning.plan(model, horizons)._replace(slots=3)  # all three run at once
    with pytest.raises(Stop):
        engine.run(
            model, lrs, seeds, horizons, plan=plan, progress=progress, groups=groups, on_group=handed.__setitem__
        )
    assert list(handed) == [0]
    got = handed[0]
    assert np.array_equal(got.loss, whole.loss[:1], equal_nan=True)
    assert got.observables["final_bias"][0] == whole.observables["final_bias"][0]
