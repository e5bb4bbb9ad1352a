"""Pixel runs for one 1 px graph column of a row or lane, cached by bar heights.

A column of the whole chart is the concatenation of these runs, written in one strided copy; so drawing a sample
costs a dictionary lookup per row, not a cairo call per bar.  Each run ends with a transparent divider pixel, where
the background's divider line (and its markers) shows through.
"""

from __future__ import annotations

from array import array

from .background import divider_offsets
from .theme import RGBA, Theme, premultiplied_pixel

__all__ = ["Patterns"]


class _Lane:
    """Runs for one lane kind: ``top`` px grow down from the top, ``bottom`` px up from the bottom, each optionally
    continued by a run in a dimmer colour (children's CPU credited to a process)."""

    __slots__ = ("_bar_px", "_both", "_bottom", "_bottom_dim", "_cache", "_top", "_top_dim")

    def __init__(
        self,
        height_px: int,
        top: RGBA,
        bottom: RGBA,
        both: RGBA,
        top_dim: RGBA | None = None,
        bottom_dim: RGBA | None = None,
    ) -> None:
        self._bar_px = max(height_px - 1, 0)
        self._top = premultiplied_pixel(top)
        self._bottom = premultiplied_pixel(bottom)
        self._both = premultiplied_pixel(both)
        self._top_dim = premultiplied_pixel(top_dim if top_dim is not None else top)
        self._bottom_dim = premultiplied_pixel(bottom_dim if bottom_dim is not None else bottom)
        self._cache: dict[tuple[int, int, int, int], bytes] = {}

    def run(self, top_px: int, bottom_px: int, top_dim_px: int = 0, bottom_dim_px: int = 0) -> bytes:
        key = (top_px, bottom_px, top_dim_px, bottom_dim_px)
        pixels = self._cache.get(key)
        if pixels is None:
            pixels = self._cache[key] = self._build(top_px, bottom_px, top_dim_px, bottom_dim_px)
        return pixels

    def _build(self, top_px: int, bottom_px: int, top_dim_px: int, bottom_dim_px: int) -> bytes:
        bar = self._bar_px
        column = array("I", bytes(4 * (bar + 1)))
        top_end, bottom_start = top_px + top_dim_px, bar - bottom_px - bottom_dim_px
        for y in range(bar):
            in_top = y < top_end
            in_bottom = y >= bottom_start
            if in_top and in_bottom:
                column[y] = self._both
            elif in_top:
                column[y] = self._top if y < top_px else self._top_dim
            elif in_bottom:
                column[y] = self._bottom if y >= bar - bottom_px else self._bottom_dim
        return column.tobytes()


class Patterns:
    """The runs a chart draws with, built from its theme."""

    def __init__(self, theme: Theme) -> None:
        self.cpu = _Lane(
            theme.row_px,
            theme.graph_top,
            theme.graph_bottom,
            theme.graph_both,
            theme.graph_top_children,
            theme.graph_bottom_children,
        )
        self.io = _Lane(theme.io_lane_px, theme.io_write, theme.io_read, theme.io_both)
        self.rss = _Lane(theme.rss_lane_px, theme.rss, theme.rss, theme.rss)
        self._theme = theme
        self._mark = premultiplied_pixel(theme.graph_both)
        self._starts: dict[int, bytes] = {}
        self._finishes: dict[int, bytes] = {}

    def blank(self, height_px: int) -> bytes:
        return bytes(4 * height_px)

    def start(self, height_px: int) -> bytes:
        """A solid column over every bar area of a slot: the task's first sample."""
        run = self._starts.get(height_px)
        if run is None:
            run = self._starts[height_px] = self._marker(height_px, solid=True)
        return run

    def finish(self, height_px: int) -> bytes:
        """A checkered column (every other pixel) over a slot: the task's exit."""
        run = self._finishes.get(height_px)
        if run is None:
            run = self._finishes[height_px] = self._marker(height_px, solid=False)
        return run

    def _marker(self, height_px: int, *, solid: bool) -> bytes:
        dividers = divider_offsets(self._theme, height_px)
        column = array("I", bytes(4 * height_px))
        for y in range(height_px):
            if y not in dividers and (solid or y % 2 == 0):
                column[y] = self._mark
        return column.tobytes()
