"""Reading ``record --jsonl`` logs in tests, through the project's own reader and replay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vwm_overlay.record.logformat import read_log
from vwm_overlay.record.replay import LogReplay
from vwm_overlay.vmon import Task


def header_of(path: Path) -> dict[str, Any]:
    return read_log(str(path))[0]


def samples_of(path: Path) -> list[dict[str, Any]]:
    """The sample lines of a log, in order."""
    return [line for line in read_log(str(path))[1] if "sample" in line]


def replayed(path: Path) -> Iterator[tuple[dict[str, Any], LogReplay]]:
    """``(sample line, replay)`` after each sample: the replay's tree is the engine's at that sample."""
    header, lines = read_log(str(path))
    replay = LogReplay(header)
    for line in lines:
        if "sample" in line:
            replay.apply(line)
            yield line, replay


def tree_tasks(root: Task | None) -> Iterator[Task]:
    """Every task under ``root``, the root first, stale ones included."""
    stack = [root] if root is not None else []
    while stack:
        task = stack.pop()
        yield task
        stack.extend(task.children)
        stack.extend(task.threads)


def cpu_percent(task: Task, replay: LogReplay) -> float:
    """What ``task`` used in the latest sample, own and children's, in percent of one core."""
    delta = task.delta
    ticks = delta.utime_ticks + delta.stime_ticks + delta.children_utime_ticks + delta.children_stime_ticks
    return 100.0 * ticks / replay.ticks_per_s / replay.timing.elapsed_s


def replayed_so_far(path: Path) -> Iterator[tuple[dict[str, Any], LogReplay]]:
    """:func:`replayed` on a log a recorder may still be writing: nothing while it has no header yet (a last line
    without its newline is left out by the reader)."""
    if not path.exists() or not path.read_bytes().endswith(b"\n"):
        return
    yield from replayed(path)


def processes_named(path: Path, comm: str) -> list[Task]:
    """The processes called ``comm`` seen in the log so far, each once."""
    found: dict[int, Task] = {}
    for _, replay in replayed_so_far(path):
        for task in tree_tasks(replay.root):
            if not task.is_thread and task.stat is not None and task.stat.comm == comm:
                found[id(task)] = task
    return list(found.values())
