"""Nothing missed at any size: wide trees, deep chains, many threads, few fds, the open files limit.

Every task is seen within one sample of appearing, no walk recurses, and a
lack of fds degrades to open-read-close reads, said once.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from polling import wait_for
from proc_helpers import reap_children, spawn
from test_vmon_errors import run_sampler

from vwm_overlay.vmon import FileTable, ProcWants, SysWants, Task, Vmon, VmonFlags, iter_tree
from vwm_overlay.vmon._cycle import Cycle
from vwm_overlay.vmon._kept import KeptFiles
from vwm_overlay.vmon._procfs import ProcFS
from vwm_overlay.vmon._table import TaskTable
from vwm_overlay.vmon._walk import post_order

STAT_ONLY = ProcWants.STAT | ProcWants.FOLLOW_CHILDREN | ProcWants.FOLLOW_THREADS


def _started(script: str, done: Path, timeout_s: float = 60.0) -> int:
    """``sh -c script`` (which touches ``done`` once its tree is built); its pid, once it is."""
    proc = spawn(["sh", "-c", script])
    wait_for(done.exists, timeout_s, "the tree to be built")
    return proc.pid


def _chain(depth: int, done: Path, last: str = "exec sleep 600") -> str:
    """A script making a chain of ``depth`` + 1 processes: each level a shell that waits for the next."""
    script = done.parent / "chain.sh"
    script.write_text(f'if [ $1 -gt 0 ]; then sh "$0" $(($1-1)) & wait; else touch {done}; {last}; fi\n')
    return f"exec sh {script} {depth}"


def test_two_thousand_children_are_all_seen(tmp_path: Path, reaped: None) -> None:
    done = tmp_path / "done"
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, STAT_ONLY) as vmon:
        pid = _started(f"i=0; while [ $i -lt 2000 ]; do sleep 600 & i=$((i+1)); done; touch {done}; wait", done)
        root = vmon.monitor(pid)
        vmon.sample()  # one children file holds them all: more than a page of pids
        assert len([c for c in root.children if not c.is_stale]) == 2000


@pytest.mark.parametrize("flags", [VmonFlags.TWO_PASS, VmonFlags.NONE])
def test_a_thousand_deep_chain_is_seen_in_one_sample(tmp_path: Path, reaped: None, flags: VmonFlags) -> None:
    done = tmp_path / "done"
    called: list[Task] = []
    vmon = Vmon(flags, SysWants.NONE, STAT_ONLY)
    pid = _started(_chain(1000, done), done)
    root = vmon.monitor(pid, callback=lambda vmon, task, arg: called.append(task))
    vmon.sample()
    depths = [depth for task, depth in iter_tree(root) if not task.is_stale]
    assert len(depths) == 1001 and max(depths) == 1000
    assert len(called) == 1  # the root's callback, after its whole subtree was sampled
    reap_children()  # the whole chain exits: stale, then dropped, without recursion
    vmon.sample()
    vmon.sample()
    assert root.is_stale
    vmon.close()


def _synthetic_chain(length: int) -> tuple[Task, Task]:
    root = tip = Task(1)
    root._engine = KeptFiles("1/", 0)
    for pid in range(2, length + 1):
        child = Task(pid, parent=tip)
        child._engine = KeptFiles(f"{pid}/", 0)
        tip.children.append(child)
        tip = child
    return root, tip


def test_walks_are_iterative_at_any_depth() -> None:
    root, tip = _synthetic_chain(100_001)
    assert sum(1 for _ in iter_tree(root)) == 100_001
    assert next(post_order(root)) is tip
    # The task table alone: a whole chain goes stale, then is released, without recursion.
    with ProcFS() as procfs:
        table = TaskTable(procfs, FileTable(), Cycle(0), owner=None)
        table.mark_stale(root)
        assert tip.is_stale and table.structure_changes == 100_001
        table.release_subtree(root)
        assert root.children == [] and tip.parent is not None and tip.refcount == 0


def test_a_wide_tree_of_five_thousand_processes_is_seen_in_one_sample(reaped: None) -> None:
    leaves = "i=0; while [ $i -lt 99 ]; do sleep 600 & i=$((i+1)); done; wait"
    script = f"i=0; while [ $i -lt 50 ]; do sh -c '{leaves}' & i=$((i+1)); done; "
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, STAT_ONLY) as vmon:
        proc = spawn(["sh", "-c", script + "wait"])
        root = vmon.monitor(proc.pid)

        def counted() -> int:
            return sum(1 for task, _ in iter_tree(root) if not task.is_stale and not task.is_thread)

        vmon.sample()  # while it grows
        # Once it has all, one more sample sees all (5,001 processes).
        wait_for(lambda: _count_processes(proc.pid) == 5001, 120, "the wide tree")
        vmon.sample()
        assert counted() == 5001


def _count_processes(root_pid: int) -> int:
    count, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        count += 1
        try:
            with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
                stack.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return count


def test_recording_a_deep_chain(tmp_path: Path, reaped: None) -> None:
    done = tmp_path / "done"
    command = ["sh", "-c", _chain(400, done, last="exec sleep 1")]
    status = subprocess.run(
        [sys.executable, "-m", "vwm_overlay", "record", "--output-dir", str(tmp_path), "--snapshot", "--", *command],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    assert "Traceback" not in status.stderr


def test_ten_thousand_threads_with_a_thousand_fds(tmp_path: Path, reaped: None) -> None:
    program = textwrap.dedent(
        f"""
        import threading
        threading.stack_size(65536)
        stop = threading.Event()
        for _ in range(10000):
            threading.Thread(target=stop.wait, daemon=True).start()
        open({str(tmp_path / "done")!r}, "w").close()
        stop.wait()
        """
    )
    done = tmp_path / "done"
    proc = spawn([sys.executable, "-c", program])
    wait_for(done.exists, 60, "10,000 threads")
    report = run_sampler(proc.pid, "--nofile", "1024", "--count", "2", says="open-read-close")
    tasks = report["tasks"]
    assert isinstance(tasks, list)
    assert len([t for t in tasks if t["is_thread"] and not t["is_stale"]]) == 10001  # the main thread too
    assert report["out_of_fds"] is True


def _soft_limit_1024() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def test_the_recorded_command_gets_the_users_open_files_limit(tmp_path: Path) -> None:
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] <= 1024:
        pytest.skip("needs a hard open files limit above 1024")
    argv = ["sh", "-c", "ulimit -Sn"]
    plain = subprocess.run(argv, capture_output=True, text=True, preexec_fn=_soft_limit_1024, check=True)
    recorded = subprocess.run(
        [sys.executable, "-m", "vwm_overlay", "record", "--output-dir", str(tmp_path), "--", *argv],
        capture_output=True,
        text=True,
        preexec_fn=_soft_limit_1024,
        timeout=60,
        check=True,
    )
    assert plain.stdout == "1024\n"
    assert recorded.stdout == plain.stdout


def test_the_library_leaves_the_limit_alone() -> None:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    with Vmon() as vmon:
        vmon.monitor(os.getpid())
        vmon.sample()
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before


def _hard_limit_128() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))


def test_a_recording_with_few_fds_degrades_and_still_writes_its_png(tmp_path: Path) -> None:
    # 150 processes want far more than 128 fds: the engine keeps what the budget allows, says so
    # once, and the PNG is still written.
    script = "i=0; while [ $i -lt 150 ]; do sleep 2 & i=$((i+1)); done; wait"
    command = ["sh", "-c", script]
    done = subprocess.run(
        [sys.executable, "-m", "vwm_overlay", "record", "--snapshot", "--output-dir", str(tmp_path), "--", *command],
        capture_output=True,
        text=True,
        preexec_fn=_hard_limit_128,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.glob("*.png"))) == 1
    said = [line for line in done.stderr.splitlines() if "open-read-close" in line]
    assert len(said) == 1, done.stderr
