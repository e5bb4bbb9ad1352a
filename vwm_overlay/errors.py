"""The project's exceptions.

::

    OverlayError                 base of everything we raise on purpose
    ├── UsageError               bad command-line input (exit status 2)
    ├── TaskGone                 a task exited (ESRCH/ENOENT on its files)
    └── AccessDenied             a task's file is not readable (EACCES/EPERM)
"""

from __future__ import annotations

__all__ = ["AccessDenied", "OverlayError", "TaskGone", "UsageError"]


class OverlayError(Exception):
    """Base class of every error the project raises on purpose."""


class UsageError(OverlayError):
    """The user asked for something impossible; the message says what."""


class TaskGone(OverlayError):
    """The task exited, or its pid never existed."""

    def __init__(self, pid: int) -> None:
        super().__init__(f"no such process: {pid}")
        self.pid = pid


class AccessDenied(OverlayError):
    """A file of the task exists but may not be read."""

    def __init__(self, pid: int, what: str) -> None:
        super().__init__(f"permission denied reading {what} of process {pid}")
        self.pid = pid
        self.what = what
