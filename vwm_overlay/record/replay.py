"""Rebuilding, sample by sample, the engine's records of a run from its log (see :mod:`.logformat`).

A :class:`LogReplay` applies each sample line to a tree of plain :class:`~vwm_overlay.vmon.Task` records, so
that after it the tree holds what the engine's tree held when the chart took that sample: the same tasks in the
same order, the same per-sample deltas, names, states and flags.  Whatever consumes the engine's records (the
chart, a summary) can then be driven from a log as from the engine.
"""

from __future__ import annotations

from typing import Any

from ..schedule import SampleTiming
from ..vmon import SysStat, Task, TaskIO, TaskStat
from .logformat import USE_FIELDS, LogError

__all__ = ["LogReplay"]


class LogReplay:
    """The tree of one log, brought up to date one sample line at a time with :meth:`apply`."""

    def __init__(self, header: dict[str, Any]) -> None:
        self.header = header
        self.ticks_per_s: int = header["ticks_per_s"]
        self.num_cpus: int = header["num_cpus"]
        self.page_size: int = header["page_size"]
        self.hertz: float = header["hertz"]
        #: Every task by its log id, as long as the log may name it.
        self.tasks: dict[int, Task] = {}
        self.root: Task | None = None
        self.sys = SysStat()
        self.timing = SampleTiming()
        #: Counts the samples whose tree changed (the chart's ``structure_version``).
        self.structure_version = 0
        #: The latest sample line applied.
        self.line: dict[str, Any] = {}
        self._touched: list[Task] = []  # tasks with figures, new or stale in the latest sample

    def apply(self, line: dict[str, Any]) -> None:
        """Bring the tree to the sample ``line``; raises :class:`LogError` if it names a task it never started."""
        try:
            self._apply(line)
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise LogError(f"sample {line.get('sample')} is inconsistent ({type(err).__name__}: {err})") from None

    def _apply(self, line: dict[str, Any]) -> None:
        self.line = line
        for task in self._touched:
            task.delta.clear()
            task.is_new = task.is_stale = False
        touched: list[Task] = []
        tasks = self.tasks
        timing = self.timing
        self.timing = SampleTiming(
            line.get("columns", timing.columns), line.get("adherence", 0.0), line.get("elapsed_s", timing.elapsed_s)
        )
        if "cpu" in line:
            self.sys.cpu = tuple(line["cpu"])
        if "boottime_ticks" in line:
            self.sys.boottime_ticks = line["boottime_ticks"]
        if "hertz" in line:
            self.hertz = line["hertz"]
        if line.get("tree"):
            self.structure_version += 1
        for entry in line.get("started", ()):
            task = self._start(entry)
            touched.append(task)
        for task_id, ids in line.get("children", ()):
            tasks[task_id].children = [tasks[i] for i in ids]
        for task_id, ids in line.get("threads", ()):
            tasks[task_id].threads = [tasks[i] for i in ids]
        for task_id, parent_id in line.get("parents", ()):
            tasks[task_id].parent = tasks[parent_id] if parent_id is not None else None
        for task_id in line.get("exited", ()):
            task = tasks[task_id]
            task.is_stale = True
            touched.append(task)
        for task_id, io, threaded, has_stat in line.get("flags", ()):
            task = tasks[task_id]
            _set_flags(task, io, threaded, has_stat)
        for task_id, comm, argv in line.get("names", ()):
            stat = _stat(tasks[task_id])
            stat.comm, stat.argv = comm, tuple(argv)
        for task_id, state, wchan in line.get("state", ()):
            stat = _stat(tasks[task_id])
            stat.state, stat.wchan = state, wchan
        for task_id, utime_ticks, stime_ticks in line.get("totals", ()):
            stat = _stat(tasks[task_id])
            stat.utime_ticks, stat.stime_ticks = utime_ticks, stime_ticks
        for task_id, rss_bytes in line.get("rss", ()):
            tasks[task_id].delta.rss_bytes = rss_bytes
        for task_id in line.get("baseline", ()):
            task = tasks[task_id]
            task.delta.baseline = True
            touched.append(task)
        for entry in line.get("use", ()):
            task = tasks[entry[0]]
            delta = task.delta
            for name, value in zip(USE_FIELDS, entry[1:], strict=False):
                setattr(delta, name, value)
            touched.append(task)
        for task_id in line.get("dropped", ()):
            del tasks[task_id]
        self._touched = touched

    def _start(self, entry: dict[str, Any]) -> Task:
        parent_id = entry["parent"]
        parent = self.tasks[parent_id] if parent_id is not None else None
        task = Task(entry["tid"], is_thread=entry["thread"], parent=parent)
        _set_flags(task, entry["io"], entry["threaded"], entry["stat"])
        stat = task.stat
        if stat is not None:
            stat.start_ticks = entry["start_ticks"]
            stat.comm = entry["comm"]
            stat.argv = tuple(entry["argv"])
            stat.state = entry["state"]
            stat.wchan = entry["wchan"]
            stat.utime_ticks = entry["utime_ticks"]
            stat.stime_ticks = entry["stime_ticks"]
        task.delta.rss_bytes = entry["rss_bytes"]
        task.is_new = True
        self.tasks[entry["id"]] = task
        if self.root is None:
            self.root = task
        return task


def _set_flags(task: Task, io: bool, threaded: bool, has_stat: bool) -> None:
    if io and task.io is None:
        task.io = TaskIO()
    elif not io:
        task.io = None
    task.is_threaded = threaded
    if has_stat and task.stat is None:
        task.stat = TaskStat()
    elif not has_stat:
        task.stat = None


def _stat(task: Task) -> TaskStat:
    if task.stat is None:
        raise ValueError(f"task {task.pid} has no stat")
    return task.stat
