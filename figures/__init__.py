"""Publication figures: each module reads results and returns a matplotlib Figure; nothing trains here."""

# The figures `eos figures` draws, the keys of catalog.FIGURES in its order: the one list of their names,
# here where the command line reads it without loading the figures.
NAMES = ("threshold", "trajectories", "product", "phase", "robustness", "bracket")


class NothingToDraw(ValueError):
    """The result holds nothing this figure shows (its message says why): a fact about the result, not a fault."""
