"""Text columns: their headings, grow-only widths and pixel extents.

Live rows read, left to right, ``Row | User | Sys | Wall | tree ArgV ... WChan | PID | State``: the first four
pack from the left, State, PID and WChan pack from the right edge, and ArgV gets what is between.  Snowflake rows
read ``PID | User | Sys | Wall | ArgV``, all from the left, with widths of their own.  A width only grows, to the
widest text seen.  Every column has an extent ``[x0, x1)`` that no other column's extent overlaps, and text is
clipped to it: a long command line never scribbles over WChan.
"""

from __future__ import annotations

import enum

from .theme import Theme

__all__ = ["HEADINGS", "Align", "Col", "LiveColumns", "SnowColumns"]


class Align(enum.IntEnum):
    LEFT = 0
    RIGHT = 1
    CENTER = 2


class Col(enum.IntEnum):
    """Live-row columns, in cell order."""

    ROW = 0
    USER = 1
    SYS = 2
    WALL = 3
    TREE = 4
    ARGV = 5
    WCHAN = 6
    PID = 7
    STATE = 8


HEADINGS: tuple[str, ...] = ("Row", "User", "Sys", "Wall", "", "ArgV/~ThreadName", "WChan", "PID", "State")

_LEFT = ((Col.ROW, Align.LEFT), (Col.USER, Align.RIGHT), (Col.SYS, Align.RIGHT), (Col.WALL, Align.RIGHT))
# Packed from the right edge in this order: State is rightmost.  On a narrow chart they give way to ArgV from the
# end of this list: the wait channel first, then the pid.
_RIGHT = ((Col.STATE, Align.CENTER), (Col.PID, Align.RIGHT), (Col.WCHAN, Align.RIGHT))
#: The width ArgV keeps before a right-hand column gives way (the whole name, if shorter).
ARGV_MIN_CHARS = 16


class LiveColumns:
    """Widths (in characters) and extents (in px) of the live-row columns."""

    def __init__(self, theme: Theme, advance_px: float) -> None:
        self._theme = theme
        self._advance_px = advance_px
        self.chars = [len(h) for h in HEADINGS]
        self.extents: list[tuple[int, int, Align]] = [(0, 0, Align.LEFT)] * len(HEADINGS)
        self.tree_x = 0
        self.argv_x1 = 0
        self._width_px = -1

    def fit(self, col: int, text: str) -> bool:
        """Widen ``col`` to hold ``text``; True if it grew (the extents then need :meth:`place`)."""
        if len(text) > self.chars[col]:
            self.chars[col] = len(text)
            self._width_px = -1
            return True
        return False

    def place(self, width_px: int) -> bool:
        """Recompute extents for a chart ``width_px`` wide; True if anything moved."""
        if width_px == self._width_px:
            return False
        self._width_px = width_px
        theme = self._theme
        gap = theme.column_gap_px
        x = theme.text_lead_px
        extents = list(self.extents)
        for col, align in _LEFT:
            w = self._px(col)
            extents[col] = (min(x, width_px), min(x + w, width_px), align)
            x += w + gap
        self.tree_x = min(x, width_px)
        right = width_px - theme.text_lead_px
        kept = self._kept_right(right - self.tree_x)
        for col, align in _RIGHT:
            if col not in kept:
                extents[col] = (right, right, align)  # no room: drawn nowhere
                continue
            w = self._px(col)
            x0 = max(right - w, self.tree_x)
            extents[col] = (x0, max(right, x0), align)
            right = x0 - gap
        self.argv_x1 = max(right, self.tree_x)
        extents[Col.TREE] = (self.tree_x, self.tree_x, Align.LEFT)
        extents[Col.ARGV] = (self.tree_x, self.argv_x1, Align.LEFT)
        self.extents = extents
        return True

    def _px(self, col: int) -> int:
        return int(self.chars[col] * self._advance_px + 0.999)

    def _kept_right(self, room_px: int) -> set[Col]:
        """The right-hand columns that fit in ``room_px`` beside ArgV's minimum, dropping from the inside out."""
        argv_px = int(min(self.chars[Col.ARGV], ARGV_MIN_CHARS) * self._advance_px + 0.999)
        kept = [col for col, _align in _RIGHT]
        while kept and sum(self._px(c) + self._theme.column_gap_px for c in kept) + argv_px > room_px:
            kept.pop()
        return set(kept)


_SNOW = ((Col.PID, Align.LEFT), (Col.USER, Align.LEFT), (Col.SYS, Align.LEFT), (Col.WALL, Align.LEFT))


class SnowColumns:
    """Snowflake rows: PID, User, Sys, Wall, ArgV, all packed from the left."""

    ORDER: tuple[Col, ...] = (Col.PID, Col.USER, Col.SYS, Col.WALL, Col.ARGV)

    def __init__(self, theme: Theme, advance_px: float) -> None:
        self._theme = theme
        self._advance_px = advance_px
        self.chars = {col: 0 for col, _ in _SNOW}
        self.extents: dict[Col, tuple[int, int, Align]] = {}
        self._width_px = -1

    def fit(self, col: Col, text: str) -> bool:
        if col in self.chars and len(text) > self.chars[col]:
            self.chars[col] = len(text)
            self._width_px = -1
            return True
        return False

    def place(self, width_px: int) -> bool:
        if width_px == self._width_px:
            return False
        self._width_px = width_px
        x = self._theme.text_lead_px
        extents: dict[Col, tuple[int, int, Align]] = {}
        for col, align in _SNOW:
            w = int(self.chars[col] * self._advance_px + 0.999)
            extents[col] = (min(x, width_px), min(x + w, width_px), align)
            x += w + self._theme.column_gap_px
        right = max(width_px - self._theme.text_lead_px, min(x, width_px))
        extents[Col.ARGV] = (min(x, width_px), right, Align.LEFT)
        self.extents = extents
        return True
