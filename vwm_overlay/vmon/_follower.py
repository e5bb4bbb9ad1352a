"""Following a process's threads (``task/``) and children (``children`` files).

Children are read from every thread's ``task/TID/children`` file, since a
child is listed under the thread that forked it (threads not followed too:
their children files are kept open by tid); where the kernel has no such
files, from one ppid scan of /proc per sample.  ``task/`` is listed only when
the thread count moved or a thread exited.  Tasks not found again are marked
stale; those stale since the previous sample are dropped first.  A child
missing from a live parent's list was reaped: what it was attributed is
settled into the parent's ledger.

Which children files are read at all is the walker's choice; the follower's
new-pid scan tells it which processes a new pid names as parent.
"""

from __future__ import annotations

import os

from . import _parse as parse
from ._cycle import STAT, Cycle
from ._kept import KeptFiles, kept
from ._procfs import DENIED, GONE, NOT_OPEN, TRANSIENT, is_gone, read_all
from ._readers import STAT_READ
from ._table import TaskTable
from .records import Task

__all__ = ["TreeFollower"]

_CHILDREN_READ = 4096
#: More new pids than this in one sample, and every children file is read instead.
_NEW_PIDS_LOOKED_AT = 256


class TreeFollower:
    """Follows processes' threads and children into the task table."""

    def __init__(self, table: TaskTable, cycle: Cycle, *, children_files: bool) -> None:
        self._table = table
        self._cycle = cycle
        #: Whether this kernel has ``/proc/PID/task/TID/children``
        #: (CONFIG_PROC_CHILDREN); without it children are found by ppid.
        self.children_files = children_files
        #: This sample reads every followed process's children files (too many new pids to look at each).
        self.all_children = False
        self._loadavg_fd = NOT_OPEN
        self._last_pid = -1
        self._pid_retry: list[int] = []
        self._ppid_generation = -1
        self._ppid_children: dict[int, list[int]] = {}

    def close(self) -> None:
        self._table.procfs.release(self._loadavg_fd)
        self._loadavg_fd = NOT_OPEN

    def scan_new_pids(self) -> None:
        """Find the processes whose children files need a look although their stat did not move.

        The fifth field of ``/proc/loadavg`` is the last pid allocated: when
        it has not moved, no task was created anywhere.  When it has, only the
        new pids are looked at: the parent of each new process is told to read
        its children files.  Too many new pids (or a wrapped counter) and every
        followed process reads them instead, as does a system without that file.
        """
        self.all_children = False
        procfs = self._table.procfs
        if self._loadavg_fd in (NOT_OPEN, TRANSIENT):  # read open-read-close: there may be room again
            self._loadavg_fd = procfs.open("loadavg", priority=True)
        try:
            if self._loadavg_fd >= 0:
                data: bytes | int = os.pread(self._loadavg_fd, 128, 0)
            else:
                data = procfs.read_transient("loadavg", 128) if self._loadavg_fd == TRANSIENT else GONE
            last_pid = int(data.split()[4]) if isinstance(data, bytes) else -1
        except (OSError, ValueError, IndexError):
            last_pid = -1
        previous, self._last_pid = self._last_pid, last_pid
        if last_pid < 0 or previous < 0:
            self.all_children = last_pid < 0
            return
        retry, self._pid_retry = self._pid_retry, []
        if last_pid == previous and not retry:
            return
        if not previous <= last_pid <= previous + _NEW_PIDS_LOOKED_AT:
            self.all_children = True
            return
        known = self._table.by_pid
        for pid in (*retry, *range(previous + 1, last_pid + 1)):
            stat = self._table.procfs.read_transient(f"{pid}/stat", STAT_READ)
            if not isinstance(stat, bytes):
                if pid > previous:
                    # Allocated but maybe not visible yet: one more look next sample.
                    self._pid_retry.append(pid)
                continue
            try:
                ppid = int(stat[stat.rfind(b")") + 2 :].split(None, 2)[1])
            except (ValueError, IndexError):
                continue
            parent = known.get(ppid)
            if parent is not None:
                kept(parent).force_children = True

    def follow_threads(self, task: Task, state: KeptFiles) -> None:
        threads = task.threads
        if state.stale_threads:
            self._table.drop_stale_threads(task)
        stat = task.stat
        num_threads = stat.num_threads if stat is not None else 0
        if num_threads <= 1 and not threads:
            return
        # task/ is listed only when the count differs from what we know, or a
        # thread exited since (the count can stay the same through churn).
        if not state.relist_threads and num_threads == state.live_threads:
            return
        state.relist_threads = False
        names = self._table.procfs.listdir(state.base + "task")
        if names is None:
            return
        generation = self._cycle.generation
        known = self._table.by_tid
        for name in names:
            tid = int(name)
            existing = known.get(tid)
            if existing is not None and existing.parent is task and not existing.is_stale:
                kept(existing).seen_generation = generation
                continue
            created = self._table.create(tid, task, is_thread=True, born=generation)
            if created is None:
                continue  # exited between the listing and the open
            kept(created).seen_generation = generation
            threads.append(created)
            task.threads_changed = True
            task.is_threaded = True
            created.is_threaded = True
        live = 0
        for thread in threads:
            if kept(thread).seen_generation != generation:
                self._table.mark_stale(thread)
            elif not thread.is_stale:
                live += 1
        state.live_threads = live

    def _children_bytes(self, task: Task, state: KeptFiles) -> bytes | None:
        """The pids of the process's children: through every thread's
        ``children`` file, since a child is listed under the thread that forked it."""
        if not task.threads:
            main = self._read_children(task, state, f"task/{task.pid}/children")
            stat = task.stat
            if main is None or stat is None or stat.num_threads <= 1:
                if state.thread_children:
                    state.release_thread_children(self._table.procfs)
                return main
            return self._unfollowed_children(task, state, main, stat.num_threads)
        if state.thread_children:
            state.release_thread_children(self._table.procfs)
        parts = []
        for thread in task.threads:
            if thread.is_stale:
                continue
            data = self._read_children(thread, thread._engine, "children")
            if data:
                parts.append(data)
        return b" ".join(parts) if parts else b""

    def _unfollowed_children(self, task: Task, state: KeptFiles, main: bytes, num_threads: int) -> bytes | None:
        """Threads not followed: the main thread's children and the other threads', whose files are kept
        open by tid.  A thread that exited reads as having no children, so ``task/`` is listed again
        whenever the process's stat moved or a new pid names it as parent (a thread may have come in the
        place of one that exited, and forked): not for a monitored root read while nothing moved."""
        files = state.thread_children
        if files is None:
            files = state.thread_children = {}
        relist = task.activity & STAT or state.force_children or self.all_children or len(files) != num_threads - 1
        if relist and not self._list_other_threads(task, state, files):
            return None
        parts = [main] if main else []
        for tid, fd in files.items():
            data, files[tid] = self._read_other_thread(f"{state.base}task/{tid}/children", fd)
            if data:
                parts.append(data)
            elif data is None and files[tid] == TRANSIENT:
                return None  # out of fds right now: its children are not gone, only unread
        return b" ".join(parts)

    def _list_other_threads(self, task: Task, state: KeptFiles, files: dict[int, int]) -> bool:
        """Keep open the children file of every thread but the main one; False when ``task/`` is unreadable."""
        procfs = self._table.procfs
        names = procfs.listdir(state.base + "task")
        if names is None:
            return False
        tids = {int(name) for name in names}
        tids.discard(task.pid)
        for tid in [tid for tid, fd in files.items() if fd == GONE or tid not in tids]:
            procfs.release(files.pop(tid))
        for tid in tids:
            if tid not in files:
                fd = procfs.open(f"{state.base}task/{tid}/children")
                if fd != GONE:  # else it exited since the listing
                    files[tid] = fd
        return True

    def _read_other_thread(self, path: str, fd: int) -> tuple[bytes | None, int]:
        """A thread's children file: its bytes (None when unreadable), and its fd or state from now on."""
        procfs = self._table.procfs
        if fd == TRANSIENT:
            fd = procfs.open(path)  # there may be room for it again
        if fd >= 0:
            try:
                return read_all(fd, _CHILDREN_READ), fd
            except OSError as err:
                procfs.release(fd)
                return None, GONE if is_gone(err) else DENIED
        if fd == TRANSIENT:
            data = procfs.read_transient(path, _CHILDREN_READ)
            return (data, fd) if isinstance(data, bytes) else (None, fd if data == TRANSIENT else data)
        return None, fd

    def _read_children(self, task: Task, state: KeptFiles, name: str) -> bytes | None:
        """A ``children`` file to its end: one read returns at most one page
        (about 800 pids), whatever the buffer size."""
        fd = state.children_fd
        if fd < 0:
            return self._table.read(task, state, "children_fd", name, _CHILDREN_READ)
        try:
            return read_all(fd, _CHILDREN_READ)
        except OSError as err:
            self._table.read_failed(task, state, "children_fd", "children", fd, err)
            return None

    def follow_children(self, task: Task, state: KeptFiles) -> None:
        if not self.children_files:
            self._follow_children_by_ppid(task)
            return
        data = self._children_bytes(task, state)
        if data is None:
            return
        if data == state.children_raw and not state.force_children:
            return
        state.children_raw = data
        state.force_children = False
        try:
            pids = parse.parse_children(data)
        except parse.ParseError as err:
            self._table.report(task, "children", err)
            return
        self._reconcile_children(task, pids)

    def _reconcile_children(self, task: Task, pids: list[int]) -> None:
        generation = self._cycle.generation
        known = self._table.by_pid
        children = task.children
        for pid in pids:
            child = known.get(pid)
            if child is not None and not kept(child).gone:
                kept(child).seen_generation = generation
                if child.parent is not task:
                    # The kernel says it is ours now: it was monitored on its
                    # own, or its parent exited and we adopted it (a subreaper).
                    # It moves under us with its history, once the walk is done.
                    child.refcount += 1
                    self._table.migrations.append((child, task))
                continue
            new_child = self._table.create(pid, task, is_thread=False, born=generation)
            if new_child is None:
                continue  # already reaped
            kept(new_child).seen_generation = generation
            children.append(new_child)
            task.children_changed = True
        for child in children:
            if not child.is_stale and kept(child).seen_generation != generation:
                # Gone from a live parent's list: reaped, its use folded into ours.
                self._table.settle_gone(child)
                self._table.mark_stale(child)

    def _follow_children_by_ppid(self, task: Task) -> None:
        # Kernels without CONFIG_PROC_CHILDREN have no children file: find the
        # children from every process's ppid, one scan per cycle for all parents.
        if self._ppid_generation != self._cycle.generation:
            self._ppid_generation = self._cycle.generation
            by_parent = self._ppid_children
            by_parent.clear()
            for pid in self._table.procfs.list_pids():
                data = self._table.procfs.read_transient(f"{pid}/stat", STAT_READ)
                if not isinstance(data, bytes):
                    continue
                try:
                    _, _, values = parse.parse_stat(data)
                except parse.ParseError:
                    continue
                by_parent.setdefault(values[0], []).append(pid)
        self._reconcile_children(task, self._ppid_children.get(task.pid, []))
