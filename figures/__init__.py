"""Publication figures: each module reads results and returns a matplotlib Figure; nothing trains here."""


class NothingToDraw(ValueError):
    """The result holds nothing this figure shows (its message says why): a fact about the result, not a fault."""
