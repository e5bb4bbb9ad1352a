"""A chart written to a file: PNG (the same pixels as :meth:`Chart.write_png`), SVG or PDF.

The vector formats hold the chart's layers as images (its graphs and text are pixels by design), so a PDF of a
chart looks exactly like its PNG at any zoom a viewer shows pixels at.
"""

from __future__ import annotations

import os
from typing import BinaryIO, cast

import cairocffi

from .cairo_types import Context
from .chart import Chart

__all__ = ["FORMATS", "write_chart"]

#: Output formats by name (the lower-case file name extension).
FORMATS = ("png", "svg", "pdf")


def write_chart(chart: Chart, path: str, fmt: str) -> None:
    """Write ``chart`` at its visible size to ``path`` as ``fmt`` (one of :data:`FORMATS`).

    The file is opened here, so a failure is an OSError with its errno; nothing is left of a failed write.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    with open(path, "wb") as out:
        try:
            _write(chart, out, fmt)
        except BaseException:
            out.close()
            os.unlink(path)
            raise


def _write(chart: Chart, out: BinaryIO, fmt: str) -> None:
    if fmt == "png":
        surface = cast(cairocffi.ImageSurface, chart.to_surface())
        surface.write_to_png(out)  # the same pixels as Chart.write_png
        return
    width, height = max(chart.width, 1), max(chart.height, 1)
    surface_class = cairocffi.SVGSurface if fmt == "svg" else cairocffi.PDFSurface
    vector = surface_class(out, width, height)
    try:
        ctx = cairocffi.Context(vector)
        chart.sync_layers(exact=True)
        ctx.set_source_rgba(*chart.theme.background[:3], 1.0)
        ctx.paint()
        chart.compose(cast(Context, ctx))
    finally:
        vector.finish()
