"""The chart's pixel stores: graph, text, overlay and background image surfaces, allocated once per size.

- ``graph`` (ARGB32) is a ring buffer along x: each sample writes one 1 px column at ``phase`` and moves the
  phase one pixel left, so the newest column is read first and history scrolls right without ever being moved.
- ``text`` (A8) is the coverage of text and tree lines; ``overlay`` (ARGB32) is that text with its shadow,
  composed over the graphs.  Both are in screen coordinates.
- ``background`` (ARGB32) holds row shading, divider lines and the periodic markers, in screen coordinates.

Rows span the full width, so moving a row (with its history) is a copy of one contiguous byte range per layer.
"""

from __future__ import annotations

from collections.abc import Sequence

from .cairo_types import FORMAT_A8, FORMAT_ARGB32, new_image

__all__ = ["Layers", "Segment"]

#: ``(dst_y, height, src_y)``: after a relayout, rows ``dst_y..`` hold what was at ``src_y..`` (``None``: blank).
Segment = tuple[int, int, int | None]


class Layers:
    """Surfaces of one size; a bigger size means a new ``Layers`` (see :meth:`grown`)."""

    def __init__(self, width_px: int, height_px: int) -> None:
        self.width_px = width_px
        self.height_px = height_px
        self.graph = new_image(FORMAT_ARGB32, width_px, height_px)
        self.text = new_image(FORMAT_A8, width_px, height_px)
        self.overlay = new_image(FORMAT_ARGB32, width_px, height_px)
        self.background = new_image(FORMAT_ARGB32, width_px, height_px)
        self.phase = 0
        #: The background holds no pixel (as allocated, or cleared since): a transparent one needs no building.
        self.background_blank = True
        #: Lines where rows that moved meet what was not beside them before, since the text pass last took them
        #: (see :meth:`take_seams`).
        self._seams: set[int] = set()
        self.argb_stride = self.graph.get_stride()
        self.text_stride = self.text.get_stride()
        # Views kept for the surfaces' lifetime: cairo never reallocates an image surface's pixels.
        self._graph_px = memoryview(self.graph.get_data()).cast("I")
        self._graph_bytes = memoryview(self.graph.get_data())
        self._text_bytes = memoryview(self.text.get_data())
        self._overlay_bytes = memoryview(self.overlay.get_data())
        self._background_bytes = memoryview(self.background.get_data())

    def advance_phase(self) -> int:
        """Move the ring one column (the newest is read first); returns the new column's x."""
        self.phase = (self.phase - 1) % self.width_px
        return self.phase

    def put_column(self, x: int, pixels: bytes) -> None:
        """Write ``height_px`` ARGB32 pixels as the graph column at ``x``."""
        self.graph.flush()
        self._graph_px[x :: self.argb_stride // 4] = memoryview(pixels).cast("I")
        self.graph.mark_dirty()

    def relayout(self, first_y: int, segments: Sequence[Segment]) -> None:
        """Rebuild rows from ``first_y`` down in the graph, text and overlay layers.

        ``segments`` are sorted by ``dst_y``; every source lies at or below ``first_y``.  What no segment covers,
        and the part of a segment whose source was beyond the bottom edge, becomes blank.
        """
        for surface, view, stride in (
            (self.graph, self._graph_bytes, self.argb_stride),
            (self.text, self._text_bytes, self.text_stride),
            (self.overlay, self._overlay_bytes, self.argb_stride),
        ):
            surface.flush()
            _rebuild(view, stride, self.height_px, first_y, segments)
            surface.mark_dirty()
        self._seams.update(_seams(self.height_px, first_y, segments))

    def take_seams(self) -> list[int]:
        """The ``y`` of every seam left by :meth:`relayout` since the last call, and forget them.

        A row's text shadow spills one pixel onto its neighbours' edge lines; rows that moved took their own
        pixels along, not their new neighbours' spill, so the overlay is right everywhere but on the two lines
        ``y - 1`` and ``y`` of each seam.
        """
        seams = sorted(self._seams)
        self._seams.clear()
        return seams

    def clear_text_rows(self, y: int, height: int) -> None:
        """Blank the text and overlay layers over rows ``y..y+height``."""
        y0, y1 = max(y, 0), min(y + height, self.height_px)
        if y1 <= y0:
            return
        for surface, view, stride in (
            (self.text, self._text_bytes, self.text_stride),
            (self.overlay, self._overlay_bytes, self.argb_stride),
        ):
            surface.flush()
            view[y0 * stride : y1 * stride] = bytes((y1 - y0) * stride)
            surface.mark_dirty()

    def set_background(self, pixels: bytes) -> None:
        """Replace the whole background with ``height_px`` rows of ARGB32 pixels."""
        self.background.flush()
        self._background_bytes[:] = pixels
        self.background.mark_dirty()
        self.background_blank = False

    def clear_background(self) -> None:
        """Make the whole background transparent (nothing to do when it already is)."""
        if not self.background_blank:
            self.set_background(bytes(len(self._background_bytes)))
            self.background_blank = True

    def graph_pixel(self, x: int, y: int) -> int:
        """The graph pixel at screen column ``x`` (0 = newest), for tests and tools."""
        self.graph.flush()
        return int(self._graph_px[y * (self.argb_stride // 4) + (self.phase + x) % self.width_px])

    def grown(self, width_px: int, height_px: int) -> Layers:
        """New layers of at least this size, holding this content; the graph is unrolled to phase 0."""
        new = Layers(max(width_px, self.width_px), max(height_px, self.height_px))
        for surface in (self.graph, self.text, self.overlay):
            surface.flush()
        rows = self.height_px
        old_px, new_px = self._graph_px, new._graph_px
        old_w, new_w = self.argb_stride // 4, new.argb_stride // 4
        p = self.phase
        for y in range(rows):
            src = y * old_w
            dst = y * new_w
            # Unroll the ring: screen column x was at (phase + x) % width.
            new_px[dst : dst + old_w - p] = old_px[src + p : src + old_w]
            new_px[dst + old_w - p : dst + old_w] = old_px[src : src + p]
        for old_view, new_view, old_stride, new_stride in (
            (self._text_bytes, new._text_bytes, self.text_stride, new.text_stride),
            (self._overlay_bytes, new._overlay_bytes, self.argb_stride, new.argb_stride),
        ):
            for y in range(rows):
                new_view[y * new_stride : y * new_stride + old_stride] = old_view[y * old_stride : (y + 1) * old_stride]
        for surface in (new.graph, new.text, new.overlay):
            surface.mark_dirty()
        return new


def _seams(height_px: int, first_y: int, segments: Sequence[Segment]) -> set[int]:
    """Where the rebuilt rows from ``first_y`` down meet pixels that were not next to them before."""
    seams = {first_y}
    end: int | None = None  # where the previous segment ended, and where its source would continue
    continued: int | None = None
    for dst_y, height, src_y in segments:
        if dst_y + height <= first_y:
            continue
        if dst_y >= height_px:
            break
        if dst_y != end or (src_y is None) != (continued is None) or (src_y is not None and src_y != continued):
            seams.add(max(dst_y, first_y))
            if end is not None:
                seams.add(end)
        end, continued = dst_y + height, None if src_y is None else src_y + height
    if end is not None:
        seams.add(end)
    return {y for y in seams if 0 < y < height_px}


def _rebuild(view: memoryview, stride: int, height_px: int, first_y: int, segments: Sequence[Segment]) -> None:
    if first_y >= height_px:
        return
    tail = bytes(view[first_y * stride : height_px * stride])
    pieces: list[bytes | memoryview] = []
    tail_view = memoryview(tail)
    cursor = first_y
    for dst_y, height, src_y in segments:
        if dst_y + height <= first_y:
            continue
        if dst_y >= height_px:
            break
        if dst_y > cursor:
            pieces.append(bytes((dst_y - cursor) * stride))
        if dst_y < cursor:
            # Starts above the rebuilt part: only its rows from first_y down are rebuilt.
            skip = cursor - dst_y
            dst_y, height = cursor, height - skip
            src_y = None if src_y is None else src_y + skip
        rows = min(height, height_px - dst_y)
        copied = 0 if src_y is None else max(0, min(rows, height_px - src_y))
        if copied and src_y is not None and src_y < first_y:
            copied = 0  # its pixels were not kept: blank rather than wrong
        if copied:
            assert src_y is not None
            offset = (src_y - first_y) * stride
            pieces.append(tail_view[offset : offset + copied * stride])
        if rows > copied:
            pieces.append(bytes((rows - copied) * stride))
        cursor = dst_y + rows
    if cursor < height_px:
        pieces.append(bytes((height_px - cursor) * stride))
    view[first_y * stride : height_px * stride] = b"".join(pieces)
