"""The monitor: follows processes, their descendants and threads through /proc.

One :meth:`Vmon.sample` call is one sampling cycle:

1. the system samplers (``/proc/stat``, ``/proc/meminfo``), then ``sample_cb``;
2. every monitored task, depth first, process before its threads before its
   children; per process: stat, then threads, then children, then io, statm
   and files, so a task found this cycle is sampled in this cycle;
3. the per-process callbacks, each after its whole subtree was sampled
   (leaves first; with ``TWO_PASS`` only once everything was sampled).

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
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import TaskGone
from .core import FILES, FOLLOW_CHILDREN, FOLLOW_THREADS, IO, VM, TaskLifeCallback, TaskState, log, state_of
from .core import STAT as STAT_WANT
from .files import FileObjectCallback, FileTable
from .following import TreeFollowing
from .procfs import NOT_OPEN, ProcFS
from .records import ProcWants, SysStat, SysWants, Task, TaskCallback, VmonFlags
from .sampling import TaskSampling
from .system import SystemSampling

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


class Vmon(TaskSampling, TreeFollowing, SystemSampling):
    """A Python libvmon.

    ``Vmon(flags, sys_wants, proc_wants)``; :meth:`monitor` a pid with a
    callback; call :meth:`sample` periodically.  See the module docstring for
    the order of a cycle.
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
        self._proc_wants = int(self.proc_wants)
        self.sample_cb = sample_cb
        self.sample_cb_arg = sample_cb_arg
        self.proc_ctor_cb = proc_ctor_cb
        self.proc_dtor_cb = proc_dtor_cb
        self.procfs = ProcFS(proc_root, budget=fd_budget, report=lambda line: log.warning("vmon: %s", line))
        self.files = FileTable(fobject_ctor_cb, fobject_dtor_cb)
        self.ticks_per_s = os.sysconf("SC_CLK_TCK")
        self.num_cpus = os.cpu_count() or 1
        self.page_size = os.sysconf("SC_PAGE_SIZE")
        self.start_boottime_ticks = int(time.clock_gettime(time.CLOCK_BOOTTIME) * self.ticks_per_s)
        self._clock = clock
        self._last_sample_s: float | None = None
        #: Seconds between this sample and the previous one (0.0 in the first).
        self.elapsed_s = 0.0
        self.cap_ticks = 0.0
        self.generation = 0
        #: Top-level tasks (monitored explicitly, or orphaned).
        self.processes: list[Task] = []
        #: Tasks whose parent was dropped while they were still referenced;
        #: they join ``processes`` at the end of the cycle's first pass.
        self.orphans: list[Task] = []
        self.processes_changed = False
        #: Bumped whenever a task appears, goes stale, is dropped or moves:
        #: consumers that lay out the tree can skip that work while it is unchanged.
        self.structure_changes = 0
        #: With PROC_ARRAY: every task, flat; freed slots hold None.
        self.array: list[Task | None] = []
        self.sys_stat: SysStat | None = None
        self.meminfo_kb: dict[str, int] | None = None
        #: System wants whose sample changed something this cycle.
        self.activity = SysWants.NONE
        self._processes_by_pid: dict[int, Task] = {}
        self._threads_by_tid: dict[int, Task] = {}
        self._migrations: list[tuple[Task, Task]] = []
        self._array_slots: dict[Task, int] = {}
        self._array_free: list[int] = []
        self._sys_stat_fd = NOT_OPEN
        self._meminfo_fd = NOT_OPEN
        self._sys_stat_read = 64 + 256 * (self.num_cpus + 1)
        self._reported_sys: set[str] = set()
        #: Whether this kernel has ``/proc/PID/task/TID/children``
        #: (CONFIG_PROC_CHILDREN); without it children are found by ppid.
        self.children_files = (
            children_files
            if children_files is not None
            else os.path.exists(f"{proc_root}/self/task/{os.getpid()}/children")
        )
        self.all_children = False
        self._loadavg_fd = NOT_OPEN
        self._last_pid = -1
        self._pid_retry: list[int] = []
        self._ppid_generation = -1
        self._ppid_children: dict[int, list[int]] = {}

    # ------------------------------------------------------------------ public

    def monitor(
        self, pid: int, wants: ProcWants = ProcWants.INHERIT, callback: TaskCallback | None = None, arg: Any = None
    ) -> Task:
        """Monitor process ``pid``; ``callback(vmon, task, arg)`` runs once per
        sample after the task's subtree was sampled.  Monitoring a pid already
        monitored (two windows of one process) returns the same task with one
        more reference.  Raises :class:`TaskGone` when there is no such process.
        """
        task = self._processes_by_pid.get(pid)
        if task is not None and not task.is_stale:
            task.refcount += 1
        else:
            task = self._create(pid, None, is_thread=False, born=self.generation + 1)
            if task is None:
                raise TaskGone(pid)
            self.processes.append(task)
            self.processes_changed = True
        if wants:
            task.wants = wants
        if callback is not None and (callback, arg) not in task.callbacks:
            task.callbacks.append((callback, arg))
        return task

    def unmonitor(self, task: Task, callback: TaskCallback | None = None, arg: Any = None) -> None:
        """Drop one reference (and the callback, if given); free at zero."""
        if callback is not None and (callback, arg) in task.callbacks:
            task.callbacks.remove((callback, arg))
        self._unref(task)

    def sample(self) -> None:
        """One sampling cycle (see the module docstring)."""
        self.generation += 1
        self.procfs.refresh_budget()
        now_s = self._clock()
        self.elapsed_s = 0.0 if self._last_sample_s is None else max(0.0, now_s - self._last_sample_s)
        self._last_sample_s = now_s
        self.cap_ticks = self.elapsed_s * self.ticks_per_s * self.num_cpus
        if self.flags & VmonFlags.PROC_ALL:
            self._sync_all_processes()
        elif self._proc_wants & FOLLOW_CHILDREN or any(t.wants & FOLLOW_CHILDREN for t in self.processes):
            self._scan_new_pids()
        self._sample_sys()
        if self.sample_cb is not None:
            self.sample_cb(self, self.sample_cb_arg)
        # Second phase of removal for top-level tasks: stale for one cycle, then gone.
        if any(task.is_stale for task in self.processes):
            stale = [t for t in self.processes if t.is_stale]
            self.processes[:] = [t for t in self.processes if not t.is_stale]
            for task in stale:
                self._drop_top_level(task)
            self.processes_changed = True
        # Orphaned between two cycles (their parent was unmonitored): join the
        # top level now, so they are sampled in this cycle instead of missing it.
        if self.orphans:
            self.processes.extend(self.orphans)
            self.orphans.clear()
            self.processes_changed = True
        if self.flags & VmonFlags.PROC_ARRAY:
            self._sample_array()
            return
        top_level = tuple(self.processes)
        if self.flags & VmonFlags.TWO_PASS:
            for task in top_level:
                self._pass1(task)
            for root in top_level:
                for task in _post_order(root):
                    self._account(task)
            self._finish_pass1()
            for task in self.processes:
                self._pass2(task)
        else:
            for task in top_level:
                self._unipass(task)
            self._finish_pass1()

    def close(self) -> None:
        """Close every kept fd; the instance is unusable afterwards."""
        for task in list(self.processes):
            self._free(task)
        self.processes.clear()
        for task in self.orphans:
            self._free(task)
        self.orphans.clear()
        self.procfs.release(self._sys_stat_fd)
        self.procfs.release(self._meminfo_fd)
        self.procfs.release(self._loadavg_fd)
        self.procfs.close()

    def __enter__(self) -> Vmon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find(self, pid: int) -> Task | None:
        """The live task monitored for process ``pid``, if any."""
        return self._processes_by_pid.get(pid)

    # ------------------------------------------------------------ traversal

    def _pass1(self, root: Task) -> None:
        # Depth first, a process before its threads before its children;
        # an explicit stack, since a chain of any depth is a valid tree.
        stack = [root]
        while stack:
            task = stack.pop()
            if task.is_stale:
                continue
            self._sample_process(task)
            if task.threads:
                self._sample_threads(task)
            if task.children:
                stack.extend(reversed(task.children))

    def _pass2(self, root: Task) -> None:
        # Callbacks leaves first: each after its whole subtree.
        for task in _post_order(root):
            for callback, arg in tuple(task.callbacks):
                callback(self, task, arg)

    def _unipass(self, root: Task) -> None:
        # Each task's callbacks right after its subtree was sampled: sample on
        # the way down, call back on the way up.
        stack: list[tuple[Task, bool]] = [(root, False)]
        while stack:
            task, done = stack.pop()
            if done:
                self._account(task)
                for callback, arg in tuple(task.callbacks):
                    callback(self, task, arg)
                continue
            if not task.is_stale:
                self._sample_process(task)
                if task.threads:
                    self._sample_threads(task)
            stack.append((task, True))
            stack.extend((child, False) for child in reversed(task.children))

    def _finish_pass1(self) -> None:
        # Tasks found in another process's children file (explicitly monitored
        # ones, or orphans adopted by a subreaper) move under it, after the
        # walk so no list changes under it.
        for task, parent in self._migrations:
            if task.parent is not None and task in task.parent.children:
                task.parent.children.remove(task)
                task.parent.children_changed = True
                task.refcount -= 1  # the old parent's follow reference
            elif task in self.processes:
                self.processes.remove(task)
                self.processes_changed = True
            task.parent = parent
            if task.is_stale:
                # Its old parent's exit marked it and its subtree stale: look
                # at its threads and children afresh next cycle.
                task.is_stale = False
                state = state_of(task)
                state.relist_threads = state.force_children = True
            parent.children.append(task)
            parent.children_changed = True
            self.structure_changes += 1
        self._migrations.clear()
        if self.orphans:
            self.processes.extend(self.orphans)
            self.orphans.clear()
            self.processes_changed = True

    def _sample_array(self) -> None:
        # Flat order; a node's callbacks run right after it was sampled.
        index = 0
        while index < len(self.array):
            task = self.array[index]
            index += 1
            if task is None or task.is_stale:
                continue
            if task.is_thread:
                self._sample_thread(task)
            else:
                self._sample_process(task)
                self._account(task)
            for callback, arg in tuple(task.callbacks):
                callback(self, task, arg)
        self._finish_pass1()

    def _sync_all_processes(self) -> None:
        # PROC_ALL: /proc's numeric entries are the top-level list; those gone
        # are dropped at once (nothing follows them, so no two-phase removal).
        pids = self.procfs.list_pids()
        known = self._processes_by_pid
        for pid in pids:
            task = known.get(pid)
            if task is None or task.is_stale:
                task = self._create(pid, None, is_thread=False, born=self.generation)
                if task is None:
                    continue
                self.processes.append(task)
                self.processes_changed = True
            state_of(task).seen_generation = self.generation
        if len(self.processes) != len(pids):
            generation = self.generation
            gone = [t for t in self.processes if state_of(t).seen_generation != generation]
            self.processes[:] = [t for t in self.processes if state_of(t).seen_generation == generation]
            for task in gone:
                self._free(task)
            self.processes_changed = True

    def _sample_process(self, task: Task) -> None:
        state: TaskState = task._engine
        generation = self.generation
        task.is_new = state.born_generation == generation
        task.generation = generation
        task.children_changed = task.threads_changed = False
        wants = task.wants or self._proc_wants
        task.activity = 0
        if not self._sample_stat(task, state, False):
            task.delta.clear()
            return
        # A process's stat holds its thread group's totals: while its bytes
        # stay the same, no thread ran and none came or went, and the process
        # neither forked (its new pid would be found by the new-pid scan) nor
        # reaped; its threads and children files need no look.  (Cumulative
        # counters make a skipped read a delay, never a loss.)
        moved = task.activity
        if wants & FOLLOW_THREADS and (moved or state.relist_threads or state.stale_threads):
            self._follow_threads(task, state)
        if wants & FOLLOW_CHILDREN:
            if state.stale_children:
                self._drop_stale_children(task, state)
            # Monitored roots are always looked at: a subreaper adopts orphans
            # without its stat moving.
            if moved or state.force_children or task.parent is None or self.all_children:
                self._follow_children(task, state)
        if wants & IO:
            self._sample_io(task, state)
        if wants & VM:
            if moved:
                self._sample_statm(task, state)
            elif task.vm is not None:
                task.vm.changed = 0
        if wants & FILES:
            self._sample_files(task, state)

    def _sample_threads(self, task: Task) -> None:
        """The threads of a process whose stat moved; else only those shown (their state and wait channel)."""
        state: TaskState = task._engine
        if task.activity & STAT_WANT:
            state.threads_quiet = False
            for thread in task.threads:
                if not thread.is_stale:
                    self._sample_thread(thread)
            return
        if not state.threads_quiet:
            state.threads_quiet = True
            for thread in task.threads:
                self._quiet_thread(thread)
        for thread in task.threads:
            if thread.shown and not thread.is_stale:
                self._sample_thread(thread)

    def _account(self, task: Task) -> None:
        """A process's deltas, once its subtree was sampled: a child found gone
        there (reaped, its use folded into ours) is deducted in this sample."""
        if not task.is_stale:
            self._account_process(task, task._engine, bool((task.wants or self._proc_wants) & IO))


def _post_order(root: Task) -> Iterator[Task]:
    """The tree under ``root``, every task after its children (threads are not visited)."""
    stack: list[tuple[Task, bool]] = [(root, False)]
    while stack:
        task, done = stack.pop()
        if done:
            yield task
            continue
        stack.append((task, True))
        stack.extend((child, False) for child in reversed(task.children))
