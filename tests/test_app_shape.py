"""The overlay's cut-out region without a compositor, derived from the chart's geometry (no X server here)."""

from __future__ import annotations

import itertools
import sys

import cairocffi
from chart_helpers import Feed, make_task

from vwm_overlay.chart import Chart
from vwm_overlay.chart.rows import Cell
from vwm_overlay.chart.shape import (
    GRID_PX,
    ChartShape,
    Rect4,
    ShapeBand,
    ShapeTracker,
    cell_spans,
    merge_spans,
    text_span,
)
from vwm_overlay.desktop import OVERLAY_THEME


def column(height: int, drawn: list[tuple[int, int]]) -> bytes:
    """A graph column ``height`` px high with opaque pixels over the ``[y0, y1)`` ranges."""
    pixels = bytearray(4 * height)
    for y0, y1 in drawn:
        pixels[4 * y0 : 4 * y1] = (0xFF00FFFF).to_bytes(4, sys.byteorder) * (y1 - y0)
    return bytes(pixels)


def text(x0: int, x1: int, chars: int = 1) -> list[Cell]:
    """A left-aligned text cell ``[x0, x1)`` holding ``chars`` characters."""
    return [(x0, x1, 0, "x" * chars)]


def covered(rects: list[Rect4], x: int, y: int) -> bool:
    return any(rx <= x < rx + w and ry <= y < ry + h for rx, ry, w, h in rects)


def test_text_span_follows_the_alignment_and_clips_to_the_cell() -> None:
    assert text_span(10, 100, 0, 3, 6.0) == (9, 29)
    assert text_span(10, 100, 1, 3, 6.0) == (81, 101)
    assert text_span(10, 100, 2, 3, 6.0) == (45, 65)
    assert text_span(10, 40, 0, 50, 6.0) == (9, 41), "clipped text fills its cell"
    assert text_span(10, 40, 0, 0, 6.0, margin_px=0) == (10, 10)


def test_cell_spans_cover_texts_and_tree_lines_and_undrawn_rows_whole() -> None:
    cells: list[Cell] = [(4, 30, 0, "ab"), (40, 90, 1, ""), (100, 100, 0, ((4, 0, 1, 15), (5, 9, 2, 1)))]
    assert cell_spans(cells, 6.0, 800) == [(3, 17), (103, 106), (104, 108)]
    assert cell_spans(None, 6.0, 800) == [(0, 800)]


def test_merge_spans_widens_to_the_grid_and_merges() -> None:
    assert merge_spans([(3, 10)], 800) == [(0, GRID_PX)]
    assert merge_spans([(40, 70), (100, 120), (300, 301)], 800) == [(32, 128), (288, 320)]
    assert merge_spans([(790, 805), (-5, 2)], 800) == [(0, 32), (768, 800)]
    assert merge_spans([(5, 5), (10, 3)], 800) == []


def test_a_rows_graph_extent_grows_with_its_history_and_goes_when_it_scrolled_off() -> None:
    tracker = ShapeTracker()
    bands = [ShapeBand("a", 0, 15, []), ShapeBand("b", 15, 15, [])]
    tracker.add_columns([column(30, [(3, 5)])], bands)
    # Counted in whole grid cells of columns: never less than drawn, less than a cell more.
    assert 1 <= tracker.graph_extent("a", 100) < 1 + GRID_PX
    assert tracker.graph_extent("b", 100) == 0
    tracker.add_columns([column(30, [])] * 40, bands)
    assert 41 <= tracker.graph_extent("a", 100) < 41 + GRID_PX
    assert tracker.rects(bands, 100, 30) == [(0, 0, 64, 15)]
    # Once every column of its bucket scrolled past the width, nothing of it is shown any more.
    tracker.add_columns([column(30, [])] * 100, bands)
    assert tracker.graph_extent("a", 100) == 0
    assert tracker.rects(bands, 100, 30) == []


def test_a_row_idle_longer_than_the_width_draws_again_without_error() -> None:
    # Longer idle than the chart is wide empties the row's memory; a row drawing again afterwards starts afresh.
    tracker = ShapeTracker()
    width = 245
    bands = [ShapeBand("a", 0, 15, [])]
    tracker.add_columns([column(15, [(0, 15)])], bands)
    for _ in range(3 * width):
        tracker.add_columns([column(15, [])], bands)
        tracker.rects(bands, width, 15)
    assert tracker.graph_extent("a", width) == 0
    tracker.add_columns([column(15, [(0, 15)])] * 2, bands)
    assert 1 <= tracker.graph_extent("a", width) <= GRID_PX
    assert tracker.rects(bands, width, 15) == [(0, 0, GRID_PX, 15)]


