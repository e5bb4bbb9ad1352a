"""The options of ``record``'s reports: ``--summary``, ``--trace``, ``--openmetrics``, ``--per-pid``,
``--cgroup`` and ``--unit``.  Parsed with the rest of ``record``'s options; checked here."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from ..errors import UsageError

__all__ = ["REPORTS_HELP", "ReportOptions", "add_report_arguments", "report_options"]

REPORTS_HELP = """\
--summary FILE writes a JSON summary when the run ends: per command name the count, CPU user and system seconds,
peak RSS of one process, bytes read and written and the longest wall time; for the tree the peak summed RSS, peak
processes, total CPU and the exit status.  With $GITHUB_STEP_SUMMARY set, a Markdown table is appended there too.
--trace FILE writes Chrome trace-event JSON as the run goes (open it in ui.perfetto.dev or chrome://tracing): one
slice per task lifetime and CPU, RSS and IO counter tracks per process.  --openmetrics FILE replaces FILE every
sample, atomically, with process-exporter's metrics per command name (--per-pid: per process), for
node_exporter's textfile collector.  --cgroup PATH or --unit NAME also follows every process of a cgroup v2 group
(a systemd unit's group), even those that left the command's tree; without a command, the group alone is recorded
until SIGINT or SIGTERM.  Like --jsonl's, an existing --summary or --trace file of yours is replaced by a new one
(another user's, or a symlink to a file, is refused); --openmetrics replaces FILE whatever it is, a symlink too,
never following it.
"""


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """The reports asked for on the command line."""

    summary_path: str | None = None
    trace_path: str | None = None
    openmetrics_path: str | None = None
    per_pid: bool = False
    cgroup: str | None = None
    unit: str | None = None

    @property
    def follows_group(self) -> bool:
        return self.cgroup is not None or self.unit is not None


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--summary", metavar="FILE", help="write a JSON summary of the run to FILE at the end")
    add("--trace", metavar="FILE", help="write a Chrome/Perfetto trace (JSON trace events) to FILE as the run goes")
    add("--openmetrics", metavar="FILE", help="replace FILE every sample with process-exporter metrics (.prom)")
    add("--per-pid", action="store_true", help="--openmetrics: one series per process, not per command name")
    add("--cgroup", metavar="PATH", help="also follow every process of this cgroup v2 group")
    add("--unit", metavar="NAME", help="also follow every process of this systemd unit's cgroup")


def report_options(args: argparse.Namespace) -> ReportOptions:
    """The checked report options of parsed ``args``; raises :class:`UsageError`."""
    if args.cgroup is not None and args.unit is not None:
        raise UsageError("--cgroup and --unit cannot be combined")
    if args.per_pid and args.openmetrics is None:
        raise UsageError("--per-pid needs --openmetrics")
    for option, value in (("--cgroup", args.cgroup), ("--unit", args.unit)):
        if value is not None and not value:
            raise UsageError(f"{option} needs a value")
    return ReportOptions(
        summary_path=args.summary,
        trace_path=args.trace,
        openmetrics_path=args.openmetrics,
        per_pid=args.per_pid,
        cgroup=args.cgroup,
        unit=args.unit,
    )
