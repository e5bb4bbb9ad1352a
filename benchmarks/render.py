"""Per-sample cost of the chart: incremental update + compose, against a naive redraw of all history.

Both draw the same 800x600 chart of a synthetic 200-task tree whose CPU changes every sample, in one run,
measured with ``time.process_time``.  The naive renderer keeps every row's bar heights and, each sample, redraws
every visible row's whole history of bars and then all text; the chart draws one column, then composes (drawing
the text that changed).  The last line printed is ``full/incremental=R``.

Before that, the per-sample cost of a 40-task 800x600 chart whose every row is busy (its User, Sys and Wall change
every sample) is printed for the chart's two uses: a hidden chart (update only) and a visible one (update, then
compose onto an ARGB32 surface), the latter with the default ``Theme.numbers_refresh_s`` and with every number
drawn each sample.

Run: ``python benchmarks/render.py``
"""

from __future__ import annotations

import time
from collections import deque

import cairocffi

from vwm_overlay.chart import Chart, Theme
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


class NaiveChart:
    """Stores every row's bar heights; redraws all of them, then all text, every sample."""

    def __init__(self, tasks: list[Task]) -> None:
        self.surface = cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, WIDTH, HEIGHT)
        self.ctx = cairocffi.Context(self.surface)
        self.ctx.select_font_face("monospace")
        self.ctx.set_font_size(10)
        self.tasks = tasks
        self.rows = (HEIGHT - 45) // 15
        self.history = [deque([(3, 1)] * WIDTH, maxlen=WIDTH) for _ in tasks]
        self.last = [(0, 0)] * len(tasks)
        self.last_total = 0

    def update(self, sys: SysStat) -> None:
        total = sum(sys.cpu[:8]) - self.last_total
        self.last_total = sum(sys.cpu[:8])
        for i, task in enumerate(self.tasks):
            stat = task.stat
            assert stat is not None
            u0, s0 = self.last[i]
            self.history[i].appendleft(
                (
                    ratio_px(stat.utime_ticks - u0, total, NUM_CPUS, 14),
                    ratio_px(stat.stime_ticks - s0, total, NUM_CPUS, 14),
                )
            )
            self.last[i] = (stat.utime_ticks, stat.stime_ticks)
        ctx = self.ctx
        ctx.set_source_rgb(0, 0, 0)
        ctx.paint()
        for r in range(min(self.rows, len(self.tasks))):
            top = 45 + r * 15
            for colour, which in (((0, 1, 1), 0), ((1, 0, 0), 1)):
                ctx.set_source_rgb(*colour)
                for x, bars in enumerate(self.history[r]):
                    h = bars[which]
                    if h:
                        ctx.rectangle(x, top + 14 - h if which == 0 else top, 1, h)
                ctx.fill()
        ctx.set_source_rgb(1, 1, 1)
        for r in range(min(self.rows, len(self.tasks))):
            stat = self.tasks[r].stat
            assert stat is not None
            baseline = 45 + r * 15 + 11
            cells = (
                str(r),
                f"{stat.utime_ticks / TICKS_PER_S:.2f}s",
                f"{stat.stime_ticks / TICKS_PER_S:.2f}s",
                f"{(sys.boottime_ticks - stat.start_ticks) / TICKS_PER_S:.2f}s",
                " ".join(stat.argv),
                "-",
                f"{self.tasks[r].pid:5d}",
                stat.state,
            )
            for x, text in zip((4, 30, 80, 130, 190, 600, 700, 760), cells, strict=True):
                ctx.move_to(x, baseline)
                ctx.show_text(text)
        self.surface.flush()


def measure_incremental() -> float:
    """Per-sample cost of updating and composing the 200-task chart."""
    return measure_chart(build_tree(), INCREMENTAL_SAMPLES, compose=True)


def measure_busy(*, compose: bool, theme: Theme | None = None) -> float:
    """Per-sample cost for ``BUSY_TASKS`` busy tasks: update only (a hidden chart), or update and compose."""
    return measure_chart(build_tree(BUSY_TASKS, 12), BUSY_SAMPLES, compose=compose, theme=theme)


def measure_chart(tree: tuple[Task, list[Task]], samples: int, *, compose: bool, theme: Theme | None = None) -> float:
    """CPU seconds per sample of driving a chart of ``tree`` (after a warm-up)."""
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
    return (time.process_time() - start) / samples


def measure_full() -> float:
    root, tasks = build_tree()
    load = Load(root, tasks)
    naive = NaiveChart(tasks)
    for _ in range(2):
        load.step()
        naive.update(load.sys)
    start = time.process_time()
    for _ in range(FULL_SAMPLES):
        load.step()
        naive.update(load.sys)
    return (time.process_time() - start) / FULL_SAMPLES


def main() -> None:
    hidden = measure_busy(compose=False)
    visible = measure_busy(compose=True)
    every_change = measure_busy(compose=True, theme=Theme(numbers_refresh_s=0.0))
    print(f"chart: {WIDTH}x{HEIGHT}, {BUSY_TASKS} busy tasks at {HERTZ} Hz ({BUSY_SAMPLES} samples)")
    print(f"hidden (update only): {hidden * 1e3:.2f} ms/sample")
    print(
        f"visible (update + compose): {visible * 1e3:.2f} ms/sample; "
        f"with numbers drawn every sample: {every_change * 1e3:.2f} ms/sample"
    )
    incremental = measure_incremental()
    full = measure_full()
    print(f"chart: {WIDTH}x{HEIGHT}, {TASKS} tasks, CPU changing every sample")
    print(f"incremental update + compose: {incremental * 1e3:.2f} ms/sample ({INCREMENTAL_SAMPLES} samples)")
    print(f"naive full redraw:            {full * 1e3:.2f} ms/sample ({FULL_SAMPLES} samples)")
    print(f"full/incremental={full / incremental:.1f}")


if __name__ == "__main__":
    main()
