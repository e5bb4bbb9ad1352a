"""The per-name totals of the reports on hand-built task records, fed each sample's ``task.delta`` as the engine
sets it (the deltas themselves are the engine's, tested against the kernel's accounting in ``test_vmon_truth``)."""

from __future__ import annotations

from vwm_overlay.record.groups import GroupTotals
from vwm_overlay.vmon import Task, TaskIO, TaskStat


def _task(pid: int, *, parent: Task | None = None, comm: str = "w", start_ticks: int = 2000) -> Task:
    task = Task(pid, parent=parent)
    task.stat = TaskStat()
    task.stat.comm = comm
    task.stat.start_ticks = start_ticks
    task.stat.num_threads = 1
    task.io = TaskIO()
    if parent is not None:
        parent.children.append(task)
    return task


def _next_sample(*tasks: Task) -> None:
    for task in tasks:
        task.is_new = False
        task.delta.clear()


def test_a_stale_child_listed_again_counts_once() -> None:
    parent = _task(1, comm="sh")
    child = _task(2, parent=parent, comm="dd")
    totals = GroupTotals(ticks_per_s=100)
    child.delta.write_bytes = 1 << 20  # seen on the child
    totals.add_sample([parent], 2100)
    # Reaped: the child is stale, and may be listed again under its parent before it is dropped.
    child.is_stale = True
    for _ in range(3):
        _next_sample(parent, child)
        totals.add_sample([parent], 2200)
    # A second child, never seen, reaped: its MiB is credited to the parent.
    _next_sample(parent, child)
    parent.delta.children_write_bytes = 1 << 20
    totals.add_sample([parent], 2300)
    totals.finish()
    assert totals.groups["dd"].write_bytes == 1 << 20
    assert totals.groups["sh"].write_bytes == 1 << 20
    assert totals.groups["dd"].count == 1  # ended once, though listed stale three times
    assert totals.tree.write_bytes == 2 << 20


def test_groups_keep_the_use_of_exited_processes_and_the_peaks() -> None:
    root = _task(1, comm="make")
    a = _task(2, parent=root, comm="cc1")
    b = _task(3, parent=root, comm="cc1")
    for task, pages, ticks in ((a, 100, 50), (b, 300, 20)):
        task.delta.rss_bytes, task.delta.utime_ticks = pages * 4096, ticks
    totals = GroupTotals(ticks_per_s=100)
    totals.add_sample([root], 2100)
    _next_sample(root, a, b)
    a.is_stale = True
    totals.add_sample([root], 2200)
    cc1 = totals.groups["cc1"]
    assert (cc1.count, cc1.num_procs, cc1.utime_ticks) == (1, 1, 70)
    assert cc1.peak_rss_bytes == 100 * 4096  # the one that ended so far
    totals.finish()
    assert (cc1.count, cc1.peak_rss_bytes) == (2, 300 * 4096)
    assert totals.tree.peak_rss_bytes == 400 * 4096 and totals.tree.peak_processes == 3
    assert cc1.longest_wall_s == 2.0  # (2200 - 2000) ticks at 100 per second
