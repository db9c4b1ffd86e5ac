"""Publication figures: each module reads results and returns a matplotlib Figure; nothing trains here."""
