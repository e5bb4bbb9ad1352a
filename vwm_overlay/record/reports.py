"""The recorder's reports (``--summary``, ``--trace``, ``--openmetrics``) and ``--cgroup``/``--unit``, fed from
the monitored trees once per sample.

The runner calls :meth:`Reports.before_sample` (the group's new processes join the monitor), then
:meth:`Reports.after_sample` once the engine sampled, and :meth:`Reports.finish` with the exit status.  Each
sample's per-task figures are the engine's ``task.delta``, the same for every report.  A report whose
file fails is reported once and stops; the recording and the other reports go on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TextIO

from ..vmon import Task, Vmon
from .cgroup import CgroupFollower, resolve_group
from .groups import GroupTotals
from .openmetrics import OpenMetricsWriter
from .report_options import ReportOptions
from .summary import SummaryWriter, summary_dict
from .trace import TraceWriter

__all__ = ["Reports"]


class Reports:
    """Every report of one recording; does nothing per sample when none was asked for."""

    def __init__(
        self,
        options: ReportOptions,
        vmon: Vmon,
        stderr: TextIO,
        *,
        command: Sequence[str],
        allow_foreign: bool = False,
        clock: Callable[[], float] = time.monotonic,
        boottime_clock: Callable[[], float] = lambda: time.clock_gettime(time.CLOCK_BOOTTIME),
    ) -> None:
        self.options = options
        self._vmon = vmon
        self._stderr = stderr
        self._command = tuple(command)
        self._clock = clock
        self._start_s = self._last_sample_s = clock()
        self._boottime_clock = boottime_clock
        self.samples = 0
        start_boottime_s = boottime_clock()
        self.totals = GroupTotals(ticks_per_s=vmon.ticks_per_s)
        self._summary: SummaryWriter | None = None
        self._trace: TraceWriter | None = None
        self._metrics: OpenMetricsWriter | None = None
        self._root: Task | None = None
        self._group: CgroupFollower | None = None
        self._finished = False
        try:
            if options.follows_group:
                self._group = CgroupFollower(resolve_group(options.cgroup, options.unit), vmon)
            if options.summary_path is not None:
                self._summary = SummaryWriter(options.summary_path, stderr, allow_foreign=allow_foreign)
            if options.trace_path is not None:
                self._trace = TraceWriter(
                    options.trace_path,
                    stderr,
                    ticks_per_s=vmon.ticks_per_s,
                    start_boottime_s=start_boottime_s,
                    allow_foreign=allow_foreign,
                )
            if options.openmetrics_path is not None:
                # Its own groups: per process with --per-pid, while the summary stays per command name.
                metric_totals = (
                    GroupTotals(ticks_per_s=vmon.ticks_per_s, per_pid=True) if options.per_pid else self.totals
                )
                self._metrics = OpenMetricsWriter(
                    options.openmetrics_path, stderr, metric_totals, allow_foreign=allow_foreign
                )
        except BaseException:
            self.close()  # (the files made so far go: the run never started)
            raise
        self.active = self._summary is not None or self._trace is not None or self._metrics is not None

    def commit(self) -> None:
        """The run started: report files that replace old ones take their names (see ``OutputFile.commit``)."""
        for writer in (self._summary, self._trace):
            if writer is not None:
                writer.output.commit(self._stderr)

    def adopt(self, root: Task | None) -> Task | None:
        """The root the recording charts and logs: ``root`` itself, or with ``--cgroup``/``--unit`` the group's row
        (``root`` under it, with every other process of the group)."""
        if self._group is not None:
            if root is not None:
                self._group.adopt(root)
            root = self._group.root
        self._root = root
        return root

    @property
    def group_root(self) -> Task | None:
        """The group's row, which no engine callback reports (the caller charts it after each sample)."""
        return self._group.root if self._group is not None else None

    @property
    def group_gone(self) -> bool:
        """The followed group was removed: nothing more can join it."""
        return self._group is not None and self._group.gone

    def before_sample(self) -> None:
        """Before the engine samples: the group's new processes join the monitor."""
        if self._group is not None:
            self._group.sync()

    def after_sample(self, *, t_s: float, elapsed_s: float) -> None:
        """After the engine sampled, before the chart: the group's tree set straight, this sample's figures to
        every report."""
        if self._group is not None:
            self._group.prune()
        if not self.active or self._root is None:
            return
        self._last_sample_s = self._clock()
        # The group's row is no process: its children are the roots.
        roots = tuple(self._root.children) if self._group is not None else (self._root,)
        sys_stat = self._vmon.sys_stat
        boottime_ticks = sys_stat.boottime_ticks if sys_stat is not None else 0
        self.totals.add_sample(roots, boottime_ticks)
        if self._metrics is not None:
            if self._metrics.totals is not self.totals:
                self._metrics.totals.add_sample(roots, boottime_ticks)
            self._metrics.write()
        if self._trace is not None:
            self._trace.add_sample(roots, boottime_s=self._boottime_clock(), elapsed_s=elapsed_s)
        self.samples += 1

    def finish(self, status: int) -> None:
        """The run ended with ``status``: write what is written at the end."""
        self._finished = True
        if self.active and self._root is not None and not self._root.is_stale:
            # One more sample, so the reports see the end (the command's exit) and not the sample before it.
            self._vmon.sample()
            self.after_sample(t_s=self._clock() - self._start_s, elapsed_s=self._clock() - self._last_sample_s)
        if self._trace is not None:
            self._trace.finish()
        if self._summary is not None:
            self.totals.finish()
            self._summary.write(
                summary_dict(
                    self.totals,
                    command=self._command,
                    exit_status=status,
                    duration_s=self._clock() - self._start_s,
                    samples=self.samples,
                    cgroup=self._group.totals() if self._group is not None else None,
                    cgroup_holds_every_process=self._group is not None and self._group.holds_every_process,
                )
            )

    def close(self) -> None:
        if self._summary is not None and not self._finished:
            self._summary.discard()
        for writer in (self._summary, self._trace, self._metrics, self._group):
            if writer is not None:
                writer.close()
