"""The monitor: follows processes, their descendants and threads through /proc.

One :meth:`Vmon.sample` call is one sampling cycle:

1. the system samplers (``/proc/stat``, ``/proc/meminfo``), then ``sample_cb``;
2. every monitored task, depth first, process before its threads before its
   children; per process: stat, then threads, then children, then io, statm
   and files, so a task found this cycle is sampled in this cycle;
3. the per-process callbacks, each after its whole subtree was sampled
   (leaves first; with ``TWO_PASS`` only once everything was sampled).

The front composes its collaborators, each with one job: the task table
(every task and its lifecycle), the readers of a task's own files (and its
accounting), the tree follower (threads, children, new pids), the system
sampler, and the walker that drives them over the trees.

Removal takes two phases, as in libvmon: a task that exited or left the tree
is marked ``is_stale`` and stays in its parent's list for exactly that cycle,
so callbacks see it once; the next cycle drops it.  Nothing a monitored
process does makes :meth:`sample` raise: a vanished task becomes stale, an
unreadable file marks that data unavailable, an unparsable one is reported
once and skipped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from ..errors import TaskGone
from ._cycle import FOLLOW_CHILDREN, Cycle
from ._files import FileObjectCallback, FileTable
from ._follower import TreeFollower
from ._procfs import ProcFS
from ._readers import TaskReaders
from ._system import SystemSampler
from ._table import TaskLifeCallback, TaskTable, log
from ._walker import TreeWalker
from .records import ProcWants, SysStat, SysWants, Task, TaskCallback, VmonFlags

__all__ = ["DEFAULT_PROC_WANTS", "Vmon"]

DEFAULT_PROC_WANTS = (
    ProcWants.STAT
    | ProcWants.VM
    | ProcWants.IO
    | ProcWants.FILES
    | ProcWants.FOLLOW_CHILDREN
    | ProcWants.FOLLOW_THREADS
)

SampleCallback = Callable[["Vmon", Any], None]


class Vmon:
    """A Python libvmon.

    ``Vmon(flags, sys_wants, proc_wants)``; :meth:`monitor` a pid with a
    callback; call :meth:`sample` periodically.  See the module docstring for
    the order of a sample.  ``clock`` gives the seconds :attr:`elapsed_s`
    is measured on; ``fd_budget`` fixes how many fds the engine may keep
    (by default three quarters of the soft open files limit, leaving at
    least 64 to the rest of the program).
    """

    def __init__(
        self,
        flags: VmonFlags = VmonFlags.TWO_PASS,
        sys_wants: SysWants = SysWants.STAT | SysWants.VM,
        proc_wants: ProcWants = DEFAULT_PROC_WANTS,
        *,
        proc_root: str = "/proc",
        sample_cb: SampleCallback | None = None,
        sample_cb_arg: Any = None,
        proc_ctor_cb: TaskLifeCallback | None = None,
        proc_dtor_cb: TaskLifeCallback | None = None,
        fobject_ctor_cb: FileObjectCallback | None = None,
        fobject_dtor_cb: FileObjectCallback | None = None,
        children_files: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        fd_budget: int | None = None,
    ) -> None:
        if flags & VmonFlags.PROC_ALL and proc_wants & ProcWants.FOLLOW_CHILDREN:
            raise ValueError("PROC_ALL already monitors every process: it cannot be combined with FOLLOW_CHILDREN")
        self.flags = flags
        self.sys_wants = sys_wants
        self.proc_wants = proc_wants if proc_wants else DEFAULT_PROC_WANTS
        self.sample_cb = sample_cb
        self.sample_cb_arg = sample_cb_arg
        self._clock = clock
        self._last_sample_s: float | None = None
        self._cycle = Cycle(int(self.proc_wants))
        self.ticks_per_s = self._cycle.ticks_per_s
        self.num_cpus = self._cycle.num_cpus
        self.page_size = self._cycle.page_size
        self.procfs = ProcFS(proc_root, budget=fd_budget, report=lambda line: log.warning("vmon: %s", line))
        self.files = FileTable(fobject_ctor_cb, fobject_dtor_cb)
        self._table = TaskTable(
            self.procfs,
            self.files,
            self._cycle,
            owner=self,
            keep_array=bool(flags & VmonFlags.PROC_ARRAY),
            ctor=proc_ctor_cb,
            dtor=proc_dtor_cb,
        )
        self._readers = TaskReaders(self._table, self._cycle)
        if children_files is None:
            children_files = os.path.exists(f"{proc_root}/self/task/{os.getpid()}/children")
        self._follower = TreeFollower(self._table, self._cycle, children_files=children_files)
        self._system = SystemSampler(self.procfs, ticks_per_s=self.ticks_per_s, num_cpus=self.num_cpus)
        self._walker = TreeWalker(self._table, self._readers, self._follower, self._cycle, owner=self)

        #: The number of the latest sample (bumped at the start of each).
        self.generation = 0
        #: What the system sampler found in the latest sample.
        self.sys_stat: SysStat | None = None
        self.meminfo_kb: dict[str, int] | None = None
        #: System wants whose sample changed something in the latest sample.
        self.activity = SysWants.NONE

    # -- what a sample found

    @property
    def elapsed_s(self) -> float:
        """Seconds between this sample and the previous one, on ``clock`` (0.0 in the first)."""
        return self._cycle.elapsed_s

    @property
    def cap_ticks(self) -> float:
        """This sample's wall time on every core, in ticks: the most children are credited in it."""
        return self._cycle.cap_ticks

    @property
    def start_boottime_ticks(self) -> int:
        """CLOCK_BOOTTIME in ticks when monitoring began: tasks started before are baselines."""
        return self._cycle.start_boottime_ticks

    @property
    def processes(self) -> list[Task]:
        """Top-level tasks (monitored explicitly, or orphaned)."""
        return self._table.processes

    @property
    def orphans(self) -> list[Task]:
        """Tasks whose parent was dropped while they were still referenced (top level from the next sample)."""
        return self._table.orphans

    @property
    def processes_changed(self) -> bool:
        return self._table.processes_changed

    @property
    def structure_changes(self) -> int:
        """Bumped whenever a task appears, goes stale, is dropped or moves: consumers
        that lay out the tree can skip that work while it is unchanged."""
        return self._table.structure_changes

    @structure_changes.setter
    def structure_changes(self, value: int) -> None:
        self._table.structure_changes = value

    @property
    def array(self) -> list[Task | None]:
        """With PROC_ARRAY: every task, flat; freed slots hold None."""
        return self._table.array

    @property
    def children_files(self) -> bool:
        """Whether this kernel has ``/proc/PID/task/TID/children`` (else children are found by ppid)."""
        return self._follower.children_files

    # -- the public API

    def monitor(
        self, pid: int, wants: ProcWants = ProcWants.INHERIT, callback: TaskCallback | None = None, arg: Any = None
    ) -> Task:
        """Monitor process ``pid``; ``callback(vmon, task, arg)`` runs once per
        sample after the task's subtree was sampled.  Monitoring a pid already
        monitored (two windows of one process) returns the same task with one
        more reference.  Raises :class:`TaskGone` when there is no such process.
        """
        table = self._table
        task = table.by_pid.get(pid)
        if task is not None and not task.is_stale:
            task.refcount += 1
        else:
            task = table.create(pid, None, is_thread=False, born=self._cycle.generation + 1)
            if task is None:
                raise TaskGone(pid)
            table.processes.append(task)
            table.processes_changed = True
        if wants:
            task.wants = wants
        if callback is not None and (callback, arg) not in task.callbacks:
            task.callbacks.append((callback, arg))
        return task

    def unmonitor(self, task: Task, callback: TaskCallback | None = None, arg: Any = None) -> None:
        """Drop one reference (and the callback, if given); free at zero."""
        if callback is not None and (callback, arg) in task.callbacks:
            task.callbacks.remove((callback, arg))
        self._table.unref(task)

    def sample(self) -> None:
        """One sample (see the module docstring)."""
        now_s = self._clock()
        self._cycle.advance(0.0 if self._last_sample_s is None else max(0.0, now_s - self._last_sample_s))
        self._last_sample_s = now_s
        self.generation = self._cycle.generation
        self.procfs.refresh_budget()
        table = self._table
        if self.flags & VmonFlags.PROC_ALL:
            self._walker.sync_all_processes()
        elif self._cycle.proc_wants & FOLLOW_CHILDREN or any(t.wants & FOLLOW_CHILDREN for t in table.processes):
            self._follower.scan_new_pids()
        system = self._system
        system.sample(self.sys_wants)
        self.sys_stat, self.meminfo_kb, self.activity = system.sys_stat, system.meminfo_kb, system.activity
        if self.sample_cb is not None:
            self.sample_cb(self, self.sample_cb_arg)
        # Second phase of removal for top-level tasks: stale for one sample, then gone.
        if any(task.is_stale for task in table.processes):
            stale = [t for t in table.processes if t.is_stale]
            table.processes[:] = [t for t in table.processes if not t.is_stale]
            for task in stale:
                table.drop_top_level(task)
            table.processes_changed = True
        # Orphaned between two samples (their parent was unmonitored): join the
        # top level now, so they are sampled in this sample instead of missing it.
        if table.orphans:
            table.processes.extend(table.orphans)
            table.orphans.clear()
            table.processes_changed = True
        if self.flags & VmonFlags.PROC_ARRAY:
            self._walker.sample_array()
        elif self.flags & VmonFlags.TWO_PASS:
            self._walker.two_pass(tuple(table.processes))
        else:
            self._walker.one_pass(tuple(table.processes))

    def close(self) -> None:
        """Close every kept fd; the instance is unusable afterwards."""
        table = self._table
        for task in (*table.processes, *table.orphans):
            table.free(task)
        table.processes.clear()
        table.orphans.clear()
        self._system.close()
        self._follower.close()
        self.procfs.close()

    def __enter__(self) -> Vmon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find(self, pid: int) -> Task | None:
        """The live task monitored for process ``pid``, if any."""
        return self._table.by_pid.get(pid)
