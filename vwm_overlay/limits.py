"""The open files limit: raised by the programs at start-up, never for the commands they run.

Each monitored task keeps a few fds open, and a soft ``RLIMIT_NOFILE`` of 1024 is soon reached; raising it is
the program's choice, made once in :func:`raise_open_files_limit`.  A command the recorder starts gets the limits
the user gave (:func:`restore_open_files_limit` in the child, before exec).
"""

from __future__ import annotations

import resource

__all__ = ["raise_open_files_limit", "restore_open_files_limit"]

_original: tuple[int, int] | None = None


def raise_open_files_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit (remembering the original); return the soft limit."""
    global _original
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if _original is None:
        _original = (soft, hard)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # a container may refuse: the engine keeps fewer files open
    return soft


def restore_open_files_limit() -> None:
    """Put back the limits the program started with (in a child about to exec a command)."""
    if _original is not None:
        resource.setrlimit(resource.RLIMIT_NOFILE, _original)
