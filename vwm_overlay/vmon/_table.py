"""The task table: every task the engine knows, and their lifecycle.

Tasks are created by ``monitor()`` or by the follower, marked stale for one
sample when they exit or leave the tree, then released; a task still
referenced elsewhere becomes an orphan at the top level instead of being
freed.  Every walk is iterative: a chain of any depth is a valid tree.
Reads of a task's kept files go through :meth:`TaskTable.read`, which maps
the errors once (ESRCH: gone; EACCES: that data is unavailable).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from typing import Any

from ._cycle import Cycle
from ._files import FileTable
from ._kept import KeptFiles, kept, probe_gone
from ._ledger import settle
from ._procfs import DENIED, GONE, NOT_OPEN, TRANSIENT, ProcFS, is_gone, read_all
from .records import Task

__all__ = ["TaskLifeCallback", "TaskTable", "log"]

log = logging.getLogger("vwm_overlay.vmon")

TaskLifeCallback = Callable[[Any, Task], None]


class TaskTable:
    """Every known task by pid, the top-level list, the flat array, and the task lifecycle.

    ``owner`` is what the ctor and dtor callbacks get as their first argument (the ``Vmon``);
    ``cycle`` the sample being taken.
    """

    def __init__(
        self,
        procfs: ProcFS,
        files: FileTable,
        cycle: Cycle,
        *,
        owner: object,
        keep_array: bool = False,
        ctor: TaskLifeCallback | None = None,
        dtor: TaskLifeCallback | None = None,
    ) -> None:
        self.procfs = procfs
        self.files = files
        self._cycle = cycle
        self._owner = owner
        self._keep_array = keep_array
        self._ctor = ctor
        self._dtor = dtor
        #: Top-level tasks (monitored explicitly, or orphaned).
        self.processes: list[Task] = []
        #: Tasks whose parent was dropped while they were still referenced;
        #: they join ``processes`` at the end of the sample's first pass.
        self.orphans: list[Task] = []
        self.processes_changed = False
        #: Bumped whenever a task appears, goes stale, is dropped or moves.
        self.structure_changes = 0
        #: With PROC_ARRAY: every task, flat; freed slots hold None.
        self.array: list[Task | None] = []
        self._array_slots: dict[Task, int] = {}
        self._array_free: list[int] = []
        self.by_pid: dict[int, Task] = {}
        self.by_tid: dict[int, Task] = {}
        #: (task, new parent): tasks a children file says moved, applied after the walk.
        self.migrations: list[tuple[Task, Task]] = []

    # -- creation and release

    def create(self, pid: int, parent: Task | None, *, is_thread: bool, born: int) -> Task | None:
        """A new task, or None when it is already gone."""
        if is_thread:
            assert parent is not None
            base = f"{parent.pid}/task/{pid}/"
        else:
            base = f"{pid}/"
        files = KeptFiles(base, born)
        # Process stat files get the fds first: one read of them tells what changed.
        files.stat_fd = self.procfs.open(base + "stat", priority=not is_thread)
        if files.stat_fd == GONE:
            return None
        task = Task(pid, is_thread=is_thread, parent=parent)
        task._engine = files
        self.structure_changes += 1
        task.generation = born
        if is_thread:
            self.by_tid[pid] = task
        else:
            self.by_pid[pid] = task
        if self._keep_array:
            self._array_add(task)
        if self._ctor is not None:
            self._ctor(self._owner, task)
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

    def unref(self, task: Task) -> None:
        """Drop one holder's reference; free the task (and its subtree) at zero."""
        task.refcount -= 1
        if task.refcount > 0:
            return
        parent = task.parent
        if parent is None:
            if task in self.processes:
                self.processes.remove(task)
                self.processes_changed = True
        elif task.is_thread:
            if task in parent.threads:
                parent.threads.remove(task)
                parent.threads_changed = True
        elif task in parent.children:
            parent.children.remove(task)
            parent.children_changed = True
        self.free(task)

    def free(self, task: Task) -> None:
        """Release everything of a task that nobody references any more, and its subtree."""
        self.free_one(task)
        self.release_subtree(task)

    def free_one(self, task: Task) -> None:
        """Release one task's own resources (not its subtree's)."""
        self.structure_changes += 1
        kept(task).close(self.procfs)
        if task.is_thread:
            if self.by_tid.get(task.pid) is task:
                del self.by_tid[task.pid]
        elif self.by_pid.get(task.pid) is task:
            del self.by_pid[task.pid]
        if task.files is not None:
            self.files.release(task.files)
        task.callbacks.clear()
        if self._keep_array:
            self._array_remove(task)
        if self._dtor is not None:
            self._dtor(self._owner, task)

    def release_child(self, child: Task) -> None:
        """A parent lets go of a followed child: free it, or orphan it when
        somebody else still holds it (an explicit monitor of that pid)."""
        if self._let_go(child):
            self.release_subtree(child)

    def _let_go(self, child: Task) -> bool:
        """Drop a parent's reference; True when the child is to be freed (with its subtree)."""
        self.structure_changes += 1
        child.refcount -= 1
        if child.refcount > 0:
            child.parent = None
            if not kept(child).gone:
                child.is_stale = False
                self.orphans.append(child)
            return False
        self.free_one(child)
        return True

    def drop_top_level(self, task: Task) -> None:
        # A top-level task stays valid for its holder; only its data goes.
        kept(task).close(self.procfs)
        self.release_subtree(task)

    def release_subtree(self, task: Task) -> None:
        """Free the task's threads (they die with it) and let go of its children."""
        stack = [task]
        while stack:
            node = stack.pop()
            for thread in node.threads:
                thread.refcount = 0
                self.free_one(thread)
            node.threads.clear()
            for child in node.children:
                if self._let_go(child):
                    stack.append(child)
            node.children.clear()

    # -- exit

    def mark_gone(self, task: Task) -> None:
        """The task exited (ESRCH): stale now, and all its fds closed at once."""
        files = kept(task)
        parent = task.parent
        if not task.is_thread:
            self.settle_gone(task)
        files.gone = True
        files.close(self.procfs)
        self.mark_stale(task)
        if parent is not None and not task.is_thread:
            kept(parent).force_children = True
        elif parent is not None:
            kept(parent).relist_threads = True

    def settle_gone(self, task: Task) -> None:
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
                if not child.is_stale and probe_gone(child):
                    stack.append(child)
        for node in reversed(order):
            parent = node.parent
            if parent is not None and not kept(parent).gone:
                settle(kept(node).ledger, kept(parent).ledger)

    def mark_stale(self, task: Task) -> None:
        """Stale, with its whole subtree.

        A stale task is not sampled again, so ``is_new`` is settled here: it
        holds only for a task found in this very sample.
        """
        generation = self._cycle.generation
        stack = [task]
        while stack:
            node = stack.pop()
            if node.is_stale:
                continue
            node.is_stale = True
            files = kept(node)
            files.stale_generation = generation
            node.is_new = files.born_generation == generation
            node.delta.clear()
            # What it lost in an earlier sample waited for this one to leave its lists: it goes now, or it would be
            # listed as gone once more with ``node``.
            if files.stale_threads:
                self.drop_stale_threads(node)
            if files.stale_children:
                self.drop_stale_children(node)
            self.structure_changes += 1
            parent = node.parent
            if parent is None:
                self.processes_changed = True
            elif node.is_thread:
                parent.threads_changed = True
                kept(parent).stale_threads = True
            else:
                parent.children_changed = True
                kept(parent).stale_children = True
            # Threads die with their process; children leave this tree with it
            # (they are reparented elsewhere), unless a subreaper below keeps them.
            stack.extend(node.threads)
            stack.extend(node.children)

    def drop_stale_threads(self, task: Task) -> None:
        """Second phase of removal: ``task``'s threads found gone in an earlier sample leave its list."""
        generation = self._cycle.generation
        threads = task.threads
        gone = [t for t in threads if t.is_stale and kept(t).stale_generation < generation]
        if gone:
            for thread in gone:
                thread.refcount = 0
                self.free(thread)
            threads[:] = [t for t in threads if not (t.is_stale and kept(t).stale_generation < generation)]
            task.threads_changed = True
        kept(task).stale_threads = any(t.is_stale for t in threads)  # those gone in this sample: at the next

    def drop_stale_children(self, task: Task) -> None:
        """Second phase of removal: ``task``'s children found gone in an earlier sample leave its list."""
        generation = self._cycle.generation
        children = task.children
        gone = [c for c in children if c.is_stale and kept(c).stale_generation < generation]
        if gone:
            children[:] = [c for c in children if not (c.is_stale and kept(c).stale_generation < generation)]
            for child in gone:
                self.release_child(child)
            task.children_changed = True
        kept(task).stale_children = any(c.is_stale for c in children)  # those gone in this sample: at the next

    # -- reads

    def report(self, task: Task, what: str, err: Exception) -> None:
        """Say once per task and file that a file could not be used."""
        files = kept(task)
        if files.reported is None:
            files.reported = set()
        if what not in files.reported:
            files.reported.add(what)
            log.warning("/proc/%s%s: %s; skipped", files.base, what, err)

    def read(self, task: Task, files: KeptFiles, attr: str, name: str, size: int) -> bytes | None:
        """A kept file's bytes (one pread nearly always); None when it cannot be read.

        A denied file stays denied (that field is unavailable); a kept fd that
        reports ESRCH means the task is gone.  A file read open-read-close
        gets a kept fd again at its first read once the budget has room.
        """
        fd: int = getattr(files, attr)
        if fd in (NOT_OPEN, TRANSIENT):
            # A process's stat is what tells what else to read: it gets the fds first.
            fd = self.procfs.open(files.base + name, priority=attr == "stat_fd" and not task.is_thread)
            setattr(files, attr, fd)
        try:
            if fd >= 0:
                return read_all(fd, size)
        except OSError as err:
            self.read_failed(task, files, attr, name, fd, err)
            return None
        if fd == TRANSIENT:
            result = self.procfs.read_transient(files.base + name, size)
            if isinstance(result, bytes):
                return result
            if result != TRANSIENT:
                setattr(files, attr, result)
        return None

    def read_failed(self, task: Task, files: KeptFiles, attr: str, name: str, fd: int, err: OSError) -> None:
        if is_gone(err):
            self.procfs.release(fd)
            setattr(files, attr, GONE)
        elif err.errno in (errno.EACCES, errno.EPERM):  # e.g. after a setuid exec
            self.procfs.release(fd)
            setattr(files, attr, DENIED)
        else:
            self.report(task, name, err)
