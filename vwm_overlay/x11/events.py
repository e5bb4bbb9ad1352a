"""What the client tracker reports: small immutable event records.

Every event names the client by its window id (the window the application
created, not the window manager's frame).  A client of another host is never
reported at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "ClientAdded",
    "ClientEvent",
    "ClientGeometry",
    "ClientMapped",
    "ClientPidChanged",
    "ClientRemoved",
    "ClientRestacked",
    "ClientTitleChanged",
    "ClientUnmapped",
    "Rect",
    "WindowManagerChanged",
]


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle in root-window pixels."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ClientAdded:
    """A client window appeared (or was there when tracking started).

    ``pid`` is None when neither ``_NET_WM_PID`` nor the X-Resource extension
    tells it.  ``frame`` is the root's child holding the client (the client
    itself when the window manager does not reparent); overlays stack above it.
    ``title`` is ``_NET_WM_NAME``, else ``WM_NAME`` (None when neither is set).
    """

    window: int
    pid: int | None
    rect: Rect
    frame: int
    mapped: bool
    title: str | None = None


@dataclass(frozen=True, slots=True)
class ClientRemoved:
    """A client window was closed, withdrawn, or turned out to be remote."""

    window: int
    pid: int | None


@dataclass(frozen=True, slots=True)
class ClientPidChanged:
    """The client's process id appeared or changed (``_NET_WM_PID`` was set later)."""

    window: int
    old_pid: int | None
    pid: int | None


@dataclass(frozen=True, slots=True)
class ClientTitleChanged:
    """The client's title changed (a terminal names the command it runs): ``_NET_WM_NAME``, else ``WM_NAME``."""

    window: int
    title: str | None


@dataclass(frozen=True, slots=True)
class ClientGeometry:
    """The client area moved or resized, or its frame changed; ``rect`` is in root coordinates."""

    window: int
    rect: Rect
    frame: int


@dataclass(frozen=True, slots=True)
class ClientRestacked:
    """The client's frame changed place in the stacking order (raised or lowered)."""

    window: int
    frame: int


@dataclass(frozen=True, slots=True)
class ClientMapped:
    """The client became visible (desktop switched back, restored from minimised)."""

    window: int


@dataclass(frozen=True, slots=True)
class ClientUnmapped:
    """The client was hidden (desktop switch, minimised)."""

    window: int


@dataclass(frozen=True, slots=True)
class WindowManagerChanged:
    """A window manager started, restarted or went away; the clients were rescanned."""

    name: str | None


ClientEvent: TypeAlias = (
    ClientAdded
    | ClientRemoved
    | ClientPidChanged
    | ClientTitleChanged
    | ClientGeometry
    | ClientRestacked
    | ClientMapped
    | ClientUnmapped
    | WindowManagerChanged
)
