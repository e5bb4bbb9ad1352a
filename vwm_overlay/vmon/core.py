"""The engine's core: per-task state, the task lifecycle and the one read primitive.

A task's kept fds and last raw reads live in a :class:`TaskState` hung on
``Task._engine``.  The lifecycle follows libvmon: tasks are created by
``monitor()`` or by a follower, marked stale for one cycle when they exit or
leave the tree, then released; a task still referenced elsewhere becomes an
orphan at the top level instead of being freed.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from typing import Any

from ._ledger import Ledger, settle
from .files import FileTable
from .procfs import DENIED, GONE, NOT_OPEN, TRANSIENT, ProcFS, is_gone, read_all
from .records import ProcWants, SysStat, SysWants, Task, VmonFlags

__all__ = ["TaskLifeCallback", "TaskState", "VmonCore", "log", "state_of"]

log = logging.getLogger("vwm_overlay.vmon")

# The wants as plain ints: IntFlag operators cost a Python call each, and
# these are tested for every task on every sample.
FOLLOW_CHILDREN = int(ProcWants.FOLLOW_CHILDREN)
FOLLOW_THREADS = int(ProcWants.FOLLOW_THREADS)
FILES = int(ProcWants.FILES)
STAT = int(ProcWants.STAT)
VM = int(ProcWants.VM)
IO = int(ProcWants.IO)

TaskLifeCallback = Callable[[Any, Task], None]


class TaskState:
    """The engine's private per-task state: kept fds and last raw reads."""

    __slots__ = (
        "argv_pending",
        "base",
        "born_generation",
        "children_fd",
        "children_raw",
        "cmdline_fd",
        "force_children",
        "gone",
        "io_fd",
        "io_raw",
        "ledger",
        "live_threads",
        "relist_threads",
        "reported",
        "seen_generation",
        "stale_children",
        "stale_threads",
        "stat_fd",
        "stat_raw",
        "statm_fd",
        "statm_raw",
        "thread_io_fd",
        "threads_quiet",
        "wchan_fd",
    )

    def __init__(self, base: str, born_generation: int) -> None:
        self.base = base  # "PID/" or "PID/task/TID/"
        self.born_generation = born_generation
        self.seen_generation = born_generation
        self.gone = False
        self.stat_fd = NOT_OPEN
        self.stat_raw = b""
        self.argv_pending = False
        #: The threads were left as they were (deltas 0) since the process's stat last moved.
        self.threads_quiet = False
        #: Some children are stale: they are dropped at the next sample.
        self.stale_children = False
        self.stale_threads = False
        self.cmdline_fd = NOT_OPEN
        self.wchan_fd = NOT_OPEN
        self.children_fd = NOT_OPEN
        self.children_raw = b""
        self.force_children = False
        self.io_fd = NOT_OPEN
        self.io_raw = b""
        self.statm_fd = NOT_OPEN
        self.statm_raw = b""
        self.thread_io_fd = NOT_OPEN  # a single-threaded process's own IO (task/PID/io)
        self.ledger = Ledger()
        self.live_threads = 0
        self.relist_threads = True
        self.reported: set[str] | None = None

    def close(self, procfs: ProcFS) -> None:
        for name in ("stat_fd", "cmdline_fd", "wchan_fd", "children_fd", "io_fd", "statm_fd", "thread_io_fd"):
            procfs.release(getattr(self, name))
            setattr(self, name, GONE)


def _probe_gone(task: Task) -> bool:
    """Whether a process was reaped: its kept stat fd says ESRCH (a zombie still reads)."""
    state: TaskState = task._engine
    if state.gone:
        return True
    if state.stat_fd < 0:
        return False
    try:
        os.pread(state.stat_fd, 1, 0)
    except OSError as err:
        return is_gone(err)
    return False


def state_of(task: Task) -> TaskState:
    state: TaskState = task._engine
    return state