def test_a_rows_history_moves_with_the_row() -> None:
    tracker = ShapeTracker()
    tracker.add_columns([column(60, [(20, 22)])], [ShapeBand("a", 15, 15, []), ShapeBand("b", 30, 15, [])])
    # The row moved down (its pixels went along): its region goes with it.
    moved = [ShapeBand("b", 15, 15, []), ShapeBand("a", 30, 15, text(201, 210))]
    assert tracker.rects(moved, 400, 60) == [(0, 30, 32, 15), (192, 30, 32, 15)]


def test_rows_are_clipped_to_the_composed_height_and_forgotten_when_gone() -> None:
    tracker = ShapeTracker()
    bands = [ShapeBand("a", 0, 15, text(0, 50, 8)), ShapeBand("b", 15, 28, text(0, 50, 8))]
    tracker.add_columns([column(43, [(0, 43)])], bands)
    assert tracker.rects(bands, 300, 30) == [(0, 0, 64, 15), (0, 15, 64, 15)]
    tracker.rects(bands[:1], 300, 30)
    assert tracker.graph_extent("b", 300) == 0


def alpha_outside(chart: Chart, rects: list[Rect4]) -> list[tuple[int, int]]:
    """Pixels the chart draws (non-zero alpha) that the region leaves out."""
    surface = cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, chart.width, chart.height)
    chart.compose(cairocffi.Context(surface))
    surface.flush()
    px = memoryview(surface.get_data()).cast("I")
    stride = surface.get_stride() // 4
    return [
        (x, y)
        for y in range(chart.composed_height)
        for x in range(chart.width)
        if px[y * stride + x] >> 24 and not covered(rects, x, y)
    ]


def test_the_region_holds_every_drawn_pixel_and_little_more() -> None:
    chart = Chart(800, 300, name="shape", theme=OVERLAY_THEME)
    root = make_task(100, "server", argv=("server", "--port", "80"))
    busy = make_task(101, "busy", parent=root, thread=True)
    make_task(102, "idle", parent=root, thread=True)
    worker = make_task(103, "worker", parent=root)
    feed = Feed(chart, root)
    shape = ChartShape()
    regions = []
    for step in range(120):
        load = {busy: (feed.one_core() // 2, 1)} if step < 20 else {worker: (1, 0)} if step % 7 == 0 else {}
        feed.step(load)
        chart.compose(cairocffi.Context(cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, 1, 1)))
        regions.append(shape.update(chart))
        if step % 30 == 29:
            assert alpha_outside(chart, regions[-1]) == [], step
    # Coarse and stable: the region changed on few samples, not on every one.
    changes = sum(a != b for a, b in itertools.pairwise(regions))
    assert changes < 12, changes
    # And it leaves most of the window alone (idle rows show their text only).
    area = sum(w * h for _, _, w, h in regions[-1])
    assert area < chart.width * chart.composed_height * 0.6, area


def test_a_chart_shown_late_gets_its_whole_history_and_a_new_chart_starts_over() -> None:
    chart = Chart(300, 200, theme=OVERLAY_THEME)
    root = make_task(200, "loop")
    feed = Feed(chart, root)
    feed.steps(50, {root: (feed.one_core(), 0)})
    feed.steps(10)
    chart.compose(cairocffi.Context(cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, 1, 1)))
    shape = ChartShape()
    rects = shape.update(chart)
    assert alpha_outside(chart, rects) == []
    y = chart.row_y(root)
    assert y is not None and covered(rects, 58, y + 5)


def test_a_text_that_changes_length_does_not_change_the_region_back_and_forth() -> None:
    tracker = ShapeTracker()
    long_text = [ShapeBand("row", 0, 15, [(300, 400, 1, "x" * 16)])]
    short_text = [ShapeBand("row", 0, 15, [(300, 400, 1, "x" * 3)])]
    first = tracker.rects(long_text, 800, 15)
    assert first == [(288, 0, 128, 15)]
    assert tracker.rects(short_text, 800, 15) == first
    assert tracker.rects(long_text, 800, 15) == first
