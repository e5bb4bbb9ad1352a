"""``--openmetrics FILE``: process-exporter's metrics for node_exporter's textfile collector.

The file is replaced every sample, atomically (a temporary file in the same directory, fsynced, renamed over it),
so the collector never reads it partial.  Its directory is held from the start and checked as every output's is
(:mod:`.files`).  The names are process-exporter's, so its dashboards work unchanged::

    # HELP namedprocess_namegroup_cpu_seconds_total CPU time used by the group's processes
    # TYPE namedprocess_namegroup_cpu_seconds_total counter
    namedprocess_namegroup_cpu_seconds_total{groupname="cc1",mode="user"} 18.3
    namedprocess_namegroup_cpu_seconds_total{groupname="cc1",mode="system"} 1.9

Groups are command names (``comm``), so labels stay few; with ``--per-pid`` a group is one process (a ``pid``
label), and it leaves the file when the process exits.  Counters never decrease: an exited process's use stays in
its group.  The text is Prometheus's exposition format, the one the textfile collector reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TextIO

from ..errors import UsageError
from .files import describe, hold_parent, replace_atomically, report, shown
from .groups import Group, GroupTotals

__all__ = ["OpenMetricsWriter", "render_metrics"]

PREFIX = "namedprocess_namegroup_"

# A family's samples of one group: (extra label, its value, the sample's value).
_Samples = Callable[[Group, int], tuple[tuple[str, str, float], ...]]

#: (name, type, help, samples) in file order; ``ticks_per_s`` is passed to each.
_FAMILIES: tuple[tuple[str, str, str, _Samples], ...] = (
    ("num_procs", "gauge", "Number of processes in this group", lambda g, _: (("", "", g.num_procs),)),
    ("num_threads", "gauge", "Number of threads in this group", lambda g, _: (("", "", g.num_threads),)),
    (
        "cpu_seconds_total",
        "counter",
        "CPU time used by the group's processes, their reaped children included",
        lambda g, per_s: (("mode", "user", g.utime_ticks / per_s), ("mode", "system", g.stime_ticks / per_s)),
    ),
    (
        "read_bytes_total",
        "counter",
        "Bytes read from storage by the group's processes",
        lambda g, _: (("", "", g.read_bytes),),
    ),
    (
        "write_bytes_total",
        "counter",
        "Bytes written to storage by the group's processes",
        lambda g, _: (("", "", g.write_bytes),),
    ),
    (
        "memory_bytes",
        "gauge",
        "Memory of the group's processes, by type",
        lambda g, _: (("memtype", "resident", g.rss_bytes), ("memtype", "virtual", g.vsize_bytes)),
    ),
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(totals: GroupTotals) -> str:
    """The exposition text of every group in ``totals``."""
    per_s = totals.ticks_per_s
    groups = sorted(totals.groups.values(), key=lambda g: (g.name, g.pid or 0))
    labels = [f'groupname="{_escape(g.name)}"' + (f',pid="{g.pid}"' if g.pid is not None else "") for g in groups]
    lines: list[str] = []
    for name, kind, help_text, samples in _FAMILIES:
        metric = PREFIX + name
        lines.append(f"# HELP {metric} {help_text}")
        lines.append(f"# TYPE {metric} {kind}")
        for group, group_labels in zip(groups, labels, strict=True):
            for label, label_value, value in samples(group, per_s):
                extra = f',{label}="{label_value}"' if label else ""
                lines.append(f"{metric}{{{group_labels}{extra}}} {_number(value)}")
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.2f}"


class OpenMetricsWriter:
    """Replaces the metrics file after each sample; stops (said once) when that fails."""

    def __init__(self, path: str, stderr: TextIO, totals: GroupTotals, *, allow_foreign: bool = False) -> None:
        self.path = path
        self._stderr = stderr
        self.totals = totals
        self.failed = False
        self.writes = 0
        self._dir_fd, self._name = hold_parent(path, allow_foreign=allow_foreign)
        try:
            # A first, empty version at once: a path that cannot be written stops the run before it starts.
            replace_atomically(self._dir_fd, self._name, render_metrics(totals).encode())
        except OSError as err:
            self.close()
            raise UsageError(f"{shown(path)}: {describe(err)}; nothing was started") from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1

    def write(self) -> None:
        """Replace the file with the totals' latest sample."""
        if self.failed:
            return
        try:
            replace_atomically(self._dir_fd, self._name, render_metrics(self.totals).encode())
        except OSError as err:
            self.failed = True
            what_now = "the file keeps its last whole version; the recording goes on"
            report(self._stderr, self.path, describe(err), what_now)
            return
        self.writes += 1
        if self.totals.per_pid:
            self.totals.drop_empty()
