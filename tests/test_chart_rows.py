"""How many tasks a chart shows, and which: vwm's density, and nothing hidden silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from chart_helpers import Feed, Png, is_cyan, is_white, make_task

from vwm_overlay.chart import Chart, Theme
from vwm_overlay.vmon.records import Task

THEME = Theme(text_lead_px=40)
ROW = THEME.row_px
HEADER_PX = 3 * ROW


def sleepers(count: int, *, argv: tuple[str, ...] = ("sleep", "6")) -> tuple[Task, list[Task]]:
    root = make_task(100, "sh", argv=("sh", "-c", "workload"))
    children = [make_task(200 + i, argv[0], argv=argv, parent=root, wchan="hrtimer_nanosleep") for i in range(count)]
    return root, children


def rows_with_text(png: Png, x0: int, x1: int) -> int:
    """Rows below the header with white text between ``x0`` and ``x1``."""
    tops = range(HEADER_PX, png.height - ROW + 1, ROW)
    return sum(any(is_white(p) for p in png.region(x0, y, x1, y + ROW - 1)) for y in tops)


def test_every_task_is_one_row_as_in_vwm(tmp_path: Path) -> None:
    root, _ = sleepers(50)
    chart = Chart(800, 600, theme=THEME)
    feed = Feed(chart, root)
    feed.steps(3)
    png = Png(chart, tmp_path / "c.png")
    pid_x0, pid_x1 = chart.column_extents()["PID"]
    assert rows_with_text(png, pid_x0, pid_x1) >= 36  # (600 - 45) // 15 = 37 rows of 15 px: every one holds a task


def test_lanes_are_a_mode(tmp_path: Path) -> None:
    root, children = sleepers(3)
    chart = Chart(800, 300, theme=THEME, lanes=True)
    feed = Feed(chart, root)
    feed.steps(2)
    assert chart.row_y(children[0]) == HEADER_PX + THEME.process_slot_px
    feed.step(io={root: (0, 10_000_000)})
    chart.set_lanes(False)
    feed.step()
    assert chart.row_y(children[0]) == HEADER_PX + ROW
    chart.set_lanes(True)
    feed.step()
    png = Png(chart, tmp_path / "c.png")
    lane = HEADER_PX + ROW
    # The lanes are back, blank where they were hidden: no colour of an older burst copied from another row.
    assert chart.row_y(children[0]) == HEADER_PX + THEME.process_slot_px
    assert all(max(p) < 0x40 for p in png.column(3, lane, lane + THEME.io_lane_px - 1))


def test_idle_siblings_collapse_so_a_busy_child_stays_on_the_chart(tmp_path: Path) -> None:
    root, children = sleepers(50)
    busy = make_task(300, "python", argv=("python", "-c", "spin"), parent=root, state="R")
    chart = Chart(800, 600, theme=THEME)
    feed = Feed(chart, root)
    feed.step()
    feed.steps(3, {busy: (feed.one_core(), 0)})
    png = Png(chart, tmp_path / "c.png")
    y = chart.row_y(busy)
    assert y is not None and y + ROW <= 600
    assert all(is_cyan(p) for p in png.column(0, y, y + ROW - 1)), "the busy child's graph is on the chart"
    pid_x0, pid_x1 = chart.column_extents()["PID"]
    assert rows_with_text(png, pid_x0, pid_x1) >= 34
    shown = [c for c in children if chart.row_y(c) is not None]
    assert len(shown) < 50
    last = shown[-1]
    assert chart.row_label(last) == f"sleep 6 x{50 - len(shown) + 1}", "the rest share the last sleeper's row"
    assert chart.hidden_count == 0


def test_a_collapsed_sleeper_that_wakes_gets_its_own_row(tmp_path: Path) -> None:
    root, children = sleepers(60)
    chart = Chart(800, 600, theme=THEME)
    feed = Feed(chart, root)
    feed.steps(2)
    waking = children[-1]
    assert chart.row_y(waking) is None
    feed.step({waking: (1, 1)})
    y = chart.row_y(waking)
    assert y is not None and y + ROW <= 600
    png = Png(chart, tmp_path / "c.png")
    assert any(is_cyan(p) for p in png.column(0, y, y + ROW - 1))
    assert chart.row_label(waking) == "sleep 6"


def test_rows_that_do_not_fit_are_counted_and_busy_ones_kept(tmp_path: Path) -> None:
    root = make_task(100, "sh")
    idle = [make_task(200 + i, f"idle{i}", parent=root) for i in range(40)]  # all different: nothing collapses
    busy = make_task(300, "busy", parent=root)
    chart = Chart(800, 300, theme=THEME)
    feed = Feed(chart, root)
    feed.step()
    feed.steps(2, {busy: (feed.one_core(), 0)})
    room = (300 - HEADER_PX) // ROW  # 17 rows: the root, the busy child, 15 idle ones
    assert chart.hidden_count == 42 - room
    y = chart.row_y(busy)
    assert y is not None and y + ROW <= 300
    png = Png(chart, tmp_path / "c.png")
    assert all(is_cyan(p) for p in png.column(0, y, y + ROW - 1))
    assert sum(chart.row_y(t) is not None for t in idle) == room - 2
    # The count is said in the header's second row, at the right.
    assert any(is_white(p) for p in png.region(600, ROW, 796, 2 * ROW - 1))
    assert chart.header_texts()[1].endswith(f"{42 - room} tasks not shown")


def test_a_chart_too_short_for_any_row_and_a_tree_gone() -> None:
    root, children = sleepers(5)
    chart = Chart(800, 40, theme=THEME)  # not even the header fits
    feed = Feed(chart, root)
    feed.steps(2, {children[0]: (1, 0)})
    assert chart.hidden_count == 6
    root.is_stale = True
    for child in children:
        child.is_stale = True
    feed.step()
    assert chart.hidden_count == 0


def test_a_task_listed_twice_gets_one_row(tmp_path: Path) -> None:
    """A group's top-level process that is also another's child (until the group catches up) is one row: drawn
    twice, the rows overlapped and the background no longer fitted the chart."""
    root = make_task(100, "group")
    parent = make_task(150, "recorder", parent=root)
    idle = [make_task(200 + i, f"idle{i}", parent=parent) for i in range(40)]
    busy = make_task(300, "busy", parent=parent)
    root.children.append(busy)  # also a root of its own
    chart = Chart(800, 300, theme=THEME)
    feed = Feed(chart, root)
    feed.step()
    feed.steps(3, {busy: (feed.one_core(), 0)})
    png = Png(chart, tmp_path / "c.png")  # composes the whole chart, background and all
    assert png.height == 300
    y = chart.row_y(busy)
    assert y is not None and all(is_cyan(p) for p in png.column(0, y, y + ROW - 1))
    assert chart.hidden_count == 43 - (300 - HEADER_PX) // ROW
    assert sum(chart.row_y(t) is not None for t in idle) == (300 - HEADER_PX) // ROW - 3


def exit_task(feed: Feed, task: Task) -> None:
    """``task`` exits: found gone in one sample, dropped from its parent's list by the engine in the next."""
    task.is_stale = True
    feed.step()
    assert task.parent is not None
    task.parent.children.remove(task)


