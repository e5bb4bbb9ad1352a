"""A chart of one process tree: rows, snowflakes, per-sample drawing and composing.

A chart is driven once per sample with the root task of the tree (``update``), normally from the engine's
per-process callback, which runs after the whole subtree was sampled.  Each sample:

1. the layout brings its rows up to date (see ``layout``): the tasks to show get a row, exited ones become
   snowflakes, and rows that moved take their pixels along;
2. the graph writer writes one 1 px column per covered interval at the ring's phase (bars for every row, markers
   for rows that started or exited).

Text is not drawn per sample (vwm's deferred maintenance, made exact): composing first brings the text layer up
to date, drawing only the cells whose content differs from what that layer holds.  Rows that moved took their
text along in step 1, so a chart updated many times between two compositions draws its text once, and one that
is never composed draws none.  A row's User, Sys and Wall are drawn at most every ``Theme.numbers_refresh_s``
of sample time.

Composing paints background, graphs (read from the phase, wrapping) and the shadowed text onto any cairo
context or image surface.  Layout of a slot: by default every task is one 15 px row, as in vwm; with ``lanes`` on,
a process is its row plus an IO lane and an RSS lane below it (heights from the theme; see ``Theme``).
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from vwm_overlay.vmon.records import SysStat, Task

from ..schedule import SampleTiming, Schedule
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
from .columns import HEADINGS, Col
from .graphpass import GraphWriter
from .header import lanes_legends
from .layers import Layers
from .layout import Layout
from .rows import Cell
from .shape import ShapeBand
from .textpass import Frame, TextLayer
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


class Chart:
    """vwm's chart of a process tree, drawn incrementally into ring-buffer layers.

    Assembled from parts with one job each: a :class:`~.layout.Layout` (which rows, where), a
    :class:`~.graphpass.GraphWriter` (the columns of each sample) and a :class:`~.textpass.TextLayer` (the text),
    all drawing into one :class:`~.layers.Layers`; per-sample figures are the engine's ``task.delta``.
    """

    def __init__(
        self,
        width: int,
        height: int,
        *,
        name: str | None = None,
        theme: Theme | None = None,
        markers_every: int = 0,
        hertz: float = 10.0,
        lanes: bool = False,
        scale: float = 1.0,
    ) -> None:
        """A chart ``width`` x ``height`` px; ``scale`` multiplies every size of the theme (rows, text, gaps)."""
        self.theme = theme = (theme if theme is not None else Theme()).scaled(scale)
        self._name = name
        self.markers_every = max(markers_every, 0)
        self._width_px = width
        self._height_px = height
        self._layers = Layers(max(width, MIN_WIDTH_PX), max(height, MIN_HEIGHT_PX))
        self._graph = GraphWriter(theme)
        #: The lanes' legend, whole then shorter (the scales are fixed).
        self._legends = lanes_legends(self._graph.io_scale, self._graph.rss_scale)
        self._text = TextLayer(theme, self._layers)
        self._layout = Layout(theme, self._layers, self._text.snow_texts, lanes=lanes)
        self._graph_source = new_surface_pattern(self._layers.graph)
        self._graph_source.set_extend(EXTEND_REPEAT)
        self._hertz_label = int(hertz + 0.5)
        self._generation: int | None = None
        self._background_paint = _PAINT_OVER
        self._text_stale = True  # something may show different text than the text layer holds
        self._header_stale = False  # only the heading may (a new name or rate): the rows need no look
        self._sample_s = 0.0  # sample time: the sum of the samples' elapsed_s
        self._source: SampleSource | None = None
        self._root: Task | None = None
        self._schedule: Schedule | None = None
        #: Samples drawn so far.
        self.samples = 0

    # -- driving

    def attach(self, source: SampleSource, pid: int, schedule: Schedule | None = None) -> Task:
        """Monitor ``pid`` and update this chart from its per-process callback after each sample.

        With a ``schedule``, each update uses its latest timing and shows its rate in the heading.
        """
        self._schedule = schedule
        task = source.monitor(pid, callback=self._on_sample, arg=None)
        self._source, self._root = source, task
        return task

    def set_seen(self, seen: bool) -> None:
        """Whether anybody sees this chart (an overlay shown or hidden): the engine keeps the state and wait
        channel of a seen chart's rows fresh every sample, and reads no wait channel for a hidden chart's."""
        self._layout.set_seen(seen)

    def detach(self) -> None:
        self._layout.release_shown()
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
        ticks_per_s = max(ticks_per_s, 1)
        boottime_ticks = sys.boottime_ticks if sys is not None else 0
        self._text.set_clock(ticks_per_s, boottime_ticks)
        layout = self._layout
        layout.update(root, structure_version, self._sample_s, boottime_ticks, self._height_px, timing.columns)
        self._graph.draw(
            self._layers,
            layout.live,
            layout.snow,
            sys,
            timing,
            num_cpus=num_cpus,
            ticks_per_s=ticks_per_s,
            hertz=self._hertz_label,
        )
        self.samples += 1

    def discard_snowflakes(self) -> None:
        """Forget the exited tasks; their rows become blank padding."""
        if self._layout.discard_snowflakes():
            self._text_stale = True

    def sync_layers(self, *, exact: bool = False) -> None:
        """Bring the text layer (and the background) up to date with the latest sample.

        Composing does this first; call it before reading the text layer, row cells or column extents directly.
        ``exact`` draws every number of the latest sample, even one held back (see ``Theme.numbers_refresh_s``):
        a snapshot shows the numbers of its own sample.
        """
        text = self._text
        layout = self._layout
        whole = self._text_stale or (exact and text.numbers_held)
        if whole or self._header_stale:
            frame = Frame(
                name=self._name,
                hertz=self._hertz_label,
                width_px=self._width_px,
                height_px=min(self._height_px, self._layers.height_px),
                sample_s=self._sample_s,
                legends=self._legends if layout.lanes else (),
                hidden=layout.hidden,
                hidden_exited=layout.exited_not_shown(),
            )
            if whole:
                text.paint(layout.live, layout.snow, frame, exact=exact)
            else:
                text.paint_header(frame)
            self._text_stale = self._header_stale = False
        if layout.bands_changed:
            self._rebuild_background()

    def _rebuild_background(self) -> None:
        layers = self._layers
        paint = _background_paint(self.theme, self.markers_every)
        if paint == _PAINT_NONE:
            # Every pixel of it would be transparent, wherever the rows are (an overlay's theme): nothing to build
            # each time rows move.
            layers.clear_background()
        else:
            bands = self._layout.bands()
            layers.set_background(
                build_background(self.theme, layers.width_px, layers.height_px, bands, self.markers_every)
            )
        self._layout.bands_changed = False
        self._background_paint = paint

    # -- settings

    @property
    def background_shown(self) -> bool:
        """Whether :meth:`compose` paints a background under the graphs (off for a theme with none)."""
        return self._background_paint != _PAINT_NONE

    @property
    def lanes(self) -> bool:
        """Whether every process has an IO lane and an RSS lane under its row (off: one row per task, as vwm)."""
        return self._layout.lanes

    def set_lanes(self, on: bool) -> None:
        """Show or hide the IO and RSS lanes; rows keep their CPU history, lanes start blank."""
        if on != self._layout.lanes:
            self._layout.set_lanes(on)
            self._text.forget()
            self._text_stale = True

    @property
    def name(self) -> str | None:
        """What the heading names (a window's title, a command); change it with :meth:`set_name`."""
        return self._name

    def set_name(self, name: str | None) -> None:
        """Name something else in the heading: only the heading's characters that change are drawn again."""
        if name != self._name:
            self._name = name
            self._header_stale = True

    def set_hertz(self, hertz: float) -> None:
        """The rate shown in the heading (0: paused)."""
        label = int(hertz + 0.5)
        if label != self._hertz_label:
            self._hertz_label = label
            self._header_stale = True

    def set_markers(self, every: int) -> None:
        """Yellow marks on the dividers every ``every`` columns (0: none)."""
        self.markers_every = max(every, 0)
        self._layout.bands_changed = True

    def resize(self, width: int, height: int) -> None:
        """Change the visible size; layers grow (keeping history) but never shrink.

        Relayout happens now; text is drawn again, all of it, at the next composition.
        """
        self._width_px, self._height_px = width, height
        layers = self._layers
        layout = self._layout
        layout.visible_px = height
        if width > layers.width_px or height > layers.height_px:
            self._layers = layers = layout.layers = layers.grown(width, height)
            self._text.set_layers(layers)
            self._graph_source = new_surface_pattern(layers.graph)
            self._graph_source.set_extend(EXTEND_REPEAT)
        for row in layout.live + layout.snow:
            row.cells = None
        self._text.forget()
        layout.used_px = min(layout.used_px, layers.height_px)
        layout.relayout(layout.live, layout.snow)
        layout.bands_changed = True
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
        return min(self._layout.used_px, self._height_px, self._layers.height_px)

    @property
    def snowflake_count(self) -> int:
        return len(self._layout.snow)

    def column_extents(self) -> dict[str, tuple[int, int]]:
        """``[x0, x1)`` in px of each live-row column by heading (the tree column as ``""``)."""
        self.sync_layers()
        columns = self._text.live_columns
        return {HEADINGS[col]: (x0, x1) for col, (x0, x1, _) in enumerate(columns.extents)}

    @property
    def layers(self) -> Layers:
        """The pixel stores, as they are: the text layer is brought up to date by :meth:`sync_layers`."""
        return self._layers

    def row_y(self, task: Task) -> int | None:
        """Top of ``task``'s live row or snowflake, in px; None if it has none."""
        row = self._layout.row_of(task)
        return row.y_px if row is not None else None

    @property
    def hidden_count(self) -> int:
        """Live tasks with no row: the tree is taller than the chart (collapsed runs count as shown)."""
        return self._layout.hidden

    @property
    def hidden_exited_count(self) -> int:
        """Exited tasks not in view: their snowflakes fell off the bottom (since the last discard) or are below
        the visible height."""
        return self._layout.exited_not_shown()

    def row_label(self, task: Task) -> str | None:
        """The ArgV text of ``task``'s live row as drawn (``sleep 6 x14`` for a collapsed run); None if it has none."""
        cells = self.row_cells(task)
        text = cells[Col.ARGV][3] if cells is not None else None
        return text if isinstance(text, str) else None

    def row_cells(self, task: Task) -> list[Cell] | None:
        """The text cells of ``task``'s live row as drawn (Row, User, Sys, Wall, tree, ArgV, WChan, PID, State)."""
        self.sync_layers()
        for row in self._layout.live:
            if row.task is task:
                return row.cells
        return None

    def header_texts(self) -> list[str]:
        """The texts of the three header rows as drawn, the cells of a row joined by spaces."""
        self.sync_layers()
        return [
            " ".join(c[3] for c in cells if isinstance(c[3], str) and c[3]) if cells else ""
            for cells in self._text.header_cells
        ]

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
        self.sync_layers(exact=True)
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
        header = self._text.header_cells
        bands = [ShapeBand(("header", i), i * row_px, row_px, cells) for i, cells in enumerate(header)]
        bands += [ShapeBand(row, row.y_px, row.height_px, row.cells) for row in self._layout.live]
        bands += [ShapeBand(row, row.y_px, row.height_px, row.cells) for row in self._layout.snow]
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
