"""``--summary FILE``: what the run used, per command name and for the whole tree, as JSON at the end.

::

    {"command": ["make", "-j2"], "exit_status": 0, "duration_s": 12.3, "samples": 123,
     "tree": {"peak_rss_bytes": ..., "peak_processes": 9, "cpu_user_s": 20.1, "cpu_system_s": 2.3,
              "cpu_total_s": 22.4, "read_bytes": ..., "write_bytes": ..., "cpu_source": "samples"},
     "commands": [{"name": "cc1", "count": 40, "cpu_user_s": 18.0, "cpu_system_s": 1.9, "peak_rss_bytes": ...,
                   "read_bytes": ..., "write_bytes": ..., "longest_wall_s": 1.2}, ...]}

Commands are sorted by CPU, largest first.  ``peak_rss_bytes`` of a command is the largest RSS one process of that
name had; the tree's is the largest sum over one sample.  With ``--cgroup``/``--unit`` a ``cgroup`` object holds
the group's own figures (``cpu.stat`` over the run, ``memory.peak`` where the kernel has it), and when every
recorded process was in the group the tree's CPU comes from them (``cpu_source``: ``"cgroup"``): they also count
what processes used between samples.  Otherwise (a command run outside the group) the tree's CPU is the samples'.
When ``$GITHUB_STEP_SUMMARY`` names a file, a Markdown table of the same is appended to it.  The file is created
when the recording starts and written when it ends.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from .files import create_output, describe, report, write_all
from .groups import GroupTotals

__all__ = ["SummaryWriter", "markdown_table", "summary_dict"]

MIB = 1024 * 1024


def summary_dict(
    totals: GroupTotals,
    *,
    command: Sequence[str],
    exit_status: int,
    duration_s: float,
    samples: int,
    cgroup: Mapping[str, Any] | None = None,
    cgroup_holds_every_process: bool = False,
) -> dict[str, Any]:
    """The summary as a JSON-ready dict (``totals.finish()`` called first).

    ``cgroup`` is the group's own figures; its CPU is the tree's when ``cgroup_holds_every_process``.
    """
    per_s = totals.ticks_per_s
    tree = totals.tree
    cpu_user_s, cpu_system_s = tree.utime_ticks / per_s, tree.stime_ticks / per_s
    source = "samples"
    if cgroup is not None and cgroup_holds_every_process and "cpu_user_s" in cgroup:
        cpu_user_s, cpu_system_s, source = cgroup["cpu_user_s"], cgroup["cpu_system_s"], "cgroup"
    commands = [
        {
            "name": group.name,
            "count": group.count,
            "cpu_user_s": round(group.utime_ticks / per_s, 3),
            "cpu_system_s": round(group.stime_ticks / per_s, 3),
            "peak_rss_bytes": group.peak_rss_bytes,
            "read_bytes": group.read_bytes,
            "write_bytes": group.write_bytes,
            "longest_wall_s": round(group.longest_wall_s, 3),
        }
        for group in sorted(
            totals.groups.values(), key=lambda g: (-(g.utime_ticks + g.stime_ticks), -g.peak_rss_bytes, g.name)
        )
    ]
    result: dict[str, Any] = {
        "command": list(command),
        "exit_status": exit_status,
        "duration_s": round(duration_s, 3),
        "samples": samples,
        "tree": {
            "peak_rss_bytes": tree.peak_rss_bytes,
            "peak_processes": tree.peak_processes,
            "cpu_user_s": round(cpu_user_s, 3),
            "cpu_system_s": round(cpu_system_s, 3),
            "cpu_total_s": round(cpu_user_s + cpu_system_s, 3),
            "read_bytes": tree.read_bytes,
            "write_bytes": tree.write_bytes,
            "cpu_source": source,
        },
        "commands": commands,
    }
    if cgroup is not None:
        result["cgroup"] = dict(cgroup)
    return result


def markdown_table(summary: Mapping[str, Any], *, max_rows: int = 20) -> str:
    """The summary as GitHub-flavoured Markdown: a heading, the tree's line, a table of the top commands."""
    tree = summary["tree"]
    title = " ".join(summary["command"]) or "recording"
    lines = [
        f"### vwm-overlay record: `{_cell(title)}` (exit status {summary['exit_status']})",
        "",
        f"{summary['duration_s']:.1f} s, CPU {tree['cpu_total_s']:.2f} s (user {tree['cpu_user_s']:.2f}, "
        f"system {tree['cpu_system_s']:.2f}), peak RSS {tree['peak_rss_bytes'] / MIB:.1f} MiB, "
        f"peak processes {tree['peak_processes']}",
        "",
        "| command | count | CPU user s | CPU sys s | peak RSS MiB | read MiB | written MiB | longest s |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in summary["commands"][:max_rows]:
        lines.append(
            f"| `{_cell(row['name'])}` | {row['count']} | {row['cpu_user_s']:.2f} | {row['cpu_system_s']:.2f} | "
            f"{row['peak_rss_bytes'] / MIB:.1f} | {row['read_bytes'] / MIB:.1f} | {row['write_bytes'] / MIB:.1f} | "
            f"{row['longest_wall_s']:.1f} |"
        )
    hidden = len(summary["commands"]) - max_rows
    if hidden > 0:
        lines.append(f"\n{hidden} more commands in the JSON summary.")
    return "\n".join(lines) + "\n\n"


def _cell(text: str) -> str:
    # A table cell: no line breaks, no column separators, no code-span breaks.
    return text.replace("\n", " ").replace("|", "\\|").replace("`", "'")


class SummaryWriter:
    """The ``--summary`` file, created at the start (so a bad path stops the run before it began)."""

    def __init__(
        self, path: str, stderr: TextIO, environ: Mapping[str, str] = os.environ, *, allow_foreign: bool = False
    ) -> None:
        self.path = path
        self._stderr = stderr
        #: The file, made when the recording starts (a bad path stops the run before it began).
        self.output = create_output(path, allow_foreign=allow_foreign)
        self._step_summary = environ.get("GITHUB_STEP_SUMMARY") or None

    def write(self, summary: Mapping[str, Any]) -> bool:
        """Write the summary (and the step summary); False when a file could not be written (reported)."""
        ok = True
        try:
            write_all(self.output.fd, (json.dumps(summary, indent=2) + "\n").encode())
            os.fsync(self.output.fd)
        except OSError as err:
            report(self._stderr, self.path, describe(err), "no summary is written")
            ok = False
        if self._step_summary is not None:
            ok = self._append_step_summary(self._step_summary, markdown_table(summary)) and ok
        return ok

    def close(self) -> None:
        self.output.close()

    def discard(self) -> None:
        """No summary after all (the run never started): the empty file goes."""
        self.output.discard()

    def _append_step_summary(self, path: str, text: str) -> bool:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                write_all(fd, text.encode())
            finally:
                os.close(fd)
        except OSError as err:
            report(self._stderr, path, describe(err), "the step summary has no table")
            return False
        return True
