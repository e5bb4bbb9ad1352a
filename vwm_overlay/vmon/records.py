"""Typed records the engine keeps per task and for the system.

Records are plain ``slots`` classes, updated in place by the samplers: no
allocation per sample once a task is known.  Every record carries a
``changed`` bitmask (one bit per field, in declaration order of the field
tuple next to it) telling consumers what differed in the latest sample, so
they can skip work for what did not.

Units are in the names: ``*_ticks`` are USER_HZ clock ticks (``SC_CLK_TCK``),
``*_pages`` are pages, ``*_kb`` kibibytes, ``*_bytes`` bytes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

__all__ = [
    "IO_FIELDS",
    "STATM_FIELDS",
    "STAT_FIELDS",
    "FileObject",
    "FileObjectKind",
    "OpenFile",
    "ProcWants",
    "SysStat",
    "SysWants",
    "Task",
    "TaskCallback",
    "TaskDelta",
    "TaskIO",
    "TaskStat",
    "TaskVM",
    "VmonFlags",
]


class VmonFlags(enum.IntFlag):
    """Instance-wide modes (libvmon's ``VMON_FLAG_*``)."""

    NONE = 0
    #: Keep a flat array of every monitored task (``Vmon.array``), top(1)-style.
    PROC_ARRAY = 1
    #: Every process in the system becomes a top-level task on each sample.
    PROC_ALL = 2
    #: Sample everything first, then call per-task callbacks, leaves first.
    TWO_PASS = 4


class SysWants(enum.IntFlag):
    """System-wide samplers."""

    NONE = 0
    STAT = 1  # /proc/stat
    VM = 2  # /proc/meminfo


class ProcWants(enum.IntFlag):
    """Per-task samplers; ``INHERIT`` means "use the instance default"."""

    INHERIT = 0
    FOLLOW_CHILDREN = 1
    FOLLOW_THREADS = 2
    FILES = 4
    STAT = 8
    VM = 16
    IO = 32


#: Field names of :class:`TaskStat` that come from ``/proc/PID/stat``, in file
#: order; bit ``i`` of ``TaskStat.changed`` is field ``STAT_FIELDS[i]``.
STAT_FIELDS: tuple[str, ...] = (
    "ppid",
    "pgrp",
    "sid",
    "tty_nr",
    "tpgid",
    "flags",
    "minflt",
    "cminflt",
    "majflt",
    "cmajflt",
    "utime_ticks",
    "stime_ticks",
    "cutime_ticks",
    "cstime_ticks",
    "priority",
    "nice",
    "num_threads",
    "start_ticks",
    "vsize_bytes",
    "rss_pages",
    "rsslim_bytes",
    "wchan_addr",
    "processor",
    "delayacct_blkio_ticks",
    "guest_time_ticks",
    "cguest_time_ticks",
)

# Bits after the numeric fields, for the non-numeric parts of the record.
STAT_STATE_BIT = 1 << len(STAT_FIELDS)
STAT_COMM_BIT = STAT_STATE_BIT << 1
STAT_ARGV_BIT = STAT_STATE_BIT << 2
STAT_WCHAN_BIT = STAT_STATE_BIT << 3
STAT_EXE_BIT = STAT_STATE_BIT << 4
STAT_ALL_BITS = (STAT_EXE_BIT << 1) - 1


class TaskStat:
    """``/proc/PID/stat`` plus the names that go with it: comm, argv, wchan, exe.

    ``comm`` is ``None`` until it was read once (the chart then shows
    ``# missed it!``).  ``argv`` is empty for kernel threads and zombies.
    ``wchan`` and ``exe`` are ``None`` when they could not be read (EACCES);
    ``wchan`` is read only while the task is shown (see ``Task.shown``), so
    it is also ``None`` until then, and the last one read afterwards.
    """

    __slots__ = (
        "argv",
        "cguest_time_ticks",
        "changed",
        "cmajflt",
        "cminflt",
        "comm",
        "cstime_ticks",
        "cutime_ticks",
        "delayacct_blkio_ticks",
        "exe",
        "flags",
        "guest_time_ticks",
        "majflt",
        "minflt",
        "nice",
        "num_threads",
        "pgrp",
        "ppid",
        "priority",
        "processor",
        "rss_pages",
        "rsslim_bytes",
        "sid",
        "start_ticks",
        "state",
        "stime_ticks",
        "tpgid",
        "tty_nr",
        "utime_ticks",
        "vsize_bytes",
        "wchan",
        "wchan_addr",
    )

    def __init__(self) -> None:
        self.changed = STAT_ALL_BITS
        self.state = "?"
        self.comm: str | None = None
        self.argv: tuple[str, ...] = ()
        self.wchan: str | None = None
        self.exe: str | None = None
        self.ppid = 0
        self.pgrp = 0
        self.sid = 0
        self.tty_nr = 0
        self.tpgid = 0
        self.flags = 0
        self.minflt = 0
        self.cminflt = 0
        self.majflt = 0
        self.cmajflt = 0
        self.utime_ticks = 0
        self.stime_ticks = 0
        self.cutime_ticks = 0
        self.cstime_ticks = 0
        self.priority = 0
        self.nice = 0
        self.num_threads = 0
        self.start_ticks = 0
        self.vsize_bytes = 0
        self.rss_pages = 0
        self.rsslim_bytes = 0
        self.wchan_addr = 0
        self.processor = 0
        self.delayacct_blkio_ticks = 0
        self.guest_time_ticks = 0
        self.cguest_time_ticks = 0


#: ``/proc/PID/statm`` fields kept, in pages (``lib`` and ``dt`` are always 0).
STATM_FIELDS: tuple[str, ...] = (
    "size_pages",
    "resident_pages",
    "shared_pages",
    "text_pages",
    "data_pages",
)


class TaskVM:
    """``/proc/PID/statm``, in pages."""

    __slots__ = ("changed", "data_pages", "resident_pages", "shared_pages", "size_pages", "text_pages")

    def __init__(self) -> None:
        self.changed = (1 << len(STATM_FIELDS)) - 1
        self.size_pages = 0
        self.resident_pages = 0
        self.shared_pages = 0
        self.text_pages = 0
        self.data_pages = 0


#: ``/proc/PID/io`` keys kept, in file order.
IO_FIELDS: tuple[str, ...] = (
    "rchar",
    "wchar",
    "syscr",
    "syscw",
    "read_bytes",
    "write_bytes",
    "cancelled_write_bytes",
)


class TaskIO:
    """``/proc/PID/io``: cumulative counters (``rchar``/``wchar`` in bytes)."""

    __slots__ = ("cancelled_write_bytes", "changed", "rchar", "read_bytes", "syscr", "syscw", "wchar", "write_bytes")

    def __init__(self) -> None:
        self.changed = (1 << len(IO_FIELDS)) - 1
        self.rchar = 0
        self.wchar = 0
        self.syscr = 0
        self.syscw = 0
        self.read_bytes = 0
        self.write_bytes = 0
        self.cancelled_write_bytes = 0


class FileObjectKind(enum.Enum):
    PIPE = "pipe"
    SOCKET = "socket"
    ANON_INODE = "anon_inode"
    FILE = "file"
    OTHER = "other"


class FileObject:
    """An open file shared by every fd (of any monitored task) that refers to it.

    Pipes and sockets are keyed by inode, anonymous inodes and regular files by
    their link text.  ``refs`` counts the fds that point at it; ``user`` is free
    for the caller (libvmon's ``foo``).
    """

    __slots__ = ("key", "kind", "refs", "user")

    def __init__(self, kind: FileObjectKind, key: str) -> None:
        self.kind = kind
        self.key = key
        self.refs = 0
        self.user: Any = None

    def __repr__(self) -> str:
        return f"FileObject({self.kind.value}, {self.key!r}, refs={self.refs})"


class OpenFile:
    """One fd of a process: its number, link text and the shared object."""

    __slots__ = ("fd", "generation", "link", "obj")

    def __init__(self, fd: int, link: str, obj: FileObject, generation: int) -> None:
        self.fd = fd
        self.link = link
        self.obj = obj
        self.generation = generation


class SysStat:
    """``/proc/stat`` CPU times in ticks: ``cpu`` is the aggregate line and
    ``cpus[i]`` each CPU's, both as tuples in file order (user, nice, system,
    idle, iowait, irq, softirq, steal, guest, guest_nice).  ``boottime_ticks``
    is ``CLOCK_BOOTTIME`` in ticks, the clock a task's ``start_ticks`` counts on.
    """

    __slots__ = ("boottime_ticks", "changed", "cpu", "cpus")

    def __init__(self) -> None:
        self.cpu: tuple[int, ...] = (0,) * 10
        self.cpus: list[tuple[int, ...]] = []
        self.boottime_ticks = 0
        self.changed = True

    @property
    def total_ticks(self) -> int:
        """All time but guest (already counted in user) since boot, in ticks."""
        return sum(self.cpu[:8])


class TaskDelta:
    """What a task used in the latest sample, computed once by the engine for every consumer.

    ``utime_ticks``/``stime_ticks`` and ``read_bytes``/``write_bytes`` are the
    task's own use (a process: its whole thread group, without what the kernel
    folded in from reaped children; a thread: that thread alone).
    ``children_*`` is what the process's children used that no task's own
    figures showed: their use after their last sample, or in their whole life
    when they were never seen (always 0 for a thread).  The sum of the own and
    children figures of every process of a tree is what the tree used, each
    tick and byte counted once.  ``rss_bytes`` is the resident size now (a
    level; a thread reports its process's).  ``baseline`` holds in the sample
    that first saw a task that was running before monitoring began: nothing
    is known of its past then, and its deltas are 0.  A task that started
    after monitoring began gets its whole life so far as its first delta.
    """

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
        self.baseline = False

    def clear(self) -> None:
        """All figures 0 (a task that did not run, or is gone); ``rss_bytes`` is kept."""
        self.utime_ticks = self.stime_ticks = 0
        self.children_utime_ticks = self.children_stime_ticks = 0
        self.read_bytes = self.write_bytes = 0
        self.children_read_bytes = self.children_write_bytes = 0
        self.baseline = False

    @property
    def used_anything(self) -> bool:
        """Whether the task (or, for a process, its children unseen) used any CPU or did any IO in the sample."""
        return bool(
            self.utime_ticks
            or self.stime_ticks
            or self.children_utime_ticks
            or self.children_stime_ticks
            or self.read_bytes
            or self.write_bytes
            or self.children_read_bytes
            or self.children_write_bytes
        )

    def __repr__(self) -> str:
        return (
            f"TaskDelta(user={self.utime_ticks}+{self.children_utime_ticks}, "
            f"sys={self.stime_ticks}+{self.children_stime_ticks}, read={self.read_bytes}+{self.children_read_bytes}, "
            f"write={self.write_bytes}+{self.children_write_bytes}, rss={self.rss_bytes}"
            f"{', baseline' if self.baseline else ''})"
        )


class Task:
    """A monitored process or thread, identified by ``(pid, start_ticks)``.

    For a thread ``pid`` is its TID and ``parent`` the process it belongs to.
    ``children`` are processes, ``threads`` the process's threads (the main
    thread included, once the process has more than one).  ``is_new`` holds
    during the sample that found the task; ``is_stale`` during the one sample
    after it exited or left the tree, after which it is dropped.
    """

    __slots__ = (
        "_engine",
        "activity",
        "callbacks",
        "children",
        "children_changed",
        "delta",
        "files",
        "generation",
        "io",
        "is_new",
        "is_stale",
        "is_thread",
        "is_threaded",
        "parent",
        "pid",
        "refcount",
        "shown",
        "stat",
        "threads",
        "threads_changed",
        "unavailable",
        "user",
        "vm",
        "wants",
    )

    def __init__(self, pid: int, *, is_thread: bool = False, parent: Task | None = None) -> None:
        self.pid = pid
        self.is_thread = is_thread
        self.is_threaded = False  # sticky: has had threads at some point
        self.parent = parent
        self.children: list[Task] = []
        self.threads: list[Task] = []
        self.children_changed = False
        self.threads_changed = False
        self.is_new = True
        self.is_stale = False
        self.generation = 0
        self.refcount = 1
        #: ProcWants bits; 0 (INHERIT) means the instance's default wants.
        self.wants: int = ProcWants.INHERIT
        #: ProcWants bits whose sample changed something this cycle.
        self.activity: int = ProcWants.INHERIT
        self.stat: TaskStat | None = None
        self.vm: TaskVM | None = None
        self.io: TaskIO | None = None
        self.files: dict[int, OpenFile] | None = None
        #: Wants whose files could not be read (EACCES): the data is unavailable.
        self.unavailable: int = ProcWants.INHERIT
        #: This sample's use, computed once by the engine (see :class:`TaskDelta`).
        self.delta = TaskDelta()
        #: How many consumers display this task: the engine re-reads the state
        #: and wait channel of a shown task every sample, and reads the wait
        #: channel of no other task.  Consumers increment and decrement it.
        self.shown = 0
        self.callbacks: list[tuple[TaskCallback, Any]] = []
        self.user: Any = None  # free for the caller (libvmon's ``foo``)
        self._engine: Any = None  # the engine's private per-task state

    @property
    def start_ticks(self) -> int:
        return self.stat.start_ticks if self.stat is not None else 0

    @property
    def key(self) -> tuple[int, int]:
        """The task's identity: a reused pid has another start time."""
        return (self.pid, self.start_ticks)

    def __repr__(self) -> str:
        kind = "thread" if self.is_thread else "process"
        comm = self.stat.comm if self.stat is not None else None
        flags = ("new " if self.is_new else "") + ("stale " if self.is_stale else "")
        return f"<Task {kind} {self.pid} {comm!r} {flags}refs={self.refcount}>"


#: ``callback(vmon, task, arg)``, called after the task's subtree was sampled.
TaskCallback = Callable[[Any, Task, Any], None]
