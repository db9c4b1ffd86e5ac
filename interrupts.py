"""SIGINT and SIGTERM in every phase of a command: one line, the documented exit code (130, 143).

An exception raised from a Python signal handler lands wherever the main thread happens to be,
and there it is not always safe: inside a garbage-collector callback it is swallowed (a sweep went
on to exit 0), inside JAX's import it crossed C++ code and aborted the process, and a compile or a
solver call in C hears nothing until it returns. So the handler only records the signal. Safe
points (the progress callbacks of the long loops) call `check`, which raises there, and the
command unwinds, keeping what is finished. A watcher thread, woken by the signal itself (a
wakeup fd, written in C even while the main thread is in a long C call), ends the process with
the phase's line and code if no safe point has come within GRACE_S. Results are written whole
(rename into place), so ending the process at any moment loses only unfinished work.

Standard library only: `eos.__main__` installs this before the heavy imports.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

GRACE_S = 1.0  # the safe points of a sweep come every few tenths of a second at any stride
CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
WORDS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: finished work is kept and the way to go on is printed."""


def _nothing(word: str) -> str:
    return f"{word}; nothing was written"


# The command line's state, not a library's: what to say if a signal ends the process now.
_state: dict = {"line": _nothing, "signal": None, "deferred": False, "installed": False}
_ending = threading.Lock()


def install() -> None:
    """Handle SIGTERM, and SIGINT unless it is ignored (a background job's, which stays ignored).
    Only from the main thread; a second call does nothing."""
    if _state["installed"]:
        return
    read, write = os.pipe()
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    signal.signal(signal.SIGTERM, _record)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _record)
    threading.Thread(target=_watch, args=(read,), daemon=True, name="eos-signals").start()
    _state["installed"] = True


def say(line: Callable[[str], str]) -> None:
    """From now on a signal's line is line(word), word = "interrupted" or "terminated"."""
    _state["line"] = line


def received() -> int | None:
    """The signal that arrived, if one did."""
    return _state["signal"]


def check() -> None:
    """A safe point: raise (Terminated for SIGTERM, KeyboardInterrupt for SIGINT) if a signal came."""
    signum = _state["signal"]
    if signum is not None and not _state["deferred"]:
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def deferred():
    """A signal arriving in the body (a few milliseconds of writing, which should finish rather
    than leave a partial file behind) is acted on when it ends."""
    _state["deferred"] = True
    try:
        yield
    finally:
        _state["deferred"] = False
    check()


def _record(signum, frame):
    if _state["signal"] is None:
        _state["signal"] = signum


def _watch(fd: int) -> None:
    while True:
        data = os.read(fd, 64)
        signums = [b for b in data if b in CODES]
        if not signums:
            continue
        if _state["signal"] is None:
            _state["signal"] = signums[0]
        deadline = time.monotonic() + GRACE_S
        while time.monotonic() < deadline or _state["deferred"]:
            time.sleep(0.02)
        end()


def leave(status) -> None:
    """End the process after a command returned or called sys.exit(status), without the
    interpreter's shutdown: that shutdown first puts SIGTERM back to its default, so a signal
    arriving in its last moments (tenths of a second of tearing down JAX and the solvers) would
    kill the process with no line and no code of ours. atexit functions and the streams' buffers
    are run and flushed here, as the shutdown would; a signal that came meanwhile ends as any other."""
    if status is None:
        code_ = 0
    elif isinstance(status, int):
        code_ = status
    else:  # sys.exit("message"): the message on stderr, exit 1, as Python does
        print(status, file=sys.stderr)
        code_ = 1
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left (| head): nothing to say, and no one to say it to
        code_ = code_ or 1
    except OSError as e:  # a full standard output: a fault of the machine
        os.write(2, f"error: {e.strerror or e}\n".encode())
        code_ = code_ or 1
    try:
        sys.stderr.flush()
    except OSError:
        pass
    if _state["signal"] is not None:
        end()
    os._exit(code_)


def line() -> str:
    return _state["line"](WORDS.get(_state["signal"], "interrupted"))


def code() -> int:
    return CODES.get(_state["signal"], 130)


def end() -> None:
    """Print the phase's line and end the process at once with the signal's code. Not a normal
    exit: after an interrupt the interpreter's own shutdown can crash in an extension module
    caught half-way, and everything worth keeping is already on disk."""
    if not _ending.acquire(blocking=False):  # the other thread is ending the process
        time.sleep(60)
    try:
        sys.stdout.flush()
        if sys.stderr.isatty():
            os.write(2, b"\x1b[?25h")  # the progress bar hid the cursor
        os.write(2, (line() + "\n").encode())
    finally:
        os._exit(code())
