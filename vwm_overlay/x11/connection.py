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

from Xlib import error as xerror
from Xlib.display import Display
from Xlib.protocol import rq
from Xlib.xobject.drawable import Window

from .errors import ConnectionLostError, DisplayUnavailableError

__all__ = ["VANISHED", "Connection"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: Errors a request gets when its window was destroyed meanwhile.  Clients close
#: windows whenever they like, so these are normal, never a bug of ours.
VANISHED: tuple[type[xerror.XError], ...] = (xerror.BadWindow, xerror.BadDrawable)


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
        # Asynchronous errors without an onerror= handler land here; python-xlib's
        # default prints them to stderr, which vanished windows would flood.
        self.display.set_error_handler(self._on_error)

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
        """Run a request that may hit a window that vanished; None if it did.

        For round-trip requests, whose errors python-xlib raises.  One-way requests
        are covered by the connection's error handler, which drops these errors.
        """
        try:
            return call(*args, **kwargs)
        except VANISHED:
            return None

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

    def events(self) -> list[rq.Event]:
        """All events that can be read now, without blocking (except those a taker took)."""
        out: list[rq.Event] = []
        takers = self._takers
        with self.guard():
            while self.display.pending_events():
                event = self.display.next_event()
                if not any(take(event) for take in takers):
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
        if isinstance(err, VANISHED):
            return
        log.warning("X error: %s", _one_line(err))


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__
