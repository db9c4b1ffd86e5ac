"""`eos`: the command line, a thin layer over the dynamics and robustness libraries.

Every command parses its options into a config (options.py), calls the public API with a progress
clock (clock.py), prints the report (report.py) and writes the result files. Bad input is one
line on stderr and exit code 2, before anything is computed or written (boundary.py).
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from pathlib import Path

import typer

from eos import interrupts, report, runtime
from eos.clock import TooLong, duration, watch

# The configs load without JAX, SciPy or cvxpy: help, --version and bad input answer at once.
from eos.dynamics import flow_apart
from eos.dynamics.config import EngineConfig, ModelSpec, SweepConfig
from eos.figures import NAMES as FIGURE_NAMES
from eos.options import BadInput, bad_input, check_hours, config_options, from_options, integers, parse_range, predicted
from eos.results.paths import check_file, check_out, check_path, default_out
from eos.robustness.config import SOLVERS, RobustnessConfig

# Plain help text: rich markup would turn the ":b:" of "A:B:N" into an emoji and show flags as "<bool>".
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Check theorems of deep-learning theory against simulation.",
    context_settings={"max_content_width": 140, "terminal_width": 140},  # whole command descriptions, uncut
)
OUT = typer.Option(None, metavar="DIR", help="Output directory (default: runs/KIND-TIMESTAMP).")
MAX_HOURS = typer.Option(
    24.0,
    "--max-hours",
    metavar="HOURS",
    help="Refuse a run whose time, projected from its first seconds, exceeds this.",
)


def _print_version(value: bool):
    if value:
        typer.echo(f"eos {runtime.version()}")
        raise typer.Exit()


VERSION = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version)


@app.callback()
def _commands(version: bool = VERSION):
    """Check theorems of deep-learning theory against simulation."""


@app.command()
@config_options(ModelSpec, SweepConfig, EngineConfig)
def sweep(
    ctx: typer.Context,
    lr: str | None = typer.Option(
        None,
        metavar="RANGE",
        help="Step sizes: A:B (64 points), A:B:N, or a,b,c; a value ending in x is a multiple of the model's "
        "predicted η* (0.2x:5x). Default: 0.2x:5x:48, both sides of the prediction.",
    ),
    log: bool = typer.Option(False, "--log", help="Geometric spacing for A:B ranges."),
    out: Path | None = OUT,
    resume: Path | None = typer.Option(
        None,
        metavar="DIR",
        help="Finish the interrupted sweep in this directory, "
        "recomputing only its missing chunks (takes no other sweep option but --devices).",
    ),
    distributed: bool = typer.Option(
        False, "--distributed", help="Multi-host: jax.distributed.initialize() from the environment (see README)."
    ),
    max_hours: float = MAX_HOURS,
    **options,
):
    """Gradient descent over a grid of step sizes and seeds; locate η*, give a verdict, set it beside theory."""
    check_hours(max_hours)
    if not distributed:  # before anything (the default grid's prediction) can start JAX on one device
        runtime.use_every_core()
    with bad_input():
        if resume is not None:
            check_path(resume, "--resume")
        else:  # the cheap checks first: a bad --lr answers before JAX loads
            spec = from_options(ModelSpec, options)
            lrs = None if lr is None else tuple(parse_range(lr, "--lr", log, 64, unit=lambda: predicted(spec)))
            config = from_options(SweepConfig, options, spec=spec, lrs=lrs, engine=from_options(EngineConfig, options))
    # the gradient flow's process starts first: it loads JAX beside this process's start-up (flow_apart)
    with flow_apart.started(None if resume is not None or distributed else config) as flow_process:
        with bad_input():
            lead = runtime.start(distributed)
            if resume is not None:
                config, out = _resumed(ctx, resume, options), resume
            else:
                out = _new_sweep_dir(config, out, distributed, lead)
        imports = runtime.import_beside("scipy.stats", "eos.figures.overview")
        result = _run_sweep(out, config, max_hours, resume is None, lead, imports, flow_process)
    if result is not None:
        resumed = f"; {result.meta['resumed_chunks']} chunks read from the interrupted run" if resume else ""
        files = ["summary.csv", "columns.csv", "trajectories.npz", "run.json"]
        took = f" in {result.meta['wall_time_s']:.1f} s{resumed}"
        _finish(result, out, "overview", report.sweep(result), files, took)


def _resumed(ctx: typer.Context, resume: Path, options: dict) -> SweepConfig:
    """The config of the sweep to finish in `resume`; ValueError for an option it would ignore."""
    from eos.dynamics import resumable
    from eos.dynamics.sweep import check_fits

    def spelled(p):  # a --flag/--no-flag option: the spelling given, read from its value
        return p.secondary_opts[0] if p.secondary_opts and ctx.params.get(p.name) is False else p.opts[0]

    kept = ("resume", "distributed", "devices", "max_hours")
    given = [spelled(p) for p in ctx.command.params if p.name not in kept and _given(ctx, p.name)]
    if given:
        raise ValueError(f"--resume takes its configuration from {str(resume)!r}; drop {given[0]}")
    try:
        config = resumable.pending_config(resume)
    except ValueError as e:
        raise ValueError(f"--resume {e}") from None
    if _given(ctx, "devices"):  # no number depends on it
        config = dataclasses.replace(config, engine=dataclasses.replace(config.engine, devices=options["devices"]))
    check_fits(config)
    return config


def _given(ctx: typer.Context | None, name: str) -> bool:
    return ctx is not None and ctx.get_parameter_source(name).name == "COMMANDLINE"


def _new_sweep_dir(config: SweepConfig, out: Path | None, distributed: bool, lead: bool) -> Path:
    """The new sweep's directory, begun (its config kept in it) by the lead process."""
    from eos.dynamics import resumable
    from eos.dynamics.sweep import check_fits

    if distributed and out is None:
        raise ValueError("--distributed needs --out: a directory every host sees")
    out = out or default_out(f"sweep-{Path(config.spec.model.split(':')[0]).stem}")
    check_fits(config)
    if lead:  # the other hosts would race the first one, which creates it
        check_out(out)
        _begin(resumable.begin, out, config)
    return out


