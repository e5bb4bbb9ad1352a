"""The overlay program: every client window's process tree monitored, its chart shown over it on a hotkey.

One thread runs everything.  It waits in ``select`` on the X connection and a
signal pipe, at most until the next sample is due; then it handles what the X
server sent (windows coming, going, moving; hotkeys; the compositor starting or
stopping), and when due takes one sample of every monitored process at once
(one shared :class:`~vwm_overlay.vmon.Vmon`, so two windows of one process
share its monitor) and sends every shown chart's rows to its overlay window.

:func:`run` returns 0 after SIGINT or SIGTERM, having destroyed the overlays
and released the hotkeys.  It raises :class:`~vwm_overlay.x11.DisplayUnavailableError`
when there is no display and :class:`~vwm_overlay.x11.ConnectionLostError` when
the X server goes away.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from types import FrameType, TracebackType
from typing import TextIO

from Xlib import X
from Xlib.protocol import rq

from .app_config import AppConfig
from .app_save import save_chart
from .app_view import WindowView
from .chart import Schedule
from .vmon import ProcWants, SysWants, Vmon, VmonFlags
from .x11 import (
    ClientAdded,
    ClientEvent,
    ClientGeometry,
    ClientMapped,
    ClientPidChanged,
    ClientRemoved,
    ClientRestacked,
    ClientTracker,
    ClientUnmapped,
    CompositorWatch,
    Connection,
    ConnectionLostError,
    Hotkeys,
    WindowManagerChanged,
)
from .x11.props import read_text

__all__ = ["PROC_WANTS", "OverlayApp", "SignalPipe", "run"]

#: What each window's processes are sampled for: CPU, IO and memory of every descendant and thread.  Open files
#: are left out: the chart does not show them, and they cost a directory walk per process per sample.
PROC_WANTS = ProcWants.STAT | ProcWants.IO | ProcWants.VM | ProcWants.FOLLOW_CHILDREN | ProcWants.FOLLOW_THREADS

#: An exposed overlay waits at most this long for the next sample to redraw it.
EXPOSE_WAIT_S = 0.1

#: Without XFIXES nothing says when a compositor starts or stops: ask this often.
COMPOSITOR_POLL_S = 2.0


def run(config: AppConfig, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run the overlay program until SIGINT or SIGTERM; returns the exit status (0)."""
    # A write to a dead X server must become an error we report, not a silent death by SIGPIPE.
    previous = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        return _run(config, out, err)
    finally:
        signal.signal(signal.SIGPIPE, previous)


def _run(config: AppConfig, out: TextIO, err: TextIO) -> int:
    with SignalPipe((signal.SIGINT, signal.SIGTERM)) as signals, Connection(config.display) as conn:
        app = OverlayApp(conn, config, out=out, err=err)
        lost = False
        try:
            app.start()
            app.loop(signals)
        except ConnectionLostError:
            lost = True
            raise
        finally:
            app.close(x_alive=not lost)
    return 0


