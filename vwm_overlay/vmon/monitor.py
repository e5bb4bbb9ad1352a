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

import errno
import logging
import operator
import os
import time
from collections.abc import Callable
from typing import Any

from ..errors import TaskGone
from . import parse
from .files import FileObjectCallback, FileTable
from .procfs import DENIED, GONE, NOT_OPEN, TRANSIENT, ProcFS, close_fd, is_gone, raise_nofile_limit, read_all
from .records import (
    STAT_ALL_BITS,
    STAT_ARGV_BIT,
    STAT_COMM_BIT,
    STAT_EXE_BIT,
    STAT_FIELDS,
    STAT_STATE_BIT,
    STAT_WCHAN_BIT,
    ProcWants,
    SysStat,
    SysWants,
    Task,
    TaskCallback,
    TaskIO,
    TaskStat,
    TaskVM,
    VmonFlags,
)

__all__ = ["DEFAULT_PROC_WANTS", "Vmon"]

log = logging.getLogger("vwm_overlay.vmon")

DEFAULT_PROC_WANTS = (
    ProcWants.STAT
    | ProcWants.VM
    | ProcWants.IO
    | ProcWants.FILES
    | ProcWants.FOLLOW_CHILDREN
    | ProcWants.FOLLOW_THREADS
)

# Read sizes: one pread nearly always gets the whole file (see procfs.read_all).
_STAT_READ = 1024
_SMALL_READ = 512
_CHILDREN_READ = 4096
_CMDLINE_READ = 4096

# Reads every numeric stat field in one C call, in STAT_FIELDS order.
_stat_getter = operator.attrgetter(*STAT_FIELDS)
_CUTIME = STAT_FIELDS.index("cutime_ticks")
_CSTIME = STAT_FIELDS.index("cstime_ticks")
_START = STAT_FIELDS.index("start_ticks")

# The wants as plain ints: IntFlag operators cost a Python call each, and
# these are tested for every task on every sample.
_FOLLOW_CHILDREN = int(ProcWants.FOLLOW_CHILDREN)
_FOLLOW_THREADS = int(ProcWants.FOLLOW_THREADS)
_FILES = int(ProcWants.FILES)
_STAT = int(ProcWants.STAT)
_VM = int(ProcWants.VM)
_IO = int(ProcWants.IO)

SampleCallback = Callable[["Vmon", Any], None]
TaskLifeCallback = Callable[["Vmon", Task], None]


class _State:
    """The engine's private per-task state: kept fds and last raw reads."""

    __slots__ = (
        "base",
        "born_generation",
        "children_fd",
        "children_raw",
        "cmdline_fd",
        "cstime_delta",
        "cutime_delta",
        "force_children",
        "gone",
        "io_fd",
        "io_raw",
        "live_threads",
        "relist_threads",
        "reported",
        "seen_generation",
        "stat_fd",
        "stat_raw",
        "statm_fd",
        "statm_raw",
        "wchan_fd",
    )

    def __init__(self, base: str, children_path_base: str, born_generation: int) -> None:
        self.base = base  # "PID/" or "PID/task/TID/"
        self.born_generation = born_generation
        self.seen_generation = born_generation
        self.gone = False
        self.stat_fd = NOT_OPEN
        self.stat_raw = b""
        self.cmdline_fd = NOT_OPEN
        self.wchan_fd = NOT_OPEN
        self.children_fd = NOT_OPEN
        self.children_raw = b""
        self.force_children = False
        self.io_fd = NOT_OPEN
        self.io_raw = b""
        self.statm_fd = NOT_OPEN
        self.statm_raw = b""
        self.live_threads = 0
        self.relist_threads = True
        self.cutime_delta = 0
        self.cstime_delta = 0
        self.reported: set[str] | None = None

    def close(self) -> None:
        for name in ("stat_fd", "cmdline_fd", "wchan_fd", "children_fd", "io_fd", "statm_fd"):
            fd = getattr(self, name)
            if fd >= 0:
                close_fd(fd)
            setattr(self, name, GONE)