class VmonCore:
    """What every part of the engine shares: its state and the task lifecycle.

    The attributes are set by :class:`~vwm_overlay.vmon.monitor.Vmon`.
    """

    flags: VmonFlags
    sys_wants: SysWants
    procfs: ProcFS
    files: FileTable
    generation: int
    processes: list[Task]
    orphans: list[Task]
    processes_changed: bool
    structure_changes: int
    array: list[Task | None]
    sys_stat: SysStat | None
    meminfo_kb: dict[str, int] | None
    activity: SysWants
    ticks_per_s: int
    num_cpus: int
    page_size: int
    #: CLOCK_BOOTTIME in ticks when monitoring began: tasks started before are baselines.
    start_boottime_ticks: int
    #: This sample's wall time on every core, in ticks: the most children can be credited.
    cap_ticks: float
    children_files: bool
    proc_ctor_cb: TaskLifeCallback | None
    proc_dtor_cb: TaskLifeCallback | None
    _proc_wants: int
    _processes_by_pid: dict[int, Task]
    _threads_by_tid: dict[int, Task]
    _migrations: list[tuple[Task, Task]]
    #: This sample reads every followed process's children files (too many new pids to look at each).
    all_children: bool
    _array_slots: dict[Task, int]
    _array_free: list[int]

    # ------------------------------------------------------------ lifecycle

    def _create(self, pid: int, parent: Task | None, *, is_thread: bool, born: int) -> Task | None:
        """A new task, or None when it is already gone."""
        if is_thread:
            assert parent is not None
            base = f"{parent.pid}/task/{pid}/"
        else:
            base = f"{pid}/"
        state = TaskState(base, born)
        # Process stat files get the fds first: one read of them tells what changed.
        state.stat_fd = self.procfs.open(base + "stat", priority=not is_thread)
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
        # A freed slot is reused (the last one freed first): no scan of the array.
        if self._array_free:
            index = self._array_free.pop()
            self.array[index] = task
        else:
            index = len(self.array)
            self.array.append(task)
        self._array_slots[task] = index

    def _array_remove(self, task: Task) -> None:
        index = self._array_slots.pop(task, None)
        if index is not None:
            self.array[index] = None
            self._array_free.append(index)

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
        """Release everything of a task that nobody references any more, and its subtree."""
        self._free_one(task)
        self._release_subtree(task)

    def _free_one(self, task: Task) -> None:
        """Release one task's own resources (not its subtree's)."""
        self.structure_changes += 1
        state = state_of(task)
        state.close(self.procfs)
        if task.is_thread:
            if self._threads_by_tid.get(task.pid) is task:
                del self._threads_by_tid[task.pid]
        elif self._processes_by_pid.get(task.pid) is task:
            del self._processes_by_pid[task.pid]
        if task.files is not None:
            self.files.release(task.files)
        task.callbacks.clear()
        if self.flags & VmonFlags.PROC_ARRAY:
            self._array_remove(task)
        if self.proc_dtor_cb is not None:
            self.proc_dtor_cb(self, task)

    def _release_child(self, child: Task) -> None:
        """A parent lets go of a followed child: free it, or orphan it when
        somebody else still holds it (an explicit monitor of that pid)."""
        if self._let_go(child):
            self._release_subtree(child)

    def _let_go(self, child: Task) -> bool:
        """Drop a parent's reference; True when the child is to be freed (with its subtree)."""
        self.structure_changes += 1
        child.refcount -= 1
        if child.refcount > 0:
            child.parent = None
            if not state_of(child).gone:
                child.is_stale = False
                self.orphans.append(child)
            return False
        self._free_one(child)
        return True

    def _drop_top_level(self, task: Task) -> None:
        # A top-level task stays valid for its holder; only its data goes.
        state_of(task).close(self.procfs)
        self._release_subtree(task)

    def _release_subtree(self, task: Task) -> None:
        """Free the task's threads (they die with it) and let go of its children.

        Iterative: a chain of any depth is a valid tree.
        """
        stack = [task]
        while stack:
            node = stack.pop()
            for thread in node.threads:
                thread.refcount = 0
                self._free_one(thread)
            node.threads.clear()
            for child in node.children:
                if self._let_go(child):
                    stack.append(child)
            node.children.clear()

    def _mark_gone(self, task: Task) -> None:
        """The task exited (ESRCH): stale now, and all its fds closed at once."""
        state = state_of(task)
        parent = task.parent
        if not task.is_thread:
            self._settle_gone(task)
        state.gone = True
        state.close(self.procfs)
        self._mark_stale(task)
        if parent is not None and not task.is_thread:
            state_of(parent).force_children = True
        elif parent is not None:
            state_of(parent).relist_threads = True

    def _settle_gone(self, task: Task) -> None:
        """A process is gone: what it reaped, and itself, are deducted from the folds that follow.

        Its children that are gone too were reaped by it (or by their own
        parents, gone too) before it exited; those alive were reparented and
        leave the tree without a fold.
        """
        order: list[Task] = []
        stack = [task]
        while stack:
            node = stack.pop()
            order.append(node)
            for child in node.children:
                if not child.is_stale and _probe_gone(child):
                    stack.append(child)
        for node in reversed(order):
            parent = node.parent
            if parent is not None and not state_of(parent).gone:
                settle(state_of(node).ledger, state_of(parent).ledger)

    def _mark_stale(self, task: Task) -> None:
        """Stale, with its whole subtree (iteratively)."""
        stack = [task]
        while stack:
            node = stack.pop()
            if node.is_stale:
                continue
            node.is_stale = True
            node.delta.clear()
            self.structure_changes += 1
            parent = node.parent
            if parent is None:
                self.processes_changed = True
            elif node.is_thread:
                parent.threads_changed = True
                state_of(parent).stale_threads = True
            else:
                parent.children_changed = True
                state_of(parent).stale_children = True
            # Threads die with their process; children leave this tree with it
            # (they are reparented elsewhere), unless a subreaper below keeps them.
            stack.extend(node.threads)
            stack.extend(node.children)

    def _report(self, task: Task, what: str, err: Exception) -> None:
        state = state_of(task)
        if state.reported is None:
            state.reported = set()
        if what not in state.reported:
            state.reported.add(what)
            log.warning("/proc/%s%s: %s; skipped", state.base, what, err)

    # ---------------------------------------------------------------- reads

    def _read(self, task: Task, state: TaskState, attr: str, name: str, size: int) -> bytes | None:
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
                return read_all(fd, size)
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

    def _read_failed(self, task: Task, state: TaskState, attr: str, name: str, fd: int, err: OSError) -> None:
        if is_gone(err):
            self.procfs.release(fd)
            setattr(state, attr, GONE)
        elif err.errno in (errno.EACCES, errno.EPERM):  # e.g. after a setuid exec
            self.procfs.release(fd)
            setattr(state, attr, DENIED)
        else:
            self._report(task, name, err)
