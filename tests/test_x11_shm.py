"""Overlay frames through MIT-SHM under Xvfb, and the PutImage fallback when shared memory is off."""

from __future__ import annotations

import os
from collections.abc import Iterator

import cairocffi
import pytest
from polling import wait_for
from x11_helpers import ClientProc, Pump, Session

from vwm_overlay.x11 import ClientAdded, ClientTracker, Connection, Image, OverlayWindow, Rect, grab_root
from vwm_overlay.x11.shm import NO_SHM_ENV, Segment, shm_for

pytestmark = pytest.mark.x11

GREEN = (0, 255, 0)  # the client's background
BLUE = (0, 0, 255)  # an opaque bar the chart draws


@pytest.fixture
def pump(xsession: Session) -> Iterator[Pump]:
    with Connection(xsession.display) as conn:
        tracker = ClientTracker(conn)
        tracker.start()
        yield Pump(conn, tracker)


def our_segments() -> list[str]:
    """Lines of /proc/sysvipc/shm for segments this process created (its ``cpid``)."""
    with open("/proc/sysvipc/shm") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return [" ".join(row) for row in rows if int(row[4]) == os.getpid()]


def draw(surface: cairocffi.ImageSurface, bar_width: int) -> None:
    """An opaque blue bar in the first row, a half-transparent red one in the third, transparent between."""
    ctx = cairocffi.Context(surface)
    ctx.set_operator(cairocffi.OPERATOR_SOURCE)
    ctx.set_source_rgba(0, 0, 0, 0)
    ctx.paint()
    ctx.set_source_rgba(0, 0, 1, 1)
    ctx.rectangle(0, 0, bar_width, 15)
    ctx.fill()
    ctx.set_source_rgba(1, 0, 0, 0.5)
    ctx.rectangle(0, 30, bar_width, 15)
    ctx.fill()


def screen_shows(conn: Connection, probes: dict[tuple[int, int], tuple[int, int, int]]) -> Image | None:
    image = grab_root(conn)
    return image if all(image.pixel(x, y) == rgb for (x, y), rgb in probes.items()) else None


def is_busy(overlay: OverlayWindow) -> bool:
    return overlay.busy


def wait_until_idle(conn: Connection, overlay: OverlayWindow) -> None:
    """Read events until the server is done with the overlay's last frame (as the application's loop does)."""

    def idle() -> bool:
        conn.sync()
        conn.events()
        return not overlay.busy

    wait_for(idle, what="the completion of the shared-memory upload")


def frames_over_a_client(pump: Pump, client: ClientProc, *, shm: bool) -> None:
    """Two frames composed into the overlay's own surface show over the client, each where it was drawn."""
    conn = pump.conn
    added = pump.until(ClientAdded, client.window)
    r = added.rect
    overlay = OverlayWindow(conn, r, above=added.frame, composited=False, shm=shm)
    try:
        overlay.show()
        surface = overlay.surface(r.width, r.height)
        assert overlay.shared is shm
        draw(surface, 100)
        overlay.upload(surface, 45)
        conn.flush()
        probes = {
            (r.x + 10, r.y + 5): BLUE,  # drawn
            (r.x + 10, r.y + 20): GREEN,  # a transparent row: cut out by the shape
            (r.x + 150, r.y + 5): GREEN,  # right of the bar
            (r.x + 10, r.y + 100): GREEN,  # below the composed rows
        }
        wait_for(lambda: screen_shows(conn, probes), what="the first frame over the client")
        # Without a compositor alpha is not blended: the half-transparent bar shows as its premultiplied colour.
        assert grab_root(conn).pixel(r.x + 10, r.y + 35) == (128, 0, 0)

        # The next frame goes into the same memory, once the server is done with the last one.
        wait_until_idle(conn, overlay)
        assert overlay.surface(r.width, r.height) is surface
        draw(surface, 200)
        overlay.upload(surface, 45)
        conn.flush()
        wait_for(lambda: screen_shows(conn, {(r.x + 150, r.y + 5): BLUE, (r.x + 250, r.y + 5): GREEN}))
    finally:
        overlay.destroy()
        conn.sync()


