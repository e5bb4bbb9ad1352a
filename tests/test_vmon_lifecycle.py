"""The monitor's lifecycle on real processes: callbacks and their order, modes,
reference counts, orphans, parent migration, shared files, change flags, and
the CPU of children that were never seen."""

from __future__ import annotations

import os
import time

import pytest
from proc_helpers import Controller, current, proc_stat_fields, sample_until, tasks_by_pid

from vwm_overlay.errors import TaskGone
from vwm_overlay.vmon import FileObject, FileObjectKind, ProcWants, SysWants, Task, Vmon, VmonFlags
from vwm_overlay.vmon.records import STAT_FIELDS

STAT_ONLY = ProcWants.STAT | ProcWants.FOLLOW_CHILDREN | ProcWants.FOLLOW_THREADS


def child(task: Task, pid: int) -> Task:
    found = [c for c in task.children if c.pid == pid]
    assert len(found) == 1, f"{pid} not a child of {task}: {task.children}"
    return found[0]


def bit(field: str) -> int:
    return 1 << STAT_FIELDS.index(field)


# -- callbacks ----------------------------------------------------------------------------


def test_sample_cb_runs_once_per_sample_before_the_task_callbacks(nodes: Controller) -> None:
    log: list[object] = []
    node = nodes.spawn_node()
    with Vmon(
        VmonFlags.TWO_PASS, SysWants.STAT, STAT_ONLY, sample_cb=lambda vmon, arg: log.append(arg), sample_cb_arg="sys"
    ) as vmon:
        vmon.monitor(node.pid, callback=lambda vmon, task, arg: log.append(arg), arg="task")
        for _ in range(3):
            vmon.sample()
            assert vmon.sys_stat is not None  # the system samplers ran before sample_cb
    assert log == ["sys", "task"] * 3


@pytest.mark.parametrize("flags", [VmonFlags.TWO_PASS, VmonFlags.NONE], ids=["two-pass", "unipass"])
def test_callbacks_run_leaves_first(nodes: Controller, flags: VmonFlags) -> None:
    order: list[tuple[int, int]] = []
    root_node = nodes.spawn_node()
    a = root_node.fork()
    a1 = a.fork()
    b = root_node.fork()
    with Vmon(flags, SysWants.NONE, STAT_ONLY) as vmon:

        def callback(vmon: Vmon, task: Task, arg: object) -> None:
            order.append((vmon.generation, task.pid))

        # Monitored on their own first: they move under their parent when it is found.
        for node in (a1, a, b, root_node):
            vmon.monitor(node.pid, callback=callback)
        vmon.sample()
        root = vmon.find(root_node.pid)
        assert root is not None and vmon.processes == [root]
        order.clear()
        vmon.sample()
        vmon.sample()
    for generation in (vmon.generation - 1, vmon.generation):
        this_sample = [pid for g, pid in order if g == generation]
        assert sorted(this_sample) == sorted([a1.pid, a.pid, b.pid, root_node.pid])
        assert this_sample.index(a1.pid) < this_sample.index(a.pid) < this_sample.index(root_node.pid)
        assert this_sample.index(b.pid) < this_sample.index(root_node.pid)


@pytest.mark.parametrize("flags", [VmonFlags.TWO_PASS, VmonFlags.NONE], ids=["two-pass", "unipass"])
def test_two_pass_samples_everything_before_any_callback(nodes: Controller, flags: VmonFlags) -> None:
    root_node = nodes.spawn_node()
    a = root_node.fork()
    a1 = a.fork()
    b = root_node.fork()
    unsampled_at_callback: dict[int, set[int]] = {}
    with Vmon(flags, SysWants.NONE, STAT_ONLY) as vmon:
        root = vmon.monitor(root_node.pid)

        def callback(vmon: Vmon, task: Task, arg: object) -> None:
            tasks = tasks_by_pid(root).values()
            unsampled_at_callback[task.pid] = {t.pid for t in tasks if t.generation != vmon.generation}

        vmon.sample()
        for node in (a1, b):
            vmon.monitor(node.pid, callback=callback)
        vmon.sample()
    if flags & VmonFlags.TWO_PASS:
        assert unsampled_at_callback == {a1.pid: set(), b.pid: set()}
    else:
        # Depth first: a's subtree is called back before b is sampled.
        assert unsampled_at_callback == {a1.pid: {b.pid}, b.pid: set()}


def test_ctor_and_dtor_callbacks_run_once_per_task(nodes: Controller) -> None:
    made: list[Task] = []
    freed: list[Task] = []
    node = nodes.spawn_node()
    leaving = node.fork()
    node.start_threads(2)
    with Vmon(
        VmonFlags.TWO_PASS,
        SysWants.NONE,
        STAT_ONLY,
        proc_ctor_cb=lambda vmon, task: made.append(task),
        proc_dtor_cb=lambda vmon, task: freed.append(task),
    ) as vmon:
        root = vmon.monitor(node.pid)
        assert made == [root]
        vmon.sample()
        assert len(made) == 1 + 3 + 1  # the process, its three threads and the child
        assert sum(t.is_thread for t in made) == 3
        node.kill_child(leaving.pid)
        vmon.sample()
        assert freed == []  # stale: still visible
        vmon.sample()
        assert [t.pid for t in freed] == [leaving.pid]
    assert sorted(map(id, freed)) == sorted(map(id, made))


