"""The engine's only I/O edge: kept-open /proc files read with one ``pread``.

Files are opened relative to a directory fd on the procfs root (so a test can
point the engine at another tree, and paths are never re-resolved from ``/``).
A kept fd is bound to the task it was opened for: once that task is reaped,
reads fail with ESRCH instead of silently reading a new task that reused the
pid, which is what makes exit detection exact.

Negative fd values are states, not fds: see ``NOT_OPEN`` and friends.
"""

from __future__ import annotations

import errno
import os
import resource
from collections.abc import Callable

__all__ = ["DENIED", "GONE", "NOT_OPEN", "READ_SLACK", "TRANSIENT", "ProcFS", "fd_budget"]

#: Not opened yet.
NOT_OPEN = -1
#: The file exists but may not be read (EACCES/EPERM): that data is unavailable.
DENIED = -2
#: The file (or its task) does not exist.
GONE = -3
#: No fd could be kept (the process ran out of fds): open, read, close each time.
TRANSIENT = -4

#: Longer than any record of a seq_file the engine reads (a pid and a space, a key and value of io).
READ_SLACK = 64

_RESERVED_FDS = 64

_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC
_OUT_OF_FDS = (errno.EMFILE, errno.ENFILE)
_GONE_ERRNOS = (errno.ENOENT, errno.ESRCH)


def fd_budget(soft_limit: int) -> int:
    """How many fds the engine may keep under a soft ``RLIMIT_NOFILE``: it
    leaves a quarter of the limit, and never fewer than 64, to the rest of the
    program (its output files, an X connection)."""
    return max(0, soft_limit - max(soft_limit // 4, _RESERVED_FDS))


class ProcFS:
    """A procfs root: opens task files once and reads them with one pread.

    Kept fds stay within a budget (see :func:`fd_budget`; the soft limit is
    looked up again by :meth:`refresh_budget`, so a program that raises it
    later gets the room).  Stat files of processes may use the whole budget,
    every other file three quarters of it: past that, files are read
    open-read-close (``TRANSIENT``), and ``report`` is called once, with one
    line, to say so.  Such a file is opened again at its next read (a
    comparison when there is still no room), so it is kept again as soon as
    fds are freed or the budget grows.
    """

    def __init__(
        self, root: str = "/proc", *, budget: int | None = None, report: Callable[[str], None] | None = None
    ) -> None:
        self.root = root
        self.dir_fd = os.open(root, _OPEN_FLAGS | os.O_DIRECTORY)
        self._fixed_budget = budget
        self._report = report
        #: How many fds are kept open now, and how many may be.
        self.kept = 0
        self.budget = 0
        self.refresh_budget()
        #: Set once a file had to be read open-read-close for lack of fds.
        self.out_of_fds = False

    def refresh_budget(self) -> None:
        if self._fixed_budget is not None:
            self.budget = self._fixed_budget
            return
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.budget = fd_budget(1 << 20 if soft == resource.RLIM_INFINITY else int(soft))

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1

    def open(self, path: str, *, priority: bool = False) -> int:
        """Open ``path`` (relative to the root) and keep it: returns the fd, or
        a state: GONE, DENIED, or TRANSIENT when no fd may be kept for it."""
        limit = self.budget if priority else self.budget * 3 // 4
        if self.kept >= limit:
            self._degrade(f"at most {self.budget} /proc files are kept open under this open files limit")
            return TRANSIENT
        try:
            fd = os.open(path, _OPEN_FLAGS, dir_fd=self.dir_fd)
        except OSError as err:
            return self._state_for(err)
        self.kept += 1
        return fd

    def release(self, fd: int) -> None:
        """Close a kept fd (states are ignored)."""
        if fd >= 0:
            self.kept -= 1
            close_fd(fd)

    def _degrade(self, why: str) -> None:
        if not self.out_of_fds:
            self.out_of_fds = True
            if self._report is not None:
                self._report(f"{why}; reading the others open-read-close from now on, which costs more")

    def _state_for(self, err: OSError) -> int:
        if err.errno in _OUT_OF_FDS:
            self._degrade(f"out of file descriptors ({os.strerror(err.errno)}) with {self.kept} /proc files open")
            return TRANSIENT
        if err.errno in (errno.EACCES, errno.EPERM):
            return DENIED
        return GONE

    def read_transient(self, path: str, size: int) -> bytes | int:
        """Open, read once and close: for fds we could not keep.  Returns the
        bytes, or GONE/DENIED, or TRANSIENT when even that found no free fd."""
        try:
            fd = os.open(path, _OPEN_FLAGS, dir_fd=self.dir_fd)
        except OSError as err:
            return self._state_for(err)
        try:
            return read_all(fd, size)
        except OSError as err:
            return self._state_for(err)
        finally:
            os.close(fd)

    def readlink(self, path: str) -> str | None:
        try:
            return os.readlink(path, dir_fd=self.dir_fd)
        except OSError:
            return None

    def listdir(self, path: str) -> list[str] | None:
        try:
            return os.listdir(os.path.join(self.root, path))
        except OSError:
            return None

    def list_pids(self) -> list[int]:
        """The numeric entries of the root: every process (threads are hidden)."""
        return [int(name) for name in os.listdir(self.dir_fd) if name.isdigit()]

    def __enter__(self) -> ProcFS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_all(fd: int, size: int) -> bytes:
    """The whole file: one pread of ``size`` bytes, more only when that came near full.

    /proc files are generated at read time, so reading in several calls could
    see two different versions; ``size`` is chosen so one call nearly always
    suffices.  A seq_file (``children``) returns at most one page per read,
    filled with whole records: a read short of ``size`` by more than the
    longest record (``READ_SLACK``) reached the end; a longer one may not
    have, and the rest is read until a read returns nothing.
    """
    data = os.pread(fd, size, 0)
    if len(data) < size - READ_SLACK:
        return data
    chunks = [data]
    offset = len(data)
    while chunk := os.pread(fd, size, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def is_gone(err: OSError) -> bool:
    return err.errno in _GONE_ERRNOS


def close_fd(fd: int) -> None:
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass
