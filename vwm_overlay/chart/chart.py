"""A chart of one process tree: rows, snowflakes, per-sample drawing and composing.

A chart is driven once per sample with the root task of the tree (``update``), normally from the engine's
per-process callback, which runs after the whole subtree was sampled.  Each sample:

1. the tree is walked into rows; new tasks get a row, exited ones move below a blank row as snowflakes (newest
   first), and every row that moved takes its pixels along (one block copy per layer), so history stays with its
   task and what no row covers any more is blanked (padding is restored when the tree shrinks);
2. one 1 px column per covered interval is written at the ring's phase (bars for every row, markers for rows
   that started or exited).

Text is not drawn per sample (vwm's deferred maintenance, made exact): composing first brings the text layer up
to date, drawing only the cells whose content differs from what that layer holds.  Rows that moved took their
text along in step 1, so a chart updated many times between two compositions draws its text once, and one that
is never composed draws none.  A row's User, Sys and Wall are drawn at most every ``Theme.numbers_refresh_s``
of sample time.

Composing paints background, graphs (read from the phase, wrapping) and the shadowed text onto any cairo
context or image surface.  Layout of a slot: a thread is one 15 px row; a process is its row plus an IO lane and
an RSS lane below it (heights from the theme; see ``Theme``).
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from vwm_overlay.vmon.records import SysStat, Task

from .background import build_background
from .cairo_types import (
    EXTEND_REPEAT,
    FORMAT_ARGB32,
    OPERATOR_SOURCE,
    Context,
    ImageSurface,
    is_context,
    new_context,
    new_image,
    new_surface_pattern,
    set_pattern_offset,
)
from .columns import HEADINGS, LiveColumns, SnowColumns
from .graphpass import GraphPass
from .header import HEADER_ROWS, SysDeltas
from .layers import Layers, Segment
from .patterns import Patterns
from .rows import Cell, Row, walk_tree
from .scale import LogScale
from .schedule import SampleTiming, Schedule
from .shape import ShapeBand
from .text import TextPainter
from .textpass import TextPass
from .theme import Theme

__all__ = ["MIN_HEIGHT_PX", "MIN_WIDTH_PX", "Chart", "SampleSource"]

#: Smallest allocation, as vwm's (layers only ever grow).
MIN_WIDTH_PX = 200
MIN_HEIGHT_PX = 60

#: How compose paints the background layer (see :func:`_background_paint`).
_PAINT_NONE, _PAINT_SOURCE, _PAINT_OVER = 0, 1, 2


class SampleSource(Protocol):
    """What :meth:`Chart.attach` needs of the engine (``vwm_overlay.vmon.Vmon``)."""

    generation: int
    structure_changes: int
    sys_stat: SysStat | None
    ticks_per_s: int
    num_cpus: int
    page_size: int

    def monitor(self, pid: int, wants: Any = ..., callback: Any = ..., arg: Any = ...) -> Task: ...
    def unmonitor(self, task: Task, callback: Any = ..., arg: Any = ...) -> None: ...


class Chart(GraphPass, TextPass):
    """vwm's chart of a process tree, drawn incrementally into ring-buffer layers."""

    def __init__(
        self,
        width: int,
        height: int,
        *,
        name: str | None = None,
        theme: Theme | None = None,
        markers_every: int = 0,
        hertz: float = 10.0,
    ) -> None:
        self.theme = theme if theme is not None else Theme()
        self.name = name
        self.markers_every = max(markers_every, 0)
        self._width_px = width
        self._height_px = height
        self._layers = Layers(max(width, MIN_WIDTH_PX), max(height, MIN_HEIGHT_PX))
        self._patterns = Patterns(self.theme)
        self._text = TextPainter(self._layers, self.theme)
        self._graph_source = new_surface_pattern(self._layers.graph)
        self._graph_source.set_extend(EXTEND_REPEAT)
        self._live_columns = LiveColumns(self.theme, self._text.advance_px)
        self._snow_columns = SnowColumns(self.theme, self._text.advance_px)
        self._io_scale = LogScale(self.theme.io_base_bytes_per_s, self.theme.io_factor, self.theme.io_lane_px - 1)
        self._rss_scale = LogScale(self.theme.rss_base_bytes, self.theme.rss_factor, self.theme.rss_lane_px - 1)
        self._sys = SysDeltas()
        self._rows: dict[Task, Row] = {}
        self._live: list[Row] = []
        self._snow: list[Row] = []
        self._separator_y = -1
        self._used_px = HEADER_ROWS * self.theme.row_px
        self._header_cells: list[list[Cell] | None] = [None] * HEADER_ROWS
        self._hertz_label = int(hertz + 0.5)
        self._generation: int | None = None
        self._structure_version: int | None = None
        self._walked_root: Task | None = None
        self._monitor_start_ticks = -1  # boot-time ticks of the first sample; -1 before it
        self._ticks_per_s = 100
        self._boottime_ticks = 0
        self._background_stale = True
        self._background_paint = _PAINT_OVER
        self._text_stale = True  # something may show different text than the text layer holds
        self._live_layout = 0  # bumped whenever the live columns move (see ``Row.text_key``)
        self._snow_layout = 0
        self._sample_s = 0.0  # sample time: the sum of the samples' elapsed_s
        self._source: SampleSource | None = None
        self._root: Task | None = None
        self._schedule: Schedule | None = None
        #: Samples drawn so far.
        self.samples = 0
        #: The tasks whose rows are within the visible height: counted in their ``shown``.
        self._shown: set[Task] = set()

    # -- driving

    def attach(self, source: SampleSource, pid: int, schedule: Schedule | None = None) -> Task:
        """Monitor ``pid`` and update this chart from its per-process callback after each sample.

        With a ``schedule``, each update uses its latest timing and shows its rate in the heading.
        """
        self._schedule = schedule
        task = source.monitor(pid, callback=self._on_sample, arg=None)
        self._source, self._root = source, task
        return task

    def detach(self) -> None:
        self._set_shown(set())
        if self._source is not None and self._root is not None:
            self._source.unmonitor(self._root, callback=self._on_sample, arg=None)
        self._source = self._root = None

    def _on_sample(self, source: SampleSource, task: Task, arg: object) -> None:
        timing = None
        if self._schedule is not None:
            timing = self._schedule.last_timing
            self.set_hertz(self._schedule.display_hertz)
        self.update(
            task,
            source.sys_stat,
            source.generation,
            timing,
            structure_version=source.structure_changes,
            ticks_per_s=source.ticks_per_s,
            num_cpus=source.num_cpus,
            page_size=source.page_size,
        )

    def update(
        self,
        root: Task,
        sys: SysStat | None,
        generation: int,
        timing: SampleTiming | None = None,
        *,
        structure_version: int | None = None,
        ticks_per_s: int = 100,
        num_cpus: int = 1,
        page_size: int = 4096,
    ) -> None:
        """Draw the sample ``generation`` of the tree under ``root`` (once per generation).

        ``structure_version`` (the engine's ``structure_changes``) lets the chart
        skip walking the tree while no task appeared, exited or moved.
        """
        if generation == self._generation:
            return
        self._generation = generation
        if timing is None:
            timing = SampleTiming(1, 0.0, 1.0 / max(self._hertz_label, 1))
        self._sample_s += timing.elapsed_s if timing.elapsed_s > 0 else 1.0 / max(self._hertz_label, 1)
        self._text_stale = True
        theme = self.theme
        self._ticks_per_s = max(ticks_per_s, 1)
        self._boottime_ticks = sys.boottime_ticks if sys is not None else 0
        first = self._monitor_start_ticks < 0
        if first:
            self._monitor_start_ticks = self._boottime_ticks

        if structure_version is not None and structure_version == self._structure_version and root is self._walked_root:
            self._draw_columns(sys, timing, num_cpus, page_size)
            self.samples += 1
            return
        self._structure_version = structure_version
        self._walked_root = root
        placed, stale = walk_tree(root, theme.tree_indent_px, theme.row_px, theme.process_slot_px)
        new_live: list[Row] = []
        for task, depth, tree in placed:
            row = self._rows.get(task)
            if row is None:
                row = self._rows[task] = self._new_row(task, preexisting=first)
            row.depth = depth
            row.tree = tree
            new_live.append(row)
        structure_changed = len(new_live) != len(self._live) or any(
            a is not b for a, b in zip(new_live, self._live, strict=False)
        )
        exited: list[Row] = []
        if structure_changed or stale:
            kept = {id(row) for row in new_live}
            exited = [row for row in self._live if id(row) not in kept]
            for task in stale:
                row = self._rows.get(task)
                if row is None:  # came and went between two samples: still worth a snowflake
                    row = self._new_row(task, preexisting=False)
                    exited.append(row)
            exited.sort(key=lambda r: (r.y_px < 0, r.y_px))
            for row in exited:
                self._rows.pop(row.task, None)
                row.finish_pending = True
                row.snow_texts = self._snow_texts(row)
            self._relayout(new_live, exited + self._snow)

        self._draw_columns(sys, timing, num_cpus, page_size)
        self.samples += 1

    # -- structure

    def _new_row(self, task: Task, *, preexisting: bool) -> Row:
        if not preexisting and task.stat is not None and 0 < task.stat.start_ticks < self._monitor_start_ticks:
            preexisting = True  # found late, but it was running before monitoring began
        height = self.theme.row_px if task.is_thread else self.theme.process_slot_px
        return Row(task, height, preexisting=preexisting)

    def _relayout(self, live: list[Row], snow: list[Row]) -> None:
        """Place rows top to bottom; move the pixels of every row that moved."""
        height_px = self._layers.height_px
        row_px = self.theme.row_px
        first = height_px
        segments: list[Segment] = []
        old_rows = {id(r): r for r in self._live}
        old_rows.update((id(r), r) for r in self._snow)
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
        if separator_y != self._separator_y:
            first = min(first, *(v for v in (separator_y, self._separator_y) if v >= 0))
        kept_snow: list[Row] = []
        for row in snow:
            old_rows.pop(id(row), None)
            if y >= height_px:
                # Fell off the bottom: forgotten.
                if row.y_px >= 0:
                    first = min(first, row.y_px)
                continue
            first = self._place(row, y, segments, first)
            kept_snow.append(row)
            y += row.height_px
        for gone in old_rows.values():  # discarded rows: their place becomes blank
            if 0 <= gone.y_px < first:
                first = gone.y_px
        if y != self._used_px:
            first = min(first, y, self._used_px)
        self._live, self._snow = live, kept_snow
        self._set_shown({row.task for row in live if row.y_px < height_px})
        self._separator_y = separator_y
        self._used_px = y
        if first < height_px:
            self._layers.relayout(first, segments)
            self._background_stale = True

    def _set_shown(self, tasks: set[Task]) -> None:
        """Tell the engine which tasks this chart shows: it reads their wait channel every sample, no other's."""
        for task in tasks - self._shown:
            task.shown += 1
        for task in self._shown - tasks:
            task.shown -= 1
        self._shown = tasks

    def _place(self, row: Row, y: int, segments: list[Segment], first: int) -> int:
        old_y = row.y_px
        src = old_y if old_y >= 0 else None
        segments.append((y, row.height_px, src))
        if old_y != y:
            first = min(first, y, old_y) if old_y >= 0 else min(first, y)
            if old_y < 0 or old_y + row.height_px > self._layers.height_px:
                row.cells = None  # its text was not (wholly) drawn where it comes from
            row.y_px = y
        return first

    def discard_snowflakes(self) -> None:
        """Forget the exited tasks; their rows become blank padding."""
        if self._snow:
            self._relayout(self._live, [])
            self._text_stale = True

    def sync_layers(self) -> None:
        """Bring the text layer (and the background) up to date with the latest sample.

        Composing does this first; call it before reading the text layer, row cells or column extents directly.
        """
        if self._text_stale:
            self._paint_text()
        if self._background_stale:
            self._rebuild_background()

    def _rebuild_background(self) -> None:
        row_px = self.theme.row_px
        bands = [(i * row_px, row_px, i % 2 == 1) for i in range(HEADER_ROWS)]
        bands += [(row.y_px, row.height_px, (HEADER_ROWS + i) % 2 == 1) for i, row in enumerate(self._live)]
        if self._separator_y >= 0:
            bands.append((self._separator_y, row_px, False))
        bands += [(row.y_px, row.height_px, i % 2 == 0) for i, row in enumerate(self._snow)]
        layers = self._layers
        layers.set_background(
            build_background(self.theme, layers.width_px, layers.height_px, bands, self.markers_every)
        )
        self._background_stale = False
        self._background_paint = _background_paint(self.theme, self.markers_every)

    # -- settings

    def set_hertz(self, hertz: float) -> None:
        """The rate shown in the heading (0: paused)."""
        label = int(hertz + 0.5)
        if label != self._hertz_label:
            self._hertz_label = label
            self._text_stale = True

    def set_markers(self, every: int) -> None:
        """Yellow marks on the dividers every ``every`` columns (0: none)."""
        self.markers_every = max(every, 0)
        self._background_stale = True

    def resize(self, width: int, height: int) -> None:
        """Change the visible size; layers grow (keeping history) but never shrink.

        Relayout happens now; text is drawn again, all of it, at the next composition.
        """
        self._width_px, self._height_px = width, height
        layers = self._layers
        if width > layers.width_px or height > layers.height_px:
            self._layers = layers = layers.grown(width, height)
            self._text = TextPainter(layers, self.theme)
            self._graph_source = new_surface_pattern(layers.graph)
            self._graph_source.set_extend(EXTEND_REPEAT)
            for row in self._live + self._snow:
                if row.y_px + row.height_px > layers.height_px or row.cells is None:
                    row.cells = None
        for row in self._live + self._snow:
            row.cells = None
        self._header_cells = [None] * HEADER_ROWS
        self._used_px = min(self._used_px, layers.height_px)
        self._relayout(self._live, self._snow)
        self._background_stale = True
        layers.clear_text_rows(0, layers.height_px)
        self._text_stale = True

    # -- output

    @property
    def width(self) -> int:
        return self._width_px

    @property
    def height(self) -> int:
        return self._height_px

    @property
    def composed_height(self) -> int:
        """Pixels from the top that hold rows (header, tasks, snowflakes), at most the visible height."""
        return min(self._used_px, self._height_px, self._layers.height_px)

    @property
    def snowflake_count(self) -> int:
        return len(self._snow)

    def column_extents(self) -> dict[str, tuple[int, int]]:
        """``[x0, x1)`` in px of each live-row column by heading (the tree column as ``""``)."""
        self.sync_layers()
        columns = self._live_columns
        return {HEADINGS[col]: (x0, x1) for col, (x0, x1, _) in enumerate(columns.extents)}

    @property
    def layers(self) -> Layers:
        """The pixel stores, as they are: the text layer is brought up to date by :meth:`sync_layers`."""
        return self._layers

    def row_y(self, task: Task) -> int | None:
        """Top of ``task``'s live row or snowflake, in px; None if it has none."""
        for row in self._live:
            if row.task is task:
                return row.y_px
        for row in self._snow:
            if row.task is task:
                return row.y_px
        return None

    def compose(self, target: Context | ImageSurface, x: int = 0, y: int = 0) -> None:
        """Paint the composed rows (background, graphs from the phase, shadowed text) at (``x``, ``y``)."""
        self.sync_layers()
        ctx = cast(Context, target) if is_context(target) else new_context(cast(ImageSurface, target))
        height = self.composed_height
        width = min(self._width_px, self._layers.width_px)
        ctx.save()
        ctx.translate(x, y)
        ctx.rectangle(0, 0, width, height)
        ctx.clip()
        if self._background_paint != _PAINT_NONE:
            ctx.save()
            if self._background_paint == _PAINT_SOURCE:
                ctx.set_operator(OPERATOR_SOURCE)  # opaque everywhere: a copy gives the same pixels, faster
            ctx.set_source_surface(self._layers.background, 0, 0)
            ctx.paint()
            ctx.restore()
        set_pattern_offset(self._graph_source, self._layers.phase, 0)
        ctx.set_source(self._graph_source)
        ctx.paint()
        ctx.set_source_surface(self._layers.overlay, 0, 0)
        ctx.paint()
        ctx.restore()

    def to_surface(self) -> ImageSurface:
        """A new opaque image of the visible size with the chart composed on it."""
        width, height = max(self._width_px, 1), max(self._height_px, 1)
        surface = new_image(FORMAT_ARGB32, width, height)
        ctx = new_context(surface)
        self.sync_layers()
        ctx.set_source_rgba(*self.theme.background[:3], 1.0)
        if self._background_paint == _PAINT_SOURCE:
            # The composed rows cover their part opaquely: only what is below them needs the plain colour.
            ctx.rectangle(0, self.composed_height, width, height)
            ctx.fill()
        else:
            ctx.paint()
        self.compose(ctx)
        surface.flush()
        return surface

    def write_png(self, path: str) -> None:
        """Compose on an opaque background and write a PNG of the visible size to ``path``."""
        self.to_surface().write_to_png(path)

    # -- the drawn region (for a window cut to the chart without a compositor; see ``shape``)

    def shape_bands(self) -> list[ShapeBand]:
        """Every row that can hold drawn pixels with its text cells as last drawn, top to bottom."""
        row_px = self.theme.row_px
        bands = [ShapeBand(("header", i), i * row_px, row_px, cells) for i, cells in enumerate(self._header_cells)]
        bands += [ShapeBand(row, row.y_px, row.height_px, row.cells) for row in self._live]
        bands += [ShapeBand(row, row.y_px, row.height_px, row.cells) for row in self._snow]
        return bands

    @property
    def advance_px(self) -> float:
        """Width of one character of the chart's monospace font."""
        return self._text.advance_px

    def graph_columns(self, count: int) -> list[bytes]:
        """The newest ``count`` graph columns (at most the layers' width), oldest first, each ``4 * height`` bytes."""
        layers = self._layers
        graph = layers.graph
        graph.flush()
        pixels = memoryview(graph.get_data()).cast("I")
        step, width, phase = layers.argb_stride // 4, layers.width_px, layers.phase
        return [pixels[(phase + age) % width :: step].tobytes() for age in range(min(count, width) - 1, -1, -1)]


def _background_paint(theme: Theme, markers_every: int) -> int:
    """How compose paints the background layer: not at all (transparent), as a copy (opaque), or over."""
    alphas = {theme.background[3], theme.background_odd[3], theme.divider[3]}
    if markers_every > 0:
        alphas.add(theme.marker[3])
    if alphas == {0.0}:
        return _PAINT_NONE
    if alphas == {1.0}:
        return _PAINT_SOURCE
    return _PAINT_OVER
