"""The time a run has left, projected from its own progress, the limit it must stay within, and the
progress bar that shows both.

A library reports a stage's progress as `progress(stage, done, total, units)`: `done` against
`total`, each a number or a tuple of counts (for example (compiled programs, work)), and `units`
naming each count in words. The time of a stage is modelled as linear in those counts,

    seconds = Σ_i c_i · count_i,     c_i ≥ 0,

with c fitted by non-negative least squares to the time between the stage's own reports (a compile
between two stages counts for neither). With two counts this is a fixed cost per item plus a
size-dependent part, learned from the run's first items (robustness: programs, networks and
work); a single count is a plain rate. The
projection is the fitted cost of what every stage has left, and it is redone at every report.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np

CALIBRATION_S = 3.0  # seconds a stage must have computed before its fit projects its time
SAY_AFTER_S = 60.0  # a projection worth printing: more time left than this


class TooLong(Exception):
    def __init__(self, seconds: float, stage: str, total, cost, units=None):
        super().__init__(seconds)
        self.seconds, self.stage, self.total, self.cost = seconds, stage, total, cost
        self.units = tuple(units) if units else ("items",) * len(total)

    def sizes(self) -> str:
        """What the projection rests on, in words: the stage's size and its measured costs."""
        units = self.units
        size = ", ".join(f"{u} {t:,}" for t, u in zip(self.total, units))
        costs = [
            (f"{c:.3g} s per {u}" if c >= 0.01 else rate_text(1.0 / c, u)) for c, u in zip(self.cost, units) if c > 0
        ]
        return f"{self.stage}: {size}; measured {', '.join(costs)} on this machine"


def rate_text(rate: float, unit: str = "") -> str:
    unit = f" {unit}" if unit else ""
    return f"{rate:,.0f}{unit} per second" if rate >= 10 else f"{rate:.2g}{unit} per second"


def duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.0f} s"


def _vector(value) -> np.ndarray:
    return np.atleast_1d(np.asarray(value, float))


class _Stage:
    """A stage's reports so far, kept as the normal equations of its fit (Σ m mᵀ, Σ m s over the
    reports' progress m and seconds s): a report costs the same whether it is the 10th or the
    10,000th (a sweep reports every block)."""

    def __init__(self, done, total):
        self.done, self.total = _vector(done), _vector(total)
        self.gram = np.zeros((len(self.done), len(self.done)))
        self.cross = np.zeros(len(self.done))
        self.made = np.zeros(len(self.done))
        self.seconds = 0.0

    def advance(self, seconds: float, done, total) -> None:
        done = _vector(done)
        if seconds > 0 and (done > self.done).any():
            m = done - self.done
            self.gram += np.outer(m, m)
            self.cross += m * seconds
            self.made += m
            self.seconds += seconds
        self.done, self.total = done, _vector(total)

    def cost(self) -> tuple[np.ndarray, bool] | None:
        """Seconds per unit of each count, once the stage's time determines them (or it is finished),
        and whether the fit is complete: a count the stage has not yet moved costs 0 until it does, so a
        partial projection is a lower bound on the time left."""
        left = self.total - self.done
        if not self.seconds:
            return (np.zeros_like(left), True) if (left <= 0).all() else None
        # a count has moved once a whole unit of it is done (the flow reports fractions of a seed, and a
        # seed's first fraction says little of its rest)
        moved = self.made >= 1
        if self.seconds < CALIBRATION_S and (left > 0).any():
            return None
        if not moved.any():
            return None
        gram, cross = self.gram[np.ix_(moved, moved)], self.cross[moved]
        scale = np.sqrt(np.diag(gram))
        if np.linalg.eigvalsh(gram / np.outer(scale, scale))[0] < 1e-9:  # counts that only ever moved together
            return None
        from scipy.optimize import nnls  # here: the command line's --help answers without scipy

        # the least-squares problem of the reports, through its normal equations: ‖A c − s‖² = ‖R c − z‖² + const
        r = np.linalg.cholesky(gram).T
        cost = np.zeros(len(moved))
        cost[moved], _ = nnls(r, np.linalg.solve(r.T, cross))
        return cost, bool(moved[left > 0].all())

    def left(self) -> tuple[float, bool] | None:
        fitted = self.cost()
        if fitted is None:
            return None
        return float(fitted[0] @ np.maximum(self.total - self.done, 0.0)), fitted[1]


