"""The shape of the code: no import cycle, a thin command line, functions a reader can hold, help
without JAX, and sentences that follow the constants they state."""

import ast
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

PACKAGES = ("", "dynamics", "dynamics/models", "robustness", "figures", "results")  # pyproject's packages


def modules() -> dict[str, Path]:
    """Module name (eos.…) -> file, for every module the package installs."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            parts = ["eos", *Path(package).parts] + ([] if path.stem == "__init__" else [path.stem])
            out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: dict) -> set[str]:
    """The project modules `name` imports, at module level or inside a function."""
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # a name inside a module: the module itself
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_one_that_imports_it_back():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert graph["eos.dynamics.config"] == {"eos.dynamics.registry"}  # the walk sees what it should
    assert cycles(graph) == []


def test_the_walk_finds_a_cycle_where_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def function_lengths(path: Path) -> dict[str, int]:
    tree = ast.parse(path.read_text())
    return {
        f"{path.name}:{node.name}": node.end_lineno - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_the_command_line_is_thin_and_every_function_readable():
    cli = ROOT / "cli.py"
    assert len(cli.read_text().splitlines()) <= 450
    assert {f: n for f, n in function_lengths(cli).items() if n > 50} == {}
    long = {}
    for path in modules().values():
        long.update({f: n for f, n in function_lengths(path).items() if n > 80})
    assert long == {}
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "C901", str(cli)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout


def test_help_and_bad_input_load_no_jax():
    probe = (
        "import sys\nfrom eos import cli\nfrom eos.dynamics.config import SweepConfig, ModelSpec\n"
        "ModelSpec(model='mlp', width=8)\nassert 'jax' not in sys.modules, 'jax loaded'\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_every_sentence_follows_the_constant_it_states(monkeypatch):
    """The rules, the column definitions and the report's note are built from the constants they state."""
    from eos.dynamics import columns, regime

    changed = {"EOS_LOW": 0.8, "EOS_HIGH": 1.2, "STRETCH": 0.2, "TRANSIENT": 0.07, "END": 0.3, "EARLY_STEPS": 6}
    for name, value in changed.items():
        monkeypatch.setattr(regime, name, value)
    text = " ".join(regime.rules().values()) + " ".join(d for _, _, d in columns.columns().values())
    for needle in ("0.8–1.2 × 2/η", "20 % of the run", "first 7 %", "last 30 %", "first 6 steps"):
        assert needle in text, needle
    for stale in ("0.85", "1.1 ×", "10 % of the run", "first 5 %", "first 3 steps"):
        assert stale not in text, stale


def test_a_model_declares_its_columns_and_the_regime_inputs_it_feeds():
    """A model without test data states no regime input, so `chance` and `silent` never apply to it;
    the relu network names the observables that feed them."""
    import numpy as np

    from eos.dynamics import regime
    from eos.dynamics.config import ModelSpec
    from eos.dynamics.registry import make_model

    relu, product = make_model(ModelSpec()), make_model(ModelSpec(model="product"))
    assert relu.regime_inputs == {"accuracy": "test_acc", "active_share": "active_frac"}
    assert product.regime_inputs == {} and "final_y" in product.columns
    summary = {
        "loss_rises": np.zeros(1),
        "edge_held": np.zeros(1, bool),
        "edge_ratio": np.zeros(1),
        "loss_fall_end": np.zeros(1),
        "dead": np.zeros(1, bool),
        "status": np.array(["ok"]),
        "score": np.array([0.5]),
    }
    assert regime.classify(summary, np.zeros(1, bool))[0] == "gradient_flow"
    assert regime.classify(summary, np.zeros(1, bool), {"accuracy": "score"})[0] == "chance"


def test_a_spec_refuses_what_its_model_ignores_and_of_drops_it():
    import pytest

    from eos.dynamics.config import ModelSpec

    with pytest.raises(ValueError, match="--width 5: model 'relu' does not read it"):
        ModelSpec(model="relu", width=5)
    spec = ModelSpec.of("relu", width=5, d=10, x0=0.1)
    assert (spec.d, spec.width, spec.x0) == (10, ModelSpec().width, ModelSpec().x0)


def test_every_name_the_benchmarks_import_from_eos_exists():
    """The benchmark scripts run outside the suite (a GPU, minutes): a name moved in the package must
    not leave one of them failing at its first line."""
    import importlib

    missing = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("eos"):
                module = importlib.import_module(node.module)
                for a in node.names:
                    try:  # a name of the module, or a submodule of a package
                        getattr(module, a.name) if hasattr(module, a.name) else importlib.import_module(
                            f"{node.module}.{a.name}"
                        )
                    except ImportError:
                        missing.append(f"{path.name}: {node.module}.{a.name}")
    assert not missing, missing
