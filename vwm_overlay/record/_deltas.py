"""What each task used in the latest sample, for the recorder's outputs (summary, trace, OpenMetrics).

The figures carry the names of the engine's per-sample ``task.delta`` record, so the outputs read
``deltas.of(task)`` and never the cumulative counters.  Until every task carries its own ``delta``, this module
derives the same figures from ``stat`` and ``io`` once per sample, for all the outputs at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..vmon import Task

__all__ = ["SampleDeltas", "TaskDelta", "iter_processes"]


def iter_processes(roots: Iterable[Task]) -> Iterator[Task]:
    """Every process under ``roots``, parents first, threads left out (a process's figures are its threads' sum,
    and a threaded tree has ten times more threads than processes)."""
    stack = list(roots)
    stack.reverse()
    while stack:
        task = stack.pop()
        yield task
        stack.extend(reversed(task.children))


class TaskDelta:
    """One task's use in one sample (bytes and ticks), and its RSS now (a level)."""

    __slots__ = (
        "baseline",
        "children_read_bytes",
        "children_stime_ticks",
        "children_utime_ticks",
        "children_write_bytes",
        "read_bytes",
        "rss_bytes",
        "stime_ticks",
        "utime_ticks",
        "write_bytes",
    )

    def __init__(self) -> None:
        self.utime_ticks = 0
        self.stime_ticks = 0
        self.children_utime_ticks = 0
        self.children_stime_ticks = 0
        self.read_bytes = 0
        self.write_bytes = 0
        self.children_read_bytes = 0
        self.children_write_bytes = 0
        self.rss_bytes = 0
        #: The first sample of a task that ran before the recording: its counters are not this run's.
        self.baseline = False


class _Last:
    """A task's cumulative counters at its previous sample."""

    __slots__ = ("delta", "folded", "read_bytes", "stime_ticks", "utime_ticks", "write_bytes")

    def __init__(self) -> None:
        self.delta = TaskDelta()
        #: Its IO was taken out of its parent's once it left (a stale child can stay listed for several samples).
        self.folded = False
        self.utime_ticks = 0
        self.stime_ticks = 0
        self.read_bytes = 0
        self.write_bytes = 0


class SampleDeltas:
    """Per-sample deltas of every task in the monitored trees, updated in place once per sample."""

    def __init__(self, *, page_size: int, start_boottime_ticks: int) -> None:
        self._page_size = page_size
        # Tasks started after this were born during the recording: everything they used is this run's.
        self._start_boottime_ticks = start_boottime_ticks
        self._last: dict[Task, _Last] = {}
        self._seen_generation = 0

    def update(self, roots: Iterable[Task]) -> None:
        """Compute this sample's figures for every process under ``roots`` (call once, after ``Vmon.sample``)."""
        seen: set[Task] = set()
        for task in iter_processes(roots):
            if task.stat is None or task in seen:
                continue
            seen.add(task)
            self._update_task(task)
        for task in [t for t in self._last if t not in seen]:
            del self._last[task]

    def of(self, task: Task) -> TaskDelta:
        """The task's figures of the latest sample (zeros for a task never sampled)."""
        last = self._last.get(task)
        return last.delta if last is not None else _ZERO

    def _update_task(self, task: Task) -> None:
        stat = task.stat
        assert stat is not None
        io = task.io
        last = self._last.get(task)
        baseline = False
        if last is None:
            last = self._last[task] = _Last()
            baseline = not 0 < self._start_boottime_ticks <= stat.start_ticks
            if baseline:
                last.utime_ticks, last.stime_ticks = stat.utime_ticks, stat.stime_ticks
                if io is not None:
                    last.read_bytes, last.write_bytes = io.read_bytes, io.write_bytes
        delta = last.delta
        delta.baseline = baseline
        delta.rss_bytes = 0 if task.is_thread else stat.rss_pages * self._page_size
        if task.is_stale:
            # Its last figures were taken while it lived; nothing more was used in the sample that found it gone.
            delta.utime_ticks = delta.stime_ticks = delta.read_bytes = delta.write_bytes = 0
            delta.children_utime_ticks = delta.children_stime_ticks = 0
            delta.children_read_bytes = delta.children_write_bytes = 0
            return
        delta.utime_ticks = max(0, stat.utime_ticks - last.utime_ticks)
        delta.stime_ticks = max(0, stat.stime_ticks - last.stime_ticks)
        last.utime_ticks, last.stime_ticks = stat.utime_ticks, stat.stime_ticks
        if task.is_thread:
            delta.children_utime_ticks = delta.children_stime_ticks = 0
        else:
            delta.children_utime_ticks = task.unseen_cutime_ticks
            delta.children_stime_ticks = task.unseen_cstime_ticks
        delta.children_read_bytes = delta.children_write_bytes = 0
        if io is None:
            delta.read_bytes = delta.write_bytes = 0
            return
        read = max(0, io.read_bytes - last.read_bytes)
        write = max(0, io.write_bytes - last.write_bytes)
        last.read_bytes, last.write_bytes = io.read_bytes, io.write_bytes
        if not task.is_thread:
            # A reaped child's IO is folded into its parent's counters: what we already counted on the child (it
            # left in this sample) is not counted twice; the rest was done by children never seen.
            seen_read = seen_write = 0
            for child in task.children:
                if not child.is_stale or child.io is None:
                    continue
                child_last = self._last.get(child)
                if child_last is not None and not child_last.folded:
                    child_last.folded = True
                    seen_read += child_last.read_bytes
                    seen_write += child_last.write_bytes
            delta.children_read_bytes = max(0, read - seen_read) if seen_read else 0
            delta.children_write_bytes = max(0, write - seen_write) if seen_write else 0
            if seen_read:
                read = 0
            if seen_write:
                write = 0
        delta.read_bytes = read
        delta.write_bytes = write


_ZERO = TaskDelta()