def _begin(begin, out: Path, config) -> None:
    """begin(out, config): the run's directory made, holding its config."""
    try:
        begin(out, config)
    except OSError as e:  # another process took --out since it was checked, or it cannot be written
        raise ValueError(f"--out {str(out)!r}: {e.strerror or e}") from None


def _run_sweep(out: Path, config: SweepConfig, max_hours: float, new: bool, lead: bool, busy=None, flow_process=None):
    """Run the sweep kept in `out`; every way it can stop short said in one line, finished chunks kept."""
    with runtime.loading():
        from eos.dynamics import resumable
        from eos.dynamics.engine import NonFiniteStart
        from eos.dynamics.sweep import ChunkMismatch
        from eos.results.files import InUse
    finish = f"eos sweep --resume {shlex.quote(str(out))}"
    interrupts.say(lambda word: f"{word}: {resumable.kept_text(out)} kept in {out}/chunks; finish with: {finish}")
    try:
        with watch("sweep", max_hours, _note, busy) as progress:
            result, discarded = resumable.run_in(out, config, progress=progress, lead=lead, flow_process=flow_process)
    except (InUse, ChunkMismatch, NonFiniteStart, TooLong) as e:  # found once running: bad input all the same
        kept = resumable.kept_chunks(out)
        if new and not kept and not isinstance(e, InUse | ChunkMismatch):  # nothing finished: nothing left behind
            import shutil

            shutil.rmtree(out, ignore_errors=True)
        if not isinstance(e, TooLong):
            raise BadInput(str(e)) from None
        keep = f"; {kept} finished chunks kept: {finish} --max-hours N" if kept else ""
        advice = "fewer seeds, fewer or larger step sizes, or a shorter --time"
        raise BadInput(f"{_too_long(e, max_hours, 'this sweep')}{advice}{keep}") from None
    except OSError as e:  # a full disk, a directory made unwritable: what is finished stays
        where = f"{resumable.kept_text(out)} kept in {out}/chunks"
        _note(
            f"cannot write {e.filename or out}: {e.strerror or e}; {where}; once fixed, finish with: {finish}", "error"
        )
        raise typer.Exit(1) from None
    for key in discarded:
        aside = f"it was set aside as chunks/.corrupt-{key}.npz and computed again"
        _note(f"chunk {key} on disk could not be read (truncated or corrupted); {aside}")
    return result if lead else None


