"""The part of a chart that holds drawn pixels, as a few coarse rectangles derived from its geometry.

Without a compositor an overlay window cannot blend: it is cut to a region instead, and everything inside that
region is opaque.  Scanning the composed pixels for that region every frame costs more than drawing them, and a
pixel-exact region costs the X server even more.  This module derives a coarse, stable region from what the chart
knows instead:

- per row, the spans of its text cells (the monospace text's width within its cell, plus its shadow), grown
  to every span the row's text has covered so far;
- per row, its graph from the newest column (x = 0) to the oldest non-blank column still shown, learnt from the
  graph columns as they are written (a row's history moves with the row, so it is tracked per row, not per y).

Every span is widened to a grid of :data:`GRID_PX`, so the region changes only when a graph or a text crosses a
grid line, and a window-system layer that keeps the last region sends a new one rarely.  No cairo, no X here.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from typing import NamedTuple, Protocol

from .rows import Cell

__all__ = [
    "GRID_PX",
    "ChartShape",
    "Rect4",
    "ShapeBand",
    "ShapeSource",
    "ShapeTracker",
    "cell_spans",
    "merge_spans",
    "text_span",
]

#: Spans are widened to multiples of this many pixels (a region that changes rarely, with few rectangles).
GRID_PX = 32

#: ``(x, y, width, height)`` in pixels.
Rect4 = tuple[int, int, int, int]

# A column's pixels are native-endian 32-bit ARGB words (cairo's ARGB32): alpha is their high byte.
_ALPHA_OFFSET = 3 if sys.byteorder == "little" else 0


class ShapeBand(NamedTuple):
    """One row of a chart as the region sees it."""

    #: Identity of the row's pixels: the same key for the same row after it moved.
    key: Hashable
    y: int
    height: int
    #: The row's text cells as drawn (None: not drawn yet, taken as text across the whole width).
    cells: Sequence[Cell] | None


def cell_spans(cells: Sequence[Cell] | None, advance_px: float, width: int) -> list[tuple[int, int]]:
    """``[x0, x1)`` of what the cells draw: each text's width in its cell, tree lines, shadows included."""
    if cells is None:
        return [(0, width)]
    spans = []
    for x0, x1, align, content in cells:
        if isinstance(content, tuple):
            spans += [(x0 + rx - 1, x0 + rx + w + 1) for rx, _, w, _ in content]
        elif content:
            spans.append(text_span(x0, x1, align, len(content), advance_px))
    return spans


def text_span(x0: int, x1: int, align: int, chars: int, advance_px: float, margin_px: int = 1) -> tuple[int, int]:
    """``[x0, x1)`` of ``chars`` monospace characters aligned in the cell ``[x0, x1)`` (0 left, 1 right, 2 centre).

    Text too wide for its cell is clipped to the cell.  ``margin_px`` covers the text's shadow.
    """
    room = max(x1 - x0, 0)
    text_px = min(room, int(chars * advance_px + 0.999))
    if align == 1:
        start = x1 - text_px
    elif align == 2:
        start = x0 + (room - text_px) // 2
    else:
        start = x0
    return start - margin_px, start + text_px + margin_px


