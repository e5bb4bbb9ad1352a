"""The overlay program under every common window manager, each bare, with xcompmgr and with picom.

One compact scenario per manager and compositor, on one Xvfb and manager per
manager (the compositor is started and stopped around each scenario).  How to
start and drive each manager lives in ``ci/wms.py``; a step a manager has no
way to do (twm has no workspaces, i3 and dwm do not minimise) is left out for it.

What the screen shows is read from Xvfb's framebuffer, which is what a
compositor really composes (GetImage would show the overlay unblended).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_for
from test_app import Procs, client_rect, overlays, start_app
from x11_helpers import ClientProc, Session, activate, new_session, xdotool
from Xlib import X
from Xlib.protocol import event as xevent

from vwm_overlay.x11 import Connection, Rect, read_xwd

pytestmark = [pytest.mark.x11, pytest.mark.slow]

MANAGERS = ("openbox", "xfwm4", "i3", "awesome", "fluxbox", "icewm", "bspwm", "herbstluftwm", "dwm", "twm")
COMPOSITORS = (None, "xcompmgr", "picom")
GREEN = (0, 255, 0)
YELLOW = (255, 255, 0)
BAND_PX = 40  # the chart's header rows, always drawn: where the probes look


class Desk:
    """One Xvfb with one window manager, its framebuffer, and a connection to watch it."""

    def __init__(self, session: Session, framebuffer: Path, conn: Connection) -> None:
        self.xs = session
        self.framebuffer = framebuffer
        self.conn = conn
        self.wm: Any = session.manager(session.wm or "")

    def run(self, *cmd: str) -> None:
        subprocess.run(list(cmd), env=self.xs.env, check=True, timeout=10, stdin=subprocess.DEVNULL)

    def band(self, rect: Rect) -> list[tuple[int, int, int]]:
        """The framebuffer's pixels of the top rows of ``rect`` (clipped to the screen)."""
        image = read_xwd(str(self.framebuffer))
        return [
            image.pixel(x, y)
            for y in range(max(rect.y, 0), min(rect.y + BAND_PX, image.height))
            for x in range(max(rect.x, 0), min(rect.x + rect.width, image.width))
        ]

    def chart_over(self, rect: Rect) -> bool:
        """Whether the chart shows over ``rect``: plenty of pixels that are not the client's green."""
        return sum(p != GREEN for p in self.band(rect)) > 400

    def covered(self, rect: Rect) -> bool:
        """Whether ``rect``'s top rows show the other window's yellow only.

        Xvfb's framebuffer shows the pointer too: it is moved to the screen's corner first.
        """
        xdotool(self.xs.env, "mousemove", "1279", "799")
        return all(p == YELLOW for p in self.band(rect))

    def activate(self, window: int) -> None:
        if self.wm.activate == "ewmh":
            activate(self.xs.env, window)
        else:
            # Out of every window first: only entering the window makes the manager focus it.
            xdotool(self.xs.env, "mousemove", "0", "0")
            xdotool(self.xs.env, "mousemove", "--window", str(window), "40", "100")
            wait_for(lambda: self.focused_in(window), what=f"{self.wm.name} to focus the window under the pointer")

    def focused_in(self, window: int) -> bool:
        """Whether keys go to ``window``: it has the focus, or the focus follows the pointer, which is over it."""
        focus = self.conn.display.get_input_focus().focus
        if focus == X.PointerRoot:
            pointer = self.conn.root.query_pointer()
            rect = client_rect(self.conn, window)
            x, y = int(pointer.root_x), int(pointer.root_y)
            return rect.x <= x < rect.x + rect.width and rect.y <= y < rect.y + rect.height
        return not isinstance(focus, int) and int(focus.id) == window

    def set_state(self, window: int, state: str, on: bool) -> None:
        """Ask for ``_NET_WM_STATE_<state>`` as a pager would: a ``_NET_WM_STATE`` client message to the root."""
        message = xevent.ClientMessage(
            window=self.conn.window(window),
            client_type=self.conn.atom("_NET_WM_STATE"),
            data=(32, [1 if on else 0, self.conn.atom(f"_NET_WM_STATE_{state}"), 0, 1, 0]),
        )
        mask = X.SubstructureRedirectMask | X.SubstructureNotifyMask
        self.conn.root.send_event(message, event_mask=mask)
        self.conn.sync()


