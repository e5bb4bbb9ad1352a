"""What the hotkeys do: show and hide charts, change the rate, pause, forget exited tasks, save a chart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ..chart import Chart
from ..schedule import Schedule
from ._registry import WindowRegistry
from ._view import WindowView

__all__ = ["ACTIONS", "Actions", "SaveChart"]

#: Every action a hotkey can be bound to.
ACTIONS = ("toggle", "toggle_all", "rate_up", "rate_down", "pause", "discard", "save", "lanes")

#: Writes a chart as a PNG in a directory and returns its path (``save_chart``); raises OSError.
SaveChart = Callable[[Chart, Path, "str | None", "int | None"], Path]


class Actions:
    """Carries out an action on the views of a registry.

    ``focused()`` names the client window that has the focus; ``show(view)`` maps or unmaps a view's overlay;
    ``present(view)`` sends a changed chart; ``warn`` reports a problem in one line.
    """

    def __init__(
        self,
        registry: WindowRegistry,
        schedule: Schedule,
        *,
        focused: Callable[[], int | None],
        show: Callable[[WindowView], None],
        present: Callable[[WindowView], None],
        save: SaveChart,
        output_dir: Path,
        out: TextIO,
        warn: Callable[[str], None],
        show_all: bool = False,
    ) -> None:
        self.registry = registry
        self.schedule = schedule
        self.focused = focused
        self.show = show
        self.present = present
        self.save_chart = save
        self.output_dir = output_dir
        self.out = out
        self.warn = warn
        #: Show every window's chart, new windows' too (``--show-all``, the toggle-all hotkey).
        self.show_all = show_all

    def __call__(self, action: str) -> None:
        if action == "toggle_all":
            self.toggle_all()
        elif action == "rate_up":
            self.schedule.rate_up()
            self.heading_changed()
        elif action == "rate_down":
            self.schedule.rate_down()
            self.heading_changed()
        elif action == "pause":
            self.schedule.toggle_pause()
            self.heading_changed()
        else:
            view = self._focused_view()
            if view is None:
                if action == "save":
                    self.warn("no chart to save: no monitored window has the focus")
                return
            if action == "toggle":
                view.wanted = not view.wanted
                self.show(view)
            elif action == "discard":
                view.chart.discard_snowflakes()
                view.invalidate()
                self.present(view)
            elif action == "save":
                self.save(view)
            elif action == "lanes":
                view.chart.set_lanes(not view.chart.lanes)
                view.invalidate()
                self.present(view)

    def toggle_all(self) -> None:
        """Hide every chart when any is shown, else show them all (and the charts of windows to come)."""
        self.show_all = not any(view.wanted for view in self.registry)
        for view in self.registry:
            view.wanted = self.show_all
            self.show(view)

    def heading_changed(self) -> None:
        """The rate or pause changed: every heading shows it at once, even while no samples come."""
        hertz = self.schedule.display_hertz
        for view in self.registry:
            view.chart.set_hertz(hertz)
            view.invalidate()
            self.present(view)

    def save(self, view: WindowView) -> None:
        try:
            path = self.save_chart(view.chart, self.output_dir, view.name, view.pid)
        except OSError as err:
            self.warn(f"cannot save the chart in {self.output_dir}: {err.strerror or err}")
            return
        try:
            print(path, file=self.out, flush=True)
        except OSError:
            pass  # nobody reads our output any more; the file is saved all the same

    def _focused_view(self) -> WindowView | None:
        window = self.focused()
        return None if window is None else self.registry.get(window)
