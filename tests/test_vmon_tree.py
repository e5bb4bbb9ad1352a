"""Following real process trees: depth, threads, exec, zombies, exits, reparenting, pid reuse, CPU and IO."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_for
from proc_helpers import (
    Controller,
    cpu_clock_s,
    current,
    proc_stat_fields,
    sample_until,
    spawn_tree,
    tasks_by_pid,
)

from vwm_overlay.vmon import ProcWants, SysWants, Task, Vmon, VmonFlags
from vwm_overlay.vmon.records import STAT_ARGV_BIT, STAT_COMM_BIT, STAT_EXE_BIT


@pytest.fixture
def vmon() -> Iterator[Vmon]:
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE) as vmon:
        yield vmon


def child(task: Task, pid: int) -> Task:
    found = [c for c in task.children if c.pid == pid]
    assert len(found) == 1, f"{pid} not a child of {task}: {task.children}"
    return found[0]


def live_children(task: Task) -> set[int]:
    return {c.pid for c in task.children if not c.is_stale}


def test_a_tree_forked_at_several_depths_is_found_in_one_sample(nodes: Controller, vmon: Vmon) -> None:
    root_node, parents = spawn_tree(nodes, depth=3, fanout=2)
    root = vmon.monitor(root_node.pid)
    vmon.sample()
    tasks = tasks_by_pid(root)
    assert set(tasks) == {root_node.pid, *parents}
    for pid, parent_pid in parents.items():
        task = tasks[pid]
        assert task.parent is tasks[parent_pid]
        assert task.stat is not None and task.stat.ppid == parent_pid
        assert task.is_new and not task.is_stale
        assert task.generation == vmon.generation
    assert root.parent is None and root.is_new
    vmon.sample()
    assert not any(task.is_new for task in tasks_by_pid(root).values())
    assert tasks_by_pid(root) == tasks  # the same Task objects


def test_threads_come_and_go(nodes: Controller, vmon: Vmon) -> None:
    node = nodes.spawn_node()
    task = vmon.monitor(node.pid)
    vmon.sample()
    assert task.threads == [] and not task.is_threaded
    tids = node.start_threads(3)
    vmon.sample()
    # The main thread is listed with the others, and all are found in the sample that saw the count change.
    assert {t.pid for t in task.threads} == {node.pid, *tids}
    assert current(task).is_threaded and task.threads_changed
    for thread in task.threads:
        assert thread.is_thread and thread.parent is task and thread.is_new
        assert thread.stat is not None and thread.stat.comm is not None
    main = next(t for t in task.threads if t.pid == node.pid)
    vmon.sample()
    assert not current(task).threads_changed
    assert not any(t.is_new for t in task.threads)

    node.stop_threads()
    stale: set[int] = set()

    def dropped() -> bool:
        # A joined thread may still be exiting: they need not all go stale in one sample.
        stale.update(t.pid for t in task.threads if t.is_stale)
        return len(task.threads) == 1

    sample_until(vmon, dropped, what="the threads to exit and be dropped")
    assert stale == set(tids)
    assert task.threads == [main] and not main.is_stale
    assert current(task).is_threaded  # sticky

    again = node.start_threads(2)
    # A busy machine may hand out the tids that just exited again: then the
    # old threads' files report ESRCH and the new ones are listed a sample later.
    sample_until(vmon, lambda: {t.pid for t in task.threads if not t.is_stale} == {node.pid, *again}, 1.0)
    assert main in task.threads and not main.is_stale


def test_a_child_forked_from_a_non_main_thread_is_found(nodes: Controller, vmon: Vmon) -> None:
    node = nodes.spawn_node()
    task = vmon.monitor(node.pid)
    vmon.sample()
    forked = node.fork_from_thread()  # the forking thread stays alive
    # Only the forking thread's children file lists it.
    with open(f"/proc/{node.pid}/task/{node.pid}/children") as f:
        assert str(forked.pid) not in f.read().split()
    vmon.sample()
    assert live_children(task) == {forked.pid}
    grandchild = forked.fork()
    vmon.sample()
    assert live_children(child(task, forked.pid)) == {grandchild.pid}


def fds_into(pid: int) -> list[str]:
    """What our fds open under ``/proc/PID/``."""
    links = []
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            links.append(os.readlink(f"/proc/self/fd/{name}"))
    return [link for link in links if link.startswith(f"/proc/{pid}/")]


def test_a_child_forked_from_a_non_main_thread_is_found_without_following_threads(nodes: Controller) -> None:
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, ProcWants.STAT | ProcWants.FOLLOW_CHILDREN) as vmon:
        node = nodes.spawn_node()
        root = vmon.monitor(node.pid)
        vmon.sample()
        middle = node.fork()
        middle.start_threads(1)
        vmon.sample()
        task = child(root, middle.pid)
        middle.stop_threads()
        wait_for(lambda: len(os.listdir(f"/proc/{middle.pid}/task")) == 1, 10, "the thread's exit")
        # A thread comes in its place (the count is the same again) and forks; the forking threads stay alive.
        first = middle.fork_from_thread()
        vmon.sample()
        assert task.threads == [] and live_children(task) == {first.pid}
        second = middle.fork_from_thread()
        vmon.sample()
        assert live_children(task) == {first.pid, second.pid}
        assert live_children(child(task, second.pid)) == set()
        grandchild = second.fork()
        vmon.sample()
        assert live_children(child(task, second.pid)) == {grandchild.pid}
        # Each thread's children file was kept open; all of them are closed once the process was dropped.
        assert len([link for link in fds_into(middle.pid) if link.endswith("/children")]) == 3
        node.kill_child(middle.pid)
        vmon.sample()
        assert current(task).is_stale
        vmon.sample()
        assert task not in root.children and fds_into(middle.pid) == []


def test_exec_changes_argv_comm_and_exe(nodes: Controller, vmon: Vmon) -> None:
    parent = nodes.spawn_node()
    node = parent.fork()
    root = vmon.monitor(parent.pid)
    vmon.sample()
    task = child(root, node.pid)
    assert task.stat is not None
    python_exe = task.stat.exe
    assert task.stat.argv[-2:] == ("node", nodes.path)

    node.exec_node("renamed")
    stat = task.stat
    sample_until(vmon, lambda: stat.argv[-1:] == ("renamed",), what="the new argv")
    assert stat.changed & STAT_ARGV_BIT
    assert stat.exe == python_exe
    vmon.sample()
    assert not stat.changed & (STAT_ARGV_BIT | STAT_COMM_BIT | STAT_EXE_BIT)

    sleep = shutil.which("sleep")
    assert sleep is not None
    node.exec(sleep, "sleep", "1000")
    changed = 0
    argvs = set()

    def exec_seen() -> bool:
        nonlocal changed
        changed |= stat.changed
        argvs.add(stat.argv)
        return stat.argv == ("sleep", "1000")

    sample_until(vmon, exec_seen, what="the exec of sleep")
    # A sample in the middle of the exec may read an empty cmdline: never shown.
    assert () not in argvs
    assert stat.comm == "sleep"
    assert stat.exe == os.path.realpath(sleep)
    assert changed & STAT_ARGV_BIT and changed & STAT_COMM_BIT and changed & STAT_EXE_BIT
    assert task in root.children and not task.is_stale


def test_a_zombie_shows_state_z_then_goes_stale_once_reaped(nodes: Controller, vmon: Vmon) -> None:
    node = nodes.spawn_node()
    root = vmon.monitor(node.pid)
    vmon.sample()
    zombie_pid = node.zombie()
    wait_for(lambda: proc_stat_fields(zombie_pid)[0] == "Z", what="the zombie")
    vmon.sample()
    zombie = child(root, zombie_pid)
    assert zombie.stat is not None and zombie.stat.state == "Z"
    vmon.sample()
    assert zombie.stat.state == "Z" and not zombie.is_stale

    node.reap(zombie_pid)
    vmon.sample()
    assert current(zombie).is_stale and zombie in root.children and root.children_changed
    vmon.sample()
    assert zombie not in root.children and root.children_changed
    vmon.sample()
    assert not current(root).children_changed


def test_an_exit_between_two_samples_is_stale_for_exactly_one_sample(nodes: Controller) -> None:
    seen: list[list[tuple[int, bool]]] = []

    def callback(vmon: Vmon, task: Task, arg: object) -> None:
        seen.append([(c.pid, c.is_stale) for c in task.children])

    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE) as vmon:
        node = nodes.spawn_node()
        kept, leaving = node.fork(), node.fork()
        root = vmon.monitor(node.pid, callback=callback)
        vmon.sample()
        task = child(root, leaving.pid)
        node.kill_child(leaving.pid)  # killed and reaped between two samples
        vmon.sample()
        vmon.sample()
        vmon.sample()
    assert seen == [
        [(kept.pid, False), (leaving.pid, False)],
        [(kept.pid, False), (leaving.pid, True)],
        [(kept.pid, False)],
        [(kept.pid, False)],
    ]
    assert task.is_stale


def test_a_task_gone_in_the_sample_after_the_one_that_found_it_is_no_longer_new(nodes: Controller, vmon: Vmon) -> None:
    node = nodes.spawn_node()
    root = vmon.monitor(node.pid)
    vmon.sample()
    leaving = node.fork()
    tids = leaving.start_threads(2)
    vmon.sample()
    task = child(root, leaving.pid)
    threads = [t for t in task.threads if t.pid in tids]
    assert task.is_new and len(threads) == 2 and all(t.is_new for t in threads)
    node.kill_child(leaving.pid)
    vmon.sample()
    for gone in (task, *threads):
        assert gone.is_stale and not gone.is_new, gone


def test_threads_gone_before_their_process_are_listed_gone_once(nodes: Controller, vmon: Vmon) -> None:
    """Threads that exit go stale in one sample and leave their process's list at the next, even when that next
    sample finds the process itself gone: listed again, a consumer would take them for exiting twice."""
    node = nodes.spawn_node()
    root = vmon.monitor(node.pid)
    leaving = node.fork()
    tids = set(leaving.start_threads(2))
    vmon.sample()
    task = child(root, leaving.pid)
    threads = [t for t in task.threads if t.pid in tids]
    assert len(threads) == 2
    leaving.stop_threads()
    sample_until(vmon, lambda: all(t.is_stale for t in threads), what="the threads gone")
    node.kill_child(leaving.pid)
    vmon.sample()
    assert task.is_stale
    assert not [t for t in task.threads if t.pid in tids], "gone in an earlier sample: not listed again"


def test_a_process_reparented_away_goes_stale(nodes: Controller, vmon: Vmon) -> None:
    node = nodes.spawn_node()
    middle = node.fork()
    grandchild = middle.fork()
    root = vmon.monitor(node.pid)
    vmon.sample()
    middle_task = child(root, middle.pid)
    grandchild_task = child(middle_task, grandchild.pid)

    middle.exit()  # the grandchild is reparented to init; the middle stays a zombie
    wait_for(lambda: int(proc_stat_fields(grandchild.pid)[1]) != middle.pid, what="the reparenting")
    sample_until(vmon, lambda: grandchild_task.is_stale, what="the grandchild to go stale")
    vmon.sample()
    assert grandchild_task not in middle_task.children
    assert grandchild.pid not in tasks_by_pid(root)
    assert os.path.exists(f"/proc/{grandchild.pid}")  # still alive, elsewhere
    assert middle_task.stat is not None and middle_task.stat.state == "Z"
    assert not middle_task.is_stale


def _boottime_ticks() -> int:
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK"))


@pytest.mark.skipif(os.geteuid() != 0, reason="forcing a pid needs root (ns_last_pid)")
def test_a_reused_pid_is_a_new_task(nodes: Controller, vmon: Vmon) -> None:
    node = nodes.spawn_node()
    old_pid = node.sleepers(1)[0]
    root = vmon.monitor(node.pid)
    vmon.sample()
    old = child(root, old_pid)
    old_start = old.start_ticks
    # A start time one tick later, so the two are told apart by it too.
    wait_for(lambda: _boottime_ticks() > old_start + 1, what="a clock tick")

    node.kill_child(old_pid)
    if node.fork_at(old_pid) != old_pid:
        pytest.skip(f"pid {old_pid} was taken by another process first")
    vmon.sample()
    assert old.is_stale  # the kept fds belonged to the old process

    def reused() -> Task | None:
        return next((c for c in root.children if c.pid == old_pid and c is not old), None)

    new = sample_until(vmon, reused, what="the new task")
    assert new is not None and new.is_new and not new.is_stale
    assert new.start_ticks != old_start
    assert new.start_ticks == int(proc_stat_fields(old_pid)[19])
    vmon.sample()
    assert old not in root.children and not current(new).is_new


def test_a_busy_child_reads_about_one_core(nodes: Controller, vmon: Vmon) -> None:
    node = nodes.spawn_node()
    spinner_pid = node.spin()
    root = vmon.monitor(node.pid)

    def sampled() -> tuple[float, int, float]:
        """The spinner's CPU clock just before and just after a sample, and the ticks the sample read between."""
        before_s = cpu_clock_s(spinner_pid)
        vmon.sample()
        after_s = cpu_clock_s(spinner_pid)
        stat = child(root, spinner_pid).stat
        assert stat is not None
        return before_s, stat.utime_ticks + stat.stime_ticks, after_s

    start = sampled()
    started_s = time.monotonic()
    time.sleep(1.0)  # the measurement interval itself
    end = sampled()
    elapsed_s = time.monotonic() - started_s
    read_s = (end[1] - start[1]) / vmon.ticks_per_s
    # The kernel's own clock brackets what the samples could have read: at least what the spinner used between the
    # first sample's end and the second's start, at most between the first's start and the second's end (a tick
    # either way for the truncation of each reading). However loaded the machine, the reading lies in between.
    tick_s = 1 / vmon.ticks_per_s
    assert end[0] - start[2] - 2 * tick_s <= read_s <= end[2] - start[0] + 2 * tick_s
    # And on an idle machine that is one core.
    if (end[0] - start[2]) / elapsed_s >= 0.95:
        assert 0.9 <= read_s / elapsed_s <= 1.1