@pytest.fixture(scope="module", params=MANAGERS)
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    name = request.param
    probe = new_session()
    command = probe.manager(name).command
    tool = command[0] if command[0] != "dbus-run-session" else command[2]
    for needed in ("Xvfb", "xdotool", tool):
        if shutil.which(needed) is None:
            pytest.skip(f"needs {needed} (ci/setup installs it)")
    fbdir = tmp_path_factory.mktemp(f"fb-{name}")
    with new_session(wm=name, fbdir=str(fbdir)) as session, Connection(session.display) as conn:
        yield Desk(session, fbdir / "Xvfb_screen0", conn)


@pytest.fixture
def procs() -> Iterator[Procs]:
    started: Procs = []
    yield started
    for proc in reversed(started):
        proc.close()


#: The toggle hotkey where the manager takes the Super keys itself (the program says so, and what to do).
SUPERLESS_TOGGLE = "Control+Mod1+semicolon"


def toggle(desk: Desk, window: int) -> None:
    desk.activate(window)
    keys = "ctrl+alt+semicolon" if desk.wm.takes_super else "super+semicolon"
    xdotool(desk.xs.env, "key", "--clearmodifiers", keys)


def shown(desk: Desk, window: int) -> Rect | None:
    """The client's rectangle when exactly one overlay is mapped, over it, and the chart shows there."""
    rect = client_rect(desk.conn, window)
    mapped = [r for r, is_mapped in overlays(desk.conn).values() if is_mapped]
    return rect if mapped == [rect] and desk.chart_over(rect) else None


def blended(band: list[tuple[int, int, int]]) -> bool:
    dark_green = sum(1 for r, g, b in band if r < 40 and 40 < g < 180 and b < 40)
    return GREEN not in band and dark_green > len(band) // 4


def cut_out(band: list[tuple[int, int, int]]) -> bool:
    return band.count(GREEN) > 200 and len(band) - band.count(GREEN) > 200


def hidden(desk: Desk) -> bool:
    return not any(is_mapped for _rect, is_mapped in overlays(desk.conn).values())