def test_frames_go_through_shared_memory_under_xvfb(
    xsession: Session, pump: Pump, clients: list[ClientProc], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(NO_SHM_ENV, raising=False)
    assert shm_for(pump.conn) is not None, "Xvfb on a unix socket offers MIT-SHM"
    client = ClientProc(xsession.env, "--x", "60", "--y", "60", "--color", "00ff00")
    clients.append(client)
    frames_over_a_client(pump, client, shm=True)
    assert our_segments() == []


def test_an_upload_is_one_request_and_marks_the_memory_busy_until_the_server_is_done(pump: Pump) -> None:
    conn = pump.conn
    overlay = OverlayWindow(conn, Rect(10, 10, 300, 200), composited=True)
    try:
        overlay.show()
        surface = overlay.surface(300, 200)
        assert overlay.shared
        draw(surface, 100)
        serial = conn.display.display.request_serial
        overlay.upload(surface, 45)
        assert conn.display.display.request_serial - serial == 1  # one ShmPutImage for all 45 rows
        assert is_busy(overlay)
        wait_until_idle(conn, overlay)
        # The completion event is this layer's own: it is not among the events the application sees.
        overlay.upload(surface, 45)
        conn.sync()
        events = conn.events()
        shm = shm_for(conn)
        assert shm is not None
        assert not is_busy(overlay)
        assert all(event.type != shm.completion_type for event in events)
    finally:
        overlay.destroy()
        conn.sync()


def test_the_fallback_sends_the_same_frames_with_put_image(
    xsession: Session, pump: Pump, clients: list[ClientProc]
) -> None:
    client = ClientProc(xsession.env, "--x", "400", "--y", "300", "--color", "00ff00")
    clients.append(client)
    frames_over_a_client(pump, client, shm=False)


def test_the_environment_variable_turns_shared_memory_off(xsession: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_SHM_ENV, "1")
    with Connection(xsession.display) as conn:
        assert shm_for(conn) is None
        overlay = OverlayWindow(conn, Rect(10, 10, 100, 50), composited=True)
        overlay.show()
        surface = overlay.surface(100, 50)
        assert not overlay.shared and not overlay.busy
        draw(surface, 50)
        serial = conn.display.display.request_serial
        overlay.upload(surface, 45)
        assert conn.display.display.request_serial - serial == 1  # one PutImage
        overlay.destroy()
        conn.sync()
    assert our_segments() == []


def test_segments_grow_only_and_none_is_left_after_destroy(pump: Pump) -> None:
    conn = pump.conn
    overlay = OverlayWindow(conn, Rect(10, 10, 200, 100), composited=True)
    overlay.show()
    small = overlay.surface(200, 100)
    assert overlay.shared
    (line,) = our_segments()
    # Marked for removal (SHM_DEST, 0o1000 in the mode) as soon as the server attached it: a crash cannot leak it.
    assert int(line.split()[2], 8) & 0o1000
    big = overlay.surface(400, 300)
    assert big is not small and overlay.shared
    (line,) = our_segments()
    assert int(line.split()[3]) == 400 * 300 * 4
    # Smaller again: the same memory, a new surface over it.
    again = overlay.surface(300, 100)
    assert again is not big
    (same,) = our_segments()
    assert same.split()[1] == line.split()[1]
    overlay.destroy()
    conn.sync()
    assert our_segments() == []


def test_a_segment_is_freed_when_its_process_unmaps_it_even_if_never_attached() -> None:
    segment = Segment(4096)
    segment.memory[0] = 7
    assert len(our_segments()) == 1
    segment.close()
    assert our_segments() == []


def test_a_view_skips_a_frame_while_the_server_still_reads_the_last(
    xsession: Session, pump: Pump, clients: list[ClientProc]
) -> None:
    from vwm_overlay.desktop import WindowView

    client = ClientProc(xsession.env, "--x", "700", "--y", "400", "--color", "00ff00")
    clients.append(client)
    added = pump.until(ClientAdded, client.window)
    conn = pump.conn
    view = WindowView(added.window, None, added.rect, added.frame, mapped=True, name="client", hertz=10.0)
    view.wanted = True
    view.update_visibility(conn, composited=True)  # shows and presents the first frame
    overlay = view.overlay
    assert overlay is not None and overlay.shared and is_busy(overlay)
    try:
        serial = conn.display.display.request_serial
        view.invalidate()
        view.present(True)
        assert conn.display.display.request_serial == serial  # skipped, not waited for
        wait_until_idle(conn, overlay)
        serial = conn.display.display.request_serial
        view.present(True)  # the skipped frame is still due
        assert conn.display.display.request_serial - serial == 1
    finally:
        view.destroy()
        conn.sync()
    assert our_segments() == []
