"""Starting the recorded command: fork, hold it until the monitor is ready, then exec.

The command starts with the signal mask and open files limit the user gave, not the recorder's.

The child sets ``PR_SET_PDEATHSIG`` (it is killed if the recorder dies, so a recording never leaves a stray
command behind) and then waits on a pipe.  The recorder starts monitoring the child's pid and only then lets it
exec, so the very first sample already sees the command (vwm's vmon forks and execs at once, and can miss what the
command does first).  A failed exec is reported back through a close-on-exec pipe, so the recorder can say why.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
from collections.abc import Sequence

from ..errors import OverlayError
from ..limits import restore_open_files_limit

__all__ = ["Command", "ExecFailed", "set_child_subreaper"]

# From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

#: Exit statuses of a command that could not be run, as shells use them.
STATUS_NOT_FOUND = 127
STATUS_NOT_EXECUTABLE = 126

# Loaded once, before any fork: the child should do as little as possible between fork and exec.
_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.prctl.restype = ctypes.c_int


def _prctl(option: int, value: int) -> None:
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def set_child_subreaper() -> None:
    """Make the recorder the reaper of orphaned descendants, so they stay in its tree."""
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


class ExecFailed(OverlayError):
    """The command could not be executed; ``status`` is what the recorder exits with."""

    def __init__(self, argv0: str, code: int) -> None:
        super().__init__(f"cannot run {argv0!r}: {os.strerror(code)}")
        self.status = STATUS_NOT_FOUND if code == errno.ENOENT else STATUS_NOT_EXECUTABLE


class Command:
    """A forked child that runs ``argv`` once :meth:`release` is called."""

    def __init__(self, argv: Sequence[str], child_mask: set[int]) -> None:
        """Fork; the caller has the recorder's signals blocked, ``child_mask`` is the mask the command gets."""
        if not argv:
            raise ValueError("empty command")
        self.argv = tuple(argv)
        gate_r, self._gate_w = os.pipe()
        self._error_r, error_w = os.pipe()
        recorder_pid = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which execs or exits
            _child(self.argv, gate_r, error_w, recorder_pid, child_mask)
        os.close(gate_r)
        os.close(error_w)
        self.pid = pid

    def release(self) -> None:
        """Let the child exec; returns once it did.  Raises :class:`ExecFailed` (the child is reaped) if not."""
        os.write(self._gate_w, b"x")
        os.close(self._gate_w)
        chunks = []
        while chunk := os.read(self._error_r, 64):  # EOF: the close-on-exec pipe closed, exec succeeded
            chunks.append(chunk)
        os.close(self._error_r)
        if chunks:
            os.waitpid(self.pid, 0)
            raise ExecFailed(self.argv[0], int(b"".join(chunks)))

    def abandon(self) -> None:
        """Never start the command: the child sees the gate close and exits."""
        for fd in (self._gate_w, self._error_r):
            try:
                os.close(fd)
            except OSError:
                pass
        os.waitpid(self.pid, 0)


def _child(argv: tuple[str, ...], gate_r: int, error_w: int, recorder_pid: int, mask: set[int]) -> None:
    """In the forked child: reset what the recorder changed, wait for the gate, exec.  Never returns."""
    code = errno.EINVAL
    try:
        # Exec keeps ignored signals ignored (Python ignores these two): give the command a shell's defaults.
        for signum in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        restore_open_files_limit()  # the recorder's raised limit is not the command's
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != recorder_pid:
            os._exit(STATUS_NOT_FOUND)  # the recorder died before the death signal was armed
        if os.read(gate_r, 1) != b"x":
            os._exit(STATUS_NOT_FOUND)  # the recorder gave up before starting us
        os.execvp(argv[0], argv)
    except OSError as err:
        code = err.errno or errno.EINVAL
    finally:
        try:
            os.write(error_w, str(code).encode())
        finally:
            os._exit(STATUS_NOT_FOUND)
