"""What the desktop session means for the overlay, said once at start-up."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["session_notes"]


def session_notes(environ: Mapping[str, str]) -> list[str]:
    """One-line notes about the session the overlay runs in (none for a plain X11 session)."""
    if environ.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        # The overlay sees the X server only: Xwayland's windows are all it can find and cover.
        return ["a Wayland session: only Xwayland windows (X11 programs) can be charted"]
    return []
