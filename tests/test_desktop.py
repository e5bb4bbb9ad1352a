"""The overlay program driven from inside: real windows under openbox, the program's actions called directly.

``OverlayApp`` runs in the test's process on its own connection, with a clock the test moves: a sample is
taken when the test steps the program after moving the clock, never because time passed.  Hotkeys are not
grabbed (no bindings): the tests call the actions the hotkeys would.
"""

from __future__ import annotations

import io
import os
import select
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_for
from x11_helpers import ClientProc, Session, new_session, xdotool
from Xlib import XK, X, Xatom
from Xlib.protocol import event

from vwm_overlay.chart.theme import premultiplied_pixel
from vwm_overlay.desktop import ACTIONS, AppConfig, OverlayApp, WindowView
from vwm_overlay.x11 import Connection
from vwm_overlay.x11.shm import NO_SHM_ENV

pytestmark = pytest.mark.x11


class Clock:
    """Time that moves only when told."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


class Driven:
    """An OverlayApp on its own connection, and the means to drive it."""

    def __init__(self, session: Session, output_dir: Path, *, show_all: bool = False) -> None:
        self.session = session
        self.clock = Clock()
        self.conn = Connection(session.display)
        self.out, self.err = io.StringIO(), io.StringIO()
        config = AppConfig(display=session.display, bindings={}, output_dir=output_dir, show_all=show_all)
        self.app = OverlayApp(self.conn, config, out=self.out, err=self.err, clock=self.clock)
        self.app.start()

    def pump(self, until: Callable[[], Any], what: str, timeout_s: float = 20.0) -> Any:
        """Feed the program the X events until ``until()`` is true (no samples taken)."""

        def step() -> Any:
            select.select([self.conn.fileno()], [], [], 0.02)
            self.app.handle(self.conn.events())
            self.conn.flush()
            return until()

        return wait_for(step, timeout_s, what)

    def samples(self, count: int) -> None:
        """Take ``count`` samples, one interval of the clock apart, each frame taken in by the server."""
        for _ in range(count):
            self.clock.now_s += self.app.schedule.interval_s
            self.app.step()
            self.settle()

    def settle(self) -> None:
        """Wait until the X server has read every frame sent (until then, a new frame would be skipped)."""
        self.pump(lambda: not any(v.overlay is not None and v.overlay.busy for v in self.app.views.values()), "frames")

    def view(self, client: ClientProc) -> WindowView:
        view: WindowView = self.pump(lambda: self.app.views.get(client.window), "the program to see the window")
        return view

    def focus(self, client: ClientProc) -> None:
        xdotool(self.session.env, "windowactivate", "--sync", str(client.window))
        self.pump(lambda: self.app.tracker.active_client() == client.window, "the focus on the window")

    def close(self) -> None:
        self.app.close()
        self.conn.close()


def mapped(conn: Connection, view: WindowView) -> bool:
    """Whether the view's overlay window is on screen, asked of the X server."""
    if view.overlay is None:
        return False
    return bool(conn.window(view.overlay.window.id).get_attributes().map_state == X.IsViewable)


def count_uploads(view: WindowView) -> list[int]:
    """Count the frames the view sends from now on (``counter[0]``)."""
    assert view.overlay is not None
    counter = [0]
    upload = view.overlay.upload

    def counted(*args: Any, **kwargs: Any) -> None:
        counter[0] += 1
        upload(*args, **kwargs)

    view.overlay.upload = counted  # type: ignore[method-assign]
    return counter


@pytest.fixture
def driven(xsession: Session, tmp_path: Path) -> Iterator[Driven]:
    if shutil.which("xdotool") is None:
        pytest.skip("needs xdotool")
    program = Driven(xsession, tmp_path / "charts")
    yield program
    program.close()


@pytest.fixture
def clients() -> Iterator[list[ClientProc]]:
    started: list[ClientProc] = []
    yield started
    for client in started:
        client.close()


def client(session: Session, clients: list[ClientProc], x: int, *args: str) -> ClientProc:
    proc = ClientProc(session.env, "--x", str(x), "--y", "60", "--width", "260", "--height", "180", *args)
    clients.append(proc)
    return proc


def test_every_action_has_a_test() -> None:
    # The actions below, one test each (toggle_all and rate_up/rate_down share theirs).
    assert set(ACTIONS) == {"toggle", "toggle_all", "rate_up", "rate_down", "pause", "discard", "save", "lanes"}


