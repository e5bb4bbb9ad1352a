"""The client tracker against openbox and real client windows in their own processes."""

from __future__ import annotations

import logging
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from polling import wait_for
from x11_helpers import ClientProc, Pump, Session, end_trouble, new_session, trouble, xdotool
from Xlib import X, Xatom

from vwm_overlay.x11 import (
    ClientAdded,
    ClientGeometry,
    ClientMapped,
    ClientPidChanged,
    ClientRemoved,
    ClientRestacked,
    ClientTitleChanged,
    ClientTracker,
    ClientUnmapped,
    Connection,
    WindowManagerChanged,
)
from vwm_overlay.x11.clients import PROPERTY_FLOOD, PROPERTY_POLL_S, is_local_name, local_names

pytestmark = pytest.mark.x11


@pytest.fixture
def pump(xsession: Session) -> Iterator[Pump]:
    with Connection(xsession.display) as conn:
        tracker = ClientTracker(conn)
        tracker.start()
        yield Pump(conn, tracker)


def test_clients_appear_with_their_pid_and_disappear(xsession: Session, pump: Pump, clients: list[ClientProc]) -> None:
    client = ClientProc(xsession.env, "--x", "40", "--y", "50")
    clients.append(client)
    added = pump.until(ClientAdded, client.window)
    assert added.pid == client.pid
    assert added.mapped
    assert added.frame != client.window  # openbox reparents into a frame
    # The client area sits inside the frame, below the title bar.
    assert (added.rect.width, added.rect.height) == (300, 200)
    assert added.rect.x >= 40 and added.rect.y > 50
    assert pump.tracker.pids()[client.window] == client.pid
    client.close()
    removed = pump.until(ClientRemoved, client.window)
    assert removed.pid == client.pid
    assert pump.tracker.get(client.window) is None


def test_desktop_and_dock_windows_are_not_charted(xsession: Session, pump: Pump, clients: list[ClientProc]) -> None:
    """A file manager's desktop window covers the screen and a panel is the desktop's own: no chart for them."""
    desktop = ClientProc(xsession.env, "--type", "DESKTOP", "--x", "0", "--y", "0")
    dock = ClientProc(xsession.env, "--type", "DOCK", "--x", "0", "--y", "500", "--height", "24")
    plain = ClientProc(xsession.env, "--x", "400", "--y", "100")
    clients += [desktop, dock, plain]
    pump.until(ClientAdded, plain.window)
    assert not pump.of(ClientAdded, desktop.window) and not pump.of(ClientAdded, dock.window)
    assert set(pump.tracker.pids()) >= {plain.window}
    assert not {desktop.window, dock.window} & set(pump.tracker.pids())


def test_pid_from_xres_when_the_client_sets_none(xsession: Session, pump: Pump, clients: list[ClientProc]) -> None:
    client = ClientProc(xsession.env, "--pid", "none")
    clients.append(client)
    assert pump.until(ClientAdded, client.window).pid == client.pid


def test_the_x_servers_pid_wins_over_a_wrong_net_wm_pid(
    xsession: Session, pump: Pump, clients: list[ClientProc], caplog: pytest.LogCaptureFixture
) -> None:
    # A Flatpak window says 2: in its namespace that is the app; here it is kthreadd.
    client = ClientProc(xsession.env, "--pid", "2")
    clients.append(client)
    with caplog.at_level(logging.WARNING, logger="vwm_overlay.x11.clients"):
        assert pump.until(ClientAdded, client.window).pid == client.pid
        second = ClientProc(xsession.env, "--pid", "3", "--x", "500")
        clients.append(second)
        assert pump.until(ClientAdded, second.window).pid == second.pid
    said = [r.getMessage() for r in caplog.records if "_NET_WM_PID" in r.getMessage()]
    assert said == [
        f"window 0x{client.window:x}: _NET_WM_PID says 2, the X server says {client.pid} "
        "(a pid namespace?); using the X server's pids where they differ"
    ], said