def merge_spans(spans: Iterable[tuple[int, int]], width: int, grid_px: int = GRID_PX) -> list[tuple[int, int]]:
    """Spans widened to the grid, clipped to ``[0, width)``, with overlapping and touching ones merged."""
    widened = sorted(
        (max(0, x0 // grid_px * grid_px), min(width, -(-x1 // grid_px) * grid_px)) for x0, x1 in spans if x1 > x0
    )
    merged: list[tuple[int, int]] = []
    for x0, x1 in widened:
        if x1 <= x0:
            continue
        if merged and x0 <= merged[-1][1]:
            if x1 > merged[-1][1]:
                merged[-1] = (merged[-1][0], x1)
        else:
            merged.append((x0, x1))
    return merged


class ShapeTracker:
    """Learns each row's graph extent from the graph's columns and turns rows into a coarse region.

    Feed :meth:`add_columns` the columns written since the last call (oldest first), then ask :meth:`rects`.
    A column is ``4 * height`` bytes (one native-endian premultiplied ARGB32 pixel per row of pixels, top first);
    a pixel whose alpha is zero is blank.
    """

    def __init__(self, grid_px: int = GRID_PX, advance_px: float = 6.0) -> None:
        self.grid_px = grid_px
        #: Width of a character of the chart's monospace font.
        self.advance_px = advance_px
        #: Columns seen so far.
        self.clock = 0
        # key -> the buckets (clock // grid_px) that hold a non-blank column of the row, oldest first.  Whole
        # buckets keep a row's memory bounded (width / grid entries), never under-estimate its extent, and make
        # every row's extent cross a grid line on the same columns: the region changes on few samples.
        self._marks: dict[Hashable, deque[int]] = {}
        # key -> (cells, grid spans its text has covered, graph extent on the grid, y0, y1, its rectangles).  The
        # text spans only grow while the row lives, so a text that changes length every sample (a wait channel,
        # a counter) does not change the region every sample; and an unchanged row costs a few comparisons.
        self._rows: dict[Hashable, tuple[Sequence[Cell] | None, list[tuple[int, int]], int, int, int, list[Rect4]]]
        self._rows = {}
        self._width = -1

    def add_columns(self, columns: Iterable[bytes], bands: Sequence[ShapeBand]) -> None:
        """Note which rows each new column draws in, ``bands`` as the rows are now."""
        marks = self._marks
        grid = self.grid_px
        for column in columns:
            self.clock += 1
            bucket = self.clock // grid
            # Premultiplied pixels: a pixel is drawn exactly when its alpha is not zero.
            alpha = column[_ALPHA_OFFSET::4]
            size = len(alpha)
            for key, y, height, _ in bands:
                seen = marks.get(key)
                # A row idle for longer than the width has an empty deque (graph_extent dropped every bucket).
                if seen and seen[-1] == bucket:
                    continue  # one drawn column per bucket is all a row's extent needs
                y0, y1 = max(y, 0), min(y + height, size)
                if y1 > y0 and alpha.count(0, y0, y1) < y1 - y0:
                    if seen is None:
                        marks[key] = deque((bucket,))
                    else:
                        seen.append(bucket)

    def graph_extent(self, key: Hashable, width: int) -> int:
        """How many columns from the newest one the row's graph may span (0: nothing drawn in the last ``width``).

        Counted from the start of the oldest bucket that holds a drawn column: at most ``grid_px - 1`` too many.
        """
        seen = self._marks.get(key)
        if not seen:
            return 0
        clock, grid = self.clock, self.grid_px
        # Drop buckets whose every column has scrolled past the width.
        while seen and clock - (seen[0] * grid + grid - 1) >= width:
            seen.popleft()
        if not seen:
            return 0
        return min(width, clock - seen[0] * grid + 1)

    def rects(self, bands: Sequence[ShapeBand], width: int, height: int) -> list[Rect4]:
        """The region of ``bands`` within ``width`` x ``height``, sorted by y then x (YX-banded)."""
        if width != self._width:
            self._width = width
            self._rows.clear()
        keys = {band.key for band in bands}
        for memory in (self._marks, self._rows):
            for gone in [key for key in memory if key not in keys]:
                del memory[gone]
        out: list[Rect4] = []
        grid = self.grid_px
        rows = self._rows
        for band in sorted(bands, key=lambda b: b.y):
            key, cells = band.key, band.cells
            y0, y1 = max(band.y, 0), min(band.y + band.height, height)
            if y1 <= y0:
                continue
            extent = self.graph_extent(key, width)
            extent = min(width, -(-extent // grid) * grid)
            kept = rows.get(key)
            if kept is None:
                text = merge_spans(cell_spans(cells, self.advance_px, width), width, grid)
            elif kept[0] == cells:
                text = kept[1]
            else:
                text = self._grown_text(kept[0], kept[1], cells, width)
            if kept is not None and text is kept[1] and (kept[2], kept[3], kept[4]) == (extent, y0, y1):
                if kept[0] != cells:
                    rows[key] = (None if cells is None else list(cells), *kept[1:])
                out += kept[5]
                continue
            spans = merge_spans([*text, (0, extent)], width, grid) if extent else text
            mine = [(x0, y0, x1 - x0, y1 - y0) for x0, x1 in spans]
            rows[key] = (None if cells is None else list(cells), text, extent, y0, y1, mine)
            out += mine
        return out

    def _grown_text(
        self,
        before: Sequence[Cell] | None,
        text: list[tuple[int, int]],
        cells: Sequence[Cell] | None,
        width: int,
    ) -> list[tuple[int, int]]:
        """A row's text spans once its cells went from ``before`` to ``cells``: ``text`` itself (the same list) when
        every changed cell draws within it, as a number ticking in place does."""
        if before is None or cells is None or len(before) != len(cells):
            changed = cells
        else:
            changed = [cell for cell, old in zip(cells, before, strict=True) if cell != old]
        new = cell_spans(changed, self.advance_px, width)
        grid = self.grid_px
        for x0, x1 in new:
            g0, g1 = max(0, x0 // grid * grid), min(width, -(-x1 // grid) * grid)
            # Spans in ``text`` are merged (disjoint, not touching): a covered span lies within one of them.
            if g1 > g0 and not any(t0 <= g0 and g1 <= t1 for t0, t1 in text):
                return merge_spans([*text, *new], width, grid)
        return text


class _Ring(Protocol):
    phase: int
    width_px: int


class ShapeSource(Protocol):
    """What :class:`ChartShape` reads of a chart (``vwm_overlay.chart.Chart``)."""

    samples: int

    @property
    def width(self) -> int: ...
    @property
    def composed_height(self) -> int: ...
    @property
    def advance_px(self) -> float: ...
    @property
    def layers(self) -> _Ring: ...
    def shape_bands(self) -> list[ShapeBand]: ...
    def graph_columns(self, count: int) -> list[bytes]: ...


class ChartShape:
    """One chart's region, kept current from the graph columns written since the previous call.

    The first call (or one after the chart's layers were replaced) reads every column the ring holds, so a chart
    shown after a long time hidden starts with its full history; later calls read only the new columns.
    """

    def __init__(self, grid_px: int = GRID_PX) -> None:
        self.tracker = ShapeTracker(grid_px)
        self._seen: tuple[_Ring, int, int] | None = None  # (layers, phase, samples) at the last call

    def update(self, chart: ShapeSource) -> list[Rect4]:
        """The region of ``chart`` as composed now (call after composing: text is drawn then)."""
        self.tracker.advance_px = chart.advance_px
        ring = chart.layers
        width = ring.width_px
        seen = self._seen
        if seen is None or seen[0] is not ring:
            count = width
        else:
            samples = chart.samples - seen[2]
            moved = (seen[1] - ring.phase) % width  # the phase moves one pixel left per column
            # A whole turn of the ring (or more) since: every column is new.
            count = width if samples >= width or (samples > 0 and moved == 0) else moved
        self._seen = (ring, ring.phase, chart.samples)
        bands = chart.shape_bands()
        if count:
            self.tracker.add_columns(chart.graph_columns(count), sorted(bands, key=lambda b: b.y))
        return self.tracker.rects(bands, chart.width, chart.composed_height)
