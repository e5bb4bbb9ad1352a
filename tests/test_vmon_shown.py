"""Fresh where shown: the wait channel of a task a consumer shows is read every sample, and nobody else's;
the chart shows the rows within its height, the tree command every task it prints."""

from __future__ import annotations

import subprocess
import sys

from chart_helpers import Feed, make_task
from proc_helpers import current, sample_until, spawn

from vwm_overlay.chart import Chart
from vwm_overlay.tree import TreePrinter
from vwm_overlay.vmon import ProcWants, SysWants, Vmon, VmonFlags

STAT_ONLY = ProcWants.STAT | ProcWants.FOLLOW_CHILDREN | ProcWants.FOLLOW_THREADS

# Blocks reading stdin; once a byte arrives, sleeps: the wait channel moves while the stat may not.
PROGRAM = "import os, time\nos.read(0, 1)\ntime.sleep(600)\n"


def _wchan(pid: int) -> str:
    with open(f"/proc/{pid}/wchan") as f:
        return f.read()


def test_the_wait_channel_of_a_shown_task_is_never_older_than_one_sample(reaped: None) -> None:
    proc = spawn([sys.executable, "-c", PROGRAM], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, STAT_ONLY) as vmon:
        task = vmon.monitor(proc.pid)
        vmon.sample()
        stat = task.stat
        assert stat is not None
        assert stat.wchan is None  # nobody shows it: not read at all
        task.shown += 1
        sample_until(vmon, lambda: current(stat).wchan == _wchan(proc.pid), what="the blocked read")
        before = _wchan(proc.pid)
        proc.stdin.write(b"x")
        proc.stdin.flush()
        # Whatever the stat says, the wait channel follows within one sample of moving.
        sample_until(vmon, lambda: _wchan(proc.pid) != before, what="the sleep")
        assert current(stat).wchan == _wchan(proc.pid) != before
        task.shown -= 1
        vmon.sample()
        assert current(stat).wchan == _wchan(proc.pid)  # kept as last read, no longer refreshed


def test_a_chart_shows_the_rows_within_its_height() -> None:
    root = make_task(100)
    children = [make_task(101 + i, parent=root) for i in range(60)]
    chart = Chart(800, 200)
    Feed(chart, root).step()
    shown = [task for task in (root, *children) if task.shown]
    assert root.shown == 1 and 0 < len(shown) < 61  # those below the bottom are not shown
    assert all(task.shown in (0, 1) for task in children)
    chart.detach()
    assert not any(task.shown for task in (root, *children))


def test_the_tree_command_shows_every_task_it_prints() -> None:
    root = make_task(100)
    thread = make_task(101, parent=root, thread=True)
    child = make_task(102, parent=root)
    printer = TreePrinter(ticks_per_s=100)
    printer.lines(root, 0.0)
    assert (root.shown, thread.shown, child.shown) == (1, 1, 1)
    child.is_stale = True  # exited: no longer printed, no longer shown
    printer.lines(root, 0.5)
    assert (root.shown, thread.shown, child.shown) == (1, 1, 0)