def test_a_client_in_its_own_pid_namespace_gets_its_real_pid(
    xsession: Session, pump: Pump, clients: list[ClientProc]
) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare")
    prefix = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child"]
    if subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode != 0:
        pytest.skip("cannot make a user and pid namespace here")
    client = ClientProc(xsession.env, "--x", "300", prefix=prefix)
    clients.append(client)
    # unshare forks the client: it is unshare's child, pid 1 in its namespace, which it writes to _NET_WM_PID.
    with open(f"/proc/{client.pid}/task/{client.pid}/children") as f:
        (host_pid,) = (int(word) for word in f.read().split())
    assert client.own_pid == 1
    assert pump.until(ClientAdded, client.window).pid == host_pid


@pytest.mark.parametrize(
    ("hostname", "local", "remote"),
    [
        ("box", ["box", "BOX", "box.example.org", "localhost", "localhost.localdomain"], ["other", "other.example"]),
        ("box.example.org", ["box", "box.example.org", "box.example.org.", "localhost"], ["box.elsewhere.org"]),
    ],
)
def test_local_clients_are_recognised_by_short_full_or_localhost_name(
    hostname: str, local: list[str], remote: list[str]
) -> None:
    names = local_names(hostname)
    assert all(is_local_name(name.lower(), names) for name in local)
    assert not any(is_local_name(name.lower(), names) for name in remote)


def test_a_net_wm_pid_set_later_does_not_override_the_servers_answer(
    xsession: Session, pump: Pump, clients: list[ClientProc]
) -> None:
    client = ClientProc(xsession.env, "--pid", "none")
    clients.append(client)
    assert pump.until(ClientAdded, client.window).pid == client.pid
    client.command("pid 4242")
    client.command("resize 310 200")
    pump.until(ClientGeometry, client.window)  # the property change was handled before this
    assert pump.of(ClientPidChanged, client.window) == []
    assert pump.tracker.pids()[client.window] == client.pid


def test_title_changes_are_reported_net_wm_name_first(xsession: Session, pump: Pump, clients: list[ClientProc]) -> None:
    client = ClientProc(xsession.env, "--title", "bash")
    clients.append(client)
    assert pump.until(ClientAdded, client.window).title == "bash"  # WM_NAME alone
    client.command("title vim notes.txt — ✓")
    assert pump.until(ClientTitleChanged, client.window).title == "vim notes.txt — ✓"
    client.command("wm_name make")  # hidden behind _NET_WM_NAME: no change to report
    client.command("title make -j2")
    assert pump.until(ClientTitleChanged, client.window).title == "make -j2"
    client.command("title")  # _NET_WM_NAME deleted: WM_NAME shows
    assert pump.until(ClientTitleChanged, client.window).title == "make"
    assert [e.title for e in pump.of(ClientTitleChanged, client.window)] == ["vim notes.txt — ✓", "make -j2", "make"]
    tracked = pump.tracker.get(client.window)
    assert tracked is not None and tracked.title == "make"


def test_remote_clients_are_skipped_until_they_turn_local(
    xsession: Session, pump: Pump, clients: list[ClientProc]
) -> None:
    remote = ClientProc(xsession.env, "--machine", "elsewhere.example", "--title", "remote")
    local = ClientProc(xsession.env, "--title", "local")
    clients += [remote, local]
    pump.until(ClientAdded, local.window)
    assert not pump.of(ClientAdded, remote.window)
    assert pump.tracker.get(remote.window) is None
    remote.command(f"machine {pump.tracker.hostname}")
    assert pump.until(ClientAdded, remote.window).pid == remote.pid
    remote.command("machine elsewhere.example")
    pump.until(ClientRemoved, remote.window)


def test_moves_resizes_and_minimise_are_followed(xsession: Session, pump: Pump, clients: list[ClientProc]) -> None:
    client = ClientProc(xsession.env, "--x", "100", "--y", "100")
    clients.append(client)
    added = pump.until(ClientAdded, client.window)
    client.command("move 300 250")
    moved = pump.until(ClientGeometry, client.window, lambda e: e.rect.x - added.rect.x == 200)
    assert moved.rect.y - added.rect.y == 150
    assert moved.frame == added.frame
    client.command("resize 420 180")
    sized = pump.until(ClientGeometry, client.window, lambda e: e.rect.width == 420)
    assert sized.rect.height == 180
    xdotool(xsession.env, "windowminimize", str(client.window))
    pump.until(ClientUnmapped, client.window)
    assert pump.tracker.get(client.window) is not None  # minimised, not gone
    xdotool(xsession.env, "windowactivate", "--sync", str(client.window))
    pump.until(ClientMapped, client.window)
    assert pump.tracker.active_client() == client.window


