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
what was used in this sample, as the engine's ``task.delta`` counts it: a process's own use plus what its children
used unseen (after their last sample, or exiting between two samples), so the processes' figures of a run sum to
what the tree used, each tick and byte once; a thread's are its own (already part of its process's).
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


class JsonLog:
    """Writes the samples of one tree to a text stream, one line each."""

    def __init__(self, out: TextIO, *, ticks_per_s: int, page_size: int) -> None:
        self._out = out
        self._ticks_per_s = ticks_per_s
        self._page_size = page_size
        self.samples = 0

    def write_sample(self, root: Task, *, t_s: float, time_s: float, elapsed_s: float, hertz: float) -> None:
        tasks: list[dict[str, Any]] = []
        started: list[dict[str, Any]] = []
        exited: list[dict[str, Any]] = []
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
            self._add_deltas(entry, task, elapsed_s)
            entry["rss_bytes"] = None if task.is_thread else stat.rss_pages * self._page_size
            tasks.append(entry)
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

    def _add_deltas(self, entry: dict[str, Any], task: Task, elapsed_s: float) -> None:
        delta = task.delta
        if delta.baseline:
            entry.update(user_ticks=None, sys_ticks=None, cpu_percent=None, read_bytes=None, write_bytes=None)
            return
        user = delta.utime_ticks + delta.children_utime_ticks
        system = delta.stime_ticks + delta.children_stime_ticks
        entry["user_ticks"] = user
        entry["sys_ticks"] = system
        entry["cpu_percent"] = (
            round(100.0 * (user + system) / self._ticks_per_s / elapsed_s, 1) if elapsed_s > 0 else None
        )
        known_io = task.io is not None
        entry["read_bytes"] = delta.read_bytes + delta.children_read_bytes if known_io else None
        entry["write_bytes"] = delta.write_bytes + delta.children_write_bytes if known_io else None


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
