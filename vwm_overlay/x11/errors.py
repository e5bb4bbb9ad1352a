"""Exceptions of the X11 layer.

::

    OverlayError
    ├── UsageError
    │   └── BindingError                 a hotkey string that names no key or modifier
    └── X11Error                         base of the X11 layer's errors
        ├── DisplayUnavailableError      no $DISPLAY, or the display cannot be reached (exit status 2)
        ├── ConnectionLostError          the X server closed the connection
        ├── X11UnsupportedError          the server lacks something the overlay needs (SHAPE, a 32-bit visual)
        └── HotkeyUnavailableError       a binding could not be grabbed (reported, never fatal)
            ├── HotkeyConflictError      another client holds the grab (BadAccess)
            └── HotkeySwallowedError     the window manager grabs the binding's modifier key itself
"""

from __future__ import annotations

from ..errors import OverlayError, UsageError

__all__ = [
    "DISPLAY_UNAVAILABLE_STATUS",
    "BindingError",
    "ConnectionLostError",
    "DisplayUnavailableError",
    "HotkeyConflictError",
    "HotkeySwallowedError",
    "HotkeyUnavailableError",
    "X11Error",
    "X11UnsupportedError",
]

#: The exit status the command line uses for :class:`DisplayUnavailableError`.
DISPLAY_UNAVAILABLE_STATUS = 2


class X11Error(OverlayError):
    """Base class of the X11 layer's errors."""


class DisplayUnavailableError(X11Error):
    """There is no display to connect to; the message says why, on one line."""


class ConnectionLostError(X11Error):
    """The connection to the X server broke (the server exited or dropped us)."""


class X11UnsupportedError(X11Error):
    """The X server lacks an extension or visual the overlay cannot work without."""


class BindingError(UsageError):
    """A hotkey binding string is malformed or names an unknown key or modifier."""


class HotkeyUnavailableError(X11Error):
    """A hotkey could not be grabbed; the other hotkeys still work."""

    def __init__(self, action: str, binding: str, reason: str) -> None:
        super().__init__(f"{binding} ({action}): {reason}")
        self.action = action
        self.binding = binding
        self.reason = reason


class HotkeyConflictError(HotkeyUnavailableError):
    """Another client already grabbed this key combination (BadAccess)."""

    def __init__(self, action: str, binding: str) -> None:
        super().__init__(action, binding, "taken by another client")

    def __str__(self) -> str:
        flag = "--" + self.action.replace("_", "-")
        return f"{self.binding} is taken by another client ({self.action}); bind another key with {flag} KEYS"


class HotkeySwallowedError(HotkeyUnavailableError):
    """The window manager grabs a modifier key itself (icewm's Win95Keys takes Super): the press never arrives.

    ``binding`` is the modifier (``Mod4``), ``action`` the actions that use it, comma-separated.
    """

    def __init__(self, modifier: str, keys: list[str], actions: list[str], advice: str | None) -> None:
        super().__init__(", ".join(actions), modifier, f"the window manager takes {', '.join(keys)} itself")
        self.keys = keys
        self.advice = advice

    def __str__(self) -> str:
        first = self.action.split(", ")[0]
        rebind = f"bind other keys, e.g. --{first.replace('_', '-')} Control+Mod1+semicolon"
        fix = f"{self.advice}, or {rebind}" if self.advice else rebind
        return f"{self.binding} hotkeys ({self.action}) cannot work: {self.reason}; {fix}"
