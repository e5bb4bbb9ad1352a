"""Frames without shared memory: a chart's graph ring and text layer mirrored in server pixmaps.

Without MIT-SHM (a remote display, ``VWM_OVERLAY_NO_SHM=1``) every pixel sent crosses the socket.  A scrolling
chart changes one 1 px column of its graph ring per sample and seldom its text, so the server keeps:

- ``ring``: the graph ring as the chart keeps it, each pixel already composed over the underlay; a sample sends
  its new columns only (PutImage of width 1, or a few when samples were missed).  The frame shows it with two
  CopyAreas, the ring's two halves, as the chart composes from its phase;
- ``text``: the text layer (glyphs and their opaque outline), sent where it changed, and ``mask``, the bitmap of
  its coverage, set as the clip mask of the GC that copies ``text`` over the graphs.

That copy equals cairo's OVER because the text layer is binary: every pixel is fully opaque or fully
transparent (glyphs drawn without antialiasing, opaque colours).  A layer with any other alpha is refused
(:meth:`LayerMirror.present` returns False) and the caller sends whole frames instead.

What changed comes from the chart, which lists it (:class:`Changes`): the columns it wrote, the overlay areas its
text pass drew again, and the rows each relayout moved, which move on the server too (CopyArea through a spare
pixmap, as pieces may overlap), so a row that moved is not sent again.  Given no list, or one that says
everything changed, the layers are compared with copies of what was sent.

Frames are assembled in a ``back`` pixmap and copied to the window in one request, so a compositor never shows
the graphs without their text.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from Xlib import X

from .connection import Connection
from .raster import changed_rects
from .wire import put_image

if TYPE_CHECKING:
    import cairocffi
    from Xlib.xobject.drawable import Pixmap, Window
    from Xlib.xobject.fontable import GC

__all__ = ["TEXT_GAP_PX", "Changes", "LayerMirror"]

#: ``(red, green, blue, alpha)`` in 0..1, straight: what the frame shows where the chart draws nothing.
Underlay = tuple[float, float, float, float]

#: Transparent and opaque: the only alpha values a layer copied through its coverage may hold.
_BINARY_ALPHA = b"\x00\xff"

#: Changed text cells closer than this are sent as one rectangle: at one bit per pixel, the unchanged pixels
#: between them cost less than the requests and the work per rectangle.
TEXT_GAP_PX = 64


class Changes(Protocol):
    """What changed in a chart's layers since they were last taken (the chart's ``LayerChanges``)."""

    everything: bool
    moves: list[list[tuple[int, int, int | None]]]
    columns: set[int]
    overlay: list[tuple[int, int, int, int]]


#: ``value`` -> a translation table mapping that byte to 255 and every other to 0.
_SELECT: dict[int, bytes] = {}


class LayerMirror:
    """The server's copy of one chart's graph ring and text layer, for one window (see the module's notes)."""

    def __init__(self, conn: Connection, window: Window) -> None:
        self.conn = conn
        self.window = window
        info = conn.display.display.info
        # The coverage bitmap is cairo's A1 image as it is: pixels from the low bit of each 32-bit unit, rows
        # padded to 32 bits; a server that lays bitmaps out otherwise gets whole frames.
        self.supported = (
            sys.byteorder == "little"
            and info.image_byte_order == X.LSBFirst
            and info.bitmap_format_bit_order == X.LSBFirst
            and info.bitmap_format_scanline_pad == 32
        )
        self._size: tuple[int, int] | None = None
        self._underlay: Underlay | None = None
        self._pixmaps: list[Pixmap] = []
        self._gcs: list[GC] = []
        self._graph_sent = bytearray()  # the graph layer as the ring holds it
        self._text_sent = b""  # the text layer as the text pixmap and the mask hold it
        self._phase = 0
        self._text_colours = (-1, -1)  # the foreground and background of the GC that draws text bitmaps
        self._spares: list[Pixmap] = []  # scratch pixmaps (depth 32 and 1) for moving rows
        #: The mirror holds the layers as their changes were last taken: the listed changes are enough.
        self._listed = False

    def present(
        self,
        graph: cairocffi.ImageSurface,
        phase: int,
        text: cairocffi.ImageSurface,
        width: int,
        rows: int,
        underlay: Underlay,
        changes: Changes | None = None,
    ) -> bool:
        """Update the mirror from the layers and show rows ``[0, rows)``, ``width`` px wide, in the window.

        ``graph`` is the ring (screen column x at ring column ``(phase + x) % width``), ``text`` the text layer in
        screen coordinates, both ARGB32 of one size.  ``changes`` lists what changed in them since the last call
        (the chart's ``Layers.take_changes``); without it, the layers are compared with copies of what was sent.
        False, with nothing shown, if the text layer is not binary or the server's bitmaps are not cairo's: send
        a whole frame then.
        """
        if not self.supported:
            return False
        ring_px, height = graph.get_width(), graph.get_height()
        line = ring_px * 4
        graph.flush()
        text.flush()
        listed = changes is not None and not changes.everything
        if listed and self._listed and (ring_px, height) == self._size and underlay == self._underlay:
            assert changes is not None
            if not self._replay(graph, text, changes, line, height):
                return False
            self._show(phase, width, rows)
            return True
        if self._listed:
            self._size = None  # the copies were not kept up to date: start from nothing
        self._listed = False
        text_now = bytes(text.get_data())
        text_rects = changed_rects(text_now, self._text_sent, line, height, TEXT_GAP_PX) if self._size else None
        if text_rects and not all(_binary(text_now, line, rect) for rect in text_rects):
            return False
        if (ring_px, height) != self._size or underlay != self._underlay:
            self._reset(ring_px, height, underlay, phase)
            text_rects = changed_rects(text_now, self._text_sent, line, height, TEXT_GAP_PX)
            if not all(_binary(text_now, line, rect) for rect in text_rects):
                return False
        ring, text_px, _, mask = self._pixmaps
        gc, text_gc, mask_gc, _ = self._gcs
        for x, y, w, h in self._graph_changes(graph, phase, line, height):
            pixels = _composed(graph, underlay, x, y, w, h)
            put_image(self.conn, ring.id, gc.id, depth=32, x=x, y=y, width=w, height=h, data=pixels, line=w * 4)
        for x, y, w, h in text_rects or ():
            pixels = b"".join(text_now[r * line + x * 4 : r * line + (x + w) * 4] for r in range(y, y + h))
            self._put_text(text_px, pixels, x, y, w, h)
            bits, bits_line = _coverage(text, x, y, w, h)
            put_image(self.conn, mask.id, mask_gc.id, depth=1, x=x, y=y, width=w, height=h, data=bits, line=bits_line)
        if text_rects:
            self._text_sent = text_now
            # The server turns a clip mask into a region when it is set: set it again to take the new text.
            text_gc.change(clip_mask=mask.id)
        # From now on the changes the layers list are enough (the copies are dropped: they would go stale).
        self._listed = changes is not None
        if self._listed:
            self._graph_sent, self._text_sent = bytearray(), b""
        self._show(phase, width, rows)
        return True

    def _show(self, phase: int, width: int, rows: int) -> None:
        """Assemble rows ``[0, rows)`` of the frame in ``back`` and copy it to the window."""
        ring_px, height = self._size or (0, 0)
        ring, text_px, back, _ = self._pixmaps
        gc, text_gc, _, _ = self._gcs
        width, rows = min(width, ring_px), min(rows, height)
        if width > 0 and rows > 0:
            first = min(ring_px - phase, width)
            back.copy_area(gc.id, ring.id, phase, 0, first, rows, 0, 0)
            if width > first:
                back.copy_area(gc.id, ring.id, 0, 0, width - first, rows, first, 0)
            back.copy_area(text_gc.id, text_px.id, 0, 0, width, rows, 0, 0)
            self.window.copy_area(gc.id, back.id, 0, 0, width, rows, 0, 0)

    def _replay(
        self, graph: cairocffi.ImageSurface, text: cairocffi.ImageSurface, changes: Changes, line: int, height: int
    ) -> bool:
        """Bring the mirror up to date from the listed changes: rows moved on the server, new columns and
        redrawn text sent.  False (and the mirror to be sent afresh) if the redrawn text is not binary."""
        data = memoryview(text.get_data())
        rects = _joined(changes.overlay, TEXT_GAP_PX)
        if not all(_binary(data, line, rect) for rect in rects):
            self._size = None
            return False
        ring, text_px, _, mask = self._pixmaps
        gc, text_gc, mask_gc, _ = self._gcs
        for plan in changes.moves:
            self._move(plan)
        for x, w in _runs(sorted(changes.columns)):
            pixels = _composed(graph, self._underlay or (0.0, 0.0, 0.0, 0.0), x, 0, w, height)
            put_image(self.conn, ring.id, gc.id, depth=32, x=x, y=0, width=w, height=height, data=pixels, line=w * 4)
        for x, y, w, h in rects:
            pixels = b"".join(data[r * line + x * 4 : r * line + (x + w) * 4] for r in range(y, y + h))
            self._put_text(text_px, pixels, x, y, w, h)
            bits, bits_line = _coverage(text, x, y, w, h)
            put_image(self.conn, mask.id, mask_gc.id, depth=1, x=x, y=y, width=w, height=h, data=bits, line=bits_line)
        if rects or changes.moves:
            text_gc.change(clip_mask=mask.id)  # the mask changed: the server's region of it must be made again
        return True

    def _move(self, plan: Sequence[tuple[int, int, int | None]]) -> None:
        """Move rows on the server as the chart's relayout moved them in its layers (see ``relayout_plan``).

        The rows are read from a copy of the rebuilt part, as the layers do, since pieces may overlap.
        """
        if not plan or all(src == dst for dst, _, src in plan):
            return
        ring_px = self._size[0] if self._size else 0
        first, end = plan[0][0], plan[-1][0] + plan[-1][1]
        ring, text_px, _, mask = self._pixmaps
        gc, _, mask_gc, _ = self._gcs
        spare, spare_mask = self._spares
        for pixmap, scratch, copy_gc, blank in (
            (ring, spare, gc, True),
            (text_px, spare, gc, False),
            (mask, spare_mask, mask_gc, True),
        ):
            scratch.copy_area(copy_gc.id, pixmap.id, 0, first, ring_px, end - first, 0, first)
            for dst, rows, src in plan:
                if src is None:
                    if blank:  # the ring's underlay, the mask's nothing (the text pixmap shows only through it)
                        pixmap.fill_rectangle(copy_gc.id, 0, dst, ring_px, rows)
                elif src != dst:
                    pixmap.copy_area(copy_gc.id, scratch.id, 0, src, ring_px, rows, 0, dst)

    def _put_text(self, text_px: Pixmap, pixels: bytes, x: int, y: int, w: int, h: int) -> None:
        """Send a rectangle of the text layer: one bit per pixel when it holds at most two colours, as text does.

        Only the covered pixels matter (the mask hides the rest), and they are the text's colour or its outline's:
        a bitmap drawn in those two colours is 32 times smaller than the pixels.
        """
        colours = set(memoryview(pixels).cast("I"))
        colours.discard(0)
        if len(colours) > 2:
            gc = self._gcs[0]
            put_image(self.conn, text_px.id, gc.id, depth=32, x=x, y=y, width=w, height=h, data=pixels, line=w * 4)
            return
        foreground, background = (*sorted(colours), 0, 0)[:2]
        bits, bits_line = _bits_of(pixels, w, h, foreground, background)
        gc = self._gcs[3]
        if (foreground, background) != self._text_colours:
            self._text_colours = (foreground, background)
            gc.change(foreground=foreground, background=background)
        put_image(
            self.conn,
            text_px.id,
            gc.id,
            depth=1,
            x=x,
            y=y,
            width=w,
            height=h,
            data=bits,
            line=bits_line,
            image_format=X.XYBitmap,
        )

    def destroy(self) -> None:
        """Free the pixmaps and GCs (the window may be gone: the connection tolerates that)."""
        for gc in self._gcs:
            gc.free()
        for pixmap in self._pixmaps + self._spares:
            pixmap.free()
        self._gcs, self._pixmaps, self._spares = [], [], []
        self._size = None

    # -- the parts ----------------------------------------------------------------------------

    def _reset(self, ring_px: int, height: int, underlay: Underlay, phase: int) -> None:
        """New pixmaps for a new size or underlay: the ring all underlay, no text; the layers are diffed from there."""
        self.destroy()
        window = self.window
        ring, text_px, back = (window.create_pixmap(ring_px, height, 32) for _ in range(3))
        mask = window.create_pixmap(ring_px, height, 1)
        self._spares = [window.create_pixmap(ring_px, height, 32), window.create_pixmap(ring_px, height, 1)]
        # No GraphicsExpose/NoExpose events: every copy is between pixmaps whose whole content is known.
        gc = window.create_gc(graphics_exposures=False, foreground=_pixel(underlay))
        text_gc = window.create_gc(graphics_exposures=False)
        mask_gc = mask.create_gc(graphics_exposures=False, foreground=0)
        colour_gc = window.create_gc(graphics_exposures=False)
        self._text_colours = (-1, -1)
        ring.fill_rectangle(gc.id, 0, 0, ring_px, height)  # what a transparent graph composes to
        mask.fill_rectangle(mask_gc.id, 0, 0, ring_px, height)
        text_gc.change(clip_mask=mask.id)
        self._pixmaps, self._gcs = [ring, text_px, back, mask], [gc, text_gc, mask_gc, colour_gc]
        self._size, self._underlay, self._phase = (ring_px, height), underlay, phase
        self._graph_sent = bytearray(ring_px * height * 4)
        self._text_sent = bytes(ring_px * height * 4)

    def _graph_changes(
        self, graph: cairocffi.ImageSurface, phase: int, line: int, height: int
    ) -> list[tuple[int, int, int, int]]:
        """The ring's rectangles to send: the columns written since the last frame, then any other change."""
        ring_px = line // 4
        now = bytes(graph.get_data())
        rects: list[tuple[int, int, int, int]] = []
        new_columns = (self._phase - phase) % ring_px
        if new_columns:
            # The ring moved left by one column per sample: the new ones are at [phase, phase + new_columns).
            now_px, sent_px = memoryview(now).cast("I"), memoryview(self._graph_sent).cast("I")
            for x in range(phase, phase + new_columns):
                column = x % ring_px
                sent_px[column::ring_px] = now_px[column::ring_px]
            end = phase + new_columns
            rects.append((phase, 0, min(end, ring_px) - phase, height))
            if end > ring_px:
                rects.append((0, 0, end - ring_px, height))
            self._phase = phase
        if now != self._graph_sent:
            # Rows moved (a task came or went), lanes shown or hidden, a row blanked: send what differs.
            rects += changed_rects(now, self._graph_sent, line, height)
            self._graph_sent[:] = now
        return rects


def _joined(rects: Sequence[tuple[int, int, int, int]], gap: int) -> list[tuple[int, int, int, int]]:
    """``rects`` with those on the same rows joined when less than ``gap`` px apart (fewer, wider requests)."""
    joined: list[tuple[int, int, int, int]] = []
    for x, y, w, h in sorted(rects, key=lambda r: (r[1], r[3], r[0])):
        if joined:
            px, py, pw, ph = joined[-1]
            if (py, ph) == (y, h) and x - (px + pw) < gap:
                joined[-1] = (px, py, max(px + pw, x + w) - px, ph)
                continue
        joined.append((x, y, w, h))
    return joined


def _runs(columns: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted ``columns`` as ``(x, width)`` runs of consecutive ones."""
    runs: list[tuple[int, int]] = []
    for x in columns:
        if runs and runs[-1][0] + runs[-1][1] == x:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((x, 1))
    return runs


def _binary(data: bytes | memoryview, line: int, rect: tuple[int, int, int, int]) -> bool:
    """Whether every pixel of ``rect`` is fully opaque or fully transparent (and then all zero, premultiplied)."""
    x, y, w, h = rect
    for r in range(y, y + h):
        row = bytes(data[r * line + x * 4 : r * line + (x + w) * 4])
        alphas = row[3::4] if sys.byteorder == "little" else row[0::4]
        if alphas.translate(None, _BINARY_ALPHA):
            return False
    return True


def _composed(graph: cairocffi.ImageSurface, underlay: Underlay, x: int, y: int, w: int, h: int) -> bytes:
    """The graph's rectangle composed over the underlay, as the whole-frame path composes it (cairo, OVER)."""
    import cairocffi

    surface = cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, w, h)
    ctx = cairocffi.Context(surface)
    ctx.set_operator(cairocffi.OPERATOR_SOURCE)
    ctx.set_source_rgba(*underlay)
    ctx.paint()
    ctx.set_operator(cairocffi.OPERATOR_OVER)
    ctx.set_source_surface(graph, -x, -y)
    ctx.paint()
    surface.flush()
    return bytes(surface.get_data())


def _coverage(text: cairocffi.ImageSurface, x: int, y: int, w: int, h: int) -> tuple[bytes, int]:
    """The rectangle's coverage as a 1-bit image (cairo's A1: 32-bit padded rows) and its row length."""
    import cairocffi

    surface = cairocffi.ImageSurface(cairocffi.FORMAT_A1, w, h)
    ctx = cairocffi.Context(surface)
    ctx.set_operator(cairocffi.OPERATOR_SOURCE)
    ctx.set_source_surface(text, -x, -y)
    ctx.paint()
    surface.flush()
    return bytes(surface.get_data()), surface.get_stride()


def _bits_of(pixels: bytes, w: int, h: int, foreground: int, background: int) -> tuple[bytes, int]:
    """A 1-bit image (cairo's A1 layout) of ``w`` x ``h`` native 32-bit ``pixels``: set where ``foreground`` is.

    Read from one byte of each pixel where the two colours differ (the alpha byte for a single colour), mapped
    to 0 or 255 in C, then thresholded by cairo.
    """
    import cairocffi

    fg, bg = foreground.to_bytes(4, sys.byteorder), background.to_bytes(4, sys.byteorder)
    channel = next((i for i in range(4) if fg[i] != bg[i]), 3 if sys.byteorder == "little" else 0)
    table = _SELECT.get(fg[channel])
    if table is None:
        table = _SELECT[fg[channel]] = bytes(255 if i == fg[channel] else 0 for i in range(256))
    plane = pixels[channel::4].translate(table)
    stride = (w + 3) & ~3
    if stride != w:
        pad = bytes(stride - w)
        plane = b"".join(plane[r * w : (r + 1) * w] + pad for r in range(h))
    source = cairocffi.ImageSurface.create_for_data(bytearray(plane), cairocffi.FORMAT_A8, w, h, stride)
    surface = cairocffi.ImageSurface(cairocffi.FORMAT_A1, w, h)
    ctx = cairocffi.Context(surface)
    ctx.set_operator(cairocffi.OPERATOR_SOURCE)
    ctx.set_source_surface(source, 0, 0)
    ctx.paint()
    surface.flush()
    return bytes(surface.get_data()), surface.get_stride()


def _pixel(underlay: Underlay) -> int:
    """The underlay as one 32-bit pixel, converted by cairo as the whole-frame path converts it."""
    data = _composed_pixel(underlay)
    return int.from_bytes(data, sys.byteorder)


def _composed_pixel(underlay: Underlay) -> bytes:
    import cairocffi

    surface = cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, 1, 1)
    ctx = cairocffi.Context(surface)
    ctx.set_operator(cairocffi.OPERATOR_SOURCE)
    ctx.set_source_rgba(*underlay)
    ctx.paint()
    surface.flush()
    return bytes(surface.get_data())[:4]
