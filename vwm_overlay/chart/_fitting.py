"""Which tasks get a row when the tree has more than the chart can show: nothing hidden silently, busy tasks kept.

When every task fits, every task gets its row (vwm's chart).  When not:

1. runs of idle sibling leaves with the same name and arguments collapse, from the bottom up and only as far as
   needed: the last members of a run share one row (``sleep 6 x14``), the first of them standing for the others; a
   member that becomes busy leaves the run at once, with its own row;
2. if that is still too many, idle rows give way to busy ones: every busy row and its ancestors are kept, then
   idle rows in tree order as long as there is room.

The chart says how many tasks have no row (:attr:`Fitted.hidden`).  A task counts as busy from a sample in which
it (or its reaped children) used CPU or did IO until ``hold_s`` of sample time later, so rows do not flicker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vwm_overlay.vmon.records import Task

from .rows import Placed

__all__ = ["ACTIVE_HOLD_S", "Activity", "Fitted", "Shown", "fit_rows"]

#: How long a task stays busy (in sample time) after its last sample with any use.
ACTIVE_HOLD_S = 1.0


class Activity:
    """When each task was last busy, in sample time."""

    def __init__(self, hold_s: float = ACTIVE_HOLD_S) -> None:
        self.hold_s = hold_s
        self._busy_s: dict[Task, float] = {}
        self.now_s = 0.0

    def note(self, task: Task) -> None:
        """Remember the task as busy now if it (or its reaped children) used CPU or did IO in this sample."""
        if task.delta.used_anything:
            self._busy_s[task] = self.now_s

    def is_active(self, task: Task) -> bool:
        busy_s = self._busy_s.get(task)
        return busy_s is not None and self.now_s - busy_s < self.hold_s

    def forget(self, task: Task) -> None:
        self._busy_s.pop(task, None)


@dataclass(slots=True)
class Shown:
    """One row to show: a task, or a run of idle siblings led by ``task`` (``members`` includes it)."""

    task: Task
    depth: int
    tree: tuple[tuple[int, int, int, int], ...]
    members: tuple[Task, ...] = ()


@dataclass(slots=True)
class Fitted:
    rows: list[Shown]
    #: Live tasks that have no row and are in no collapsed run.
    hidden: int


def fit_rows(
    placed: list[Placed], is_active: Callable[[Task], bool], room_px: int, height_px: Callable[[Task], int]
) -> Fitted:
    """The rows to show of the live tasks ``placed`` (in chart order) in ``room_px`` of height."""
    need = sum(height_px(task) for task, _, _ in placed)
    if need <= room_px or not placed:
        return Fitted([Shown(task, depth, tree) for task, depth, tree in placed], 0)
    rows = _collapsed(placed, is_active, need - room_px, height_px)
    need = sum(height_px(row.task) for row in rows)
    if need <= room_px:
        return Fitted(rows, 0)
    heights = [height_px(row.task) for row in rows]
    keep = [False] * len(rows)
    keep[0] = True  # the root: what the chart is of
    ancestors: list[int] = []  # indices of the rows above the current one in the tree
    for i, row in enumerate(rows):
        depth = row.depth
        while ancestors and rows[ancestors[-1]].depth >= depth:
            ancestors.pop()
        if not row.members and is_active(row.task):
            keep[i] = True
            for j in reversed(ancestors):  # kept for the tree's sake; above a kept one, all are kept already
                if keep[j]:
                    break
                keep[j] = True
        ancestors.append(i)
    used = sum(h for h, kept in zip(heights, keep, strict=True) if kept)
    for i, h in enumerate(heights):
        if not keep[i] and used + h <= room_px:
            keep[i] = True
            used += h
    shown: list[Shown] = []
    used = 0
    for i, row in enumerate(rows):
        if keep[i]:
            h = heights[i]
            if used + h > room_px:
                break  # more busy rows than room: the bottom ones are counted as hidden
            shown.append(row)
            used += h
    represented = sum(len(row.members) or 1 for row in shown)
    return Fitted(shown, len(placed) - represented)


def _collapsed(
    placed: list[Placed], is_active: Callable[[Task], bool], excess_px: int, height_px: Callable[[Task], int]
) -> list[Shown]:
    """Rows with the tails of idle runs collapsed, bottom run first, until ``excess_px`` is saved (or all are)."""
    runs: list[tuple[int, int]] = []  # [start, end) in ``placed``
    count = len(placed)
    i = 0
    while i < count:
        key = _run_key(placed, i, is_active)
        j = i + 1
        if key is not None:
            depth = placed[i][1]
            while j < count and placed[j][1] == depth and _run_key(placed, j, is_active) == key:
                j += 1
        if j - i >= 2:
            runs.append((i, j))
        i = j
    collapse_from: dict[int, int] = {}  # run end -> first member collapsed
    for start, end in reversed(runs):
        if excess_px <= 0:
            break
        row_px = height_px(placed[start][0])
        saved = min(end - start - 1, -(-excess_px // row_px))
        collapse_from[end] = end - saved - 1
        excess_px -= saved * row_px
    rows: list[Shown] = []
    starts = {first: end for end, first in collapse_from.items()}
    i = 0
    while i < count:
        task, depth, tree = placed[i]
        run_end = starts.get(i)
        if run_end is None:
            rows.append(Shown(task, depth, tree))
            i += 1
        else:
            rows.append(Shown(task, depth, tree, tuple(placed[k][0] for k in range(i, run_end))))
            i = run_end
    return rows


def _run_key(placed: list[Placed], i: int, is_active: Callable[[Task], bool]) -> tuple[object, ...] | None:
    """What an idle leaf shares with the siblings it can collapse with; None if it cannot collapse."""
    task, depth, _ = placed[i]
    if depth == 0 or (i + 1 < len(placed) and placed[i + 1][1] > depth) or is_active(task):
        return None
    stat = task.stat
    if stat is None:
        return None
    return (task.parent, task.is_thread, stat.comm, stat.argv)
