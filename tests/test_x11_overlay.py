"""Overlay windows over real clients under openbox, with and without a compositor.

Screenshots: GetImage for what the server draws without a compositor, Xvfb's
``-fbdir`` framebuffer for what the compositor blends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cairocffi
import pytest
from polling import wait_for
from x11_helpers import ClientProc, Pump, Session, xdotool

from vwm_overlay.x11 import (
    ClientAdded,
    ClientGeometry,
    ClientRestacked,
    ClientTracker,
    CompositorWatch,
    Connection,
    Image,
    OverlayWindow,
    Rect,
    grab_root,
    read_xwd,
)

pytestmark = pytest.mark.x11

GREEN = (0, 255, 0)  # the client's background
BLUE = (0, 0, 255)  # an opaque bar the chart draws
YELLOW = (255, 255, 0)  # a window stacked above the client


@pytest.fixture
def pump(xs: Session) -> Iterator[Pump]:
    with Connection(xs.display) as conn:
        tracker = ClientTracker(conn)
        tracker.start()
        yield Pump(conn, tracker)


def chart(width: int, height: int) -> cairocffi.ImageSurface:
    """Rows as the chart composes them: an opaque bar, a transparent row, a half-transparent bar."""
    surface = cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, width, height)
    ctx = cairocffi.Context(surface)
    ctx.set_source_rgba(0, 0, 1, 1)
    ctx.rectangle(0, 0, 100, 15)
    ctx.fill()
    ctx.set_source_rgba(1, 0, 0, 0.5)
    ctx.rectangle(0, 30, 100, 15)
    ctx.fill()
    return surface


def overlay_over(pump: Pump, client: ClientProc, *, composited: bool = False) -> tuple[OverlayWindow, ClientAdded]:
    added = pump.until(ClientAdded, client.window)
    overlay = OverlayWindow(pump.conn, added.rect, above=added.frame, composited=composited)
    overlay.show()
    overlay.upload(chart(added.rect.width, added.rect.height), 45)
    pump.conn.sync()
    return overlay, added


def screen_shows(conn: Connection, probes: dict[tuple[int, int], tuple[int, int, int]]) -> Image | None:
    image = grab_root(conn)
    return image if all(image.pixel(x, y) == rgb for (x, y), rgb in probes.items()) else None


def test_overlay_shows_drawn_pixels_and_the_client_between_them(
    xs: Session, pump: Pump, clients: list[ClientProc]
) -> None:
    client = ClientProc(xs.env, "--x", "60", "--y", "60", "--color", "00ff00")
    clients.append(client)
    overlay, added = overlay_over(pump, client)
    r = added.rect
    wait_for(
        lambda: screen_shows(
            pump.conn,
            {
                (r.x + 10, r.y + 5): BLUE,  # drawn
                (r.x + 10, r.y + 20): GREEN,  # a transparent row: cut out by the shape
                (r.x + 200, r.y + 5): GREEN,  # right of the bar
                (r.x + 10, r.y + 100): GREEN,  # below the composed rows
            },
        ),
        what="the bar over the client, the client around it",
    )
    # Without a compositor alpha is not blended: the half-transparent bar shows as its premultiplied colour.
    assert grab_root(pump.conn).pixel(r.x + 10, r.y + 35) == (128, 0, 0)
    overlay.destroy()


def test_a_click_on_the_overlay_reaches_the_client(xs: Session, pump: Pump, clients: list[ClientProc]) -> None:
    client = ClientProc(xs.env, "--x", "400", "--y", "300", "--color", "00ff00")
    clients.append(client)
    overlay, added = overlay_over(pump, client)
    wait_for(lambda: screen_shows(pump.conn, {(added.rect.x + 10, added.rect.y + 5): BLUE}))
    assert client.click(xs.env, added.rect.x + 10, added.rect.y + 5) == "button 10 5"
    overlay.destroy()


def test_overlay_follows_the_client_and_its_stacking(xs: Session, pump: Pump, clients: list[ClientProc]) -> None:
    client = ClientProc(xs.env, "--x", "100", "--y", "400", "--color", "00ff00")
    clients.append(client)
    overlay, added = overlay_over(pump, client)
    client.command("move 500 420")
    moved = pump.until(ClientGeometry, client.window, lambda e: e.rect.x - added.rect.x == 400)
    overlay.place(moved.rect, moved.frame)
    r = moved.rect
    wait_for(lambda: screen_shows(pump.conn, {(r.x + 10, r.y + 5): BLUE, (r.x + 10, r.y + 20): GREEN}))
    client.command("resize 200 150")
    sized = pump.until(ClientGeometry, client.window, lambda e: e.rect.width == 200)
    overlay.place(sized.rect, sized.frame)
    overlay.upload(chart(sized.rect.width, sized.rect.height), 45)
    pump.conn.sync()
    assert overlay.window.get_geometry().width == 200

    # A window mapped over the client covers the overlay too: it sits right above the client's frame.
    cover = ClientProc(xs.env, "--x", str(r.x - 20), "--y", str(r.y - 40), "--color", "ffff00", "--title", "cover")
    clients.append(cover)
    pump.until(ClientAdded, cover.window)
    wait_for(lambda: screen_shows(pump.conn, {(r.x + 10, r.y + 5): YELLOW}), what="the cover above the overlay")
    # Raising the client again brings the overlay back with it.
    xdotool(xs.env, "windowactivate", "--sync", str(client.window))
    restacked = pump.until(ClientRestacked, client.window)
    overlay.restack(restacked.frame)
    wait_for(lambda: screen_shows(pump.conn, {(r.x + 10, r.y + 5): BLUE}), what="the overlay raised with its client")
    overlay.destroy()


def test_compositor_blends_and_the_overlay_switches_modes(
    fbsession: tuple[Session, Path], pump: Pump, clients: list[ClientProc]
) -> None:
    xs, framebuffer = fbsession
    client = ClientProc(xs.env, "--x", "700", "--y", "80", "--color", "00ff00")
    clients.append(client)
    watch = CompositorWatch(pump.conn)
    assert watch.start() is False and watch.event_driven
    overlay, added = overlay_over(pump, client)
    surface = chart(added.rect.width, added.rect.height)
    r = added.rect

    compositor = xs.start_compositor()
    try:
        assert wait_for(lambda: watch.process(pump.conn.events())) is True
        overlay.set_composited(True)
        pump.conn.sync()

        def blended() -> bool:
            # The application uploads every sample; so does this loop.
            overlay.upload(surface, 45)
            pump.conn.sync()
            fb = read_xwd(str(framebuffer))
            red, green, blue = fb.pixel(r.x + 10, r.y + 35)
            return (
                fb.pixel(r.x + 10, r.y + 5) == BLUE
                and fb.pixel(r.x + 10, r.y + 20) == GREEN
                and abs(red - 128) <= 2
                and abs(green - 127) <= 2
                and blue == 0
            )

        wait_for(blended, what="half-transparent red blended over the green client")
    finally:
        xs.stop(compositor)
    assert wait_for(lambda: watch.process(pump.conn.events()) is False)
    overlay.set_composited(False)
    wait_for(lambda: screen_shows(pump.conn, {(r.x + 10, r.y + 5): BLUE, (r.x + 10, r.y + 20): GREEN}))
    overlay.destroy()


def test_a_hidden_overlay_sends_nothing(xs: Session, pump: Pump) -> None:
    conn = pump.conn
    overlay = OverlayWindow(conn, Rect(10, 10, 200, 100), composited=False)
    conn.sync()
    surface = chart(200, 100)
    serial = conn.display.display.request_serial
    overlay.place(Rect(20, 30, 300, 200), above=None)
    overlay.upload(surface, 45)
    overlay.set_composited(True)
    overlay.set_composited(False)
    overlay.restack()
    overlay.hide()
    assert conn.display.display.request_serial == serial
    overlay.show()
    overlay.upload(surface, 45)
    conn.sync()
    geometry = overlay.window.get_geometry()
    assert (geometry.x, geometry.y, geometry.width, geometry.height) == (20, 30, 300, 200)
    wait_for(lambda: screen_shows(conn, {(30, 35): BLUE}))
    overlay.hide()
    serial = conn.display.display.request_serial
    overlay.upload(surface, 45)
    assert conn.display.display.request_serial == serial
    overlay.destroy()


def test_a_given_region_cuts_the_overlay_and_is_sent_only_when_it_changes(
    xs: Session, pump: Pump, clients: list[ClientProc]
) -> None:
    client = ClientProc(xs.env, "--x", "300", "--y", "520", "--color", "00ff00")
    clients.append(client)
    added = pump.until(ClientAdded, client.window)
    conn, r = pump.conn, added.rect
    overlay = OverlayWindow(conn, r, above=added.frame, composited=False)
    overlay.show()
    surface = chart(r.width, r.height)
    region = [(0, 0, 64, 15), (0, 30, 32, 15)]
    overlay.upload(surface, 45, shape=region)
    conn.sync()
    wait_for(
        lambda: screen_shows(
            conn,
            {
                (r.x + 10, r.y + 5): BLUE,
                (r.x + 80, r.y + 5): GREEN,  # drawn, but outside the region
                (r.x + 10, r.y + 35): (128, 0, 0),
                (r.x + 40, r.y + 35): GREEN,
            },
        ),
        what="the overlay cut to the given region",
    )
    # The same region again: only the pixels go out (one PutImage for 45 rows), no SHAPE request.
    serial = conn.display.display.request_serial
    overlay.upload(surface, 45, shape=list(region))
    assert conn.display.display.request_serial - serial == 1
    # A new region is sent once, before the pixels.
    serial = conn.display.display.request_serial
    overlay.upload(surface, 45, shape=[(0, 0, 128, 15), (0, 30, 32, 15)])
    assert conn.display.display.request_serial - serial == 2
    # An Expose re-sends the last frame with its region, which is unchanged: pixels only.
    serial = conn.display.display.request_serial
    overlay.redraw()
    assert conn.display.display.request_serial - serial == 1
    conn.sync()
    wait_for(lambda: screen_shows(conn, {(r.x + 80, r.y + 5): BLUE, (r.x + 40, r.y + 35): GREEN}))
    overlay.destroy()


def test_layers_with_partial_alpha_text_are_refused_for_a_whole_frame(xs: Session, pump: Pump) -> None:
    conn = pump.conn
    overlay = OverlayWindow(conn, Rect(10, 10, 200, 100), composited=True, shm=False)
    overlay.show()
    graph, text = chart(200, 100), cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, 200, 100)
    ctx = cairocffi.Context(text)
    ctx.set_source_rgba(1, 1, 1, 1)
    ctx.rectangle(10, 5, 20, 10)
    ctx.fill()
    underlay = (0.0, 0.0, 0.0, 0.6)
    assert overlay.upload_layers(graph, 0, text, 200, 45, underlay), "opaque text: copied through its coverage"
    ctx.set_source_rgba(1, 1, 1, 0.5)  # antialiased text would hold such pixels
    ctx.rectangle(40, 5, 20, 10)
    ctx.fill()
    assert not overlay.upload_layers(graph, 0, text, 200, 45, underlay)
    conn.sync()
    overlay.destroy()
    conn.sync()
