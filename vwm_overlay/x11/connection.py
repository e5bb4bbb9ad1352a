"""The one connection to the X server: opening it, atoms, vanished windows, events.

Everything in the X11 layer shares one :class:`Connection` and runs on one thread.
The application selects on :meth:`Connection.fileno` and then drains
:meth:`Connection.events`, so no thread ever blocks in the Xlib reader.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import ParamSpec, TypeVar, cast

from Xlib import X
from Xlib import error as xerror
from Xlib.display import Display
from Xlib.protocol import rq
from Xlib.protocol.request import GetProperty
from Xlib.xobject.drawable import Window

from .errors import ConnectionLostError, DisplayUnavailableError

__all__ = ["BAD_VALUE", "BAD_WINDOW", "RACE_CODES", "Connection", "error_code", "is_race"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Core protocol error codes (X Window System Protocol, section 4 "Errors").
BAD_VALUE = 2
BAD_WINDOW = 3
BAD_PIXMAP = 4
BAD_MATCH = 8
BAD_DRAWABLE = 9

#: Errors that another client can cause by acting between our requests, so they are normal, never a bug of ours:
#: a window destroyed meanwhile (BadWindow; BadDrawable from GetGeometry; BadPixmap for a drawable that was a
#: window; BadMatch for a request that needs it viewable), a property that shrank between two reads of it
#: (BadValue: the second read's offset lies past its new end).
RACE_CODES = frozenset({BAD_VALUE, BAD_WINDOW, BAD_PIXMAP, BAD_MATCH, BAD_DRAWABLE})

#: Largest core error code (BadImplementation); extensions' errors come after it.
_LAST_CORE_CODE = 17

#: Bytes of the 32-byte error packet that hold its code.
_CODE_BYTE = 1


def error_code(err: BaseException) -> int | None:
    """The raw X error code of ``err``, or None when it is no X protocol error.

    By the raw code, not the class: python-xlib 0.33's RANDR extension registers its error classes under core
    codes 0-2 (BadRequest and BadValue then arrive as RANDR classes, which are not even ``XError``).  The
    connection undoes that at open, and this still reads the code from the packet when a class lacks ``code``.
    """
    code = getattr(err, "code", None)
    if isinstance(code, int):
        return code
    packet = err.args[1] if len(err.args) == 2 else None
    if isinstance(packet, bytes | bytearray) and len(packet) >= 32 and packet[0] == 0:
        return packet[_CODE_BYTE]
    return None


def is_race(err: BaseException) -> bool:
    """Whether ``err`` is an X error that a change by another client explains (see :data:`RACE_CODES`)."""
    return error_code(err) in RACE_CODES


class Connection:
    """An open display, with an atom cache and tolerance of vanished windows.

    ``Connection()`` connects to ``$DISPLAY``; failures raise
    :class:`DisplayUnavailableError` with a one-line message.
    """

    def __init__(self, display_name: str | None = None) -> None:
        name = display_name if display_name is not None else os.environ.get("DISPLAY", "")
        if not name:
            raise DisplayUnavailableError("no X display: $DISPLAY is not set")
        try:
            self.display = Display(name)
        except xerror.DisplayError as err:
            raise DisplayUnavailableError(f"cannot open X display {name!r}: {_one_line(err)}") from err
        except (xerror.ConnectionClosedError, xerror.XauthError, xerror.XNoAuthError, OSError) as err:
            raise DisplayUnavailableError(f"cannot open X display {name!r}: {_one_line(err)}") from err
        self.name = name
        self.screen_number: int = self.display.get_default_screen()
        self.screen = self.display.screen(self.screen_number)
        self.root: Window = self.screen.root
        self._atoms: dict[str, int] = {}
        self._atom_names: dict[int, str] = {}
        self._closed = False
        self._takers: list[Callable[[rq.Event], bool]] = []
        self._helpers: dict[str, object] = {}
        #: PropertyNotify read by the last :meth:`events` call, by window, before they were coalesced.
        self.property_counts: dict[int, int] = {}
        # Asynchronous errors without an onerror= handler land here; python-xlib's
        # default prints them to stderr, which vanished windows would flood.
        self.display.set_error_handler(self._on_error)
        _restore_core_errors(self.display)

    # -- atoms -----------------------------------------------------------------

    def atom(self, name: str) -> int:
        """The atom for ``name``, interned once per connection."""
        atom = self._atoms.get(name)
        if atom is None:
            atom = self.display.intern_atom(name)
            self._atoms[name] = atom
            self._atom_names[atom] = name
        return atom

    def atom_name(self, atom: int) -> str:
        """The name of ``atom`` (cached; atoms never change meaning)."""
        name = self._atom_names.get(atom)
        if name is None:
            name = self.display.get_atom_name(atom)
            self._atom_names[atom] = name
            self._atoms.setdefault(name, atom)
        return name

    # -- requests --------------------------------------------------------------

    def window(self, wid: int) -> Window:
        """A window object for the id ``wid`` (no request is sent)."""
        return self.display.create_resource_object("window", wid)

    def tolerant(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        """Run a request that another client may have raced (see :data:`RACE_CODES`); None if it did.

        For round-trip requests, whose errors python-xlib raises.  One-way requests
        are covered by the connection's error handler, which drops these errors.
        """
        try:
            return call(*args, **kwargs)
        except Exception as err:
            if is_race(err):
                return None
            raise

    def get_property(self, wid: int, atom: int, kind: int) -> GetProperty | None:
        """The whole value of a property, read from its start; None if it is missing or the window vanished.

        Always from offset 0, with room for all of it: a property read in two pieces (python-xlib's
        ``get_full_property``) gets BadValue when it shrank in between, and one that grew in between is
        read again, whole, a few times at most.
        """
        window = self.window(wid)
        length_words = _PROPERTY_WORDS
        for _ in range(_PROPERTY_TRIES):
            prop = self.tolerant(window.get_property, atom, kind, 0, length_words)
            if prop is None or prop.property_type == X.NONE:
                return None
            if not prop.bytes_after:
                return prop
            length_words = (len(prop.value) * prop.format // 8 + prop.bytes_after) // 4 + _PROPERTY_WORDS
        return prop  # still growing: what we read is a consistent prefix

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Turn a broken connection inside the block into :class:`ConnectionLostError`."""
        try:
            yield
        except (xerror.ConnectionClosedError, BrokenPipeError, ConnectionResetError) as err:
            raise ConnectionLostError(f"lost the connection to X display {self.name!r}: {_one_line(err)}") from err

    def flush(self) -> None:
        """Send buffered requests."""
        with self.guard():
            self.display.flush()

    def sync(self) -> None:
        """Send buffered requests and wait until the server handled them."""
        with self.guard():
            self.display.sync()

    # -- events ----------------------------------------------------------------

    def fileno(self) -> int:
        """The socket to select on for readability."""
        return self.display.fileno()

    def pending(self) -> int:
        """How many events can be read without blocking (reads the socket)."""
        with self.guard():
            return self.display.pending_events()

    def events(self, limit: int = 1 << 30) -> list[rq.Event]:
        """The events that can be read now without blocking, at most ``limit`` (except those a taker took).

        A PropertyNotify is kept only once per window and property in a batch (the last one): only the
        property's value, read afterwards, matters, and a client rewriting a property in a loop sends thousands.
        """
        out: list[rq.Event] = []
        takers = self._takers
        seen: dict[tuple[int, int], int] = {}  # (window, atom) -> index of its PropertyNotify in out
        counts = self.property_counts
        counts.clear()
        read = 0
        with self.guard():
            while read < limit:
                # Asking python-xlib for the count reads the socket once more: asked before every event, it would
                # queue events faster than they are taken, and under a flood its queue (which it pops from the
                # front, moving all the rest) would grow without end.  So: take what one read brought, then read.
                available = self.display.pending_events()
                if not available:
                    break
                for _ in range(min(available, limit - read)):
                    event = self.display.next_event()
                    read += 1
                    if any(take(event) for take in takers):
                        continue
                    if event.type == X.PropertyNotify:
                        key = (event.window.id, event.atom)
                        counts[key[0]] = counts.get(key[0], 0) + 1
                        index = seen.get(key)
                        if index is not None:
                            out[index] = event
                            continue
                        seen[key] = len(out)
                    out.append(event)
        return out

    def helper(self, key: str, make: Callable[[], T]) -> T:
        """``make()``, called once per connection for ``key``: state of this layer that lives with the connection."""
        if key not in self._helpers:
            self._helpers[key] = make()
        return cast(T, self._helpers[key])

    def take_events(self, take: Callable[[rq.Event], bool]) -> None:
        """Show every event to ``take`` first; those it returns True for are its own, not returned by :meth:`events`.

        For bookkeeping events of this layer (image uploads done) that the application has no use for.
        """
        self._takers.append(take)

    # -- lifetime --------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; the server frees our windows and grabs."""
        if self._closed:
            return
        self._closed = True
        try:
            self.display.close()
        except (xerror.ConnectionClosedError, OSError):
            pass  # the server is gone already: nothing left to release

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _on_error(self, err: xerror.XError, request: rq.Request | None) -> None:
        if is_race(err):
            return
        log.warning("X error: %s", _one_line(err))


#: A property is first read with room for this many 32-bit words (a client list of 4,096 windows).
_PROPERTY_WORDS = 4096
#: Reads of a property that keeps growing before the last one is taken as it is.
_PROPERTY_TRIES = 4


def _restore_core_errors(display: Display) -> None:
    """Give the core error codes back their core classes, on this connection only.

    python-xlib 0.33's RANDR support registers its three errors at codes 0-2 instead of at the extension's first
    error code, over the core BadRequest and BadValue.  Its classes are plain exceptions without the fields the
    reply reader needs (``sequence_number``), so such an error arriving for a request breaks the connection's
    reader in the middle of a packet: every later request then waits forever.  The table is shared by every
    connection of the process; this connection gets a repaired copy of its own.
    """
    protocol = display.display
    classes = dict(protocol.error_classes)
    for code in range(_LAST_CORE_CODE + 1):
        core = xerror.xerror_class.get(code)
        if core is None:
            classes.pop(code, None)
        else:
            classes[code] = core
    protocol.error_classes = classes


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__