def _too_long(e: TooLong, max_hours: float, what: str) -> str:
    """The start of the line refusing a run projected past --max-hours; the advice follows it."""
    over = f"over --max-hours {max_hours:g}: raise --max-hours, or use "
    return f"{what} would take about {duration(e.seconds)} ({e.sizes()}), {over}"


def _finish(result, out: Path, figure: str, lines: list[str], files: list[str], tail: str = "", name="overview.png"):
    """The end of every command: the picture beside the files (every file first: a closed stdout loses
    none), the report, and the line saying what was written."""
    from eos.figures.style import write_overview

    interrupts.say(lambda word: f"{word}: the results are written in {out}/")
    unwritten = write_overview(result, out, figure, name)
    for line in lines:
        typer.echo(line)
    _note(unwritten)
    typer.echo(f"wrote {out}/ ({', '.join(files + [name] * (unwritten is None))}){tail}")


def _note(text: str | None, kind: str = "note") -> None:
    if text is not None:
        typer.echo(f"{kind}: {text}", err=True)


@app.command(name="map")
def map_(
    model: str = typer.Option("relu", help="The model every cell runs (built-in name or file.py:make)."),
    d: str | None = typer.Option(None, metavar="LIST", help="Input dimensions, e.g. 35,50,70,100,150."),
    n: str | None = typer.Option(None, metavar="LIST", help="Training samples."),
    lam: str | None = typer.Option(None, metavar="LIST", help="Signal strengths λ."),
    sigma: str | None = typer.Option(None, metavar="LIST", help="Noise levels σ."),
    time_: str | None = typer.Option(None, "--time", metavar="LIST", help="Total times T·η."),
    lr: str = typer.Option(
        "0.2x:5x:48", metavar="RANGE", help="Each cell's grid, in multiples of its own predicted η*: LOx:HIx:N."
    ),
    log: bool = typer.Option(False, "--log", help="Geometric spacing of each cell's grid."),
    seeds: int = typer.Option(3, help="Seeds per cell (the independent unit of every interval)."),
    refine: int = typer.Option(0, help="Refinement rounds around each cell's kink."),
    flow: bool = typer.Option(True, "--flow/--no-flow", help="Integrate gradient flow for its η* prediction."),
    out: Path | None = OUT,
    resume: Path | None = typer.Option(None, metavar="DIR", help="Finish the interrupted map in this directory."),
    max_hours: float = MAX_HOURS,
):
    """Where the theorem holds: a sweep per cell of a product of settings, one verdict per cell, a map.

    With no axis given, the map runs d = 35, 50, 70, 100, 150, 200 at the other defaults."""
    from eos.dynamics import verdict_map
    from eos.dynamics.registry import predicted_lr
    from eos.dynamics.sweep import check_fits
    from eos.options import map_config

    check_hours(max_hours)
    given = {"d": d, "n": n, "lam": lam, "sigma": sigma, "time": time_}
    with bad_input():
        if resume is None:
            config, out = map_config(model, given, lr, log, seeds, refine, flow), out or default_out("map")
            check_out(out)
        else:
            check_path(resume, "--resume")
            config, out = verdict_map.pending(resume), resume
        runtime.start(distributed=False)
        for sweep_config in verdict_map.sweeps(config, predicted_lr):
            check_fits(sweep_config)
        if resume is None:
            _begin(verdict_map.begin, out, config)
    result = _run_map(out, config, max_hours, runtime.import_beside("scipy.stats", "eos.figures.verdict_map"))
    _finish(result, out, "verdict_map", report.verdict_map(result), ["map.csv", "run.json", "cells/"], name="map.png")


