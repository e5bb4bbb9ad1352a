"""Tracking the client windows of the desktop, their processes, places and visibility.

The list of clients comes from ``_NET_CLIENT_LIST`` when an EWMH window manager
runs; otherwise from the root's children that carry ``WM_STATE`` (or one level
down, inside a reparenting window manager's frames), or, with no window manager
at all, the root's mapped ordinary children.

The tracker owns the root window's event mask.  The application passes every
event it reads to :meth:`ClientTracker.process` and acts on the events returned.
Work that needs round trips (geometry, pids, titles) is done once per batch, so a burst
of ConfigureNotify while a window is dragged costs one query.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from Xlib import X
from Xlib.protocol import rq

from .connection import Connection
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
from .props import read_atoms, read_text, read_windows, window_pid, window_title
from .topology import client_rect, ewmh_manager, fallback_clients, find_frame, hidden_by_state, parent_of

__all__ = ["Client", "ClientTracker", "is_local_name", "local_names"]

log = logging.getLogger(__name__)

# StructureNotify on the root: its ConfigureNotify tells of RandR screen changes.
_ROOT_MASK = X.PropertyChangeMask | X.SubstructureNotifyMask | X.StructureNotifyMask
_CLIENT_MASK = X.PropertyChangeMask | X.StructureNotifyMask

#: A client whose properties changed more often than this within one batch of events floods us (a title or a
#: progress counter rewritten in a loop): every notification costs us a parse, it could send more than we can
#: read, and every round trip of ours waits behind all of them.  So we stop listening to its properties, read the
#: ones we care about every :data:`PROPERTY_POLL_S` instead, and listen again after :data:`PROPERTY_MUTE_S`.
PROPERTY_FLOOD = 128
PROPERTY_POLL_S = 2.0
PROPERTY_MUTE_S = 30.0

#: The properties a title is read from (see :func:`~.props.window_title`).
_TITLE_PROPERTIES = frozenset({"_NET_WM_NAME", "WM_NAME"})


@dataclass(slots=True)
class Client:
    """What the tracker knows of one client window (read it, never change it)."""

    window: int
    frame: int
    pid: int | None
    #: A window of this machine that gets a chart (remote ones, desktops and docks do not).
    local: bool
    rect: Rect
    client_mapped: bool
    frame_mapped: bool
    reported_mapped: bool = field(default=False)
    hidden: bool = field(default=False)  # minimised or shaded though mapped (see hidden_by_state)
    #: Inside the screen: dwm hides the windows of other tags by moving them out of it, still mapped.
    on_screen: bool = field(default=True)
    title: str | None = field(default=None)  # as last reported (read for local clients only)

    @property
    def mapped(self) -> bool:
        """Whether the client is on screen: itself and its frame are mapped, not hidden by its state, not moved
        out of the screen."""
        return self.client_mapped and self.frame_mapped and not self.hidden and self.on_screen


@dataclass(slots=True)
class _Pending:
    """Work collected from one batch of events, done once at its end."""

    rescan: bool = False
    relist: bool = False
    pids: set[int] = field(default_factory=set)
    machines: set[int] = field(default_factory=set)
    frames: set[int] = field(default_factory=set)
    geometry: set[int] = field(default_factory=set)
    restacked: set[int] = field(default_factory=set)
    listen: set[int] = field(default_factory=set)  # clients to listen to again, once read
    states: set[int] = field(default_factory=set)
    titles: set[int] = field(default_factory=set)


class ClientTracker:
    """Keeps the set of client windows current and reports changes as events.

    ``start()`` selects the events and returns a :class:`ClientAdded` for every
    client already there.  ``process(events)`` returns what changed.
    ``hostname`` is this machine's name, for ``WM_CLIENT_MACHINE`` (default:
    :func:`socket.gethostname`; see :func:`local_names`).
    """

    def __init__(
        self, conn: Connection, *, hostname: str | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.conn = conn
        self.clock = clock
        self._muted: dict[int, list[float]] = {}  # client window -> [when to read it, when to listen again]
        self._titles_due: dict[int, float] = {}  # client window -> since when its title waits to be read
        self.hostname = (hostname if hostname is not None else socket.gethostname()).lower()
        self._local = local_names(self.hostname)
        self._unchartable_types = frozenset(conn.atom(f"_NET_WM_WINDOW_TYPE_{kind}") for kind in ("DESKTOP", "DOCK"))
        self._told_pid_mismatch = False
        self.clients: dict[int, Client] = {}
        self._frames: dict[int, set[int]] = {}  # frame -> clients inside it
        self._ewmh = False
        self._wm_check: int | None = None
        self._pending = _Pending()
        self._screen = Rect(0, 0, conn.screen.width_in_pixels, conn.screen.height_in_pixels)
        self._removed: list[ClientEvent] = []  # reported by DestroyNotify, sent at the batch's end

    # -- public ------------------------------------------------------------------

    def start(self) -> list[ClientEvent]:
        """Select the root's events and report the clients that exist now."""
        self.conn.root.change_attributes(event_mask=_ROOT_MASK)
        self._pending.rescan = True
        return self._finish()

    def process(self, events: Iterable[rq.Event]) -> list[ClientEvent]:
        """Take a batch of X events (any kinds; others are ignored) and report the changes."""
        for event in events:
            handler = self._HANDLERS.get(event.type)
            if handler is not None:
                handler(self, event)
        self._mute_floods()
        return self._finish()

    @property
    def ewmh(self) -> bool:
        """Whether the clients are those of a live EWMH manager's ``_NET_CLIENT_LIST`` (else found by WM_STATE)."""
        return self._ewmh

    def rescan(self) -> list[ClientEvent]:
        """Rebuild the client list from scratch (also done on a window manager change)."""
        self._pending.rescan = True
        return self._finish()

    def pids(self) -> dict[int, int | None]:
        """The pid of every reported client, by window."""
        return {w: c.pid for w, c in self.clients.items() if c.local}

    def get(self, window: int) -> Client | None:
        """The reported client with this window id, if any."""
        client = self.clients.get(window)
        return client if client is not None and client.local else None

    def active_client(self) -> int | None:
        """The focused client: ``_NET_ACTIVE_WINDOW``, else the input focus, resolved to a client."""
        if self._ewmh:
            active = read_windows(self.conn, self.conn.root.id, "_NET_ACTIVE_WINDOW")
            if active and active[0]:
                found = self._client_of(active[0])
                if found is not None:
                    return found
        focus = self.conn.display.get_input_focus().focus
        focus_id = focus if isinstance(focus, int) else focus.id
        if focus_id == X.PointerRoot:
            # twm's focus follows the pointer this way: the keyboard goes to whatever is under the pointer.
            focus_id = self._under_pointer()
        if focus_id == X.NONE:
            return None
        return self._client_of(focus_id)

    def _under_pointer(self) -> int:
        pointer = self.conn.root.query_pointer()
        child = pointer.child
        return child if isinstance(child, int) else int(child.id)

    def stop(self) -> None:
        """Stop listening to the clients (the root's mask is cleared too)."""
        for wid in self.clients:
            self.conn.window(wid).change_attributes(event_mask=X.NoEventMask)
        self.conn.root.change_attributes(event_mask=X.NoEventMask)
        self.clients.clear()
        self._frames.clear()

    def _mute_floods(self) -> None:
        now = self.clock()
        for wid, count in self.conn.property_counts.items():
            if count > PROPERTY_FLOOD and wid in self.clients and wid not in self._muted:
                self._muted[wid] = [now + PROPERTY_POLL_S, now + PROPERTY_MUTE_S]
                self.conn.window(wid).change_attributes(event_mask=X.StructureNotifyMask)
                # A flooded title is read with the polls: a read now would wait behind the whole flood.
                self._pending.titles.discard(wid)
                self._titles_due.pop(wid, None)
        for wid, (poll_at, listen_at) in list(self._muted.items()):
            if now < poll_at:
                continue
            # Read what may have changed unheard; listen again only after these reads (see _finish): listening
            # first would put the client's flood, if it goes on, ahead of every reply.
            self._muted[wid][0] = now + PROPERTY_POLL_S
            self._pending.pids.add(wid)
            self._pending.machines.add(wid)
            self._pending.titles.add(wid)
            self._pending.relist |= not self._ewmh
            if now >= listen_at:
                del self._muted[wid]
                self._pending.listen.add(wid)

    # -- event handlers: only take notes, the round trips wait for _finish -----------

    def _on_property(self, event: rq.Event) -> None:
        name = self.conn.atom_name(event.atom)
        window = event.window.id
        if window == self.conn.root.id:
            if name == "_NET_CLIENT_LIST":
                # A manager announces itself before it lists its clients: its first list makes it an EWMH one.
                if not self._ewmh and self._wm_check is not None:
                    self._pending.rescan = True
                else:
                    self._pending.relist = True
            elif name == "_NET_SUPPORTING_WM_CHECK":
                self._pending.rescan = True
        elif window in self.clients:
            if name == "_NET_WM_PID":
                self._pending.pids.add(window)
            elif name == "WM_CLIENT_MACHINE":
                self._pending.machines.add(window)
            elif name in _TITLE_PROPERTIES:
                # Once per batch however often it changed; a muted client's (the backlog of its flood) waits
                # for its next poll.
                if window not in self._muted:
                    self._pending.titles.add(window)
            elif name in ("WM_STATE", "_NET_WM_STATE"):
                self._pending.states.add(window)
                self._pending.relist |= name == "WM_STATE" and not self._ewmh
        elif name == "WM_STATE" and not self._ewmh:
            self._pending.relist = True  # a window inside a frame became a client (see FallbackScan)

    def _on_configure(self, event: rq.Event) -> None:
        window = event.window.id
        if window == self.conn.root.id:
            self._on_screen_change(event)
            return
        if window in self.clients:
            self._pending.geometry.add(window)
        inside = self._frames.get(window)
        if inside:
            self._pending.geometry.update(inside)
            if event.event.id == self.conn.root.id:
                self._pending.restacked.update(inside)
        below = event.above_sibling
        below_id = below if isinstance(below, int) else below.id
        slid_in = not event.override or window in self._frames  # awesome's and i3's frames are override-redirect
        if below_id in self._frames and slid_in and event.event.id == self.conn.root.id:
            # A window slid in between a frame and its overlay: the overlay must
            # go back on top of the frame.  (Overlays are override-redirect and
            # never frames, so restacking one never loops back here.)
            self._pending.restacked.update(self._frames[below_id])

    def _on_screen_change(self, event: rq.Event) -> None:
        """The root changed size (RandR: a monitor added, removed or turned): every client is placed anew."""
        screen = Rect(0, 0, event.width, event.height)
        if screen != self._screen:
            self._screen = screen
            self._pending.geometry.update(self.clients)
            self._pending.restacked.update(self.clients)

    def _on_map(self, event: rq.Event) -> None:
        window = event.window.id
        # Override-redirect windows (menus, our own overlays) are never clients, but i3, fluxbox, icewm and
        # awesome make their frames override-redirect: a known frame's map counts like any other.
        if not event.override or self._tracked(window):
            self._set_mapped(window, True)

    def _tracked(self, window: int) -> bool:
        return window in self.clients or window in self._frames

    def _on_unmap(self, event: rq.Event) -> None:
        self._set_mapped(event.window.id, False)

    def _set_mapped(self, window: int, mapped: bool) -> None:
        client = self.clients.get(window)
        if client is not None:
            client.client_mapped = mapped
            if client.frame == window:
                client.frame_mapped = mapped
        for wid in self._frames.get(window, ()):
            self.clients[wid].frame_mapped = mapped
        if not self._ewmh and client is None and window not in self._frames:
            self._pending.relist = True

    def _on_destroy(self, event: rq.Event) -> None:
        window = event.window.id
        if window == self._wm_check:
            self._pending.rescan = True
        if window in self.clients:
            self._forget(window)
        if window in self._frames:
            self._pending.frames.update(self._frames[window])
        if not self._ewmh:
            self._pending.relist = True

    def _on_reparent(self, event: rq.Event) -> None:
        window = event.window.id
        if window in self.clients:
            self._pending.frames.add(window)
        elif not self._ewmh:
            self._pending.relist = True

    _HANDLERS = {
        X.PropertyNotify: _on_property,
        X.ConfigureNotify: _on_configure,
        X.MapNotify: _on_map,
        X.UnmapNotify: _on_unmap,
        X.DestroyNotify: _on_destroy,
        X.ReparentNotify: _on_reparent,
    }

    # -- the batch's work ------------------------------------------------------------

    def _finish(self) -> list[ClientEvent]:
        pending, self._pending = self._pending, _Pending()
        # Clients removed by DestroyNotify during the batch were queued by _forget.
        out: list[ClientEvent] = self._removed
        self._removed = []
        if pending.rescan:
            out.append(WindowManagerChanged(self._check_wm()))
            out += self._sync_list()
        elif pending.relist:
            out += self._sync_list()
        for wid in pending.machines:
            out += self._recheck_machine(wid)
        for wid in pending.pids:
            out += self._recheck_pid(wid)
        if pending.titles or self._titles_due:
            out += self._recheck_titles(pending.titles, out)
        for wid in pending.frames:
            client = self.clients.get(wid)
            if client is not None:
                self._set_frame(client, find_frame(self.conn, wid))
                pending.geometry.add(wid)
        for wid in pending.states:
            self._recheck_hidden(wid)
        for wid in pending.geometry:
            out += self._recheck_geometry(wid, wid in pending.restacked)
        for wid in pending.restacked - pending.geometry:
            client = self.clients.get(wid)
            if client is not None and client.local:
                out.append(ClientRestacked(wid, client.frame))
        for wid, client in self.clients.items():
            if client.local and client.mapped != client.reported_mapped:
                client.reported_mapped = client.mapped
                out.append(ClientMapped(wid) if client.mapped else ClientUnmapped(wid))
        for wid in pending.listen & self.clients.keys():
            self.conn.window(wid).change_attributes(event_mask=_CLIENT_MASK)
        return out

    def _check_wm(self) -> str | None:
        """Find an EWMH window manager; watch its check window to notice it leaving."""
        self._wm_check, name = ewmh_manager(self.conn)
        if self._wm_check is not None:
            self.conn.window(self._wm_check).change_attributes(event_mask=X.StructureNotifyMask)
        # A stale _NET_CLIENT_LIST outlives its window manager: only a live one counts.
        self._ewmh = self._wm_check is not None and self._list_ewmh() is not None
        return name

    def _sync_list(self) -> list[ClientEvent]:
        wanted = (self._list_ewmh() or []) if self._ewmh else self._fallback_list()
        out: list[ClientEvent] = []
        for wid in list(self.clients):
            if wid not in wanted:
                out += self._forget(wid, report=False)
        for wid in wanted:
            if wid not in self.clients:
                out += self._add(wid)
        return out

    def _fallback_list(self) -> list[int]:
        scan = fallback_clients(self.conn)
        for wid in scan.unclaimed:
            self.conn.window(wid).change_attributes(event_mask=X.PropertyChangeMask)
        return scan.clients

    def _list_ewmh(self) -> list[int] | None:
        return read_windows(self.conn, self.conn.root.id, "_NET_CLIENT_LIST")

    def _add(self, wid: int) -> list[ClientEvent]:
        window = self.conn.window(wid)
        # Select first, then read: a change in between is then never missed.
        window.change_attributes(event_mask=_CLIENT_MASK)
        attrs = self.conn.tolerant(window.get_attributes)
        frame = find_frame(self.conn, wid)
        rect = client_rect(self.conn, wid)
        if attrs is None or frame is None or rect is None:
            return []  # it vanished already
        frame_attrs = attrs if frame == wid else self.conn.tolerant(self.conn.window(frame).get_attributes)
        client = Client(
            window=wid,
            frame=frame,
            pid=None,
            local=self._is_local(wid),
            rect=rect,
            client_mapped=attrs.map_state != X.IsUnmapped,
            frame_mapped=frame_attrs is not None and frame_attrs.map_state != X.IsUnmapped,
            hidden=hidden_by_state(self.conn, wid),
            on_screen=_overlaps(rect, self._screen),
        )
        self.clients[wid] = client
        self._frames.setdefault(frame, set()).add(wid)
        if not client.local:
            return []
        client.pid = self._pid_of(wid)
        client.title = window_title(self.conn, wid)
        client.reported_mapped = client.mapped
        return [ClientAdded(wid, client.pid, rect, frame, client.mapped, client.title)]

    def _forget(self, wid: int, *, report: bool = True) -> list[ClientEvent]:
        self._muted.pop(wid, None)
        self._titles_due.pop(wid, None)
        client = self.clients.pop(wid, None)
        if client is None:
            return []
        inside = self._frames.get(client.frame)
        if inside is not None:
            inside.discard(wid)
            if not inside:
                del self._frames[client.frame]
        if not client.local:
            return []
        event = ClientRemoved(wid, client.pid)
        if report:
            self._removed.append(event)
            return []
        return [event]

    def _recheck_machine(self, wid: int) -> list[ClientEvent]:
        client = self.clients.get(wid)
        if client is None or self._is_local(wid) == client.local:
            return []
        if client.local:  # became remote: as if it closed
            client.local = False
            return [ClientRemoved(wid, client.pid)]
        client.local = True
        client.pid = self._pid_of(wid)
        client.title = window_title(self.conn, wid)
        client.reported_mapped = client.mapped
        return [ClientAdded(wid, client.pid, client.rect, client.frame, client.mapped, client.title)]

    def _recheck_pid(self, wid: int) -> list[ClientEvent]:
        client = self.clients.get(wid)
        if client is None or not client.local:
            return []
        pid = self._pid_of(wid)
        if pid == client.pid:
            return []
        old, client.pid = client.pid, pid
        return [ClientPidChanged(wid, old, pid)]

    def _recheck_titles(self, changed: set[int], reported: list[ClientEvent]) -> list[ClientEvent]:
        """Read the titles that changed, once the events already queued are read, or :data:`PROPERTY_POLL_S` late.

        Those events may show a client flooding its title: read now, the title would come after all of them and
        the flood would go on meanwhile, unmuted; once muted, the flood's title is read with the polls.
        """
        due = self._titles_due
        now = self.clock()
        for wid in changed:
            due.setdefault(wid, now)
        for change in reported:
            if isinstance(change, ClientAdded):
                due.pop(change.window, None)  # read with it
        if not due:
            return []
        behind = self.conn.pending() > 0
        out: list[ClientEvent] = []
        for wid, since_s in list(due.items()):
            if behind and now - since_s < PROPERTY_POLL_S:
                continue
            del due[wid]
            out += self._recheck_title(wid)
        return out

    def read_title(self, wid: int) -> list[ClientEvent]:
        """Read ``wid``'s title now (its change, if any), whether or not a change was seen: a save names the chart
        after the title the window has when the key is pressed, even one whose notification is still queued."""
        self._titles_due.pop(wid, None)
        return self._recheck_title(wid)

    def _recheck_title(self, wid: int) -> list[ClientEvent]:
        client = self.clients.get(wid)
        if client is None or not client.local:
            return []
        title = window_title(self.conn, wid)
        if title == client.title:
            return []
        client.title = title
        return [ClientTitleChanged(wid, title)]

    def _recheck_hidden(self, wid: int) -> None:
        client = self.clients.get(wid)
        if client is not None:
            client.hidden = hidden_by_state(self.conn, wid)

    def _recheck_geometry(self, wid: int, restacked: bool) -> list[ClientEvent]:
        client = self.clients.get(wid)
        if client is None:
            return []
        rect = client_rect(self.conn, wid)
        if rect is None:
            return []
        client.on_screen = _overlaps(rect, self._screen)
        if rect == client.rect:
            return [ClientRestacked(wid, client.frame)] if restacked and client.local else []
        client.rect = rect
        return [ClientGeometry(wid, rect, client.frame)] if client.local else []

    def _set_frame(self, client: Client, frame: int | None) -> None:
        if frame is None or frame == client.frame:
            return
        inside = self._frames.get(client.frame)
        if inside is not None:
            inside.discard(client.window)
            if not inside:
                del self._frames[client.frame]
        client.frame = frame
        self._frames.setdefault(frame, set()).add(client.window)
        attrs = self.conn.tolerant(self.conn.window(frame).get_attributes)
        client.frame_mapped = attrs is not None and attrs.map_state != X.IsUnmapped

    # -- queries ---------------------------------------------------------------------

    def _pid_of(self, wid: int) -> int | None:
        """X-Resource's pid (from the client's socket), ``_NET_WM_PID`` only where the server cannot tell."""
        server_pid, claimed_pid = window_pid(self.conn, wid)
        if server_pid is None:
            return claimed_pid
        if claimed_pid is not None and claimed_pid != server_pid and not self._told_pid_mismatch:
            self._told_pid_mismatch = True  # once: a desktop of Flatpak apps would say it for every window
            log.warning(
                "window 0x%x: _NET_WM_PID says %d, the X server says %d (a pid namespace?); "
                "using the X server's pids where they differ",
                wid,
                claimed_pid,
                server_pid,
            )
        return server_pid

    def _is_local(self, wid: int) -> bool:
        """Whether ``wid`` is a window of this machine that gets a chart: not a desktop or a dock (a panel), whose
        processes are the desktop's own and whose chart would cover the screen or a bar."""
        machine = read_text(self.conn, wid, "WM_CLIENT_MACHINE")
        if machine is not None and not is_local_name(machine.lower(), self._local):
            return False
        kinds = read_atoms(self.conn, wid, "_NET_WM_WINDOW_TYPE") or ()
        return not any(kind in self._unchartable_types for kind in kinds)

    def _client_of(self, wid: int) -> int | None:
        """The client that ``wid`` is, frames, or lies inside of."""
        root = self.conn.root.id
        current = wid
        while current not in (root, X.NONE):
            client = self.clients.get(current)
            if client is not None:
                return current if client.local else None
            inside = [w for w in self._frames.get(current, ()) if self.clients[w].local]
            if inside:
                return min(inside)
            parent = parent_of(self.conn, current)
            if parent is None:
                return None
            current = parent
        return None


def local_names(hostname: str) -> frozenset[str]:
    """The ``WM_CLIENT_MACHINE`` values that mean this machine, ``hostname`` being what ``gethostname`` says.

    ICCCM asks clients for the fully qualified name, many give the short one, some ``localhost``.  Both forms of
    ours count; when ``hostname`` has no domain, any name whose first label is ours does (see
    :func:`is_local_name`), since learning our domain would need a DNS query that may hang.
    """
    name = hostname.lower().rstrip(".")
    short = name.split(".", 1)[0]
    return frozenset({name, short, "localhost", "localhost.localdomain", "localhost6", "localhost6.localdomain6"})


def is_local_name(machine: str, local: frozenset[str]) -> bool:
    """Whether a lower-case ``WM_CLIENT_MACHINE`` names this machine, ``local`` being :func:`local_names`."""
    machine = machine.rstrip(".")
    if machine in local:
        return True
    short, dot, _ = machine.partition(".")
    # A fully qualified name with our short name, when we do not know our own domain.
    return bool(dot) and short in local and not any("." in name and not name.startswith("localhost") for name in local)


def _overlaps(a: Rect, b: Rect) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height
