"""The options of ``vwm-overlay record``: parsing, checking, and ``%`` interpolation of the command.

Everything a user can get wrong is found here, before anything is started: a bad value, ``--pid`` together with a
command, ``--reaper`` without one.  Each is raised as one :class:`~vwm_overlay.errors.UsageError` (exit status
2).  Output files are checked where they are opened (:mod:`.files`), still before the command starts.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from ..errors import UsageError
from .report_options import REPORTS_HELP, ReportOptions, add_report_arguments, report_options

__all__ = ["RecordOptions", "UsageParser", "chart_size_px", "filename_safe", "interpolate", "parse_options"]

MIN_WIDTH_PX = 200
MIN_HEIGHT_PX = 28
#: Bounds on the chart's size: cairo takes at most 32767 px a side, and memory is about 17 bytes per pixel
#: (the history layers and the composed image), so 50 Mpx is about 850 MB.
MAX_SIDE_PX = 16384
MAX_AREA_PX = 50_000_000
MIN_HERTZ = 1
MAX_HERTZ = 1000
MIN_SCALE = 0.5
MAX_SCALE = 4.0
#: The longest file name Linux file systems take.
NAME_MAX_BYTES = 255

DESCRIPTION = """\
Chart a command (everything after --, or the first argument that is not an option) or a running process to PNG
snapshots, with no X server: vwm's per-task CPU rows (with --lanes an IO and an RSS lane under each process), the
process tree and the tasks that exited.

A PNG is always written when the run ends (the command exits, or on SIGTERM, SIGHUP, SIGQUIT or any other signal
that would end the process, SIGKILL and crashes aside), so `record -- make` leaves a chart even without --snapshot
or --snapshots.  SIGUSR1 writes a PNG at any time.  The first SIGINT is passed on to the command (a terminal's
Ctrl-C already reached it, so that one is not sent twice), a second one ends the recording.  A signal ignored when
the recorder starts (nohup) stays ignored.  On a terminal, stderr shows a progress line: elapsed time, samples,
tasks.

An output that fails (a full disk, no fds left, a log reader that went away) is reported in one line,
"vwm-overlay: FILE: CAUSE (ERRNO); WHAT HAPPENS NOW": the log stops, a snapshot is tried again at the next one, and
the recording and the command go on.

PNG names are NAME-YYYY-MM-DDTHH.MM.SS-N.png in the output directory (local time of the start of the recording, or
of the snapshot with --now-names; N counts from 0).  They are written to a hidden .NAME-...png.PID.WIP file (or to
--wip-name) first and renamed when complete, so a PNG under its final name is never partial; .WIP files that a
killed recorder left are removed by the next recording in the directory.

Files are created new, never written through an existing name (a symlink another user planted in a shared
directory is left alone): a PNG never replaces a file, an existing --jsonl, --summary or --trace file of yours is
replaced by a new one once the command started (a run that never starts leaves it as it was).
Modes are 0666 for files and 0777 for the output directory, less the umask.  An output directory that another user
owns (root's, like /tmp, are fine) is refused unless --allow-foreign-dir is given.  On the way to every output, a
symlink is followed only when you or root own it: another user's (shared/logs -> /etc) is refused.

In the command's arguments, %n is the name, %N the name made safe for a file name, %O the output directory, %P the
recorder's own pid (e.g. `kill -USR1 %P` from a script to take a snapshot) and %% a literal %.

--jsonl FILE writes a log from which `vwm-overlay plot` draws the chart again and `vwm-overlay compare` compares
runs: a header line (the command, the rate, the machine), then one JSON object per sample with what changed: the
tasks started and exited, and what each task used in the sample (CPU ticks, IO bytes, resident size).  The schema
is versioned and specified in the module vwm_overlay.record.logformat.
"""
DESCRIPTION += REPORTS_HELP

EPILOG_STATUS = """\
exit status: the command's own status (128+N when signal N killed it; 127 when it could not be run, 126 when it is
not executable); 0 with --pid or a group alone; 128+N when signal N (a second SIGINT, SIGTERM, SIGHUP...)
ended the recording while the command still ran; 1 when an output failed and nothing else gave a status (a
report file that fails is said on stderr and leaves the status as it is); 2 for bad arguments, no such process
or group, or an output directory, log or report file that cannot or may not be written.
"""


@dataclass(frozen=True, slots=True)
class RecordOptions:
    """A checked ``record`` command line."""

    command: tuple[str, ...]
    pid: int | None
    width_px: int = 800
    height_px: int = 600
    hertz: int = 10
    name: str | None = None
    output_dir: str = "."
    snapshots_every_s: int | None = None
    snapshot_on_exit: bool = False
    linger: bool = False
    markers_every: int = 0
    reaper: bool = False
    now_names: bool = False
    wip_name: str | None = None
    jsonl_path: str | None = None
    lanes: bool = False
    scale: float = 1.0
    reports: ReportOptions = field(default_factory=ReportOptions)
    allow_foreign_dir: bool = False


class UsageParser(argparse.ArgumentParser):
    """Raises :class:`UsageError` instead of exiting, so the caller reports it in one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see --help)")


