import os
import sys
import types
from pathlib import Path

import jax
import pytest
from hypothesis import settings

try:  # without an install (a machine with no package index: PYTHONPATH=.), map `eos` onto the checkout
    import eos.dynamics  # noqa: F401
except ModuleNotFoundError:
    sys.modules["eos"] = types.ModuleType("eos")
    sys.modules["eos"].__path__ = [str(Path(__file__).resolve().parents[1])]

# float64 is available to every test; float32 paths pass their dtype explicitly.
jax.config.update("jax_enable_x64", True)
# Tests build many identical programs from fresh closures; the disk cache compiles each once.
jax.config.update(
    "jax_compilation_cache_dir",
    os.environ.get("EOS_COMPILATION_CACHE", os.path.join(os.path.dirname(__file__), "..", ".pytest_cache", "jax")),
)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)

# Property tests set their own example counts for `ci` and multiply them by 20 under `thorough`.
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True, print_blob=True)
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng_key():
    return jax.random.key(0)