def test_a_task_that_exits_busy_keeps_its_snowflake_in_view(tmp_path: Path) -> None:
    root, children = sleepers(50)
    busy = make_task(300, "python", argv=("python", "-c", "spin"), parent=root, state="R")
    chart = Chart(800, 600, theme=THEME)
    feed = Feed(chart, root)
    feed.step()
    feed.steps(5, {busy: (feed.one_core(), 0)})
    exit_task(feed, busy)
    feed.steps(3)
    y = chart.row_y(busy)
    assert y is not None and y + ROW <= 600, "the busy child's snowflake is in view"
    png = Png(chart, tmp_path / "a.png")
    assert all(is_cyan(p) for x in (5, 6, 7) for p in png.column(x, y + 1, y + ROW - 2)), "with its history"
    assert chart.snowflake_count == 1
    # Idle sleepers collapsed to make room for it: still nothing hidden.
    assert (chart.hidden_count, chart.hidden_exited_count, chart.header_texts()[1]) == (0, 0, "")

    # Then the 50 idle sleepers exit, newer: they fall off below it, and the header counts them.
    for child in children:
        child.is_stale = True
    feed.step()
    y = chart.row_y(busy)
    assert y is not None and y + ROW <= 600
    room = (600 - HEADER_PX) // ROW - 2  # under the root's row and the blank row above the snowflakes
    assert chart.snowflake_count == room
    assert chart.hidden_exited_count == 51 - room
    assert chart.header_texts()[1] == f"{51 - room} exited not shown"
    png = Png(chart, tmp_path / "b.png")
    assert all(is_cyan(p) for x in (6, 9) for p in png.column(x, y + 1, y + ROW - 2)), "it moved with its history"
    assert any(is_white(p) for p in png.region(600, ROW, 796, 2 * ROW - 1)), "the count is drawn"

    chart.discard_snowflakes()
    assert (chart.hidden_exited_count, chart.header_texts()[1]) == (0, "")


