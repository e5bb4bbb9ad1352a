"""``--trace FILE``: the run as Chrome trace-event JSON, for ui.perfetto.dev and chrome://tracing.

The file is the format's JSON array form, written as the run goes, one ``write`` per sample::

    [{"ph":"M","name":"process_name","pid":4242,"tid":4242,"ts":0,"args":{"name":"make"}},
    {"ph":"M","name":"thread_name","pid":4242,"tid":4242,"ts":0,"args":{"name":"make"}},
    {"ph":"C","name":"cpu_percent","pid":4242,"tid":4242,"ts":100213,"args":{"user":97.0,"system":3.0}},
    {"ph":"C","name":"rss_bytes","pid":4242,"tid":4242,"ts":100213,"args":{"rss":5242880}},
    {"ph":"C","name":"io_bytes_per_s","pid":4242,"tid":4242,"ts":100213,"args":{"read":0,"write":40960}},
    {"ph":"X","name":"make","pid":4242,"tid":4242,"ts":0,"dur":12300000,"args":{"argv":["make"]}},
    ...]

Every task gets its names (``M``) when first seen and one complete event (``X``) for its lifetime, written when
it ends (or when the run ends); each process gets counter tracks (``C``) for its CPU (percent of one core, its
credited children's included), RSS and IO rates, written when they change.  Timestamps are microseconds since the
recording started on the boot-time clock, which never goes backwards and is the one the kernel's start times use.
Names carry a ``ts`` too (the time they were learnt): some versions of Perfetto's importer reject events without
one.  The closing ``]`` is written at the end: the format lets a viewer load a file without it, so a recorder
killed with SIGKILL still leaves a trace that loads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from ..vmon import Task, TaskStat
from ._processes import iter_processes
from .files import LineFile, OutputFile, create_output, describe, report

__all__ = ["TraceWriter"]

_US_PER_S = 1_000_000


class _Track:
    """What the trace said of one task: when it started, and its counters' last values (processes only)."""

    __slots__ = ("cpu", "io", "name", "pid", "rss", "start_us", "tid")

    def __init__(self, pid: int, tid: int, name: str, start_us: int) -> None:
        self.pid = pid
        self.tid = tid
        self.name = name
        self.start_us = start_us
        self.cpu: tuple[float, float] | None = None
        self.rss = -1
        self.io: tuple[int, int] | None = None