def test_toggle_shows_and_hides_the_focused_windows_chart(
    xsession: Session, driven: Driven, clients: list[ClientProc]
) -> None:
    one, other = client(xsession, clients, 40), client(xsession, clients, 400)
    view, other_view = driven.view(one), driven.view(other)
    driven.focus(one)
    driven.app.act("toggle")
    assert view.visible and mapped(driven.conn, view)
    assert not other_view.visible
    driven.app.act("toggle")
    assert not mapped(driven.conn, view), "hidden again"


def test_toggle_all_shows_every_chart_and_those_of_new_windows_then_hides_them(
    xsession: Session, driven: Driven, clients: list[ClientProc]
) -> None:
    views = [driven.view(client(xsession, clients, x)) for x in (40, 400)]
    driven.app.act("toggle_all")
    assert all(view.visible and mapped(driven.conn, view) for view in views)
    late = driven.view(client(xsession, clients, 760))
    assert late.visible, "a window that came after toggle-all shows its chart too"
    driven.app.act("toggle_all")
    assert not any(view.visible for view in [*views, late])


def test_rate_up_and_down_step_through_the_presets_and_redraw_every_heading(
    xsession: Session, driven: Driven, clients: list[ClientProc]
) -> None:
    view = driven.view(client(xsession, clients, 40))
    driven.app.act("toggle_all")
    driven.samples(2)
    frames = count_uploads(view)
    schedule = driven.app.schedule
    assert schedule.display_hertz == 10
    driven.app.act("rate_up")
    assert schedule.display_hertz == 20 and schedule.interval_s == pytest.approx(0.05)
    assert frames[0] == 1, "the heading shows the new rate at once, before the next sample"
    driven.settle()
    driven.app.act("rate_down")
    driven.settle()
    driven.app.act("rate_down")
    driven.settle()
    assert schedule.display_hertz == 1
    driven.app.act("rate_down")
    assert schedule.display_hertz == 1, "1 Hz is the slowest preset"
    assert frames[0] == 4


def test_pause_stops_sampling_and_a_second_press_resumes(
    xsession: Session, driven: Driven, clients: list[ClientProc]
) -> None:
    view = driven.view(client(xsession, clients, 40))
    driven.samples(3)
    before = view.chart.samples
    assert before >= 2
    driven.app.act("pause")
    assert driven.app.schedule.paused
    driven.samples(5)
    assert view.chart.samples == before
    driven.app.act("pause")
    driven.samples(2)
    assert view.chart.samples > before


def test_discard_forgets_the_exited_tasks_of_the_focused_chart(
    xsession: Session, driven: Driven, clients: list[ClientProc]
) -> None:
    # The client's process has a child shell whose own child exits a moment later and is reaped: an exited
    # task, a "snowflake".  (The client never reaps its own children: they would stay as zombies.)
    prefix = ["sh", "-c", 'sh -c "sleep 2; true" & exec "$0" "$@"']
    proc = ClientProc(xsession.env, "--x", "40", "--y", "60", prefix=prefix)
    clients.append(proc)
    view = driven.view(proc)

    def snowflake() -> bool:
        driven.samples(1)
        return view.chart.snowflake_count > 0

    wait_for(snowflake, 30, "the child to exit and show as an exited task")
    driven.focus(proc)
    driven.app.act("discard")
    assert view.chart.snowflake_count == 0


def test_lanes_shows_and_hides_the_io_and_memory_lanes_of_the_focused_chart(
    xsession: Session, driven: Driven, clients: list[ClientProc]
) -> None:
    one, other = client(xsession, clients, 40), client(xsession, clients, 400)
    view, other_view = driven.view(one), driven.view(other)
    driven.app.act("toggle_all")
    driven.samples(2)
    driven.focus(one)
    frames = count_uploads(view)
    driven.app.act("lanes")
    assert view.chart.lanes and not other_view.chart.lanes
    assert frames[0] == 1, "the lanes show at once, before the next sample"
    driven.settle()
    driven.app.act("lanes")
    assert not view.chart.lanes


def test_save_writes_the_focused_chart_and_says_so_when_nothing_has_the_focus(
    xsession: Session, driven: Driven, clients: list[ClientProc], tmp_path: Path
) -> None:
    one = client(xsession, clients, 40)
    driven.view(one)
    driven.samples(2)
    driven.focus(one)
    driven.app.act("save")
    path = Path(driven.out.getvalue().strip())
    assert path.parent == tmp_path / "charts" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The focus on no window the program monitors (the desktop, a remote window).
    driven.app.actions.focused = lambda: None
    driven.app.act("save")
    assert driven.err.getvalue() == "vwm-overlay: no chart to save: no monitored window has the focus\n"


