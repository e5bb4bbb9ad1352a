"""Per-command-name totals of a recording, shared by ``--summary`` and ``--openmetrics``.

Processes are grouped by name (``comm``, as process-exporter does), or by name and pid.  CPU and IO counters only
grow: a process that exits keeps its use in its group.  CPU and IO of a process include what it was credited for
children that exited unseen, so nothing a command did is lost; threads are counted in their process.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..vmon import Task
from ._processes import iter_processes

__all__ = ["Group", "GroupTotals", "TreeTotals"]

#: The name of a process whose name was never read.
UNKNOWN_NAME = "?"


class Group:
    """One command name's totals (``pid`` set when grouped per process)."""

    __slots__ = (
        "count",
        "longest_wall_s",
        "name",
        "num_procs",
        "num_threads",
        "peak_rss_bytes",
        "pid",
        "read_bytes",
        "rss_bytes",
        "stime_ticks",
        "utime_ticks",
        "vsize_bytes",
        "write_bytes",
    )

    def __init__(self, name: str, pid: int | None = None) -> None:
        self.name = name
        self.pid = pid
        #: Processes of this name seen so far (each counted once, under its last name).
        self.count = 0
        self.utime_ticks = 0
        self.stime_ticks = 0
        self.read_bytes = 0
        self.write_bytes = 0
        #: The largest RSS one process of this name had.
        self.peak_rss_bytes = 0
        self.longest_wall_s = 0.0
        # Levels of the latest sample.
        self.num_procs = 0
        self.num_threads = 0
        self.rss_bytes = 0
        self.vsize_bytes = 0


class _Instance:
    """A live process: its group, start and largest RSS, folded into the group when it ends."""

    __slots__ = ("group", "last_boottime_ticks", "peak_rss_bytes", "start_ticks")

    def __init__(self, group: Group, start_ticks: int) -> None:
        self.group = group
        self.start_ticks = start_ticks
        self.last_boottime_ticks = start_ticks
        self.peak_rss_bytes = 0


class TreeTotals:
    """The whole recording: peaks over samples and total use."""

    __slots__ = ("peak_processes", "peak_rss_bytes", "read_bytes", "stime_ticks", "utime_ticks", "write_bytes")

    def __init__(self) -> None:
        self.peak_rss_bytes = 0
        self.peak_processes = 0
        self.utime_ticks = 0
        self.stime_ticks = 0
        self.read_bytes = 0
        self.write_bytes = 0


class GroupTotals:
    """Adds each sample of the monitored trees to per-name groups and to the tree's totals."""

    def __init__(self, *, ticks_per_s: int, per_pid: bool = False) -> None:
        self.ticks_per_s = ticks_per_s
        self.per_pid = per_pid
        self.groups: dict[object, Group] = {}
        self.tree = TreeTotals()
        self._instances: dict[Task, _Instance] = {}

    def add_sample(self, roots: Iterable[Task], boottime_ticks: int) -> None:
        """Add the latest sample (call once per sample, after the engine sampled)."""
        for group in self.groups.values():
            group.num_procs = group.num_threads = group.rss_bytes = group.vsize_bytes = 0
        tree = self.tree
        rss_sum = processes = 0
        seen: set[Task] = set()
        for task in iter_processes(roots):
            stat = task.stat
            if stat is None or task in seen:
                continue
            seen.add(task)
            if task.is_stale and task not in self._instances:
                continue  # ended already (a stale task can stay listed while its parent is idle)
            group = self._group(stat.comm or UNKNOWN_NAME, task.pid)
            delta = task.delta
            utime = delta.utime_ticks + delta.children_utime_ticks
            stime = delta.stime_ticks + delta.children_stime_ticks
            read = delta.read_bytes + delta.children_read_bytes
            write = delta.write_bytes + delta.children_write_bytes
            group.utime_ticks += utime
            group.stime_ticks += stime
            group.read_bytes += read
            group.write_bytes += write
            tree.utime_ticks += utime
            tree.stime_ticks += stime
            tree.read_bytes += read
            tree.write_bytes += write
            instance = self._instances.get(task)
            if instance is None:
                instance = self._instances[task] = _Instance(group, stat.start_ticks)
            instance.group = group  # a process that exec'd counts under its new name
            if task.is_stale:
                self._end(task)
                continue
            instance.last_boottime_ticks = max(boottime_ticks, instance.start_ticks)
            instance.peak_rss_bytes = max(instance.peak_rss_bytes, delta.rss_bytes)
            group.num_procs += 1
            group.num_threads += max(stat.num_threads, 1)
            group.rss_bytes += delta.rss_bytes
            group.vsize_bytes += stat.vsize_bytes
            rss_sum += delta.rss_bytes
            processes += 1
        for task in [t for t in self._instances if t not in seen]:
            self._end(task)  # left the trees without a stale sample (unmonitored)
        tree.peak_rss_bytes = max(tree.peak_rss_bytes, rss_sum)
        tree.peak_processes = max(tree.peak_processes, processes)

    def finish(self) -> None:
        """Count the processes still alive at the end."""
        for task in list(self._instances):
            self._end(task)

    def drop_empty(self) -> None:
        """Forget the groups with no process left (per process: the pid is gone for good)."""
        for key in [k for k, g in self.groups.items() if g.num_procs == 0]:
            del self.groups[key]

    def _group(self, name: str, pid: int) -> Group:
        key: object = (name, pid) if self.per_pid else name
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(name, pid if self.per_pid else None)
        return group

    def _end(self, task: Task) -> None:
        instance = self._instances.pop(task)
        group = instance.group
        group.count += 1
        group.peak_rss_bytes = max(group.peak_rss_bytes, instance.peak_rss_bytes)
        wall_s = (instance.last_boottime_ticks - instance.start_ticks) / self.ticks_per_s
        group.longest_wall_s = max(group.longest_wall_s, wall_s)
