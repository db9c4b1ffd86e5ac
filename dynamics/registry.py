"""Finding a model by name, building it, and reading its prediction: the one place that loads a
model's code. Importable without JAX (a model's own module imports it when it is built).

The built-in models are the modules of `eos.dynamics.models` (each defines `make(spec, dtype) ->
Model` and `PARAMS`, the ModelSpec fields it reads; a new file there is a new model), and a
researcher's own is `path/to/file.py:make` or `package.module:make` (its module may define
`PARAMS` too; without it every field counts as read).
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import math
import sys
from collections.abc import Callable
from pathlib import Path

from .model import Model

MODELS_DIR = Path(__file__).resolve().parent / "models"
SHARED = ("model",)  # the ModelSpec field every model reads: its name


def _builtin_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(MODELS_DIR.glob("*.py")) if not p.name.startswith("_")}


@functools.cache
def _syntax(path: Path) -> ast.Module:
    """A built-in model's file, parsed once per process: every ModelSpec reads its model's PARAMS."""
    return ast.parse(path.read_text())


def builtin_models() -> dict[str, str]:
    """Name -> the first line of its docstring, for every module in dynamics/models/, read from the
    files (nothing is imported: a model's module imports JAX)."""
    out = {}
    for name, path in _builtin_files().items():
        doc = (ast.get_docstring(_syntax(path)) or "").strip()
        out[name] = doc.splitlines()[0] if doc else ""
    return out


def check_builtin(name: str) -> None:
    """ValueError (one line) unless `name` is a built-in model."""
    if name not in builtin_models():
        raise ValueError(f"unknown model {name!r} (choose from {', '.join(builtin_models())}, or give file.py:make)")


def params_read(name: str) -> tuple[str, ...] | None:
    """The ModelSpec fields model `name` reads (its module's PARAMS), or None where it does not say.
    A built-in's is read from its file without importing it."""
    if ":" not in name:
        path = _builtin_files().get(name)
        if path is None:
            return None
        for node in _syntax(path).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PARAMS" for t in node.targets):
                return tuple(ast.literal_eval(node.value))
        return None
    make = find_model(name)
    found = getattr(sys.modules.get(getattr(make, "__module__", ""), None), "PARAMS", None)
    return tuple(found) if found is not None else None


def readers(field_name: str) -> list[str]:
    """The built-in models that read a ModelSpec field (for --help)."""
    return [m for m in _builtin_files() if field_name in (params_read(m) or ())]


def find_model(name: str) -> Callable:
    """The `make(spec, dtype) -> Model` of a built-in name, `file.py:make` or `package.module:make`.

    ValueError (one line) when it cannot be found or loaded.
    """
    if ":" not in name:
        check_builtin(name)
        return importlib.import_module(f"{__package__}.models.{name}").make
    where, _, attr = name.rpartition(":")
    try:
        if where.endswith(".py"):
            module = _load_file(Path(where))
        else:
            module = importlib.import_module(where)
    except FileNotFoundError:
        raise ValueError(f"model {name!r}: no such file {where!r}") from None
    except SystemExit as e:  # user code must not end the process, least of all with a success code
        raise ValueError(f"model {name!r}: loading {where!r} called sys.exit({e.code!r})") from None
    except Exception as e:  # a user's file may fail in any way; the report names it in one line
        raise ValueError(f"model {name!r}: cannot load {where!r}: {type(e).__name__}: {e}") from None
    make = getattr(module, attr, None)
    if not callable(make):
        raise ValueError(f"model {name!r}: {where!r} defines no function {attr!r}")
    return make


def _load_file(path: Path):
    path = path.resolve()
    key = f"eos_user_model_{abs(hash(str(path)))}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, path)
    if spec is None or not path.is_file():
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[key]
        raise
    return module


@functools.cache
def dynamics_digest() -> str:
    """sha256 of this package's dynamics/ sources (the engine, its models, sharpness, data, losses)."""
    import hashlib

    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def source_digest(name: str) -> str:
    """sha256 of the sources behind a model name: a resumed sweep must be computed by the same code as
    the chunks it reads. A built-in is its file (eos's own dynamics/ is in the chunk fingerprint); a model file
    is that file and every module loaded from its folder or below; `package.module:make` is every
    loaded module of its top-level package. Modules count as loaded once the model is (its imports at
    module level and in make); site-packages never count."""
    import hashlib

    if ":" not in name:
        files = [MODELS_DIR / f"{name}.py"]
    else:
        try:
            find_model(name)
        except ValueError:
            return ""
        where = name.rpartition(":")[0]
        loaded = [Path(m.__file__).resolve() for m in list(sys.modules.values()) if getattr(m, "__file__", None)]
        if where.endswith(".py"):
            root = Path(where).resolve().parent
            files = [f for f in loaded if f.is_relative_to(root) and "site-packages" not in f.parts]
        else:
            top = where.split(".")[0]
            files = [
                Path(m.__file__).resolve()
                for key, m in list(sys.modules.items())
                if (key == top or key.startswith(top + ".")) and getattr(m, "__file__", None)
            ]
    digest = hashlib.sha256()
    for path in sorted(set(files)):
        try:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        except OSError:
            return ""
    return digest.hexdigest()


def make_model(spec, dtype=None) -> Model:
    """The Model of a ModelSpec, in `dtype` (float32 by default); ValueError (one line) for a model
    that cannot be built or whose prediction or functions the engine cannot use."""
    import jax.numpy as jnp

    dtype = jnp.float32 if dtype is None else dtype
    make = find_model(spec.model)
    try:
        model = make(spec, dtype)
    except ValueError:
        raise
    except ArithmeticError as e:  # the parameters' arithmetic: name the options given, which caused it
        import dataclasses

        given = [
            f"--{f.name.replace('_', '-')} {getattr(spec, f.name)!r}"
            for f in dataclasses.fields(spec)
            if f.name != "model" and getattr(spec, f.name) != f.default
        ]
        raise ValueError(
            f"model {spec.model!r}: {', '.join(given) or 'its parameters'} cannot be computed with "
            f"({type(e).__name__}: {e}); choose values of a moderate size"
        ) from None
    except (Exception, SystemExit) as e:  # a user's make() may fail in any way: one line, never a traceback
        raise ValueError(f"model {spec.model!r}: make(spec, dtype) raised {type(e).__name__}: {e}") from None
    if not isinstance(model, Model):
        raise ValueError(f"model {spec.model!r}: make returned {type(model).__name__}, not a Model")
    eta = model.theory.threshold_lr
    try:
        good = eta is None or float(eta) > 0  # inf is a prediction too: no threshold (a balanced product start)
    except (TypeError, ValueError):
        good = False
    if not good:
        # a prediction every report sets beside the measurement, and the unit of --lr 0.5x
        raise ValueError(
            f"model {spec.model!r}: its predicted η* (Theory.threshold_lr) is {eta!r}, not a positive number"
        )
    if ":" in spec.model:  # a researcher's own code, run inside the sweep's programs
        if eta is not None and not math.isfinite(float(eta)):
            raise ValueError(
                f"model {spec.model!r}: its predicted η* (Theory.threshold_lr) is {eta!r}; "
                f"give None where there is no closed form"
            )
        model = model._replace(
            **{name: _no_exit(spec.model, name, fn) for name, fn in model._asdict().items() if callable(fn)}
        )
        check_model(model, spec.model)
    return model


def check_model(model: Model, label: str) -> None:
    """Run the model once, abstractly (shapes and dtypes only: nothing is computed or compiled), on one
    seed's data: ValueError naming the function whose output the engine cannot use."""
    import jax
    import jax.numpy as jnp

    def shaped(name, fn, *args):
        try:
            return jax.eval_shape(fn, *args)
        except ValueError:
            raise
        except Exception as e:  # a user's function may fail in any way: one line naming it
            raise ValueError(f"model {label!r}: its {name}() raised {type(e).__name__}: {e}") from None

    def real_scalar(name, out, what=""):
        ok = hasattr(out, "shape") and out.shape == () and jnp.issubdtype(out.dtype, jnp.floating)
        if not ok:
            got = f"{out.dtype}{list(out.shape)}" if hasattr(out, "shape") else type(out).__name__
            raise ValueError(f"model {label!r}: its {name}(){what} returns {got}; it must be a scalar (real floats)")

    key = jax.random.key(0)
    train, test = shaped("sample", model.sample, key)
    params = shaped("init", model.init, key, train)
    for leaf in jax.tree_util.tree_leaves(params):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise ValueError(f"model {label!r}: its init() returns a {leaf.dtype} array, not real floats")
    real_scalar("loss", shaped("loss", model.loss, params, train))
    real_scalar("threshold", shaped("threshold", model.threshold, params))
    observed = shaped("observables", model.observables, params, test)
    if not isinstance(observed, dict):
        raise ValueError(f"model {label!r}: its observables() returns {type(observed).__name__}, not a dict")
    for name, value in observed.items():
        real_scalar("observables", value, f"[{name!r}]")


def _no_exit(label: str, name: str, fn: Callable) -> Callable:
    """fn, with a sys.exit inside it turned into a ValueError naming the model and the function:
    called while a sweep traces its programs, it would end the process with the code it chose."""

    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SystemExit as e:
            raise ValueError(f"model {label!r}: its {name}() called sys.exit({e.code!r})") from None

    return call


def predicted_lr(spec) -> float | None:
    """The model's own predicted η* (a formula, never a measurement), or None if it has none."""
    value = make_model(spec).theory.threshold_lr
    return float(value) if value is not None and math.isfinite(value) and value > 0 else None
