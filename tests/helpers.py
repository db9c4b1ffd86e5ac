"""How the tests run `eos`: in this process (`run`, fast, for refusals), or as a user does, through
`python -m eos` in a child process (`eos`, `command`), and what a refusal must look like."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

from eos import cli

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def run(args, cwd) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `eos ARGS` run in cwd, in this process."""
    out, err = io.StringIO(), io.StringIO()
    old_cwd, old_argv = os.getcwd(), sys.argv
    os.chdir(cwd)
    sys.argv = ["eos", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(old_cwd)
        sys.argv = old_argv
    return code, out.getvalue(), err.getvalue()


def command(*args) -> list[str]:
    """The argv of `eos ARGS` as a user runs it, entry point and end-of-command path included."""
    return [sys.executable, "-m", "eos", *args]


def environment(**extra) -> dict:
    """The environment of a child `eos`: its own compilation cache, no test-only XLA flags."""
    env = dict(os.environ, EOS_COMPILATION_CACHE=str(ROOT / ".pytest_cache" / "jax-cli"))
    env.pop("XLA_FLAGS", None)
    env.update(extra)
    return env


def eos(*args, cwd=None, env=None, timeout=300) -> subprocess.CompletedProcess:
    """`eos ARGS` in a child process (text output captured)."""
    return subprocess.run(
        command(*args), capture_output=True, text=True, cwd=cwd, env=env or environment(), timeout=timeout
    )


def check_rejected(args, cwd, needle=None):
    """`eos ARGS` is refused as bad input: exit 2, one line `error: ...` (holding `needle`), no
    traceback, and nothing written."""
    before = sorted(p.relative_to(cwd) for p in Path(cwd).rglob("*"))
    code, out, err = run(args, cwd)
    lines = err.strip().splitlines()
    info = dict(args=args, code=code, stderr=err, stdout=out[-500:])
    assert code == 2, info
    assert len(lines) == 1 and lines[0].startswith("error: "), info
    assert "Traceback" not in err + out, info
    if needle is not None:
        assert needle.lower() in lines[0].lower(), info
    assert sorted(p.relative_to(cwd) for p in Path(cwd).rglob("*")) == before, info
