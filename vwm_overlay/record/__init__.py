"""``vwm-overlay record``: vwm's ``vmon`` CLI; charts a command or a running process to PNGs with no X server.

The parts, one job each: :mod:`.options` (command line, ``%`` interpolation, output directory), :mod:`.child`
(fork, hold, exec), :mod:`.signals` (signals taken synchronously), :mod:`.runner` (the loop),
:mod:`.snapshots` (atomic PNGs), :mod:`.files` (files no other user can redirect, one-line failure reports),
:mod:`.jsonlog` (``--jsonl``, in the format of :mod:`.logformat`) and :mod:`.progress` (the terminal line).  From a
log: :mod:`.replay` rebuilds the engine's records, :mod:`.plot` draws the chart again (``vwm-overlay plot``),
:mod:`.compare` compares two runs (``vwm-overlay compare``).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from .child import ExecFailed as _ExecFailed
from .options import RecordOptions
from .options import interpolate as _interpolate
from .options import parse_options as _parse_options
from .runner import Recorder
from .signals import handled_signals as _handled_signals

__all__ = ["RecordOptions", "Recorder", "run_record"]


def run_record(argv: Sequence[str], *, stderr: TextIO = sys.stderr, startup_mask: set[int] | None = None) -> int:
    """Run ``vwm-overlay record ARGV``; returns the exit status.  Bad input raises ``UsageError``.

    ``startup_mask`` is the signal mask the program started with, if it blocked signals since (the command gets
    it back).  The recorder's own signals stay blocked from here on, the others are unblocked.
    """
    handled = _handled_signals()
    original_mask = signal.pthread_sigmask(signal.SIG_BLOCK, handled)
    child_mask = original_mask if startup_mask is None else startup_mask
    signal.pthread_sigmask(signal.SIG_SETMASK, child_mask | handled)
    # A reader that goes away (`--jsonl /dev/stdout | head`) is a failed write of that output alone (EPIPE).
    sigpipe = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        options = _parse_options(argv)
        command = _interpolate(options.command, name=options.name, output_dir=options.output_dir, pid=os.getpid())
        try:
            return Recorder(options, command, stderr=stderr, signals=handled, child_mask=child_mask).run()
        except _ExecFailed as err:
            print(f"vwm-overlay record: {err}", file=stderr)
            return err.status
    finally:
        # Signals that came after the end (a second SIGTERM, a late SIGUSR1) are moot: dropped, not delivered.
        while signal.sigtimedwait(handled, 0) is not None:
            pass
        signal.signal(signal.SIGPIPE, sigpipe)
        signal.pthread_sigmask(signal.SIG_SETMASK, original_mask)