def _state(task: Task) -> _State:
    state: _State = task._engine
    return state


class Vmon:
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
        self.fd_limit = raise_nofile_limit()
        self.procfs = ProcFS(proc_root)
        self.files = FileTable(fobject_ctor_cb, fobject_dtor_cb)
        self.ticks_per_s = os.sysconf("SC_CLK_TCK")
        self.num_cpus = os.cpu_count() or 1
        self.page_size = os.sysconf("SC_PAGE_SIZE")
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
        if self.flags & VmonFlags.PROC_ALL:
            self._sync_all_processes()
        self._sample_sys()
        if self.sample_cb is not None:
            self.sample_cb(self, self.sample_cb_arg)
        # Second phase of removal for top-level tasks: stale for one cycle, then gone.
        if any(task.is_stale for task in self.processes):
            for task in [t for t in self.processes if t.is_stale]:
                self.processes.remove(task)
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
        close_fd(self._sys_stat_fd)
        close_fd(self._meminfo_fd)
        self.procfs.close()

    def __enter__(self) -> Vmon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find(self, pid: int) -> Task | None:
        """The live task monitored for process ``pid``, if any."""
        return self._processes_by_pid.get(pid)

    # -------------------------------------------------------- system samplers

    def _sample_sys(self) -> None:
        self.activity = SysWants.NONE
        if self.sys_wants & SysWants.STAT:
            data = self._read_sys("stat", "_sys_stat_fd", self._sys_stat_read)
            if data is not None:
                try:
                    cpu, cpus = parse.parse_sys_stat(data)
                except parse.ParseError as err:
                    self._report_sys("stat", err)
                else:
                    sys_stat = self.sys_stat
                    if sys_stat is None:
                        sys_stat = self.sys_stat = SysStat()
                    sys_stat.changed = cpu != sys_stat.cpu
                    sys_stat.cpu = cpu
                    sys_stat.cpus = cpus
                    sys_stat.boottime_ticks = int(time.clock_gettime(time.CLOCK_BOOTTIME) * self.ticks_per_s)
                    if sys_stat.changed:
                        self.activity |= SysWants.STAT
        if self.sys_wants & SysWants.VM:
            data = self._read_sys("meminfo", "_meminfo_fd", 8192)
            if data is not None:
                try:
                    meminfo = parse.parse_meminfo(data)
                except parse.ParseError as err:
                    self._report_sys("meminfo", err)
                else:
                    if meminfo != self.meminfo_kb:
                        self.activity |= SysWants.VM
                    self.meminfo_kb = meminfo

    def _read_sys(self, name: str, attr: str, size: int) -> bytes | None:
        fd: int = getattr(self, attr)
        if fd == NOT_OPEN:
            fd = self.procfs.open(name)
            setattr(self, attr, fd)
        try:
            if fd >= 0:
                return os.pread(fd, size, 0)
            if fd == TRANSIENT:
                data = self.procfs.read_transient(name, size)
                return data if isinstance(data, bytes) else None
        except OSError as err:
            self._report_sys(name, err)
        return None

    def _report_sys(self, name: str, err: Exception) -> None:
        if name not in self._reported_sys:
            self._reported_sys.add(name)
            log.warning("/proc/%s: %s; skipped", name, err)

    # ------------------------------------------------------------ traversal

    def _pass1(self, task: Task) -> None:
        if task.is_stale:
            return
        self._sample_process(task)
        for thread in task.threads:
            if not thread.is_stale:
                self._sample_thread(thread)
        if task.children:
            for child in tuple(task.children):
                self._pass1(child)

    def _pass2(self, task: Task) -> None:
        for child in task.children:
            self._pass2(child)
        for callback, arg in tuple(task.callbacks):
            callback(self, task, arg)

    def _unipass(self, task: Task) -> None:
        if not task.is_stale:
            self._sample_process(task)
            for thread in task.threads:
                if not thread.is_stale:
                    self._sample_thread(thread)
        for child in tuple(task.children):
            self._unipass(child)
        for callback, arg in tuple(task.callbacks):
            callback(self, task, arg)

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
                state = _state(task)
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
            _state(task).seen_generation = self.generation
        if len(self.processes) != len(pids):
            for task in [t for t in self.processes if _state(t).seen_generation != self.generation]:
                self.processes.remove(task)
                self._free(task)
                self.processes_changed = True

    # ------------------------------------------------------------ lifecycle

    def _create(self, pid: int, parent: Task | None, *, is_thread: bool, born: int) -> Task | None:
        """A new task, or None when it is already gone."""
        if is_thread:
            assert parent is not None
            base = f"{parent.pid}/task/{pid}/"
        else:
            base = f"{pid}/"
        state = _State(base, base, born)
        state.stat_fd = self.procfs.open(base + "stat")
        if state.stat_fd == GONE:
            return None
        task = Task(pid, is_thread=is_thread, parent=parent)
        task._engine = state
        self.structure_changes += 1
        task.generation = born
        if is_thread:
            self._threads_by_tid[pid] = task
        else:
            self._processes_by_pid[pid] = task
        if self.flags & VmonFlags.PROC_ARRAY:
            self._array_add(task)
        if self.proc_ctor_cb is not None:
            self.proc_ctor_cb(self, task)
        return task

    def _array_add(self, task: Task) -> None:
        try:
            self.array[self.array.index(None)] = task
        except ValueError:
            self.array.append(task)

    def _unref(self, task: Task) -> None:
        task.refcount -= 1
        if task.refcount > 0:
            return
        if task.parent is None:
            if task in self.processes:
                self.processes.remove(task)
                self.processes_changed = True
        elif task.is_thread:
            if task in task.parent.threads:
                task.parent.threads.remove(task)
                task.parent.threads_changed = True
        elif task in task.parent.children:
            task.parent.children.remove(task)
            task.parent.children_changed = True
        self._free(task)

    def _free(self, task: Task) -> None:
        """Release everything of a task that nobody references any more."""
        self.structure_changes += 1
        state = _state(task)
        state.close()
        if task.is_thread:
            if self._threads_by_tid.get(task.pid) is task:
                del self._threads_by_tid[task.pid]
        elif self._processes_by_pid.get(task.pid) is task:
            del self._processes_by_pid[task.pid]
        if task.files is not None:
            self.files.release(task.files)
        for thread in task.threads:
            thread.refcount = 0
            self._free(thread)
        task.threads.clear()
        for child in task.children:
            self._release_child(child)
        task.children.clear()
        task.callbacks.clear()
        if self.flags & VmonFlags.PROC_ARRAY:
            try:
                self.array[self.array.index(task)] = None
            except ValueError:
                pass
        if self.proc_dtor_cb is not None:
            self.proc_dtor_cb(self, task)

    def _release_child(self, child: Task) -> None:
        """A parent lets go of a followed child: free it, or orphan it when
        somebody else still holds it (an explicit monitor of that pid)."""
        self.structure_changes += 1
        child.refcount -= 1
        if child.refcount > 0:
            child.parent = None
            if not _state(child).gone:
                child.is_stale = False
                self.orphans.append(child)
            return
        self._free(child)

    def _drop_top_level(self, task: Task) -> None:
        # A top-level task stays valid for its holder; only its data goes.
        _state(task).close()
        for thread in task.threads:
            thread.refcount = 0
            self._free(thread)
        task.threads.clear()
        for child in task.children:
            self._release_child(child)
        task.children.clear()

    def _mark_gone(self, task: Task) -> None:
        """The task exited (ESRCH): stale now, and all its fds closed at once."""
        state = _state(task)
        state.gone = True
        state.close()
        self._mark_stale(task)
        parent = task.parent
        if parent is not None and not task.is_thread:
            _state(parent).force_children = True
        elif parent is not None:
            _state(parent).relist_threads = True

    def _mark_stale(self, task: Task) -> None:
        if task.is_stale:
            return
        task.is_stale = True
        self.structure_changes += 1
        parent = task.parent
        if parent is None:
            self.processes_changed = True
        elif task.is_thread:
            parent.threads_changed = True
        else:
            parent.children_changed = True
        # Threads die with their process; children leave this tree with it
        # (they are reparented elsewhere), unless a subreaper below keeps them.
        for thread in task.threads:
            self._mark_stale(thread)
        for child in task.children:
            self._mark_stale(child)

    def _report(self, task: Task, what: str, err: Exception) -> None:
        state = _state(task)
        if state.reported is None:
            state.reported = set()
        if what not in state.reported:
            state.reported.add(what)
            log.warning("/proc/%s%s: %s; skipped", state.base, what, err)

    # ------------------------------------------------------------- samplers

    def _read(self, task: Task, state: _State, attr: str, name: str, size: int) -> bytes | None:
        """One pread of a kept file; None when it cannot be read.

        A denied file stays denied (that field is unavailable); a kept fd that
        reports ESRCH means the task is gone.
        """
        fd: int = getattr(state, attr)
        if fd == NOT_OPEN:
            fd = self.procfs.open(state.base + name)
            setattr(state, attr, fd)
        try:
            if fd >= 0:
                data = os.pread(fd, size, 0)
                return data if len(data) < size else read_all(fd, size)
        except OSError as err:
            self._read_failed(task, state, attr, name, fd, err)
            return None
        if fd == TRANSIENT:
            result = self.procfs.read_transient(state.base + name, size)
            if isinstance(result, bytes):
                return result
            if result != TRANSIENT:
                setattr(state, attr, result)
        return None

    def _read_failed(self, task: Task, state: _State, attr: str, name: str, fd: int, err: OSError) -> None:
        if is_gone(err):
            close_fd(fd)
            setattr(state, attr, GONE)
        elif err.errno in (errno.EACCES, errno.EPERM):  # e.g. after a setuid exec
            close_fd(fd)
            setattr(state, attr, DENIED)
        else:
            self._report(task, name, err)

    def _sample_process(self, task: Task) -> None:
        state: _State = task._engine
        generation = self.generation
        task.is_new = state.born_generation == generation
        task.generation = generation
        task.children_changed = task.threads_changed = False
        wants = task.wants or self._proc_wants
        task.activity = 0
        if not self._sample_stat(task, state, False):
            return
        if wants & _FOLLOW_THREADS:
            self._follow_threads(task, state)
        if wants & _FOLLOW_CHILDREN:
            self._follow_children(task, state)
        else:
            task.unseen_cutime_ticks = state.cutime_delta
            task.unseen_cstime_ticks = state.cstime_delta
        if wants & _IO:
            self._sample_io(task, state)
        if wants & _VM:
            self._sample_statm(task, state)
        if wants & _FILES:
            self._sample_files(task, state)

    def _sample_thread(self, task: Task) -> None:
        state: _State = task._engine
        generation = self.generation
        task.is_new = state.born_generation == generation
        task.generation = generation
        wants = task.wants or self._proc_wants
        task.activity = 0
        if not self._sample_stat(task, state, True):
            return
        # A thread's io and statm can only have moved if it ran, and running
        # for a tick changes its stat: idle threads cost one pread, not three.
        # (IO done in less than a tick is counted at the thread's next tick.)
        if task.activity:
            if wants & _IO:
                self._sample_io(task, state)
            if wants & _VM:
                self._sample_statm(task, state)
        else:
            if task.io is not None:
                task.io.changed = 0
            if task.vm is not None:
                task.vm.changed = 0

    def _sample_stat(self, task: Task, state: _State, is_thread: bool) -> bool:
        """Returns False when the task is gone."""
        fd = state.stat_fd
        if fd >= 0:
            try:
                data: bytes | None = os.pread(fd, _STAT_READ, 0)
            except OSError as err:
                self._read_failed(task, state, "stat_fd", "stat", fd, err)
                data = None
        else:
            data = self._read(task, state, "stat_fd", "stat", _STAT_READ)
        if data is None:
            if state.stat_fd == GONE:
                self._mark_gone(task)
                return False
            return True  # out of fds this cycle: keep the last values
        stat = task.stat
        if data == state.stat_raw:
            if stat is not None:
                stat.changed = 0
            state.cutime_delta = state.cstime_delta = 0
            return True
        if len(data) == _STAT_READ:
            data = self._read(task, state, "stat_fd", "stat", _STAT_READ)
            if data is None:
                return True
        try:
            comm, state_char, values = parse.parse_stat(data)
        except parse.ParseError as err:
            self._report(task, "stat", err)
            return True
        if stat is None:
            stat = task.stat = TaskStat()
            for name, value in zip(STAT_FIELDS, values, strict=True):
                setattr(stat, name, value)
            changed = STAT_ALL_BITS
            state.cutime_delta = state.cstime_delta = 0
        else:
            if values[_START] != stat.start_ticks:
                # Read by path (no fd could be kept), the pid now leads to
                # another process: a task is (pid, start_ticks), ours is gone.
                self._mark_gone(task)
                return False
            state.cutime_delta = max(0, values[_CUTIME] - stat.cutime_ticks)
            state.cstime_delta = max(0, values[_CSTIME] - stat.cstime_ticks)
            changed = 0
            # Only the fields that moved are stored, and flagged for consumers.
            for index, (new, old) in enumerate(zip(values, _stat_getter(stat), strict=True)):
                if new != old:
                    changed |= 1 << index
                    setattr(stat, STAT_FIELDS[index], new)
            if state_char != stat.state:
                changed |= STAT_STATE_BIT
            if comm != stat.comm:
                changed |= STAT_COMM_BIT
        state.stat_raw = data
        stat.state = state_char
        stat.comm = comm
        # The names can only have changed when stat did (exec changes comm,
        # vsize and more; a wait channel change changes the state or times).
        if not is_thread:
            argv = self._read(task, state, "cmdline_fd", "cmdline", _CMDLINE_READ)
            if argv is not None:
                parsed = parse.parse_cmdline(argv)
                # A zombie's cmdline reads empty: keep the last one known.
                # So does an exec's, until the new image has set up its
                # arguments: keep the last one too, and parse stat again next
                # cycle (even if unchanged) so that cmdline is read again.
                if parsed != stat.argv and (parsed or not stat.argv):
                    stat.argv = parsed
                    changed |= STAT_ARGV_BIT
                elif not parsed and stat.argv and state_char != "Z":
                    state.stat_raw = b""
            if stat.argv and changed & (STAT_COMM_BIT | STAT_ARGV_BIT):
                exe = self.procfs.readlink(state.base + "exe")  # kernel threads have none
                if exe != stat.exe:
                    stat.exe = exe
                    changed |= STAT_EXE_BIT
        wchan = self._read(task, state, "wchan_fd", "wchan", 64)
        if wchan is not None:
            text = parse.parse_wchan(wchan)
            if text != stat.wchan:
                stat.wchan = text
                changed |= STAT_WCHAN_BIT
        stat.changed = changed
        task.activity |= _STAT
        return True

    def _sample_io(self, task: Task, state: _State) -> None:
        fd = state.io_fd
        if fd >= 0:
            try:
                data: bytes | None = os.pread(fd, _SMALL_READ, 0)
            except OSError as err:
                self._read_failed(task, state, "io_fd", "io", fd, err)
                data = None
        else:
            data = self._read(task, state, "io_fd", "io", _SMALL_READ)
        if data is None:
            if state.io_fd == DENIED:
                task.unavailable |= _IO
            return
        io = task.io
        if data == state.io_raw:
            if io is not None:
                io.changed = 0
            return
        try:
            values = parse.parse_io(data)
        except parse.ParseError as err:
            self._report(task, "io", err)
            return
        state.io_raw = data
        if io is None:
            io = task.io = TaskIO()
        else:
            io.changed = (
                (values[0] != io.rchar)
                | (values[1] != io.wchar) << 1
                | (values[2] != io.syscr) << 2
                | (values[3] != io.syscw) << 3
                | (values[4] != io.read_bytes) << 4
                | (values[5] != io.write_bytes) << 5
                | (values[6] != io.cancelled_write_bytes) << 6
            )
        io.rchar, io.wchar, io.syscr, io.syscw, io.read_bytes, io.write_bytes, io.cancelled_write_bytes = values
        task.activity |= _IO

    def _sample_statm(self, task: Task, state: _State) -> None:
        data = self._read(task, state, "statm_fd", "statm", 128)
        if data is None:
            if state.statm_fd == DENIED:
                task.unavailable |= _VM
            return
        vm = task.vm
        if data == state.statm_raw:
            if vm is not None:
                vm.changed = 0
            return
        try:
            values = parse.parse_statm(data)
        except parse.ParseError as err:
            self._report(task, "statm", err)
            return
        state.statm_raw = data
        if vm is None:
            vm = task.vm = TaskVM()
        else:
            vm.changed = (
                (values[0] != vm.size_pages)
                | (values[1] != vm.resident_pages) << 1
                | (values[2] != vm.shared_pages) << 2
                | (values[3] != vm.text_pages) << 3
                | (values[4] != vm.data_pages) << 4
            )
        vm.size_pages, vm.resident_pages, vm.shared_pages, vm.text_pages, vm.data_pages = values
        task.activity |= _VM

    def _sample_files(self, task: Task, state: _State) -> None:
        if task.unavailable & _FILES:
            return
        names = self.procfs.listdir(state.base + "fd")
        if names is None:
            # EACCES for another user's process; a vanished one is caught by stat.
            task.unavailable |= _FILES
            return
        current: dict[int, str] = {}
        for name in names:
            link = self.procfs.readlink(f"{state.base}fd/{name}")
            if link is not None:
                current[int(name)] = link
        if task.files is None:
            task.files = {}
        if self.files.update(task.files, current, self.generation):
            task.activity |= _FILES

    # ------------------------------------------------------------ following

    def _follow_threads(self, task: Task, state: _State) -> None:
        threads = task.threads
        if threads and any(t.is_stale for t in threads):
            # Second phase: threads stale since the last cycle are dropped now.
            for thread in [t for t in threads if t.is_stale]:
                threads.remove(thread)
                thread.refcount = 0
                self._free(thread)
            task.threads_changed = True
        stat = task.stat
        num_threads = stat.num_threads if stat is not None else 0
        if num_threads <= 1 and not threads:
            return
        # task/ is listed only when the count differs from what we know, or a
        # thread exited since (the count can stay the same through churn).
        if not state.relist_threads and num_threads == state.live_threads:
            return
        state.relist_threads = False
        names = self.procfs.listdir(state.base + "task")
        if names is None:
            return
        generation = self.generation
        known = self._threads_by_tid
        for name in names:
            tid = int(name)
            existing = known.get(tid)
            if existing is not None and existing.parent is task and not existing.is_stale:
                _state(existing).seen_generation = generation
                continue
            created = self._create(tid, task, is_thread=True, born=generation)
            if created is None:
                continue  # exited between the listing and the open
            _state(created).seen_generation = generation
            threads.append(created)
            task.threads_changed = True
            task.is_threaded = True
            created.is_threaded = True
        live = 0
        for thread in threads:
            if _state(thread).seen_generation != generation:
                self._mark_stale(thread)
            elif not thread.is_stale:
                live += 1
        state.live_threads = live

    def _children_bytes(self, task: Task, state: _State) -> bytes | None:
        """The pids of the process's children: through every thread's
        ``children`` file, since a child is listed under the thread that forked it."""
        if not task.threads:
            if state.children_fd == NOT_OPEN:
                state.children_fd = self.procfs.open(f"{task.pid}/task/{task.pid}/children")
            return self._read(task, state, "children_fd", "children", _CHILDREN_READ)
        parts = []
        pread = os.pread
        for thread in task.threads:
            if thread.is_stale:
                continue
            thread_state: _State = thread._engine
            fd = thread_state.children_fd
            if fd >= 0:
                try:
                    data: bytes | None = pread(fd, _CHILDREN_READ, 0)
                except OSError as err:
                    self._read_failed(thread, thread_state, "children_fd", "children", fd, err)
                    continue
                if data and len(data) == _CHILDREN_READ:
                    data = self._read(thread, thread_state, "children_fd", "children", _CHILDREN_READ)
            else:
                data = self._read(thread, thread_state, "children_fd", "children", _CHILDREN_READ)
            if data:
                parts.append(data)
        return b" ".join(parts) if parts else b""

    def _follow_children(self, task: Task, state: _State) -> None:
        children = task.children
        vanished_utime = vanished_stime = 0
        if children and any(c.is_stale for c in children):
            # Second phase of removal for children stale since the last cycle.
            for child in [c for c in children if c.is_stale]:
                children.remove(child)
                self._release_child(child)
            task.children_changed = True
        if not self.children_files:
            self._follow_children_by_ppid(task)
            task.unseen_cutime_ticks = state.cutime_delta
            task.unseen_cstime_ticks = state.cstime_delta
            return
        data = self._children_bytes(task, state)
        if data is None:
            return
        if data == state.children_raw and not state.force_children:
            task.unseen_cutime_ticks = state.cutime_delta
            task.unseen_cstime_ticks = state.cstime_delta
            return
        state.children_raw = data
        state.force_children = False
        try:
            pids = parse.parse_children(data)
        except parse.ParseError as err:
            self._report(task, "children", err)
            return
        self._reconcile_children(task, pids)
        # Children that left since the last cycle were reaped (their time moved
        # into our cutime) or reparented; what cutime grew by beyond the time
        # we saw them use belongs to children we never saw.
        for child in children:
            if child.is_stale and _state(child).seen_generation != self.generation and child.stat is not None:
                vanished_utime += child.stat.utime_ticks + child.stat.cutime_ticks
                vanished_stime += child.stat.stime_ticks + child.stat.cstime_ticks
        task.unseen_cutime_ticks = max(0, state.cutime_delta - vanished_utime)
        task.unseen_cstime_ticks = max(0, state.cstime_delta - vanished_stime)

    def _reconcile_children(self, task: Task, pids: list[int]) -> None:
        generation = self.generation
        known = self._processes_by_pid
        children = task.children
        for pid in pids:
            child = known.get(pid)
            if child is not None and not _state(child).gone:
                _state(child).seen_generation = generation
                if child.parent is not task:
                    # The kernel says it is ours now: it was monitored on its
                    # own, or its parent exited and we adopted it (a subreaper).
                    # It moves under us with its history, once the walk is done.
                    child.refcount += 1
                    self._migrations.append((child, task))
                continue
            new_child = self._create(pid, task, is_thread=False, born=generation)
            if new_child is None:
                continue  # already reaped
            _state(new_child).seen_generation = generation
            children.append(new_child)
            task.children_changed = True
        for child in children:
            if not child.is_stale and _state(child).seen_generation != generation:
                self._mark_stale(child)

    def _follow_children_by_ppid(self, task: Task) -> None:
        # Kernels without CONFIG_PROC_CHILDREN have no children file: find the
        # children from every process's ppid, one scan per cycle for all parents.
        if self._ppid_generation != self.generation:
            self._ppid_generation = self.generation
            by_parent = self._ppid_children
            by_parent.clear()
            for pid in self.procfs.list_pids():
                data = self.procfs.read_transient(f"{pid}/stat", _STAT_READ)
                if not isinstance(data, bytes):
                    continue
                try:
                    _, _, values = parse.parse_stat(data)
                except parse.ParseError:
                    continue
                by_parent.setdefault(values[0], []).append(pid)
        self._reconcile_children(task, self._ppid_children.get(task.pid, []))
