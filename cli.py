"""`eos`: a thin command line over the dynamics and robustness libraries.

Every command parses its options into a config, calls the public API, prints a
compact report and writes the result files. Bad input is one line on stderr and
exit code 2, before anything is computed or written.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import shlex
import shutil
import sys
import tempfile
import time
import typing
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import typer

from eos import interrupts, report
from eos.clock import TooLong, duration, time_limit

# The configs load without JAX, SciPy or cvxpy: help, --version and bad input answer at once.
from eos.dynamics.config import EngineConfig, ModelSpec, SweepConfig
from eos.robustness.config import RobustnessConfig

try:  # typer ≥ 0.20 vendors click; older versions depend on it
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover
    from click import exceptions as click_errors

# Plain help text: rich markup would turn the ":b:" of "A:B:N" into an emoji and show flags as "<bool>".
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Check theorems of deep-learning theory against simulation.",
    context_settings={"max_content_width": 140, "terminal_width": 140},  # whole command descriptions, uncut
)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("eos-theory-sim")
    except PackageNotFoundError:  # run from a checkout without an install
        return "0.1.0 (not installed)"


def _print_version(value: bool):
    if value:
        typer.echo(f"eos {version()}")
        raise typer.Exit()


@app.callback()
def _commands(
    show_version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
):
    """Check theorems of deep-learning theory against simulation."""


FIGURE_NAMES = ("threshold", "trajectories", "product", "phase", "robustness", "bracket")  # = figures.catalog


def config_options(*classes):
    """Give a command an option for every field of these config dataclasses that carries a "help"
    in its metadata, with the field's default and type (a callable help is called here): a new
    config field is one edit. The command receives them in **options, keyed by field name."""

    def decorate(command):
        signature = inspect.signature(command)
        params = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        for cls in classes:
            hints = typing.get_type_hints(cls)
            for f in dataclasses.fields(cls):
                if "help" not in f.metadata:
                    continue
                text = f.metadata["help"]() if callable(f.metadata["help"]) else f.metadata["help"]
                flag = "--" + f.metadata.get("cli", f.name).replace("_", "-")
                option = typer.Option(f.default, flag, help=text, metavar=_metavar(hints[f.name]))
                params.append(
                    inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=hints[f.name])
                )
        command.__signature__ = signature.replace(parameters=params)
        return command

    return decorate


def _metavar(annotation) -> str | None:
    """A plain word for an option's value in --help, not a Python type name."""
    kinds = set(typing.get_args(annotation)) or {annotation}
    for word, kind in (("INTEGER", int), ("NUMBER", float), ("TEXT", str)):
        if kind in kinds:
            return word
    return None


def from_options(cls, options: dict, **given):
    """The config `cls` from the options config_options added for it, and the fields `given`."""
    return cls(**{f.name: options[f.name] for f in dataclasses.fields(cls) if "help" in f.metadata}, **given)


class BadInput(ValueError):
    """Raised for input the user must fix; reported as one line with exit code 2."""


MAX_POINTS = 1_000_000  # values in one range: beyond that a grid is a typo, not a sweep
MAX_INTEGER = 2**31 - 1  # an integer option (widths, n, d): the engines count in int32


def _predicted(spec) -> float:
    """The model's predicted η*, the unit of '0.5x'; BadInput for a model without one."""
    from eos.dynamics.sweep import predicted_lr

    eta = predicted_lr(spec)
    if eta is None:
        raise BadInput(f"--lr: model {spec.model!r} predicts no η*, so 'x' (a multiple of it) has no meaning")
    return eta


