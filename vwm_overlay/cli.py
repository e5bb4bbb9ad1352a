"""The ``vwm-overlay`` command line."""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import __version__
from .errors import OverlayError, UsageError
from .limits import raise_open_files_limit

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "EXIT_X_LOST", "command_parsers", "main"]

EXIT_OK = 0
#: Something failed at run time (an unwritable file).
EXIT_ERROR = 1
#: Bad arguments, a process that does not exist, no usable display.
EXIT_USAGE = 2
#: The overlay lost its connection to the X server (the server exited or dropped it).
EXIT_X_LOST = 3

#: Blocked from the first instant of :func:`main` until the command has its handlers: a signal that comes during
#: start-up (imports take a while) waits instead of ending the process.  The faults a process raises on itself
#: cannot wait.
_STARTUP_BLOCKED = signal.valid_signals() - {
    signal.SIGKILL,
    signal.SIGSTOP,
    signal.SIGSEGV,
    signal.SIGBUS,
    signal.SIGFPE,
    signal.SIGILL,
    signal.SIGTRAP,
    signal.SIGSYS,
}

EXIT_CODES_HELP = """\
exit status:
  0    success (record: the command's own status; 128+N when signal N killed it)
  1    a run-time failure, reported in one line; compare: a --fail-on limit was exceeded
  2    bad arguments, no such process, an unwritable output directory, no display, every hotkey taken, an unreadable log
  3    the overlay lost its connection to the X server
"""


class _Parser(argparse.ArgumentParser):
    """Reports bad arguments in one line, with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


#: The longest --interval: a day (far longer ones overflow the sleep).
MAX_INTERVAL_S = 86400.0


def _interval_s(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_INTERVAL_S):
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_INTERVAL_S:g}: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _tree_parser() -> _Parser:
    parser = _Parser(
        prog="vwm-overlay tree",
        description="Sample a process, its descendants and threads, and print the tree after each sample: "
        "pid, state, CPU% of one core, read and write bytes per second, and the command line "
        "(threads are marked with ~).",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pid", type=int, required=True, help="the process to follow")
    parser.add_argument("--interval", type=_interval_s, default=1.0, metavar="SECONDS", help="default 1")
    parser.add_argument("--count", type=_positive_int, metavar="N", help="samples to print (default: until it exits)")
    return parser


def _main_tree(argv: Sequence[str], startup_mask: set[int]) -> int:
    signal.pthread_sigmask(signal.SIG_SETMASK, startup_mask)  # SIGINT: KeyboardInterrupt, the rest: defaults
    from .tree import run_tree

    args = _tree_parser().parse_args(argv)
    return run_tree(args.pid, args.interval, args.count, sys.stdout)


def _main_record(argv: Sequence[str], startup_mask: set[int]) -> int:
    # The signals stay blocked: the recorder takes its own from the mask as it is (see record.signals) and gives
    # the command the mask the program started with.
    from .record import run_record

    return run_record(argv, startup_mask=startup_mask)


def _main_plot(argv: Sequence[str], startup_mask: set[int]) -> int:
    signal.pthread_sigmask(signal.SIG_SETMASK, startup_mask)
    from .record.plot import run_plot

    return run_plot(argv)


def _main_compare(argv: Sequence[str], startup_mask: set[int]) -> int:
    signal.pthread_sigmask(signal.SIG_SETMASK, startup_mask)
    from .record.compare import run_compare

    return run_compare(argv)


def _overlay_parser() -> _Parser:
    from .desktop import add_overlay_arguments, hotkeys_help

    parser = _Parser(
        prog="vwm-overlay",
        usage="vwm-overlay [options]",
        description=OVERLAY_DESCRIPTION,
        epilog=f"hotkeys (defaults):\n{hotkeys_help()}\n{EXIT_CODES_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_overlay_arguments(parser)
    return parser


def _main_overlay(argv: Sequence[str], startup_mask: set[int]) -> int:
    signal.pthread_sigmask(signal.SIG_SETMASK, startup_mask)
    import os

    from .desktop import config_from_arguments, run
    from .session import session_notes
    from .x11 import ConnectionLostError, DisplayUnavailableError

    args = _overlay_parser().parse_args(argv)
    config = config_from_arguments(args, os.environ)
    for note in session_notes(os.environ):
        print(f"vwm-overlay: {note}", file=sys.stderr)
    try:
        return run(config)
    except DisplayUnavailableError as err:
        print(f"vwm-overlay: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ConnectionLostError as err:
        print(f"vwm-overlay: {err}", file=sys.stderr)
        return EXIT_X_LOST


OVERLAY_DESCRIPTION = """\
Without a command, vwm-overlay runs on the X display beside the window manager:
it monitors the processes of every window from the moment the window appears,
and a hotkey shows their chart over the window.  SIGINT or SIGTERM end it."""


def _overlay_help() -> str:
    from .desktop import add_overlay_arguments, hotkeys_help

    # The options from the parser that takes them, so the two never differ; the hotkey options in one line.
    options = argparse.ArgumentParser(usage=argparse.SUPPRESS, add_help=False)
    add_overlay_arguments(options, hotkeys=False)
    options.add_argument("--ACTION", metavar="KEYS", help='bind a hotkey, e.g. --toggle-all Mod4+F12 ("" unbinds it)')
    option_lines = options.format_help().strip().splitlines()[1:]
    return "\n".join(
        [
            "options (without a command):",
            *option_lines,
            "",
            'hotkeys (defaults; also set in the config file\'s [keys] table, e.g. toggle = "Mod4+F11"):',
            hotkeys_help(),
        ]
    )


SUBCOMMANDS = {"tree": _main_tree, "record": _main_record, "plot": _main_plot, "compare": _main_compare}


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    """The overlay's parser (under ``""``) and each command's, for the generated man page and completions."""
    from .record.compare import _parser as compare_parser
    from .record.options import _parser as record_parser
    from .record.plot import _parser as plot_parser

    return {
        "": _overlay_parser(),
        "tree": _tree_parser(),
        "record": record_parser(),
        "plot": plot_parser(),
        "compare": compare_parser(),
    }


def _main_help() -> str:
    # A function: the overlay's hotkeys come from modules that import X, which no other command needs.
    return f"""\
