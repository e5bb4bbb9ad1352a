"""``--jsonl``: writes the log specified in :mod:`.logformat`, one line per sample, only what changed.

Each sample walks the tree once and compares every task with what was last written of it: a few attribute reads
per task, and one small entry for a task that used anything.  Lists of children and threads are compared only in
samples whose tree changed (the engine's ``structure_changes``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, Protocol, TextIO

from ..schedule import SampleTiming
from ..vmon import SysStat, Task
from .logformat import SCHEMA, SCHEMA_VERSION
from .options import RecordOptions

__all__ = ["JsonLog", "Machine", "log_header"]


class Machine(Protocol):
    """What the header says of the machine (``vwm_overlay.vmon.Vmon`` has it)."""

    @property
    def ticks_per_s(self) -> int: ...
    @property
    def num_cpus(self) -> int: ...
    @property
    def page_size(self) -> int: ...
    @property
    def start_boottime_ticks(self) -> int: ...


def log_header(options: RecordOptions, command: Sequence[str], vmon: Machine, *, start_time: float) -> dict[str, Any]:
    """The header line of the log of a recording of ``command`` (see :mod:`.logformat`)."""
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "argv": list(command),
        "pid": options.pid,
        "hertz": options.hertz,
        "ticks_per_s": vmon.ticks_per_s,
        "num_cpus": vmon.num_cpus,
        "page_size": vmon.page_size,
        "host": os.uname().nodename,
        "start_time": start_time,
        "start_boottime_ticks": vmon.start_boottime_ticks,
        "chart": {
            "width_px": options.width_px,
            "height_px": options.height_px,
            "scale": options.scale,
            "lanes": options.lanes,
            "markers_every": options.markers_every,
            "name": options.name,
        },
    }


class _Written:
    """What the log last said of one task."""

    __slots__ = (
        "children",
        "comm",
        "flags",
        "id",
        "parent",
        "rss_bytes",
        "seen",
        "state",
        "stime_ticks",
        "threads",
        "utime_ticks",
        "wchan",
    )

    def __init__(self, task_id: int) -> None:
        self.id = task_id
        self.seen = -1
        self.parent: int | None = None
        self.children: list[int] = []
        self.threads: list[int] = []
        self.comm: tuple[str | None, tuple[str, ...]] = (None, ())
        self.state: tuple[str, str | None] = ("?", None)
        self.utime_ticks = 0
        self.stime_ticks = 0
        self.rss_bytes = 0
        self.flags = (False, False, False)


class JsonLog:
    """Writes the samples of one tree to a text stream, one line each, after the header."""

    def __init__(self, out: TextIO, header: dict[str, Any]) -> None:
        self._out = out
        self._known: dict[Task, _Written] = {}
        self._next_id = 0
        self._structure_version: int | None = None
        self._hertz: float | None = None
        self.samples = 0
        self._write(header)

    def _write(self, line: dict[str, Any]) -> None:
        self._out.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._out.flush()

    def write_snapshot(self, path: str, charted_samples: int) -> None:
        """A PNG was written after the chart took ``charted_samples`` samples."""
        self._write({"snapshot": path, "samples": charted_samples})

    def write_sample(
        self,
        root: Task,
        *,
        sys: SysStat | None,
        timing: SampleTiming,
        t_s: float,
        time_s: float,
        hertz: float,
        charted: bool,
        structure_version: int,
    ) -> None:
        """One line for the sample just taken of the tree under ``root``."""
        line: dict[str, Any] = {
            "sample": self.samples,
            "t_s": t_s,
            "time": time_s,
            "elapsed_s": timing.elapsed_s,
            "columns": timing.columns,
            "adherence": timing.adherence,
        }
        if sys is not None:
            line["boottime_ticks"] = sys.boottime_ticks
            line["cpu"] = list(sys.cpu)
        if hertz != self._hertz:
            self._hertz = line["hertz"] = hertz
        if not charted:
            line["charted"] = False
        tree = structure_version != self._structure_version
        self._structure_version = structure_version
        if tree:
            line["tree"] = True
        self._tasks(root, line, tree)
        self._write(line)
        self.samples += 1

    def _tasks(self, root: Task, line: dict[str, Any], tree: bool) -> None:
        known = self._known
        sample = self.samples
        started: list[dict[str, Any]] = []
        exited: list[int] = []
        names: list[list[Any]] = []
        states: list[list[Any]] = []
        totals: list[list[int]] = []
        rss: list[list[int]] = []
        flags: list[list[Any]] = []
        baseline: list[int] = []
        use: list[list[int]] = []
        walked: list[tuple[Task, _Written]] = []
        stack = [root]
        while stack:
            task = stack.pop()
            stack.extend(reversed(task.children))
            stack.extend(reversed(task.threads))
            written = known.get(task)
            if written is None:
                written = known[task] = _Written(self._next_id)
                self._next_id += 1
                started.append(self._started(task, written))
            else:
                self._changes(task, written, names, states, totals, rss, flags)
            written.seen = sample
            if tree:
                walked.append((task, written))
            if task.is_stale:
                exited.append(written.id)
            delta = task.delta
            if delta.baseline:
                baseline.append(written.id)
            if delta.used_anything:
                figures = [
                    written.id,
                    delta.utime_ticks,
                    delta.stime_ticks,
                    delta.children_utime_ticks,
                    delta.children_stime_ticks,
                    delta.read_bytes,
                    delta.write_bytes,
                    delta.children_read_bytes,
                    delta.children_write_bytes,
                ]
                while not figures[-1]:
                    figures.pop()
                use.append(figures)
        if started:
            line["started"] = started
        if tree:
            self._structure(walked, line)
        for key, values in (
            ("exited", exited),
            ("names", names),
            ("state", states),
            ("totals", totals),
            ("rss", rss),
            ("flags", flags),
            ("baseline", baseline),
            ("use", use),
        ):
            if values:
                line[key] = values

    def _started(self, task: Task, written: _Written) -> dict[str, Any]:
        stat = task.stat
        parent = self._known.get(task.parent) if task.parent is not None else None
        written.parent = parent.id if parent is not None else None
        process = task.parent if task.is_thread and task.parent is not None else task
        entry: dict[str, Any] = {
            "id": written.id,
            "pid": process.pid,
            "tid": task.pid,
            "thread": task.is_thread,
            "parent": written.parent,
            "start_ticks": task.start_ticks,
        }
        if stat is not None:
            written.comm = (stat.comm, stat.argv)
            written.state = (stat.state, stat.wchan)
            written.utime_ticks, written.stime_ticks = stat.utime_ticks, stat.stime_ticks
            entry.update(
                comm=stat.comm,
                argv=list(stat.argv),
                state=stat.state,
                wchan=stat.wchan,
                utime_ticks=stat.utime_ticks,
                stime_ticks=stat.stime_ticks,
            )
        written.rss_bytes = task.delta.rss_bytes
        written.flags = (task.io is not None, task.is_threaded, stat is not None)
        entry.update(rss_bytes=written.rss_bytes, io=written.flags[0], threaded=task.is_threaded, stat=stat is not None)
        return entry

    @staticmethod
    def _changes(
        task: Task,
        written: _Written,
        names: list[list[Any]],
        states: list[list[Any]],
        totals: list[list[int]],
        rss: list[list[int]],
        flags: list[list[Any]],
    ) -> None:
        stat = task.stat
        io, threaded, has_stat = written.flags
        if (task.io is not None) != io or task.is_threaded != threaded or (stat is not None) != has_stat:
            written.flags = (task.io is not None, task.is_threaded, stat is not None)
            flags.append([written.id, *written.flags])
        if stat is not None:
            comm, argv = written.comm
            # The engine replaces comm and argv only when they change: mostly one identity test each.
            if (stat.comm is not comm and stat.comm != comm) or (stat.argv is not argv and stat.argv != argv):
                written.comm = (stat.comm, stat.argv)
                names.append([written.id, stat.comm, list(stat.argv)])
            state, wchan = written.state
            if stat.state != state or stat.wchan != wchan:
                written.state = (stat.state, stat.wchan)
                states.append([written.id, stat.state, stat.wchan])
            if stat.utime_ticks != written.utime_ticks or stat.stime_ticks != written.stime_ticks:
                written.utime_ticks, written.stime_ticks = stat.utime_ticks, stat.stime_ticks
                totals.append([written.id, stat.utime_ticks, stat.stime_ticks])
        rss_bytes = task.delta.rss_bytes
        if rss_bytes != written.rss_bytes:
            written.rss_bytes = rss_bytes
            rss.append([written.id, rss_bytes])

    def _structure(self, walked: list[tuple[Task, _Written]], line: dict[str, Any]) -> None:
        """Lists and parents that differ from the log's, and the ids of tasks no longer in the tree."""
        known = self._known
        children_lists: list[list[Any]] = []
        thread_lists: list[list[Any]] = []
        parents: list[list[Any]] = []
        for task, written in walked:
            children = [known[child].id for child in task.children]
            if children != written.children:
                written.children = children
                children_lists.append([written.id, children])
            threads = [known[thread].id for thread in task.threads]
            if threads != written.threads:
                written.threads = threads
                thread_lists.append([written.id, threads])
            parent = known.get(task.parent) if task.parent is not None else None
            parent_id = parent.id if parent is not None else None
            if parent_id != written.parent:
                written.parent = parent_id
                parents.append([written.id, parent_id])
        sample = self.samples
        gone = [task for task, written in known.items() if written.seen != sample]
        dropped = [known.pop(task).id for task in gone]
        for key, values in (
            ("children", children_lists),
            ("threads", thread_lists),
            ("parents", parents),
            ("dropped", dropped),
        ):
            if values:
                line[key] = values