def parse_range(text: str, name: str, log: bool, default_count: int, integer: bool = False, unit=None) -> np.ndarray:
    """'A:B' (default_count points), 'A:B:N', 'a,b,c' or one number; geometric spacing if log.
    With `unit` (a function giving a number), a value written '0.5x' means 0.5 × unit()."""
    text = text.strip()
    if not text:
        raise BadInput(f"{name} is empty")
    kind = int if integer else float

    def number(s: str):
        scale, written = 1.0, s.strip()
        if unit is not None and written.lower().endswith("x"):
            s, scale = written[:-1], unit()
        try:
            v = kind(s) * scale
        except ValueError:
            wanted = "an integer" if integer else "a number" + (" or a multiple such as 0.5x" if unit else "")
            raise BadInput(f"{name} {text!r}: {written!r} is not {wanted}") from None
        if not math.isfinite(v) or v <= 0:
            raise BadInput(f"{name} {text!r}: {s!r} must be finite and positive")
        if integer and v > MAX_INTEGER:  # before NumPy, which would wrap it to a negative number
            raise BadInput(f"{name} {text!r}: {s!r} is over {MAX_INTEGER:,}")
        return v

    if ":" in text:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise BadInput(f"{name} {text!r}: use A:B or A:B:N")
        lo, hi = number(parts[0]), number(parts[1])
        try:
            count = int(parts[2]) if len(parts) == 3 else default_count
        except ValueError:
            raise BadInput(f"{name} {text!r}: count {parts[2]!r} is not an integer") from None
        if count <= 0:
            raise BadInput(f"{name} {text!r}: count must be positive, got {count}")
        if count > MAX_POINTS:
            raise BadInput(f"{name} {text!r}: {count} points is more than {MAX_POINTS:,}; use fewer")
        if hi < lo or (hi == lo and count > 1):
            raise BadInput(f"{name} {text!r}: range is reversed or empty ({lo} to {hi})")
        values = np.geomspace(lo, hi, count) if log else np.linspace(lo, hi, count)
    else:
        if text.count(",") >= MAX_POINTS:
            raise BadInput(f"{name}: more than {MAX_POINTS:,} values; use fewer")
        values = np.array([number(s) for s in text.split(",")])
        repeated = [v for v in dict.fromkeys(values.tolist()) if values.tolist().count(v) > 1]
        if repeated:  # the same run twice: a typo, and a weight the locator would count twice
            raise BadInput(f"{name} {text!r}: {repeated[0]:g} is given more than once")
    if integer:
        values = np.unique(np.round(values).astype(int))
    return values


