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

__all__ = ["DENIED", "GONE", "NOT_OPEN", "READ_SLACK", "TRANSIENT", "ProcFS", "raise_nofile_limit"]

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

_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC
_OUT_OF_FDS = (errno.EMFILE, errno.ENFILE)
_GONE_ERRNOS = (errno.ENOENT, errno.ESRCH)


def raise_nofile_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; return the new soft
    limit.  Each monitored task keeps a few fds, and 1024 is soon reached."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # a container may refuse; we degrade when fds run out
    return int(soft)


class ProcFS:
    """A procfs root: opens task files once and reads them with one pread."""

    def __init__(self, root: str = "/proc") -> None:
        self.root = root
        self.dir_fd = os.open(root, _OPEN_FLAGS | os.O_DIRECTORY)
        #: Set once an open failed for lack of fds; new files are then read
        #: transiently instead of kept.
        self.out_of_fds = False

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1

    def open(self, path: str, *, directory: bool = False) -> int:
        """Open ``path`` (relative to the root) and return the fd, or a state:
        GONE, DENIED, or TRANSIENT when the process is out of fds."""
        if self.out_of_fds and not directory:
            return TRANSIENT
        try:
            return os.open(path, _OPEN_FLAGS | (os.O_DIRECTORY if directory else 0), dir_fd=self.dir_fd)
        except OSError as err:
            return self._state_for(err)

    def _state_for(self, err: OSError) -> int:
        if err.errno in _OUT_OF_FDS:
            self.out_of_fds = True
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
