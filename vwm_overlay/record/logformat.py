"""The ``--jsonl`` log, version 2: a JSON-lines file from which a run can be charted again and compared.

The first line is the header; each following line is a sample or a snapshot.  Only what changed is written: a
task's identity and names once, when it is first seen; per sample, the figures of the tasks that used anything.
Replaying the lines in order rebuilds, sample by sample, exactly the records the chart consumed during the run.

Header::

    {"schema": "vwm-overlay-log", "version": 2, "argv": ["make", "-j8"], "pid": null, "hertz": 10,
     "ticks_per_s": 100, "num_cpus": 2, "page_size": 4096, "host": "build1", "start_time": 1795851000.25,
     "start_boottime_ticks": 8812345,
     "chart": {"width_px": 800, "height_px": 600, "scale": 1.0, "lanes": false, "markers_every": 0, "name": "make"}}

``argv`` is the recorded command (empty with ``--pid``, whose process is then ``pid``), ``start_time`` the wall
clock (seconds since the epoch) when recording began, ``start_boottime_ticks`` the boot-time clock (the clock of a
task's start time) then, ``chart`` the recorder's chart (its size before ``scale``).

Sample (keys with nothing to say are left out)::

    {"sample": 3, "t_s": 0.3001, "time": 1795851000.55, "elapsed_s": 0.1002, "columns": 1, "adherence": 0.002,
     "boottime_ticks": 8812375, "cpu": [user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice],
     "hertz": 10, "charted": false, "tree": true,
     "started": [{"id": 7, "pid": 4243, "tid": 4243, "thread": false, "parent": 1, "start_ticks": 8812360,
                  "comm": "cc", "argv": ["cc", "-c", "x.c"], "state": "R", "wchan": "0",
                  "utime_ticks": 0, "stime_ticks": 0, "rss_bytes": 1048576, "io": true, "threaded": false,
                  "stat": true}],
     "children": [[1, [5, 7]]], "threads": [[5, [5, 6]]], "parents": [[9, null]],
     "exited": [4], "dropped": [2],
     "names": [[5, "ld", ["ld", "-o", "x"]]], "state": [[5, "D", "io_schedule"]], "totals": [[5, 12, 3]],
     "rss": [[5, 2097152]], "flags": [[5, true, true, true]], "baseline": [1],
     "use": [[5, 3, 1], [1, 0, 0, 2, 1, 0, 4096]]}

- ``t_s`` is seconds since the recording started (monotonic), ``time`` the wall clock; ``elapsed_s`` (seconds
  since the previous sample), ``columns`` (1 px columns the sample covers) and ``adherence`` (lateness in
  intervals) are the sampling schedule's timing; ``boottime_ticks`` and ``cpu`` (the aggregate ``cpu`` line of
  ``/proc/stat``, in ticks) the system's clock and CPU times.  ``hertz`` appears in the first sample and when the
  rate changed; ``charted: false`` marks a sample the chart did not take (the one that found the command gone:
  the chart keeps the tree as it last ran); ``tree: true`` one in which the tree's structure changed.
- Tasks are numbered (``id``) in the order they were first seen.  ``started`` gives each new task's identity
  (``pid`` is the process, ``tid`` the task itself, a thread's ``parent`` its process), its names, state, wait
  channel (``wchan``: ``"0"`` when not waiting; null when not read yet or unreadable), cumulative CPU ticks,
  resident size, and whether its IO counters are readable (``io``), it has had threads (``threaded``) and its
  stat was read (``stat``).  A wait channel is read only for the tasks in the chart's rows, from the sample after
  they got one: a task never in them has null throughout, and one that left them keeps the last one read.
- ``children`` and ``threads`` give a task's whole list, in order, whenever it differs from the last one given;
  ``parents`` a task's new parent (null: none); ``exited`` the tasks found gone in this sample (for this sample
  only; they stay in their parent's list until a later ``children``/``threads`` says otherwise); ``dropped`` the
  ids that will never be used again.
- Changes of a known task: ``names`` (comm and argv, after an exec), ``state`` (state letter and wait channel),
  ``totals`` (cumulative user and system ticks), ``rss`` (resident bytes), ``flags`` (``io``, ``threaded``,
  ``stat``) and ``baseline`` (tasks that were running before the recording began, seen for the first time: their
  figures in this sample are 0, nothing being known of their past).
- ``use``: what a task used in this sample, as the engine counts it once for every consumer:
  ``[id, user_ticks, sys_ticks, children_user_ticks, children_sys_ticks, read_bytes, write_bytes,
  children_read_bytes, children_write_bytes]``, trailing zeros left out; a task not listed used nothing.  A
  process's own figures are its whole thread group's; ``children_*`` is what its children used that no task's own
  figures showed (they exited between samples).  Summed over the processes of a run (own plus children), each
  tick and byte is counted once; a thread's figures are part of its process's.

Snapshot: ``{"snapshot": "charts/make-2026-11-28T09.30.00-0.png", "samples": 41}``, a PNG written after the
chart had taken ``samples`` samples (a replay composes the chart at the same points).

Version 1 logs (no header line) cannot be replayed: they lack the parent of each task.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from ..errors import UsageError

__all__ = ["SCHEMA", "SCHEMA_VERSION", "USE_FIELDS", "LogError", "read_log"]

SCHEMA = "vwm-overlay-log"
SCHEMA_VERSION = 2

#: The figures of a ``use`` entry after the id, in order (the names of ``TaskDelta``'s fields).
USE_FIELDS: tuple[str, ...] = (
    "utime_ticks",
    "stime_ticks",
    "children_utime_ticks",
    "children_stime_ticks",
    "read_bytes",
    "write_bytes",
    "children_read_bytes",
    "children_write_bytes",
)

#: Header keys a reader relies on.
_HEADER_KEYS = ("hertz", "ticks_per_s", "num_cpus", "page_size", "start_time", "chart")


class LogError(UsageError):
    """A log that cannot be read: missing, not JSON lines, of another schema or version (exit status 2)."""


#: The longest line read: a header is a few hundred bytes, a sample of 10,000 changing tasks about a megabyte.  A
#: longer one is no log's (``plot /dev/zero`` would otherwise read for ever).
MAX_HEADER_BYTES = 1 << 20
MAX_LINE_BYTES = 1 << 26


def read_log(path: str) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The header of the log at ``path`` and an iterator over its following lines, each a dict.

    Raises :class:`LogError` for an unreadable file or header at once, and from the iterator for a bad line.  A
    last line without its newline (the recorder was killed while writing it) is ignored.
    """
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed by the iterator
    except OSError as err:
        raise LogError(f"{path}: {err.strerror}") from None
    try:
        header = _header(path, _read_line(stream, path, MAX_HEADER_BYTES))
    except BaseException:
        stream.close()
        raise
    return header, _lines(path, stream)


