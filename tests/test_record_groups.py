"""The reports' shared parts on hand-built task records: the per-sample deltas adapter and the per-name totals."""

from __future__ import annotations

from vwm_overlay.record._deltas import SampleDeltas
from vwm_overlay.record.groups import GroupTotals
from vwm_overlay.vmon import Task, TaskIO, TaskStat

START_TICKS = 1000  # the recording's start, in boot-time ticks


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


def test_a_task_older_than_the_recording_starts_with_a_zero_baseline() -> None:
    old = _task(1, start_ticks=500)
    assert old.stat is not None and old.io is not None
    old.stat.utime_ticks, old.io.read_bytes = 700, 1 << 20
    deltas = SampleDeltas(page_size=4096, start_boottime_ticks=START_TICKS)
    deltas.update([old])
    first = deltas.of(old)
    assert first.baseline and (first.utime_ticks, first.read_bytes) == (0, 0)
    _next_sample(old)
    old.stat.utime_ticks, old.io.read_bytes = 705, (1 << 20) + 4096
    deltas.update([old])
    assert not deltas.of(old).baseline
    assert (deltas.of(old).utime_ticks, deltas.of(old).read_bytes) == (5, 4096)


def test_a_task_born_during_the_recording_counts_everything_it_used() -> None:
    young = _task(1)
    assert young.stat is not None
    young.stat.utime_ticks, young.stat.rss_pages = 3, 10
    deltas = SampleDeltas(page_size=4096, start_boottime_ticks=START_TICKS)
    deltas.update([young])
    assert not deltas.of(young).baseline
    assert (deltas.of(young).utime_ticks, deltas.of(young).rss_bytes) == (3, 40960)


def test_a_reaped_childs_io_counts_once_even_while_it_lingers_stale() -> None:
    parent = _task(1, comm="sh")
    child = _task(2, parent=parent, comm="dd")
    deltas = SampleDeltas(page_size=4096, start_boottime_ticks=START_TICKS)
    totals = GroupTotals(ticks_per_s=100)
    assert parent.io is not None and child.io is not None
    child.io.write_bytes = 1 << 20  # seen on the child
    deltas.update([parent])
    totals.add_sample([parent], deltas, 2100)
    # Reaped: the parent's counter grows by all of it; the child is stale and stays listed under the idle parent.
    _next_sample(parent, child)
    parent.io.write_bytes = 1 << 20
    child.is_stale = True
    for _ in range(3):
        deltas.update([parent])
        totals.add_sample([parent], deltas, 2200)
    # A second child, never seen, reaped: its MiB is the parent's (credited), not eaten by the first one's.
    parent.io.write_bytes = 2 << 20
    deltas.update([parent])
    totals.add_sample([parent], deltas, 2300)
    totals.finish()
    assert totals.groups["dd"].write_bytes == 1 << 20
    assert totals.groups["sh"].write_bytes == 1 << 20
    assert totals.groups["dd"].count == 1  # ended once, though listed stale four times
    assert totals.tree.write_bytes == 2 << 20


def test_groups_keep_the_use_of_exited_processes_and_the_peaks() -> None:
    root = _task(1, comm="make")
    a = _task(2, parent=root, comm="cc1")
    b = _task(3, parent=root, comm="cc1")
    deltas = SampleDeltas(page_size=4096, start_boottime_ticks=START_TICKS)
    totals = GroupTotals(ticks_per_s=100)
    for task, pages, ticks in ((a, 100, 50), (b, 300, 20)):
        assert task.stat is not None
        task.stat.rss_pages, task.stat.utime_ticks = pages, ticks
    deltas.update([root])
    totals.add_sample([root], deltas, 2100)
    _next_sample(root, a, b)
    a.is_stale = True
    deltas.update([root])
    totals.add_sample([root], deltas, 2200)
    cc1 = totals.groups["cc1"]
    assert (cc1.count, cc1.num_procs, cc1.utime_ticks) == (1, 1, 70)
    assert cc1.peak_rss_bytes == 100 * 4096  # the one that ended so far
    totals.finish()
    assert (cc1.count, cc1.peak_rss_bytes) == (2, 300 * 4096)
    assert totals.tree.peak_rss_bytes == 400 * 4096 and totals.tree.peak_processes == 3
    assert cc1.longest_wall_s == 2.0  # (2200 - 2000) ticks at 100 per second
