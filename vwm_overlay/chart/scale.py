"""Pure integer scales: from counter deltas and levels to bar heights in pixels.

Every decision that a bar is empty is taken on integers, so a non-zero load never rounds away to 0 px, and no
division by a zero total can happen (a zero total is treated as one tick).
"""

from __future__ import annotations

from bisect import bisect_right

__all__ = ["LogScale", "fraction_px", "human_bytes", "ratio_px"]


def ratio_px(delta: int, total: int, mult: int, max_px: int) -> int:
    """``delta / total * mult`` of ``max_px``, rounded, at least 1 px when ``delta > 0``, at most ``max_px``."""
    if delta <= 0 or max_px <= 0:
        return 0
    total = max(total, 1)  # sub-tick intervals (rates above USER_HZ) can see a zero total
    scaled = delta * mult * max_px
    px = (2 * scaled + total) // (2 * total)
    return min(max(px, 1), max_px)


def fraction_px(fraction: float, max_px: int) -> int:
    """``fraction`` (clamped to 0..1) of ``max_px``, at least 1 px when it is positive."""
    if not fraction > 0.0:  # also false for NaN
        return 0
    return min(max(round(fraction * max_px), 1), max_px)


def human_bytes(value: int) -> str:
    """``value`` bytes with a binary suffix, no decimals: ``4K``, ``128M``, ``2G``."""
    for suffix in ("", "K", "M", "G", "T"):
        if value < 1024 or suffix == "T":
            return f"{value}{suffix}"
        value //= 1024
    raise AssertionError("unreachable")


class LogScale:
    """A logarithmic bar: 1 px for any value above 0, one more px per ``factor`` from ``base`` up to ``max_px``.

    So a trickle of a few bytes and a flood of a gigabyte per second are both visible, and the height of a bar
    reads as an order of magnitude.
    """

    __slots__ = ("_thresholds", "base", "factor", "max_px")

    def __init__(self, base: int, factor: int, max_px: int) -> None:
        if base < 1 or factor < 2:
            raise ValueError(f"log scale needs base >= 1 and factor >= 2, not {base}, {factor}")
        self.base = base
        self.factor = factor
        self.max_px = max(max_px, 0)
        # thresholds[k] is the smallest value drawn with k + 2 px.
        self._thresholds = [base * factor**k for k in range(max(self.max_px - 1, 0))]

    def px(self, value: float) -> int:
        if not value > 0 or self.max_px == 0:
            return 0
        return 1 + bisect_right(self._thresholds, value)

    @property
    def full_value(self) -> int:
        """The smallest value that fills the lane."""
        return self._thresholds[-1] if self._thresholds else 1

    def describe(self, unit: str, *, brief: bool = False) -> str:
        """E.g. ``2px=4K/s x8/px full=128M/s`` (``brief``: without ``full=``), for the heading."""
        if not self._thresholds:
            return f"1px>0{unit}"
        text = f"2px={human_bytes(self.base)}{unit} x{self.factor}/px"
        return text if brief else f"{text} full={human_bytes(self.full_value)}{unit}"
