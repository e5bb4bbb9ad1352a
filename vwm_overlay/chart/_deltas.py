"""What each task used in the latest sample: the one place the chart gets per-sample figures from.

The engine is to compute these once per sample for every consumer (``task.delta``); until it does, they are
derived here from the cumulative counters, keeping each task's previous values.  Every part of the chart that needs
a task's use in a sample (bars, activity, the collapse of idle rows) asks :meth:`Deltas.of`.
"""

from __future__ import annotations

from vwm_overlay.vmon.records import Task

__all__ = ["Deltas", "TaskDelta"]


class TaskDelta:
    """One task's use in one sample, with the names of the engine's ``task.delta``."""

    __slots__ = (
        "baseline",
        "children_read_bytes",
        "children_stime_ticks",
        "children_utime_ticks",
        "children_write_bytes",
        "generation",
        "last_read_bytes",
        "last_stime_ticks",
        "last_utime_ticks",
        "last_write_bytes",
        "read_bytes",
        "rss_bytes",
        "stime_ticks",
        "utime_ticks",
        "write_bytes",
    )

    def __init__(self) -> None:
        #: The task's first sample: no previous counters, every delta is 0.
        self.baseline = True
        self.utime_ticks = 0
        self.stime_ticks = 0
        #: CPU of reaped children credited to this process in the sample (0 for threads).
        self.children_utime_ticks = 0
        self.children_stime_ticks = 0
        self.read_bytes = 0
        self.write_bytes = 0
        self.children_read_bytes = 0
        self.children_write_bytes = 0
        #: A level, not a delta.
        self.rss_bytes = 0
        self.generation = -1
        self.last_utime_ticks = 0
        self.last_stime_ticks = 0
        self.last_read_bytes = 0
        self.last_write_bytes = 0

    @property
    def busy(self) -> bool:
        """Whether the task (or its reaped children) used any CPU or did any IO in the sample."""
        return (
            self.utime_ticks + self.stime_ticks + self.children_utime_ticks + self.children_stime_ticks > 0
            or self.read_bytes + self.write_bytes + self.children_read_bytes + self.children_write_bytes > 0
        )


_IDLE = TaskDelta()


class Deltas:
    """Per-sample figures of the tasks of one chart, computed at most once per sample per task."""

    def __init__(self, page_size: int = 4096) -> None:
        self.page_size = page_size
        self._generation = 0
        self._records: dict[Task, TaskDelta] = {}

    def begin(self, generation: int, page_size: int) -> None:
        """A new sample: figures asked for from now on are of ``generation``."""
        self._generation = generation
        self.page_size = page_size

    def of(self, task: Task) -> TaskDelta:
        """``task``'s use in the current sample (all zero for a task not sampled yet)."""
        record = self._records.get(task)
        if record is None:
            record = self._records[task] = TaskDelta()
        if record.generation == self._generation:
            return record
        stat = task.stat
        if stat is None:
            return _IDLE
        io = task.io
        read_bytes = io.read_bytes if io is not None else 0
        write_bytes = io.write_bytes if io is not None else 0
        first = record.generation < 0
        record.baseline = first
        if first:
            record.utime_ticks = record.stime_ticks = record.read_bytes = record.write_bytes = 0
            record.children_utime_ticks = record.children_stime_ticks = 0
        else:
            record.utime_ticks = max(stat.utime_ticks - record.last_utime_ticks, 0)
            record.stime_ticks = max(stat.stime_ticks - record.last_stime_ticks, 0)
            record.read_bytes = max(read_bytes - record.last_read_bytes, 0)
            record.write_bytes = max(write_bytes - record.last_write_bytes, 0)
            if task.is_thread:
                record.children_utime_ticks = record.children_stime_ticks = 0
            else:
                # The engine credits the CPU of children that exited between samples to the parent.
                record.children_utime_ticks = task.unseen_cutime_ticks
                record.children_stime_ticks = task.unseen_cstime_ticks
        record.rss_bytes = stat.rss_pages * self.page_size
        record.generation = self._generation
        record.last_utime_ticks = stat.utime_ticks
        record.last_stime_ticks = stat.stime_ticks
        record.last_read_bytes = read_bytes
        record.last_write_bytes = write_bytes
        return record

    def forget(self, task: Task) -> None:
        self._records.pop(task, None)
