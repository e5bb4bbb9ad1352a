"""``--jsonl``: one JSON object per sample, so runs can be compared and re-plotted without the PNGs.

Each line::

    {"sample": 3, "t_s": 0.301, "time": 1795851000.25, "elapsed_s": 0.1, "hertz": 10,
     "tasks": [{"pid": 4242, "tid": 4242, "thread": false, "comm": "make",
                "user_ticks": 9, "sys_ticks": 1, "cpu_percent": 100.0,
                "read_bytes": 0, "write_bytes": 4096, "rss_bytes": 5242880}, ...],
     "started": [{"pid": ..., "tid": ..., "thread": ..., "comm": ..., "argv": [...]}],
     "exited": [{"pid": ..., "tid": ..., "thread": ..., "comm": ..., "argv": [...]}]}

``t_s`` is seconds since the recording started (monotonic), ``time`` the wall clock (seconds since the epoch),
``elapsed_s`` the time since the previous sample.  Per task, ``*_ticks``, ``read_bytes`` and ``write_bytes`` are
what was used in this sample (a process includes its children that exited between two samples unseen);
``cpu_percent`` is of one core; ``rss_bytes`` is the resident size now (processes only: threads share it).  A value
is ``null`` when unknown: deltas in the sample that first saw a task that was already running when the recording
began, IO when ``/proc/PID/io`` may not be read.  ``started`` lists the tasks seen for the first time, ``exited``
those found gone (each also appears once in ``tasks`` before, unless it came and went within one sample).
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from ..vmon import Task, iter_tree

__all__ = ["JsonLog"]

# Per task, the cumulative (user ticks, sys ticks, read bytes, write bytes) at its previous sample.
_Totals = tuple[int, int, int, int]


class JsonLog:
    """Writes the samples of one tree to a text stream, one line each."""

    def __init__(self, out: TextIO, *, ticks_per_s: int, page_size: int, start_boottime_ticks: int = 0) -> None:
        self._out = out
        self._ticks_per_s = ticks_per_s
        self._page_size = page_size
        # Tasks that started after this were born during the recording: all their counters are this run's.
        self._start_boottime_ticks = start_boottime_ticks
        self._last: dict[Task, _Totals] = {}
        self.samples = 0

    def write_sample(self, root: Task, *, t_s: float, time_s: float, elapsed_s: float, hertz: float) -> None:
        tasks: list[dict[str, Any]] = []
        started: list[dict[str, Any]] = []
        exited: list[dict[str, Any]] = []
        seen: dict[Task, _Totals] = {}
        for task, _depth in iter_tree(root):
            if task.is_stale:
                exited.append(_identity(task, with_argv=True))
                continue
            stat = task.stat
            if stat is None:
                continue
            entry = _identity(task)
            if task.is_new:
                started.append(_identity(task, with_argv=True))
            io = task.io
            totals = (
                stat.utime_ticks,
                stat.stime_ticks,
                io.read_bytes if io is not None else -1,
                io.write_bytes if io is not None else -1,
            )
            seen[task] = totals
            before = self._last.get(task)
            if before is None and 0 < self._start_boottime_ticks <= stat.start_ticks:
                before = (0, 0, 0, 0)  # born during the recording: everything it used is in this sample
            self._add_deltas(entry, task, totals, before, elapsed_s)
            entry["rss_bytes"] = None if task.is_thread else stat.rss_pages * self._page_size
            tasks.append(entry)
        self._last = seen
        line = {
            "sample": self.samples,
            "t_s": round(t_s, 6),
            "time": round(time_s, 6),
            "elapsed_s": round(elapsed_s, 6),
            "hertz": hertz,
            "tasks": tasks,
            "started": started,
            "exited": exited,
        }
        self._out.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._out.flush()
        self.samples += 1

    def _add_deltas(
        self, entry: dict[str, Any], task: Task, totals: _Totals, before: _Totals | None, elapsed_s: float
    ) -> None:
        if before is None:
            entry.update(user_ticks=None, sys_ticks=None, cpu_percent=None, read_bytes=None, write_bytes=None)
            return
        user = totals[0] - before[0]
        system = totals[1] - before[1]
        if not task.is_thread:
            # Children that ran and exited between samples, never seen: their time is this process's.
            user += task.unseen_cutime_ticks
            system += task.unseen_cstime_ticks
        entry["user_ticks"] = user
        entry["sys_ticks"] = system
        entry["cpu_percent"] = (
            round(100.0 * (user + system) / self._ticks_per_s / elapsed_s, 1) if elapsed_s > 0 else None
        )
        known_io = totals[2] >= 0 and before[2] >= 0
        entry["read_bytes"] = totals[2] - before[2] if known_io else None
        entry["write_bytes"] = totals[3] - before[3] if known_io else None


def _identity(task: Task, *, with_argv: bool = False) -> dict[str, Any]:
    stat = task.stat
    parent = task.parent
    pid = parent.pid if task.is_thread and parent is not None else task.pid
    entry: dict[str, Any] = {
        "pid": pid,
        "tid": task.pid,
        "thread": task.is_thread,
        "comm": stat.comm if stat is not None else None,
    }
    if with_argv:
        entry["argv"] = list(stat.argv) if stat is not None else []
    return entry
