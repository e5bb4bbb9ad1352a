"""``vwm-overlay compare A.jsonl B.jsonl``: two recorded runs side by side, per command name, with thresholds.

Each log is replayed (:mod:`.replay`) and its processes summed per command name (the base name of ``argv[0]``,
or the kernel's comm when there is no argv; a process is counted under the name it last ran): how many ran, CPU
seconds (own, plus what children that were never sampled used, credited to their parent as the engine does),
the peak resident size of one instance, bytes read and written, and wall time (summed and longest).  Threads are
part of their process.  ``--fail-on`` checks the totals of the run and exits 1 when a change exceeds its limit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TextIO

from ..errors import UsageError
from ..vmon import Task
from .logformat import read_log
from .options import UsageParser
from .replay import LogReplay

__all__ = ["COLUMNS", "CommandStats", "Threshold", "parse_thresholds", "run_compare", "summarize"]

#: The columns, by the name ``--fail-on`` and ``--json`` use, with their headings.
COLUMNS: dict[str, str] = {
    "count": "count",
    "cpu": "CPU s",
    "rss": "peak RSS",
    "read": "read",
    "write": "written",
    "wall": "wall s",
    "longest": "longest s",
}
_BYTE_COLUMNS = ("rss", "read", "write")
TOTAL_NAME = "(all)"

DESCRIPTION = """\
Compare two runs recorded with `vwm-overlay record --jsonl`: one row per command name (argv[0]'s base name) and
one for the whole run, each column as A -> B with the change: count of processes, CPU seconds (own and
children's that exited unseen), the peak resident size of one instance, bytes read and written, total and
longest wall time.

--fail-on takes comma-separated limits on the whole run's figures, COLUMN:+N% (a rise of more than N percent) or
COLUMN:+N (more than N in the column's unit: seconds, bytes with an optional K, M or G, processes), for the
columns count, cpu, rss, read, write, wall and longest; e.g. --fail-on cpu:+10%,rss:+20%,wall:+5.
"""

EPILOG = """\
exit status: 0 when no limit was exceeded; 1 when one was (each said in one line on stderr); 2 for bad arguments
or a log that cannot be read (missing, not a vwm-overlay log, or written by an older version).
"""


@dataclass(slots=True)
class CommandStats:
    """The processes of one command name in one run."""

    count: int = 0
    cpu: float = 0.0  # seconds
    rss: int = 0  # bytes, the largest of one instance
    read: int = 0  # bytes
    write: int = 0  # bytes
    wall: float = 0.0  # seconds, summed over the processes
    longest: float = 0.0  # seconds

    def add(self, other: CommandStats) -> None:
        self.count += other.count
        self.cpu += other.cpu
        self.rss = max(self.rss, other.rss)
        self.read += other.read
        self.write += other.write
        self.wall += other.wall
        self.longest = max(self.longest, other.longest)


@dataclass(slots=True)
class _Process:
    task: Task | None  # until the log drops it: then only its name and start are kept
    name: str = "?"
    start_ticks: int = 0
    cpu_ticks: int = 0
    rss_bytes: int = 0
    read_bytes: int = 0
    write_bytes: int = 0
    end_boottime_ticks: int | None = None


def summarize(path: str) -> dict[str, CommandStats]:
    """Per command name, the processes of the log at ``path``; :data:`TOTAL_NAME` sums them all."""
    header, lines = read_log(path)
    replay = LogReplay(header)
    processes: dict[int, _Process] = {}
    boottime_ticks = header.get("start_boottime_ticks", 0)
    for line in lines:
        if "sample" not in line:
            continue
        replay.apply(line)
        boottime_ticks = line.get("boottime_ticks", boottime_ticks)
        tasks = replay.tasks
        for entry in line.get("started", ()):
            if not entry["thread"]:
                task = tasks[entry["id"]]
                processes[entry["id"]] = _Process(task, rss_bytes=task.delta.rss_bytes)
        for task_id, rss_bytes in line.get("rss", ()):
            process = processes.get(task_id)
            if process is not None:
                process.rss_bytes = max(process.rss_bytes, rss_bytes)
        for entry in line.get("use", ()):
            process = processes.get(entry[0])
            if process is None:
                continue  # a thread: part of its process's figures
            figures = [*entry[1:], 0, 0, 0, 0, 0, 0, 0, 0]
            process.cpu_ticks += sum(figures[0:4])
            process.read_bytes += figures[4] + figures[6]
            process.write_bytes += figures[5] + figures[7]
        for task_id in line.get("exited", ()):
            process = processes.get(task_id)
            if process is not None and process.end_boottime_ticks is None:
                process.end_boottime_ticks = boottime_ticks
        for task_id in line.get("dropped", ()):
            process = processes.get(task_id)
            if process is not None:
                _forget_task(process)
    ticks_per_s = max(int(header["ticks_per_s"]), 1)
    by_name: dict[str, CommandStats] = {}
    total = CommandStats()
    for process in processes.values():
        _forget_task(process)
        stats = CommandStats(
            count=1,
            cpu=process.cpu_ticks / ticks_per_s,
            rss=process.rss_bytes,
            read=process.read_bytes,
            write=process.write_bytes,
        )
        start_ticks = process.start_ticks
        end_ticks = process.end_boottime_ticks if process.end_boottime_ticks is not None else boottime_ticks
        if 0 < start_ticks <= end_ticks:
            stats.wall = stats.longest = (end_ticks - start_ticks) / ticks_per_s
        by_name.setdefault(process.name, CommandStats()).add(stats)
        total.add(stats)
    by_name[TOTAL_NAME] = total
    return by_name


def _forget_task(process: _Process) -> None:
    """Keep of a process's task what the summary needs: a long run's tasks are not all held."""
    if process.task is not None:
        process.name = command_name(process.task)
        process.start_ticks = process.task.start_ticks
        process.task = None


def command_name(task: Task) -> str:
    """The base name of the task's ``argv[0]``, or its comm when it has no argv."""
    stat = task.stat
    if stat is None:
        return "?"
    if stat.argv and stat.argv[0]:
        return os.path.basename(stat.argv[0]) or stat.argv[0]
    return stat.comm or "?"


# -- thresholds


@dataclass(frozen=True, slots=True)
class Threshold:
    """A limit on the rise of one column of the totals: ``percent`` or an absolute ``amount``."""

    column: str
    limit: float
    percent: bool
    text: str

    def exceeded(self, before: float, after: float) -> bool:
        rise = after - before
        if self.percent:
            return rise > 0 and (before <= 0 or 100.0 * rise / before > self.limit)
        return rise > self.limit

    def describe(self, before: float, after: float) -> str:
        rise = after - before
        change = f"{100.0 * rise / before:+.1f}%" if before > 0 else f"{_value(self.column, rise, sign=True)}"
        return (
            f"{self.column} rose from {_value(self.column, before)} to {_value(self.column, after)} ({change}), "
            f"more than {self.text}"
        )


_THRESHOLD = re.compile(r"([a-z]+):\+?(\d+(?:\.\d*)?|\.\d+)([%kmg]?)", re.IGNORECASE)
_BYTE_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_thresholds(text: str) -> list[Threshold]:
    """``cpu:+10%,rss:+20M`` as thresholds; raises :class:`UsageError` for anything else."""
    thresholds: list[Threshold] = []
    for item in text.split(","):
        item = item.strip()
        match = _THRESHOLD.fullmatch(item)
        if match is None:
            raise UsageError(f"bad --fail-on limit {item!r}: expected COLUMN:+N% or COLUMN:+N, e.g. cpu:+10%")
        column, number, unit = match.group(1).lower(), float(match.group(2)), match.group(3).lower()
        if column not in COLUMNS:
            raise UsageError(f"bad --fail-on column {column!r}: one of {', '.join(COLUMNS)}")
        if unit in ("k", "m", "g") and column not in _BYTE_COLUMNS:
            raise UsageError(f"bad --fail-on limit {item!r}: K, M and G are for {', '.join(_BYTE_COLUMNS)}")
        percent = unit == "%"
        limit = number if percent else number * _BYTE_FACTORS[unit]
        thresholds.append(Threshold(column, limit, percent, f"+{match.group(2)}{match.group(3)}"))
    return thresholds


# -- output


def _value(column: str, value: float, *, sign: bool = False) -> str:
    prefix = "+" if sign and value > 0 else ""
    if column in _BYTE_COLUMNS:
        return prefix + _bytes(value)
    if column == "count":
        return f"{prefix}{int(value)}"
    return f"{value:+.2f}" if sign else f"{value:.2f}"


def _bytes(value: float) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{sign}{value:.0f} {unit}" if unit == "B" else f"{sign}{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _change(before: float, after: float) -> str:
    if before == after:
        return "="
    if before <= 0:
        return "new"
    percent = 100.0 * (after - before) / before
    return f"{percent:+.0f}%" if abs(percent) >= 1 else f"{percent:+.1f}%"


def format_table(a: dict[str, CommandStats], b: dict[str, CommandStats]) -> str:
    """The plain text table: one row per command name (busiest in B first), the run's totals last."""
    names = sorted(
        (set(a) | set(b)) - {TOTAL_NAME},
        key=lambda name: (-b.get(name, CommandStats()).cpu, -a.get(name, CommandStats()).cpu, name),
    )
    rows = [["command", *(f"{heading} A -> B" for heading in COLUMNS.values())]]
    for name in [*names, TOTAL_NAME]:
        before, after = a.get(name, CommandStats()), b.get(name, CommandStats())
        row = [name]
        for column in COLUMNS:
            x, y = getattr(before, column), getattr(after, column)
            row.append(f"{_value(column, x)} -> {_value(column, y)} {_change(x, y)}")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def _parser() -> UsageParser:
    parser = UsageParser(
        prog="vwm-overlay compare",
        usage="%(prog)s A.jsonl B.jsonl [--fail-on LIMITS] [--json]",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("a", metavar="A.jsonl", help="the reference run")
    parser.add_argument("b", metavar="B.jsonl", help="the run compared with it")
    parser.add_argument("--fail-on", metavar="LIMITS", help="exit 1 when the run's totals rose beyond LIMITS")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table (raw units)")
    return parser


def run_compare(argv: Sequence[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run ``vwm-overlay compare ARGV``; returns the exit status.  Bad input raises ``UsageError``."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    args = _parser().parse_args(list(argv))
    thresholds = parse_thresholds(args.fail_on) if args.fail_on else []
    a, b = summarize(args.a), summarize(args.b)
    total_a, total_b = a[TOTAL_NAME], b[TOTAL_NAME]
    failed = [
        limit.describe(getattr(total_a, limit.column), getattr(total_b, limit.column))
        for limit in thresholds
        if limit.exceeded(getattr(total_a, limit.column), getattr(total_b, limit.column))
    ]
    if args.json:
        names = sorted(set(a) | set(b))
        document = {
            "a": args.a,
            "b": args.b,
            "commands": {
                name: {"a": asdict(a.get(name, CommandStats())), "b": asdict(b.get(name, CommandStats()))}
                for name in names
            },
            "exceeded": failed,
        }
        out.write(json.dumps(document, indent=1) + "\n")
    else:
        out.write(format_table(a, b) + "\n")
    for line in failed:
        print(f"vwm-overlay compare: {line}", file=err)
    return 1 if failed else 0
