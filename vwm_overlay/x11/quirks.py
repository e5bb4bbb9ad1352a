"""What the overlay does differently for particular window managers, in one place.

Most of the program works the same under every manager (frames, override-redirect
frames, twm's missing EWMH and dwm's off-screen tags are handled generically by the
client tracker); what remains is advice to the user when a manager's own set-up
stands in the way.
"""

from __future__ import annotations

__all__ = ["modifier_key_advice"]

#: What to change in a window manager that grabs a modifier key (Super alone opens its menu), keyed by the
#: start of its ``_NET_WM_NAME`` in lower case.
_MODIFIER_KEY_ADVICE = {
    "icewm": "set Win95Keys=0 in ~/.icewm/preferences and restart IceWM",
}


def modifier_key_advice(wm_name: str | None) -> str | None:
    """How to stop the window manager named ``wm_name`` from taking modifier keys, if we know it."""
    name = (wm_name or "").lower()
    return next((advice for prefix, advice in _MODIFIER_KEY_ADVICE.items() if name.startswith(prefix)), None)
