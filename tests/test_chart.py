"""The chart, rendered from synthetic histories to PNG and checked with pixel probes."""

from __future__ import annotations

from pathlib import Path

import cairocffi
import pytest
from chart_helpers import Feed, Png, is_cyan, is_dark, is_red, is_white, make_task

from vwm_overlay.chart import Chart, Theme
from vwm_overlay.schedule import SampleTiming
from vwm_overlay.vmon.records import SysStat, Task

# A wide lead keeps the newest 30-odd columns free of text and its shadow, for clean probes.
THEME = Theme(text_lead_px=40)
HEADER_PX = 45
ROW = THEME.row_px
SLOT = ROW  # one row per task by default, as vwm
LANES_SLOT = THEME.process_slot_px
BAR = THEME.bar_px


def chart_for(root: Task, *, width: int = 800, height: int = 400, **kw: object) -> tuple[Chart, Feed]:
    chart = Chart(width, height, name="test", theme=THEME, **kw)  # type: ignore[arg-type]
    return chart, Feed(chart, root)


def y_of(chart: Chart, task: Task) -> int:
    y = chart.row_y(task)
    assert y is not None, f"{task} has no row"
    return y


def bar_column(png: Png, x: int, y: int) -> list[tuple[int, int, int]]:
    """The 14 bar pixels of the CPU row at ``y``."""
    return png.column(x, y, y + BAR)


def test_full_core_of_user_cpu_fills_the_row_with_cyan(tmp_path: Path) -> None:
    root = make_task(100, "busy")
    chart, feed = chart_for(root)
    feed.step()
    feed.steps(3, {root: (feed.one_core(), 0)})
    png = Png(chart, tmp_path / "c.png")
    y = y_of(chart, root)
    assert y == HEADER_PX
    for x in range(3):
        assert all(is_cyan(p) for p in bar_column(png, x, y)), x
        assert not is_cyan(png.rgb(x, y + BAR)), "the divider line stays a divider"