class SignalPipe:
    """Makes the given signals end the loop: the handler notes the signal, the wakeup fd ends the ``select``."""

    def __init__(self, signals: Sequence[signal.Signals]) -> None:
        self.signals = tuple(signals)
        self.received: int | None = None
        self._read_fd = self._write_fd = -1
        self._old_wakeup_fd = -1
        self._old_handlers: dict[signal.Signals, Callable[[int, FrameType | None], object] | int | None] = {}

    def __enter__(self) -> SignalPipe:
        self._read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._old_wakeup_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for signum in self.signals:
            self._old_handlers[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._old_wakeup_fd)
        os.close(self._read_fd)
        os.close(self._write_fd)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum

    def caught(self) -> int | None:
        """The signal that arrived, if any."""
        return self.received

    def fileno(self) -> int:
        return self._read_fd

    def drain(self) -> None:
        try:
            while os.read(self._read_fd, 512):
                pass
        except BlockingIOError:
            pass


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
    ) -> None:
        self.conn = conn
        self.config = config
        self.out, self.err = out, err
        self.clock = clock
        self.schedule = Schedule(config.hertz, clock)
        self.vmon = Vmon(VmonFlags.TWO_PASS, SysWants.STAT, PROC_WANTS)
        self.tracker = ClientTracker(conn)
        self.watch = CompositorWatch(conn)
        self.hotkeys = Hotkeys(conn, config.bindings)
        self.views: dict[int, WindowView] = {}
        #: Show every window's chart, new windows' too (``--show-all``, the toggle-all hotkey).
        self.show_all = config.show_all
        self.composited = False
        self._by_overlay: dict[int, WindowView] = {}  # overlay window id -> its view, for Expose
        #: Shown charts of windows that stopped being clients but still exist, by window: a window manager that
        #: restarts lets go of every window, and takes them back a moment later.
        self._withdrawn: dict[int, WindowView] = {}
        self._swallowed_told: set[str] = set()  # modifier-key warnings given, each once
        self._next_poll_s = 0.0

    # -- lifetime -----------------------------------------------------------------------------

    def start(self) -> None:
        """Grab the hotkeys (reporting the ones taken), find the compositor and the windows."""
        with self.conn.guard():
            for problem in self.hotkeys.grab():
                self.warn(str(problem))
            self._check_swallowed()
            self.composited = self.watch.start()
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
                self._dispatch(self.conn.events())
                if self.schedule.due():
                    self._sample()
                if not self.watch.event_driven and self.clock() >= self._next_poll_s:
                    self._next_poll_s = self.clock() + COMPOSITOR_POLL_S
                    state = self.watch.poll()
                    if state is not None:
                        self._set_composited(state)
                self.conn.flush()

    def close(self, *, x_alive: bool = True) -> None:
        """Stop monitoring; destroy the overlays and release the hotkeys unless the server is gone."""
        views = [*self.views.values(), *self._withdrawn.values()]
        self.views.clear()
        self._withdrawn.clear()
        self._by_overlay.clear()
        for view in views:
            view.detach()
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

    # -- the loop's parts -----------------------------------------------------------------------

    def _timeout_s(self) -> float | None:
        if self.conn.pending():
            return 0.0
        timeout = self.schedule.delay_s()
        if not self.watch.event_driven:
            poll = max(0.0, self._next_poll_s - self.clock())
            timeout = poll if timeout is None else min(timeout, poll)
        return timeout

    def _dispatch(self, events: list[rq.Event]) -> None:
        if not events:
            return
        self._apply(self.tracker.process(events))
        state = self.watch.process(events)
        if state is not None:
            self._set_composited(state)
        for event in events:
            if event.type == X.Expose:
                self._exposed(event)
                continue
            if event.type == X.DestroyNotify:
                self._destroyed(event.window.id)
                continue
            action = self.hotkeys.handle(event)
            if action is not None:
                self._act(action)

    def _exposed(self, event: rq.Event) -> None:
        """Part of an overlay lost its pixels (uncovered, or its shape grew): send the frame again.

        A shape change exposes what it added right after the frame that caused it was sent, so redrawing at once
        would send every frame twice: when a sample is due soon, it redraws instead.
        """
        view = self._by_overlay.get(event.window.id)
        if view is None or event.count != 0:  # the last of a series stands for all of them
            return
        view.invalidate()
        delay_s = self.schedule.delay_s()
        if delay_s is None or delay_s > EXPOSE_WAIT_S:
            view.present(self.composited)

    def _sample(self) -> None:
        self.schedule.begin_sample()
        # The charts update from the monitor's callbacks, after every task was sampled.
        self.vmon.sample()
        for view in self.views.values():
            view.present(self.composited)

    # -- windows --------------------------------------------------------------------------------

    def _apply(self, changes: Iterable[ClientEvent]) -> None:
        for change in changes:
            if isinstance(change, ClientAdded):
                self._add(change)
                continue
            if isinstance(change, WindowManagerChanged):
                self._resync()
                self._check_swallowed()
                continue
            view = self.views.get(change.window)
            if view is None:
                continue
            if isinstance(change, ClientRemoved):
                self._withdraw(view)
            elif isinstance(change, ClientPidChanged):
                view.set_pid(change.pid, self.vmon, self.schedule)
                view.present(self.composited)
            elif isinstance(change, ClientGeometry):
                view.place(change.rect, change.frame)
                view.present(self.composited)
            elif isinstance(change, ClientRestacked):
                view.restack(change.frame)
            elif isinstance(change, ClientMapped | ClientUnmapped):
                view.mapped = isinstance(change, ClientMapped)
                self._show(view)

    def _add(self, added: ClientAdded) -> None:
        old = self.views.get(added.window)
        if old is not None:
            self._remove(old)
        if self._readd(added):
            return
        name = read_text(self.conn, added.window, "_NET_WM_NAME") or read_text(self.conn, added.window, "WM_NAME")
        view = WindowView(
            added.window,
            added.pid,
            added.rect,
            added.frame,
            mapped=added.mapped,
            name=name,
            hertz=self.schedule.display_hertz,
        )
        self.views[added.window] = view
        view.attach(self.vmon, self.schedule)
        view.wanted = self.show_all
        self._show(view)

    def _remove(self, view: WindowView, *, keep: bool = False) -> None:
        """Forget the view; ``keep`` destroys its overlay window only, and keeps it monitoring."""
        self.views.pop(view.window, None)
        if view.overlay is not None:
            self._by_overlay.pop(view.overlay.window.id, None)
        if keep:
            view.release_overlay()
        else:
            view.destroy()

    def _withdraw(self, view: WindowView) -> None:
        """The window is no client any more: closed, withdrawn, or let go by a window manager that exits.

        A shown chart whose window still exists is kept, without its overlay, for the window to come back.
        """
        keep = view.wanted and self.conn.tolerant(self.conn.window(view.window).get_attributes) is not None
        self._remove(view, keep=keep)
        if keep:
            self._withdrawn[view.window] = view

    def _readd(self, added: ClientAdded) -> bool:
        """A kept chart's window is a client again: show the chart with its history."""
        view = self._withdrawn.pop(added.window, None)
        if view is None:
            return False
        self.views[added.window] = view
        if added.pid != view.pid:
            view.set_pid(added.pid, self.vmon, self.schedule)
        view.place(added.rect, added.frame)
        view.mapped = added.mapped
        self._show(view)
        return True

    def _destroyed(self, window: int) -> None:
        view = self._withdrawn.pop(window, None)
        if view is not None:
            view.destroy()

    def _resync(self) -> None:
        """After a window manager (re)start: frames, places and visibility may all have changed."""
        for window, view in self.views.items():
            client = self.tracker.get(window)
            if client is None:
                continue
            view.place(client.rect, client.frame)
            view.restack(client.frame)
            view.mapped = client.mapped
            self._show(view)

    def _show(self, view: WindowView) -> None:
        view.update_visibility(self.conn, self.composited)
        if view.overlay is not None:
            self._by_overlay[view.overlay.window.id] = view

    def _set_composited(self, composited: bool) -> None:
        self.composited = composited
        for view in self.views.values():
            view.set_composited(composited)
            view.present(composited)

    def _check_swallowed(self) -> None:
        """Tell once about each modifier key a (new) window manager takes for itself."""
        for problem in self.hotkeys.swallowed():
            if str(problem) not in self._swallowed_told:
                self._swallowed_told.add(str(problem))
                self.warn(str(problem))

    # -- hotkeys --------------------------------------------------------------------------------

    def _act(self, action: str) -> None:
        if action == "toggle_all":
            self.show_all = not any(view.wanted for view in self.views.values())
            for view in self.views.values():
                view.wanted = self.show_all
                self._show(view)
            return
        rate = {"rate_up": Schedule.rate_up, "rate_down": Schedule.rate_down, "pause": Schedule.toggle_pause}
        if action in rate:
            rate[action](self.schedule)
            self._heading_changed()
            return
        focused = self._focused()
        if focused is None:
            if action == "save":
                self.warn("no chart to save: no monitored window has the focus")
            return
        if action == "toggle":
            focused.wanted = not focused.wanted
            self._show(focused)
        elif action == "discard":
            focused.chart.discard_snowflakes()
            focused.invalidate()
            focused.present(self.composited)
        elif action == "save":
            self._save(focused)

    def _focused(self) -> WindowView | None:
        window = self.tracker.active_client()
        return None if window is None else self.views.get(window)

    def _heading_changed(self) -> None:
        """The rate or pause changed: every heading shows it at once, even while no samples come."""
        hertz = self.schedule.display_hertz
        for view in self.views.values():
            view.chart.set_hertz(hertz)
            view.invalidate()
            view.present(self.composited)

    def _save(self, view: WindowView) -> None:
        try:
            path = save_chart(view.chart, self.config.output_dir, view.name, view.pid)
        except OSError as err:
            self.warn(f"cannot save the chart in {self.config.output_dir}: {err.strerror or err}")
            return
        try:
            print(path, file=self.out, flush=True)
        except OSError:
            pass  # nobody reads our output any more; the file is saved all the same