@contextmanager
def progress_bar(label: str):
    """A callback (stage, done, total, left) drawing a progress bar on stderr, with the projected
    seconds `left` (clock.time_limit's) where known."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[left]}"),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: float, total: float, left: float | None = None):
            interrupts.check()  # the long loops' safe point for a signal
            text = f"about {duration(left)} left" if left is not None else ""
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"{label} {stage}", total=total, left=text)
            bar.update(tasks[stage], completed=done, total=total, left=text)

        yield update


def default_out(kind: str) -> Path:
    return Path("runs") / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"


@contextmanager
def bad_input():
    """Configs validate themselves with ValueError; while building them that means bad input."""
    try:
        yield
    except ValueError as e:
        raise BadInput(str(e)) from None


def check_hours(max_hours: float) -> None:
    if not (math.isfinite(max_hours) and max_hours > 0):
        raise BadInput(f"--max-hours must be a positive number of hours, got {max_hours!r}")


def check_path(path: Path, option: str) -> None:
    """BadInput for a path the file system cannot hold: a component longer than its name limit."""
    try:
        limit = os.pathconf(path.anchor or ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for part in path.parts:
        if len(os.fsencode(part)) > limit:
            raise BadInput(f"{option}: the name {part[:20]!r}... is {len(os.fsencode(part))} bytes, over {limit}")


def check_out(out: Path, empty: bool = True) -> None:
    """BadInput, with its reason, for an --out that cannot be the run's directory (or, with
    `empty`, its new one): a file, a dangling link, a path through a file, a full directory."""
    check_path(out, "--out")
    for path in (out, *out.parents):  # the path itself, else the nearest part of it that exists
        if path.is_symlink() and not path.exists():
            raise BadInput(
                f"--out {str(out)!r}: {str(path)!r} is a link to {os.readlink(path)!r}, which does not exist"
            )
        if path.exists():
            if not path.is_dir():
                where = "" if path == out else f": {str(path)!r}"
                raise BadInput(f"--out {str(out)!r}{where} is a file, not a directory")
            try:  # before any work: a directory that cannot be written would lose the whole run at the end
                tempfile.TemporaryDirectory(dir=path, prefix=".eos-probe-").cleanup()
            except OSError as e:
                raise BadInput(f"--out {str(out)!r}: cannot write in {str(path)!r}: {e.strerror or e}") from None
            break
    if empty and out.is_dir() and any(out.iterdir()):
        raise BadInput(f"--out {str(out)!r} exists and is not empty; choose another directory")


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
    out: Path | None = typer.Option(
        None, metavar="DIR", help="Output directory (default: runs/sweep-MODEL-TIMESTAMP)."
    ),
    resume: Path | None = typer.Option(
        None,
        metavar="DIR",
        help="Finish the interrupted sweep in this directory, "
        "recomputing only its missing chunks (takes no other sweep option but --devices).",
    ),
    distributed: bool = typer.Option(
        False, "--distributed", help="Multi-host: jax.distributed.initialize() from the environment (see README)."
    ),
    max_hours: float = typer.Option(
        24.0,
        "--max-hours",
        metavar="HOURS",
        help="Refuse a sweep whose time, projected from its rate in its first seconds, exceeds this.",
    ),
    **options,
):
    """Gradient descent over a grid of step sizes and seeds; locate η*, give a verdict, set it beside theory."""
    check_hours(max_hours)
    if resume is not None:
        check_path(resume, "--resume")
    if resume is None:  # the cheap checks first: a bad --lr answers before JAX loads
        with bad_input():
            spec = from_options(ModelSpec, options)
            lrs = None if lr is None else tuple(parse_range(lr, "--lr", log, 64, unit=lambda: _predicted(spec)))
    from eos.dynamics import engine as eng
    from eos.dynamics import resumable
    from eos.dynamics.engine import NonFiniteStart
    from eos.dynamics.sweep import ChunkMismatch, check_fits
    from eos.results.files import InUse

    use_compilation_cache()
    if distributed:
        start_distributed()
    import jax

    lead = jax.process_index() == 0  # in a multi-host run, the first process writes and reports
    with bad_input():
        if resume is not None:
            # a --flag/--no-flag option: the spelling given, read from its value
            spelled = lambda p: (
                p.secondary_opts[0] if p.secondary_opts and ctx.params.get(p.name) is False else p.opts[0]
            )
            given = [
                spelled(p)
                for p in ctx.command.params
                if p.name not in ("resume", "distributed", "devices", "max_hours")
                and ctx.get_parameter_source(p.name).name == "COMMANDLINE"
            ]
            if given:
                raise ValueError(f"--resume takes its configuration from {str(resume)!r}; drop {given[0]}")
            try:
                config = resumable.pending_config(resume)
            except ValueError as e:
                raise ValueError(f"--resume {e}") from None
            if ctx.get_parameter_source("devices").name == "COMMANDLINE":  # numbers do not depend on it
                engine = dataclasses.replace(config.engine, devices=options["devices"])
                config = dataclasses.replace(config, engine=engine)
            out = resume
        else:
            config = from_options(SweepConfig, options, spec=spec, lrs=lrs, engine=from_options(EngineConfig, options))
            if distributed and out is None:
                raise ValueError("--distributed needs --out: a directory every host sees")
            out = out or default_out(f"sweep-{Path(config.spec.model.split(':')[0]).stem}")
            if lead:  # the other hosts would race the first one, which creates it
                check_out(out)
        eng.member_devices(config.engine.devices)
        check_fits(config)
    if resume is None and lead:
        try:
            resumable.begin(out, config)
        except OSError as e:  # another process took --out since it was checked, or it cannot be written
            raise BadInput(f"--out {str(out)!r}: {e.strerror or e}") from None
    interrupts.say(
        lambda word: (
            f"{word}: {_kept(out)} kept in {out}/chunks; finish with: eos sweep --resume {shlex.quote(str(out))}"
        )
    )
    try:
        with progress_bar("sweep") as update:
            result, discarded = resumable.run_in(out, config, progress=time_limit(update, max_hours, _note), lead=lead)
        for key in discarded:
            typer.echo(
                f"note: chunk {key} on disk could not be read (truncated or corrupted); "
                f"it was set aside as chunks/.corrupt-{key}.npz and computed again",
                err=True,
            )
        if not lead:
            return
    except (InUse, ChunkMismatch) as e:
        raise BadInput(str(e)) from None
    except (TooLong, NonFiniteStart) as e:  # found once running: bad input all the same
        kept = resumable.kept_chunks(out)
        if resume is None and not kept:  # nothing finished: leave nothing behind
            shutil.rmtree(out, ignore_errors=True)
        if isinstance(e, NonFiniteStart):
            raise BadInput(str(e)) from None
        kept_text = (
            f"; {kept} finished chunks kept: eos sweep --resume {shlex.quote(str(out))} --max-hours N" if kept else ""
        )
        raise BadInput(
            f"this sweep would take about {duration(e.seconds)} ({e.sizes()}), over --max-hours "
            f"{max_hours:g}: raise --max-hours, or use fewer seeds, fewer or larger step sizes, or a shorter "
            f"--time{kept_text}"
        ) from None
    except OSError as e:  # a full disk, a directory made unwritable: what is finished stays
        typer.echo(
            f"error: cannot write {e.filename or out}: {e.strerror or e}; {_kept(out)} kept in {out}/chunks; "
            f"once fixed, finish with: eos sweep --resume {shlex.quote(str(out))}",
            err=True,
        )
        raise typer.Exit(1) from None
    interrupts.say(lambda word: f"{word}: the results are written in {out}/")
    unwritten = write_overview(result, out, "overview")  # every file first: a closed stdout loses none
    for line in report.sweep(result):
        typer.echo(line)
    _note(unwritten)
    drawn = unwritten is None
    resumed = f"; {result.meta['resumed_chunks']} chunks read from the interrupted run" if resume else ""
    typer.echo(
        f"wrote {out}/ (summary.csv, columns.csv, trajectories.npz, run.json{', overview.png' if drawn else ''}) "
        f"in {result.meta['wall_time_s']:.1f} s" + resumed
    )


MAP_AXES = ("d", "n", "lam", "sigma", "time")


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
    out: Path | None = typer.Option(None, metavar="DIR", help="Output directory (default: runs/map-TIMESTAMP)."),
    resume: Path | None = typer.Option(None, metavar="DIR", help="Finish the interrupted map in this directory."),
    max_hours: float = typer.Option(24.0, "--max-hours", metavar="HOURS", help="Refuse a cell projected past this."),
):
    """Where the theorem holds: a sweep per cell of a product of settings, one verdict per cell, a map.

    With no axis given, the map runs d = 35, 50, 70, 100, 150, 200 at the other defaults."""
    from eos.dynamics import verdict_map

    check_hours(max_hours)
    given = {"d": d, "n": n, "lam": lam, "sigma": sigma, "time": time_}
    with bad_input():
        if resume is not None:
            check_path(resume, "--resume")
            if any(v is not None for v in given.values()):
                raise ValueError(f"--resume takes its configuration from {str(resume)!r}; drop the axes")
            config = verdict_map.pending(resume)
            out = resume
        else:
            config = _map_config(model, given, lr, log, seeds, refine, flow)
            out = out or default_out("map")
            check_out(out)
        sweeps = verdict_map.sweeps(config, _predicted_or_none)
        from eos.dynamics.sweep import check_fits

        for sweep_config in sweeps:
            check_fits(sweep_config)
    use_compilation_cache()
    if resume is None:
        try:
            verdict_map.begin(out, config)
        except OSError as e:
            raise BadInput(f"--out {str(out)!r}: {e.strerror or e}") from None
    interrupts.say(
        lambda word: (
            f"{word}: {verdict_map.finished_cells(out)} finished cells kept in {out}/cells; "
            f"finish with: eos map --resume {shlex.quote(str(out))}"
        )
    )
    started = time.perf_counter()

    def run_cell(directory: Path, sweep_config):
        return _map_cell(directory, sweep_config, max_hours)

    def on_cell(i, total, values, row):
        spent = time.perf_counter() - started
        left = "" if i + 1 == total else f"; about {duration(spent / (i + 1) * (total - i - 1))} left"
        where = ", ".join(f"{verdict_map.SYMBOLS[k]} = {v:g}" for k, v in values.items())
        typer.echo(f"cell {i + 1}/{total} ({where}): {row['verdict']}{left}", err=True)

    try:
        result = verdict_map.run_in(out, config, run_cell, _predicted_or_none, on_cell)
    except TooLong as e:
        raise BadInput(
            f"a cell would take about {duration(e.seconds)} ({e.sizes()}), over --max-hours {max_hours:g}; "
            f"{verdict_map.finished_cells(out)} finished cells kept: eos map --resume {shlex.quote(str(out))}"
        ) from None
    unwritten = write_overview(result, out, "verdict_map", name="map.png")
    for line in report.verdict_map(result):
        typer.echo(line)
    _note(unwritten)
    typer.echo(f"wrote {out}/ (map.csv, run.json{', map.png' if unwritten is None else ''}, cells/)")


def _predicted_or_none(spec):
    from eos.dynamics.config import predicted_lr

    return predicted_lr(spec)


def _map_config(model, given, lr, log, seeds, refine, flow):
    """The MapConfig of `eos map`'s options (ValueError or BadInput, naming the option, for bad ones)."""
    from eos.dynamics.verdict_map import MapConfig

    axes = []
    for name, text in given.items():
        if text is not None:
            integer = name in ("d", "n")
            values = parse_range(text, f"--{name}", False, 5, integer=integer)
            axes.append((name, tuple(int(v) if integer else float(v) for v in values)))
    if not axes:
        axes = [("d", (35, 50, 70, 100, 150, 200))]
    parts = lr.split(":")
    if len(parts) != 3 or not all(p.strip().lower().endswith("x") for p in parts[:2]):
        raise BadInput(f"--lr {lr!r}: a map's grid is relative to each cell's prediction: write LOx:HIx:N (0.2x:5x:48)")
    try:
        grid = (float(parts[0].strip()[:-1]), float(parts[1].strip()[:-1]), int(parts[2]))
    except ValueError:
        raise BadInput(f"--lr {lr!r}: LO and HI must be numbers and N an integer (0.2x:5x:48)") from None
    if grid[2] > MAX_POINTS:
        raise BadInput(f"--lr {lr!r}: {grid[2]} points is more than {MAX_POINTS:,}; use fewer")
    spec = ModelSpec(model=model)
    base = SweepConfig(spec=spec, lrs=(1.0,), seeds=seeds, refine=refine, flow=flow)
    return MapConfig(axes=tuple(axes), base=base, grid=grid, log=log)