def test_active_client_follows_focus(xsession: Session, pump: Pump, clients: list[ClientProc]) -> None:
    first = ClientProc(xsession.env, "--x", "10", "--y", "10")
    second = ClientProc(xsession.env, "--x", "500", "--y", "10")
    clients += [first, second]
    pump.until(ClientAdded, first.window)
    pump.until(ClientAdded, second.window)
    for client in (first, second, first):
        xdotool(xsession.env, "windowactivate", "--sync", str(client.window))
        assert pump.tracker.active_client() == client.window


def test_window_manager_restart_rescans(clients: list[ClientProc]) -> None:
    with new_session(wm="openbox") as xs, Connection(xs.display) as conn:
        tracker = ClientTracker(conn)
        assert tracker.start() == [WindowManagerChanged("Openbox")]
        pump = Pump(conn, tracker)
        client = ClientProc(xs.env)
        clients.append(client)
        added = pump.until(ClientAdded, client.window)
        assert xs.wm_proc is not None
        xs.stop(xs.wm_proc)
        # With no window manager the client is a mapped top-level window of its own.
        pump.until(WindowManagerChanged, where=lambda e: e.name is None)
        pump.until(ClientGeometry, client.window, lambda e: e.frame == client.window)
        xs.start_wm("openbox")
        pump.until(WindowManagerChanged, where=lambda e: e.name == "Openbox")
        regained = pump.until(ClientGeometry, client.window, lambda e: e.frame != client.window)
        assert regained.frame != added.frame
        assert not pump.of(ClientRemoved, client.window)
        tracked = pump.tracker.get(client.window)
        assert tracked is not None and tracked.pid == client.pid and tracked.mapped


def test_a_manager_that_lists_its_clients_after_announcing_itself_is_followed_by_its_list(
    clients: list[ClientProc],
) -> None:
    """The test plays an EWMH manager that sets its check window first and its client list a moment later (as
    openbox, i3 and awesome do when they start while the program runs)."""
    with new_session() as xs, Connection(xs.display) as wm, Connection(xs.display) as conn:
        tracker = ClientTracker(conn)
        assert tracker.start() == [WindowManagerChanged(None)]
        assert not tracker.ewmh
        pump = Pump(conn, tracker)
        client = ClientProc(xs.env)
        clients.append(client)
        check = wm.root.create_window(-10, -10, 1, 1, 0, X.CopyFromParent)
        for window in (check, wm.root):
            window.change_property(wm.atom("_NET_SUPPORTING_WM_CHECK"), Xatom.WINDOW, 32, [check.id])
        check.change_property(wm.atom("_NET_WM_NAME"), wm.atom("UTF8_STRING"), 8, b"late-lister")
        wm.sync()
        pump.until(WindowManagerChanged, where=lambda e: e.name == "late-lister")
        assert not tracker.ewmh  # no client list yet: not a live one
        wm.root.change_property(wm.atom("_NET_CLIENT_LIST"), Xatom.WINDOW, 32, [client.window])
        wm.sync()
        pump.until(WindowManagerChanged, where=lambda e: tracker.ewmh)
        assert tracker.get(client.window) is not None
        # From its list: a window it drops from the list is no client any more, mapped or not.
        wm.root.change_property(wm.atom("_NET_CLIENT_LIST"), Xatom.WINDOW, 32, [])
        wm.sync()
        pump.until(ClientRemoved, client.window)