def _read_line(stream: IO[bytes], where: str, limit: int) -> bytes:
    try:
        line = stream.readline(limit + 1)
    except OSError as err:
        raise LogError(f"{where}: {err.strerror}") from None
    if len(line) > limit:
        raise LogError(f"{where}: a line of more than {limit} bytes: not a vwm-overlay log")
    return line


def _header(path: str, line: bytes) -> dict[str, Any]:
    if not line:
        raise LogError(f"{path}: empty, not a vwm-overlay log")
    try:
        header = json.loads(line)
    except ValueError:  # UnicodeDecodeError included
        raise LogError(f"{path}: not a vwm-overlay log (its first line is not JSON)") from None
    if not isinstance(header, dict) or header.get("schema") != SCHEMA:
        if isinstance(header, dict) and "sample" in header:
            raise LogError(f"{path}: a log of an older vwm-overlay (version 1) cannot be replayed; record it again")
        raise LogError(f"{path}: not a vwm-overlay log (no header line)")
    version = header.get("version")
    if version != SCHEMA_VERSION:
        raise LogError(
            f"{path}: log version {version} is not supported (this vwm-overlay reads version {SCHEMA_VERSION})"
        )
    missing = [key for key in _HEADER_KEYS if key not in header]
    if missing:
        raise LogError(f"{path}: the header lacks {', '.join(missing)}")
    return header


def _lines(path: str, stream: IO[bytes]) -> Iterator[dict[str, Any]]:
    with stream:
        number = 1
        while line := _read_line(stream, f"{path}:{number + 1}", MAX_LINE_BYTES):
            number += 1
            if not line.endswith(b"\n"):
                return  # cut short by a crash while writing: everything before it is whole
            try:
                entry = json.loads(line)
            except ValueError:  # UnicodeDecodeError included
                raise LogError(f"{path}:{number}: not JSON") from None
            if not isinstance(entry, dict):
                raise LogError(f"{path}:{number}: not a JSON object")
            yield entry
