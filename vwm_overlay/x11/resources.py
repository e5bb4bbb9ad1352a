"""The X resources the user set for every client (``xrdb``): read from the root window's RESOURCE_MANAGER.

Only what the overlay uses is read: ``Xft.dpi``, the screen's density as the desktop sets it for its own
toolkits, so the charts are as legible as the rest of the desktop on a HiDPI screen.
"""

from __future__ import annotations

from .connection import Connection
from .props import read_text

__all__ = ["resource_value", "xft_dpi"]


def resource_value(database: str, name: str) -> str | None:
    """The value of the fully qualified resource ``name`` in a resource database's text (the last one wins).

    Lines are ``name: value``; ``!`` starts a comment.  Wildcard entries (``*dpi``) are not matched: desktops
    write ``Xft.dpi`` in full.
    """
    found = None
    for line in database.splitlines():
        key, colon, value = line.partition(":")
        if colon and not key.lstrip().startswith("!") and key.strip() == name:
            found = value.strip()
    return found


def xft_dpi(conn: Connection) -> float | None:
    """The screen's dots per inch from the ``Xft.dpi`` resource; None when unset or not a positive number."""
    database = read_text(conn, conn.root.id, "RESOURCE_MANAGER")
    if database is None:
        return None
    text = resource_value(database, "Xft.dpi")
    if text is None:
        return None
    try:
        dpi = float(text)
    except ValueError:
        return None
    return dpi if 0 < dpi < 10_000 else None
