"""Walking a monitored tree in display order."""

from __future__ import annotations

from collections.abc import Iterator

from .records import Task

__all__ = ["iter_tree", "post_order"]


def iter_tree(root: Task, *, include_stale: bool = True) -> Iterator[tuple[Task, int]]:
    """``(task, depth)`` for the root, then depth first: a process, its
    threads, then its children (vwm's row order)."""
    stack: list[tuple[Task, int]] = [(root, 0)]
    while stack:
        task, depth = stack.pop()
        if task.is_stale and not include_stale:
            continue
        yield task, depth
        # Pushed in reverse so they come out in list order.
        for child in reversed(task.children):
            stack.append((child, depth + 1))
        for thread in reversed(task.threads):
            stack.append((thread, depth + 1))


def post_order(root: Task) -> Iterator[Task]:
    """The processes under ``root``, every one after its children (threads are not visited)."""
    stack: list[tuple[Task, bool]] = [(root, False)]
    while stack:
        task, done = stack.pop()
        if done:
            yield task
            continue
        stack.append((task, True))
        stack.extend((child, False) for child in reversed(task.children))