def test_system_cpu_grows_red_from_the_top(tmp_path: Path) -> None:
    root = make_task(100, "kernelish")
    chart, feed = chart_for(root)
    feed.step()
    feed.step({root: (0, feed.one_core() // 2)})
    png = Png(chart, tmp_path / "c.png")
    column = bar_column(png, 0, y_of(chart, root))
    assert [is_red(p) for p in column] == [True] * 7 + [False] * 7


def test_user_and_system_share_a_row(tmp_path: Path) -> None:
    root = make_task(100)
    chart, feed = chart_for(root)
    feed.step()
    feed.step({root: (3, 2)})  # of 10 ticks per core: 30% user (4 px), 20% system (3 px)
    column = bar_column(Png(chart, tmp_path / "c.png"), 0, y_of(chart, root))
    assert [is_red(p) for p in column[:3]] == [True] * 3
    assert [is_cyan(p) for p in column[-4:]] == [True] * 4
    assert not any(is_red(p) or is_cyan(p) for p in column[3:-4])


def test_a_tiny_load_still_shows_one_pixel(tmp_path: Path) -> None:
    root = make_task(100, "idle")
    make_task(101, "idle", parent=root, thread=True)
    chart = Chart(800, 300, theme=THEME)
    feed = Feed(chart, root, num_cpus=16)  # 160 ticks per sample: 1 tick is 0.6% of the machine
    feed.step()
    feed.step({root: (1, 0)})
    column = bar_column(Png(chart, tmp_path / "c.png"), 0, y_of(chart, root))
    assert [is_cyan(p) for p in column] == [False] * 13 + [True]


def test_threaded_process_scales_to_all_cores_its_threads_to_one(tmp_path: Path) -> None:
    root = make_task(100, "threads")
    main = make_task(100, "threads", parent=root, thread=True)
    make_task(102, "threads", parent=root, thread=True)
    chart, feed = chart_for(root)
    feed.step()
    # The main thread uses one full core of two: the process uses half the machine.
    feed.step({root: (feed.one_core(), 0), main: (feed.one_core(), 0)})
    png = Png(chart, tmp_path / "c.png")
    assert [is_cyan(p) for p in bar_column(png, 0, y_of(chart, root))] == [False] * 7 + [True] * 7
    assert all(is_cyan(p) for p in bar_column(png, 0, y_of(chart, main)))


@pytest.mark.parametrize("hertz", [10, 1000])
def test_no_nan_when_the_total_delta_is_zero(tmp_path: Path, hertz: int) -> None:
    root = make_task(100)
    chart = Chart(400, 200, theme=THEME, hertz=hertz)
    feed = Feed(chart, root, hertz=hertz)
    feed.step(sys_cpu=(0,) * 10)
    feed.step({root: (1, 1)}, sys_cpu=(0,) * 10)
    column = bar_column(Png(chart, tmp_path / "c.png"), 0, y_of(chart, root))
    assert is_red(column[0]) or is_white(column[0])
    assert is_cyan(column[-1]) or is_white(column[-1])
    # And without any system stat at all.
    root.stat.utime_ticks += 1  # type: ignore[union-attr]
    root.delta.clear()
    root.delta.utime_ticks = 1
    chart.update(root, None, 99, SampleTiming(1, 0.0, 1 / hertz))
    assert is_cyan(bar_column(Png(chart, tmp_path / "d.png"), 0, y_of(chart, root))[-1])


def test_repeated_columns_for_a_late_sample(tmp_path: Path) -> None:
    root = make_task(100)
    chart, feed = chart_for(root)
    feed.step()
    feed.step({root: (feed.one_core(), 0)})
    feed.step({root: (0, 3 * feed.one_core())}, columns=3)
    png = Png(chart, tmp_path / "c.png")
    y = y_of(chart, root)
    for x in range(3):
        assert is_red(png.rgb(x, y + BAR - 1)), x
    assert is_cyan(png.rgb(3, y + BAR - 1))


def test_tasks_from_the_first_sample_get_no_start_marker_new_ones_do(tmp_path: Path) -> None:
    root = make_task(100)
    child = make_task(101, parent=root)
    chart, feed = chart_for(root)
    feed.step()
    png = Png(chart, tmp_path / "a.png")
    for task in (root, child):
        assert not any(is_white(p) for p in bar_column(png, 0, y_of(chart, task)))
    late = make_task(102, parent=root, start_ticks=feed.sys.boottime_ticks)
    feed.step()
    png = Png(chart, tmp_path / "b.png")
    assert all(is_white(p) for p in bar_column(png, 0, y_of(chart, late)))
    assert not any(is_white(p) for p in bar_column(png, 1, y_of(chart, late)))


def test_a_task_found_late_but_started_before_monitoring_gets_no_start_marker(tmp_path: Path) -> None:
    root = make_task(100)
    chart, feed = chart_for(root)
    feed.step()
    found_late = make_task(101, parent=root, start_ticks=5)  # started long before the first sample
    feed.step()
    png = Png(chart, tmp_path / "a.png")
    assert not any(is_white(p) for p in bar_column(png, 0, y_of(chart, found_late)))


def test_inserting_a_row_moves_history_down_with_its_task(tmp_path: Path) -> None:
    root = make_task(100)
    busy = make_task(101, "busy", parent=root)
    chart, feed = chart_for(root)
    feed.step()
    feed.steps(4, {busy: (feed.one_core(), 0)})
    old_y = y_of(chart, busy)
    newcomer = make_task(102, "new", parent=None, start_ticks=feed.sys.boottime_ticks)
    root.children.insert(0, newcomer)
    feed.step({busy: (feed.one_core(), 0)})
    png = Png(chart, tmp_path / "c.png")
    assert y_of(chart, newcomer) == old_y
    new_y = y_of(chart, busy)
    assert new_y == old_y + SLOT
    for x in range(5):
        assert all(is_cyan(p) for p in bar_column(png, x, new_y)), f"history of the busy task at x={x}"
    assert all(is_white(p) for p in bar_column(png, 0, old_y)), "the newcomer's start marker"
    for x in range(1, 5):
        assert not any(is_cyan(p) for p in bar_column(png, x, old_y)), "the newcomer has no history"


def test_an_exited_task_becomes_a_snowflake_with_a_checkered_line(tmp_path: Path) -> None:
    root = make_task(100)
    child = make_task(101, "leaving", parent=root)
    chart, feed = chart_for(root)
    feed.step()
    feed.steps(4, {child: (feed.one_core(), 0)})
    child.is_stale = True
    feed.step()
    live_end = HEADER_PX + SLOT
    assert chart.snowflake_count == 1
    assert y_of(chart, child) == live_end + ROW, "below one blank row"
    png = Png(chart, tmp_path / "a.png")
    y = y_of(chart, child)
    checkered = [is_white(p) for p in bar_column(png, 0, y)]
    assert checkered == [i % 2 == 0 for i in range(BAR)]
    for x in range(1, 5):
        assert all(is_cyan(p) for p in bar_column(png, x, y)), "its history came along"
    assert all(is_dark(p) for x in range(5) for p in png.column(x, live_end, live_end + ROW)), "the blank row"
    assert chart.composed_height == y + SLOT

    root.children.remove(child)  # the engine drops it one sample later
    feed.step()
    png = Png(chart, tmp_path / "b.png")
    assert [is_white(p) for p in bar_column(png, 1, y)] == [i % 2 == 0 for i in range(BAR)], "it scrolls on"
    assert not any(is_white(p) or is_cyan(p) for p in bar_column(png, 0, y))

    chart.discard_snowflakes()
    assert chart.snowflake_count == 0
    assert chart.row_y(child) is None
    assert chart.composed_height == live_end
    assert all(chart.layers.graph_pixel(x, yy) == 0 for x in range(6) for yy in range(live_end, live_end + 2 * SLOT))


def test_snowflakes_are_newest_first() -> None:
    root = make_task(100)
    first = make_task(101, "first", parent=root)
    second = make_task(102, "second", parent=root)
    chart, feed = chart_for(root)
    feed.step()
    first.is_stale = True
    feed.step()
    root.children.remove(first)
    second.is_stale = True
    feed.step()
    assert y_of(chart, second) < y_of(chart, first)
    assert y_of(chart, first) == y_of(chart, second) + SLOT


def test_markers_every_n_columns_on_the_row_dividers(tmp_path: Path) -> None:
    root = make_task(100)
    chart, feed = chart_for(root, markers_every=10)
    feed.step()
    png = Png(chart, tmp_path / "c.png")
    divider = y_of(chart, root) + BAR

    def yellow(x: int) -> bool:
        r, g, b = png.rgb(x, divider)
        return r > 150 and g > 150 and b < 60

    assert [x for x in range(45) if yellow(x)] == [10, 20, 30, 40]


def test_the_io_lane_shows_a_write_burst_and_a_read_trickle(tmp_path: Path) -> None:
    root = make_task(100, "writer")
    chart, feed = chart_for(root, lanes=True)
    feed.step()
    feed.step(io={root: (100, 10_000_000)})  # 100 MB/s of writes for one sample, 1 kB/s of reads
    feed.step()
    png = Png(chart, tmp_path / "c.png")
    lane = y_of(chart, root) + ROW
    burst = png.column(1, lane, lane + THEME.io_lane_px - 1)

    def orange(p: tuple[int, int, int]) -> bool:
        return p[0] > 200 and 100 < p[1] < 180 and p[2] < 60

    def green(p: tuple[int, int, int]) -> bool:
        return p[0] < 100 and p[1] > 180 and p[2] < 100

    assert [orange(p) for p in burst] == [True] * 6 + [False]
    assert green(burst[-1])
    assert not any(orange(p) or green(p) for p in png.column(0, lane, lane + THEME.io_lane_px))


def test_the_rss_lane_shows_the_resident_set(tmp_path: Path) -> None:
    root = make_task(100, "hog")
    root.stat.rss_pages = (64 << 20) // 4096  # type: ignore[union-attr]
    chart, feed = chart_for(root, lanes=True)
    feed.step()
    feed.step()
    png = Png(chart, tmp_path / "c.png")
    lane = y_of(chart, root) + ROW + THEME.io_lane_px

    def violet(p: tuple[int, int, int]) -> bool:
        return p[0] > 120 and p[1] < 150 and p[2] > 200

    # 4 px: 1 for any size, 2 from 4 MiB, 3 from 32 MiB, 4 from 256 MiB.
    assert [violet(p) for p in png.column(0, lane, lane + THEME.rss_lane_px)] == [False, True, True, True, False]


def test_padding_rows_are_restored_when_the_tree_shrinks(tmp_path: Path) -> None:
    root = make_task(100)
    threads = [make_task(200 + i, parent=root, thread=True) for i in range(20)]
    chart, feed = chart_for(root, height=200)
    feed.step()
    feed.steps(4, {t: (feed.one_core(), 0) for t in threads})
    for t in threads[2:]:
        t.is_stale = True
    feed.step()
    del root.threads[2:]
    feed.step()
    chart.discard_snowflakes()
    used = chart.composed_height
    assert used == HEADER_PX + SLOT + 2 * ROW
    assert all(chart.layers.graph_pixel(x, y) == 0 for x in range(8) for y in range(used, 200))
    again = [make_task(300 + i, parent=root, thread=True, start_ticks=feed.sys.boottime_ticks) for i in range(5)]
    feed.step()
    png = Png(chart, tmp_path / "c.png")
    for t in again:
        for x in range(1, 8):
            assert not any(is_cyan(p) for p in bar_column(png, x, y_of(chart, t))), "no leftover pixels"


def test_long_argv_is_clipped_before_the_wchan_column(tmp_path: Path) -> None:
    root = make_task(100, "chatty", argv=("chatty", *(["--verbose"] * 200)), wchan="do_wait")
    chart = Chart(700, 200, theme=Theme())
    feed = Feed(chart, root)
    feed.step()
    png = Png(chart, tmp_path / "c.png")
    extents = chart.column_extents()
    argv_x1 = extents["ArgV/~ThreadName"][1]
    wchan_x0, wchan_x1 = extents["WChan"]
    assert argv_x1 < wchan_x0
    y = y_of(chart, root)
    in_gap = [png.rgb(x, yy) for x in range(argv_x1 + 1, wchan_x0 - 1) for yy in range(y, y + ROW)]
    assert not any(is_white(p) for p in in_gap)
    assert any(is_white(png.rgb(x, yy)) for x in range(argv_x1 - 30, argv_x1) for yy in range(y, y + ROW))
    assert any(is_white(png.rgb(x, yy)) for x in range(wchan_x0, wchan_x1) for yy in range(y, y + ROW))


@pytest.mark.parametrize("width_px", [300, 380, 450])
def test_a_narrow_chart_keeps_the_name_before_the_wait_channel(tmp_path: Path, width_px: int) -> None:
    root = make_task(100, "chatty", argv=("chatty", "--verbose", "--long-option"), wchan="do_wait")
    chart = Chart(width_px, 200, theme=Theme())
    Feed(chart, root).step()
    extents = chart.column_extents()
    argv_x0, argv_x1 = extents["ArgV/~ThreadName"]
    wchan_x0, wchan_x1 = extents["WChan"]
    assert argv_x1 - argv_x0 >= 60, "the name column keeps room for a name"
    assert wchan_x1 == wchan_x0 or argv_x1 - argv_x0 >= 100, "WChan gives way first"
    png = Png(chart, tmp_path / "c.png")
    y = y_of(chart, root)
    assert any(is_white(png.rgb(x, yy)) for x in range(argv_x0, argv_x1) for yy in range(y, y + ROW))


def test_tree_lines_only_where_vwm_draws_them(tmp_path: Path) -> None:
    root = make_task(100)
    parent = make_task(101, parent=root)
    make_task(102, parent=parent, thread=True)
    make_task(103, parent=parent, thread=True)
    sibling = make_task(104, parent=root)
    chart, feed = chart_for(root)
    feed.step()
    png = Png(chart, tmp_path / "a.png")
    tree_x = chart.column_extents()[""][0]
    # A sibling before the last one has threads: tees at depth 1 ...
    assert is_white(png.rgb(tree_x + 4, y_of(chart, parent) + 2))
    assert is_white(png.rgb(tree_x + 4, y_of(chart, sibling) + 2))
    # ... and the corner of the last sibling stops 4 px above the bottom of its row.
    assert not is_white(png.rgb(tree_x + 4, y_of(chart, sibling) + ROW - 2))

    flat_root = make_task(200)
    leaves = [make_task(201 + i, parent=flat_root) for i in range(3)]
    flat, flat_feed = chart_for(flat_root)
    flat_feed.step()
    png = Png(flat, tmp_path / "b.png")
    tree_x = flat.column_extents()[""][0]
    for leaf in leaves:
        assert not is_white(png.rgb(tree_x + 4, y_of(flat, leaf) + 2)), "a flat list of leaves has no lines"


def test_header_rows_show_iowait_idle_and_adherence(tmp_path: Path) -> None:
    root = make_task(100)
    chart, feed = chart_for(root)
    feed.step()
    feed.step(sys_cpu=(0, 0, 0, 10, 10, 0, 0, 0, 0, 0), adherence=0.5)
    png = Png(chart, tmp_path / "c.png")
    assert [is_red(p) for p in png.column(0, 0, BAR)] == [True] * 7 + [False] * 7, "IOWait from the top"
    assert [is_cyan(p) for p in png.column(0, 0, BAR)] == [False] * 7 + [True] * 7, "Idle from the bottom"
    assert [is_red(p) for p in png.column(0, 2 * ROW, 2 * ROW + BAR)] == [True] * 7 + [False] * 7, "late"


def test_compose_onto_any_surface_at_an_offset() -> None:
    root = make_task(100)
    chart, feed = chart_for(root, width=300, height=200)
    feed.step()
    feed.step({root: (feed.one_core(), 0)})
    surface = cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, 500, 400)
    chart.compose(surface, 50, 30)
    surface.flush()
    px = memoryview(surface.get_data()).cast("I")
    stride = surface.get_stride() // 4
    y = 30 + y_of(chart, root) + BAR - 1
    assert px[y * stride + 50] & 0xFFFFFF == 0x00FFFF
    assert px[y * stride + 49] == 0, "nothing left of the chart"
    assert px[(30 + chart.composed_height) * stride + 60] == 0, "nothing below the composed rows"


def test_resize_keeps_history_and_relayouts_now(tmp_path: Path) -> None:
    root = make_task(100, wchan="do_wait")
    chart, feed = chart_for(root, width=300, height=120)
    feed.step()
    feed.steps(3, {root: (feed.one_core(), 0)})
    chart.resize(600, 300)
    png = Png(chart, tmp_path / "c.png")
    assert (png.width, png.height) == (600, 300)
    for x in range(3):
        assert all(is_cyan(p) for p in bar_column(png, x, y_of(chart, root)))
    assert chart.column_extents()["State"][1] == 600 - THEME.text_lead_px


def test_one_update_per_generation() -> None:
    root = make_task(100)
    chart, feed = chart_for(root)
    feed.step()
    chart.update(root, feed.sys, feed.generation)
    assert chart.samples == 1


class FakeEngine:
    """Just what ``Chart.attach`` uses of the engine."""

    def __init__(self, root: Task) -> None:
        self.root = root
        self.generation = 0
        self.structure_changes = 0
        self.sys_stat: SysStat | None = SysStat()
        self.ticks_per_s = 100
        self.num_cpus = 2
        self.page_size = 4096

    def monitor(self, pid: int, wants: object = None, callback: object = None, arg: object = None) -> Task:
        assert pid == self.root.pid
        self.root.callbacks.append((callback, arg))  # type: ignore[arg-type]
        return self.root

    def unmonitor(self, task: Task, callback: object = None, arg: object = None) -> None:
        task.callbacks.remove((callback, arg))  # type: ignore[arg-type]

    def sample(self) -> None:
        self.generation += 1
        for callback, arg in tuple(self.root.callbacks):
            callback(self, self.root, arg)


def test_attach_updates_from_the_engine_callback() -> None:
    from vwm_overlay.schedule import Schedule

    root = make_task(100)
    engine = FakeEngine(root)
    schedule = Schedule(20.0, clock=lambda: 0.0)
    chart = Chart(300, 200)
    assert chart.attach(engine, 100, schedule) is root
    schedule.begin_sample(0.0)
    engine.sample()
    engine.sample()
    assert chart.samples == 2
    chart.detach()
    assert root.callbacks == []
    engine.sample()
    assert chart.samples == 2


def test_an_unchanged_structure_version_skips_the_tree_walk() -> None:
    root = make_task(100)
    chart, feed = chart_for(root)
    sys = feed.sys

    def step(version: int) -> None:
        feed.generation += 1
        chart.update(root, sys, feed.generation, structure_version=version)

    step(1)
    child = make_task(101, parent=root)
    step(1)  # the engine says nothing moved: the layout is reused as it was
    assert chart.row_y(child) is None
    step(2)
    assert chart.row_y(child) is not None


def test_childrens_cpu_credited_to_a_parent_is_drawn_dimmer_beyond_its_own(tmp_path: Path) -> None:
    root = make_task(100, "make")
    chart, feed = chart_for(root)
    feed.step()
    # 20 ticks on 2 cores, a row is 14 px per core: 2 ticks of its own (3 px), with 4 of reaped children 8 px.
    feed.step({root: (2, 0)}, children={root: (4, 0)})
    png = Png(chart, tmp_path / "c.png")
    y = y_of(chart, root)
    column = bar_column(png, 0, y)

    def dim_cyan(p: tuple[int, int, int]) -> bool:
        return p[0] < 40 and 100 < p[1] < 160 and 100 < p[2] < 160

    assert [is_cyan(p) for p in column] == [False] * 11 + [True] * 3
    assert [dim_cyan(p) for p in column] == [False] * 6 + [True] * 5 + [False] * 3
    # The bright part is what the User column counts: the process's own 0.02 s.
    cells = chart.row_cells(root)
    assert cells is not None and cells[1][3] == "0.02s"


def test_only_a_seen_charts_rows_count_as_shown() -> None:
    # The engine reads the wait channel of shown tasks every sample: a hidden chart's rows must not ask for it.
    root = make_task(100, "make")
    child = make_task(101, parent=root)
    chart, feed = chart_for(root)
    feed.step()
    assert (root.shown, child.shown) == (1, 1)
    chart.set_seen(False)
    feed.step()
    assert (root.shown, child.shown) == (0, 0)
    chart.set_seen(True)
    assert (root.shown, child.shown) == (1, 1)
    chart.detach()
    assert (root.shown, child.shown) == (0, 0)