def test_a_busy_snowflake_gives_its_room_back_once_its_graph_scrolled_off() -> None:
    root, children = sleepers(50)
    busy = make_task(300, "python", parent=root)
    chart = Chart(800, 600, theme=THEME)
    feed = Feed(chart, root)
    feed.step()
    feed.steps(3, {busy: (feed.one_core(), 0)})
    exit_task(feed, busy)
    shown = sum(chart.row_y(c) is not None for c in children)
    feed.step(columns=700)
    assert chart.row_y(busy) is not None, "still on the chart: kept"
    feed.step(columns=100)
    # The idle live rows take their room back; the snowflake fell off, and that is said.
    assert chart.row_y(busy) is None
    assert sum(chart.row_y(c) is not None for c in children) == shown + 2
    assert chart.header_texts()[1] == "1 exited not shown"


def test_busy_live_rows_come_before_busy_snowflakes() -> None:
    root = make_task(100, "sh")
    spinners = [make_task(200 + i, f"spin{i}", parent=root) for i in range(30)]
    leaving = make_task(300, "leaving", parent=root)
    chart = Chart(800, 300, theme=THEME)  # 17 rows under the header
    feed = Feed(chart, root)
    feed.step()
    load = {t: (1, 0) for t in (*spinners, leaving)}
    feed.steps(2, load)
    leaving.is_stale = True
    del load[leaving]
    feed.step(load)
    # Every row busy: the live ones fill the chart (the root and 16 spinners), the snowflake is counted.
    assert chart.row_y(leaving) is None
    assert chart.hidden_count == 31 - 17
    assert chart.header_texts()[1] == f"{31 - 17} tasks + 1 exited not shown"


def test_when_everything_fits_snowflakes_stay_newest_first() -> None:
    root = make_task(100, "sh")
    busy = make_task(101, "busy", parent=root)
    idle = make_task(102, "idle", parent=root)
    chart = Chart(800, 600, theme=THEME)
    feed = Feed(chart, root)
    feed.step()
    feed.step({busy: (feed.one_core(), 0)})
    exit_task(feed, busy)
    exit_task(feed, idle)
    y_root = chart.row_y(root)
    assert y_root == HEADER_PX
    assert (chart.row_y(idle), chart.row_y(busy)) == (HEADER_PX + 2 * ROW, HEADER_PX + 3 * ROW)
    assert chart.header_texts()[1] == ""


@pytest.mark.parametrize(
    ("width", "legend"),
    [
        (800, "IO write(top) read(bottom) 2px=4K/s x8/px full=128M/s   RSS 2px=4M x8/px full=256M"),
        (400, "IO 2px=4K/s x8/px   RSS 2px=4M x8/px"),
        (200, ""),
    ],
)
def test_the_lanes_legend_gives_way_to_the_count(tmp_path: Path, width: int, legend: str) -> None:
    root = make_task(100, "sh")
    for i in range(40):
        make_task(200 + i, f"idle{i}", parent=root)
    theme = Theme()
    chart = Chart(width, 300, theme=theme, lanes=True)
    feed = Feed(chart, root)
    feed.steps(2)
    assert chart.hidden_count > 10
    chart.sync_layers()
    [band] = [band for band in chart.shape_bands() if band.key == ("header", 1)]
    assert band.cells is not None
    (legend_x0, legend_x1, _, legend_text), (count_x0, count_x1, _, count_text) = band.cells
    assert (legend_text, count_text) == (legend, f"{chart.hidden_count} tasks not shown")
    # Side by side, each text whole in its cell.
    advance = chart.advance_px
    assert legend_x0 <= legend_x1 <= count_x0 < count_x1 == width - theme.text_lead_px
    assert len(legend_text) * advance <= legend_x1 - legend_x0
    assert len(count_text) * advance <= count_x1 - count_x0
    # And so drawn: nothing between the legend's end and the count, the count there.
    png = Png(chart, tmp_path / "c.png")
    legend_end = legend_x0 + int(len(legend_text) * advance) + 2 if legend_text else 0
    assert not any(is_white(p) for p in png.region(legend_end, ROW, count_x0 - 1, 2 * ROW - 1))
    assert any(is_white(p) for p in png.region(count_x0, ROW, count_x1, 2 * ROW - 1))


def test_a_thread_gone_before_its_process_is_one_snowflake() -> None:
    """A thread listed as gone again with its process (as logs of earlier versions have it) gets no second row."""
    root = make_task(100, "sh")
    worker = make_task(200, "python", parent=root)
    threads = [make_task(201 + i, "python", parent=worker, thread=True) for i in range(3)]
    chart = Chart(800, 600, theme=THEME)
    feed = Feed(chart, root)
    feed.steps(2, {t: (feed.one_core() // 4, 0) for t in threads})
    threads[0].is_stale = True  # gone, still in the worker's list
    feed.step()
    worker.is_stale = True
    for thread in threads[1:]:
        thread.is_stale = True
    feed.step()
    assert chart.snowflake_count == 4  # the worker and its three threads, once each
