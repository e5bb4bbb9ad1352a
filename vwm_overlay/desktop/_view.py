"""One client window as the overlay program sees it: its chart, always, and its overlay window while shown.

The chart is attached to the shared monitor from the moment the window appears,
so its history is there when the overlay is first shown.  The overlay window is
created on the first show and only unmapped when hidden: a hidden chart costs
no X traffic at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ..chart import Chart, Theme
from ..chart.cairo_types import OPERATOR_OVER, OPERATOR_SOURCE, Context, new_context
from ..chart.shape import ChartShape
from ..errors import TaskGone
from ..schedule import Schedule
from ..vmon import Vmon
from ..vmon.records import Task
from ..x11 import Connection, OverlayWindow, Rect

if TYPE_CHECKING:
    import cairocffi

    from ..chart.cairo_types import ImageSurface

__all__ = ["OVERLAY_THEME", "SHAPED_UNDERLAY", "UNDERLAY_ALPHA", "WindowView"]

#: The chart over a window: no background of its own, so the window shows between graphs and text (without a
#: compositor the overlay is cut to the chart's drawn parts, and an opaque background would hide the whole window).
OVERLAY_THEME = Theme(
    background=(0.0, 0.0, 0.0, 0.0),
    background_odd=(0.0, 0.0, 0.0, 0.0),
    divider=(0.0, 0.0, 0.0, 0.0),
)

#: With a compositor the window is dimmed under the chart's rows (as vwm does), so the chart reads on any window.
UNDERLAY_ALPHA = 0.6

#: Without a compositor the overlay is cut to a coarse region around the chart's text and graphs (whole 32 px
#: cells, so it rarely changes), and every pixel inside it is opaque: what the chart leaves transparent there is
#: painted this dark grey, as vwm's dark rows, rather than showing as accidental black.
SHAPED_UNDERLAY = (0x18 / 255, 0x18 / 255, 0x18 / 255, 1.0)


class WindowView:
    """The chart of one client window and, once shown, its overlay window."""

    def __init__(
        self,
        window: int,
        pid: int | None,
        rect: Rect,
        frame: int,
        *,
        mapped: bool,
        name: str | None,
        hertz: float,
        scale: float = 1.0,
        lanes: bool = False,
    ) -> None:
        self.window = window
        self.pid = pid
        self.rect = rect
        self.frame = frame
        self.mapped = mapped
        self.name = name
        #: The user asked to see this chart (it shows while the window is mapped).
        self.wanted = False
        self.scale = scale
        self.chart = self._new_chart(hertz, lanes)
        self.task: Task | None = None
        self.overlay: OverlayWindow | None = None
        self._surface: ImageSurface | None = None
        self._ctx: Context | None = None
        self._presented: tuple[int, bool] | None = None  # (chart samples, composited) last uploaded
        #: A frame was skipped while the server still read the previous one: it goes at the next pass.
        self.frame_pending = False
        self._shape = ChartShape()  # the region the chart draws in, for the cut-out without a compositor
        #: Without shared memory, send the chart's changed layers rather than whole frames (off: whole frames).
        self.lean = True

    def _new_chart(self, hertz: float, lanes: bool) -> Chart:
        return Chart(
            max(self.rect.width, 1),
            max(self.rect.height, 1),
            name=self.name,
            theme=OVERLAY_THEME,
            hertz=hertz,
            lanes=lanes,
            scale=self.scale,
        )

    # -- monitoring ---------------------------------------------------------------------------

    def attach(self, vmon: Vmon, schedule: Schedule) -> None:
        """Monitor the window's process (if it has one that still runs) into the chart."""
        if self.pid is None or self.task is not None:
            return
        try:
            self.task = self.chart.attach(vmon, self.pid, schedule)
        except TaskGone:
            self.task = None  # it exited already: the chart stays empty

    def detach(self) -> None:
        if self.task is not None:
            self.chart.detach()
            self.task = None

    def set_pid(self, pid: int | None, vmon: Vmon, schedule: Schedule) -> None:
        """Another process now owns the window: a fresh chart for it (history of the old one is not its)."""
        self.detach()
        self.pid = pid
        self.chart = self._new_chart(schedule.display_hertz, self.chart.lanes)
        self._shape = ChartShape()
        self._presented = None
        self.attach(vmon, schedule)

    def set_name(self, name: str | None) -> None:
        """The window's title changed: the chart's heading shows it from the next frame, and a saved chart's file
        is named after it."""
        if name != self.name:
            self.name = name
            self.chart.set_name(name)
            self._presented = None

    # -- geometry and visibility ----------------------------------------------------------------

    @property
    def visible(self) -> bool:
        return self.overlay is not None and self.overlay.visible

    def place(self, rect: Rect, frame: int) -> None:
        if (rect.width, rect.height) != (self.rect.width, self.rect.height):
            self.chart.resize(max(rect.width, 1), max(rect.height, 1))
            self._surface = self._ctx = None
            self._presented = None
        self.rect, self.frame = rect, frame
        if self.overlay is not None:
            self.overlay.place(rect, frame)

    def restack(self, frame: int) -> None:
        self.frame = frame
        if self.overlay is not None:
            self.overlay.restack(frame)

    def update_visibility(self, conn: Connection, composited: bool) -> None:
        """Map or unmap the overlay to match ``wanted`` and the client's own visibility."""
        show = self.wanted and self.mapped
        self.chart.set_seen(show)
        if show and not self.visible:
            if self.overlay is None:
                self.overlay = OverlayWindow(conn, self.rect, above=self.frame, composited=composited)
            self.overlay.set_composited(composited)
            self.overlay.show()
            self._presented = None
            self.present(composited)
        elif not show and self.overlay is not None:
            self.overlay.hide()

    def set_composited(self, composited: bool) -> None:
        if self.overlay is not None:
            self.overlay.set_composited(composited)
            self._presented = None

    def destroy(self) -> None:
        """Stop monitoring and destroy the overlay window (the client is gone, or we are exiting)."""
        self.detach()
        self.release_overlay()

    def release_overlay(self) -> None:
        """Destroy the overlay window only (the window is not a client for now); monitoring goes on."""
        if self.overlay is not None:
            self.overlay.destroy()
            self.overlay = None
        self._surface = self._ctx = None

    # -- drawing --------------------------------------------------------------------------------

    def invalidate(self) -> None:
        """The chart changed outside a sample (rate shown, snowflakes discarded): present it again."""
        self._presented = None

    def present(self, composited: bool) -> None:
        """Compose the chart and send its rows to the overlay, if shown and changed since the last time."""
        overlay = self.overlay
        if overlay is None or not overlay.visible:
            return
        chart = self.chart
        state = (chart.samples, composited)
        if state == self._presented:
            return
        if overlay.busy:
            self.frame_pending = True
            return  # the server still reads the last frame from the surface: skip this one rather than wait
        self.frame_pending = False
        self._presented = state
        chart.sync_layers()
        # The region follows the chart's rows, text and graphs (not its pixels); the overlay sends it only when it
        # changed.
        region = None if composited else self._shape.update(chart)
        rows = chart.composed_height
        underlay = (0.0, 0.0, 0.0, UNDERLAY_ALPHA) if composited else SHAPED_UNDERLAY
        if overlay.put_image_only and self.lean and not chart.background_shown:
            # Every pixel would cross the socket: the server keeps the chart's layers, and gets what changed.
            layers = chart.layers
            graph, text = (cast("cairocffi.ImageSurface", s) for s in (layers.graph, layers.overlay))
            changes = layers.take_changes()
            if overlay.upload_layers(
                graph, layers.phase, text, chart.width, rows, underlay, shape=region, changes=changes
            ):
                return
        surface, ctx = self._canvas(overlay)
        # One pass replaces what the previous frame left in these rows with the underlay.
        ctx.set_operator(OPERATOR_SOURCE)
        ctx.set_source_rgba(*underlay)
        ctx.rectangle(0, 0, chart.width, rows)
        ctx.fill()
        ctx.set_operator(OPERATOR_OVER)
        chart.compose(ctx)
        overlay.upload(cast("cairocffi.ImageSurface", surface), rows, shape=region)

    def _canvas(self, overlay: OverlayWindow) -> tuple[ImageSurface, Context]:
        """The overlay's surface (shared with the X server when it can be) and a context on it."""
        surface = cast("ImageSurface", overlay.surface(self.chart.width, self.chart.height))
        if surface is not self._surface or self._ctx is None:
            self._surface = surface
            self._ctx = new_context(surface)
        return surface, self._ctx
