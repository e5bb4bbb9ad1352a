"""Where every row of a chart is: the live tasks chosen to show, the snowflakes, and the pixels that move with them.

Each sample the tree is walked into rows (only when its structure changed), the rows to show are chosen (see
``_fitting``), new tasks get a row, exited ones move below a blank row as snowflakes (newest first, those of tasks
that exited busy kept in view while their graph is on the chart), and every row that moved takes its pixels along
(one block copy per layer), so history stays with its task and what no row covers any more is blanked (padding is
restored when the tree shrinks).  Snowflakes that fall off the bottom are counted (:attr:`Layout.fallen`).
"""

from __future__ import annotations

from collections.abc import Callable

from vwm_overlay.vmon.records import Task

from ._fitting import Activity, fit_rows, fit_snow
from .header import HEADER_ROWS
from .layers import Layers, Segment
from .rows import Placed, Row, walk_tree
from .theme import Theme

__all__ = ["Layout"]


class Layout:
    """The rows of one chart and their places in its layers."""

    def __init__(
        self,
        theme: Theme,
        layers: Layers,
        freeze_text: Callable[[Row], tuple[str, ...]],
        *,
        lanes: bool,
    ) -> None:
        self._theme = theme
        #: The pixel stores rows are moved in; replaced by the chart when they grow.
        self.layers = layers
        #: The texts of a snowflake, taken when its task exits.
        self._freeze_text = freeze_text
        self.lanes = lanes
        self.live: list[Row] = []
        self.snow: list[Row] = []
        self.separator_y = -1
        self.used_px = HEADER_ROWS * theme.row_px
        #: Live tasks with no row (the tree is taller than the chart; collapsed runs count as shown).
        self.hidden = 0
        #: Snowflakes that fell off the bottom since the snowflakes were last discarded.
        self.fallen = 0
        #: The chart's visible height (the layers may be taller).
        self.visible_px = layers.height_px
        #: The background's bands moved since it was last drawn.
        self.bands_changed = True
        self._rows: dict[Task, Row] = {}
        self._activity = Activity()
        #: The live tree as last walked, in chart order; every task in it was seen.
        self._placed: list[Placed] = []
        self._seen: set[Task] = set()
        self._structure_version: int | None = None
        self._walked_root: Task | None = None
        self._monitor_start_ticks = -1  # boot-time ticks of the first sample; -1 before it
        self._fit_key: tuple[list[bool], int] | None = None
        #: Graph columns drawn so far: a busy snowflake's hold is counted in them (see ``Row.busy_until_column``).
        self._column = 0
        #: The column from which a busy snowflake is kept no more (the rows are fitted again then); -1: none.
        self._busy_snow_until = -1
        #: The tasks with a row, each counted once in its ``shown`` (the engine then keeps its state and wait
        #: channel fresh every sample).
        self._shown: set[Task] = set()
        #: The tasks with a row, counted in ``shown`` only while somebody sees the chart (see :meth:`set_seen`).
        self._rows_tasks: set[Task] = set()
        self._watched = True

    @property
    def process_px(self) -> int:
        """Height of a process's slot: its row, and its lanes when they are shown."""
        return self._theme.process_slot_px if self.lanes else self._theme.row_px

    def update(
        self,
        root: Task,
        structure_version: int | None,
        sample_s: float,
        boottime_ticks: int,
        visible_px: int,
        columns: int = 1,
    ) -> None:
        """Bring the rows up to date with the sample (the deltas are of it, its graph ``columns`` wide) for a chart
        ``visible_px`` tall."""
        self._column += max(columns, 1)
        self.visible_px = visible_px
        first = self._monitor_start_ticks < 0
        if first:
            self._monitor_start_ticks = boottime_ticks
        stale: list[Task] = []
        walked = not (
            structure_version is not None and structure_version == self._structure_version and root is self._walked_root
        )
        theme = self._theme
        if walked:
            self._structure_version = structure_version
            self._walked_root = root
            self._placed, stale = walk_tree(root, theme.tree_indent_px, theme.row_px, self.process_px)
        activity = self._activity
        activity.advance(sample_s)
        note, is_active = activity.note, activity.is_active
        busy: list[bool] = []
        for task, _, _ in self._placed:
            note(task)
            busy.append(is_active(task))
        # The same tree with the same busy tasks in the same room: the same rows.
        fit_key = (busy, visible_px)
        if walked or fit_key != self._fit_key or 0 <= self._busy_snow_until <= self._column:
            self._fit_key = fit_key
            self._fit(stale, first, visible_px)
        if walked:
            self._seen.update(task for task, _, _ in self._placed)

    def _fit(self, stale: list[Task], first: bool, visible_px: int) -> None:
        """Choose the rows to show, give new ones a row, and move exited ones to the snowflakes."""
        process_px, row_px = self.process_px, self._theme.row_px
        column = self._column
        activity = self._activity
        # Room for the snowflakes of tasks that exited busy (and their separator), taken from idle live rows.
        busy_exits = {task for task in stale if activity.was_active_at_exit(task)}
        busy_snow_px = sum(row_px if task.is_thread else process_px for task in busy_exits)
        busy_snow_px += sum(row.height_px for row in self.snow if row.busy_until_column > column)
        room_px = visible_px - HEADER_ROWS * row_px
        # At most half the room: the live tree stays the chart's subject.
        reserve_px = min(busy_snow_px + row_px, max(room_px, 0) // 2) if busy_snow_px else 0
        fitted = fit_rows(
            self._placed,
            activity.is_active,
            room_px,
            lambda task: row_px if task.is_thread else process_px,
            reserve_px,
        )
        self.hidden = fitted.hidden
        new_live: list[Row] = []
        for shown in fitted.rows:
            task = shown.task
            row = self._rows.get(task)
            if row is None:
                row = self._rows[task] = self._new_row(task, preexisting=first or task in self._seen)
            row.depth = shown.depth
            row.tree = shown.tree
            row.members = shown.members
            new_live.append(row)
        structure_changed = len(new_live) != len(self.live) or any(
            a is not b for a, b in zip(new_live, self.live, strict=False)
        )
        if not structure_changed and not stale:
            self._busy_snow_until = self._next_busy_snow_until()
            return
        in_tree = {task for task, _, _ in self._placed}
        exited: list[Row] = []
        kept = {id(row) for row in new_live}
        for row in self.live:
            if id(row) in kept:
                continue
            if row.task in in_tree:  # still running, but without a row now (hidden, or in a collapsed run)
                self._rows.pop(row.task, None)
                row.y_px = -1
            else:
                exited.append(row)
        # A task listed as gone a second time has its snowflake already (logs of earlier versions list a thread
        # gone just before its process once more with the process).
        snowed = {row.task for row in self.snow} if stale else set()
        for task in stale:
            if task in snowed:
                continue
            row = self._rows.get(task)
            if row is None or id(row) in kept:
                # Came and went between two samples, or had no row: still worth a snowflake.
                row = self._new_row(task, preexisting=task in self._seen)
                exited.append(row)
            activity.forget(task)
            self._seen.discard(task)
        exited.sort(key=lambda r: (r.y_px < 0, r.y_px))
        hold_columns = self.layers.width_px  # until its exit has scrolled off the chart
        for row in exited:
            self._rows.pop(row.task, None)
            row.finish_pending = True
            row.members = ()
            row.snow_texts = self._freeze_text(row)
            row.busy_until_column = column + hold_columns if row.task in busy_exits else -1
        self.relayout(new_live, exited + self.snow)
        self._busy_snow_until = self._next_busy_snow_until()

    def _next_busy_snow_until(self) -> int:
        column = self._column
        return min((row.busy_until_column for row in self.snow if row.busy_until_column > column), default=-1)

    def _new_row(self, task: Task, *, preexisting: bool) -> Row:
        if not preexisting and task.stat is not None and 0 < task.stat.start_ticks < self._monitor_start_ticks:
            preexisting = True  # found late, but it was running before monitoring began
        height = self._theme.row_px if task.is_thread else self.process_px
        return Row(task, height, preexisting=preexisting)

    def set_lanes(self, on: bool) -> None:
        """Show or hide the IO and RSS lanes; rows keep their CPU history, lanes start blank."""
        if on == self.lanes:
            return
        self.lanes = on
        height = self.process_px
        for row in self.live:
            if not row.is_thread:
                row.height_px = height
                row.cells = None
        self._walked_root = None  # tree lines depend on slot heights
        self._structure_version = None
        self.relayout(self.live, self.snow)

    def discard_snowflakes(self) -> bool:
        """Forget the exited tasks; their rows become blank padding.  False if there were none."""
        if not self.snow and not self.fallen:
            return False
        self.relayout(self.live, [])
        self.fallen = 0
        return True

    def exited_not_shown(self) -> int:
        """Snowflakes not in view: fallen off, or below the visible height (the chart was made shorter)."""
        snow, visible_px = self.snow, self.visible_px
        below = sum(row.y_px >= visible_px for row in snow) if snow and snow[-1].y_px >= visible_px else 0
        return self.fallen + below

    def row_of(self, task: Task) -> Row | None:
        """``task``'s live row or snowflake."""
        for row in self.live:
            if row.task is task:
                return row
        for row in self.snow:
            if row.task is task:
                return row
        return None

    def relayout(self, live: list[Row], snow: list[Row]) -> None:
        """Place rows top to bottom; move the pixels of every row that moved."""
        height_px = self.layers.height_px
        row_px = self._theme.row_px
        first = height_px
        segments: list[Segment] = []
        old_rows = {id(r): r for r in self.live}
        old_rows.update((id(r), r) for r in self.snow)
        y = HEADER_ROWS * row_px
        for row in live:
            first = self._place(row, y, segments, first)
            old_rows.pop(id(row), None)
            y += row.height_px
        separator_y = -1
        if snow:
            separator_y = y
            segments.append((y, row_px, None))
            y += row_px
        if separator_y != self.separator_y:
            first = min(first, *(v for v in (separator_y, self.separator_y) if v >= 0))
        kept_snow: list[Row] = []
        column = self._column
        stays = fit_snow(snow, y, min(self.visible_px, height_px), height_px, lambda r: r.busy_until_column > column)
        for row, stay in zip(snow, stays, strict=True):
            old_rows.pop(id(row), None)
            if not stay:
                # Fell off the bottom (or gave way to a busy one below): forgotten, and counted.
                self.fallen += 1
                if row.y_px >= 0:
                    first = min(first, row.y_px)
                continue
            first = self._place(row, y, segments, first)
            kept_snow.append(row)
            y += row.height_px
        for gone in old_rows.values():  # discarded rows: their place becomes blank
            if 0 <= gone.y_px < first:
                first = gone.y_px
        if y != self.used_px:
            first = min(first, y, self.used_px)
        self._rows_tasks = {row.task for row in live}
        self._set_shown(self._rows_tasks if self._watched else set())
        self.live, self.snow = live, kept_snow
        self.separator_y = separator_y
        self.used_px = y
        if first < height_px:
            self.layers.relayout(first, segments)
            self.bands_changed = True

    def _set_shown(self, tasks: set[Task]) -> None:
        for task in tasks - self._shown:
            task.shown += 1
        for task in self._shown - tasks:
            task.shown -= 1
        self._shown = tasks

    def release_shown(self) -> None:
        """The chart stops showing its rows (it is detached from the engine)."""
        self._rows_tasks = set()
        self._set_shown(set())

    def set_seen(self, seen: bool) -> None:
        """Whether anybody sees the chart: a hidden chart's rows are not counted as shown, so the engine reads
        no wait channel for them; they are counted again (and read from the next sample on) once it is seen."""
        self._watched = seen
        self._set_shown(self._rows_tasks if seen else set())

    def _place(self, row: Row, y: int, segments: list[Segment], first: int) -> int:
        old_y = row.y_px
        src = old_y if old_y >= 0 else None
        kept_px = min(row.height_px, row.placed_px) if src is not None else row.height_px
        segments.append((y, kept_px, src))
        if kept_px < row.height_px:  # grown in place (lanes shown): the new part starts blank
            segments.append((y + kept_px, row.height_px - kept_px, None))
            first = min(first, y + kept_px)
        elif row.height_px < row.placed_px:
            first = min(first, y + row.height_px)
        row.placed_px = row.height_px
        if old_y != y:
            first = min(first, y, old_y) if old_y >= 0 else min(first, y)
            bottom_px = self.layers.height_px
            if old_y < 0 or old_y + row.height_px > bottom_px or y + row.height_px > bottom_px:
                # Its text was not (wholly) drawn where it comes from, or the bottom edge now cuts it (the shadow
                # of its last line depends on the text below it, which the edge cuts off): drawn again.
                row.cells = None
            row.y_px = y
        return first

    def bands(self) -> list[tuple[int, int, bool]]:
        """``(y, height, odd)`` of every row for the background, header rows included."""
        row_px = self._theme.row_px
        bands = [(i * row_px, row_px, i % 2 == 1) for i in range(HEADER_ROWS)]
        bands += [(row.y_px, row.height_px, (HEADER_ROWS + i) % 2 == 1) for i, row in enumerate(self.live)]
        if self.separator_y >= 0:
            bands.append((self.separator_y, row_px, False))
        bands += [(row.y_px, row.height_px, i % 2 == 0) for i, row in enumerate(self.snow)]
        return bands
