"""The one error boundary: how a command's exceptions become one line on stderr and an exit code.

Bad input (BadInput, or click's own checks) is exit 2; a fault of the machine (disk, permissions)
exit 1 with its reason; a signal the conventional 128 + signal number, after the work it interrupted
is kept; anything else is a bug, said in one line with the traceback kept in a file.
"""

from __future__ import annotations

import os
import sys

import typer

from eos import interrupts
from eos.options import BadInput
from eos.runtime import quiet_libraries

try:  # typer ≥ 0.20 vendors click; older versions depend on it
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover
    from click import exceptions as click_errors


def run(app: typer.Typer) -> None:
    """Run the command line `app` as this process's whole life."""
    for name in ("stdout", "stderr"):  # started with a stream closed (`1>&-`): write nowhere, work all the same
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115  (open for the process's life)
    quiet_libraries()
    interrupts.install()
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code instead of raising it here
    except BaseException as e:  # noqa: BLE001  (every way out is decided in _leave)
        _leave(e)
    if interrupts.received() is not None:  # typer returns an interrupt as exit code 130
        interrupts.end()
    if isinstance(code, int) and code:
        sys.exit(code)


def _leave(e: BaseException) -> None:
    if isinstance(e, BadInput):
        _exit(2, f"error: {e}")
    if isinstance(e, click_errors.NoArgsIsHelpError):  # `eos` alone: the commands, as --help shows them
        typer.echo(e.ctx.get_help())
        sys.exit(0)
    if isinstance(e, click_errors.ClickException):
        _exit(e.exit_code, f"error: {_click_message(e)}")
    if isinstance(e, KeyboardInterrupt | typer.Abort):  # click turns an interrupt into Abort
        interrupts.end()
    if isinstance(e, typer.Exit):
        sys.exit(e.exit_code)
    if isinstance(e, SystemExit):  # eos never exits inside a command: click, for a closed pipe, or code it ran
        if isinstance(e.__context__, BrokenPipeError):  # the reader left (| head): its files are written
            sys.exit(e.code)
        _exit(1, f"error: code eos ran (a model's?) called sys.exit({e.code!r}); the command did not finish")
    if isinstance(e, Exception):
        _fault(e)
    raise e


def _fault(e: Exception) -> None:
    if isinstance(e, OSError):  # a fault of the machine (disk, permissions), not of the input
        _exit(1, f"error: {e.strerror or e}{f': {e.filename}' if e.filename else ''}")
    if isinstance(e, RuntimeError) and "Unable to initialize backend" in str(e):
        # the environment asks for a device this machine lacks: the user's setting, named
        setting = f"JAX_PLATFORMS={os.environ.get('JAX_PLATFORMS', '')!r}"
        _exit(2, f"error: {setting}: {str(e).split('(')[0].strip()}; unset JAX_PLATFORMS to use the CPU")
    # anything else is a bug: one line, the traceback kept for the report
    _exit(1, f"error: internal error (a bug in eos): {type(e).__name__}: {e}; {_save_traceback(e)}")


def _exit(code: int, line: str) -> None:
    typer.echo(line, err=True)
    sys.exit(code)


def _save_traceback(e: BaseException) -> str:
    """Write the exception's traceback to a file; say where (or that it could not be kept)."""
    import tempfile
    import traceback

    try:
        with tempfile.NamedTemporaryFile("w", prefix="eos-traceback-", suffix=".txt", delete=False) as f:
            traceback.print_exception(e, file=f)
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
