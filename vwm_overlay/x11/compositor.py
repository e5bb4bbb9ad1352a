"""Knowing whether a compositing manager runs, and noticing when that changes.

A compositor owns the ``_NET_WM_CM_S<screen>`` selection.  With XFIXES the
server tells us when the owner changes; without it the application calls
:meth:`CompositorWatch.poll` now and then (one round trip).
"""

from __future__ import annotations

from collections.abc import Iterable

from Xlib.ext import xfixes
from Xlib.protocol import rq

from .connection import Connection

__all__ = ["CompositorWatch"]

_MASK = (
    xfixes.XFixesSetSelectionOwnerNotifyMask
    | xfixes.XFixesSelectionWindowDestroyNotifyMask
    | xfixes.XFixesSelectionClientCloseNotifyMask
)


class CompositorWatch:
    """``active`` tells whether a compositor runs; :meth:`process` reports changes."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.selection = conn.atom(f"_NET_WM_CM_S{conn.screen_number}")
        self.event_driven = False
        self.active = self._owned()

    def start(self) -> bool:
        """Ask to be told of owner changes (if XFIXES exists); returns the current state."""
        if self.conn.display.has_extension("XFIXES"):
            # XFIXES needs the version handshake before any other request.
            self.conn.display.xfixes_query_version()
            self.conn.display.xfixes_select_selection_input(self.conn.root, self.selection, _MASK)
            self.event_driven = True
        self.active = self._owned()
        return self.active

    def process(self, events: Iterable[rq.Event]) -> bool | None:
        """The new state if these events changed it, else None."""
        seen = False
        for event in events:
            if isinstance(event, xfixes.SelectionNotify) and event.selection == self.selection:
                seen = True
        return self.poll() if seen else None

    def poll(self) -> bool | None:
        """Check the selection owner now; the new state if it changed, else None."""
        active = self._owned()
        if active == self.active:
            return None
        self.active = active
        return active

    def _owned(self) -> bool:
        return bool(self.conn.display.get_selection_owner(self.selection))
