"""Which tasks get a row when the tree has more than the chart can show: nothing hidden silently, busy tasks kept.

When every task fits, every task gets its row (vwm's chart).  When not:

1. runs of idle sibling leaves with the same name and arguments collapse, from the bottom up and only as far as
   needed: the last members of a run share one row (``sleep 6 x14``), the first of them standing for the others; a
   member that becomes busy leaves the run at once, with its own row;
2. if that is still too many, idle rows give way to busy ones: every busy row and its ancestors are kept, then
   idle rows in tree order as long as there is room.

The snowflakes below (exited tasks, newest first) fall off the bottom as in vwm, but one of a task that was busy
when it exited is kept in view while its graph is on the chart: idle live rows leave room for it (up to half the
room, see ``reserve_px``), and idle snowflakes above it give way (:func:`fit_snow`).

The chart says how many tasks have no row (:attr:`Fitted.hidden`).  A task counts as busy from a sample in which
it (or its reaped children) used CPU or did IO until ``hold_s`` of sample time later, so rows do not flicker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vwm_overlay.vmon.records import Task

from .rows import Placed, Row

__all__ = ["ACTIVE_HOLD_S", "Activity", "Fitted", "Shown", "fit_rows", "fit_snow"]

#: How long a task stays busy (in sample time) after its last sample with any use.
ACTIVE_HOLD_S = 1.0


class Activity:
    """When each task was last busy, in sample time."""

    def __init__(self, hold_s: float = ACTIVE_HOLD_S) -> None:
        self.hold_s = hold_s
        self._busy_s: dict[Task, float] = {}
        self.now_s = 0.0
        self._last_s = 0.0  # the previous sample's time

    def advance(self, now_s: float) -> None:
        """A new sample, at ``now_s`` of sample time."""
        self._last_s, self.now_s = self.now_s, now_s

    def note(self, task: Task) -> None:
        """Remember the task as busy now if it (or its reaped children) used CPU or did IO in this sample."""
        if task.delta.used_anything:
            self._busy_s[task] = self.now_s

    def is_active(self, task: Task) -> bool:
        busy_s = self._busy_s.get(task)
        return busy_s is not None and self.now_s - busy_s < self.hold_s

    def was_active_at_exit(self, task: Task) -> bool:
        """Whether ``task``, found gone in this sample, was busy in the previous one, its last seen alive (however
        late this sample came)."""
        busy_s = self._busy_s.get(task)
        return busy_s is not None and self._last_s - busy_s < self.hold_s

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
    placed: list[Placed],
    is_active: Callable[[Task], bool],
    room_px: int,
    height_px: Callable[[Task], int],
    reserve_px: int = 0,
) -> Fitted:
    """The rows to show of the live tasks ``placed`` (in chart order) in ``room_px`` of height.

    The last ``reserve_px`` of the room are for the busy snowflakes below: idle rows collapse and give way rather
    than use them, busy rows (and the root) may.
    """
    idle_room_px = max(room_px - reserve_px, 0)
    need = sum(height_px(task) for task, _, _ in placed)
    if need <= idle_room_px or not placed:
        return Fitted([Shown(task, depth, tree) for task, depth, tree in placed], 0)
    rows = _collapsed(placed, is_active, need - idle_room_px, height_px)
    need = sum(height_px(row.task) for row in rows)
    if need <= idle_room_px:
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
        if not keep[i] and used + h <= idle_room_px:
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


def fit_snow(
    snow: list[Row], top_px: int, visible_px: int, bottom_px: int, is_busy: Callable[[Row], bool]
) -> list[bool]:
    """Which of the snowflakes ``snow`` (in chart order, from ``top_px`` down) stay.

    As in vwm, a snowflake whose top is below ``bottom_px`` (the layers' height) falls off; an idle one also gives
    way when the busy ones below it would not be in view (above ``visible_px``) otherwise.  When every snowflake
    is in view, all stay.
    """
    busy_px = sum(row.height_px for row in snow if is_busy(row))
    stays: list[bool] = []
    y = top_px
    for row in snow:
        height = row.height_px
        fits = y < bottom_px
        if is_busy(row):
            busy_px -= height
        elif busy_px and y + height + busy_px > visible_px:
            fits = False
        stays.append(fits)
        if fits:
            y += height
    return stays


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
