"""The engine's per-sample deltas against ground truth, on real process trees.

Over a recorded run, the processes' own figures plus the children figures
credited to them sum to what the tree used: the bytes written, and the CPU the
kernel reports through ``getrusage`` once the tree's root is reaped.  Nothing
is counted twice although the kernel folds every reaped child into its parent.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from log_helpers import replayed, tree_tasks
from proc_helpers import Controller, proc_stat_fields, spawn

from vwm_overlay.vmon import ProcWants, SysWants, Task, TaskStat, Vmon, VmonFlags, iter_tree
from vwm_overlay.vmon._ledger import Ledger, account_cpu, account_io, settle
from vwm_overlay.vmon.records import TaskDelta

WANTS = ProcWants.STAT | ProcWants.IO | ProcWants.FOLLOW_CHILDREN | ProcWants.FOLLOW_THREADS
MIB = 1 << 20
#: The sampling interval of these recordings (a cadence, not a wait for anything).
INTERVAL_S = 0.02


@dataclass
class Totals:
    """What the processes of a tree used over a recording, as the engine's deltas say."""

    cpu_ticks: int = 0
    read_bytes: int = 0
    write_bytes: int = 0
    own_write_bytes: dict[str, int] = field(default_factory=dict)
    samples: int = 0

    def add(self, vmon: Vmon, root: Task) -> None:
        self.samples += 1
        for task, _ in iter_tree(root):
            if task.is_thread:
                continue
            delta = task.delta
            credited = delta.children_utime_ticks + delta.children_stime_ticks
            assert credited <= vmon.cap_ticks + 1e-9, f"{task}: {delta} credits more than {vmon.cap_ticks} ticks"
            assert min(delta.utime_ticks, delta.stime_ticks, delta.read_bytes, delta.write_bytes) >= 0, delta
            self.cpu_ticks += delta.utime_ticks + delta.stime_ticks + credited
            self.read_bytes += delta.read_bytes + delta.children_read_bytes
            self.write_bytes += delta.write_bytes + delta.children_write_bytes
            comm = task.stat.comm if task.stat is not None else "?"
            self.own_write_bytes[comm or "?"] = self.own_write_bytes.get(comm or "?", 0) + delta.write_bytes


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _record(script: str, done: Path) -> tuple[Totals, float, int, float]:
    """Run ``sh -c script`` (which touches ``done`` when its work is over, then
    sleeps) under a fresh engine; returns the engine's totals, the CPU seconds
    the kernel reports for the whole tree, the root's own IO totals of written
    bytes, and the engine's ticks per second."""
    before_s = _children_cpu_s()
    totals = Totals()
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, WANTS) as vmon:
        proc = spawn(["sh", "-c", script])
        root = vmon.monitor(proc.pid)
        deadline = time.monotonic() + 120
        while not done.exists():
            vmon.sample()
            totals.add(vmon, root)
            assert time.monotonic() < deadline, "the workload never finished"
            time.sleep(INTERVAL_S)
        for _ in range(3):  # the last folds land in the root
            time.sleep(INTERVAL_S)
            vmon.sample()
            totals.add(vmon, root)
        with open(f"/proc/{proc.pid}/io", "rb") as f:
            io_lines = dict(line.split(b": ") for line in f.read().splitlines())
        root_write_bytes = int(io_lines[b"write_bytes"])
        ticks_per_s = vmon.ticks_per_s
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return totals, _children_cpu_s() - before_s, root_write_bytes, ticks_per_s


def _dd(path: Path, mib: int) -> str:
    return f"dd if=/dev/zero of={path} bs=1M count={mib} status=none"


def test_dd_through_nested_shells_is_counted_once(tmp_path: Path, reaped: None) -> None:
    done = tmp_path / "done"
    # Each shell waits for its last command (``; true``) rather than exec it: a shell that became dd would write
    # dd's bytes as its own, and be named sh in the samples taken just before the exec.
    inner = f"{_dd(tmp_path / 'b', 50)}; sh -c '{_dd(tmp_path / 'c', 50)}; true'; true"
    script = f'{_dd(tmp_path / "a", 50)}; sh -c "{inner}"; touch {done}; exec sleep 60'
    totals, kernel_cpu_s, root_write_bytes, ticks_per_s = _record(script, done)
    written = 150 * MIB
    assert root_write_bytes >= written  # the kernel's own total for the tree (folds included)
    assert abs(totals.write_bytes - written) <= 0.03 * written, totals
    assert abs(totals.write_bytes - root_write_bytes) <= 0.03 * written, totals
    # The shells wrote nothing themselves: what dd wrote is not repeated in their own figures.
    assert totals.own_write_bytes.get("sh", 0) < MIB, totals.own_write_bytes
    cpu_s = totals.cpu_ticks / ticks_per_s
    assert abs(cpu_s - kernel_cpu_s) <= 0.05 * kernel_cpu_s + 2 / ticks_per_s, (cpu_s, kernel_cpu_s)


