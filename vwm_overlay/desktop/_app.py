"""The overlay program's core: the windows, their charts and overlays, the hotkeys and the sampling clock.

One thread runs everything.  It waits in ``select`` on the X connection and a
signal pipe, at most until the next sample is due; then it handles what the X
server sent (windows coming, going, moving; hotkeys; the compositor starting or
stopping), and when due takes one sample of every monitored process at once
(one shared :class:`~vwm_overlay.vmon.Vmon`, so two windows of one process
share its monitor) and sends every shown chart's rows to its overlay window.

Every collaborator can be passed in (the tracker, the compositor watch, the
hotkeys, the monitor, the clock, the save function): tests feed :meth:`OverlayApp.handle`
events and call :meth:`OverlayApp.act` and :meth:`OverlayApp.step` directly.
"""

from __future__ import annotations

import select
import sys
import time
from collections.abc import Callable, Iterable
from typing import TextIO

from Xlib import X
from Xlib.protocol import rq

from ..chart import scale_for_dpi
from ..errors import UsageError
from ..schedule import Schedule
from ..vmon import ProcWants, SysWants, Vmon, VmonFlags
from ..x11 import (
    ClientAdded,
    ClientEvent,
    ClientGeometry,
    ClientMapped,
    ClientPidChanged,
    ClientRemoved,
    ClientRestacked,
    ClientTitleChanged,
    ClientTracker,
    ClientUnmapped,
    CompositorWatch,
    Connection,
    ConnectionLostError,
    Hotkeys,
    WindowManagerChanged,
)
from ..x11.resources import xft_dpi
from ._actions import Actions, SaveChart
from ._config import AppConfig
from ._registry import WindowRegistry
from ._save import save_chart
from ._signals import SignalPipe
from ._view import WindowView

__all__ = ["COMPOSITOR_POLL_S", "EVENTS_PER_PASS", "EXPOSE_WAIT_S", "PROC_WANTS", "OverlayApp"]

#: What each window's processes are sampled for: CPU, IO and memory of every descendant and thread.  Open files
#: are left out: the chart does not show them, and they cost a directory walk per process per sample.
PROC_WANTS = ProcWants.STAT | ProcWants.IO | ProcWants.VM | ProcWants.FOLLOW_CHILDREN | ProcWants.FOLLOW_THREADS

#: An exposed overlay waits at most this long for the next sample to redraw it.
EXPOSE_WAIT_S = 0.1

#: Without XFIXES nothing says when a compositor starts or stops: ask this often.
COMPOSITOR_POLL_S = 2.0

#: After start and after a new window manager, its grabs of modifier keys are looked for again this long after
#: (seconds): a manager announces itself before it grabs its keys, and a loaded machine can take seconds between.
MODIFIER_RECHECKS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)

#: Events handled per pass of the loop at most, so that a client flooding the server with changes (a property
#: rewritten in a loop, windows mapped and destroyed by the thousand) never starves sampling and drawing, nor
#: delays the reaction to a signal.
EVENTS_PER_PASS = 512


