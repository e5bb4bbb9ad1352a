"""The overlay program end to end: ``python -m vwm_overlay`` beside openbox, driven with xdotool.

The program runs as a real subprocess; what it does is read back from the X
server (its overlay windows, screenshots, Xvfb's framebuffer for the blend) and
from /proc (the stat files its monitor keeps open tell which processes it follows).
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_for
from x11_helpers import HERE, ClientProc, Session, end_trouble, new_session, set_screen_size, trouble, xdotool
from Xlib import XK, X
from Xlib import error as xerror
from Xlib.ext import res

from vwm_overlay.x11 import Connection, Image, Rect, grab_root, read_xwd

pytestmark = pytest.mark.x11

#: What a test started (clients, the program, helpers), for the fixture to reap.
Procs = list[Any]

GREEN = (0, 255, 0)
YELLOW = (255, 255, 0)
BUSY_WINDOW = os.path.join(os.path.dirname(HERE), "examples", "busy_window.py")
HEADER_PX = 45  # the chart's three header rows are always composed


@pytest.fixture
def conn(xs: Session) -> Iterator[Connection]:
    with Connection(xs.display) as connection:
        yield connection


@pytest.fixture
def procs() -> Iterator[list[ClientProc | AppProc | subprocess.Popen[bytes]]]:
    """Everything a test starts; reaped newest first, whatever happened."""
    started: list[ClientProc | AppProc | subprocess.Popen[bytes]] = []
    yield started
    for proc in reversed(started):
        if isinstance(proc, subprocess.Popen):
            if proc.poll() is None:
                proc.terminate()
            proc.wait(timeout=10)
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
        else:
            proc.close()


class AppProc:
    """``python -m vwm_overlay ARGS`` with its output collected."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vwm_overlay", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.pid = self.proc.pid
        self.out = b""
        self.err = b""

    def read(self, timeout_s: float = 0.0) -> None:
        """Collect what the program printed (waiting up to ``timeout_s`` for something)."""
        pipes = [p for p in (self.proc.stdout, self.proc.stderr) if p is not None and not p.closed]
        ready, _, _ = select.select(pipes, [], [], timeout_s)
        for pipe in ready:
            chunk = os.read(pipe.fileno(), 65536)
            if pipe is self.proc.stdout:
                self.out += chunk
            else:
                self.err += chunk

    def wait_output(self, pattern: str, *, stream: str = "out", timeout_s: float = 30.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while True:
            match = re.search(pattern, (self.out if stream == "out" else self.err).decode())
            if match:
                return match
            left = deadline - time.monotonic()
            assert left > 0, f"the program never printed {pattern!r}; stderr: {self.err.decode()!r}"
            self.read(min(left, 0.1))

    def finish(self, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        status = self.proc.wait(timeout=timeout_s)
        self.out += self.proc.stdout.read() if self.proc.stdout else b""
        self.err += self.proc.stderr.read() if self.proc.stderr else b""
        return status

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


# -- what the program does, seen from outside ------------------------------------------------------


def monitored(pid: int) -> Counter[int]:
    """How many ``/proc/N/stat`` files the program keeps open, by N (one per monitored task)."""
    found: Counter[int] = Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            match = re.fullmatch(r"/proc/(\d+)/stat", os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
        if match:
            found[int(match.group(1))] += 1
    return found


def connected(conn: Connection, pid: int) -> bool:
    """Whether process ``pid`` has a connection to the X server (asked through X-Resource)."""
    reply = conn.display.res_query_client_ids([(0, res.LocalClientPIDMask)])
    return any(ident.value and ident.value[0] == pid for ident in reply.ids)


def key_taken(conn: Connection, keys: str = "semicolon", modifiers: int = X.Mod4Mask) -> bool:
    """Whether another client holds the grab (the program is up once it holds its hotkeys)."""
    code = conn.display.keysym_to_keycode(XK.string_to_keysym(keys))
    catch = xerror.CatchError(xerror.BadAccess)
    conn.root.grab_key(code, modifiers, False, X.GrabModeAsync, X.GrabModeAsync, onerror=catch)
    conn.sync()
    if catch.get_error() is None:
        conn.root.ungrab_key(code, modifiers)
        conn.sync()
        return False
    return True


def overlays(conn: Connection) -> dict[int, tuple[Rect, bool]]:
    """The program's overlay windows: geometry and whether mapped."""
    found = {}
    for child in conn.root.query_tree().children:
        try:
            if child.get_wm_name() != "vwm-overlay":
                continue
            geometry, attrs = child.get_geometry(), child.get_attributes()
        except (xerror.BadWindow, xerror.BadDrawable):
            continue  # destroyed while we looked: GetGeometry reports it as a drawable
        rect = Rect(geometry.x, geometry.y, geometry.width, geometry.height)
        found[child.id] = (rect, attrs.map_state == X.IsViewable)
    return found


def shown_over(conn: Connection, rect: Rect) -> bool:
    return any(r == rect and mapped for r, mapped in overlays(conn).values())


def client_rect(conn: Connection, window: int) -> Rect:
    coords = conn.root.translate_coords(window, 0, 0)
    geometry = conn.window(window).get_geometry()
    return Rect(coords.x, coords.y, geometry.width, geometry.height)


def pixels(image: Image, rect: Rect, rows: int) -> Counter[tuple[int, int, int]]:
    return Counter(image.pixel(x, y) for y in range(rect.y, rect.y + rows) for x in range(rect.x, rect.x + rect.width))


def start_app(
    xs: Session,
    conn: Connection,
    procs: Procs,
    *args: str,
    pids: tuple[int, ...] = (),
    env: dict[str, str] | None = None,
) -> AppProc:
    """Start the program and wait until it is connected and monitors ``pids``.

    It grabs its hotkeys before it looks for windows, so once it monitors a window's process its hotkeys work.
    (Probing the grabs from here instead would race with them.)
    """
    app = AppProc(xs.env if env is None else env, *args)
    procs.append(app)
    wait_for(lambda: app.proc.poll() is not None or connected(conn, app.pid), 15, "the program to connect")
    assert app.proc.poll() is None, f"the program exited: {app.finish()} {app.err.decode()}"
    wait_for(lambda: all(monitored(app.pid)[pid] for pid in pids), 30, f"the program to monitor {pids}")
    return app


def busy_window(xs: Session, procs: Procs, *args: str) -> tuple[int, list[int]]:
    proc = subprocess.Popen(
        [sys.executable, BUSY_WINDOW, "--busy", "0.1", *args], env=xs.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    procs.append(proc)
    assert proc.stdout is not None
    words = proc.stdout.readline().split()
    assert words[:1] == [b"ready"], words
    return int(words[1]), [int(w) for w in words[2:]]


def press(xs: Session, window: int, keys: str) -> None:
    xdotool(xs.env, "windowactivate", "--sync", str(window))
    xdotool(xs.env, "key", "--clearmodifiers", keys)


# -- the tests ---------------------------------------------------------------------------------------


def test_a_hotkey_shows_the_chart_over_the_focused_window_and_clicks_go_through(
    xs: Session, conn: Connection, procs: Procs
) -> None:
    client = ClientProc(xs.env, "--x", "80", "--y", "80", "--width", "420", "--height", "260", "--color", "00ff00")
    procs.append(client)
    app = start_app(xs, conn, procs, pids=(client.pid,))
    rect = client_rect(conn, client.window)
    assert not shown_over(conn, rect)

    press(xs, client.window, "super+semicolon")
    wait_for(lambda: shown_over(conn, rect), what="the overlay over the client")

    def chart_and_client_visible() -> tuple[int, int] | None:
        # No compositor: the overlay is cut to what the chart draws, so the client shows between its pieces.
        seen = pixels(grab_root(conn), rect, HEADER_PX)
        drawn = sum(n for rgb, n in seen.items() if rgb != GREEN)
        return (drawn, seen[GREEN]) if drawn > 200 and seen[GREEN] > 200 else None

    wait_for(chart_and_client_visible, what="chart pixels with the client's between them")

    # A click on a drawn pixel of the chart reaches the client under it.
    image = grab_root(conn)
    x, y = next(
        (x, y)
        for y in range(rect.y + 2, rect.y + HEADER_PX)
        for x in range(rect.x + rect.width - 1, rect.x, -1)
        if image.pixel(x, y) != GREEN
    )
    assert client.click(xs.env, x, y) == f"button {x - rect.x} {y - rect.y}"

    press(xs, client.window, "super+semicolon")
    wait_for(lambda: not shown_over(conn, rect), what="the overlay to go")
    wait_for(lambda: pixels(grab_root(conn), rect, HEADER_PX)[GREEN] == rect.width * HEADER_PX)
    assert app.finish() == 0


def test_the_overlay_follows_its_window(xs: Session, conn: Connection, procs: Procs) -> None:
    client = ClientProc(xs.env, "--x", "600", "--y", "100", "--color", "00ff00")
    procs.append(client)
    app = start_app(xs, conn, procs, pids=(client.pid,))
    press(xs, client.window, "super+semicolon")
    wait_for(lambda: shown_over(conn, client_rect(conn, client.window)), what="the overlay over the client")

    before = client_rect(conn, client.window)
    client.command("move 650 160")
    wait_for(lambda: client_rect(conn, client.window) != before, what="the client to move")
    wait_for(lambda: shown_over(conn, client_rect(conn, client.window)), what="the overlay to move along")
    client.command("resize 360 240")
    wait_for(
        lambda: (client_rect(conn, client.window).width, client_rect(conn, client.window).height) == (360, 240),
        what="the client to resize",
    )
    wait_for(lambda: shown_over(conn, client_rect(conn, client.window)), what="the overlay to resize along")
    rect = client_rect(conn, client.window)

    # A window raised over the client covers its overlay too.
    wait_for(lambda: pixels(grab_root(conn), rect, HEADER_PX)[GREEN] < rect.width * HEADER_PX, what="the chart")
    cover = ClientProc(xs.env, "--x", str(rect.x - 20), "--y", str(rect.y - 40), "--color", "ffff00", "--title", "c")
    procs.append(cover)
    probe = Rect(rect.x + 10, rect.y + 10, 150, 30)
    wait_for(
        lambda: pixels(grab_root(conn), probe, probe.height)[YELLOW] == probe.width * probe.height,
        what="the cover above the overlay",
    )
    cover.close()

    # Minimised, the window keeps its overlay, hidden until the window comes back.
    xdotool(xs.env, "windowminimize", "--sync", str(client.window))
    wait_for(lambda: not shown_over(conn, rect), what="the overlay to hide with its window")
    xdotool(xs.env, "windowactivate", "--sync", str(client.window))
    wait_for(lambda: shown_over(conn, client_rect(conn, client.window)), what="the overlay back with its window")
    # Withdrawn (unmapped by the client), the window takes its overlay along, and its shown chart comes back with
    # it (as when a window manager restarts); closed, it takes the chart for good.
    client.command("unmap")
    wait_for(lambda: overlays(conn) == {}, what="the overlay destroyed with its withdrawn window")
    client.command("map")
    wait_for(lambda: shown_over(conn, client_rect(conn, client.window)), what="the chart back with the window")
    client.close()
    wait_for(lambda: overlays(conn) == {}, what="the overlay destroyed with its window")
    assert app.finish() == 0


def test_two_windows_of_one_process_share_its_monitor_and_a_window_without_pid_is_found(
    xs: Session, conn: Connection, procs: Procs
) -> None:
    pid, windows = busy_window(xs, procs, "--windows", "2", "--children", "1", "--threads", "1", "--x", "100")
    anonymous = ClientProc(xs.env, "--x", "800", "--y", "400", "--pid", "none", "--color", "00ff00")
    procs.append(anonymous)
    app = start_app(xs, conn, procs, "--show-all", pids=(pid, anonymous.pid))

    def all_shown() -> bool:
        return all(shown_over(conn, client_rect(conn, w)) for w in [*windows, anonymous.window])

    wait_for(all_shown, what="an overlay over each window")
    assert monitored(app.pid)[pid] == 1
    assert monitored(app.pid)[anonymous.pid] == 1
    assert app.finish() == 0


def test_a_taken_hotkey_is_reported_the_rest_work_and_sigterm_cleans_up(
    xs: Session, conn: Connection, procs: Procs
) -> None:
    client = ClientProc(xs.env, "--x", "120", "--y", "420", "--color", "00ff00")
    procs.append(client)
    with Connection(xs.display) as other:
        code = other.display.keysym_to_keycode(XK.string_to_keysym("z"))
        other.root.grab_key(code, X.Mod4Mask, False, X.GrabModeAsync, X.GrabModeAsync)
        other.sync()
        app = start_app(xs, conn, procs, pids=(client.pid,))
        app.wait_output(r"Mod4\+z", stream="err")
        assert app.err.decode().splitlines() == [
            "vwm-overlay: Mod4+z is taken by another client (pause); bind another key with --pause KEYS"
        ]
        press(xs, client.window, "super+semicolon")
        rect = client_rect(conn, client.window)
        wait_for(lambda: shown_over(conn, rect), what="the overlay, with another hotkey taken")

    assert app.finish(signal.SIGTERM) == 0
    assert overlays(conn) == {}
    assert not key_taken(conn)
    assert app.err.decode().count("\n") == 1


def test_overlays_follow_a_screen_change(procs: Procs) -> None:
    """A monitor change (RandR) that leaves a window out of the screen takes its chart away, and back."""
    with new_session() as session, Connection(session.display) as conn:
        client = ClientProc(session.env, "--x", "1100", "--y", "100", "--width", "150", "--color", "00ff00")
        procs.append(client)
        app = start_app(session, conn, procs, "--show-all", pids=(client.pid,))
        rect = client_rect(conn, client.window)
        wait_for(lambda: shown_over(conn, rect), what="the overlay")
        set_screen_size(conn, 1024, 768)
        wait_for(lambda: list(overlays(conn).values()) == [(rect, False)], what="the overlay hidden off the screen")
        set_screen_size(conn, 1280, 800)
        wait_for(lambda: shown_over(conn, rect), what="the overlay back on the wider screen")
        assert app.finish() == 0


def test_under_a_wayland_session_one_line_says_only_xwayland_windows_are_charted(
    xs: Session, conn: Connection, procs: Procs
) -> None:
    app = start_app(xs, conn, procs, env=dict(xs.env, XDG_SESSION_TYPE="wayland"))
    app.wait_output(r"Wayland.*\n", stream="err")
    assert app.finish() == 0
    assert app.err.decode().splitlines() == [
        "vwm-overlay: a Wayland session: only Xwayland windows (X11 programs) can be charted"
    ]


def test_the_save_hotkey_writes_a_png(xs: Session, conn: Connection, procs: Procs, tmp_path: Path) -> None:
    client = ClientProc(xs.env, "--x", "300", "--y", "300", "--width", "380", "--height", "220")
    procs.append(client)
    app = start_app(xs, conn, procs, "--output-dir", str(tmp_path / "charts"), pids=(client.pid,))
    press(xs, client.window, "super+s")
    path = Path(app.wait_output(r"(\S+\.png)\n").group(1))
    assert path.parent == tmp_path / "charts"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (380, 220)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    assert app.finish(signal.SIGINT) == 0


def test_a_chart_saved_after_the_title_changed_is_named_after_the_new_title(
    xs: Session, conn: Connection, procs: Procs, tmp_path: Path
) -> None:
    client = ClientProc(xs.env, "--x", "300", "--y", "300", "--title", "bash")
    procs.append(client)
    app = start_app(xs, conn, procs, "--output-dir", str(tmp_path), pids=(client.pid,))
    client.command("title make -j2 äöü")
    # The program reads a new title once it has read the events queued meanwhile (a key press may be one): a chart
    # saved at once may still carry the old title.
    names: list[str] = []

    def saved_under_the_new_title() -> bool:
        press(xs, client.window, "super+s")
        app.wait_output(rf"(?:\S+\.png\n){{{len(names) + 1}}}")
        names[:] = [Path(path).name for path in re.findall(r"(\S+\.png)\n", app.out.decode())]
        return names[-1].startswith(f"make_-j2_äöü-{client.pid}-")

    wait_for(saved_under_the_new_title, 30, "a chart saved under the new title")
    assert all(name.startswith(("bash-", "make_-j2_äöü-")) for name in names), names
    assert app.finish() == 0


def test_with_a_compositor_the_chart_is_blended_over_the_window(
    fbsession: tuple[Session, Path], conn: Connection, procs: Procs
) -> None:
    xs, framebuffer = fbsession
    client = ClientProc(xs.env, "--x", "700", "--y", "420", "--color", "00ff00")
    procs.append(client)
    compositor = xs.start_compositor()
    try:
        app = start_app(xs, conn, procs, "--show-all", pids=(client.pid,))
        rect = client_rect(conn, client.window)
        wait_for(lambda: shown_over(conn, rect), what="the overlay")

        def dimmed() -> bool:
            # The window shows through the chart's rows, darkened by the translucent underlay.
            seen = pixels(read_xwd(str(framebuffer)), rect, HEADER_PX)
            dark_green = sum(n for (r, g, b), n in seen.items() if r < 30 and 60 < g < 160 and b < 30)
            return dark_green > rect.width * HEADER_PX // 4 and seen[GREEN] == 0

        wait_for(dimmed, what="the chart blended over the client")
    finally:
        xs.stop(compositor)
    # Without the compositor the overlay is cut to its drawn pixels again: the client shows in full green.
    wait_for(lambda: pixels(grab_root(conn), rect, HEADER_PX)[GREEN] > 200, what="the cut-out after the compositor")
    assert app.finish() == 0


@pytest.mark.parametrize("excluded", [False, True], ids=["picom-defaults", "readme-exclusions"])
def test_the_readme_picom_rules_keep_shadows_off_the_chart(
    fbsession: tuple[Session, Path], conn: Connection, procs: Procs, tmp_path: Path, excluded: bool
) -> None:
    if shutil.which("picom") is None:
        pytest.skip("needs picom (ci/setup installs it)")
    xs, framebuffer = fbsession
    readme = (Path(HERE).parent / "README.md").read_text()
    rules = [line for line in readme.splitlines() if "class_g = 'VwmOverlay'" in line]
    assert len(rules) == 2
    config = tmp_path / "picom.conf"
    config.write_text("shadow = true;\n" + ("\n".join(rules) + "\n" if excluded else ""))
    client = ClientProc(xs.env, "--x", "300", "--y", "300", "--width", "400", "--height", "240", "--color", "00ff00")
    procs.append(client)
    compositor = xs.start_compositor("picom", str(config))
    try:
        app = start_app(xs, conn, procs, pids=(client.pid,))
        rect = client_rect(conn, client.window)
        # picom's default shadow falls 15 px up and left of a window: on the frame around the client.
        around = Rect(rect.x - 12, rect.y - 12, rect.width, 10)

        def seen() -> list[tuple[int, int, int]]:
            image = read_xwd(str(framebuffer))
            return [
                image.pixel(x, y)
                for y in range(around.y, around.y + around.height)
                for x in range(around.x, around.x + around.width)
            ]

        def still() -> list[tuple[int, int, int]] | None:
            first = seen()
            return first if seen() == first else None

        before = wait_for(still, what="the frame to stop changing")
        press(xs, client.window, "super+semicolon")
        wait_for(lambda: shown_over(conn, rect), what="the overlay")
        wait_for(lambda: pixels(read_xwd(str(framebuffer)), rect, HEADER_PX)[GREEN] == 0, what="the chart blended")
        if excluded:
            assert seen() == before, "no shadow of the overlay on the frame"
        else:
            wait_for(lambda: seen() != before, what="the overlay's shadow on the frame")
        assert app.finish() == 0
    finally:
        xs.stop(compositor)


def test_losing_the_x_server_ends_the_program_with_status_3(procs: Procs) -> None:
    with new_session() as session, Connection(session.display) as conn:
        client = ClientProc(session.env)
        procs.append(client)
        app = start_app(session, conn, procs, pids=(client.pid,))
        assert session.xvfb_proc is not None
        session.xvfb_proc.kill()
        assert app.finish(sig=0) == 3
    lines = app.err.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vwm-overlay: lost the connection to X display"), lines


@pytest.mark.parametrize("display", [None, ":4097"])
def test_no_usable_display_is_status_2(display: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    args = [] if display is None else ["--display", display]
    done = subprocess.run(
        [sys.executable, "-m", "vwm_overlay", *args], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "X display" in done.stderr, done.stderr


def test_windows_coming_and_going_in_thousands_neither_wedge_nor_stop_it(
    xs: Session, conn: Connection, procs: Procs
) -> None:
    # openbox rewrites _NET_CLIENT_LIST on every map and destroy: the list shrinks between the program's reads.
    app = start_app(xs, conn, procs, "--show-all")
    storm = trouble(xs, procs, "storm", "--windows", "20", "--rounds", "600")
    assert storm.wait(timeout=120) == 0
    assert end_trouble(storm) == 20 * 600
    client = ClientProc(xs.env, "--x", "500", "--y", "200", "--color", "00ff00")
    procs.append(client)
    wait_for(lambda: monitored(app.pid)[client.pid], 30, "the program to monitor a window after the storm")
    wait_for(lambda: shown_over(conn, client_rect(conn, client.window)), 30, "a chart over it")
    assert app.finish(timeout_s=5) == 0
    assert app.err == b"", app.err.decode()


def test_a_client_rewriting_a_property_in_a_loop_does_not_freeze_it(procs: Procs) -> None:
    # With no window manager: a flood like this one freezes openbox itself, and no new window would map.
    with new_session() as session, Connection(session.display) as conn:
        first = ClientProc(session.env, "--x", "500", "--y", "40")
        procs.append(first)
        app = start_app(session, conn, procs, "--show-all", pids=(first.pid,))
        flood = trouble(session, procs, "props")
        try:
            wait_for(lambda: monitored(app.pid)[flood.pid], 30, "the program to monitor the flooding window")
            # While the flood goes on, a new window is still found and charted, and a signal still ends the program.
            client = ClientProc(session.env, "--x", "60", "--y", "420", "--color", "00ff00")
            procs.append(client)
            # Not at once: what the client sent before the program stopped listening to it is read first, and on
            # a loaded machine that backlog takes tens of seconds to read.
            wait_for(lambda: monitored(app.pid)[client.pid], 80, "the program to monitor a window during the flood")
            wait_for(lambda: shown_over(conn, client_rect(conn, client.window)), 20, "a chart over it")
            assert app.finish(timeout_s=5) == 0
        finally:
            writes = end_trouble(flood)
            client.close()
    assert writes > 1000
    assert b"Traceback" not in app.err, app.err.decode()


def test_a_second_instance_with_every_hotkey_taken_says_so_and_ends(
    xs: Session, conn: Connection, procs: Procs
) -> None:
    client = ClientProc(xs.env, "--x", "120", "--y", "420")
    procs.append(client)
    first = start_app(xs, conn, procs, pids=(client.pid,))
    second = AppProc(xs.env)
    procs.append(second)
    wait_for(lambda: second.proc.poll() is not None, 30, "the second instance to end")
    assert second.finish() == 2
    assert second.err.decode().splitlines() == [
        "vwm-overlay: no hotkey could be had: all are taken by another client (is vwm-overlay running already?); "
        "bind others with --ACTION KEYS, or start with --show-all"
    ]
    # With --show-all it has something to do: it runs, and says which keys it could not have.
    shows = start_app(xs, conn, procs, "--show-all", pids=(client.pid,))
    shows.wait_output("Mod4\\+semicolon is taken by another client", stream="err")
    assert shows.finish() == 0 and first.finish() == 0


@pytest.mark.parametrize("signals", [1, 2])
def test_sigterm_ends_it_even_when_the_x_server_stopped_answering(procs: Procs, signals: int) -> None:
    with new_session() as session, Connection(session.display) as conn:
        client = ClientProc(session.env, "--x", "40", "--y", "40")
        procs.append(client)
        app = start_app(session, conn, procs, "--show-all", pids=(client.pid,))
        wait_for(lambda: shown_over(conn, client_rect(conn, client.window)), 30, "a chart over the window")
        assert session.xvfb_proc is not None
        session.xvfb_proc.send_signal(signal.SIGSTOP)
        try:
            # The cleanup waits for the server's answer in vain; the program does not wait for it for long, nor at
            # all once asked again (GNU timeout signals twice).
            if signals == 2:
                # Again and again until it ends: signals sent together are one (a pending signal is not queued
                # twice).
                deadline = time.monotonic() + 5
                while app.proc.poll() is None and time.monotonic() < deadline:
                    app.proc.send_signal(signal.SIGTERM)
                    select.select([], [], [], 0.02)
            assert app.finish(signal.SIGTERM, timeout_s=5) == 0
        finally:
            session.xvfb_proc.send_signal(signal.SIGCONT)
    why = "the X server did not answer in time" if signals == 1 else "asked again to quit"
    assert app.err.decode().splitlines() in ([], [f"vwm-overlay: {why}; quit without cleaning up"])


def test_a_window_claiming_pid_2_is_monitored_as_its_real_process(xs: Session, conn: Connection, procs: Procs) -> None:
    client = ClientProc(xs.env, "--x", "200", "--y", "150", "--pid", "2")
    procs.append(client)
    app = start_app(xs, conn, procs, pids=(client.pid,))
    assert monitored(app.pid)[2] == 0
    assert app.finish() == 0
    assert app.err.decode().splitlines() == [
        f"vwm-overlay: window 0x{client.window:x}: _NET_WM_PID says 2, the X server says {client.pid} "
        "(a pid namespace?); using the X server's pids where they differ"
    ]
