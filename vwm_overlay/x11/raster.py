"""Pure helpers for sending a cairo ARGB32 image to X: request strips, byte order, coarse shapes.

No X connection here: these work on bytes and numbers, so they are tested
without a server.
"""

from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Iterator

__all__ = [
    "BAND_HEIGHT",
    "CHANGE_BAND_ROWS",
    "CHANGE_GAP",
    "MAX_SHAPE_GAP",
    "band_mask",
    "band_rects",
    "changed_rects",
    "rows_per_request",
    "strips",
    "to_server_order",
]

#: The chart's row height: one SHAPE band per chart row keeps the mask coarse.
BAND_HEIGHT = 15

#: Transparent gaps narrower than this are filled, so text becomes one span, not one per glyph.
MAX_SHAPE_GAP = 12

# Size of a PutImage request without its data (X11 protocol, section "PutImage").
_PUT_IMAGE_HEADER = 24

_NONZERO_RUN = re.compile(rb"[^\x00]+")

# cairo keeps ARGB32 pixels as native-endian 32-bit words; alpha is the high byte.
_ALPHA_OFFSET = 3 if sys.byteorder == "little" else 0


def rows_per_request(max_request_length: int, stride: int) -> int:
    """How many image rows fit in one PutImage under the server's limit (in 4-byte units).

    python-xlib has no BIG-REQUESTS, so the limit is the one from the setup reply.
    """
    rows = ((max_request_length << 2) - _PUT_IMAGE_HEADER) // stride
    if rows < 1:
        raise ValueError(f"one row of {stride} bytes does not fit in a request")
    return rows


def strips(first_row: int, end_row: int, per_request: int) -> Iterator[tuple[int, int]]:
    """Split rows ``[first_row, end_row)`` into ``(start, count)`` pieces of at most ``per_request`` rows."""
    row = first_row
    while row < end_row:
        count = min(per_request, end_row - row)
        yield row, count
        row += count


def to_server_order(data: bytes, server_lsb_first: bool) -> bytes:
    """Native-endian 32-bit pixels in the byte order the server's images use."""
    if server_lsb_first == (sys.byteorder == "little"):
        return data
    words = array("I", data)
    words.byteswap()
    return words.tobytes()


def band_mask(data: memoryview | bytes, stride: int, width: int, first_row: int, end_row: int) -> bytes:
    """One byte per column: non-zero where any of rows ``[first_row, end_row)`` has alpha.

    All per-pixel work stays in C: one strided slice takes the band's alpha
    plane, which is read as one big integer whose rows are ORed together by
    folding the upper half onto the lower.
    """
    rows = end_row - first_row
    if rows <= 0:
        return bytes(width)
    band = bytes(data[first_row * stride : end_row * stride])
    if stride == width * 4:
        alphas = band[_ALPHA_OFFSET::4]
    else:
        alphas = b"".join(band[r * stride + _ALPHA_OFFSET : r * stride + width * 4 : 4] for r in range(rows))
    acc = int.from_bytes(alphas, "little")
    row_bits = width * 8
    while rows > 1:
        # Fold the upper rows onto the lower ones, halving the count each time.
        low = rows - rows // 2
        acc = (acc & ((1 << (row_bits * low)) - 1)) | (acc >> (row_bits * low))
        rows = low
    return acc.to_bytes(width, "little")


def band_rects(mask: bytes, y: int, height: int, max_gap: int = MAX_SHAPE_GAP) -> list[tuple[int, int, int, int]]:
    """``(x, y, width, height)`` rectangles covering the mask's runs, gaps under ``max_gap`` merged."""
    rects: list[tuple[int, int, int, int]] = []
    start = end = -1
    for run in _NONZERO_RUN.finditer(mask):
        if start >= 0 and run.start() - end < max_gap:
            end = run.end()
            continue
        if start >= 0:
            rects.append((start, y, end - start, height))
        start, end = run.start(), run.end()
    if start >= 0:
        rects.append((start, y, end - start, height))
    return rects


#: Rows compared at a time when looking for changed pixels: about a chart row, so a change in one row's cells
#: is not widened to the same columns of its neighbours.
CHANGE_BAND_ROWS = 16

#: Unchanged pixels between two changed spans of a band that are sent rather than split into two requests.
CHANGE_GAP = 8


def changed_rects(
    now: bytes, before: bytes | bytearray, line: int, height: int, gap: int = CHANGE_GAP
) -> list[tuple[int, int, int, int]]:
    """``(x, y, width, height)`` rectangles covering every 32-bit pixel of ``now`` that differs from ``before``.

    Both hold ``height`` rows of ``line`` bytes.  Rows are compared by bands of :data:`CHANGE_BAND_ROWS`: an
    equal band costs one comparison in C; a differing one is XORed as one integer, its rows are folded onto one
    (ORed, halving the count each time, as :func:`band_mask` does) and its runs of changed columns become
    rectangles as tall as the rows that differ, runs closer than ``gap`` pixels merged.
    """
    rects: list[tuple[int, int, int, int]] = []
    row_bits = line * 8
    for top in range(0, height, CHANGE_BAND_ROWS):
        bottom = min(top + CHANGE_BAND_ROWS, height)
        band, old = now[top * line : bottom * line], before[top * line : bottom * line]
        if band == old:
            continue
        diff = int.from_bytes(band, "little") ^ int.from_bytes(old, "little")
        # Only the rows that differ: from the lowest set bit's row to the highest's.
        first_row = ((diff & -diff).bit_length() - 1) // row_bits
        end_row = (diff.bit_length() - 1) // row_bits + 1
        diff >>= first_row * row_bits
        rows = end_row - first_row
        while rows > 1:
            low = rows - rows // 2
            diff = (diff & ((1 << (row_bits * low)) - 1)) | (diff >> (row_bits * low))
            rows = low
        columns = diff.to_bytes(line, "little")
        start = end = -1
        for run in _NONZERO_RUN.finditer(columns):
            x0, x1 = run.start() // 4, (run.end() + 3) // 4
            if start >= 0 and x0 - end < gap:
                end = x1
                continue
            if start >= 0:
                rects.append((start, top + first_row, end - start, end_row - first_row))
            start, end = x0, x1
        if start >= 0:
            rects.append((start, top + first_row, end - start, end_row - first_row))
    return rects
