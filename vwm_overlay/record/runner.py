"""The recording loop: sample on schedule, act on signals at once, write snapshots, log, show progress.

One thread, one wait: for the next signal, with the time to the next due sample, snapshot or progress redraw as
the timeout.  The chart is updated from the engine's per-process callback inside each sample, except for the
sample that finds the root gone: as with vwm's vmon, the last chart shows the tree as it last ran, not as a list of
exited tasks (the log still records the exit).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from typing import TextIO, cast

from ..chart import Chart
from ..errors import TaskGone, UsageError
from ..schedule import Schedule
from ..vmon import ProcWants, SysWants, Task, Vmon, VmonFlags
from .child import Command, set_child_subreaper
from .files import LineFile, OutputDir, create_output, describe, report
from .jsonlog import JsonLog, log_header
from .options import RecordOptions, chart_size_px
from .progress import Progress
from .reports import Reports
from .signals import ENDING_SIGNALS, HANDLED_SIGNALS, SI_KERNEL, SignalWait
from .snapshots import SnapshotWriter

__all__ = ["RECORD_PROC_WANTS", "Recorder"]

#: What the chart and the log show: CPU and names (stat), IO, the whole tree with threads.
RECORD_PROC_WANTS = ProcWants.STAT | ProcWants.IO | ProcWants.FOLLOW_CHILDREN | ProcWants.FOLLOW_THREADS

#: Exit status when the recorder stops while the command still runs: as if the signal (128+N) had killed it.
STATUS_SIGINT = 128 + signal.SIGINT
#: An output (a snapshot, the log) failed and nothing else decided the status.
STATUS_ERROR = 1


class Recorder:
    """One recording of a command (``command``, already interpolated) or of ``options.pid``."""

    def __init__(
        self,
        options: RecordOptions,
        command: tuple[str, ...],
        *,
        stderr: TextIO = sys.stderr,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        signals: Iterable[int] = HANDLED_SIGNALS,
        child_mask: set[int] | None = None,
    ) -> None:
        """``signals`` are those taken (blocked, then waited for); ``child_mask`` is the signal mask the command
        starts with (default: the mask before the recording blocked its signals)."""
        self.options = options
        self._signals = frozenset(signals)
        self._child_mask = child_mask
        self.command = command
        self._stderr = stderr
        self._clock = clock
        self._wall_clock = wall_clock
        # The rate is the user's: a recorder that falls behind draws the
        # missed columns (the time axis stays exact) instead of slowing down,
        # as the overlay does to spare the X server.
        self.schedule = Schedule(options.hertz, clock, auto_backoff=False)
        self.chart = Chart(
            *chart_size_px(options.width_px, options.height_px, options.scale),
            name=options.name,
            markers_every=options.markers_every,
            hertz=options.hertz,
            lanes=options.lanes,
            scale=options.scale,
        )
        #: Set once the output directory is open, in :meth:`run`.
        self.snapshots: SnapshotWriter | None = None
        self.progress = Progress(stderr)
        self._vmon: Vmon | None = None
        self._root: Task | None = None
        self._log: JsonLog | None = None
        self._reports: Reports | None = None
        self._child: Command | None = None
        self._command_status: int | None = None  # set once the command was reaped
        self._sampling_exited = False  # the sample of the exited command, before it is reaped
        self._interrupts = 0
        self._finished: int | None = None  # the exit status, once the recording should end
        self._start_s = 0.0
        self._next_snapshot_s: float | None = None
        self._root_logged_gone = False
        self._samples_taken = 0
        self._failed_writes = 0
        # The errno of the latest snapshot, if it failed: the same failure again is not reported again.
        self._snapshot_errno: int | None = None

    # -- the whole run

    def run(self) -> int:
        """Record until the command exits (or the process, or a signal says so); returns the exit status."""
        with Vmon(VmonFlags.TWO_PASS, SysWants.STAT, RECORD_PROC_WANTS, clock=self._clock) as vmon:
            self._vmon = vmon
            if self.options.pid is not None:
                try:
                    self._root = vmon.monitor(self.options.pid, callback=self._on_tree_sampled)
                except TaskGone:
                    raise UsageError(f"no such process: {self.options.pid}") from None
            directory = OutputDir(self.options.output_dir, allow_foreign=self.options.allow_foreign_dir)
            log_file: LineFile | None = None
            try:
                directory.remove_stale_wips()
                self.snapshots = SnapshotWriter(
                    directory,
                    self.options.name,
                    now_names=self.options.now_names,
                    wip_name=self.options.wip_name,
                    wall_clock=self._wall_clock,
                )
                log_file = self._open_log()
                self._reports = Reports(
                    self.options.reports,
                    vmon,
                    self._stderr,
                    command=self.command,
                    allow_foreign=self.options.allow_foreign_dir,
                )
                with SignalWait(self._signals) as signals:
                    if self.command:
                        child_mask = self._child_mask if self._child_mask is not None else signals.previous_mask
                        self._start_command(vmon, child_mask)
                    # The run started (the command runs): files that replace old ones take their names.
                    if log_file is not None:
                        log_file.output.commit(self._stderr)
                    self._reports.commit()
                    self._root = self._reports.adopt(self._root)
                    self._start_s = self._clock()
                    return self._loop(signals)
            finally:
                self.progress.clear()
                if self._reports is not None:
                    self._reports.close()
                if log_file is not None:
                    log_file.close()
                directory.close()

    def _open_log(self) -> LineFile | None:
        path = self.options.jsonl_path
        if path is None:
            return None
        out = LineFile(create_output(path, allow_foreign=self.options.allow_foreign_dir))
        assert self._vmon is not None
        try:
            self._log = JsonLog(
                cast(TextIO, out), log_header(self.options, self.command, self._vmon, start_time=self._wall_clock())
            )
        except OSError as err:  # the header line could not be written
            self._log_failed(err)
        return out

    def _start_command(self, vmon: Vmon, child_mask: set[int]) -> None:
        if self.options.reaper:
            set_child_subreaper()
        child = Command(self.command, child_mask)
        try:
            # With --reaper the chart's root is the recorder itself: orphans re-parented to it stay in the tree.
            root_pid = os.getpid() if self.options.reaper else child.pid
            # With --cgroup/--unit the chart's root is the group's row, charted after each sample instead.
            callback = None if self.options.reports.follows_group else self._on_tree_sampled
            self._root = vmon.monitor(root_pid, callback=callback)
        except BaseException:
            child.abandon()
            raise
        self._child = child
        child.release()

    # -- the loop

    def _loop(self, signals: SignalWait) -> int:
        while True:
            status = self._ending_status()
            if status is not None:
                return self._finish(status)
            now = self._clock()
            self._due_work(now)
            if self._ending_status() is None:
                for info in signals.wait(self._timeout_s(now)):
                    self._on_signal(info)

    def _ending_status(self) -> int | None:
        """The status to exit with, once something ended the recording."""
        return self._finished

    def _due_work(self, now: float) -> None:
        every_s = self.options.snapshots_every_s
        # The first sample is taken at once, whatever the clock says by now: were it to wait even a moment, a
        # command that exits at once could end the run before anything was charted.
        if self._samples_taken == 0 or self.schedule.due(now):
            self._sample(now)
            if every_s is not None and self._next_snapshot_s is None:
                self._snapshot()  # --snapshots: one at the start
                self._next_snapshot_s = now + every_s
        if every_s is not None and self._next_snapshot_s is not None and now >= self._next_snapshot_s:
            self._snapshot()
            while self._next_snapshot_s <= now:  # on a fixed grid: a slow write does not shift the rest
                self._next_snapshot_s += every_s
        if self.progress.due(now):
            self.progress.show(now, now - self._start_s, self.chart.samples, self._live_tasks())

    def _timeout_s(self, now: float) -> float | None:
        delays = [self.schedule.delay_s(now), self.progress.delay_s(now)]
        if self._next_snapshot_s is not None:
            delays.append(max(self._next_snapshot_s - now, 0.0))
        known = [d for d in delays if d is not None]
        return min(known) if known else None

    def _on_tree_sampled(self, vmon: Vmon, root: Task, arg: object) -> None:
        ended = root.is_stale or (
            (self._command_status is not None or self._sampling_exited) and not self.options.linger
        )
        if ended and self.chart.samples:
            # The sample after the end: the chart keeps the tree as it last ran.  A root gone before the first
            # sample is still charted (as vwm does: "# missed it!"), so the run ends with a PNG all the same.
            return
        self.chart.set_hertz(self.schedule.display_hertz)
        self.chart.update(
            root,
            vmon.sys_stat,
            vmon.generation,
            self.schedule.last_timing,
            structure_version=vmon.structure_changes,
            ticks_per_s=vmon.ticks_per_s,
            num_cpus=vmon.num_cpus,
            page_size=vmon.page_size,
        )

    def _sample(self, now: float) -> None:
        assert self._vmon is not None and self._root is not None
        timing = self.schedule.begin_sample(now)
        assert self._reports is not None
        self._reports.before_sample()
        charted_before = self.chart.samples
        self._vmon.sample()
        self._samples_taken += 1
        self._reports.after_sample(t_s=now - self._start_s, elapsed_s=timing.elapsed_s)
        if self._reports.group_root is not None:
            self._on_tree_sampled(self._vmon, self._reports.group_root, None)
        if self._reports.group_gone and self._child is None:
            self._finished = 0  # the group was removed (its unit stopped)
        root = self._root
        if self._log is not None and not self._root_logged_gone:
            try:
                self._log.write_sample(
                    root,
                    sys=self._vmon.sys_stat,
                    timing=timing,
                    t_s=now - self._start_s,
                    time_s=self._wall_clock(),
                    hertz=self.schedule.display_hertz,
                    charted=self.chart.samples != charted_before,
                    structure_version=self._vmon.structure_changes,
                )
            except OSError as err:
                self._log_failed(err)
        if root.is_stale and not self._root_logged_gone:
            self._root_logged_gone = True
            if self.options.pid is not None and not self.options.linger:
                self._finished = 0

    def _live_tasks(self) -> int:
        if self._root is None or self._root_logged_gone:
            return 0
        return _count_tasks(self._root)

    # -- signals

    def _on_signal(self, info: signal.struct_siginfo) -> None:
        signum = info.si_signo
        if signum == signal.SIGCHLD:
            self._reap()
        elif signum == signal.SIGUSR1:
            self._snapshot()
        elif signum in ENDING_SIGNALS:
            self._finished = self._status_if_stopped(128 + signum)
        elif signum == signal.SIGINT:
            if self._command_running() and self._interrupts == 0:
                # A terminal's Ctrl-C (sent by the kernel) reached the command's process group too: not twice.
                if info.si_code != SI_KERNEL:
                    assert self._child is not None
                    os.kill(self._child.pid, signal.SIGINT)
            else:
                self._finished = self._status_if_stopped(STATUS_SIGINT)
            self._interrupts += 1

    def _reap(self) -> None:
        if self._command_running():
            self._sample_exited_command()
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            # Anything else is an orphan adopted with --reaper: reaped silently.
            if self._child is not None and pid == self._child.pid:
                self._command_exited(_exit_status(wait_status))

    def _sample_exited_command(self) -> None:
        """The command exited and is not reaped yet: one more sample while its /proc files still read.

        Reaping folds what the command used, with what its own reaped children used, into the recorder, outside
        the monitored tree: a child reaped after the last sample by a command that exits before the next one
        would otherwise count nowhere.  A zombie's stat and io still hold all of it.
        """
        assert self._child is not None
        try:
            exited = os.waitid(os.P_PID, self._child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if exited is None:
            return
        self._sampling_exited = True
        try:
            self._sample(self._clock())
        finally:
            self._sampling_exited = False

    def _command_exited(self, status: int) -> None:
        if self.options.snapshot_on_exit:
            self._snapshot()
        self._command_status = status
        if self._log is not None:
            self._sample(self._clock())  # so the log records the exit (the chart keeps the last live sample)
        if not self.options.linger:
            self._finished = status

    def _command_running(self) -> bool:
        return self._child is not None and self._command_status is None

    def _status_if_stopped(self, stopped_status: int) -> int:
        if self._command_status is not None:
            return self._command_status
        return stopped_status if self._child is not None else 0

    # -- output

    def _snapshot(self, *, final: bool = False) -> None:
        if self.chart.samples == 0 or self.snapshots is None:
            return  # nothing sampled yet: the loop takes the first sample at once
        path = self.snapshots.next_path()
        try:
            path = self.snapshots.write(self.chart)
        except OSError as err:
            # Reported, and the recording goes on: the next snapshot may well succeed (space freed).  A periodic
            # snapshot failing the same way each time is reported once, until one is written.
            self._failed_writes += 1
            if final:
                self._report(err, path, "the recording ends without its final PNG")
            elif err.errno != self._snapshot_errno:
                self._report(err, path, "no snapshot this time, the recording goes on")
            self._snapshot_errno = err.errno
            return
        self._snapshot_errno = None
        if self._log is not None:
            try:
                self._log.write_snapshot(path, self.chart.samples)  # a replay composes at the same point
            except OSError as err:
                self._log_failed(err)

    def _log_failed(self, err: OSError) -> None:
        # The log stops (a full disk, a reader that went away); the chart and the command go on.
        self._log = None
        self._failed_writes += 1
        self._report(err, str(self.options.jsonl_path), "the log stops, the recording goes on")

    def _report(self, err: OSError, path: str, what_now: str) -> None:
        self.progress.clear()
        shown = err.filename if isinstance(err.filename, str) else path
        report(self._stderr, shown, describe(err), what_now)

    def _finish(self, status: int) -> int:
        # Every run ends with a chart: the latest sample, unless a snapshot of it was just written.
        if self.snapshots is not None and self.snapshots.last_samples != self.chart.samples:
            self._snapshot(final=True)
        if self._reports is not None:
            self._reports.finish(status)
        if self._failed_writes and status == 0:
            return STATUS_ERROR
        return status


def _count_tasks(process: Task) -> int:
    """Live processes and their threads under ``process``; walks processes only (a tenth of the tasks of a
    threaded tree), since the progress line needs no more than a count."""
    count = 0
    stack = [process]
    while stack:
        task = stack.pop()
        if not task.is_stale:
            count += 1 + len(task.threads)
            stack.extend(task.children)
    return count


def _exit_status(wait_status: int) -> int:
    """The shell's convention: the exit code, or 128+N when signal N killed the command."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code
