"""Global hotkeys: parse binding strings, grab them on the root, map key presses to actions.

Every binding is grabbed under each combination of the lock modifiers (Caps
Lock, Num Lock, Scroll Lock), so a hotkey works whatever the lock state.  A
combination another client already holds (BadAccess) is reported by name and
the other bindings keep working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

from Xlib import XK, X
from Xlib import error as xerror
from Xlib.protocol import rq

from .connection import Connection
from .errors import BindingError, HotkeyConflictError, HotkeySwallowedError, HotkeyUnavailableError
from .quirks import modifier_key_advice
from .topology import ewmh_manager

__all__ = ["DEFAULT_BINDINGS", "Binding", "Hotkeys", "parse_binding"]

#: The actions the application binds, with vwm's Mod1 keys moved to Mod4.
DEFAULT_BINDINGS: Mapping[str, str] = {
    "toggle": "Mod4+semicolon",
    "toggle_all": "Mod4+Shift+semicolon",
    "rate_up": "Mod4+Right",
    "rate_down": "Mod4+Left",
    "pause": "Mod4+z",
    "discard": "Mod4+apostrophe",
    "save": "Mod4+s",
}

_MODIFIERS: Mapping[str, int] = {
    "shift": X.ShiftMask,
    "control": X.ControlMask,
    "ctrl": X.ControlMask,
    "mod1": X.Mod1Mask,
    "alt": X.Mod1Mask,  # the usual mapping; X does not guarantee it
    "mod2": X.Mod2Mask,
    "mod3": X.Mod3Mask,
    "mod4": X.Mod4Mask,
    "super": X.Mod4Mask,  # likewise
    "mod5": X.Mod5Mask,
}

_MASK_NAMES: Mapping[int, str] = {
    X.Mod1Mask: "Mod1",
    X.Mod2Mask: "Mod2",
    X.Mod3Mask: "Mod3",
    X.Mod4Mask: "Mod4",
    X.Mod5Mask: "Mod5",
}

# The modifiers a binding may use; everything else in a KeyPress state
# (pointer buttons, lock modifiers) is ignored when matching.
_BINDABLE = X.ShiftMask | X.ControlMask | X.Mod1Mask | X.Mod2Mask | X.Mod3Mask | X.Mod4Mask | X.Mod5Mask


@dataclass(frozen=True, slots=True)
class Binding:
    """A parsed binding: a modifier mask and a keysym; ``text`` is what the user wrote."""

    text: str
    modifiers: int
    keysym: int


def parse_binding(text: str) -> Binding:
    """Parse ``"Mod4+Shift+semicolon"`` style strings (modifiers, then one X keysym name).

    Modifier names: Shift, Control (Ctrl), Mod1 (Alt), Mod2, Mod3, Mod4 (Super),
    Mod5, any case.  The key is an X keysym name (``semicolon``, ``Right``,
    ``F1``) or a single printable character.  Raises :class:`BindingError`.
    """
    parts = [p.strip() for p in text.split("+")]
    if not text.strip() or any(not p for p in parts):
        raise BindingError(f"bad hotkey {text!r}: expected modifiers and a key joined by '+', e.g. Mod4+semicolon")
    *mods, key = parts
    modifiers = 0
    for name in mods:
        mask = _MODIFIERS.get(name.lower())
        if mask is None:
            known = "Shift, Control, Mod1 (Alt), Mod2, Mod3, Mod4 (Super), Mod5"
            raise BindingError(f"bad hotkey {text!r}: unknown modifier {name!r} (known: {known})")
        modifiers |= mask
    keysym = XK.string_to_keysym(key)
    if keysym == X.NoSymbol and len(key) == 1 and key.isprintable():
        # Latin-1 keysyms equal their code points: ";" is semicolon.
        keysym = ord(key) if ord(key) < 0x100 else X.NoSymbol
    if keysym == X.NoSymbol:
        if key.lower() in _MODIFIERS:
            raise BindingError(f"bad hotkey {text!r}: it has modifiers but no key")
        raise BindingError(f"bad hotkey {text!r}: unknown key name {key!r} (use X keysym names such as semicolon)")
    return Binding(text, modifiers, keysym)


class Hotkeys:
    """The application's hotkeys: ``{action: binding string}``, grabbed on the root window.

    Bad binding strings raise :class:`BindingError` here, before anything is
    grabbed.  :meth:`grab` returns the bindings that could not be grabbed; they
    are also kept in :attr:`unavailable`.
    """

    def __init__(self, conn: Connection, bindings: Mapping[str, str] = DEFAULT_BINDINGS) -> None:
        self.conn = conn
        self.bindings: dict[str, Binding] = {}
        seen: dict[tuple[int, int], str] = {}
        for action, text in bindings.items():
            binding = parse_binding(text)
            other = seen.setdefault((binding.modifiers, binding.keysym), action)
            if other != action:
                raise BindingError(f"hotkey {text!r} is bound to both {other} and {action}")
            self.bindings[action] = binding
        self.unavailable: list[HotkeyUnavailableError] = []
        self._grabbed: list[tuple[int, int]] = []  # (keycode, modifiers) we hold
        self._actions: dict[tuple[int, int], str] = {}  # (keycode, modifiers) -> action
        self._locks = 0

    @property
    def grabs(self) -> frozenset[tuple[int, int]]:
        """The ``(keycode, modifiers)`` combinations held now."""
        return frozenset(self._grabbed)

    def grab(self) -> list[HotkeyUnavailableError]:
        """Grab every binding under every lock combination; report the ones that failed."""
        self._locks = self._lock_masks()
        variants = _subsets(self._locks)
        root = self.conn.root
        attempts: list[tuple[str, int, int, xerror.CatchError]] = []
        problems: list[HotkeyUnavailableError] = []
        for action, binding in self.bindings.items():
            keycodes = sorted({code for code, _index in self.conn.display.keysym_to_keycodes(binding.keysym)})
            if not keycodes:
                reason = f"no key on this keyboard makes {XK.keysym_to_string(binding.keysym) or binding.keysym}"
                problems.append(HotkeyUnavailableError(action, binding.text, reason))
                continue
            for code in keycodes:
                self._actions[(code, binding.modifiers)] = action
                for locks in variants:
                    catch = xerror.CatchError(xerror.BadAccess)
                    mods = binding.modifiers | locks
                    root.grab_key(code, mods, False, X.GrabModeAsync, X.GrabModeAsync, onerror=catch)
                    attempts.append((action, code, mods, catch))
        # One round trip reveals every BadAccess at once.
        self.conn.sync()
        failed: set[str] = set()
        for action, code, mods, catch in attempts:
            if catch.get_error() is None:
                self._grabbed.append((code, mods))
            elif action not in failed:
                failed.add(action)
                problems.append(HotkeyConflictError(action, self.bindings[action].text))
        self.unavailable = problems
        return problems

    def swallowed(self) -> list[HotkeyUnavailableError]:
        """The modifiers our bindings use whose keys the window manager grabs itself.

        icewm's default Win95Keys grabs Super_L and Super_R alone, so a Mod4 chord
        never reaches us (the key goes to the window unmodified).  Another
        client's grab of the bare key (or of it under AnyModifier) shows as
        BadAccess when we try the bare key.  The grab is released in the next
        request, so the server holds it only while it reads the two, and only
        the bare key is tried: a manager grabbing its keys at that instant (it
        starts beside us) must not fail because of us.  A key one of our own
        bindings holds is not tried (its release would release the binding).
        """
        display = self.conn.display
        used = 0
        for binding in self.bindings.values():
            used |= binding.modifiers
        attempts: list[tuple[int, int, xerror.CatchError]] = []
        ours = {code for code, _mods in self._grabbed}
        for index, row in enumerate(display.get_modifier_mapping()):
            bit = 1 << index
            if not used & bit or bit in (X.ShiftMask, X.LockMask, X.ControlMask):
                continue
            for code in row:
                keysym = display.keycode_to_keysym(code, 0) if code else X.NoSymbol
                # Only the key a keysym is typed with (a keymap may repeat a modifier on unused keycodes).
                if keysym != X.NoSymbol and display.keysym_to_keycode(keysym) == code and code not in ours:
                    catch = xerror.CatchError(xerror.BadAccess)
                    self.conn.root.grab_key(code, 0, False, X.GrabModeAsync, X.GrabModeAsync, onerror=catch)
                    self.conn.root.ungrab_key(code, 0)  # ours, if we got it; nobody else's
                    attempts.append((bit, code, catch))
        if not attempts:
            return []
        self.conn.sync()
        taken: dict[int, list[str]] = {}
        for bit, code, catch in attempts:
            if catch.get_error() is not None:
                taken.setdefault(bit, []).append(_keysym_name(display.keycode_to_keysym(code, 0)))
        if not taken:
            return []
        advice = modifier_key_advice(ewmh_manager(self.conn)[1])
        return [
            HotkeySwallowedError(
                _MASK_NAMES[bit], keys, [a for a, b in self.bindings.items() if b.modifiers & bit], advice
            )
            for bit, keys in taken.items()
        ]

    def ungrab(self) -> None:
        """Release every grab we hold."""
        for code, mods in self._grabbed:
            self.conn.root.ungrab_key(code, mods)
        self._grabbed.clear()
        self._actions.clear()
        self.conn.flush()

    def handle(self, event: rq.Event) -> str | None:
        """The action of a KeyPress on a bound key; re-grabs on a keyboard MappingNotify.

        Other events return None.  After a re-grab, :attr:`unavailable` is current.
        """
        if event.type == X.KeyPress:
            mods = event.state & _BINDABLE & ~self._locks
            return self._actions.get((event.detail, mods))
        if event.type == X.MappingNotify and event.request in (X.MappingKeyboard, X.MappingModifier):
            self.conn.display.refresh_keyboard_mapping(event)
            self._regrab()
        return None

    def _regrab(self) -> None:
        """Grab for the new mapping, then release only what it no longer needs.

        Tools such as xdotool change the mapping right before they type: releasing
        everything first would leave a moment without grabs, and lose their keys.
        (Grabbing a combination this client already holds is no conflict.)
        """
        held = self._grabbed
        self._grabbed = []
        self._actions.clear()
        self.grab()
        for code, mods in held:
            if (code, mods) not in self._grabbed:
                self.conn.root.ungrab_key(code, mods)
        self.conn.flush()

    def _lock_masks(self) -> int:
        """Caps Lock plus the modifiers Num Lock and Scroll Lock sit on (they vary by keymap)."""
        locks = X.LockMask
        mapping = self.conn.display.get_modifier_mapping()
        for name in ("Num_Lock", "Scroll_Lock"):
            codes = {code for code, _index in self.conn.display.keysym_to_keycodes(XK.string_to_keysym(name))}
            for index, row in enumerate(mapping):
                if codes.intersection(row) and (1 << index) not in (X.ShiftMask, X.ControlMask):
                    locks |= 1 << index
        return locks


def _keysym_name(keysym: int) -> str:
    """``Super_L`` for its keysym (python-xlib only maps Latin-1 keysyms back to text)."""
    found = next((name for name, value in vars(XK).items() if name.startswith("XK_") and value == keysym), None)
    return found[3:] if found else hex(keysym)


def _subsets(mask: int) -> list[int]:
    """Every combination of the bits of ``mask`` (including none)."""
    bits = [1 << i for i in range(8) if mask & (1 << i)]
    return [sum(combo) for n in range(len(bits) + 1) for combo in combinations(bits, n)]