def _int_in(low: int, high: int | None) -> type[int]:
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            limit = f"{low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {limit}: {text!r}")
        return value

    check.__name__ = "number"  # argparse names the type in some messages
    return check  # type: ignore[return-value]


def chart_size_px(width_px: float, height_px: float, scale: float) -> tuple[int, int]:
    """The chart's size in pixels, ``width_px`` x ``height_px`` at ``scale``, within the bounds above.

    Raises :class:`~vwm_overlay.errors.UsageError` for a size out of bounds: the check is on what is drawn, so a
    size that fits can no longer exceed them by its scale.
    """
    width, height = round(width_px * scale), round(height_px * scale)
    if max(width, height) > MAX_SIDE_PX or width * height > MAX_AREA_PX:
        at_scale = f" at --scale {scale:g}" if scale != 1 else ""
        raise UsageError(
            f"--width {width_px:g} x --height {height_px:g}{at_scale} is {width} x {height} px: at most "
            f"{MAX_SIDE_PX} a side and {MAX_AREA_PX // 10**6} Mpx in all (about 17 bytes each)"
        )
    return width, height


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not MIN_SCALE <= value <= MAX_SCALE:
        raise argparse.ArgumentTypeError(f"must be {MIN_SCALE:g} to {MAX_SCALE:g}: {text!r}")
    return value


def _wip_name(text: str) -> str:
    if not text or "/" in text or text in (".", ".."):
        raise argparse.ArgumentTypeError(f"must be a file name without '/': {text!r}")
    if len(os.fsencode(text)) > NAME_MAX_BYTES:
        raise argparse.ArgumentTypeError(f"longer than {NAME_MAX_BYTES} bytes: {text[:20]!r}...")
    return text


