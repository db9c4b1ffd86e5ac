"""Numbers printed as the bounds they are: an upper bound rounded up, a lower bound rounded down, at
the digits shown, so that a printed certificate is never below the value it certifies."""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal


def _rounded(x: float, digits: int, rounding) -> str:
    if not math.isfinite(x):
        return f"{x}"
    if x == 0:
        return "0"
    exact = Decimal(x)  # the float's exact binary value: no rounding before ours
    if abs(exact.adjusted()) < 7:  # printed in full: every integer digit shown is a true one, never a pad
        digits = max(digits, exact.adjusted() + 1)
    step = Decimal(1).scaleb(exact.adjusted() - digits + 1)
    value = exact.quantize(step, rounding=rounding).normalize()
    return f"{value:f}" if abs(exact.adjusted()) < 7 else f"{value:e}"


def up(x: float, digits: int = 6) -> str:
    """x rounded up (towards +inf) to `digits` significant digits, as text."""
    return _rounded(float(x), digits, ROUND_CEILING)


def down(x: float, digits: int = 6) -> str:
    """x rounded down (towards −inf) to `digits` significant digits, as text."""
    return _rounded(float(x), digits, ROUND_FLOOR)


def up_fixed(x: float, decimals: int = 3) -> str:
    """x rounded up to `decimals` places, as text with exactly that many."""
    return _fixed(float(x), decimals, ROUND_CEILING)


def down_fixed(x: float, decimals: int = 3) -> str:
    """x rounded down to `decimals` places, as text with exactly that many."""
    return _fixed(float(x), decimals, ROUND_FLOOR)


def _fixed(x: float, decimals: int, rounding) -> str:
    if not math.isfinite(x):
        return f"{x}"
    return f"{Decimal(x).quantize(Decimal(1).scaleb(-decimals), rounding=rounding):f}"
