"""Opening the display, atoms, vanished windows and a lost server."""

from __future__ import annotations

import select
import time

import pytest
from x11_helpers import Session, new_session
from Xlib import X

from vwm_overlay.errors import OverlayError
from vwm_overlay.x11 import DISPLAY_UNAVAILABLE_STATUS, Connection, ConnectionLostError, DisplayUnavailableError

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