def _run_map(out: Path, config, max_hours: float, busy=None):
    """Run (or finish) the map kept in `out`, a line per finished cell on stderr."""
    from eos.dynamics import resumable, verdict_map
    from eos.dynamics.registry import predicted_lr

    finish = f"eos map --resume {shlex.quote(str(out))}"
    kept = lambda: f"{verdict_map.finished_cells(out)} finished cells kept"
    interrupts.say(lambda word: f"{word}: {kept()} in {out}/cells; finish with: {finish}")
    started = time.perf_counter()

    def run_cell(directory: Path, sweep_config):
        with bad_input(), watch(f"map {directory.name}", max_hours, _note, busy) as progress:
            return resumable.finish(directory, sweep_config, progress)

    def on_cell(i, total, values, row):
        spent, left = time.perf_counter() - started, total - i - 1
        ahead = f"; about {duration(spent / (i + 1) * left)} left at the mean cell's time so far" if left else ""
        where = ", ".join(f"{verdict_map.SYMBOLS[k]} = {v:g}" for k, v in values.items())
        typer.echo(f"cell {i + 1}/{total} ({where}): {row['verdict']}{ahead}", err=True)

    try:
        return verdict_map.run_in(out, config, run_cell, predicted_lr, on_cell)
    except TooLong as e:
        raise BadInput(f"{_too_long(e, max_hours, 'a cell')}fewer seeds or cells; {kept()}: {finish}") from None


@app.command()
@config_options(RobustnessConfig)
def robustness(
    widths: str = typer.Option("2:512", metavar="RANGE", help="Widths: A:B (9 log-spaced), A:B:N, or a,b,c."),
    values: str | None = typer.Option(
        None, metavar="RANGE", help="The n or d values for --vary n | d: A:B:N or a,b,c."
    ),
    out: Path | None = OUT,
    design_n: str = typer.Option("250,500,1000", metavar="RANGE", help="--vary joint: the n of the design."),
    design_d: str = typer.Option("200,400,800", metavar="RANGE", help="--vary joint: the d of the design."),
    design_k: str = typer.Option(
        "2,4,8,16,32", metavar="RANGE", help="--vary joint: the widths, each run where p/(nd) ≤ 0.07."
    ),
    max_hours: float = MAX_HOURS,
    ctx: typer.Context = None,
    **options,
):
    """Train two-layer networks of many widths, bracket their Lipschitz constants, set them against the law."""
    check_hours(max_hours)
    with bad_input():
        config = _robustness_config(ctx, widths, values, (design_n, design_d, design_k), options)
    from eos.robustness.experiment import check_fits, run_robustness

    runtime.use_compilation_cache()
    with bad_input():
        check_fits(config)
        out = out or default_out("robustness")
        check_out(out)
    try:
        with watch("robustness", max_hours, _note) as progress:
            result = run_robustness(config, progress=progress)
    except TooLong as e:
        raise BadInput(f"{_too_long(e, max_hours, 'this experiment')}fewer seeds, widths, or smaller n and d") from None
    with interrupts.deferred():  # a few milliseconds: the result directory appears whole
        result.save(out)
    tail = f" in {result.meta['wall_time_s']:.1f} s"
    _finish(result, out, "robustness", report.robustness(result), ["summary.csv", "columns.csv", "run.json"], tail)


def _robustness_config(ctx, widths: str, values: str | None, design: tuple, options: dict) -> RobustnessConfig:
    """The RobustnessConfig of `eos robustness`'s options; ValueError for an option of the other design."""
    config = from_options(
        RobustnessConfig,
        options,
        widths=integers(widths, "--widths", 9),
        values=integers(values, "--values", 5) if values is not None else (),
        **{f"design_{a}": integers(t, f"--design-{a}", 3) for a, t in zip("ndk", design, strict=True)},
    )
    if config.vary == "joint" and any(_given(ctx, name) for name in ("n", "d", "widths")):
        raise ValueError(
            "--n, --d and --widths belong to --vary width | n | d; the joint design takes --design-n, "
            "--design-d and --design-k"
        )
    if config.vary != "joint" and any(_given(ctx, f"design_{a}") for a in "ndk"):
        raise ValueError("--design-n, --design-d and --design-k belong to --vary joint")
    return config