usage: vwm-overlay [options]
       vwm-overlay COMMAND [options]

vwm's per-window process monitoring for every X11 desktop.

{OVERLAY_DESCRIPTION}

commands:
  tree      print a process tree with CPU and IO once per sample
  record    chart a command or a process to PNG snapshots, with no X server
  plot      draw the chart of a recorded log again (PNG, SVG, PDF; a window of the run)
  compare   compare two recorded logs per command name; exit 1 beyond --fail-on limits

Run 'vwm-overlay COMMAND --help' for a command's options.

{_overlay_help()}
{EXIT_CODES_HELP}"""


def main(argv: Sequence[str] | None = None) -> int:
    startup_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STARTUP_BLOCKED)
    try:
        return _main(argv, startup_mask)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, startup_mask)


def _main(argv: Sequence[str] | None, startup_mask: set[int]) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # The engine keeps a few files open per task: room for large trees (commands run with the user's limits).
    raise_open_files_limit()
    # Default SIGPIPE: `vwm-overlay tree ... | head` ends quietly.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if args[:1] in (["-h"], ["--help"]):
        print(_main_help(), end="")
        return EXIT_OK
    if args[:1] == ["--version"]:
        print(f"vwm-overlay {__version__}")
        return EXIT_OK
    if not args or args[0].startswith("-"):
        # No command: the overlay program, with its options.
        prog, command, rest = "vwm-overlay", _main_overlay, args
    else:
        prog, rest = f"vwm-overlay {args[0]}", args[1:]
        found = SUBCOMMANDS.get(args[0])
        if found is None:
            print(f"vwm-overlay: unknown command {args[0]!r} (see --help)", file=sys.stderr)
            return EXIT_USAGE
        command = found
    try:
        return command(rest, startup_mask)
    except UsageError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OverlayError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
