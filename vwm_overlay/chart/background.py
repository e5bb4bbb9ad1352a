"""The static background: alternate row shading, the 1 px divider at the bottom of every row and lane, and the
optional yellow markers on the dividers every N columns, counted from the newest (left) edge.

It is rebuilt from whole scanlines (three kinds per shade), only when the layout of the rows changes.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

from .theme import Theme, premultiplied_pixel

__all__ = ["Band", "build_background", "divider_offsets"]

#: ``(y, height, odd)``: one row or slot of the layout; ``odd`` rows get the alternate shade.
Band = tuple[int, int, bool]


def divider_offsets(theme: Theme, height_px: int) -> frozenset[int]:
    """Lines of a slot that are dividers: the last of its row and of each of its lanes."""
    offsets = {theme.row_px - 1}
    y = theme.row_px
    if height_px > theme.row_px:
        for lane_px in (theme.io_lane_px, theme.rss_lane_px):
            if lane_px > 0:
                y += lane_px
                offsets.add(y - 1)
    return frozenset(o for o in offsets if o < height_px)


def build_background(theme: Theme, width_px: int, height_px: int, bands: Iterable[Band], markers_every: int) -> bytes:
    """``height_px`` scanlines of ARGB32 pixels for these bands; below them, plain background."""
    plain = _line(theme.background, width_px)
    odd = _line(theme.background_odd, width_px)
    divider = array("I", [premultiplied_pixel(theme.divider)]) * width_px
    if markers_every > 0:
        marker = premultiplied_pixel(theme.marker)
        for x in range(markers_every, width_px, markers_every):
            divider[x] = marker
    divider_line = divider.tobytes()
    lines: list[bytes] = []
    cursor = 0
    for y, height, is_odd in bands:
        if y >= height_px:
            break
        if y > cursor:
            lines.append(plain * (y - cursor))
        body = odd if is_odd else plain
        dividers = divider_offsets(theme, height)
        rows = min(height, height_px - y)
        lines.extend(divider_line if dy in dividers else body for dy in range(rows))
        cursor = y + rows
    if cursor < height_px:
        lines.append(plain * (height_px - cursor))
    return b"".join(lines)


def _line(rgba: tuple[float, float, float, float], width_px: int) -> bytes:
    return (array("I", [premultiplied_pixel(rgba)]) * width_px).tobytes()