def _map_cell(directory: Path, config, max_hours: float):
    """One cell of a map: read back if finished, else run (or finish) it as a resumable sweep."""
    from eos.dynamics import resumable
    from eos.dynamics.sweep import load

    if (directory / "run.json").is_file():
        return load(directory)
    if not (directory / resumable.STATE).is_file():
        resumable.begin(directory, config)
    elif resumable.pending_config(directory) != config:
        raise BadInput(f"{str(directory)!r} holds another sweep than this map's cell; start a new map")
    with progress_bar(f"map {directory.name}") as update:
        result, _ = resumable.run_in(directory, config, progress=time_limit(update, max_hours, _note))
    return result


def _kept(out: Path) -> str:
    from eos.dynamics.resumable import kept_chunks

    kept = kept_chunks(out)
    return f"{kept} finished chunk{'s' * (kept != 1)}"


def _note(text: str | None) -> None:
    if text is not None:
        typer.echo(f"note: {text}", err=True)


def write_overview(result, out: Path, figure: str, name: str = "overview.png") -> str | None:
    """overview.png (or `name`), the picture eos.figures.FIGURE draws of this result, beside the
    result files (written whole); None, or for a figure that cannot be drawn the note saying why
    (never a lost result)."""
    import importlib
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from eos.results.files import replace_whole

    try:
        with warnings.catch_warnings():  # a font's missing glyph is no news a user can act on
            warnings.simplefilter("ignore", UserWarning)
            fig = importlib.import_module(f"eos.figures.{figure}").draw(result)
            replace_whole(Path(out) / name, lambda p: fig.savefig(p, dpi=200, format="png"))
        plt.close(fig)
        return None
    except Exception as e:  # the results are written; a failed picture must not hide them
        from eos.figures import NothingToDraw

        return f"{name} not drawn: {e if isinstance(e, NothingToDraw) else f'{type(e).__name__}: {e}'}"


