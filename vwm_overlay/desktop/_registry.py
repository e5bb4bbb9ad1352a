"""The monitored client windows: one view per window, found by its window or by its overlay window."""

from __future__ import annotations

from collections.abc import Iterator

from ..schedule import Schedule
from ..vmon import Vmon
from ..x11 import ClientAdded, Connection
from ._view import WindowView

__all__ = ["WindowRegistry"]


class WindowRegistry:
    """Every client window's view, by client window id and by overlay window id (for Expose).

    Views are attached to the shared monitor when added and detached when removed; ``show`` maps or unmaps a
    view's overlay to match what is wanted, and remembers the overlay's id.
    """

    def __init__(self, conn: Connection, vmon: Vmon, schedule: Schedule, *, lanes: bool = False) -> None:
        self.conn = conn
        self.vmon = vmon
        self.schedule = schedule
        #: The size of new charts (see :func:`~vwm_overlay.chart.scale_for_dpi`), and whether they start with lanes.
        self.scale = 1.0
        self.lanes = lanes
        self.views: dict[int, WindowView] = {}
        self._by_overlay: dict[int, WindowView] = {}
        #: Shown charts of windows that stopped being clients but still exist, by window: a window manager that
        #: restarts lets go of every window, and takes them back a moment later.
        self._withdrawn: dict[int, WindowView] = {}

    def __iter__(self) -> Iterator[WindowView]:
        return iter(list(self.views.values()))

    def __len__(self) -> int:
        return len(self.views)

    def get(self, window: int) -> WindowView | None:
        return self.views.get(window)

    def by_overlay(self, overlay: int) -> WindowView | None:
        """The view whose overlay window is ``overlay``."""
        return self._by_overlay.get(overlay)

    def add(self, added: ClientAdded, *, wanted: bool) -> WindowView:
        """A view for a new client window (replacing one for the same window id), monitoring its process; a
        kept chart of that window (see :meth:`withdraw`) comes back with its history."""
        old = self.views.get(added.window)
        if old is not None:
            self.remove(old)
        kept = self._withdrawn.pop(added.window, None)
        if kept is not None:
            self.views[added.window] = kept
            if added.pid != kept.pid:
                kept.set_pid(added.pid, self.vmon, self.schedule)
            kept.place(added.rect, added.frame)
            kept.set_name(added.title)
            kept.mapped = added.mapped
            return kept
        view = WindowView(
            added.window,
            added.pid,
            added.rect,
            added.frame,
            mapped=added.mapped,
            name=added.title,
            hertz=self.schedule.display_hertz,
            scale=self.scale,
            lanes=self.lanes,
        )
        self.views[added.window] = view
        view.attach(self.vmon, self.schedule)
        view.wanted = wanted
        return view

    def remove(self, view: WindowView) -> None:
        """Stop monitoring the window and destroy its overlay."""
        self._forget(view)
        view.destroy()

    def withdraw(self, view: WindowView) -> None:
        """The window is no client any more: closed, withdrawn, or let go by a window manager that exits.

        A shown chart whose window still exists is kept, monitoring but without its overlay, for the window to
        come back (:meth:`add`); it goes when the window is destroyed (:meth:`destroyed`).
        """
        keep = view.wanted and self.conn.tolerant(self.conn.window(view.window).get_attributes) is not None
        if not keep:
            self.remove(view)
            return
        self._forget(view)
        view.release_overlay()
        self._withdrawn[view.window] = view

    def destroyed(self, window: int) -> None:
        """A window was destroyed: a chart kept for it goes."""
        view = self._withdrawn.pop(window, None)
        if view is not None:
            view.destroy()

    def _forget(self, view: WindowView) -> None:
        self.views.pop(view.window, None)
        if view.overlay is not None:
            self._by_overlay.pop(view.overlay.window.id, None)

    def show(self, view: WindowView, composited: bool) -> None:
        """Map or unmap the view's overlay to match ``wanted`` and its window's visibility."""
        view.update_visibility(self.conn, composited)
        if view.overlay is not None:
            self._by_overlay[view.overlay.window.id] = view

    def clear(self) -> list[WindowView]:
        """Forget every view (they stop monitoring) and return them, for their overlays to be destroyed."""
        views = [*self.views.values(), *self._withdrawn.values()]
        self.views.clear()
        self._withdrawn.clear()
        self._by_overlay.clear()
        for view in views:
            view.detach()
        return views
