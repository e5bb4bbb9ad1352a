"""The overlay program: every client window's process tree monitored, its chart shown over it on a hotkey.

::

    config = config_from_arguments(args, os.environ)   # defaults < config.toml < command line; ConfigError
    run(config)                                         # until SIGINT or SIGTERM

Inside: :class:`OverlayApp` owns one connection's collaborators (the client
tracker, the compositor watch, the hotkeys, the shared monitor, the schedule),
each of which can be passed in; a :class:`WindowRegistry` of :class:`WindowView`
(a window's chart and overlay); :class:`Actions` for what the hotkeys do.
"""

from __future__ import annotations

from ._actions import ACTIONS, Actions, SaveChart
from ._app import COMPOSITOR_POLL_S, EVENTS_PER_PASS, EXPOSE_WAIT_S, PROC_WANTS, OverlayApp
from ._config import (
    ACTION_HELP,
    BINDINGS,
    MAX_CONFIG_BYTES,
    AppConfig,
    ConfigError,
    add_overlay_arguments,
    config_from_arguments,
    default_config_path,
    default_output_dir,
    hotkeys_help,
    load_config_file,
    read_config_bytes,
)
from ._loop import SHUTDOWN_GRACE_S, run
from ._registry import WindowRegistry
from ._save import chart_file_name, save_chart
from ._signals import SignalPipe, quit_now
from ._view import OVERLAY_THEME, SHAPED_UNDERLAY, UNDERLAY_ALPHA, WindowView

__all__ = [
    "ACTIONS",
    "ACTION_HELP",
    "BINDINGS",
    "COMPOSITOR_POLL_S",
    "EVENTS_PER_PASS",
    "EXPOSE_WAIT_S",
    "MAX_CONFIG_BYTES",
    "OVERLAY_THEME",
    "PROC_WANTS",
    "SHAPED_UNDERLAY",
    "SHUTDOWN_GRACE_S",
    "UNDERLAY_ALPHA",
    "Actions",
    "AppConfig",
    "ConfigError",
    "OverlayApp",
    "SaveChart",
    "SignalPipe",
    "WindowRegistry",
    "WindowView",
    "add_overlay_arguments",
    "chart_file_name",
    "config_from_arguments",
    "default_config_path",
    "default_output_dir",
    "hotkeys_help",
    "load_config_file",
    "quit_now",
    "read_config_bytes",
    "run",
    "save_chart",
]