def start_distributed() -> None:
    """jax.distributed.initialize() with the coordinator from the environment.

    JAX_COORDINATOR_ADDRESS (host:port of process 0) is read by JAX itself; JAX_NUM_PROCESSES and
    JAX_PROCESS_ID are passed on when set. Without them JAX detects SLURM, Open MPI and other
    cluster managers.
    """
    import jax

    kw = {
        name: int(os.environ[env])
        for name, env in (("num_processes", "JAX_NUM_PROCESSES"), ("process_id", "JAX_PROCESS_ID"))
        if env in os.environ
    }
    try:
        jax.distributed.initialize(**kw)
    except (ValueError, RuntimeError) as e:
        raise BadInput(f"--distributed: {e}") from None


@app.command()
@config_options(RobustnessConfig)
def robustness(
    widths: str = typer.Option("2:512", metavar="RANGE", help="Widths: A:B (9 log-spaced), A:B:N, or a,b,c."),
    values: str | None = typer.Option(
        None, metavar="RANGE", help="The n or d values for --vary n | d: A:B:N or a,b,c."
    ),
    out: Path | None = typer.Option(None, metavar="DIR", help="Output directory (default: runs/robustness-TIMESTAMP)."),
    design_n: str = typer.Option("250,500,1000", metavar="RANGE", help="--vary joint: the n of the design."),
    design_d: str = typer.Option("200,400,800", metavar="RANGE", help="--vary joint: the d of the design."),
    design_k: str = typer.Option(
        "2,4,8,16,32", metavar="RANGE", help="--vary joint: the widths, each run where p/(nd) ≤ 0.07."
    ),
    max_hours: float = typer.Option(
        24.0,
        "--max-hours",
        metavar="HOURS",
        help="Refuse an experiment whose time, projected from its rate in its first seconds, exceeds this.",
    ),
    ctx: typer.Context = None,
    **options,
):
    """Train two-layer networks of many widths, bracket their Lipschitz constants, set them against the law."""
    check_hours(max_hours)
    with bad_input():
        ks = parse_range(widths, "--widths", True, 9, integer=True)
        vs = parse_range(values, "--values", True, 5, integer=True) if values is not None else ()
        config = from_options(
            RobustnessConfig,
            options,
            widths=tuple(int(k) for k in ks),
            values=tuple(int(v) for v in vs),
            design_n=tuple(int(v) for v in parse_range(design_n, "--design-n", True, 3, integer=True)),
            design_d=tuple(int(v) for v in parse_range(design_d, "--design-d", True, 3, integer=True)),
            design_k=tuple(int(v) for v in parse_range(design_k, "--design-k", True, 4, integer=True)),
        )
        given = lambda name: ctx is not None and ctx.get_parameter_source(name).name == "COMMANDLINE"
        if config.vary == "joint" and any(given(name) for name in ("n", "d", "widths")):
            raise ValueError(
                "--n, --d and --widths belong to --vary width | n | d; the joint design takes --design-n, "
                "--design-d and --design-k"
            )
        if config.vary != "joint" and any(given(name) for name in ("design_n", "design_d", "design_k")):
            raise ValueError("--design-n, --design-d and --design-k belong to --vary joint")
    from eos.memory import require
    from eos.robustness.experiment import footprint, run_robustness, settings

    use_compilation_cache()
    with bad_input():
        require(
            footprint(config),
            f"this sweep (n up to {max(n for n, _, _ in settings(config))}, "
            f"d up to {max(d for _, d, _ in settings(config))}, widths up to {max(config.widths)})",
        )
        out = out or default_out("robustness")
        check_out(out)
    try:
        with progress_bar("robustness") as update:
            result = run_robustness(config, progress=time_limit(update, max_hours, _note))
    except TooLong as e:
        raise BadInput(
            f"this experiment would take about {duration(e.seconds)} ({e.sizes()}), over --max-hours "
            f"{max_hours:g}: raise --max-hours, or use fewer seeds, widths, or smaller n and d"
        ) from None
    with interrupts.deferred():  # a few milliseconds: the result directory appears whole
        result.save(out)
    interrupts.say(lambda word: f"{word}: the results are written in {out}/")
    unwritten = write_overview(result, out, "robustness")  # every file first: a closed stdout loses none
    for line in report.robustness(result):
        typer.echo(line)
    _note(unwritten)
    drawn = unwritten is None
    typer.echo(
        f"wrote {out}/ (summary.csv, columns.csv, run.json{', overview.png' if drawn else ''}) "
        f"in {result.meta['wall_time_s']:.1f} s"
    )


