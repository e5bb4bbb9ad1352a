"""Per-sample cost of the chart against the fairest full redraw of the same chart, in one run.

The chart draws one column per sample into its ring buffer, and on composition the text that changed.  The
baseline draws the same 800x600 chart of the same 200-task tree (the same visible rows, fonts, colours, shadow)
without keeping anything but its graph: every sample it scrolls the graph by one self-blit, draws the new column
(one fill per colour for all rows), draws all visible text again (every glyph in one call) and composes it all
onto the target.  Both are measured with ``time.process_time``.

Printed: the chart's cost per sample hidden (update only) and shown (update + compose), with the number of task
rows visible, for the 200-task tree and for a 40-task tree whose every row is busy; then the full redraw's cost
and the ratio, last: ``full/incremental=R``.

Run: ``python benchmarks/render.py``
"""

from __future__ import annotations

import time

import cairocffi

from vwm_overlay.chart import Chart, Theme
from vwm_overlay.chart.background import build_background
from vwm_overlay.chart.cairo_types import (
    ANTIALIAS_NONE,
    FORMAT_A8,
    FORMAT_ARGB32,
    OPERATOR_CLEAR,
    OPERATOR_OVER,
    OPERATOR_SOURCE,
    glyph_index,
    new_context,
    new_image,
    set_hinted_font,
    show_glyphs,
)
from vwm_overlay.chart.scale import ratio_px
from vwm_overlay.schedule import SampleTiming
from vwm_overlay.vmon.records import SysStat, Task, TaskIO, TaskStat

WIDTH, HEIGHT = 800, 600
TASKS = 200
TICKS_PER_S = 100
NUM_CPUS = 2
HERTZ = 10
WARMUP_SAMPLES = 50
INCREMENTAL_SAMPLES = 400
FULL_SAMPLES = 20
BUSY_TASKS = 40
BUSY_SAMPLES = 1000


def build_tree(count: int = TASKS, threads: int = 18) -> tuple[Task, list[Task]]:
    """A root, then processes of 1 main + ``threads - 1`` other threads, until there are ``count`` tasks in all."""
    tasks: list[Task] = []

    def new(pid: int, parent: Task | None, *, thread: bool) -> Task:
        task = Task(pid, is_thread=thread, parent=parent)
        stat = TaskStat()
        stat.comm = "worker" if parent is not None else "build"
        stat.argv = ("worker", "--jobs", "8", "--target", f"unit{pid}")
        stat.state = "R"
        stat.wchan = "0"
        stat.start_ticks = 1
        stat.rss_pages = 4096
        task.stat = stat
        if not thread:
            task.io = TaskIO()
        if parent is not None:
            (parent.threads if thread else parent.children).append(task)
            parent.is_threaded = parent.is_threaded or thread
        tasks.append(task)
        return task

    root = new(1000, None, thread=False)
    pid = 1001
    while len(tasks) < count:
        process = new(pid, root, thread=False)
        pid += 1
        for _ in range(min(threads, count - len(tasks))):
            new(pid if process.threads else process.pid, process, thread=True)
            pid += 1
    return root, tasks


class Load:
    """Changing CPU: each task's ticks per sample follow its own cycle."""

    def __init__(self, root: Task, tasks: list[Task]) -> None:
        self.root = root
        self.tasks = tasks
        self.sys = SysStat()
        self.sys.boottime_ticks = 100_000
        self.generation = 0

    def step(self) -> None:
        self.generation += 1
        g = self.generation
        busy = 0
        for i, task in enumerate(self.tasks):
            stat = task.stat
            assert stat is not None
            user = (i + g) % 7
            system = (i * 3 + g) % 3
            stat.utime_ticks += user
            stat.stime_ticks += system
            busy += user + system
            if task.io is not None:
                task.io.write_bytes += (g % 5) * 40_000
                task.io.read_bytes += (i % 3) * 9_000
        total = busy + 10 * NUM_CPUS * TICKS_PER_S // HERTZ
        self.sys.cpu = tuple(
            c + d for c, d in zip(self.sys.cpu, (busy, 0, 0, total - busy, 1, 0, 1, 0, 0, 0), strict=True)
        )
        self.sys.boottime_ticks += TICKS_PER_S // HERTZ


