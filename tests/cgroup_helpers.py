"""Real cgroup v2 groups for tests: created under the cgroup2 mount, emptied and removed afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_for

from vwm_overlay.record.cgroup import find_cgroup2_mount


def group_pids(group: Path) -> list[int]:
    try:
        return [int(word) for word in (group / "cgroup.procs").read_text().split()]
    except FileNotFoundError:
        return []


def _empty(group: Path) -> None:
    kill = group / "cgroup.kill"
    if kill.exists():
        kill.write_text("1")
    else:
        for pid in group_pids(group):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not group_pids(group), 30, f"{group} to empty")


@contextlib.contextmanager
def real_group(*names: str) -> Iterator[Path]:
    """A group at MOUNT/NAMES... (each level created), removed with every process in it; skips where no
    cgroup2 hierarchy is mounted or a group cannot be created (not root)."""
    mount = find_cgroup2_mount()
    if mount is None:
        pytest.skip("no cgroup2 hierarchy mounted")
    created: list[Path] = []
    path = Path(mount)
    try:
        for name in names:
            path = path / name
            try:
                path.mkdir()
            except OSError as err:
                pytest.skip(f"cannot create a cgroup: {err.strerror}")
            created.append(path)
        yield path
    finally:
        for group in reversed(created):
            if group.exists():
                _empty(group)
                group.rmdir()


def join_group_argv(group: Path, argv: list[str]) -> list[str]:
    """A command line that moves itself into ``group``, then execs ``argv``."""
    return ["sh", "-c", f'echo $$ > "{group}/cgroup.procs" && exec "$@"', "sh", *argv]