@pytest.mark.parametrize("compositor", COMPOSITORS, ids=lambda c: c or "bare")
def test_the_chart_lives_with_its_window(desk: Desk, compositor: str | None, procs: Procs) -> None:
    xs, wm = desk.xs, desk.wm
    if compositor is not None:
        if shutil.which(compositor) is None:
            pytest.skip(f"needs {compositor} (ci/setup installs it)")
        procs.append(_Stopper(xs, xs.start_compositor(compositor)))
    client = ClientProc(xs.env, "--x", "60", "--y", "60", "--width", "420", "--height", "300", "--color", "00ff00")
    procs.append(client)
    other = ClientProc(
        xs.env, "--x", "560", "--y", "300", "--width", "320", "--height", "240", "--color", "ffff00", "--title", "o"
    )
    procs.append(other)
    args = ("--toggle", SUPERLESS_TOGGLE) if wm.takes_super else ()
    app = start_app(xs, desk.conn, procs, *args, pids=(client.pid, other.pid))
    if wm.takes_super:
        # A manager (re)started just before grabs its keys a moment after it announces itself: the program looks
        # again for a while after it starts (and after a new manager).
        line = app.wait_output(r"Mod4 hotkeys .*\n", stream="err", timeout_s=30).group(0)
        assert re.search(r"takes (Super_[LR](, )?)+ itself", line) and "Win95Keys=0" in line, line

    # The hotkey shows the focused window's chart, and only that one.
    toggle(desk, client.window)
    wait_for(lambda: shown(desk, client.window), 20, "the chart over the focused window only")
    # Under a compositor the chart's rows are blended over the window (it shows through, darkened); bare, the
    # overlay is cut to what the chart draws, and the window shows in full between its pieces.
    look = blended if compositor else cut_out
    wait_for(lambda: look(desk.band(client_rect(desk.conn, client.window))), 20, f"the chart {look.__name__}")

    # It follows moves and resizes (a tiling manager re-tiles instead; either way the overlay follows).
    client.command("move 90 80")
    client.command("resize 400 280")
    wait_for(lambda: shown(desk, client.window), 20, "the chart to follow the window")

    # Clicks on the chart reach the client.
    rect = client_rect(desk.conn, client.window)
    assert client.click(xs.env, rect.x + rect.width - 30, rect.y + 8) == f"button {rect.width - 30} 8"

    # A window above the client covers its chart too.
    if wm.overlapping:
        desk.activate(other.window)
        xdotool(xs.env, "windowmove", "--sync", str(other.window), str(rect.x + 20), str(rect.y + 10))
        covered = client_rect(desk.conn, other.window)
        probe = Rect(covered.x + 4, covered.y + 4, 60, 20)
        wait_for(lambda: desk.covered(probe), 20, "the other window over the chart")
        desk.activate(client.window)
        wait_for(lambda: shown(desk, client.window), 20, "the chart back on top with its window")

    # It leaves with its window and comes back with it.
    if wm.other_workspace is not None:
        desk.run(*wm.other_workspace)
        wait_for(lambda: hidden(desk), 20, "the chart to leave with its workspace")
        desk.run(*wm.first_workspace)
        wait_for(lambda: shown(desk, client.window), 20, "the chart back with its workspace")
    if wm.minimises:
        xdotool(xs.env, "windowminimize", "--sync", str(client.window))
        wait_for(lambda: hidden(desk), 20, "the chart to leave with its minimised window")
        _restore(desk, client.window)
        wait_for(lambda: shown(desk, client.window), 20, "the chart back with its restored window")
    if wm.fullscreen:
        desk.set_state(client.window, "FULLSCREEN", True)
        wait_for(lambda: client_rect(desk.conn, client.window).width == 1280, 20, "fullscreen")
        wait_for(lambda: shown(desk, client.window), 20, "the chart over the fullscreen window")
        desk.set_state(client.window, "FULLSCREEN", False)
        wait_for(lambda: client_rect(desk.conn, client.window).width < 1280, 20, "fullscreen to end")
        # Another window fullscreen covers the chart (i3 unmaps the frames under it), and gives it back.
        rect = client_rect(desk.conn, client.window)
        desk.activate(other.window)  # managers raise a fullscreen window over the others while it has the focus
        desk.set_state(other.window, "FULLSCREEN", True)
        wait_for(lambda: desk.covered(rect), 20, "the chart under a fullscreen window")
        desk.set_state(other.window, "FULLSCREEN", False)
        wait_for(lambda: client_rect(desk.conn, other.window).width < 1280, 20, "the other's fullscreen to end")
        desk.activate(client.window)
        wait_for(lambda: shown(desk, client.window), 20, "the chart back from under the fullscreen window")

    if wm.shades:
        desk.set_state(client.window, "SHADED", True)
        wait_for(lambda: hidden(desk), 20, "the chart to leave with its window rolled up")
        desk.set_state(client.window, "SHADED", False)
        wait_for(lambda: shown(desk, client.window), 20, "the chart back with its window rolled down")

    # The shown chart survives a restart of the window manager.
    xs.restart_wm()
    desk.activate(client.window)
    wait_for(lambda: shown(desk, client.window), 15, "the chart back after the manager restarted")

    # Closed, the window takes its overlay along.
    client.close()
    wait_for(lambda: overlays(desk.conn) == {}, 20, "the overlay gone with its window")
    assert app.finish() == 0
    assert "Traceback" not in app.err.decode()


def _restore(desk: Desk, window: int) -> None:
    if desk.wm.ewmh:
        activate(desk.xs.env, window)
    else:
        xdotool(desk.xs.env, "windowmap", "--sync", str(window))  # twm: deiconify by mapping, as ICCCM says


class _Stopper:
    """Stops a compositor when the test's processes are reaped."""

    def __init__(self, xs: Session, proc: subprocess.Popen[bytes]) -> None:
        self.xs, self.proc = xs, proc

    def close(self) -> None:
        self.xs.stop(self.proc)