def time_limit(update: Callable, max_hours: float, say: Callable[[str], None]):
    """The progress callback `report(stage, done, total, units, background=False)`, which calls
    `update(stage, done, total, left)` with `left` the projected seconds the whole run has left (None
    until every stage's time determines its costs). Raises TooLong as soon as the time so far and what
    the known stages have left (at least) exceed max_hours, and says the projection once, where it is
    over SAY_AFTER_S.

    A stage's time is what passes between its own reports (a compile before its first counts for
    none). A `background` stage runs beside the others (on its own thread, with its own bounded
    budget): its bar shows its own time left, and it adds nothing to the run's projection. Reports may
    come from several threads."""
    start = time.perf_counter()
    stages: dict[str, _Stage] = {}
    last: dict = {"said": False}
    lock = threading.Lock()

    def report(stage, done, total, units=None, background=False):
        with lock:
            now = time.perf_counter()
            if stage not in stages:
                stages[stage] = _Stage(done, total)
            else:
                stages[stage].advance(now - last[stage], done, total)
            last[stage] = now
            if background:
                own = stages[stage].left()
                update(stage, _vector(done)[-1], _vector(total)[-1], own[0] if own and own[1] else None)
                return
            _project(stage, done, total, units, now)

    def _project(stage, done, total, units, now):
        known = {name: s.left() for name, s in stages.items() if name in foreground}
        foreground.add(stage)
        known[stage] = stages[stage].left()
        if known[stage] is None:
            update(stage, _vector(done)[-1], _vector(total)[-1], None)
            return
        left = sum(v[0] for v in known.values() if v is not None)
        complete = all(v is not None and v[1] for v in known.values())
        update(stage, _vector(done)[-1], _vector(total)[-1], left if complete else None)
        if left <= 0:
            return
        # a partial projection is a lower bound: enough to refuse, never to refuse a run that fits
        if now - start + left > max_hours * 3600:
            s = stages[stage]
            raise TooLong(now - start + left, stage, [int(t) for t in s.total], list(s.cost()[0]), units)
        if complete and not last["said"] and left > SAY_AFTER_S:
            last["said"] = True
            say(f"about {duration(left)} left (projected from this run's {stage} so far)")

    foreground: set[str] = set()
    return report


@contextmanager
def progress_bar(label: str):
    """A callback (stage, done, total, left) drawing a progress bar on stderr, with the projected
    seconds `left` (time_limit's) where known; it is also the long loops' safe point for a signal."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from eos import interrupts

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
    with Progress(
        *columns,
        TimeElapsedColumn(),
        TextColumn("{task.fields[left]}"),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: float, total: float, left: float | None = None):
            interrupts.check()
            text = f"about {duration(left)} left" if left is not None else ""
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"{label} {stage}", total=total, left=text)
            bar.update(tasks[stage], completed=done, total=total, left=text)

        yield update


@contextmanager
def watch(
    label: str,
    max_hours: float = math.inf,
    say: Callable[[str], None] = lambda text: None,
    busy: Callable[[], None] | None = None,
):
    """The progress callback a library takes: a bar labelled `label`, and the limit `max_hours`
    (TooLong once the projection exceeds it). `busy()`, if given, is called at each report of a
    foreground stage with work done: from the first on, the engine has compiled and its devices run."""
    with progress_bar(label) as update:
        report = time_limit(update, max_hours, say)
        if busy is None:
            yield report
            return

        def reported(stage, done, total, units=None, background=False):
            if not background and _vector(done)[-1] > 0:
                busy()
            return report(stage, done, total, units, background)

        yield reported
