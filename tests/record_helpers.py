"""Running ``vwm-overlay record`` in tests: recorders in their own process groups, reaped at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

Start = Callable[..., "subprocess.Popen[str]"]


@contextmanager
def recorders(cwd: Path) -> Iterator[Start]:
    """Starts ``vwm-overlay record ARGS`` in ``cwd``, in its own process group; kills the groups at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vwm_overlay", "record", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # the command and its orphans share the group: one killpg reaps them all
        )
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate(timeout=10)


def finish(proc: subprocess.Popen[str], timeout_s: float = 30.0) -> tuple[int, str]:
    """Wait for the recorder; then kill what is left of its group (orphans hold its stderr open)."""
    status = proc.wait(timeout=timeout_s)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, stderr = proc.communicate(timeout=10)
    return status, stderr


def py(code: str, *args: str) -> list[str]:
    """A command line running Python ``code`` (dedented) with ``args``."""
    return [sys.executable, "-c", textwrap.dedent(code), *args]


def pngs(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.png"))
