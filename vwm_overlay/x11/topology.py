"""Where windows sit: the window manager, frames, client areas, clients without EWMH.

Every query tolerates windows that vanish meanwhile and answers None (or
leaves them out) for them.
"""

from __future__ import annotations

from Xlib import X

from .connection import Connection
from .events import Rect
from .props import read_text, read_windows

__all__ = ["client_rect", "ewmh_manager", "fallback_clients", "find_frame", "has_wm_state", "parent_of"]

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


def fallback_clients(conn: Connection) -> list[int]:
    """Clients without ``_NET_CLIENT_LIST``.

    Top-level windows with WM_STATE, or their children with it (inside a
    reparenting window manager's frames); with no window manager at all, the
    root's mapped ordinary windows.  Override-redirect windows never count.
    """
    wm_running = bool(conn.display.get_selection_owner(conn.atom(f"WM_S{conn.screen_number}")))
    found: list[int] = []
    tree = conn.tolerant(conn.root.query_tree)
    for child in tree.children if tree is not None else []:
        attrs = conn.tolerant(child.get_attributes)
        if attrs is None or attrs.override_redirect:
            continue
        if has_wm_state(conn, child.id):
            found.append(child.id)
        elif wm_running:
            sub = conn.tolerant(child.query_tree)
            found += [c.id for c in (sub.children if sub is not None else []) if has_wm_state(conn, c.id)]
        elif attrs.map_state == X.IsViewable:
            found.append(child.id)
    return found


def has_wm_state(conn: Connection, wid: int) -> bool:
    """Whether a window manager manages ``wid`` (WM_STATE Normal or Iconic)."""
    prop = conn.get_property(wid, conn.atom("WM_STATE"), X.AnyPropertyType)
    if prop is None or prop.format != 32 or not prop.value:
        return False
    return prop.value[0] in (_WM_STATE_NORMAL, _WM_STATE_ICONIC)


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