def test_without_ewmh_clients_are_found_by_wm_state_inside_frames(clients: list[ClientProc]) -> None:
    """The test plays a minimal reparenting window manager that knows no EWMH."""
    with new_session() as xs, Connection(xs.display) as wm, Connection(xs.display) as conn:
        wm.root.set_selection_owner(wm.atom("WM_S0"), X.CurrentTime)
        wm.sync()
        tracker = ClientTracker(conn)
        assert tracker.start() == [WindowManagerChanged(None)]
        pump = Pump(conn, tracker)
        client = ClientProc(xs.env, "--x", "0", "--y", "0")
        clients.append(client)
        # Mapped by itself at the root, without WM_STATE: not a client of a running window manager.
        assert conn.window(client.window).get_attributes().map_state == X.IsViewable
        frame = wm.root.create_window(200, 100, 310, 230, 0, X.CopyFromParent)
        window = wm.window(client.window)
        window.change_property(wm.atom("WM_STATE"), wm.atom("WM_STATE"), 32, [1, 0])
        window.reparent(frame.id, 5, 25)
        frame.map()
        wm.sync()
        added = pump.until(ClientAdded, client.window)
        assert added.frame == frame.id
        assert added.pid == client.pid
        assert (added.rect.x, added.rect.y) == (205, 125)
        frame.unmap()
        wm.sync()
        pump.until(ClientUnmapped, client.window)
        frame.map()
        wm.sync()
        pump.until(ClientMapped, client.window)
        client.close()
        pump.until(ClientRemoved, client.window)


def test_override_redirect_frames_hidden_states_and_windows_out_of_the_screen(clients: list[ClientProc]) -> None:
    """The test plays a window manager like i3: override-redirect frames, hiding by state and by moving away."""
    with new_session() as xs, Connection(xs.display) as wm, Connection(xs.display) as conn:
        wm.root.set_selection_owner(wm.atom("WM_S0"), X.CurrentTime)
        wm.sync()
        tracker = ClientTracker(conn)
        tracker.start()
        pump = Pump(conn, tracker)
        client = ClientProc(xs.env, "--x", "0", "--y", "0")
        clients.append(client)
        frame = wm.root.create_window(200, 100, 310, 230, 0, X.CopyFromParent, override_redirect=True)
        window = wm.window(client.window)
        window.change_property(wm.atom("WM_STATE"), wm.atom("WM_STATE"), 32, [1, 0])
        window.reparent(frame.id, 5, 25)
        frame.map()
        wm.sync()
        assert pump.until(ClientAdded, client.window).frame == frame.id
        # A workspace switch unmaps the frame, and maps it again: the client comes back every time.
        for _ in range(2):
            frame.unmap()
            wm.sync()
            pump.until(ClientUnmapped, client.window)
            frame.map()
            wm.sync()
            pump.until(ClientMapped, client.window)
        # Minimised or shaded while mapped, the client shows nothing of itself.
        for state in ("_NET_WM_STATE_HIDDEN", "_NET_WM_STATE_SHADED"):
            window.change_property(wm.atom("_NET_WM_STATE"), Xatom.ATOM, 32, [wm.atom(state)])
            wm.sync()
            pump.until(ClientUnmapped, client.window)
            window.change_property(wm.atom("_NET_WM_STATE"), Xatom.ATOM, 32, [])
            wm.sync()
            pump.until(ClientMapped, client.window)
        # Another override-redirect frame restacked right above this one (awesome raising a window) slid in
        # between the frame and anything kept above it: the client is reported restacked.
        second = ClientProc(xs.env, "--x", "0", "--y", "0", "--title", "second")
        clients.append(second)
        frame2 = wm.root.create_window(400, 100, 310, 230, 0, X.CopyFromParent, override_redirect=True)
        wm.window(second.window).change_property(wm.atom("WM_STATE"), wm.atom("WM_STATE"), 32, [1, 0])
        wm.window(second.window).reparent(frame2.id, 5, 25)
        frame2.map()
        wm.sync()
        pump.until(ClientAdded, second.window)
        frame2.configure(stack_mode=X.Below)
        wm.sync()
        frame2.configure(sibling=frame.id, stack_mode=X.Above)
        wm.sync()
        pump.until(ClientRestacked, client.window)
        # Moved out of the screen (dwm's hidden tags), it is not shown either.
        frame.configure(x=-2000)
        wm.sync()
        pump.until(ClientUnmapped, client.window)
        frame.configure(x=200)
        wm.sync()
        pump.until(ClientMapped, client.window)