def test_proc_array_lists_every_task_and_calls_back_in_array_order(nodes: Controller) -> None:
    called: list[Task] = []
    node = nodes.spawn_node()
    kid = node.fork()
    node.start_threads(1)
    with Vmon(VmonFlags.PROC_ARRAY, SysWants.NONE, STAT_ONLY) as vmon:
        root = vmon.monitor(node.pid, callback=lambda vmon, task, arg: called.append(task))
        vmon.sample()
        vmon.sample()
        tasks = [t for t in vmon.array if t is not None]
        assert tasks[0] is root
        assert {(t.pid, t.is_thread) for t in tasks} == {
            (node.pid, False),
            (kid.pid, False),
            *((t.pid, True) for t in root.threads),
        }
        assert len(root.threads) == 2
        assert called == [root, root]
        node.kill_child(kid.pid)
        vmon.sample()
        vmon.sample()
        assert kid.pid not in {t.pid for t in vmon.array if t is not None}
        assert None in vmon.array  # the freed slot, reused by the next task
        size = len(vmon.array)
        node.fork()
        vmon.sample()
        assert len(vmon.array) == size and None not in vmon.array


def test_proc_all_follows_every_process_without_two_phase_removal(nodes: Controller) -> None:
    with pytest.raises(ValueError, match="FOLLOW_CHILDREN"):
        Vmon(VmonFlags.PROC_ALL)  # the default wants follow children
    with Vmon(VmonFlags.PROC_ALL, SysWants.NONE, ProcWants.STAT) as vmon:
        vmon.sample()
        pids = {t.pid for t in vmon.processes}
        assert {1, os.getpid()} <= pids
        assert all(t.parent is None and not t.is_thread for t in vmon.processes)
        node = nodes.spawn_node()
        kid = node.fork()
        vmon.sample()
        task = vmon.find(kid.pid)
        assert task is not None and task in vmon.processes and task.stat is not None
        assert task.parent is None and not task.children  # no following in this mode
        node.kill_child(kid.pid)
        vmon.sample()
        assert task not in vmon.processes
        assert vmon.find(kid.pid) is None


# -- reference counts, orphans, parent migration ------------------------------------------


def test_monitoring_a_pid_twice_shares_one_task(nodes: Controller) -> None:
    freed: list[Task] = []
    node = nodes.spawn_node()

    def first(vmon: Vmon, task: Task, arg: object) -> None:
        calls.append("first")

    def second(vmon: Vmon, task: Task, arg: object) -> None:
        calls.append("second")

    calls: list[str] = []
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, proc_dtor_cb=lambda vmon, task: freed.append(task)) as vmon:
        task = vmon.monitor(node.pid, callback=first)
        assert vmon.monitor(node.pid, callback=second) is task
        assert task.refcount == 2 and vmon.processes == [task]
        vmon.sample()
        assert calls == ["first", "second"]
        vmon.unmonitor(task, first)
        assert task.refcount == 1 and vmon.processes == [task] and freed == []
        calls.clear()
        vmon.sample()
        assert calls == ["second"]
        vmon.unmonitor(task, second)
        assert freed == [task] and vmon.processes == [] and vmon.find(node.pid) is None
        vmon.sample()
    assert freed == [task]


def test_monitoring_a_pid_that_does_not_exist_raises_task_gone(nodes: Controller) -> None:
    node = nodes.spawn_node()
    gone_pid = node.zombie()
    node.reap(gone_pid)
    assert not os.path.exists(f"/proc/{gone_pid}")
    with Vmon() as vmon, pytest.raises(TaskGone) as info:
        vmon.monitor(gone_pid)
    assert info.value.pid == gone_pid
    assert vmon.processes == []


def test_a_top_level_task_found_as_a_child_moves_under_its_parent(nodes: Controller) -> None:
    parent_node = nodes.spawn_node()
    kid_node = parent_node.fork()
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, STAT_ONLY) as vmon:
        kid = vmon.monitor(kid_node.pid)
        vmon.sample()
        assert vmon.processes == [kid] and kid.parent is None
        parent = vmon.monitor(parent_node.pid)
        vmon.sample()
        assert current(kid).parent is parent and parent.children == [kid]
        assert vmon.processes == [parent]
        assert kid.refcount == 2  # ours, and the parent's follow
        assert parent.children_changed
        stat = kid.stat
        vmon.sample()
        assert kid.stat is stat and kid.generation == vmon.generation  # the same task, still sampled
        # A pid monitored again while it is somebody's child: the same task.
        assert vmon.monitor(kid_node.pid) is kid and kid.refcount == 3
        vmon.unmonitor(kid)