SOLVERS = ("CVXOPT", "CLARABEL", "SCS")  # = robustness.lipschitz.SOLVERS (a test keeps them equal)


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
        check_path(weights, "WEIGHTS")
        if not weights.is_file():
            what = "a directory" if weights.is_dir() else "not a regular file" if weights.exists() else "no such file"
            raise ValueError(f"cannot read {str(weights)!r}: {what}")
    from eos.memory import require
    from eos.robustness.lipschitz import lipsdp, lmi_footprint, load_mat_weights, spectral_product

    with bad_input():
        w = load_mat_weights(weights)
        require(lmi_footprint(w), f"LipSDP of {str(weights)!r}")
    res = lipsdp(w, form, solver=solver.upper(), fallback=[s for s in SOLVERS if s != solver.upper()])
    sizes = " → ".join(str(x) for x in [w[0].shape[1]] + [m.shape[0] for m in w])
    typer.echo(f"network {sizes}")
    from eos.results.rounding import up

    if res.ok:  # upper bounds, printed rounded up: a printed certificate is never below the constant
        typer.echo(
            f"LipSDP-{form.capitalize()} bound: {up(res.bound)} ({res.solver}, {res.solve_time_s:.2f} s, "
            f"LMI {res.lmi_size}×{res.lmi_size})"
        )
    else:
        typer.echo(f"LipSDP-{form.capitalize()} failed: {res.status} (last solver {res.solver})")
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
        chosen = list(FIGURE_NAMES) if not names or "all" in names else list(dict.fromkeys(names))
        if unknown:
            raise ValueError(f"unknown figure {unknown[0]!r} (choose from {', '.join(FIGURE_NAMES)} or all)")
        for d in from_ or []:
            check_path(d, "--from")
            if not d.is_dir():
                raise ValueError(f"--from {str(d)!r} is not a directory")
        check_out(out, empty=False)  # figures add to a directory: what is there is reused
    from eos.memory import require

    with bad_input():
        require(figure_footprint(chosen, quick), f"the runs of {', '.join(chosen)}")
    use_compilation_cache()
    suffix = "-quick" if quick else ""
    runs_dir = out / "runs"
    interrupts.say(
        lambda word: (
            f"{word}: finished runs and sweep chunks are kept under {runs_dir}; the same command goes on from them"
        )
    )
    _draw(chosen, quick, suffix, runs_dir, out, from_ or [])


