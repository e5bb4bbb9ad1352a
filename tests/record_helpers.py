"""Running ``vwm-overlay record`` in tests: the process, its outcome, the commands it records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HEADER_PX = 45  # three 15 px header rows
NAME_RE = r"-\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d-\d+\.png"

Start = Callable[..., "subprocess.Popen[str]"]


@contextmanager
def recorders(tmp_path: Path) -> Iterator[Start]:
    """Starts ``vwm-overlay record ARGS`` in ``tmp_path``, in its own process group; kills the group at the end.
    Keyword arguments go to ``Popen``."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, **popen: Any) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vwm_overlay", "record", *args],
            cwd=tmp_path,
            text=True,
            start_new_session=True,  # the command and its orphans share the group: one killpg reaps them all
            **{"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **popen},
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


def wait_until(predicate: Callable[[], object], what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def py(code: str, *args: str) -> list[str]:
    """A command line running Python ``code`` (dedented) with ``args``."""
    return [sys.executable, "-c", textwrap.dedent(code), *args]


def pngs(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.png"))


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def gone_or_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return True
    return stat[stat.rfind(b")") + 2 :].startswith(b"Z")


# A command that says it runs (so the recorder is ready: it starts the command only then), then waits.
WAITER = """
    import pathlib, signal, sys, time
    if sys.argv[1] == "trap":
        signal.signal(signal.SIGINT, lambda *_: sys.exit(3))
    elif sys.argv[1] == "count":
        signal.signal(signal.SIGINT, lambda *_: pathlib.Path("got-int").touch())
    pathlib.Path("ready").touch()
    time.sleep(60)
"""

BUSY = """
    import time
    start = time.monotonic()
    while time.monotonic() - start < float(__import__("sys").argv[1]):
        pass
"""
