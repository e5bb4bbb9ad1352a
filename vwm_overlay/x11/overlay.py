"""The overlay window: a click-through ARGB window stacked just above a client's frame.

One :class:`OverlayWindow` per shown chart.  With a compositing manager the
chart's alpha blends over the client.  Without one, alpha would show as black,
so the window cuts itself to a coarse SHAPE bounding region: the one the caller
derives from the chart's geometry, or else one scanned from the pixels (one
band per chart row, runs of drawn columns merged).  The last region sent is
kept, and an unchanged one is not sent again.

Frames are composed into :meth:`OverlayWindow.surface`.  On a local server with
MIT-SHM that surface lives in memory shared with the server, and uploading is
one ShmPutImage request with no copy of the pixels (see :mod:`.shm`; the
environment variable ``VWM_OVERLAY_NO_SHM=1`` or ``shm=False`` turns it off).
Otherwise, and for any other surface, pixels go out as PutImage requests built
here in wire format (one copy from the surface, no per-field packing) and queued
on python-xlib's connection like any other request, one strip under the
server's request limit at a time.

A hidden overlay sends nothing to the server: geometry and mode changes wait
until :meth:`OverlayWindow.show`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from Xlib import X
from Xlib.ext import shape
from Xlib.protocol import rq
from Xlib.xobject.drawable import Window

from .connection import Connection
from .errors import X11UnsupportedError
from .events import Rect
from .lean import Changes, LayerMirror, Underlay
from .raster import BAND_HEIGHT, band_mask, band_rects, to_server_order
from .shm import Segment, shm_for
from .wire import put_image, shape_rectangles

_NATIVE_LSB_FIRST = sys.byteorder == "little"

if TYPE_CHECKING:
    import cairocffi

__all__ = ["OverlayWindow", "ShapeRect", "argb_visual"]

log = logging.getLogger(__name__)

#: ``(x, y, width, height)`` of one rectangle of a bounding region.
ShapeRect = tuple[int, int, int, int]

# Rectangles per SHAPE request before the mask is coarsened to one span per band.
_SHAPE_RECT_SIZE = 8
_SHAPE_HEADER = 16


def argb_visual(conn: Connection) -> int:
    """The id of a 32-bit TrueColor visual with the usual ARGB masks.

    Raises :class:`X11UnsupportedError` if the screen has none.
    """
    for depth in conn.screen.allowed_depths:
        if depth.depth != 32:
            continue
        for visual in depth.visuals:
            if (
                visual.visual_class == X.TrueColor
                and visual.red_mask == 0xFF0000
                and visual.green_mask == 0x00FF00
                and visual.blue_mask == 0x0000FF
            ):
                return int(visual.visual_id)
    raise X11UnsupportedError("the X screen has no 32-bit ARGB visual")


class OverlayWindow:
    """An override-redirect, click-through, 32-bit window over one client.

    ``composited`` says whether a compositing manager runs (alpha blends);
    switch it with :meth:`set_composited` when that changes.  ``shm=False``
    never uses shared memory for :meth:`surface`.
    """

    def __init__(
        self, conn: Connection, rect: Rect, *, above: int | None = None, composited: bool = True, shm: bool = True
    ) -> None:
        if not conn.display.has_extension("SHAPE"):
            raise X11UnsupportedError("the X server lacks the SHAPE extension (needed for click-through)")
        self.conn = conn
        self.rect = rect
        self.above = above
        self.composited = composited
        self.visible = False
        visual = argb_visual(conn)
        self._colormap = conn.root.create_colormap(visual, X.AllocNone)
        # A 32-bit window on a 24-bit root needs its own colormap and an explicit
        # border pixel, or CreateWindow fails with BadMatch.
        self.window: Window = conn.root.create_window(
            rect.x,
            rect.y,
            max(1, rect.width),
            max(1, rect.height),
            0,
            32,
            X.InputOutput,
            visual,
            background_pixel=0,
            border_pixel=0,
            override_redirect=True,
            colormap=self._colormap,
            # Without a compositor an uncovered overlay loses its pixels: Expose says when.
            event_mask=X.ExposureMask,
        )
        self.window.set_wm_name("vwm-overlay")
        self.window.set_wm_class("vwm-overlay", "VwmOverlay")
        # An empty input region: every click falls through to the client below.
        shape.rectangles(self.window, shape.SO.Set, shape.SK.Input, X.Unsorted, 0, 0, [])
        if not composited:
            self._clear_shape()
        self._gc = self.window.create_gc()
        self._bands: dict[int, tuple[bytes, list[ShapeRect]]] = {}
        #: The bounding region last sent (None: unshaped, as with a compositor).
        self._region: list[ShapeRect] | None = None
        self._rows = 0  # rows drawn since shown
        self._applied: tuple[Rect, int | None] | None = None
        self._dirty_mode = False
        self._last: tuple[cairocffi.ImageSurface, int, list[ShapeRect] | None] | None = None
        self._lsb_first = conn.display.display.info.image_byte_order == X.LSBFirst
        self._per_request_bytes = conn.display.display.info.max_request_length
        self._shm = shm_for(conn) if shm else None
        self._segment: Segment | None = None  # grows, never shrinks
        self._seg_id: int | None = None  # the segment's id on the server
        self._canvas: cairocffi.ImageSurface | None = None  # what surface() returned
        self._mirror: LayerMirror | None = None  # the chart's layers on the server, without shared memory

    # -- placement --------------------------------------------------------------

    def place(self, rect: Rect, above: int | None = None) -> None:
        """Cover ``rect`` (root coordinates), stacked directly above the window ``above``.

        ``above`` is the client's frame, so windows stacked above the client stay
        above the overlay.  None keeps the previous sibling.
        """
        self.rect = rect
        if above is not None:
            self.above = above
        if self.visible:
            self._apply_geometry()

    def restack(self, above: int | None = None) -> None:
        """Stack directly above ``above`` again (after the frame was raised or lowered)."""
        if above is not None:
            self.above = above
        if self.visible:
            self._applied = None
            self._apply_geometry()

    def _apply_geometry(self) -> None:
        wanted = (self.rect, self.above)
        if wanted == self._applied:
            return
        self._applied = wanted
        x, y = self.rect.x, self.rect.y
        width, height = max(1, self.rect.width), max(1, self.rect.height)
        if self.above is None:
            self.window.configure(x=x, y=y, width=width, height=height, stack_mode=X.Above)
        else:
            self.window.configure(x=x, y=y, width=width, height=height, sibling=self.above, stack_mode=X.Above)

    # -- visibility -----------------------------------------------------------------

    def show(self) -> None:
        """Map the overlay where it belongs; upload a frame right after."""
        if self.visible:
            return
        self.visible = True
        if self._dirty_mode:
            self._dirty_mode = False
            if self.composited:
                self._unshape()
            else:
                self._clear_shape()
        self._applied = None
        self._apply_geometry()
        self.window.map()

    def hide(self) -> None:
        """Unmap the overlay; nothing more is sent until :meth:`show`."""
        if not self.visible:
            return
        self.visible = False
        self.window.unmap()
        # What was drawn is gone with the unmap; start the next showing clean.
        self._bands.clear()
        self._rows = 0
        self._last = None
        if not self.composited:
            self._clear_shape()

    def set_composited(self, composited: bool) -> None:
        """Switch between alpha blending (compositor) and a SHAPE cut-out (no compositor)."""
        if composited == self.composited:
            return
        self.composited = composited
        self._bands.clear()
        if not self.visible:
            self._dirty_mode = True
            return
        if composited:
            self._unshape()
        else:
            self._clear_shape()
        # Parts newly inside (or outside) the shape were cleared: send the frame again.
        self.redraw()

    def handle(self, event: rq.Event) -> bool:
        """Take an event for this window; an Expose re-sends the last frame.  True if it was ours."""
        if event.type != X.Expose or event.window.id != self.window.id:
            return False
        if event.count == 0:  # the last of a series: one redraw covers them all
            self.redraw()
        return True

    def redraw(self) -> None:
        """Send the last uploaded frame again (after an Expose or a mode switch)."""
        if self.visible and self._last is not None:
            surface, rows, region = self._last
            self._rows = 0
            self.upload(surface, rows, shape=region)

    def destroy(self) -> None:
        """Destroy the window and free its server resources and shared memory (tolerates a lost window)."""
        self.visible = False
        self._drop_canvas()
        try:
            self._release_segment()
            if self._mirror is not None:
                self._mirror.destroy()
        finally:
            self.window.destroy()
            self._gc.free()
            self._colormap.free()

    # -- the surface to compose into ----------------------------------------------------

    @property
    def shared(self) -> bool:
        """Whether frames composed into :meth:`surface` reach the server through shared memory."""
        return self._seg_id is not None

    @property
    def put_image_only(self) -> bool:
        """Whether frames cross the socket (no shared memory with the server): then send layers, not frames."""
        return self._shm is None or not self._shm.usable

    @property
    def busy(self) -> bool:
        """Whether the server may still be reading the last frame from :meth:`surface`: don't draw into it yet.

        At once after an upload, the server has seldom finished; by the next
        sample it has long done so.  A frame that finds it still busy is best skipped.
        """
        return self._shm is not None and self._seg_id is not None and self._shm.busy(self._seg_id)

    def surface(self, width: int, height: int) -> cairocffi.ImageSurface:
        """An ARGB32 surface of ``width`` x ``height`` to compose frames into for :meth:`upload`.

        The same surface while the size stays, so compose into it what changed.
        Shared with the server when possible (then mind :meth:`busy`), else a
        plain image surface.  A new size finishes the previous surface.
        """
        import cairocffi

        width, height = max(1, width), max(1, height)
        canvas = self._canvas
        if canvas is not None and (canvas.get_width(), canvas.get_height()) == (width, height):
            return canvas
        self._drop_canvas()
        size = width * height * 4
        if self._shm is not None and (self._segment is None or self._segment.size < size):
            self._release_segment()
            self._attach_segment(size)
        if self._segment is not None:
            canvas = cairocffi.ImageSurface.create_for_data(
                self._segment.memory, cairocffi.FORMAT_ARGB32, width, height, width * 4
            )
        else:
            canvas = cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, width, height)
        self._canvas = canvas
        return canvas

    def _attach_segment(self, size: int) -> None:
        shm = self._shm
        if shm is None or not shm.usable:
            self._shm = None
            return
        try:
            segment = Segment(size)
        except OSError as err:
            log.info("no shared memory for an overlay (%s); sending images with PutImage", err)
            self._shm = None
            return
        try:
            seg_id = shm.attach(segment)
        except BaseException:
            segment.close()
            raise
        if seg_id is None:
            segment.close()
            self._shm = None
            return
        self._segment, self._seg_id = segment, seg_id

    def _drop_canvas(self) -> None:
        canvas, self._canvas = self._canvas, None
        if canvas is None:
            return
        if self._last is not None and self._last[0] is canvas:
            self._last = None
        # Drawing into a finished surface does nothing, so a stale context cannot reach freed memory.
        canvas.finish()

    def _release_segment(self) -> None:
        segment, seg_id = self._segment, self._seg_id
        self._segment = self._seg_id = None
        if segment is None:
            return
        try:
            if self._shm is not None and seg_id is not None:
                self._shm.detach(seg_id)
        finally:
            segment.close()

    # -- drawing ----------------------------------------------------------------------

    def upload(
        self,
        surface: cairocffi.ImageSurface,
        rows: int | None = None,
        *,
        first_row: int = 0,
        shape: Sequence[ShapeRect] | None = None,
    ) -> None:
        """Send rows ``[first_row, rows)`` of an ARGB32 ``surface`` to the overlay's top-left.

        ``rows`` is how many rows from the top the chart composed (default: all);
        rows below it that were drawn before are cleared.  ``shape`` is the region
        that holds drawn pixels (sorted by y, then x), used without a compositor;
        without it that region is scanned from the pixels' alpha.  Does nothing
        while hidden.  The surface from :meth:`surface` goes out through shared
        memory when it can, any other with PutImage.
        """
        import cairocffi

        if surface.get_format() != cairocffi.FORMAT_ARGB32:
            raise ValueError("the overlay takes ARGB32 surfaces only")
        if not self.visible:
            return
        width, height = surface.get_width(), surface.get_height()
        end = height if rows is None else max(0, min(rows, height))
        first = max(0, min(first_row, end))
        surface.flush()
        region = None if shape is None else list(shape)
        if not self.composited:
            # Shape first: PutImage outside the bounding region is thrown away.
            if region is None:
                self._update_shape(surface, first, end)
            else:
                self.set_shape(region)
        if surface is self._canvas and self._shm is not None and self._seg_id is not None:
            if end > first:
                self._shm.put_image(self.window.id, self._gc.id, self._seg_id, width, height, first, end - first)
                self.conn.flush()
        else:
            self._put_rows(surface, first, end)
        if end < self._rows:
            # The chart shrank: the rows it no longer composes must not linger.
            self.window.clear_area(0, end, width, self._rows - end)
        self._last = (surface, end, region)
        self._rows = end

    def upload_layers(
        self,
        graph: cairocffi.ImageSurface,
        phase: int,
        text: cairocffi.ImageSurface,
        width: int,
        rows: int,
        underlay: Underlay,
        *,
        shape: Sequence[ShapeRect] | None = None,
        changes: Changes | None = None,
    ) -> bool:
        """Show a chart from its layers kept on the server, sending only what changed (see :mod:`.lean`).

        ``graph`` is the chart's graph ring at ``phase``, ``text`` its text layer, ``underlay`` the colour under
        both; rows ``[0, rows)`` are shown, ``width`` px wide.  ``shape`` as for :meth:`upload`, required without
        a compositor.  ``changes``: what changed in the layers since the last call (see :class:`.lean.Changes`);
        without it, the layers are compared with copies of what was sent.  False if the layers cannot be
        mirrored exactly: then :meth:`upload` a whole frame.
        """
        if not self.visible:
            return True
        if self._mirror is None:
            self._mirror = LayerMirror(self.conn, self.window)
        if not self._mirror.supported:
            return False
        if not self.composited:
            self.set_shape(shape or [])
        if not self._mirror.present(graph, phase, text, width, rows, underlay, changes):
            return False
        if rows < self._rows:
            self.window.clear_area(0, rows, width, self._rows - rows)
        # An Expose or a mode switch is answered by presenting again, from the server's copy.
        self._last = None
        self._rows = rows
        return True

    def _put_rows(self, surface: cairocffi.ImageSurface, first: int, end: int) -> None:
        data = memoryview(surface.get_data())
        stride, width = surface.get_stride(), surface.get_width()
        line = width * 4
        if stride == line:
            pixels: bytes | memoryview = data[first * stride : end * stride]
        else:
            pixels = b"".join(data[r * stride : r * stride + line] for r in range(first, end))
        if self._lsb_first != _NATIVE_LSB_FIRST:
            pixels = to_server_order(bytes(pixels), self._lsb_first)
        # The only copy of the pixels on this side: surface memory into the requests.
        put_image(
            self.conn,
            self.window.id,
            self._gc.id,
            depth=32,
            x=0,
            y=first,
            width=width,
            height=end - first,
            data=pixels,
            line=line,
        )

    # -- the bounding shape (no compositor) ----------------------------------------------

    def set_shape(self, rects: Sequence[ShapeRect]) -> None:
        """Cut the window to ``rects`` (sorted by y, then x; YX-banded) unless that is the region it has.

        Only without a compositor and while shown; an unchanged region sends nothing.
        """
        if self.composited or not self.visible:
            return
        region = list(rects)
        if region == self._region:
            return
        self._region = region
        if _SHAPE_HEADER + _SHAPE_RECT_SIZE * len(region) > self._per_request_bytes << 2:
            # Too fragmented for one request: one span per band is still a fair cut-out.
            region = _one_span_per_band(region)
        shape_rectangles(self.conn, self.window.id, shape.SO.Set, shape.SK.Bounding, X.YXBanded, region)

    def _clear_shape(self) -> None:
        self._region = []
        shape.rectangles(self.window, shape.SO.Set, shape.SK.Bounding, X.YXBanded, 0, 0, [])

    def _unshape(self) -> None:
        self._region = None
        shape.mask(self.window, shape.SO.Set, shape.SK.Bounding, 0, 0, X.NONE)

    def _update_shape(self, surface: cairocffi.ImageSurface, first: int, end: int) -> None:
        """Recompute the bands that rows ``[first, end)`` touch and send the shape if it changed."""
        data = memoryview(surface.get_data())
        stride, width = surface.get_stride(), surface.get_width()
        changed = False
        for band in [b for b in self._bands if b * BAND_HEIGHT >= end]:
            del self._bands[band]
            changed = True
        for band in range(first // BAND_HEIGHT, (end + BAND_HEIGHT - 1) // BAND_HEIGHT):
            top = band * BAND_HEIGHT
            bottom = min(top + BAND_HEIGHT, end)
            mask = band_mask(data, stride, width, top, bottom)
            cached = self._bands.get(band)
            if cached is not None and cached[0] == mask:
                continue
            self._bands[band] = (mask, band_rects(mask, top, bottom - top))
            changed = True
        if changed:
            self.set_shape([r for band in sorted(self._bands) for r in self._bands[band][1]])


def _one_span_per_band(rects: list[ShapeRect]) -> list[ShapeRect]:
    spans: dict[tuple[int, int], tuple[int, int]] = {}
    for x, y, w, h in rects:
        left, right = spans.get((y, h), (x, x + w))
        spans[(y, h)] = (min(left, x), max(right, x + w))
    return [(left, y, right - left, h) for (y, h), (left, right) in sorted(spans.items())]
