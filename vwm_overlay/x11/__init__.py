"""The X11 layer: the connection, client tracking, overlay windows, hotkeys.

It talks to the X server only (python-xlib), never reads /proc, and knows
nothing of the monitor or the chart; the application wires them together,
on one thread::

    conn = Connection()                      # DisplayUnavailableError: exit status 2
    tracker, hotkeys, watch = ClientTracker(conn), Hotkeys(conn), CompositorWatch(conn)
    changes = tracker.start()                # ClientAdded for every window already there
    problems = hotkeys.grab()                # HotkeyConflictError etc., to report
    problems += hotkeys.swallowed()          # modifier keys the window manager takes (again when it changes)
    composited = watch.start()
    while running:
        select.select([conn.fileno()], [], [], time_to_next_sample)
        with conn.guard():                   # a dead server: ConnectionLostError
            events = conn.events()
            changes = tracker.process(events)    # ClientAdded, ClientGeometry, ...
            state = watch.process(events)        # True/False when a compositor came or went
            for event in events:
                action = hotkeys.handle(event)   # "toggle", "save", ... or None
                ...                              # and overlay.handle(event) for Expose

Per shown chart: ``OverlayWindow(conn, rect, above=frame, composited=...)``,
``show()``, ``upload(surface, rows)`` every sample, ``place(rect, frame)`` on
ClientGeometry, ``restack(frame)`` on ClientRestacked, ``hide()`` on
ClientUnmapped, ``destroy()`` on ClientRemoved.
"""

from __future__ import annotations

from .capture import Image, grab_root, parse_xwd, read_xwd
from .clients import Client, ClientTracker, is_local_name, local_names
from .compositor import CompositorWatch
from .connection import BAD_VALUE, BAD_WINDOW, RACE_CODES, Connection, error_code, is_race
from .errors import (
    DISPLAY_UNAVAILABLE_STATUS,
    BindingError,
    ConnectionLostError,
    DisplayUnavailableError,
    HotkeyConflictError,
    HotkeySwallowedError,
    HotkeyUnavailableError,
    X11Error,
    X11UnsupportedError,
)
from .events import (
    ClientAdded,
    ClientEvent,
    ClientGeometry,
    ClientMapped,
    ClientPidChanged,
    ClientRemoved,
    ClientRestacked,
    ClientTitleChanged,
    ClientUnmapped,
    Rect,
    WindowManagerChanged,
)
from .hotkeys import DEFAULT_BINDINGS, Binding, Hotkeys, parse_binding
from .overlay import OverlayWindow, ShapeRect, argb_visual

__all__ = [
    "BAD_VALUE",
    "BAD_WINDOW",
    "DEFAULT_BINDINGS",
    "DISPLAY_UNAVAILABLE_STATUS",
    "RACE_CODES",
    "Binding",
    "BindingError",
    "Client",
    "ClientAdded",
    "ClientEvent",
    "ClientGeometry",
    "ClientMapped",
    "ClientPidChanged",
    "ClientRemoved",
    "ClientRestacked",
    "ClientTitleChanged",
    "ClientTracker",
    "ClientUnmapped",
    "CompositorWatch",
    "Connection",
    "ConnectionLostError",
    "DisplayUnavailableError",
    "HotkeyConflictError",
    "HotkeySwallowedError",
    "HotkeyUnavailableError",
    "Hotkeys",
    "Image",
    "OverlayWindow",
    "Rect",
    "ShapeRect",
    "WindowManagerChanged",
    "X11Error",
    "X11UnsupportedError",
    "argb_visual",
    "error_code",
    "grab_root",
    "is_local_name",
    "is_race",
    "local_names",
    "parse_binding",
    "parse_xwd",
    "read_xwd",
]