def figure_footprint(chosen, quick: bool) -> dict[str, int]:
    """The largest of the estimates of the runs these figures may need (they run one at a time)."""
    from eos.dynamics.sweep import SweepConfig
    from eos.dynamics.sweep import footprint as sweep_footprint
    from eos.figures.catalog import FIGURES
    from eos.robustness.experiment import footprint as robustness_footprint

    estimates = [
        (sweep_footprint if isinstance(config, SweepConfig) else robustness_footprint)(config)
        for name in chosen
        for config in FIGURES[name].runs(quick).values()
    ]
    return max(estimates, key=lambda e: sum(e.values()))


def _draw(chosen, quick, suffix, runs_dir, out, from_):
    from eos.figures.catalog import FIGURES

    for name in chosen:
        fig = FIGURES[name]
        results, sources = {}, {}
        for run_name, config in fig.runs(quick).items():
            path, result = _find_or_run(run_name + suffix, config, runs_dir, from_, fig.stands_in)
            results[run_name], sources[run_name] = result, path
        from eos.figures import style

        written = style.save(fig.draw(results), out, name + suffix, sources)
        typer.echo(f"{name}: {', '.join(str(p) for p in written[:2])} — {fig.caption}")


FROM_DEPTH = 8  # folders below a --from directory searched for runs


def _run_dirs(bases: list[Path]):
    """Every finished run directory (one holding run.json) among bases and up to FROM_DEPTH levels
    below them (hidden folders, unfinished runs, are not searched)."""
    for base in bases:
        for root, dirs, files in os.walk(base):
            depth = len(Path(root).relative_to(base).parts)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < FROM_DEPTH else []
            if "run.json" in files:
                yield Path(root)


def _kind(path: Path, say: bool = False) -> str | None:
    import json

    try:
        return json.loads((path / "run.json").read_text()).get("kind")
    except (OSError, ValueError, AttributeError) as e:
        if say:  # a damaged run is skipped in one line, as a failed load is
            _note(f"skipped {path}: its run.json cannot be read ({type(e).__name__})")
        return None


def _find_or_run(name: str, config, runs_dir: Path, extra: list[Path], stands_in=None):
    """An earlier run with this config (under runs_dir, or anywhere in --from); else, for a figure that
    can be drawn from any run of its kind, the first such run in --from; else a new run under runs_dir."""
    from eos.dynamics import load as load_sweep
    from eos.dynamics import resumable
    from eos.dynamics.sweep import SweepConfig, fingerprint
    from eos.robustness.experiment import load as load_robustness
    from eos.robustness.experiment import run_robustness

    sweep = isinstance(config, SweepConfig)
    loader = load_sweep if sweep else load_robustness
    kind = "sweep" if sweep else "robustness"
    looked = list(_run_dirs(extra))
    candidates = [p for p in [runs_dir / name, *looked] if _kind(p, say=p != runs_dir / name) == kind]
    loaded = []
    for path in dict.fromkeys(candidates):
        try:
            result = loader(path)
        except Exception as e:  # a damaged earlier run is skipped, said in one line, never a traceback
            typer.echo(f"note: skipped {path}: {type(e).__name__}: {e}", err=True)
            continue
        if result.config == config:
            return path, result
        loaded.append((path, result))
    for path, result in loaded:
        if stands_in is not None and path != runs_dir / name and stands_in(result):
            return path, result
    if extra:
        # asked to reuse: never start a run of hours without a word; say what was searched instead
        where = ", ".join(repr(str(p)) for p in extra)
        raise BadInput(
            f"--from {where}: no {kind} run that the figure {name!r} can use among the {len(looked)} run "
            f"directories found (searched {FROM_DEPTH} folders deep); drop --from to compute it under {runs_dir}"
        )
    target = runs_dir / name
    if target.exists():  # a run of the same name with another config: keep it, write beside it
        target = runs_dir / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if sweep:  # an interrupted figure run is an unfinished sweep directory; the same command finishes it
        pending = runs_dir / f".{name}-{fingerprint(config)[:16]}"
        if not (pending / resumable.STATE).is_file():
            shutil.rmtree(pending, ignore_errors=True)  # a start cut short before its config was kept
            resumable.begin(pending, config)
        with progress_bar(name) as update:
            result, _ = resumable.run_in(pending, config, progress=time_limit(update, math.inf, _note))
        pending.rename(target)
    else:
        with progress_bar(name) as update:
            result = run_robustness(config, progress=time_limit(update, math.inf, _note))
        result.save(target)
    return target, result


