"""`eos` and `python -m eos`: the signal handlers first, then the command line, whose imports take
a moment in which a signal must already be answered with its line and code. The process ends
through `interrupts.leave`, so that a signal is answered up to its very last moment."""

from eos import interrupts


def main() -> None:
    interrupts.install()
    try:
        from eos import runtime

        with runtime.loading():
            from eos.cli import main as command_line

        command_line()
    except SystemExit as e:
        interrupts.leave(e.code)
    interrupts.leave(0)


if __name__ == "__main__":
    main()
