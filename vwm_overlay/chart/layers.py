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
from dataclasses import dataclass, field

from .cairo_types import FORMAT_A8, FORMAT_ARGB32, new_image

__all__ = ["LayerChanges", "Layers", "Segment", "relayout_plan"]

#: ``(dst_y, height, src_y)``: after a relayout, rows ``dst_y..`` hold what was at ``src_y..`` (``None``: blank).
Segment = tuple[int, int, int | None]

#: Past this many relayouts or overlay rectangles noted, :class:`LayerChanges` just says that everything changed.
_MAX_NOTED = 256


@dataclass
class LayerChanges:
    """What changed in the graph and overlay layers since they were last taken (see :meth:`Layers.take_changes`).

    Replayed in this order, they turn the layers as taken last time into the layers as they are: the relayouts,
    then the graph columns and the overlay rectangles, whose pixels are read from the layers now.
    """

    #: Too much changed to be listed (or nothing was listed yet): every pixel may differ.
    everything: bool = False
    #: Each relayout, in order, as :func:`relayout_plan` gives it.
    moves: list[list[Segment]] = field(default_factory=list)
    #: Graph ring columns written.
    columns: set[int] = field(default_factory=set)
    #: ``(x, y, width, height)`` of the overlay layer drawn again, within the layers.
    overlay: list[tuple[int, int, int, int]] = field(default_factory=list)


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
        self._changes: LayerChanges | None = None  # listed only once somebody takes them
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
        if self._changes is not None:
            self._changes.columns.add(x)

    def take_changes(self) -> LayerChanges:
        """What changed since the last call (the first call: everything), and start afresh.

        For a consumer that mirrors the layers elsewhere, such as an X server's pixmaps: from the first call on,
        the layers list the columns they write, the rows they move and the overlay areas drawn again.
        """
        changes = self._changes if self._changes is not None else LayerChanges(everything=True)
        self._changes = LayerChanges()
        return changes

    def note_overlay(self, rects: Sequence[tuple[int, int, int, int]]) -> None:
        """The overlay layer was drawn again over ``rects`` (``(x, y, width, height)``, clipped here)."""
        changes = self._changes
        if changes is None or changes.everything:
            return
        for x, y, width, height in rects:
            x0, y0 = max(x, 0), max(y, 0)
            x1, y1 = min(x + width, self.width_px), min(y + height, self.height_px)
            if x1 > x0 and y1 > y0:
                changes.overlay.append((x0, y0, x1 - x0, y1 - y0))
        if len(changes.overlay) > _MAX_NOTED:
            self._changes = LayerChanges(everything=True)

    def relayout(self, first_y: int, segments: Sequence[Segment]) -> None:
        """Rebuild rows from ``first_y`` down in the graph, text and overlay layers.

        ``segments`` are sorted by ``dst_y``; every source lies at or below ``first_y``.  What no segment covers,
        and the part of a segment whose source was beyond the bottom edge, becomes blank.
        """
        plan = relayout_plan(self.height_px, first_y, segments)
        for surface, view, stride in (
            (self.graph, self._graph_bytes, self.argb_stride),
            (self.text, self._text_bytes, self.text_stride),
            (self.overlay, self._overlay_bytes, self.argb_stride),
        ):
            surface.flush()
            _rebuild(view, stride, first_y, plan)
            surface.mark_dirty()
        self._seams.update(_seams(self.height_px, plan))
        changes = self._changes
        if changes is not None and not changes.everything:
            if any(y + height > first_y for _, y, _, height in changes.overlay):
                # Areas noted before this move moved with it: the rows they may have gone to, whole.
                changes.overlay.append((0, first_y, self.width_px, self.height_px - first_y))
            changes.moves.append(plan)
            if len(changes.moves) > _MAX_NOTED:
                self._changes = LayerChanges(everything=True)

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
        self.note_overlay([(0, y0, self.width_px, y1 - y0)])

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


def relayout_plan(height_px: int, first_y: int, segments: Sequence[Segment]) -> list[Segment]:
    """What :meth:`Layers.relayout` does with ``segments``: ``(dst_y, rows, src_y)`` pieces covering rows
    ``[first_y, height_px)`` in order, each ``rows`` tall, copied from ``src_y`` (as they were before), or blank
    (``None``)."""
    plan: list[Segment] = []
    cursor = first_y
    for dst_y, height, src_y in segments:
        if dst_y + height <= first_y:
            continue
        if dst_y >= height_px:
            break
        if dst_y > cursor:
            plan.append((cursor, dst_y - cursor, None))
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
            plan.append((dst_y, copied, src_y))
        if rows > copied:
            plan.append((dst_y + copied, rows - copied, None))
        cursor = dst_y + rows
    if cursor < height_px:
        plan.append((cursor, height_px - cursor, None))
    return plan


def _seams(height_px: int, plan: Sequence[Segment]) -> set[int]:
    """Where the rebuilt rows meet pixels that were not next to them before."""
    seams = set()
    end: int | None = None  # where the previous piece ended, and where its source would go on (None: blank)
    continued: int | None = None
    for dst_y, rows, src_y in plan:
        if dst_y != end or (src_y is None) != (continued is None) or (src_y is not None and src_y != continued):
            seams.add(dst_y)
        end, continued = dst_y + rows, None if src_y is None else src_y + rows
    if end is not None:
        seams.add(end)
    return {y for y in seams if 0 < y < height_px}


def _rebuild(view: memoryview, stride: int, first_y: int, plan: Sequence[Segment]) -> None:
    if not plan:
        return
    end = plan[-1][0] + plan[-1][1]
    tail = memoryview(bytes(view[first_y * stride : end * stride]))
    pieces: list[bytes | memoryview] = []
    for _, rows, src_y in plan:
        if src_y is None:
            pieces.append(bytes(rows * stride))
        else:
            offset = (src_y - first_y) * stride
            pieces.append(tail[offset : offset + rows * stride])
    view[first_y * stride : end * stride] = b"".join(pieces)