class TraceWriter:
    """The trace file of one recording."""

    def __init__(
        self, path: str, stderr: TextIO, *, ticks_per_s: int, start_boottime_s: float, allow_foreign: bool = False
    ) -> None:
        self.path = path
        self._stderr = stderr
        self._ticks_per_s = ticks_per_s
        self._start_boottime_s = start_boottime_s
        self._file = LineFile(create_output(path, allow_foreign=allow_foreign))
        self._tracks: dict[Task, _Track] = {}
        self._last_us = 0
        self._first = True
        self._written_bytes = 0
        self.events = 0

    @property
    def output(self) -> OutputFile:
        return self._file.output

    @property
    def failed(self) -> bool:
        return self._file.fd < 0

    def add_sample(self, roots: Iterable[Task], *, boottime_s: float, elapsed_s: float) -> None:
        """The events of one sample (call after the engine sampled)."""
        if self._file.fd < 0:
            return
        # Never backwards, even if a caller's clock were.
        now_us = self._last_us = max(self._last_us, round((boottime_s - self._start_boottime_s) * _US_PER_S))
        events: list[dict[str, Any]] = []
        seen: set[Task] = set()
        for process in iter_processes(roots):
            if process in seen or process.stat is None:
                continue
            seen.add(process)
            self._visit(process, process.stat, now_us, events)
            if not process.is_stale:
                self._counters(process, now_us, elapsed_s, events)
            threads = process.threads
            if not (process.threads_changed or process.is_new or process.is_stale):
                # No thread came or went: nothing to say of them (a rename shows with the next change).
                seen.update(threads)
                continue
            for thread in threads:
                # The main thread is its process's track.
                if thread.stat is not None and thread.pid != process.pid and thread not in seen:
                    seen.add(thread)
                    self._visit(thread, thread.stat, now_us, events)
        for task in [t for t in self._tracks if t not in seen]:
            self._end(task, now_us, events)  # left the trees without a stale sample
        self._write(events)

    def _visit(self, task: Task, stat: TaskStat, now_us: int, events: list[dict[str, Any]]) -> None:
        """Names for a new task, new names for a renamed one, the slice of one that ended."""
        track = self._tracks.get(task)
        if track is None:
            if not task.is_stale:  # (found gone in its first sample, or ended already: nothing to draw)
                self._tracks[task] = self._new_track(task, now_us, events)
            return
        if task.is_stale:
            self._end(task, now_us, events)
        elif stat.comm is not None and stat.comm != track.name:
            track.name = stat.comm  # exec'd, or renamed itself
            self._name_events(task, track, now_us, events)

    def finish(self) -> None:
        """Close every task still running at the last sample, and the array."""
        if self._file.fd < 0:
            return
        events: list[dict[str, Any]] = []
        for task in list(self._tracks):
            self._end(task, self._last_us, events)
        self._write(events, closing=True)

    def close(self) -> None:
        if self._file.fd >= 0:
            if self._written_bytes == 0:
                self._file.discard()  # nothing was traced (the run never started): no empty file
            else:
                self._file.close()

    def _new_track(self, task: Task, now_us: int, events: list[dict[str, Any]]) -> _Track:
        stat = task.stat
        assert stat is not None
        parent = task.parent
        pid = parent.pid if task.is_thread and parent is not None else task.pid
        start_s = stat.start_ticks / self._ticks_per_s - self._start_boottime_s
        # Started before the recording: its slice starts with the recording.  Never after it was first seen.
        start_us = min(max(0, round(start_s * _US_PER_S)), now_us)
        track = _Track(pid, task.pid, stat.comm or "?", start_us)
        self._name_events(task, track, now_us, events)
        return track

    @staticmethod
    def _name_events(task: Task, track: _Track, now_us: int, events: list[dict[str, Any]]) -> None:
        pid, name = track.pid, {"name": track.name}
        if not task.is_thread:
            events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": pid, "ts": now_us, "args": name})
        events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": track.tid, "ts": now_us, "args": name})

    def _counters(self, task: Task, now_us: int, elapsed_s: float, events: list[dict[str, Any]]) -> None:
        track = self._tracks.get(task)
        if track is None:
            return
        delta = task.delta
        pid = track.pid
        if elapsed_s > 0 and not delta.baseline:
            per_tick = 100.0 / self._ticks_per_s / elapsed_s
            cpu = (
                round((delta.utime_ticks + delta.children_utime_ticks) * per_tick, 1),
                round((delta.stime_ticks + delta.children_stime_ticks) * per_tick, 1),
            )
            if cpu != track.cpu:
                track.cpu = cpu
                events.append(_counter("cpu_percent", pid, now_us, user=cpu[0], system=cpu[1]))
            io = (
                round((delta.read_bytes + delta.children_read_bytes) / elapsed_s),
                round((delta.write_bytes + delta.children_write_bytes) / elapsed_s),
            )
            if io != track.io:
                track.io = io
                events.append(_counter("io_bytes_per_s", pid, now_us, read=io[0], write=io[1]))
        if delta.rss_bytes != track.rss:
            track.rss = delta.rss_bytes
            events.append(_counter("rss_bytes", pid, now_us, rss=delta.rss_bytes))

    def _end(self, task: Task, now_us: int, events: list[dict[str, Any]]) -> None:
        track = self._tracks.pop(task)
        stat = task.stat
        if not task.is_thread:
            # The process is gone: its tracks drop to zero instead of holding the last value forever.
            if track.cpu not in (None, (0.0, 0.0)):
                events.append(_counter("cpu_percent", track.pid, now_us, user=0.0, system=0.0))
            if track.io not in (None, (0, 0)):
                events.append(_counter("io_bytes_per_s", track.pid, now_us, read=0, write=0))
            if track.rss > 0:
                events.append(_counter("rss_bytes", track.pid, now_us, rss=0))
        args = {"argv": list(stat.argv)} if stat is not None and stat.argv else {}
        events.append(
            {
                "ph": "X",
                "name": track.name,
                "pid": track.pid,
                "tid": track.tid,
                "ts": track.start_us,
                "dur": now_us - track.start_us,
                "args": args,
            }
        )

    def _write(self, events: list[dict[str, Any]], *, closing: bool = False) -> None:
        if not events and not closing:
            return
        parts = []
        for event in events:
            # A separator before each event but the first: the file always ends with a whole event.
            parts.append("[" if self._first else ",\n")
            self._first = False
            parts.append(json.dumps(event, separators=(",", ":")))
        if closing:
            parts.append("[]\n" if self._first else "]\n")
        text = "".join(parts)
        try:
            # A failed write is cut back to whole events (LineFile), so the file still loads.
            self._file.write(text)
        except OSError as err:
            report(self._stderr, self.path, describe(err), "the trace stops here; the recording goes on")
            self.close()
            return
        self._written_bytes += len(text)
        self.events += len(events)


def _counter(name: str, pid: int, ts_us: int, **values: float) -> dict[str, Any]:
    return {"ph": "C", "name": name, "pid": pid, "tid": pid, "ts": ts_us, "args": values}
