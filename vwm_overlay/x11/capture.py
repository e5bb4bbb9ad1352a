"""Reading back what is on screen: GetImage of the root, and Xvfb's ``-fbdir`` framebuffer.

GetImage returns a window's own pixels, so an ARGB overlay comes back
unblended even under a compositor.  Xvfb started with ``-fbdir DIR`` keeps its
real framebuffer in ``DIR/Xvfb_screen0`` as an XWD file; :func:`read_xwd`
reads the blended result from there.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass

from Xlib import X

from .connection import Connection
from .errors import X11UnsupportedError
from .events import Rect
from .raster import to_server_order

__all__ = ["Image", "grab_root", "parse_xwd", "read_xwd"]

# XWD file header: 25 big-endian CARD32 (X11 XWDFile.h, XWD_FILE_VERSION 7).
_XWD_HEADER = struct.Struct(">25I")
_XWD_VERSION = 7
_XWD_COLOR_SIZE = 12  # one XWDColor entry


@dataclass(frozen=True, slots=True)
class Image:
    """Pixels as native-endian 32-bit ``0x00RRGGBB`` words (cairo's RGB24 layout)."""

    width: int
    height: int
    data: bytes

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        """``(red, green, blue)`` at ``(x, y)``."""
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise IndexError(f"({x}, {y}) is outside the {self.width}x{self.height} image")
        offset = (y * self.width + x) * 4
        word = int.from_bytes(self.data[offset : offset + 4], sys.byteorder)
        return (word >> 16) & 0xFF, (word >> 8) & 0xFF, word & 0xFF

    def save_png(self, path: str) -> None:
        """Write the image as a PNG file."""
        import cairocffi

        surface = cairocffi.ImageSurface.create_for_data(
            bytearray(self.data), cairocffi.FORMAT_RGB24, self.width, self.height, self.width * 4
        )
        surface.write_to_png(path)
        surface.finish()


def grab_root(conn: Connection, rect: Rect | None = None) -> Image:
    """A screenshot of the root window (or of ``rect`` on it) with GetImage."""
    if rect is None:
        rect = Rect(0, 0, conn.screen.width_in_pixels, conn.screen.height_in_pixels)
    depth = conn.screen.root_depth
    formats = [f for f in conn.display.display.info.pixmap_formats if f.depth == depth]
    if not formats or formats[0].bits_per_pixel != 32:
        raise X11UnsupportedError(f"screenshots need 32 bits per pixel at depth {depth}")
    reply = conn.root.get_image(rect.x, rect.y, rect.width, rect.height, X.ZPixmap, 0xFFFFFFFF)
    raw = reply.data if isinstance(reply.data, bytes) else bytes(reply.data)
    lsb_first = conn.display.display.info.image_byte_order == X.LSBFirst
    # The swap is its own inverse: server order back to native.
    return Image(rect.width, rect.height, to_server_order(raw[: rect.width * rect.height * 4], lsb_first))


def read_xwd(path: str) -> Image:
    """Read a 32-bit TrueColor XWD file (what Xvfb's ``-fbdir`` keeps current)."""
    with open(path, "rb") as f:
        blob = f.read()
    return parse_xwd(blob)


def parse_xwd(blob: bytes) -> Image:
    """Parse the bytes of an XWD file; see :func:`read_xwd`."""
    if len(blob) < _XWD_HEADER.size:
        raise ValueError("not an XWD file: too short")
    fields = _XWD_HEADER.unpack_from(blob)
    header_size, version, _fmt, _depth, width, height = fields[:6]
    byte_order, bits_per_pixel, bytes_per_line = fields[7], fields[11], fields[12]
    red_mask, green_mask, blue_mask = fields[14:17]
    ncolors = fields[19]
    if version != _XWD_VERSION:
        raise ValueError(f"not an XWD version 7 file (version {version})")
    if bits_per_pixel != 32 or (red_mask, green_mask, blue_mask) != (0xFF0000, 0xFF00, 0xFF):
        raise ValueError(
            f"unsupported XWD pixels: {bits_per_pixel} bpp, masks {red_mask:x}/{green_mask:x}/{blue_mask:x}"
        )
    offset = header_size + ncolors * _XWD_COLOR_SIZE
    if len(blob) < offset + bytes_per_line * height:
        raise ValueError("XWD file is truncated")
    rows = (blob[offset + y * bytes_per_line : offset + y * bytes_per_line + width * 4] for y in range(height))
    raw = b"".join(rows)
    return Image(width, height, to_server_order(raw, byte_order == X.LSBFirst))