@app.command()
def lipschitz(
    weights: Path = typer.Argument(
        ..., metavar="WEIGHTS", help="A LipSDP .mat file (key 'weights', layers (out, in))."
    ),
    form: str = typer.Option("neuron", metavar="FORM", help="neuron | layer."),
    solver: str = typer.Option("CVXOPT", metavar="SOLVER", help="CVXOPT | CLARABEL | SCS (the others are fallbacks)."),
):
    """LipSDP upper bound on the ℓ2 Lipschitz constant of a saved ReLU network, and the naive product."""
    with bad_input():
        if form not in ("neuron", "layer"):
            raise ValueError(f"unknown --form {form!r} (choose neuron or layer)")
        if solver.upper() not in SOLVERS:
            raise ValueError(f"unknown --solver {solver!r} (choose from {', '.join(SOLVERS)})")
        check_file(weights, "WEIGHTS")
    from eos.memory import require
    from eos.results.rounding import up
    from eos.robustness.upper_bounds import lipsdp, lmi_footprint, spectral_product
    from eos.robustness.weights import load_mat_weights

    with bad_input():
        w = load_mat_weights(weights)
        require(lmi_footprint(w), f"LipSDP of {str(weights)!r}")
    res = lipsdp(w, form, solver=solver.upper(), fallback=[s for s in SOLVERS if s != solver.upper()])
    typer.echo(f"network {' → '.join(str(x) for x in [w[0].shape[1]] + [m.shape[0] for m in w])}")
    name = f"LipSDP-{form.capitalize()}"
    if res.ok:  # upper bounds, printed rounded up: a printed certificate is never below the constant
        typer.echo(
            f"{name} bound: {up(res.bound)} ({res.solver}, {res.solve_time_s:.2f} s, LMI {res.lmi_size}×{res.lmi_size})"
        )
    else:
        typer.echo(f"{name} failed: {res.status} (last solver {res.solver})")
    typer.echo(f"naive product of spectral norms: {up(spectral_product(w))}")
    if not res.ok:
        raise typer.Exit(1) from None


@app.command(
    help="Draw publication figures (PDF, 300-dpi PNG, JSON sidecar), running only what is missing.\n\n"
    f"NAME: the figures to draw: {', '.join(FIGURE_NAMES)}, or all (the default)."
)
def figures(
    # Its help is the command's: an argument's own help line would show a Python type, list[str].
    names: list[str] | None = typer.Argument(None, metavar="NAME", hidden=True),
    out: Path = typer.Option(Path("figures-out"), metavar="DIR", help="Directory for the figures and their runs."),
    quick: bool = typer.Option(False, "--quick", help="Small runs (minutes) instead of the papers' settings."),
    from_: list[Path] | None = typer.Option(
        None, "--from", metavar="DIR", help="Run directories (or folders of them) to reuse: any run of the right kind."
    ),
):
    with bad_input():
        unknown = [n for n in names or [] if n not in FIGURE_NAMES and n != "all"]
        if unknown:
            raise ValueError(f"unknown figure {unknown[0]!r} (choose from {', '.join(FIGURE_NAMES)} or all)")
        chosen = list(FIGURE_NAMES) if not names or "all" in names else list(dict.fromkeys(names))
        for d in from_ or []:
            check_path(d, "--from")
            if not d.is_dir():
                raise ValueError(f"--from {str(d)!r} is not a directory")
        check_out(out, empty=False)  # figures add to a directory: what is there is reused
    from eos.figures import runs
    from eos.memory import require

    with bad_input():
        require(runs.footprint(chosen, quick), f"the runs of {', '.join(chosen)}")
    runtime.use_compilation_cache()
    kept = f"finished runs and sweep chunks are kept under {out / 'runs'}; the same command goes on from them"
    interrupts.say(lambda word: f"{word}: {kept}")
    try:
        for name, written, caption in runs.draw(chosen, quick, out, from_ or [], _compute(out / "runs"), _note):
            typer.echo(f"{name}: {', '.join(str(p) for p in written[:2])} — {caption}")
    except runs.NoRun as e:
        raise BadInput(str(e)) from None


def _compute(runs_dir: Path):
    """compute(name, config) -> (path, result): a figure's missing run, made under runs_dir."""
    from eos.dynamics import resumable
    from eos.dynamics.sweep import SweepConfig
    from eos.results.paths import fresh
    from eos.robustness.experiment import run_robustness

    def compute(name: str, config):
        with watch(name) as progress:
            if isinstance(config, SweepConfig):
                return resumable.finish_into(runs_dir, name, config, progress)
            result, path = run_robustness(config, progress=progress), fresh(runs_dir, name)
            result.save(path)
            return path, result

    return compute


def main() -> None:
    """Entry point: one-line errors with exit code 2, never a traceback for bad input."""
    from eos import boundary

    boundary.run(app)


if __name__ == "__main__":
    main()