def test_parallel_short_lived_children_sum_to_getrusage(tmp_path: Path, reaped: None) -> None:
    done = tmp_path / "done"
    spin = "i=0; while [ $i -lt 60000 ]; do i=$((i+1)); done"
    script = f"for n in 1 2 3 4 5 6 7 8 9 10 11 12; do sh -c '{spin}' & done; wait; touch {done}; exec sleep 60"
    totals, kernel_cpu_s, _, ticks_per_s = _record(script, done)
    cpu_s = totals.cpu_ticks / ticks_per_s
    assert kernel_cpu_s > 0.3
    assert abs(cpu_s - kernel_cpu_s) <= 0.05 * kernel_cpu_s, (cpu_s, kernel_cpu_s)


def test_threads_are_counted_once(tmp_path: Path, reaped: None) -> None:
    done = tmp_path / "done"
    program = (
        "import threading, time, os\n"
        "def work(n):\n"
        "    end = time.thread_time() + 0.15\n"
        "    while time.thread_time() < end: pass\n"
        f"    with open('{tmp_path}/t%d' % n, 'wb') as f: f.write(b'x' * (8 << 20))\n"
        "ts = [threading.Thread(target=work, args=(n,)) for n in range(4)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
    )
    script = f'python3 -c "{program}"; touch {done}; exec sleep 60'
    totals, kernel_cpu_s, _, ticks_per_s = _record(script, done)
    written = 32 * MIB
    assert abs(totals.write_bytes - written) <= 0.03 * written, totals
    cpu_s = totals.cpu_ticks / ticks_per_s
    assert abs(cpu_s - kernel_cpu_s) <= 0.05 * kernel_cpu_s + 2 / ticks_per_s, (cpu_s, kernel_cpu_s)


def _total_ticks(pid: int) -> int:
    fields = proc_stat_fields(pid)
    return sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime (fields 14-17)


def test_a_pid_reused_under_the_same_parent_is_not_credited_twice(nodes: Controller) -> None:
    if not os.access("/proc/sys/kernel/ns_last_pid", os.W_OK):
        pytest.skip("needs a writable ns_last_pid")
    node = nodes.spawn_node()
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, WANTS) as vmon:
        root = vmon.monitor(node.pid)
        vmon.sample()
        assert root.delta.baseline
        start_ticks = _total_ticks(node.pid)
        engine_ticks = 0

        def sample() -> None:
            nonlocal engine_ticks
            vmon.sample()
            for task, _ in iter_tree(root):
                if not task.is_thread:
                    d = task.delta
                    engine_ticks += d.utime_ticks + d.stime_ticks + d.children_utime_ticks + d.children_stime_ticks

        spinner = node.spin()
        deadline = time.monotonic() + 10
        while True:
            sample()
            seen = [c for c in root.children if c.pid == spinner]
            if seen and seen[0].stat is not None and seen[0].stat.utime_ticks >= 20:
                break
            assert time.monotonic() < deadline
            time.sleep(INTERVAL_S)
        # Between two samples: the spinner is reaped and its pid handed to a new child.
        node.kill_child(spinner)
        if node.fork_at(spinner) != spinner:
            pytest.skip(f"pid {spinner} was taken by another process first")
        for _ in range(4):
            time.sleep(INTERVAL_S)
            sample()
        [reused] = [c for c in root.children if c.pid == spinner and not c.is_stale]
        truth = _total_ticks(node.pid) - start_ticks + _total_ticks(spinner)
    assert reused.stat is not None
    assert abs(engine_ticks - truth) <= 2, (engine_ticks, truth)


# -- the ledger alone, on synthetic stat figures ---------------------------------------------------


