"""``vwm-overlay record``: vwm's ``vmon`` CLI; charts a command or a running process to PNGs with no X server.

The parts, one job each: :mod:`.options` (command line, ``%`` interpolation, output directory), :mod:`.child`
(fork, hold, exec), :mod:`.signals` (signals taken synchronously), :mod:`.runner` (the loop),
:mod:`.snapshots` (atomic PNGs), :mod:`.jsonlog` (``--jsonl``, in the format of :mod:`.logformat`) and
:mod:`.progress` (the terminal line).  From a log: :mod:`.replay` rebuilds the engine's records, :mod:`.plot` draws
the chart again (``vwm-overlay plot``), :mod:`.compare` compares two runs (``vwm-overlay compare``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

from .child import ExecFailed
from .options import RecordOptions, interpolate, parse_options
from .runner import Recorder

__all__ = ["RecordOptions", "Recorder", "run_record"]


def run_record(argv: Sequence[str], *, stderr: TextIO = sys.stderr) -> int:
    """Run ``vwm-overlay record ARGV``; returns the exit status.  Bad input raises ``UsageError``."""
    options = parse_options(argv)
    command = interpolate(options.command, name=options.name, output_dir=options.output_dir, pid=os.getpid())
    try:
        return Recorder(options, command, stderr=stderr).run()
    except ExecFailed as err:
        print(f"vwm-overlay record: {err}", file=stderr)
        return err.status
