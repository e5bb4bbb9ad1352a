"""Synthetic task trees and histories for the chart tests, and pixel probes on rendered PNGs."""

from __future__ import annotations

from pathlib import Path

import cairocffi

from vwm_overlay.chart import Chart
from vwm_overlay.schedule import SampleTiming
from vwm_overlay.vmon.records import SysStat, Task, TaskIO, TaskStat

TICKS_PER_S = 100
NUM_CPUS = 2
HERTZ = 10


def make_task(
    pid: int,
    comm: str | None = "worker",
    *,
    argv: tuple[str, ...] = (),
    parent: Task | None = None,
    thread: bool = False,
    start_ticks: int = 1,
    wchan: str = "0",
    state: str = "S",
) -> Task:
    """A task with a stat record, attached under ``parent`` (as a thread or a child process)."""
    task = Task(pid, is_thread=thread, parent=parent)
    stat = TaskStat()
    stat.comm = comm
    stat.argv = argv or ((comm,) if comm else ())
    stat.state = state
    stat.wchan = wchan
    stat.start_ticks = start_ticks
    stat.rss_pages = 256
    task.stat = stat
    if not thread:
        task.io = TaskIO()
    if parent is not None:
        if thread:
            parent.threads.append(task)
            parent.is_threaded = True
        else:
            parent.children.append(task)
    return task


class Feed:
    """Drives a chart with a synthetic history: each ``step`` is one sample."""

    def __init__(
        self,
        chart: Chart,
        root: Task,
        *,
        num_cpus: int = NUM_CPUS,
        hertz: int = HERTZ,
        mirrors: tuple[Chart, ...] = (),
    ) -> None:
        self.chart = chart
        #: More charts given every sample, exactly as ``chart`` is.
        self.mirrors = mirrors
        self.root = root
        self.num_cpus = num_cpus
        self.hertz = hertz
        self.sys = SysStat()
        self.sys.boottime_ticks = 1000
        self.generation = 0

    def step(
        self,
        load: dict[Task, tuple[int, int]] | None = None,
        *,
        columns: int = 1,
        adherence: float = 0.0,
        sys_cpu: tuple[int, ...] | None = None,
        io: dict[Task, tuple[int, int]] | None = None,
        children: dict[Task, tuple[int, int]] | None = None,
    ) -> None:
        """One sample: ``load`` adds (user, system) ticks per task, ``io`` (read, write) bytes, ``children``
        (user, system) ticks of reaped children credited to a process."""
        ticks = TICKS_PER_S * columns // self.hertz
        for task in _walk(self.root):
            task.delta.clear()  # as the engine does: this sample's use, and only it
            if task.stat is not None:
                task.delta.rss_bytes = task.stat.rss_pages * 4096
        for task, (user, system) in (load or {}).items():
            assert task.stat is not None
            task.stat.utime_ticks += user
            task.stat.stime_ticks += system
            task.delta.utime_ticks, task.delta.stime_ticks = user, system
        for task, (read, write) in (io or {}).items():
            assert task.io is not None
            task.io.read_bytes += read
            task.io.write_bytes += write
            task.delta.read_bytes, task.delta.write_bytes = read, write
        for task, (user, system) in (children or {}).items():
            task.delta.children_utime_ticks, task.delta.children_stime_ticks = user, system
        if sys_cpu is None:
            # All CPUs' ticks of the interval: the tasks' load, the rest idle.
            busy_user = sum(u for u, _ in (load or {}).values())
            busy_sys = sum(s for _, s in (load or {}).values())
            idle = max(ticks * self.num_cpus - busy_user - busy_sys, 0)
            sys_cpu = (busy_user, 0, busy_sys, idle, 0, 0, 0, 0, 0, 0)
        self.sys.cpu = tuple(a + b for a, b in zip(self.sys.cpu, sys_cpu, strict=True))
        self.sys.boottime_ticks += ticks
        self.generation += 1
        for chart in (self.chart, *self.mirrors):
            chart.update(
                self.root,
                self.sys,
                self.generation,
                SampleTiming(columns, adherence, columns / self.hertz),
                ticks_per_s=TICKS_PER_S,
                num_cpus=self.num_cpus,
            )
        for task in _walk(self.root):
            task.is_new = False

    def steps(self, n: int, load: dict[Task, tuple[int, int]] | None = None, **kw: object) -> None:
        for _ in range(n):
            self.step(load, **kw)  # type: ignore[arg-type]

    def one_core(self) -> int:
        """Ticks of one full core per sample."""
        return TICKS_PER_S // self.hertz


def _walk(task: Task) -> list[Task]:
    out = [task]
    for t in (*task.threads, *task.children):
        out.extend(_walk(t))
    return out


class Png:
    """A chart written to a PNG file and read back, for pixel probes."""

    def __init__(self, chart: Chart, path: Path, *, composed: bool = False) -> None:
        """``chart`` as a snapshot (``write_png``), or with ``composed`` as a live view composes it (``compose``)."""
        if composed:
            surface = cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, chart.width, chart.height)
            chart.compose(surface)
            surface.write_to_png(str(path))
        else:
            chart.write_png(str(path))
        self.surface = cairocffi.ImageSurface.create_from_png(str(path))
        self.width = self.surface.get_width()
        self.height = self.surface.get_height()
        self._px = memoryview(self.surface.get_data()).cast("I")
        self._stride = self.surface.get_stride() // 4

    def rgb(self, x: int, y: int) -> tuple[int, int, int]:
        p = int(self._px[y * self._stride + x])
        return ((p >> 16) & 255, (p >> 8) & 255, p & 255)

    def column(self, x: int, y0: int, y1: int) -> list[tuple[int, int, int]]:
        return [self.rgb(x, y) for y in range(y0, y1)]

    def region(self, x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int, int]]:
        """The pixels of ``[x0, x1) x [y0, y1)``, row by row."""
        return [self.rgb(x, y) for y in range(y0, y1) for x in range(x0, x1)]

    def pixels(self) -> bytes:
        """Every pixel, for comparing two renderings."""
        return bytes(self._px)


def is_cyan(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return r < 80 and g > 200 and b > 200


def is_red(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return r > 200 and g < 80 and b < 80


def is_white(rgb: tuple[int, int, int]) -> bool:
    return min(rgb) > 200


def is_dark(rgb: tuple[int, int, int]) -> bool:
    return max(rgb) < 0x40