def _stat(utime: int = 0, cutime: int = 0) -> TaskStat:
    stat = TaskStat()
    stat.utime_ticks, stat.cutime_ticks = utime, cutime
    return stat


def test_a_child_reaped_between_the_parents_stat_and_children_reads_is_counted_once() -> None:
    parent, child = Ledger(), Ledger()
    parent_delta, child_delta = TaskDelta(), TaskDelta()
    account_cpu(parent, parent_delta, _stat(), baseline=True, cap_ticks=100, process=True)
    account_cpu(child, child_delta, _stat(utime=30), baseline=False, cap_ticks=100, process=True)
    assert child_delta.utime_ticks == 30  # born during monitoring: its whole life
    # Found gone in the children read, but the fold was not in the stat read just before.
    settle(child, parent)
    account_cpu(parent, parent_delta, _stat(), baseline=True, cap_ticks=100, process=True)
    assert parent_delta.children_utime_ticks == 0
    # The fold lands: 30 seen, 4 more after its last sample.
    account_cpu(parent, parent_delta, _stat(cutime=34), baseline=True, cap_ticks=100, process=True)
    assert parent_delta.children_utime_ticks == 4
    account_cpu(parent, parent_delta, _stat(cutime=34), baseline=True, cap_ticks=100, process=True)
    assert parent_delta.children_utime_ticks == 0


def test_an_auto_reaped_child_is_forgiven_after_one_sample() -> None:
    parent, child = Ledger(), Ledger()
    delta = TaskDelta()
    account_cpu(parent, delta, _stat(), baseline=True, cap_ticks=100, process=True)
    account_cpu(child, TaskDelta(), _stat(utime=30), baseline=False, cap_ticks=100, process=True)
    settle(child, parent)
    for _ in range(2):  # SIGCHLD ignored: no fold ever comes
        account_cpu(parent, delta, _stat(), baseline=True, cap_ticks=100, process=True)
    # Children unseen later are credited in full, not eaten by the old debt.
    account_cpu(parent, delta, _stat(cutime=7), baseline=True, cap_ticks=100, process=True)
    assert delta.children_utime_ticks == 7


def test_credit_is_capped_by_wall_time_and_carried_over() -> None:
    parent = Ledger()
    delta = TaskDelta()
    account_cpu(parent, delta, _stat(), baseline=True, cap_ticks=10, process=True)
    account_cpu(parent, delta, _stat(utime=4, cutime=20), baseline=True, cap_ticks=10, process=True)
    assert (delta.utime_ticks, delta.children_utime_ticks) == (4, 6)
    account_cpu(parent, delta, _stat(utime=4, cutime=20), baseline=True, cap_ticks=10, process=True)
    assert delta.children_utime_ticks == 10
    account_cpu(parent, delta, _stat(utime=4, cutime=20), baseline=True, cap_ticks=10, process=True)
    assert delta.children_utime_ticks == 4


def test_io_of_a_reaping_process_is_split_from_its_childrens() -> None:
    parent, child = Ledger(), Ledger()
    delta = TaskDelta()
    delta.baseline = True
    parent.pre_existing = True
    account_io(parent, delta, 100, 100, (0, 0), reap=False)
    child_delta = TaskDelta()
    account_io(child, child_delta, 0, 50, None, reap=False)
    assert child_delta.write_bytes == 50
    settle(child, parent)
    # The child wrote 70 in all (20 after its last sample); the parent itself wrote 5.
    account_io(parent, delta, 100, 175, (0, 70), reap=True)
    assert (delta.write_bytes, delta.children_write_bytes) == (5, 20)


def test_the_recorders_log_sums_to_the_bytes_written(tmp_path: Path) -> None:
    # The last command (exec'd by the shell) idles while the last folds land and are logged.
    script = f'{_dd(tmp_path / "a", 30)}; sh -c "{_dd(tmp_path / "b", 30)}; {_dd(tmp_path / "c", 30)}"; sleep 0.5'
    log = tmp_path / "run.jsonl"
    options = ["--hertz", "20", "--jsonl", str(log), "--output-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "vwm_overlay", "record", *options, "--", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    written = 0
    for _, replay in replayed(log):
        for task in tree_tasks(replay.root):
            if not task.is_thread:
                written += task.delta.write_bytes + task.delta.children_write_bytes
    assert abs(written - 90 * MIB) <= 0.03 * 90 * MIB, written
