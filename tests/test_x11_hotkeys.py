"""Hotkeys grabbed on the root of a real server, typed with xdotool."""

from __future__ import annotations

import select
import shutil
import time
from collections.abc import Iterator

import pytest
from x11_helpers import Session, xdotool
from Xlib import XK, X

from vwm_overlay.x11 import DEFAULT_BINDINGS, Connection, HotkeyConflictError, Hotkeys

pytestmark = pytest.mark.x11


@pytest.fixture(autouse=True)
def _needs_xdotool() -> None:
    if shutil.which("xdotool") is None:
        pytest.skip("needs xdotool")


@pytest.fixture
def conn(xsession: Session) -> Iterator[Connection]:
    with Connection(xsession.display) as connection:
        yield connection


def next_action(conn: Connection, hotkeys: Hotkeys, timeout_s: float = 20.0) -> str:
    """Dispatch events to the hotkeys until one maps to an action."""
    deadline = time.monotonic() + timeout_s
    while True:
        for event in conn.events():
            action = hotkeys.handle(event)
            if action is not None:
                return action
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no hotkey arrived")
        select.select([conn.fileno()], [], [], min(left, 0.05))


def test_typed_hotkeys_map_to_their_actions(xsession: Session, conn: Connection) -> None:
    hotkeys = Hotkeys(conn, DEFAULT_BINDINGS)
    assert hotkeys.grab() == []
    try:
        for keys, action in [
            ("super+semicolon", "toggle"),
            ("super+shift+semicolon", "toggle_all"),
            ("super+Right", "rate_up"),
            ("super+s", "save"),
        ]:
            xdotool(xsession.env, "key", "--clearmodifiers", keys)
            assert next_action(conn, hotkeys) == action
        # Num Lock and Caps Lock do not get in the way.
        xdotool(xsession.env, "key", "Num_Lock", "Caps_Lock")
        xdotool(xsession.env, "key", "super+z")
        assert next_action(conn, hotkeys) == "pause"
        xdotool(xsession.env, "key", "Num_Lock", "Caps_Lock")
    finally:
        hotkeys.ungrab()


def test_a_taken_hotkey_is_reported_and_the_others_work(xsession: Session, conn: Connection) -> None:
    with Connection(xsession.display) as other:
        code = other.display.keysym_to_keycode(XK.string_to_keysym("s"))
        other.root.grab_key(code, X.Mod4Mask, False, X.GrabModeAsync, X.GrabModeAsync)
        other.sync()
        hotkeys = Hotkeys(conn, DEFAULT_BINDINGS)
        problems = hotkeys.grab()
        assert [type(p) for p in problems] == [HotkeyConflictError]
        assert str(problems[0]) == "Mod4+s is taken by another client (save); bind another key with --save KEYS"
        assert problems[0].action == "save"
        xdotool(xsession.env, "key", "--clearmodifiers", "super+semicolon")
        assert next_action(conn, hotkeys) == "toggle"
        hotkeys.ungrab()
    # Once its holder is gone, the key can be had.
    assert hotkeys.grab() == []
    hotkeys.ungrab()


def test_ungrab_releases_every_grab(xsession: Session, conn: Connection) -> None:
    hotkeys = Hotkeys(conn, {"toggle": "Mod4+semicolon"})
    assert hotkeys.grab() == []
    hotkeys.ungrab()
    with Connection(xsession.display) as other:
        again = Hotkeys(other, {"toggle": "Mod4+semicolon"})
        assert again.grab() == []
        again.ungrab()


def test_keyboard_mapping_change_regrabs(xsession: Session, conn: Connection) -> None:
    hotkeys = Hotkeys(conn, {"toggle": "Mod4+F13"})
    problems = hotkeys.grab()
    if problems:
        # No key makes F13 yet: give it one, as xmodmap would.
        assert "no key" in problems[0].reason
    with Connection(xsession.display) as other:
        d = other.display
        first, last = d.display.info.min_keycode, d.display.info.max_keycode
        mapping = d.get_keyboard_mapping(first, last - first + 1)
        free = next(first + i for i, syms in enumerate(mapping) if not any(syms))
        d.change_keyboard_mapping(free, [[XK.string_to_keysym("F13")] * len(mapping[0])])
        d.sync()
    # The MappingNotify makes the hotkeys grab the new key.
    deadline = time.monotonic() + 5
    while (free, X.Mod4Mask) not in hotkeys.grabs:
        assert time.monotonic() < deadline, "no regrab after the mapping change"
        select.select([conn.fileno()], [], [], 0.05)
        for event in conn.events():
            hotkeys.handle(event)
    assert hotkeys.unavailable == []
    xdotool(xsession.env, "key", "--clearmodifiers", "super+F13")
    assert next_action(conn, hotkeys) == "toggle"
    hotkeys.ungrab()
