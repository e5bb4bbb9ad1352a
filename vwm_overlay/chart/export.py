"""A chart written to a file: PNG (the same pixels as :meth:`Chart.write_png`), SVG or PDF.

The vector formats hold the chart's layers as images (its graphs and text are pixels by design), so a PDF of a
chart looks exactly like its PNG at any zoom a viewer shows pixels at.
"""

from __future__ import annotations

from typing import cast

import cairocffi

from .cairo_types import Context
from .chart import Chart

__all__ = ["FORMATS", "write_chart"]

#: Output formats by name (the lower-case file name extension).
FORMATS = ("png", "svg", "pdf")


def write_chart(chart: Chart, path: str, fmt: str) -> None:
    """Write ``chart`` at its visible size to ``path`` as ``fmt`` (one of :data:`FORMATS`); OSError propagates."""
    if fmt == "png":
        chart.write_png(path)
        return
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    width, height = max(chart.width, 1), max(chart.height, 1)
    surface_class = cairocffi.SVGSurface if fmt == "svg" else cairocffi.PDFSurface
    try:
        surface = surface_class(path, width, height)
    except cairocffi.CairoError as err:
        raise OSError(f"cannot write {fmt.upper()}: {err}") from None
    try:
        ctx = cairocffi.Context(surface)
        chart.sync_layers(exact=True)
        ctx.set_source_rgba(*chart.theme.background[:3], 1.0)
        ctx.paint()
        chart.compose(cast(Context, ctx))
    finally:
        surface.finish()
