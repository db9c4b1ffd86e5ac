"""W1 as a whole command, against a NumPy loop and against an earlier commit, phase by phase, in one run.

    python benchmarks/w1_command.py [--baseline COMMIT] [--quick] [--warm N]

W1 is `eos sweep --lr 0.0001:0.012:128` (the paper's network, d = 200, n = 300, 128 step sizes × 3
seeds, T = round(10/η): 1.71 M member-steps), run as a user runs it: a fresh process, start-up,
compile, engine, gradient-flow integration, verdict, files and figure included. Each checkout runs
it with an empty compilation cache (cold), then N times (3) with the one the first run filled (warm;
the table shows the median run, and every warm run's time is printed). The earlier commit runs
from a `git worktree` of it, put first on PYTHONPATH. The NumPy loop (w1_relu.numpy_relu, plain GD
with a finite-difference sharpness every 99 steps) runs a subsample of the members, capped at 3000
steps each, and is projected to all of them. How the two checkouts' summary.csv differ is printed
(compare).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "2272ee5"  # the last commit before the speed work of this script's change
COMMAND = ["sweep", "--lr", "0.0001:0.012:128"]


def numpy_seconds(quick: bool) -> float:
    """NumPy's projected seconds for every W1 member (its rate on a subsample)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import jax.numpy as jnp
    import numpy as np
    from common import subsample
    from w1_relu import CAP, N, grid, time_numpy_relu

    from eos.dynamics.config import ModelSpec
    from eos.dynamics.registry import make_model

    model = make_model(ModelSpec(d=200, n=N, lam=3.0, n_test=1000), jnp.float32)
    lrs, seeds, horizons = grid(200, 128)
    pick = subsample(3 if quick else 6, len(lrs), 3)
    rate = time_numpy_relu(model, 200, lrs[pick], seeds[pick], np.minimum(horizons[pick], CAP))
    return float(horizons.sum()) / rate


def checkout(ref: str, where: Path) -> Path:
    """A directory to put on PYTHONPATH so that `import eos` is commit `ref`."""
    tree = where / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(tree), ref], check=True, capture_output=True
    )
    (where / "path").mkdir()
    (where / "path" / "eos").symlink_to(tree)
    return where / "path"


def run(python_path: str | None, cache: Path, out: Path) -> dict:
    env = dict(os.environ, EOS_COMPILATION_CACHE=str(cache))
    env.pop("XLA_FLAGS", None)
    if python_path:
        env["PYTHONPATH"] = python_path
    record = out.with_suffix(".json")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "phases.py"), str(record), *COMMAND, "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{out.name} failed: {done.stderr[-2000:]}")
    return {**json.loads(record.read_text()), "wall": wall}


def compare(before: Path, after: Path) -> str:
    """How two runs' results differ: byte for byte the same summary.csv, or the verdict, the located η*
    and the largest relative difference of any number in summary.csv."""
    import csv
    import math

    if (before / "summary.csv").read_bytes() == (after / "summary.csv").read_bytes():
        return "summary.csv byte for byte the same"
    rows = [list(csv.DictReader((d / "summary.csv").open())) for d in (before, after)]
    worst, where, changed = 0.0, "", 0
    for a, b in zip(*rows):
        for name in a.keys() & b.keys():
            if a[name] == b[name]:
                continue
            changed += 1
            try:
                x, y = float(a[name]), float(b[name])
            except ValueError:
                worst, where = math.inf, f"{name} ({a[name]} → {b[name]})"
                continue
            rel = abs(x - y) / max(abs(x), abs(y), 1e-300)
            if rel > worst:
                worst, where = rel, name
    verdicts = [json.loads((d / "run.json").read_text())["transition"] for d in (before, after)]
    located = [f"{v['estimate']['value']:.6g}" if isinstance(v.get("estimate"), dict) else None for v in verdicts]
    return (
        f"summary.csv differs in {changed} of {len(rows[0]) * len(rows[0][0])} cells, at most {worst:.2g} "
        f"relatively ({where}); verdict {verdicts[0].get('verdict')} → {verdicts[1].get('verdict')}, located η* "
        f"{located[0]} → {located[1]}"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--quick", action="store_true", help="a smaller NumPy subsample")
    parser.add_argument("--warm", type=int, default=3, help="warm runs per checkout (the table shows the median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "old").mkdir()
        paths = {f"before ({args.baseline})": str(checkout(args.baseline, tmp / "old")), "after (this checkout)": None}
        results, spread = {}, {}
        for i, (label, path) in enumerate(paths.items()):
            results[(label, "cold")] = run(path, tmp / f"cache-{i}", tmp / f"run-{i}-cold")
            warm = [run(path, tmp / f"cache-{i}", tmp / f"run-{i}-warm{k}") for k in range(args.warm)]
            results[(label, "warm")] = sorted(warm, key=lambda r: r["wall"])[len(warm) // 2]  # the median run
            spread[label] = [r["wall"] for r in warm]
        same = compare(tmp / "run-0-warm0", tmp / "run-1-warm0")
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "old" / "tree")])
        numpy_s = numpy_seconds(args.quick)
    print(f"W1: eos {' '.join(COMMAND)} (1.71 M member-steps); NumPy loop, projected from a subsample: {numpy_s:.0f} s")
    phases = list(next(iter(results.values()))["phases"])
    header = f"{'phase (seconds; spans may overlap)':<36}" + "".join(f"{a[:18] + ' ' + s:>26}" for a, s in results)
    print(header)
    rows = [("start-up (to JAX started)", lambda r: r["import"]), ("compile (JAX count)", lambda r: r["compile"])]
    rows += [(p, lambda r, p=p: r["phases"].get(p, {}).get("seconds", float("nan"))) for p in phases]
    rows += [("whole command (process wall)", lambda r: r["wall"])]
    for name, get in rows:
        print(f"{name:<36}" + "".join(f"{get(r):>26.2f}" for r in results.values()))
    print(f"{'NumPy loop / whole command':<36}" + "".join(f"{numpy_s / r['wall']:>25.1f}×" for r in results.values()))
    for label, walls in spread.items():
        ratios = ", ".join(f"{numpy_s / w:.1f}×" for w in sorted(walls))
        print(f"{label}, warm runs: {', '.join(f'{w:.2f}' for w in sorted(walls))} s ({ratios}); the table: the median")
    print(f"the two checkouts' results: {same}")


if __name__ == "__main__":
    main()
