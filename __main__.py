"""`eos` and `python -m eos`: the signal handlers first, then the command line, whose imports take
a moment in which a signal must already be answered with its line and code."""

from eos import interrupts


def main() -> None:
    interrupts.install()
    from eos.cli import main as command_line

    command_line()


if __name__ == "__main__":
    main()