def test_a_process_that_writes_n_mb_shows_n_mb_of_write_bytes(nodes: Controller, tmp_path: Path) -> None:
    nbytes = 8 << 20
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, ProcWants.STAT | ProcWants.IO) as vmon:
        node = nodes.spawn_node()
        task = vmon.monitor(node.pid)
        vmon.sample()
        assert task.io is not None
        before = task.io.write_bytes
        node.write_file(str(tmp_path / "out"), nbytes)
        vmon.sample()
        written = task.io.write_bytes - before
        assert task.io.changed
        assert nbytes * 0.95 <= written <= nbytes * 1.05
        assert task.io.wchar - before >= nbytes


@pytest.mark.skipif(os.geteuid() != 0, reason="forcing a tid needs root (ns_last_pid)")
def test_a_reused_tid_is_a_new_thread(nodes: Controller, vmon: Vmon) -> None:
    node = nodes.spawn_node()
    task = vmon.monitor(node.pid)
    tids = node.start_threads(2)
    vmon.sample()
    old = {t.pid: t for t in task.threads}
    node.stop_threads()
    wait_for(lambda: len(os.listdir(f"/proc/{node.pid}/task")) == 1, what="the threads to exit")
    again = node.start_threads_at(tids[0], 2)  # between two samples
    if again[0] != tids[0]:
        pytest.skip(f"tid {tids[0]} was taken by another process first")
    vmon.sample()
    assert old[tids[0]].is_stale  # its kept files belonged to the thread that exited

    def renewed() -> bool:
        live = {t.pid: t for t in task.threads if not t.is_stale}
        return set(live) == {node.pid, *again} and live[tids[0]] is not old[tids[0]]

    sample_until(vmon, renewed, what="the new threads")
    assert old[node.pid] in task.threads  # the main thread is the same throughout
