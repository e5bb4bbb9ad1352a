"""The ``vwm-overlay`` command line."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import __version__
from .errors import OverlayError, UsageError

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0
#: Something failed at run time (a lost X connection, an unwritable file).
EXIT_ERROR = 1
#: Bad arguments, a process that does not exist, no usable display.
EXIT_USAGE = 2

EXIT_CODES_HELP = """\
exit status:
  0    success (record: the command's own status; 128+N when signal N killed it)
  1    a run-time failure, reported in one line
  2    bad arguments, no such process, an unwritable output directory, no display
"""


class _Parser(argparse.ArgumentParser):
    """Reports bad arguments in one line, with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
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
        "pid, state, CPU%% of one core, read and write bytes per second, and the command line "
        "(threads are marked with ~).",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pid", type=int, required=True, help="the process to follow")
    parser.add_argument("--interval", type=_positive_float, default=1.0, metavar="SECONDS", help="default 1")
    parser.add_argument("--count", type=_positive_int, metavar="N", help="samples to print (default: until it exits)")
    return parser


def _main_tree(argv: Sequence[str]) -> int:
    from .tree import run_tree

    args = _tree_parser().parse_args(argv)
    return run_tree(args.pid, args.interval, args.count, sys.stdout)


SUBCOMMANDS = {"tree": _main_tree}

MAIN_HELP = f"""\
usage: vwm-overlay COMMAND [options]

vwm's per-window process monitoring for every X11 desktop.

commands:
  tree      print a process tree with CPU and IO once per sample

Run 'vwm-overlay COMMAND --help' for a command's options.

{EXIT_CODES_HELP}"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # Default SIGPIPE: `vwm-overlay tree ... | head` ends quietly.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if not args or args[0] in ("-h", "--help"):
        print(MAIN_HELP, end="")
        return EXIT_OK
    if args[0] == "--version":
        print(f"vwm-overlay {__version__}")
        return EXIT_OK
    command = SUBCOMMANDS.get(args[0])
    if command is None:
        print(f"vwm-overlay: unknown command {args[0]!r} (see --help)", file=sys.stderr)
        return EXIT_USAGE
    try:
        return command(args[1:])
    except UsageError as err:
        print(f"vwm-overlay {args[0]}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OverlayError as err:
        print(f"vwm-overlay {args[0]}: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