class FullRedraw:
    """The same chart drawn the fairest non-incremental way: every sample, the graph scrolls by one self-blit and
    gets its new column (all bars of a colour in one fill), then all visible text is drawn again (every glyph in
    one call) with its shadow, and everything is composed over the background onto the target.
    """

    def __init__(self, tasks: list[Task], theme: Theme) -> None:
        self.theme = theme
        self.tasks = tasks
        self.header_px = 3 * theme.row_px
        self.rows = (HEIGHT - self.header_px) // theme.row_px
        self.graph = new_image(FORMAT_ARGB32, WIDTH, HEIGHT)
        self.spare = new_image(FORMAT_ARGB32, WIDTH, HEIGHT)
        self.text = new_image(FORMAT_A8, WIDTH, HEIGHT)
        self.target = new_image(FORMAT_ARGB32, WIDTH, HEIGHT)
        self.background = new_image(FORMAT_ARGB32, WIDTH, HEIGHT)
        # The chart's static background (row shading, dividers, markers), built once: it never scrolls.
        bands = [(y, theme.row_px, (y // theme.row_px) % 2 == 1) for y in range(0, HEIGHT, theme.row_px)]
        pixels = build_background(theme, WIDTH, HEIGHT, bands, 100)
        data = memoryview(self.background.get_data())
        data[:] = pixels
        self.background.mark_dirty()
        self.text_ctx = new_context(self.text)
        set_hinted_font(self.text_ctx, theme.font_family, theme.font_size_px, ANTIALIAS_NONE)
        self.advance_px = self.text_ctx.text_extents("M")[4]
        self.glyph_ids: dict[str, int] = {}
        self.last = [(0, 0)] * len(tasks)
        self.last_total = 0

    def update(self, sys: SysStat) -> None:
        theme = self.theme
        total = sum(sys.cpu[:8]) - self.last_total
        self.last_total = sum(sys.cpu[:8])
        bars = []
        for i, task in enumerate(self.tasks[: self.rows]):
            stat = task.stat
            assert stat is not None
            u0, s0 = self.last[i]
            bar_px = theme.bar_px
            bars.append(
                (
                    ratio_px(stat.utime_ticks - u0, total, NUM_CPUS, bar_px),
                    ratio_px(stat.stime_ticks - s0, total, NUM_CPUS, bar_px),
                )
            )
            self.last[i] = (stat.utime_ticks, stat.stime_ticks)
        # Scroll: the whole graph one pixel right, in one blit (into the spare surface, then swapped).
        ctx = new_context(self.spare)
        ctx.set_operator(OPERATOR_SOURCE)
        ctx.set_source_surface(self.graph, 1, 0)
        ctx.paint()
        self.graph, self.spare = self.spare, self.graph
        # The new column: a fill per colour for all rows.
        ctx = new_context(self.graph)
        ctx.set_operator(OPERATOR_SOURCE)
        ctx.rectangle(0, 0, 1, HEIGHT)
        ctx.set_source_rgba(0, 0, 0, 0)
        ctx.fill()
        for colour, which in ((theme.graph_bottom, 0), (theme.graph_top, 1)):
            for r, heights in enumerate(bars):
                h = heights[which]
                top = self.header_px + r * theme.row_px
                if h:
                    ctx.rectangle(0, top + theme.bar_px - h if which == 0 else top, 1, h)
            ctx.set_source_rgba(*colour)
            ctx.fill()
        # All text again: one show_glyphs call for every glyph of the chart.
        text = self.text_ctx
        text.set_operator(OPERATOR_CLEAR)
        text.paint()
        text.set_operator(OPERATOR_OVER)
        glyphs: list[tuple[int, float, float]] = []
        self._add(glyphs, 640, theme.text_baseline_px, "\\/\\/\\ # bench @ 10Hz")
        heading = "Row User Sys Wall ArgV/~ThreadName WChan PID State"
        self._add(glyphs, 4, 2 * theme.row_px + theme.text_baseline_px, heading)
        for r, task in enumerate(self.tasks[: self.rows]):
            stat = task.stat
            assert stat is not None
            cells = (
                str(r),
                f"{stat.utime_ticks / TICKS_PER_S:.2f}s",
                f"{stat.stime_ticks / TICKS_PER_S:.2f}s",
                f"{(sys.boottime_ticks - stat.start_ticks) / TICKS_PER_S:.2f}s",
                " ".join(stat.argv),
                "-",
                f"{task.pid:5d}",
                stat.state,
            )
            baseline = self.header_px + r * theme.row_px + theme.text_baseline_px
            for x, cell in zip((4, 30, 80, 130, 190, 600, 700, 760), cells, strict=True):
                self._add(glyphs, x, baseline, cell)
        show_glyphs(text, glyphs)
        self.text.flush()
        # Compose: background, graph, shadow at four offsets, text.
        out = new_context(self.target)
        out.set_operator(OPERATOR_SOURCE)
        out.set_source_surface(self.background, 0, 0)
        out.paint()
        out.set_operator(OPERATOR_OVER)
        out.set_source_surface(self.graph, 0, 0)
        out.paint()
        out.set_source_rgba(*theme.shadow)
        for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            out.mask_surface(self.text, dx, dy)
        out.set_source_rgba(*theme.text)
        out.mask_surface(self.text, 0, 0)
        self.target.flush()

    def _add(self, glyphs: list[tuple[int, float, float]], x: float, y: float, text: str) -> None:
        for n, char in enumerate(text):
            gid = self.glyph_ids.get(char)
            if gid is None:
                gid = self.glyph_ids[char] = glyph_index(self.text_ctx, char)
            glyphs.append((gid, x + n * self.advance_px, y))


def measure_chart(
    tree: tuple[Task, list[Task]], samples: int, *, compose: bool, theme: Theme | None = None
) -> tuple[float, Chart]:
    """CPU seconds per sample of driving a chart of ``tree`` (after a warm-up), and the chart."""
    root, tasks = tree
    load = Load(root, tasks)
    chart = Chart(WIDTH, HEIGHT, name="bench", markers_every=100, theme=theme)
    target = cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, WIDTH, HEIGHT)
    ctx = cairocffi.Context(target)
    timing = SampleTiming(1, 0.0, 1.0 / HERTZ)

    def sample() -> None:
        load.step()
        chart.update(root, load.sys, load.generation, timing, ticks_per_s=TICKS_PER_S, num_cpus=NUM_CPUS)
        if compose:
            chart.compose(ctx)
            target.flush()

    for _ in range(WARMUP_SAMPLES):
        sample()
    start = time.process_time()
    for _ in range(samples):
        sample()
    return (time.process_time() - start) / samples, chart


def measure_full() -> tuple[float, int]:
    """CPU seconds per sample of the full redraw of the 200-task chart, and its visible rows."""
    root, tasks = build_tree()
    load = Load(root, tasks)
    full = FullRedraw(tasks, Theme())
    for _ in range(WARMUP_SAMPLES):
        load.step()
        full.update(load.sys)
    start = time.process_time()
    for _ in range(FULL_SAMPLES):
        load.step()
        full.update(load.sys)
    return (time.process_time() - start) / FULL_SAMPLES, full.rows


def main() -> None:
    hidden, _ = measure_chart(build_tree(BUSY_TASKS, 12), BUSY_SAMPLES, compose=False)
    visible, _ = measure_chart(build_tree(BUSY_TASKS, 12), BUSY_SAMPLES, compose=True)
    every_change, _ = measure_chart(
        build_tree(BUSY_TASKS, 12), BUSY_SAMPLES, compose=True, theme=Theme(numbers_refresh_s=0.0)
    )
    print(f"chart: {WIDTH}x{HEIGHT}, {BUSY_TASKS} busy tasks at {HERTZ} Hz ({BUSY_SAMPLES} samples)")
    print(f"hidden (update only): {hidden * 1e3:.2f} ms/sample")
    print(
        f"visible (update + compose): {visible * 1e3:.2f} ms/sample; "
        f"with numbers drawn every sample: {every_change * 1e3:.2f} ms/sample"
    )
    big_hidden, chart = measure_chart(build_tree(), INCREMENTAL_SAMPLES, compose=False)
    rows = chart.composed_height // chart.theme.row_px - 3
    big_shown, _ = measure_chart(build_tree(), INCREMENTAL_SAMPLES, compose=True)
    big_every, _ = measure_chart(build_tree(), INCREMENTAL_SAMPLES, compose=True, theme=Theme(numbers_refresh_s=0.0))
    full, full_rows = measure_full()
    print(f"chart: {WIDTH}x{HEIGHT}, {TASKS} tasks, CPU changing every sample: {rows} task rows visible")
    print(f"chart, hidden (update only):        {big_hidden * 1e3:.2f} ms/sample ({INCREMENTAL_SAMPLES} samples)")
    print(f"chart, shown (update + compose):    {big_shown * 1e3:.2f} ms/sample")
    print(f"chart, shown, every number drawn:   {big_every * 1e3:.2f} ms/sample")
    print(f"full redraw ({full_rows} rows: scroll blit, new column, all text): {full * 1e3:.2f} ms/sample")
    print(f"full/incremental={full / big_shown:.1f} (every number drawn: {full / big_every:.1f})")


if __name__ == "__main__":
    main()
