"""Running the overlay program: signals, logging, the connection, and the loop until a signal ends it."""

from __future__ import annotations

import logging
import signal
import sys
from typing import TextIO

from ..x11 import Connection, ConnectionLostError
from ._app import OverlayApp
from ._config import AppConfig
from ._signals import SignalPipe, quit_now

__all__ = ["SHUTDOWN_GRACE_S", "run"]

#: After SIGINT or SIGTERM, the cleanup (destroying the overlays, releasing the hotkeys) gets this long; then, or
#: at a second signal, the program exits at once and the X server frees what was left.
SHUTDOWN_GRACE_S = 0.8


def run(config: AppConfig, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run the overlay program until SIGINT or SIGTERM; returns the exit status (0).

    Raises :class:`~vwm_overlay.x11.DisplayUnavailableError` when there is no display and
    :class:`~vwm_overlay.x11.ConnectionLostError` when the X server goes away.
    """
    # A write to a dead X server must become an error we report, not a silent death by SIGPIPE.
    previous = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    # What the layers below say (an X error nobody expected, a pid namespace noticed) reads like our own lines.
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("vwm-overlay: %(message)s"))
    logger = logging.getLogger("vwm_overlay")
    logger.addHandler(handler)
    try:
        return _run(config, out, err)
    finally:
        logger.removeHandler(handler)
        signal.signal(signal.SIGPIPE, previous)


def _run(config: AppConfig, out: TextIO, err: TextIO) -> int:
    with (
        SignalPipe((signal.SIGINT, signal.SIGTERM), grace_s=SHUTDOWN_GRACE_S, on_overdue=quit_now) as signals,
        Connection(config.display) as conn,
    ):
        app = OverlayApp(conn, config, out=out, err=err)
        lost = False
        try:
            app.start()
            app.loop(signals)
        except ConnectionLostError:
            lost = True
            raise
        finally:
            app.close(x_alive=not lost)
    return 0