def test_twm_frames_are_not_clients_the_window_with_wm_state_inside_is(clients: list[ClientProc]) -> None:
    """The test plays twm: no EWMH, no WM_S0, a frame with a title bar, WM_STATE set after the frame is mapped."""
    with new_session() as xs, Connection(xs.display) as wm, Connection(xs.display) as conn:
        client = ClientProc(xs.env, "--x", "0", "--y", "0")  # mapped before the manager takes the screen
        clients.append(client)
        wm.root.change_attributes(event_mask=X.SubstructureRedirectMask)
        wm.sync()
        tracker = ClientTracker(conn)
        tracker.start()
        pump = Pump(conn, tracker)
        frame = wm.root.create_window(200, 100, 310, 230, 0, X.CopyFromParent)
        title = frame.create_window(0, 0, 310, 20, 0, X.CopyFromParent)
        title.map()
        window = wm.window(client.window)
        window.reparent(frame.id, 5, 25)
        window.map()
        frame.map()
        wm.sync()
        window.change_property(wm.atom("WM_STATE"), wm.atom("WM_STATE"), 32, [1, 0])
        wm.sync()
        added = pump.until(ClientAdded, client.window)
        assert (added.frame, added.rect.x, added.rect.y) == (frame.id, 205, 125)
        assert not pump.of(ClientAdded, frame.id), "the frame, title bar and all, is no client"
        assert pump.tracker.get(frame.id) is None


def test_a_title_rewritten_in_a_loop_is_read_once_per_batch_and_while_muted_at_the_polls_only() -> None:
    # With no window manager: openbox would redraw its title bar for every write, and freeze.
    procs: list[Any] = []
    with new_session() as xs, Connection(xs.display) as conn:
        now_s = [1000.0]
        tracker = ClientTracker(conn, clock=lambda: now_s[0])
        tracker.start()
        flooding: set[int] = set()
        reads = [0]  # reads of the flooding window's _NET_WM_NAME, per batch
        net_wm_name = conn.atom("_NET_WM_NAME")
        get_property = conn.get_property

        def counted(wid: int, atom: int, kind: int) -> Any:
            reads[-1] += wid in flooding and atom == net_wm_name
            return get_property(wid, atom, kind)

        conn.get_property = counted  # type: ignore[method-assign]
        seen: list[object] = []

        def batch() -> int:
            """One batch, as the program reads them; how many property changes of the flooding window it held."""
            if not conn.pending():
                select.select([conn.fileno()], [], [], 0.05)
            events = conn.events(512)
            reads.append(0)
            seen.extend(tracker.process(events))
            return sum(conn.property_counts.get(wid, 0) for wid in flooding)

        try:
            flood = trouble(xs, procs, "props", "--property", "_NET_WM_NAME", "--wait")
            deadline = time.monotonic() + 90
            while not flooding:
                assert time.monotonic() < deadline, "the flooding window never showed"
                batch()
                flooding.update(e.window for e in seen if isinstance(e, ClientAdded) and e.pid == flood.pid)
            window = next(iter(flooding))
            # The flood starts now, not before the tracker found the window: reading a new window while it floods
            # already can take a loaded machine a minute (every reply comes after the notifications sent before it).
            assert flood.stdin is not None
            flood.stdin.write(b"go\n")
            flood.stdin.flush()
            # A batch that holds a flood: read once the server has sent that much (reading as fast as the client
            # writes would see no flood at all).
            wait_for(lambda: conn.pending() > 2 * PROPERTY_FLOOD, 30, "the flood to fill a batch")
            assert batch() > PROPERTY_FLOOD
            muted_from = len(reads) - 1
            # Some of the backlog the server sent before it took the mute (on a loaded machine, hundreds of
            # thousands of notifications): the title is not read for any of it.
            for _ in range(20):
                batch()
            assert all(count <= 1 for count in reads), reads
            assert sum(reads[muted_from:]) == 0, "no title read while muted, until a poll is due"

            # The title is followed all the same, at the polls.
            polled_from = len(seen)
            titles: list[str | None] = []
            while len(titles) < 2:
                assert time.monotonic() < deadline, f"no title read at the polls; {reads}"
                now_s[0] += PROPERTY_POLL_S
                batch()
                titles = [
                    e.title for e in seen[polled_from:] if isinstance(e, ClientTitleChanged) and e.window == window
                ]
            assert all(count <= 1 for count in reads), reads
            numbers = [int((title or "").removeprefix("props ")) for title in titles]
            assert numbers == sorted(numbers), titles
            assert end_trouble(flood) > numbers[-1]
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
                for pipe in (proc.stdin, proc.stdout):
                    if pipe is not None:
                        pipe.close()
