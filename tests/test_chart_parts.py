"""The chart's pure parts: scales, cell texts, the tree walk, the exported names."""

from __future__ import annotations

import math

import pytest
from chart_helpers import make_task

import vwm_overlay.chart as chart_pkg
from vwm_overlay.chart import Chart, Theme
from vwm_overlay.chart.graphpass import GraphWriter
from vwm_overlay.chart.header import heading_text
from vwm_overlay.chart.layers import Layers
from vwm_overlay.chart.rows import MISSED_NAME, Row, argv_text, live_texts, walk_tree
from vwm_overlay.chart.scale import LogScale, fraction_px, ratio_px
from vwm_overlay.chart.theme import premultiplied_pixel
from vwm_overlay.schedule import SampleTiming


def test_ratio_px_rounds_clamps_and_never_loses_a_tick() -> None:
    assert ratio_px(10, 20, 2, 14) == 14
    assert ratio_px(5, 20, 2, 14) == 7
    assert ratio_px(1, 100_000, 1, 14) == 1, "non-zero load: at least 1 px"
    assert ratio_px(0, 20, 2, 14) == 0
    assert ratio_px(-3, 20, 2, 14) == 0
    assert ratio_px(50, 20, 2, 14) == 14, "clamped"
    assert ratio_px(1, 0, 2, 14) == 14, "a zero total is one tick, not a division by zero"


def test_fraction_px() -> None:
    assert fraction_px(0.5, 14) == 7
    assert fraction_px(1e-9, 14) == 1
    assert fraction_px(3.0, 14) == 14
    assert fraction_px(-0.5, 14) == 0
    assert fraction_px(math.nan, 14) == 0


def test_log_scale_shows_a_trickle_and_a_flood() -> None:
    scale = LogScale(4096, 8, 7)
    assert scale.px(0) == 0
    assert scale.px(1) == 1
    assert scale.px(4095) == 1
    assert scale.px(4096) == 2
    assert scale.px(32768) == 3
    assert scale.px(10**12) == 7
    assert scale.full_value == 4096 * 8**5
    assert scale.describe("/s") == "2px=4K/s x8/px full=128M/s"
    with pytest.raises(ValueError):
        LogScale(0, 8, 7)


def test_argv_text() -> None:
    process = make_task(1, "make", argv=("/usr/bin/make", "-j8", "all"))
    assert argv_text(process) == "make -j8 all"
    thread = make_task(2, "worker", argv=("ignored", "args"), parent=process, thread=True)
    assert argv_text(thread) == "~worker"
    missed = make_task(3, None, parent=process)
    assert argv_text(missed) == MISSED_NAME
    missed_thread = make_task(4, None, parent=process, thread=True)
    assert argv_text(missed_thread) == "~" + MISSED_NAME
    odd = make_task(5, "a\nb", argv=("x", "c\td"))
    assert argv_text(odd) == "a?b c?d"


def test_live_texts_formats() -> None:
    task = make_task(42, "sleep", argv=("sleep", "10"), start_ticks=100, wchan="0", state="S")
    assert task.stat is not None
    task.stat.utime_ticks = 123
    task.stat.stime_ticks = 7
    assert live_texts(task, 3, 100, 350) == ("3", "1.23s", "0.07s", "2.50s", "sleep 10", "-", "   42", "S")
    task.stat.wchan = "do_wait"
    assert live_texts(task, 0, 100, 350)[5] == "do_wait"
    assert live_texts(task, 0, 100, 50)[3] == "??s", "started after the boot-time clock: unknown"
    task.stat.start_ticks = 0
    assert live_texts(task, 0, 100, 350)[3] == "??s"
    make_task(43, "sleep", parent=task, thread=True)
    assert live_texts(task, 0, 100, 350)[5:8:2] == ("", ""), "a threaded process leaves WChan and State to its threads"


def test_heading() -> None:
    assert heading_text("build", 10) == "\\/\\/\\ # build @ 10Hz"
    assert heading_text(None, 10) == "\\/\\/\\ @ 10Hz"
    assert heading_text("build", 0) == "\\/\\/\\ # build paused"


def test_walk_order_is_process_threads_children() -> None:
    root = make_task(1)
    child = make_task(3, parent=root)
    thread = make_task(2, parent=root, thread=True)
    grandchild = make_task(4, parent=child)
    live, stale = walk_tree(root, 7, 15, 28)
    assert [(t.pid, depth) for t, depth, _ in live] == [(1, 0), (2, 1), (3, 1), (4, 2)]
    assert stale == []
    child.is_stale = True
    live, stale = walk_tree(root, 7, 15, 28)
    assert [t for t, _, _ in live] == [root, thread]
    assert stale == [child, grandchild], "descendants of an exited task go with it"


def test_premultiplied_pixel() -> None:
    assert premultiplied_pixel((1.0, 0.0, 0.0, 1.0)) == 0xFFFF0000
    assert premultiplied_pixel((1.0, 1.0, 1.0, 0.5)) == 0x80808080
    assert premultiplied_pixel((0.0, 0.0, 0.0, 0.0)) == 0


def test_exported_names() -> None:
    public = {name for name in dir(chart_pkg) if not name.startswith("_")}
    modules = {"background", "cairo_types", "chart", "columns", "graphpass", "header", "layers", "layout", "patterns"}
    modules |= {"rows", "export"}
    modules |= {"scale", "shape", "text", "textpass", "theme", "annotations"}
    assert set(chart_pkg.__all__) == public - modules


def test_the_chart_is_composed_and_its_graph_writer_works_alone() -> None:
    assert Chart.__mro__ == (Chart, object), "parts are owned, not inherited"
    theme = Theme()
    layers = Layers(200, 60)
    writer = GraphWriter(theme)
    task = make_task(100, "busy")
    row = Row(task, theme.row_px, preexisting=True)
    row.y_px = 3 * theme.row_px
    for utime_ticks in (0, 5):  # then half of the sample's 10 ticks
        task.delta.utime_ticks = utime_ticks
        writer.draw(layers, [row], [], None, SampleTiming(1, 0.0, 0.1), num_cpus=1, ticks_per_s=100, hertz=10)
    cyan = premultiplied_pixel(theme.graph_bottom)
    bar = [layers.graph_pixel(0, row.y_px + dy) == cyan for dy in range(theme.bar_px)]
    assert bar == [False] * 7 + [True] * 7
