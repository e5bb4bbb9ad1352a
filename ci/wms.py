"""The window managers the X tests run under, and how to drive each one.

Everything that differs between managers for the tests lives here: the
command, the configuration files written for it (each manager gets a private
``HOME``, so nothing of the user's own set-up leaks in), and how to switch to
another workspace, minimise a window, make one fullscreen, or restart the
manager.  A missing way is None: the manager has no such thing (dwm and i3
have no minimising, twm no workspaces).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MANAGERS", "WindowManager"]


@dataclass(frozen=True)
class WindowManager:
    """One window manager: how to start it and drive it with ordinary tools."""

    name: str
    #: The command; ``{config}`` stands for the directory the ``files`` were written to.
    command: tuple[str, ...]
    #: The Debian package that installs it.
    package: str
    #: Files to write, relative to the private HOME, before it starts.
    files: dict[str, str] = field(default_factory=dict)
    #: Commands (run with the session's environment) that show another workspace, and the first one again.
    other_workspace: tuple[str, ...] | None = ("xdotool", "set_desktop", "1")
    first_workspace: tuple[str, ...] | None = ("xdotool", "set_desktop", "0")
    #: Whether ``xdotool windowminimize`` (ICCCM WM_CHANGE_STATE) minimises a window.
    minimises: bool = True
    #: Whether it honours a ``_NET_WM_STATE`` fullscreen request.
    fullscreen: bool = True
    #: Whether it rolls a window up into its title bar on a ``_NET_WM_STATE_SHADED`` request.
    shades: bool = False
    #: Whether it reparents clients into frames.
    reparents: bool = True
    #: Whether it implements EWMH (``_NET_CLIENT_LIST``).
    ewmh: bool = True
    #: How a test gives a window the focus: "ewmh" (a ``_NET_ACTIVE_WINDOW`` request), "pointer" (the manager
    #: focuses what the pointer enters) or "focus" (raise it and set the input focus directly).
    activate: str = "ewmh"
    #: Whether it grabs the Super keys alone for itself (so no Mod4 chord reaches another client).
    takes_super: bool = False
    #: The manager's own restart command; None: stop it and start it again.  (bspwm started anew adopts only the
    #: windows a previous bspwm handed over with ``bspc wm -r``.)
    restart: tuple[str, ...] | None = None
    #: Whether windows may overlap (a floating manager), so one can cover another.
    overlapping: bool = True

    @property
    def program(self) -> str:
        """The manager's own executable: the command's first word, or the word after a wrapper's ``--``."""
        words = self.command
        return words[words.index("--") + 1] if "--" in words else words[0]


_I3_CONFIG = """\
# No bar and no first-run wizard: only the windows under test.
font pango:DejaVu Sans 8
focus_follows_mouse no
"""

_BSPWM_RC = """\
#!/bin/sh
bspc monitor -d one two
bspc config border_width 2
bspc config window_gap 0
"""

_HLWM_AUTOSTART = """\
#!/bin/sh
herbstclient add two
herbstclient set focus_follows_mouse 0
"""

_TWMRC = """\
TitleFont "fixed"
ResizeFont "fixed"
MenuFont "fixed"
IconFont "fixed"
IconManagerFont "fixed"
RandomPlacement
UsePPosition "on"
NoGrabServer
"""

MANAGERS: dict[str, WindowManager] = {
    wm.name: wm
    for wm in (
        WindowManager("openbox", ("openbox",), "openbox", shades=True),
        # xfwm4 reads its settings from xfconfd, which only a D-Bus session starts.
        WindowManager("xfwm4", ("dbus-run-session", "--", "xfwm4", "--compositor=off"), "xfwm4", shades=True),
        WindowManager(
            "i3",
            ("i3", "-c", "{config}/i3.config"),
            "i3-wm",
            files={"i3.config": _I3_CONFIG},
            other_workspace=("i3-msg", "-q", "workspace", "2"),
            first_workspace=("i3-msg", "-q", "workspace", "1"),
            minimises=False,
            overlapping=False,
        ),
        WindowManager("awesome", ("awesome",), "awesome"),
        WindowManager("fluxbox", ("fluxbox",), "fluxbox", shades=True),
        # Its default configuration, Win95Keys and all: that is what users run.
        WindowManager("icewm", ("icewm",), "icewm", takes_super=True, shades=True),
        WindowManager(
            "bspwm",
            ("bspwm", "-c", "{config}/bspwmrc"),
            "bspwm",
            files={"bspwmrc": _BSPWM_RC},
            restart=("bspc", "wm", "-r"),
            minimises=False,
            overlapping=False,
        ),
        WindowManager(
            "herbstluftwm",
            ("herbstluftwm", "--autostart", "{config}/autostart"),
            "herbstluftwm",
            files={"autostart": _HLWM_AUTOSTART},
            overlapping=False,
        ),
        WindowManager(
            "dwm",
            ("dwm",),
            "dwm",
            # dwm's tags are only reachable through its own keys (Mod1+N).
            other_workspace=("xdotool", "key", "alt+2"),
            first_workspace=("xdotool", "key", "alt+1"),
            minimises=False,
            reparents=False,
            # dwm answers a _NET_ACTIVE_WINDOW request by marking the window urgent, not by focusing it.
            activate="pointer",
            overlapping=False,
        ),
        WindowManager(
            "twm",
            ("twm",),
            "twm",
            # By default twm grabs the server and waits for a click to place every new window, and wants fonts
            # that only xfonts-base brings (Xvfb always has "fixed").
            files={".twmrc": _TWMRC},
            other_workspace=None,
            first_workspace=None,
            fullscreen=False,
            ewmh=False,
            activate="pointer",
        ),
    )
}