def _parser() -> UsageParser:
    parser = UsageParser(
        prog="vwm-overlay record",
        usage="%(prog)s [options] -- CMD [ARGS...]\n       %(prog)s [options] --pid PID\n"
        "       %(prog)s [options] --cgroup PATH | --unit NAME",
        description=DESCRIPTION,
        epilog=EPILOG_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--pid", type=_int_in(1, None), metavar="PID", help="record a running process instead of a command")
    add(
        "--width",
        type=_int_in(MIN_WIDTH_PX, MAX_SIDE_PX),
        default=800,
        metavar="PX",
        help=f"default 800, {MIN_WIDTH_PX} to {MAX_SIDE_PX} (and width x height at most {MAX_AREA_PX // 10**6} Mpx)",
    )
    add(
        "--height",
        type=_int_in(MIN_HEIGHT_PX, MAX_SIDE_PX),
        default=600,
        metavar="PX",
        help=f"default 600, {MIN_HEIGHT_PX} to {MAX_SIDE_PX}",
    )
    add(
        "--hertz",
        type=_int_in(MIN_HERTZ, MAX_HERTZ),
        default=10,
        metavar="HZ",
        help="samples per second, 1 to 1000 (default 10); kept when samples run late (their columns are drawn)",
    )
    add("--name", help="shown in the heading and leading the PNG names (default: the command's name)")
    add("--output-dir", default=".", metavar="DIR", help="where PNGs go (default .; created if missing, one level)")
    add("--snapshots", type=_int_in(1, None), metavar="SECONDS", help="a PNG at the start and every SECONDS")
    add("--snapshot", action="store_true", help="a PNG when the command exits and on SIGTERM")
    add("--linger", action="store_true", help="keep sampling after the command exits, until SIGINT or SIGTERM")
    add("--markers", type=_int_in(0, None), default=0, metavar="N", help="a marker every N samples (0: none)")
    add("--reaper", action="store_true", help="adopt the command's orphans, so they stay charted")
    add("--now-names", action="store_true", help="name PNGs by the time of the snapshot, not of the start")
    add("--wip-name", type=_wip_name, metavar="NAME", help="fixed name of the PNG being written")
    add("--jsonl", metavar="FILE", help="write a log of every sample to FILE (for plot and compare)")
    add(
        "--scale",
        type=_scale,
        default=1.0,
        metavar="F",
        help="multiply the PNG's size, its rows and its text by F, 0.5 to 4 (default 1; 2: 1600x1200, 30 px rows)",
    )
    add("--lanes", action="store_true", help="an IO lane and an RSS lane under each process row (fewer rows fit)")
    add(
        "--allow-foreign-dir",
        action="store_true",
        help="write into directories another user owns (they could read, replace or remove what is written)",
    )
    add_report_arguments(parser)
    add("command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def parse_options(argv: Sequence[str]) -> RecordOptions:
    """Parse and cross-check ``argv``; raises :class:`UsageError` (``--help`` exits 0 through argparse)."""
    args = _parser().parse_args(list(argv))
    command: list[str] = args.command
    reports = report_options(args)
    if command and command[0] == "--":
        command = command[1:]
    if args.pid is not None and command:
        raise UsageError("--pid cannot be combined with a command")
    if args.pid is not None and reports.follows_group:
        raise UsageError("--pid cannot be combined with --cgroup or --unit")
    if args.pid is None and not command and not reports.follows_group:
        raise UsageError("nothing to record: give a command after -- or --pid PID (see --help)")
    if args.reaper and not command:
        raise UsageError("--reaper needs a command")
    chart_size_px(args.width, args.height, args.scale)
    name = args.name if args.name is not None else (os.path.basename(command[0]) if command else None)
    return RecordOptions(
        command=tuple(command),
        pid=args.pid,
        width_px=args.width,
        height_px=args.height,
        hertz=args.hertz,
        name=name or None,
        output_dir=args.output_dir,
        snapshots_every_s=args.snapshots,
        snapshot_on_exit=args.snapshot,
        linger=args.linger,
        markers_every=args.markers,
        reaper=args.reaper,
        now_names=args.now_names,
        wip_name=args.wip_name,
        jsonl_path=args.jsonl,
        lanes=args.lanes,
        scale=args.scale,
        reports=reports,
        allow_foreign_dir=args.allow_foreign_dir,
    )


def filename_safe(name: str) -> str:
    """``name`` usable as (part of) a file name: no '/', NUL or control characters, no leading dot."""
    safe = re.sub(r"[/\x00-\x1f\x7f]", "_", name)
    return "_" + safe[1:] if safe.startswith(".") else safe


_SPECIFIER = re.compile(r"%(.?)", re.DOTALL)


def interpolate(command: Sequence[str], *, name: str | None, output_dir: str, pid: int) -> tuple[str, ...]:
    """Expand ``%n %N %O %P %%`` in every argument; any other ``%x`` (or a trailing ``%``) is a UsageError."""
    values = {"n": name or "", "N": filename_safe(name or ""), "O": output_dir, "P": str(pid), "%": "%"}

    def expand(match: re.Match[str]) -> str:
        spec = match.group(1)
        value = values.get(spec)
        if value is None:
            shown = f"%{spec}" if spec else "a trailing %"
            raise UsageError(f"unknown specifier {shown} in the command (use %% for a literal %)")
        return value

    return tuple(_SPECIFIER.sub(expand, arg) for arg in command)
