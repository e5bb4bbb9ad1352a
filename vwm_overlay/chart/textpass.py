"""The text layer of a chart: brings the text layer up to date with the latest sample, cell by cell.

Only visible rows whose text may differ from what the layer holds are looked at; a row's User, Sys and Wall are
held for ``Theme.numbers_refresh_s`` of sample time.  Columns widen to fit what they show, and when they move
every row is compared again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .columns import HEADINGS, Align, Col, LiveColumns, SnowColumns
from .header import HEADER_ROWS, heading_text, hidden_text
from .layers import Layers
from .rows import Cell, Row, argv_text, live_texts
from .text import TextPainter
from .theme import Theme

__all__ = ["Frame", "TextLayer"]

#: Live-row columns whose width follows their content, in the order of :func:`_fitted`.
_FITTED_COLUMNS = (Col.ROW, Col.USER, Col.SYS, Col.WALL, Col.WCHAN, Col.PID, Col.STATE)
#: Live-row cells held back between two drawings of a row's numbers (see ``Theme.numbers_refresh_s``).
_NUMBER_COLUMNS = (Col.USER, Col.SYS, Col.WALL)
#: Sample time is a sum of float intervals: this close to the refresh period counts as reaching it.
_SAMPLE_TIME_SLACK_S = 1e-6


@dataclass(slots=True)
class Frame:
    """What a chart's text shows besides its rows."""

    name: str | None
    hertz: int
    width_px: int
    height_px: int
    #: The chart's sample time (the sum of the samples' ``elapsed_s``).
    sample_s: float
    #: The lanes' scales, whole then shorter ones; empty when the lanes are not shown.
    legends: tuple[str, ...]
    #: Live tasks with no row.
    hidden: int
    #: Exited tasks not in view.
    hidden_exited: int = 0