class OverlayApp:
    """The windows, their charts and overlays, the hotkeys and the sampling clock, on one connection."""

    def __init__(
        self,
        conn: Connection,
        config: AppConfig,
        *,
        out: TextIO = sys.stdout,
        err: TextIO = sys.stderr,
        clock: Callable[[], float] = time.monotonic,
        schedule: Schedule | None = None,
        vmon: Vmon | None = None,
        tracker: ClientTracker | None = None,
        watch: CompositorWatch | None = None,
        hotkeys: Hotkeys | None = None,
        save: SaveChart = save_chart,
    ) -> None:
        self.conn = conn
        self.config = config
        self.out, self.err = out, err
        self.clock = clock
        self.schedule = schedule if schedule is not None else Schedule(config.hertz, clock)
        self.vmon = vmon if vmon is not None else Vmon(VmonFlags.TWO_PASS, SysWants.STAT, PROC_WANTS)
        self.tracker = tracker if tracker is not None else ClientTracker(conn)
        self.watch = watch if watch is not None else CompositorWatch(conn)
        self.hotkeys = hotkeys if hotkeys is not None else Hotkeys(conn, config.bindings)
        self.registry = WindowRegistry(conn, self.vmon, self.schedule, lanes=config.lanes)
        self.composited = False
        self.actions = Actions(
            self.registry,
            self.schedule,
            focused=self.tracker.active_client,
            show=self._show,
            present=self._present,
            save=save,
            output_dir=config.output_dir,
            out=out,
            warn=self.warn,
            show_all=config.show_all,
        )
        self._next_poll_s = 0.0
        self._swallowed_told: set[str] = set()  # modifier-key warnings given, each once
        self._swallow_checks_s: list[float] = []  # when to look for them again (clock times, soonest first)

    @property
    def views(self) -> dict[int, WindowView]:
        """Every monitored window's view, by client window id."""
        return self.registry.views

    # -- lifetime -----------------------------------------------------------------------------

    def start(self) -> None:
        """Grab the hotkeys (reporting the ones taken), find the compositor and the windows.

        Raises :class:`~vwm_overlay.errors.UsageError` when every hotkey is taken and no chart is shown without
        one (``show_all`` off): the program would have nothing to do.
        """
        with self.conn.guard():
            problems = self.hotkeys.grab()
            if self.hotkeys.bindings and not self.hotkeys.grabs and not self.config.show_all:
                # Nothing could ever show a chart: most likely another vwm-overlay holds the keys.
                self.hotkeys.ungrab()
                raise UsageError(
                    "no hotkey could be had: all are taken by another client (is vwm-overlay running already?); "
                    "bind others with --ACTION KEYS, or start with --show-all"
                )
            for problem in problems:
                self.warn(str(problem))
            self._check_swallowed()
            self.composited = self.watch.start()
            # The user's scale, else the desktop's density, read once: charts keep their size while they live.
            self.registry.scale = (
                self.config.scale if self.config.scale is not None else scale_for_dpi(xft_dpi(self.conn))
            )
            self._apply(self.tracker.start())
            self.conn.flush()

    def loop(self, signals: SignalPipe) -> None:
        """Handle X events and sample on time until a signal arrives."""
        wait_on = [self.conn.fileno(), signals.fileno()]
        while signals.caught() is None:
            with self.conn.guard():
                timeout = self._timeout_s()
                if timeout is None or timeout > 0:
                    select.select(wait_on, [], [], timeout)
                signals.drain()
                if signals.caught() is not None:
                    break
                self.step()

    def step(self) -> None:
        """One pass of the loop without waiting: a bounded batch of events, a sample when due, the flush."""
        self.handle(self.conn.events(EVENTS_PER_PASS))
        if self.schedule.due():
            self.sample()
        else:
            # A frame skipped because the server was still reading the previous one goes now; while paused no
            # sample would send a changed heading or an exposed chart, so they go now too.  (Otherwise an exposed
            # chart waits for the next sample: SHAPE changes expose overlays at almost every sample.)
            paused = self.schedule.delay_s() is None
            for view in self.registry:
                if paused or view.frame_pending:
                    self._present(view)
        if self._swallow_checks_s and self.clock() >= self._swallow_checks_s[0]:
            del self._swallow_checks_s[0]
            self._check_swallowed(again=False)
        if not self.watch.event_driven and self.clock() >= self._next_poll_s:
            self._next_poll_s = self.clock() + COMPOSITOR_POLL_S
            state = self.watch.poll()
            if state is not None:
                self._set_composited(state)
        self.conn.flush()

    def close(self, *, x_alive: bool = True) -> None:
        """Stop monitoring; destroy the overlays and release the hotkeys unless the server is gone."""
        views = self.registry.clear()
        self.vmon.close()
        if not x_alive:
            return
        try:
            with self.conn.guard():
                for view in views:
                    view.destroy()
                self.hotkeys.ungrab()
                self.conn.sync()
        except ConnectionLostError:
            pass  # the server went away meanwhile: it freed all of it

    def warn(self, message: str) -> None:
        print(f"vwm-overlay: {message}", file=self.err, flush=True)

    # -- what happens -----------------------------------------------------------------------------

    def handle(self, events: list[rq.Event]) -> None:
        """React to a batch of X events: windows, the compositor, Expose, hotkeys."""
        # Even without events: the tracker reads again a client it stopped listening to for a while.
        self._apply(self.tracker.process(events))
        if not events:
            return
        state = self.watch.process(events)
        if state is not None:
            self._set_composited(state)
        for event in events:
            if event.type == X.Expose:
                self._exposed(event)
                continue
            if event.type == X.DestroyNotify:
                self.registry.destroyed(event.window.id)
                continue
            action = self.hotkeys.handle(event)
            if action is not None:
                self.act(action)

    def act(self, action: str) -> None:
        """Do what a hotkey asks (see :data:`~vwm_overlay.desktop.ACTIONS`)."""
        if action == "save":
            focused = self.tracker.active_client()
            if focused is not None:
                self._apply(self.tracker.read_title(focused))
        self.actions(action)

    def sample(self) -> None:
        """Sample every monitored process once and send every shown chart."""
        self.schedule.begin_sample()
        # The charts update from the monitor's callbacks, after every task was sampled.
        self.vmon.sample()
        for view in self.registry:
            self._present(view)

    # -- the loop's parts -----------------------------------------------------------------------

    def _timeout_s(self) -> float | None:
        if self.conn.pending():
            return 0.0
        timeout = self.schedule.delay_s()
        if not self.watch.event_driven:
            poll = max(0.0, self._next_poll_s - self.clock())
            timeout = poll if timeout is None else min(timeout, poll)
        if self._swallow_checks_s:
            check = max(0.0, self._swallow_checks_s[0] - self.clock())
            timeout = check if timeout is None else min(timeout, check)
        return timeout

    def _exposed(self, event: rq.Event) -> None:
        """Part of an overlay lost its pixels (uncovered, or its shape grew): send the frame again.

        A shape change exposes what it added right after the frame that caused it was sent, so redrawing at once
        would send every frame twice: when a sample is due soon, it redraws instead.
        """
        view = self.registry.by_overlay(event.window.id)
        if view is None or event.count != 0:  # the last of a series stands for all of them
            return
        view.invalidate()
        delay_s = self.schedule.delay_s()
        if delay_s is None or delay_s > EXPOSE_WAIT_S:
            self._present(view)

    # -- windows --------------------------------------------------------------------------------

    def _apply(self, changes: Iterable[ClientEvent]) -> None:
        for change in changes:
            if isinstance(change, ClientAdded):
                self._show(self.registry.add(change, wanted=self.actions.show_all))
                continue
            if isinstance(change, WindowManagerChanged):
                self._resync()
                self._check_swallowed()
                continue
            view = self.registry.get(change.window)
            if view is None:
                continue
            if isinstance(change, ClientRemoved):
                self.registry.withdraw(view)
            elif isinstance(change, ClientPidChanged):
                view.set_pid(change.pid, self.vmon, self.schedule)
                self._present(view)
            elif isinstance(change, ClientTitleChanged):
                view.set_name(change.title)
                self._present(view)
            elif isinstance(change, ClientGeometry):
                view.place(change.rect, change.frame)
                self._present(view)
            elif isinstance(change, ClientRestacked):
                view.restack(change.frame)
            elif isinstance(change, ClientMapped | ClientUnmapped):
                view.mapped = isinstance(change, ClientMapped)
                self._show(view)

    def _resync(self) -> None:
        """After a window manager (re)start: frames, places and visibility may all have changed."""
        for view in self.registry:
            client = self.tracker.get(view.window)
            if client is None:
                continue
            view.place(client.rect, client.frame)
            view.restack(client.frame)
            view.mapped = client.mapped
            self._show(view)

    def _check_swallowed(self, *, again: bool = True) -> None:
        """Tell once about each modifier key a (new) window manager takes for itself; ``again``: look later too."""
        if again:
            now = self.clock()
            self._swallow_checks_s = [now + after_s for after_s in MODIFIER_RECHECKS_S]
        for problem in self.hotkeys.swallowed():
            if str(problem) not in self._swallowed_told:
                self._swallowed_told.add(str(problem))
                self.warn(str(problem))

    def _show(self, view: WindowView) -> None:
        self.registry.show(view, self.composited)

    def _present(self, view: WindowView) -> None:
        view.present(self.composited)

    def _set_composited(self, composited: bool) -> None:
        self.composited = composited
        for view in self.registry:
            view.set_composited(composited)
            view.present(composited)