def test_a_new_title_shows_in_the_heading_at_once_and_names_the_saved_chart(
    xsession: Session, driven: Driven, clients: list[ClientProc]
) -> None:
    one = client(xsession, clients, 40, "--title", "bash")
    view = driven.view(one)
    driven.app.act("toggle_all")
    driven.samples(2)
    heading_bytes = view.rect.width * 4 * view.chart.theme.row_px  # the first header row, 32 bits a pixel
    before = window_pixels(driven.conn, view)
    one.command("title vim notes.txt")
    driven.pump(lambda: view.name == "vim notes.txt", "the program to see the new title")
    driven.settle()
    after = window_pixels(driven.conn, view)
    assert view.chart.samples == 2, "no sample taken meanwhile"
    assert after[:heading_bytes] != before[:heading_bytes], "the heading shows the new title at once"
    assert after[heading_bytes:] == before[heading_bytes:], "nothing else changed"
    assert view.chart.header_texts()[0] == "\\/\\/\\ # vim notes.txt @ 10Hz"
    driven.focus(one)
    driven.app.act("save")
    assert Path(driven.out.getvalue().strip()).name.startswith(f"vim_notes.txt-{one.pid}-")
    # A save in the instant of a change, its notification not read yet, names the chart after the new title.
    one.command("title less log")
    driven.app.act("save")
    assert Path(driven.out.getvalue().splitlines()[-1]).name.startswith(f"less_log-{one.pid}-")
    assert view.chart.header_texts()[0] == "\\/\\/\\ # less log @ 10Hz"


def test_an_exposed_overlay_is_sent_again(xsession: Session, driven: Driven, clients: list[ClientProc]) -> None:
    view = driven.view(client(xsession, clients, 40))
    driven.app.act("toggle_all")
    driven.samples(2)
    driven.app.act("pause")  # no sample is due: the frame is sent at once, not with the next sample
    driven.settle()
    frames = count_uploads(view)
    assert view.overlay is not None
    # The X server keeps the pixels of a 32-bit overlay on a 24-bit screen itself (Composite redirects such a
    # window implicitly), so it sends Expose only where the overlay's shape grew; here another client sends it.
    with Connection(xsession.display) as other:
        exposed = event.Expose(window=other.window(view.overlay.window.id), x=0, y=0, width=50, height=20, count=0)
        other.window(view.overlay.window.id).send_event(exposed, event_mask=X.ExposureMask)
        other.sync()
        driven.pump(lambda: frames[0] >= 1, "the overlay to be sent again")
    assert frames[0] == 1


def test_after_a_window_manager_restart_overlays_follow_the_new_frames(tmp_path: Path) -> None:
    if shutil.which("openbox") is None:
        pytest.skip("needs openbox")
    with new_session(wm="openbox") as session:
        procs: list[ClientProc] = []
        program = Driven(session, tmp_path, show_all=True)
        try:
            proc = client(session, procs, 120)
            view = program.view(proc)
            program.pump(lambda: view.visible, "the chart over the window")
            old_frame = view.frame
            assert session.wm_proc is not None
            session.stop(session.wm_proc)
            session.start_wm("openbox")

            def followed() -> bool:
                tracked = program.app.tracker.get(proc.window)
                return (
                    tracked is not None
                    and view.frame == tracked.frame != old_frame
                    and view.overlay is not None
                    and view.overlay.rect == tracked.rect
                    and mapped(program.conn, view)
                )

            program.pump(followed, "the overlay over the window in its new frame")
        finally:
            program.close()
            for each in procs:
                each.close()


def marker_runs(view: WindowView) -> list[tuple[int, int]]:
    """``(y, height)`` of every vertical run of start-marker pixels in the chart's graph layer."""
    graph = view.chart.layers.graph
    graph.flush()
    data, stride = bytes(graph.get_data()), graph.get_stride()
    mark = premultiplied_pixel(view.chart.theme.graph_both).to_bytes(4, "little")
    runs = set()
    for x in range(graph.get_width()):
        y = 0
        while y < graph.get_height():
            if data[y * stride + 4 * x : y * stride + 4 * x + 4] != mark:
                y += 1
                continue
            top = y
            while y < graph.get_height() and data[y * stride + 4 * x : y * stride + 4 * x + 4] == mark:
                y += 1
            runs.add((top, y - top))
    return sorted(runs)