def use_compilation_cache() -> None:
    """Keep compiled programs on disk: a repeated command skips most of its compile time."""
    import jax

    path = os.environ.get("EOS_COMPILATION_CACHE", str(Path.home() / ".cache" / "eos" / "jax"))
    if path:
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def _save_traceback() -> str:
    """Write the current exception's traceback to a file; say where (or that it could not be kept)."""
    import tempfile
    import traceback

    try:
        with tempfile.NamedTemporaryFile("w", prefix="eos-traceback-", suffix=".txt", delete=False) as f:
            traceback.print_exc(file=f)
        return f"traceback saved to {f.name}"
    except OSError:
        return "the traceback could not be saved"


def _click_message(e) -> str:
    """Click's message, naming the bad value where the validation behind it did not (typer checks
    types with pydantic, whose message leaves the value out)."""
    message = e.format_message()
    try:
        value = e.__cause__.errors()[0]["input"]
    except (AttributeError, IndexError, KeyError, TypeError):
        return message
    return message if repr(value) in message else f"{message}: got {value!r}"


def main() -> None:
    """Entry point: one-line errors with exit code 2, never a traceback for bad input."""
    for name in ("stdout", "stderr"):  # started with a stream closed (`1>&-`): write nowhere, work all the same
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115  (open for the process's life)
    quiet_libraries()
    interrupts.install()
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code instead of raising it here
    except BadInput as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except click_errors.NoArgsIsHelpError as e:  # `eos` alone: the commands, as --help shows them
        typer.echo(e.ctx.get_help())
        sys.exit(0)
    except click_errors.ClickException as e:
        typer.echo(f"error: {_click_message(e)}", err=True)
        sys.exit(e.exit_code)
    except (KeyboardInterrupt, typer.Abort):  # click turns an interrupt into Abort
        interrupts.end()
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except SystemExit as e:  # eos itself never exits inside a command: click, for a closed pipe, or code it ran
        if isinstance(e.__context__, BrokenPipeError):  # the reader left (| head): its files are written
            sys.exit(e.code)
        typer.echo(
            f"error: code eos ran (a model's?) called sys.exit({e.code!r}); the command did not finish", err=True
        )
        sys.exit(1)
    except OSError as e:  # a fault of the machine (disk, permissions), not of the input
        typer.echo(f"error: {e.strerror or e}{f': {e.filename}' if e.filename else ''}", err=True)
        sys.exit(1)
    except RuntimeError as e:
        if "Unable to initialize backend" not in str(e):
            _bug(e)
        # the environment asks for a device this machine lacks: the user's setting, named
        setting = f"JAX_PLATFORMS={os.environ.get('JAX_PLATFORMS', '')!r}"
        typer.echo(f"error: {setting}: {str(e).split('(')[0].strip()}; unset JAX_PLATFORMS to use the CPU", err=True)
        sys.exit(2)
    except Exception as e:  # anything else is a bug: one line, the traceback kept for the report
        _bug(e)
    if interrupts.received() is not None:  # typer returns an interrupt as exit code 130
        interrupts.end()
    if isinstance(code, int) and code:
        sys.exit(code)


def quiet_libraries() -> None:
    """The command speaks in its own lines: the libraries' raw warnings (NumPy overflow on a refused
    value, JAX's compilation-cache writes to a read-only cache, matplotlib's cache directory under a
    read-only HOME) would precede or follow them with nothing the user can act on."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    for name in ("jax", "matplotlib", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _bug(e: Exception):
    """Anything else is a bug: one line, the traceback kept for the report."""
    typer.echo(f"error: internal error (a bug in eos): {type(e).__name__}: {e}; {_save_traceback()}", err=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
