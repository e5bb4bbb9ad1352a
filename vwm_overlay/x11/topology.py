"""Where windows sit: the window manager, frames, client areas, clients without EWMH.

Every query tolerates windows that vanish meanwhile and answers None (or
leaves them out) for them.
"""

from __future__ import annotations

from typing import NamedTuple

from Xlib import X

from .connection import Connection
from .events import Rect
from .props import read_atoms, read_text, read_windows

__all__ = [
    "FallbackScan",
    "client_rect",
    "ewmh_manager",
    "fallback_clients",
    "find_frame",
    "has_wm_state",
    "hidden_by_state",
    "parent_of",
    "window_manager_running",
]

# WM_STATE values (ICCCM 4.1.3.1): a withdrawn window is no client any more.
_WM_STATE_NORMAL = 1
_WM_STATE_ICONIC = 3


def ewmh_manager(conn: Connection) -> tuple[int | None, str | None]:
    """The running EWMH window manager's check window and name, or ``(None, None)``.

    The check window must point at itself: a stale property left by a window
    manager that exited does not count.
    """
    check = read_windows(conn, conn.root.id, "_NET_SUPPORTING_WM_CHECK")
    wid = check[0] if check else None
    if not wid or read_windows(conn, wid, "_NET_SUPPORTING_WM_CHECK") != [wid]:
        return None, None
    return wid, read_text(conn, wid, "_NET_WM_NAME")


def window_manager_running(conn: Connection) -> bool:
    """Whether any window manager manages the screen, EWMH or not.

    ICCCM 2.0 managers own ``WM_S<screen>``; older ones such as twm own no
    selection, but every manager redirects the root's substructure, and the
    root's ``all_event_masks`` shows that without side effects.
    """
    if conn.display.get_selection_owner(conn.atom(f"WM_S{conn.screen_number}")):
        return True
    attrs = conn.tolerant(conn.root.get_attributes)
    return attrs is not None and bool(attrs.all_event_masks & X.SubstructureRedirectMask)


class FallbackScan(NamedTuple):
    """The clients found without ``_NET_CLIENT_LIST``, and the windows to watch for ``WM_STATE``.

    ``unclaimed`` are the children of frames that hold no client yet: twm
    maps a frame before it sets ``WM_STATE`` on the client inside, so the
    property appearing there must trigger another scan.
    """

    clients: list[int]
    unclaimed: list[int]


def fallback_clients(conn: Connection) -> FallbackScan:
    """Clients without ``_NET_CLIENT_LIST``.

    Top-level windows with WM_STATE, or their children with it (inside a
    reparenting window manager's frames, override-redirect ones too: the frame
    itself, with its title bar, is never the client); with no window manager at
    all, the root's mapped ordinary windows.  An override-redirect window is
    never a client itself.
    """
    wm_running = window_manager_running(conn)
    scan = FallbackScan([], [])
    tree = conn.tolerant(conn.root.query_tree)
    for child in tree.children if tree is not None else []:
        attrs = conn.tolerant(child.get_attributes)
        if attrs is None:
            continue
        if not attrs.override_redirect and has_wm_state(conn, child.id):
            scan.clients.append(child.id)
            continue
        sub = conn.tolerant(child.query_tree)
        inner = [c.id for c in (sub.children if sub is not None else [])]
        managed = [wid for wid in inner if has_wm_state(conn, wid)]
        if managed:
            scan.clients.extend(managed)
        elif attrs.override_redirect:
            continue  # a menu, a tooltip, an overlay; or a frame (i3 makes them so) that holds no client yet
        elif not wm_running and attrs.map_state == X.IsViewable:
            scan.clients.append(child.id)
        elif wm_running:
            scan.unclaimed.extend(inner)
    return scan


def has_wm_state(conn: Connection, wid: int) -> bool:
    """Whether a window manager manages ``wid`` (WM_STATE Normal or Iconic)."""
    prop = conn.get_property(wid, conn.atom("WM_STATE"), X.AnyPropertyType)
    if prop is None or prop.format != 32 or not prop.value:
        return False
    return prop.value[0] in (_WM_STATE_NORMAL, _WM_STATE_ICONIC)


#: ``_NET_WM_STATE`` atoms under which a mapped client shows nothing of itself: minimised by a manager that keeps
#: minimised windows mapped, or rolled up into its title bar.
_HIDING_STATES = ("_NET_WM_STATE_HIDDEN", "_NET_WM_STATE_SHADED")


def hidden_by_state(conn: Connection, wid: int) -> bool:
    """Whether the window manager says ``wid`` is hidden though mapped (iconic, minimised or shaded)."""
    wm_state = conn.get_property(wid, conn.atom("WM_STATE"), X.AnyPropertyType)
    if wm_state is not None and wm_state.format == 32 and wm_state.value and wm_state.value[0] == _WM_STATE_ICONIC:
        return True
    states = read_atoms(conn, wid, "_NET_WM_STATE") or []
    return any(conn.atom(name) in states for name in _HIDING_STATES)


def parent_of(conn: Connection, wid: int) -> int | None:
    """The parent window of ``wid`` (X.NONE for the root), None if it vanished."""
    tree = conn.tolerant(conn.window(wid).query_tree)
    if tree is None:
        return None
    parent = tree.parent
    return parent if isinstance(parent, int) else int(parent.id)


def find_frame(conn: Connection, wid: int) -> int | None:
    """The root's child that holds ``wid`` (``wid`` itself without a reparenting window manager)."""
    current = wid
    while True:
        parent = parent_of(conn, current)
        if parent is None:
            return None
        if parent in (conn.root.id, X.NONE):
            return current
        current = parent


def client_rect(conn: Connection, wid: int) -> Rect | None:
    """The area of ``wid`` in root coordinates."""
    geometry = conn.tolerant(conn.window(wid).get_geometry)
    coords = conn.tolerant(conn.root.translate_coords, wid, 0, 0)
    if geometry is None or coords is None:
        return None
    return Rect(coords.x, coords.y, geometry.width, geometry.height)
