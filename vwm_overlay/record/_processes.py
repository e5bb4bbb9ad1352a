"""The processes of the monitored trees, for the recorder's reports (summary, trace, OpenMetrics).

The reports read each task's use in a sample from the engine's ``task.delta``, never from cumulative counters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..vmon import Task

__all__ = ["iter_processes"]


def iter_processes(roots: Iterable[Task]) -> Iterator[Task]:
    """Every process under ``roots``, parents first, threads left out (a process's figures are its threads' sum,
    and a threaded tree has ten times more threads than processes)."""
    stack = list(roots)
    stack.reverse()
    while stack:
        task = stack.pop()
        yield task
        stack.extend(reversed(task.children))