def test_the_charts_are_scaled_to_the_screens_xft_dpi(
    xsession: Session, clients: list[ClientProc], tmp_path: Path
) -> None:
    if shutil.which("xdotool") is None:
        pytest.skip("needs xdotool")
    with Connection(xsession.display) as setter:
        manager = setter.atom("RESOURCE_MANAGER")
        setter.root.change_property(manager, Xatom.STRING, 8, b"Xft.antialias:\t1\nXft.dpi:\t192\n")
        setter.sync()
        program = Driven(xsession, tmp_path, show_all=True)
        try:
            proc = ClientProc(xsession.env, "--x", "40", "--y", "60", "--width", "400", "--height", "400")
            clients.append(proc)
            view = program.view(proc)
            program.samples(2)
            # Two children started while charted: each row begins with a solid start marker over its bar.
            for _ in range(2):
                proc.command("child")

            def both_started() -> bool:
                program.samples(1)
                return len(marker_runs(view)) >= 2

            wait_for(both_started, 30, "the children's rows")
            assert view.visible and view.chart.theme.row_px == 30
            # Three heading rows and the client's, then a 29 px bar and a 1 px divider per row: 30 px rows.
            assert marker_runs(view) == [(4 * 30, 29), (5 * 30, 29)]
        finally:
            program.close()
            setter.root.delete_property(manager)
            setter.sync()


class CountingSocket:
    """An X connection's socket that counts the bytes sent through it."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.sent = 0

    def send(self, data: bytes) -> int:
        sent: int = self.sock.send(data)
        self.sent += sent
        return sent

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def window_pixels(conn: Connection, view: WindowView) -> bytes:
    """The overlay window's pixels (alpha included), as the server holds them."""
    assert view.overlay is not None
    conn.sync()
    rect = view.rect
    reply = conn.window(view.overlay.window.id).get_image(0, 0, rect.width, rect.height, X.ZPixmap, 0xFFFFFFFF)
    return bytes(reply.data)


def both_ways(program: Driven, view: WindowView) -> tuple[bytes, bytes]:
    """The window as the layers sent it, then as a whole frame of the same chart shows it."""
    lean = window_pixels(program.conn, view)
    view.lean = False
    view.invalidate()
    program.app.step()
    whole = window_pixels(program.conn, view)
    view.lean = True
    view.invalidate()
    program.app.step()
    return lean, whole


def test_without_shared_memory_a_sample_sends_its_changes_not_the_frame(
    xsession: Session, clients: list[ClientProc], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("xdotool") is None:
        pytest.skip("needs xdotool")
    monkeypatch.setenv(NO_SHM_ENV, "1")
    program = Driven(xsession, tmp_path, show_all=True)
    try:
        proc = ClientProc(xsession.env, "--x", "20", "--y", "20", "--width", "800", "--height", "700")
        clients.append(proc)
        view = program.view(proc)
        for _ in range(39):
            proc.command("child")
        row_px = view.chart.theme.row_px

        def forty_rows() -> bool:
            program.samples(1)
            return view.chart.composed_height >= (3 + 40) * row_px

        wait_for(forty_rows, 20, "a chart of 40 rows")
        assert view.overlay is not None and view.overlay.put_image_only
        program.samples(3)
        counting = CountingSocket(program.conn.display.display.socket)
        program.conn.display.display.socket = counting  # type: ignore[assignment]
        samples = 20
        program.samples(samples)
        bytes_per_sample = counting.sent / samples
        # A whole frame is 800 x 645 x 4 bytes, over 2 MB.
        assert bytes_per_sample < 16 * 1024, bytes_per_sample
        lean, whole = both_ways(program, view)
        assert lean == whole

        # A task gone (a zombie now: its text changes) and one more (a row added); then rows scroll on.
        children = [int(pid) for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        os.kill(children[5], signal.SIGKILL)
        proc.command("child")
        program.samples(5)
        lean, whole = both_ways(program, view)
        assert lean == whole
    finally:
        program.close()


def test_a_modifier_key_the_window_manager_grabs_after_the_program_started_is_told(
    xsession: Session, tmp_path: Path
) -> None:
    """A manager announces itself, then grabs its keys: the program looks again for a while, and tells once."""
    clock = Clock()
    err = io.StringIO()
    with Connection(xsession.display) as conn, Connection(xsession.display) as manager:
        config = AppConfig(display=xsession.display, bindings={"toggle": "Mod4+semicolon"}, output_dir=tmp_path)
        app = OverlayApp(conn, config, out=io.StringIO(), err=err, clock=clock)
        app.start()
        conn.sync()  # its look at the keys is over: the grab below never meets its own of a moment
        try:
            assert "Mod4" not in err.getvalue()
            super_l = manager.display.keysym_to_keycode(XK.string_to_keysym("Super_L"))
            manager.root.grab_key(super_l, 0, False, X.GrabModeAsync, X.GrabModeAsync)  # as icewm's Win95Keys
            manager.sync()
            for _ in range(40):  # 20 s of the program's clock, half a second a step
                clock.now_s += 0.5
                app.step()
            assert err.getvalue().count("takes Super_L itself") == 1, err.getvalue()
        finally:
            app.close()
