"""Walking the monitored trees: each process's files in order, then the callbacks.

A process is sampled before its threads before its children (so a task found
in a sample is sampled in it); its deltas are computed once its subtree was
sampled, and its callbacks run after its whole subtree (leaves first; with
``TWO_PASS`` only once everything was sampled).  Every walk is iterative.
"""

from __future__ import annotations

from ._cycle import FILES, FOLLOW_CHILDREN, FOLLOW_THREADS, IO, STAT, VM, Cycle
from ._follower import TreeFollower
from ._kept import KeptFiles, kept
from ._readers import TaskReaders
from ._table import TaskTable
from ._walk import post_order
from .records import Task

__all__ = ["TreeWalker"]


class TreeWalker:
    """Samples the monitored trees through the readers and the follower, and calls back."""

    def __init__(
        self, table: TaskTable, readers: TaskReaders, follower: TreeFollower, cycle: Cycle, *, owner: object
    ) -> None:
        self._table = table
        self._readers = readers
        self._follower = follower
        self._cycle = cycle
        self._owner = owner  # what callbacks get as their first argument (the Vmon)

    def two_pass(self, top_level: tuple[Task, ...]) -> None:
        """Sample everything, account, apply moves; then every callback, leaves first."""
        for task in top_level:
            self._pass1(task)
        for root in top_level:
            for task in post_order(root):
                self._account(task)
        self._finish_pass1()
        for task in self._table.processes:
            self._pass2(task)

    def one_pass(self, top_level: tuple[Task, ...]) -> None:
        """Each task's callbacks right after its own subtree was sampled."""
        for task in top_level:
            self._unipass(task)
        self._finish_pass1()

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
        for task in post_order(root):
            for callback, arg in tuple(task.callbacks):
                callback(self._owner, task, arg)

    def _unipass(self, root: Task) -> None:
        # Each task's callbacks right after its subtree was sampled: sample on
        # the way down, call back on the way up.
        stack: list[tuple[Task, bool]] = [(root, False)]
        while stack:
            task, done = stack.pop()
            if done:
                self._account(task)
                for callback, arg in tuple(task.callbacks):
                    callback(self._owner, task, arg)
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
        for task, parent in self._table.migrations:
            if task.parent is not None and task in task.parent.children:
                task.parent.children.remove(task)
                task.parent.children_changed = True
                task.refcount -= 1  # the old parent's follow reference
            elif task in self._table.processes:
                self._table.processes.remove(task)
                self._table.processes_changed = True
            task.parent = parent
            if task.is_stale:
                # Its old parent's exit marked it and its subtree stale: look
                # at its threads and children afresh next cycle.
                task.is_stale = False
                state = kept(task)
                state.relist_threads = state.force_children = True
            parent.children.append(task)
            parent.children_changed = True
            self._table.structure_changes += 1
        self._table.migrations.clear()
        if self._table.orphans:
            self._table.processes.extend(self._table.orphans)
            self._table.orphans.clear()
            self._table.processes_changed = True

    def sample_array(self) -> None:
        # Flat order; a node's callbacks run right after it was sampled.  A
        # process is accounted before its children are sampled here, so a
        # child reaped just before is deducted one sample later than in the
        # tree walks (a pid reused at once may then be credited twice).
        index = 0
        while index < len(self._table.array):
            task = self._table.array[index]
            index += 1
            if task is None or task.is_stale:
                continue
            if task.is_thread:
                self._readers.sample_thread(task)
            else:
                self._sample_process(task)
                self._account(task)
            for callback, arg in tuple(task.callbacks):
                callback(self._owner, task, arg)
        self._finish_pass1()

    def sync_all_processes(self) -> None:
        # PROC_ALL: /proc's numeric entries are the top-level list; those gone
        # are dropped at once (nothing follows them, so no two-phase removal).
        pids = self._table.procfs.list_pids()
        known = self._table.by_pid
        for pid in pids:
            task = known.get(pid)
            if task is None or task.is_stale:
                task = self._table.create(pid, None, is_thread=False, born=self._cycle.generation)
                if task is None:
                    continue
                self._table.processes.append(task)
                self._table.processes_changed = True
            kept(task).seen_generation = self._cycle.generation
        if len(self._table.processes) != len(pids):
            generation = self._cycle.generation
            gone = [t for t in self._table.processes if kept(t).seen_generation != generation]
            self._table.processes[:] = [t for t in self._table.processes if kept(t).seen_generation == generation]
            for task in gone:
                self._table.free(task)
            self._table.processes_changed = True

    def _sample_process(self, task: Task) -> None:
        state: KeptFiles = task._engine
        generation = self._cycle.generation
        task.is_new = state.born_generation == generation
        task.generation = generation
        task.children_changed = task.threads_changed = False
        wants = task.wants or self._cycle.proc_wants
        task.activity = 0
        if not self._readers.sample_stat(task, state, False):
            task.delta.clear()
            return
        # A process's stat holds its thread group's totals: while its bytes
        # stay the same, no thread ran and none came or went, and the process
        # neither forked (its new pid would be found by the new-pid scan) nor
        # reaped; its threads and children files need no look.  (Cumulative
        # counters make a skipped read a delay, never a loss.)
        moved = task.activity
        if wants & FOLLOW_THREADS and (moved or state.relist_threads or state.stale_threads):
            self._follower.follow_threads(task, state)
        if wants & FOLLOW_CHILDREN:
            if state.stale_children:
                self._table.drop_stale_children(task)
            # Monitored roots are always looked at: a subreaper adopts orphans
            # without its stat moving.
            if moved or state.force_children or task.parent is None or self._follower.all_children:
                self._follower.follow_children(task, state)
        if wants & IO:
            self._readers.sample_io(task, state)
        if wants & VM:
            if moved:
                self._readers.sample_statm(task, state)
            elif task.vm is not None:
                task.vm.changed = 0
        if wants & FILES:
            self._readers.sample_files(task, state)

    def _sample_threads(self, task: Task) -> None:
        """The threads of a process whose stat moved; else only those shown (their state and wait channel)."""
        state: KeptFiles = task._engine
        if task.activity & STAT:
            state.threads_quiet = False
            for thread in task.threads:
                if not thread.is_stale:
                    self._readers.sample_thread(thread)
            return
        if not state.threads_quiet:
            state.threads_quiet = True
            for thread in task.threads:
                self._readers.quiet_thread(thread)
        for thread in task.threads:
            if thread.shown and not thread.is_stale:
                self._readers.sample_thread(thread)

    def _account(self, task: Task) -> None:
        """A process's deltas, once its subtree was sampled: a child found gone
        there (reaped, its use folded into ours) is deducted in this sample."""
        if not task.is_stale:
            self._readers.account_process(task, task._engine, bool((task.wants or self._cycle.proc_wants) & IO))
