"""Opening the display, atoms, vanished windows and a lost server."""

from __future__ import annotations

import select
import time
from typing import Any

import pytest
from x11_helpers import Session, new_session
from Xlib import X, Xatom
from Xlib import error as xerror

from vwm_overlay.errors import OverlayError
from vwm_overlay.x11 import (
    DISPLAY_UNAVAILABLE_STATUS,
    Connection,
    ConnectionLostError,
    DisplayUnavailableError,
    error_code,
    is_race,
)
from vwm_overlay.x11.connection import BAD_VALUE

pytestmark = pytest.mark.x11


def test_no_display_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(DisplayUnavailableError, match=r"^no X display: \$DISPLAY is not set$") as info:
        Connection()
    assert isinstance(info.value, OverlayError)
    assert DISPLAY_UNAVAILABLE_STATUS == 2


@pytest.mark.parametrize("name", [":4242", "not a display"])
def test_an_unreachable_display_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("DISPLAY", name)
    with pytest.raises(DisplayUnavailableError, match=f"^cannot open X display '{name}': ") as info:
        Connection()
    assert "\n" not in str(info.value)


def test_atoms_are_cached_both_ways(xsession: Session) -> None:
    with Connection(xsession.display) as conn:
        atom = conn.atom("_NET_WM_PID")
        serial = conn.display.display.request_serial
        assert conn.atom("_NET_WM_PID") == atom
        assert conn.atom_name(atom) == "_NET_WM_PID"
        assert conn.display.display.request_serial == serial


def test_requests_on_a_vanished_window_are_tolerated(xsession: Session, capfd: pytest.CaptureFixture[str]) -> None:
    with Connection(xsession.display) as conn:
        window = conn.root.create_window(0, 0, 10, 10, 0, X.CopyFromParent)
        window.destroy()
        assert conn.tolerant(window.get_geometry) is None
        # One-way requests on it fail asynchronously and quietly.
        window.configure(x=5)
        window.change_attributes(event_mask=X.StructureNotifyMask)
        conn.sync()
        assert conn.tolerant(conn.root.get_geometry) is not None
    assert "BadWindow" not in capfd.readouterr().err


def test_a_lost_server_raises_connection_lost() -> None:
    with new_session() as xs:
        conn = Connection(xs.display)
        assert xs.xvfb_proc is not None
        xs.stop(xs.xvfb_proc)
        with pytest.raises(ConnectionLostError, match="lost the connection to X display"):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                select.select([conn.fileno()], [], [], 0.05)
                conn.events()
        conn.close()


def test_a_property_read_past_its_end_is_a_tolerated_bad_value(xsession: Session) -> None:
    # What a window manager shrinking _NET_CLIENT_LIST between two reads of it causes.  python-xlib's RANDR
    # support registers its errors over BadValue; the connection must still see a BadValue, and keep working.
    with Connection(xsession.display) as conn:
        assert conn.display.has_extension("RANDR")
        atom = conn.atom("_VWM_TEST_SHRUNK")
        conn.root.change_property(atom, Xatom.CARDINAL, 32, [1, 2, 3])
        with pytest.raises(xerror.XError) as info:
            conn.root.get_property(atom, Xatom.CARDINAL, 10, 10)
        assert error_code(info.value) == BAD_VALUE and is_race(info.value)
        assert conn.tolerant(conn.root.get_property, atom, Xatom.CARDINAL, 10, 10) is None
        prop = conn.get_property(conn.root.id, atom, Xatom.CARDINAL)
        assert prop is not None and list(prop.value) == [1, 2, 3]
        conn.root.delete_property(atom)
        conn.sync()


def test_a_long_property_is_read_whole(xsession: Session) -> None:
    with Connection(xsession.display) as conn:
        atom = conn.atom("_VWM_TEST_LONG")
        conn.root.change_property(atom, Xatom.WINDOW, 32, list(range(1, 20001)))
        prop = conn.get_property(conn.root.id, atom, Xatom.WINDOW)
        assert prop is not None and list(prop.value) == list(range(1, 20001))
        conn.root.delete_property(atom)
        assert conn.get_property(conn.root.id, atom, Xatom.WINDOW) is None


def test_events_come_in_bounded_batches_with_property_changes_coalesced(xsession: Session) -> None:
    with Connection(xsession.display) as conn, Connection(xsession.display) as other:
        window = other.root.create_window(0, 0, 10, 10, 0, X.CopyFromParent)
        other.sync()
        conn.window(window.id).change_attributes(event_mask=X.PropertyChangeMask)
        conn.sync()
        first, second, last = other.atom("_VWM_TEST_A"), other.atom("_VWM_TEST_B"), other.atom("_VWM_TEST_END")
        for value in range(300):
            window.change_property(first, Xatom.CARDINAL, 32, [value])
            window.change_property(second, Xatom.CARDINAL, 32, [value])
        window.change_property(last, Xatom.CARDINAL, 32, [0])
        other.sync()
        # Read until the last notification came (the server may still be writing them when the other client's
        # round trip returns).
        batches: list[list[Any]] = []
        deadline = time.monotonic() + 30
        while not batches or all(e.atom != last for e in batches[-1]):
            assert time.monotonic() < deadline, f"the last notification never came ({len(batches)} batches)"
            batch = conn.events(limit=64)
            if batch:
                batches.append(batch)
            else:
                select.select([conn.fileno()], [], [], 0.05)
        # 601 notifications, read 64 at a time, and each batch holds one per property: the latest.
        assert len(batches) >= 601 // 64 + 1
        assert not conn.events()
        assert all(len(batch) <= 3 for batch in batches)
        assert all(len({e.atom for e in batch}) == len(batch) for batch in batches)
        window.destroy()
        other.sync()
