"""What the engine keeps per task: its open files, their last bytes, and its accounting."""

from __future__ import annotations

import os

from ._ledger import Ledger
from ._procfs import GONE, NOT_OPEN, ProcFS, is_gone
from .records import Task

__all__ = ["KeptFiles", "kept", "probe_gone"]

_FD_ATTRS = ("stat_fd", "cmdline_fd", "wchan_fd", "children_fd", "io_fd", "statm_fd", "thread_io_fd")


class KeptFiles:
    """A task's kept fds and the last bytes read from them, hung on ``Task._engine``."""

    __slots__ = (
        "base",
        "born_generation",
        "children_fd",
        "children_raw",
        "cmdline_fd",
        "force_children",
        "gone",
        "io_fd",
        "io_raw",
        "ledger",
        "live_threads",
        "relist_threads",
        "reported",
        "seen_generation",
        "stale_children",
        "stale_generation",
        "stale_threads",
        "stat_fd",
        "stat_raw",
        "statm_fd",
        "statm_raw",
        "thread_children",
        "thread_io_fd",
        "threads_quiet",
        "wchan_fd",
    )

    def __init__(self, base: str, born_generation: int) -> None:
        self.base = base  # "PID/" or "PID/task/TID/"
        self.born_generation = born_generation
        self.seen_generation = born_generation
        self.gone = False
        self.stat_fd = NOT_OPEN
        self.stat_raw = b""
        self.cmdline_fd = NOT_OPEN
        self.wchan_fd = NOT_OPEN
        self.children_fd = NOT_OPEN
        self.children_raw = b""
        self.force_children = False
        self.io_fd = NOT_OPEN
        self.io_raw = b""
        self.statm_fd = NOT_OPEN
        self.statm_raw = b""
        self.thread_io_fd = NOT_OPEN  # a single-threaded process's own IO (task/PID/io)
        #: Threads not followed: the children file of each thread but the main one, by tid.
        self.thread_children: dict[int, int] | None = None
        self.ledger = Ledger()
        self.live_threads = 0
        self.relist_threads = True
        #: The threads were left as they were (deltas 0) since the process's stat last moved.
        self.threads_quiet = False
        #: Some children (threads) are stale: they are dropped at the next sample.
        self.stale_children = False
        self.stale_threads = False
        #: The sample that found the task gone (-1: not gone).
        self.stale_generation = -1
        self.reported: set[str] | None = None

    def close(self, procfs: ProcFS) -> None:
        for name in _FD_ATTRS:
            procfs.release(getattr(self, name))
            setattr(self, name, GONE)
        self.release_thread_children(procfs)

    def release_thread_children(self, procfs: ProcFS) -> None:
        if self.thread_children is not None:
            for fd in self.thread_children.values():
                procfs.release(fd)
            self.thread_children = None


def kept(task: Task) -> KeptFiles:
    files: KeptFiles = task._engine
    return files


def probe_gone(task: Task) -> bool:
    """Whether a process was reaped: its kept stat fd says ESRCH (a zombie still reads)."""
    files = kept(task)
    if files.gone:
        return True
    if files.stat_fd < 0:
        return False
    try:
        os.pread(files.stat_fd, 1, 0)
    except OSError as err:
        return is_gone(err)
    return False
