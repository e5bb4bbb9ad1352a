"""Reading window properties, and finding the process behind a window.

Every reader returns None when the property is missing, malformed, or the
window vanished meanwhile: callers treat all three alike.
"""

from __future__ import annotations

from Xlib import X, Xatom
from Xlib.ext import res

from .connection import Connection
from .ctext import decode_text_property

__all__ = ["read_atoms", "read_cardinal", "read_text", "read_windows", "window_pid", "window_title", "xres_pid"]


def read_cardinal(conn: Connection, wid: int, name: str) -> int | None:
    """The first 32-bit value of property ``name`` on ``wid``."""
    values = _read32(conn, wid, name, Xatom.CARDINAL)
    return int(values[0]) if values else None


def read_atoms(conn: Connection, wid: int, name: str) -> list[int] | None:
    """An ATOM-list property (``_NET_WM_STATE``...)."""
    return _read32(conn, wid, name, Xatom.ATOM)


def read_windows(conn: Connection, wid: int, name: str) -> list[int] | None:
    """A WINDOW-list property (``_NET_CLIENT_LIST``, ``_NET_SUPPORTING_WM_CHECK``...)."""
    values = _read32(conn, wid, name, Xatom.WINDOW)
    return None if values is None else [int(v) for v in values]


def read_text(conn: Connection, wid: int, name: str) -> str | None:
    """A text property (``WM_CLIENT_MACHINE``, ``_NET_WM_NAME``), decoded by its type (UTF8_STRING, Latin-1
    STRING, COMPOUND_TEXT)."""
    prop = conn.get_property(wid, conn.atom(name), X.AnyPropertyType)
    if prop is None or prop.format != 8:
        return None
    value = prop.value
    raw = value if isinstance(value, bytes) else bytes(value)
    # Several strings may be NUL-separated; the first is the one that matters.
    return decode_text_property(conn.atom_name(prop.property_type), raw.split(b"\0", 1)[0])


def window_title(conn: Connection, wid: int) -> str | None:
    """The window's title: ``_NET_WM_NAME`` (UTF-8), else the ICCCM ``WM_NAME`` older clients set alone."""
    return read_text(conn, wid, "_NET_WM_NAME") or read_text(conn, wid, "WM_NAME")


def xres_pid(conn: Connection, wid: int) -> int | None:
    """The pid of the local client that created ``wid``, from the X-Resource extension.

    The server knows the peer of every local connection, so this works for
    clients that set no ``_NET_WM_PID``.  None for remote clients or without
    the extension.
    """
    if not conn.display.has_extension("X-Resource"):
        return None
    reply = conn.tolerant(conn.display.res_query_client_ids, [(wid, res.LocalClientPIDMask)])
    if reply is None:
        return None
    for ident in reply.ids:
        if ident.spec.mask & res.LocalClientPIDMask and ident.value:
            pid = int(ident.value[0])
            return pid if pid > 0 else None
    return None


def window_pid(conn: Connection, wid: int) -> tuple[int | None, int | None]:
    """``(server_pid, claimed_pid)``: what X-Resource says of ``wid``'s client, and its ``_NET_WM_PID``.

    Prefer the first: the server took it from the client's socket, so it is the pid in our pid namespace.
    ``_NET_WM_PID`` is what the client believes its pid is: inside Flatpak, bubblewrap, firejail or any pid
    namespace it is a pid of that namespace (a Flatpak app says 2, which here is kthreadd).
    """
    claimed = read_cardinal(conn, wid, "_NET_WM_PID")
    return xres_pid(conn, wid), claimed if claimed is not None and claimed > 0 else None


def _read32(conn: Connection, wid: int, name: str, kind: int) -> list[int] | None:
    prop = conn.get_property(wid, conn.atom(name), kind)
    if prop is None or prop.format != 32:
        return None
    return list(prop.value)