class TextLayer:
    """The chart's text: cells compared with what the text layer holds, and drawn where they differ."""

    def __init__(self, theme: Theme, layers: Layers) -> None:
        self._theme = theme
        self._painter = TextPainter(layers, theme)
        self.live_columns = LiveColumns(theme, self._painter.advance_px)
        self.snow_columns = SnowColumns(theme, self._painter.advance_px)
        #: The header rows' cells as drawn (None: nothing valid in the layer).
        self.header_cells: list[list[Cell] | None] = [None] * HEADER_ROWS
        #: The text layer shows a number older than the latest sample.
        self.numbers_held = False
        self._live_layout = 0  # bumped whenever the live columns move (see ``Row.text_key``)
        self._snow_layout = 0
        self._ticks_per_s = 100
        self._boottime_ticks = 0

    @property
    def advance_px(self) -> float:
        """Width of one character of the monospace font."""
        return self._painter.advance_px

    def set_layers(self, layers: Layers) -> None:
        """Draw into new (grown) layers from now on; every cell is drawn again."""
        self._painter = TextPainter(layers, self._theme)
        self.forget()

    def forget(self) -> None:
        self.header_cells = [None] * HEADER_ROWS

    def set_clock(self, ticks_per_s: int, boottime_ticks: int) -> None:
        """The latest sample's clock, for the Wall column and the CPU times."""
        self._ticks_per_s = ticks_per_s
        self._boottime_ticks = boottime_ticks

    def _live_texts(self, row: Row, index: int) -> tuple[str, ...]:
        stat = row.task.stat
        # The engine replaces argv and comm only when they change, so the
        # (long) ArgV text is rebuilt only then, not every sample.
        key = (stat.comm, stat.argv) if stat is not None else None
        if key != row.argv_key or not row.argv_label:
            row.argv_key = key
            row.argv_label = argv_text(row.task)
        members = row.members
        if not members:
            return live_texts(row.task, index, self._ticks_per_s, self._boottime_ticks, row.argv_label)
        # A collapsed run: its name with the count, and the CPU of all its members.
        texts = live_texts(
            row.task, index, self._ticks_per_s, self._boottime_ticks, f"{row.argv_label} x{len(members)}"
        )
        ticks_per_s = self._ticks_per_s
        user = sum(t.stat.utime_ticks for t in members if t.stat is not None) / ticks_per_s
        sys = sum(t.stat.stime_ticks for t in members if t.stat is not None) / ticks_per_s
        return (texts[0], f"{user:.2f}s", f"{sys:.2f}s", *texts[3:])

    def snow_texts(self, row: Row) -> tuple[str, ...]:
        """The texts of ``row`` as a snowflake: PID, User, Sys, Wall, ArgV, taken when its task exits."""
        _, user, sys, wall, argv, _, _, _ = self._live_texts(row, 0)
        return (str(row.task.pid), user, sys, wall, argv)

    def paint(self, live: list[Row], snow_rows: list[Row], frame: Frame, *, exact: bool = False) -> None:
        """Bring the text layer up to date: the rows, the snowflakes and the header.

        ``exact`` draws every number of the latest sample, even one held back (see ``Theme.numbers_refresh_s``).
        """
        self.numbers_held = False
        theme = self._theme
        columns = self.live_columns
        snow = self.snow_columns
        width_px = frame.width_px
        height_px = frame.height_px
        now_s = frame.sample_s
        hold_s = -1.0 if exact else theme.numbers_refresh_s - _SAMPLE_TIME_SLACK_S
        while True:
            todo = self._live_to_paint(live, height_px, now_s, hold_s)
            if not columns.place(width_px):
                break
            self._live_layout += 1  # the columns moved: every row's cells are compared again
        for row in snow_rows:
            if row.y_px >= height_px:
                break
            for col, text in zip(SnowColumns.ORDER, row.snow_texts, strict=False):
                snow.fit(col, text)
        if snow.place(width_px):
            self._snow_layout += 1
        ext = columns.extents
        indent = theme.tree_indent_px
        paint = self._painter.paint_row
        for row, key, texts in todo:
            row_ix, user, sys, wall, argv, wchan, pid, state = texts
            argv_x0 = min(columns.tree_x + row.depth * indent, columns.argv_x1)
            cells: list[Cell] = [
                (*ext[Col.ROW], row_ix),
                (*ext[Col.USER], user),
                (*ext[Col.SYS], sys),
                (*ext[Col.WALL], wall),
                (columns.tree_x, argv_x0, Align.LEFT, row.tree),
                (argv_x0, columns.argv_x1, Align.LEFT, argv),
                (*ext[Col.WCHAN], wchan),
                (*ext[Col.PID], pid),
                (*ext[Col.STATE], state),
            ]
            old = row.cells
            if old is None or len(old) != len(cells):
                row.numbers_s = now_s
            else:
                held = now_s - row.numbers_s < hold_s
                fresh = False
                for col in _NUMBER_COLUMNS:
                    before = old[col]
                    if before[3] != cells[col][3]:
                        if held and before[:3] == cells[col][:3]:
                            cells[col] = before  # drawn a moment ago: stays as it is
                            self.numbers_held = True
                        else:
                            fresh = True
                if fresh:
                    row.numbers_s = now_s
            paint(row.y_px, row.height_px, cells, old, snow=False)
            # Kept even for a row cut by the bottom edge: its clipped text stays valid while it stays put, and a
            # move from a place the layer did not wholly hold forgets it (see ``_place``).
            row.cells = cells
            row.text_key = key
        snow_key = ("snow", self._snow_layout)
        for row in snow_rows:
            if row.y_px >= height_px:
                break
            if row.cells is not None and row.text_key == snow_key:
                continue
            cells = [(*snow.extents[col], text) for col, text in zip(SnowColumns.ORDER, row.snow_texts, strict=False)]
            paint(row.y_px, row.height_px, cells, row.cells, snow=True)
            row.cells = cells
            row.text_key = snow_key
        self._paint_header(frame)
        self._painter.mend_seams(snow_rows[0].y_px if snow_rows else height_px)
        self._painter.flush()

    def paint_header(self, frame: Frame) -> None:
        """Bring only the header rows up to date (the heading's name or rate changed; the rows did not)."""
        self._paint_header(frame)
        self._painter.flush()

    def _live_to_paint(
        self, live: list[Row], height_px: int, now_s: float, hold_s: float
    ) -> list[tuple[Row, tuple[object, ...], tuple[str, ...]]]:
        """The visible live rows whose text may differ from what is drawn, with their texts (columns fitted).

        A row is skipped while its numbers are held and nothing else it shows changed: same Row index, tree,
        name, WChan and State, and columns that did not move since it was drawn.
        """
        columns = self.live_columns
        chars = columns.chars
        layout = self._live_layout
        todo: list[tuple[Row, tuple[object, ...], tuple[str, ...]]] = []
        for index, row in enumerate(live):
            if row.y_px >= height_px:
                break
            task = row.task
            stat = task.stat
            shown = None if stat is None else (stat.comm, stat.argv, stat.wchan, stat.state)
            key = (layout, index, row.depth, row.tree, not task.threads, shown, len(row.members))
            if row.cells is not None and key == row.text_key and now_s - row.numbers_s < hold_s:
                self.numbers_held = True  # its numbers may have changed since they were drawn
                continue
            texts = self._live_texts(row, index)
            for col, text in zip(_FITTED_COLUMNS, _fitted(texts), strict=True):
                if len(text) > chars[col]:
                    columns.fit(col, text)
            todo.append((row, key, texts))
        return todo

    def _paint_header(self, frame: Frame) -> None:
        theme = self._theme
        row_px = theme.row_px
        lead = theme.text_lead_px
        right = max(frame.width_px - lead, lead)
        columns = self.live_columns
        ext = columns.extents
        rows: list[list[Cell]] = [
            [(lead, right, Align.RIGHT, heading_text(frame.name, frame.hertz))],
            self._header_row1(frame, lead, right),
            [
                *((*ext[col], HEADINGS[col]) for col in (Col.ROW, Col.USER, Col.SYS, Col.WALL)),
                (columns.tree_x, columns.argv_x1, Align.LEFT, HEADINGS[Col.ARGV]),
                *((*ext[col], HEADINGS[col]) for col in (Col.WCHAN, Col.PID, Col.STATE)),
            ],
        ]
        for i, cells in enumerate(rows):
            self._painter.paint_row(i * row_px, row_px, cells, self.header_cells[i], snow=False)
            self.header_cells[i] = cells

    def _header_row1(self, frame: Frame, lead: int, right: int) -> list[Cell]:
        """The lanes' legend at the left and the count of tasks not shown at the right, never over each other:
        the count is information, so the legend is shortened, or left out, where they would meet."""
        advance = self._painter.advance_px
        count = hidden_text(frame.hidden, frame.hidden_exited)
        count_x0 = max(right - math.ceil(len(count) * advance), lead) if count else right
        # A gap of two characters between them.
        legend_x1 = max(count_x0 - math.ceil(2 * advance), lead) if count else right
        room = legend_x1 - lead
        legend = next((text for text in frame.legends if len(text) * advance <= room), "")
        return [(lead, legend_x1, Align.LEFT, legend), (count_x0, right, Align.RIGHT, count)]


def _fitted(texts: tuple[str, ...]) -> tuple[str, ...]:
    """The texts of the columns whose width follows their content: Row, User, Sys, Wall, WChan, PID, State."""
    return (texts[0], texts[1], texts[2], texts[3], texts[5], texts[6], texts[7])