def test_a_child_still_monitored_becomes_an_orphan_when_its_parent_is_dropped(nodes: Controller) -> None:
    freed: list[Task] = []
    parent_node = nodes.spawn_node()
    kid_node = parent_node.fork()
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, STAT_ONLY, proc_dtor_cb=lambda v, t: freed.append(t)) as vmon:
        parent = vmon.monitor(parent_node.pid)
        vmon.sample()
        kid = vmon.monitor(kid_node.pid)
        assert kid.parent is parent and kid.refcount == 2
        vmon.unmonitor(parent)
        assert freed == [parent]
        vmon.sample()
        assert current(kid).parent is None and vmon.processes == [kid] and vmon.processes_changed
        assert kid.refcount == 1 and not kid.is_stale and kid.generation == vmon.generation
        vmon.unmonitor(kid)
        assert freed == [parent, kid]


# -- files ----------------------------------------------------------------------------------


def test_a_pipe_shared_by_parent_and_child_is_one_file_object(nodes: Controller) -> None:
    made: list[FileObject] = []
    freed: list[FileObject] = []
    node = nodes.spawn_node()
    kid_node, inode = node.pipe_fork()
    key = f"pipe:[{inode}]"
    with Vmon(
        VmonFlags.TWO_PASS,
        SysWants.NONE,
        STAT_ONLY | ProcWants.FILES,
        fobject_ctor_cb=made.append,
        fobject_dtor_cb=freed.append,
    ) as vmon:
        parent = vmon.monitor(node.pid)
        vmon.sample()
        pipe = vmon.files.objects[key]
        assert pipe.kind is FileObjectKind.PIPE and pipe.refs == 2
        assert [obj for obj in made if obj.key == key] == [pipe]
        kid = child(parent, kid_node.pid)
        assert parent.files is not None and kid.files is not None
        assert [f.obj for f in parent.files.values() if f.link == key] == [pipe]
        assert [f.obj for f in kid.files.values() if f.link == key] == [pipe]
        # The node's connections are sockets, each its own object.
        assert any(f.obj.kind is FileObjectKind.SOCKET for f in parent.files.values())

        node.kill_child(kid_node.pid)
        vmon.sample()
        vmon.sample()
        assert pipe.refs == 1 and freed.count(pipe) == 0
        node.close_pipes()
        vmon.sample()
        assert key not in vmon.files.objects and freed.count(pipe) == 1
        assert not any(f.link == key for f in parent.files.values())


# -- change flags ---------------------------------------------------------------------------


def test_change_flags_clear_when_nothing_changed(nodes: Controller) -> None:
    node = nodes.spawn_node()
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE) as vmon:
        task = vmon.monitor(node.pid)
        vmon.sample()
        assert task.stat is not None and task.stat.changed  # everything is new
        stat = task.stat
        sample_until(vmon, lambda: stat.changed == 0, what="an idle sample")
        assert task.io is not None and task.io.changed == 0
        assert task.vm is not None and task.vm.changed == 0
        assert task.activity == 0 and not task.children_changed and not task.threads_changed

        node.start_threads(1)
        vmon.sample()
        assert stat.changed & bit("num_threads")
        assert not stat.changed & (bit("ppid") | bit("start_ticks") | bit("pgrp"))
        assert current(task).threads_changed and task.activity & ProcWants.STAT


# -- children that were never seen -----------------------------------------------------------


def test_short_lived_childrens_cpu_is_credited_through_the_parent(nodes: Controller) -> None:
    count, spin_ms, interval_s = 12, 80, 0.25
    node = nodes.spawn_node()
    seen_children: list[Task] = []
    unseen_ticks = 0
    with Vmon(
        VmonFlags.TWO_PASS,
        SysWants.NONE,
        STAT_ONLY,
        proc_ctor_cb=lambda vmon, task: seen_children.append(task) if task.pid != node.pid else None,
    ) as vmon:
        task = vmon.monitor(node.pid)
        vmon.sample()
        assert task.stat is not None
        before = task.stat.cutime_ticks + task.stat.cstime_ticks
        node.send("busy_children", count, spin_ms)
        deadline = time.monotonic() + 15
        while True:
            time.sleep(interval_s)  # the sampling interval
            vmon.sample()
            unseen_ticks += task.delta.children_utime_ticks + task.delta.children_stime_ticks
            if node.answered():
                break
            assert time.monotonic() < deadline, "the busy children never finished"
        node.reply()
        for _ in range(2):  # the last child's time reaches cutime when it is reaped
            vmon.sample()
            unseen_ticks += task.delta.children_utime_ticks + task.delta.children_stime_ticks
        fields = proc_stat_fields(node.pid)
        kernel_ticks = int(fields[13]) + int(fields[14]) - before  # cutime (16) + cstime (17)
        seen_ticks = sum(
            c.stat.utime_ticks + c.stat.stime_ticks + c.stat.cutime_ticks + c.stat.cstime_ticks
            for c in seen_children
            if c.stat is not None and not c.is_thread
        )
    expected_ticks = count * spin_ms / 1000 * vmon.ticks_per_s
    assert 0.8 * expected_ticks <= kernel_ticks <= 1.3 * expected_ticks
    assert unseen_ticks > 0
    assert abs(unseen_ticks + seen_ticks - kernel_ticks) <= 3
