"""PutImage and SHAPE requests built in wire format and queued on python-xlib's connection.

python-xlib packs a request's fields one by one: for megabytes of pixels that is the cost of the upload, and a
region of a hundred rectangles takes it half a millisecond.  Here a PutImage's header is packed once per strip and
its pixels are copied once, from the caller's buffer into the request; a region's rectangles are packed in one call.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from Xlib import X
from Xlib.protocol import rq

from .connection import Connection
from .raster import rows_per_request, strips

__all__ = ["FLUSH_BYTES", "put_image", "shape_rectangles"]

# PutImage (X11 protocol, opcode 72): opcode, format, length in 4-byte units, drawable, gc, width, height,
# dst_x, dst_y, left_pad, depth, 2 bytes of padding; in the client's byte order, as python-xlib sets up.
_PUT_IMAGE = struct.Struct("=BBHIIHHhhBB2x")
_PUT_IMAGE_OPCODE = 72

# ShapeRectangles (SHAPE extension, minor opcode 1): major opcode, minor opcode, length in 4-byte units,
# operation, destination kind, ordering, 1 byte of padding, window, x offset, y offset; then the rectangles.
_SHAPE_RECTANGLES = struct.Struct("=BBHBBBxIhh")
_SHAPE_RECTANGLES_OPCODE = 1
_RECTANGLE = "hhHH"

#: A request this big is written out at once (see :func:`put_image`).
FLUSH_BYTES = 64 * 1024


class _WireRequest(rq.Request):
    """A one-way request already in wire format, queued on python-xlib's connection like its own.

    python-xlib's own requests pack their fields in ``__init__``; this one comes
    packed.  Its errors reach the connection's error handler, as those of
    python-xlib's one-way requests without ``onerror`` do.
    """

    def __init__(self, binary: bytes) -> None:
        self._errorhandler = None
        self._binary = binary
        self._serial = None


def put_image(
    conn: Connection,
    drawable: int,
    gc: int,
    *,
    depth: int,
    x: int,
    y: int,
    width: int,
    height: int,
    data: bytes | memoryview,
    line: int,
    image_format: int = X.ZPixmap,
) -> None:
    """Send ``height`` rows of ``line`` bytes each (already in the server's image format) to ``(x, y)``.

    ``line`` must be the server's padded scanline for ``width`` pixels of ``depth`` (a multiple of 4 bytes);
    an ``X.XYBitmap`` image has depth 1 and is drawn in the GC's foreground and background.
    A big strip is flushed before the next is queued: python-xlib re-slices its whole send buffer after every
    partial write, so megabytes queued at once cost quadratic time.  Small ones wait for the caller's flush, so
    a frame of many small changes is a few writes, not one per change.
    """
    send = conn.display.display.send_request
    per_request = rows_per_request(conn.display.display.info.max_request_length, line)
    for start, count in strips(0, height, per_request):
        size = _PUT_IMAGE.size + count * line
        header = _PUT_IMAGE.pack(
            _PUT_IMAGE_OPCODE, image_format, size >> 2, drawable, gc, width, count, x, y + start, 0, depth
        )
        with conn.guard():
            send(_WireRequest(header + data[start * line : (start + count) * line]), False)
        if size >= FLUSH_BYTES:
            conn.flush()


def shape_rectangles(
    conn: Connection, window: int, operation: int, kind: int, ordering: int, rects: Sequence[tuple[int, int, int, int]]
) -> None:
    """Queue a ShapeRectangles request: ``rects`` (``(x, y, width, height)``) as ``window``'s ``kind`` region.

    The caller keeps the request under the server's size limit.
    """
    display = conn.display.display
    size = _SHAPE_RECTANGLES.size + 8 * len(rects)
    header = _SHAPE_RECTANGLES.pack(
        display.get_extension_major("SHAPE"),
        _SHAPE_RECTANGLES_OPCODE,
        size >> 2,
        operation,
        kind,
        ordering,
        window,
        0,
        0,
    )
    body = struct.pack("=" + _RECTANGLE * len(rects), *(v for rect in rects for v in rect))
    with conn.guard():
        display.send_request(_WireRequest(header + body), False)
