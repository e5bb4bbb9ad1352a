"""Output files of the recorder's reports (summary, trace, OpenMetrics): created safely, failures said once.

A new file is created with ``O_EXCL|O_NOFOLLOW`` (never through a planted symlink, never over another run's file)
and written through that one fd.  A file that is replaced (``--openmetrics``) is written to a temporary file in the
same directory, fsynced and renamed over the target, so a reader never sees it partial.  A failure at run time is
reported in one line and ends that output only: the recording goes on.
"""

from __future__ import annotations

import errno
import os
import tempfile
from typing import TextIO

from ..errors import UsageError

__all__ = ["create_new", "discard", "replace_atomically", "report_failure", "write_all"]

_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def create_new(path: str, option: str) -> int:
    """A new file at ``path`` for ``option``; a user error (before anything runs) when it cannot be created."""
    try:
        return os.open(path, _NEW_FLAGS, 0o644)
    except OSError as err:
        raise UsageError(f"cannot create {option} {path!r}: {_cause(err)}") from None


def discard(fd: int, path: str) -> None:
    """Close and remove a file :func:`create_new` made, when the run it was for never happened; a file that
    replaced it under that name since is left alone."""
    try:
        ours = os.fstat(fd)
        there = os.lstat(path)
        if (ours.st_dev, ours.st_ino) == (there.st_dev, there.st_ino):
            os.unlink(path)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` (``os.write`` may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def replace_atomically(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` as one step: a temporary file in its directory, fsync, rename."""
    directory, base = os.path.split(path)
    # mkstemp opens with O_EXCL|O_NOFOLLOW; the name does not end in the target's suffix (.prom), so a collector
    # reading the directory never picks it up.
    fd, temporary = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory or ".")
    try:
        try:
            os.fchmod(fd, 0o644)
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def report_failure(stderr: TextIO, path: str, err: OSError, what_now: str) -> None:
    """``vwm-overlay: FILE: CAUSE (ERRNO); WHAT HAPPENS NOW`` on one line."""
    name = errno.errorcode.get(err.errno or 0, "EIO")
    print(f"vwm-overlay: {path}: {err.strerror or err} ({name}); {what_now}", file=stderr, flush=True)


def _cause(err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "it is a symbolic link"
    return err.strerror or str(err)
