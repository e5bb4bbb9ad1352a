"""What monitored processes and the system can throw at the engine: permissions,
fd churn and exhaustion, malformed files, kernels without children files.
Nothing of it may make ``sample()`` raise."""

from __future__ import annotations

import json
import logging
import os
import pwd
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from proc_helpers import DATA_PROC, HELPERS, Controller, current, spawn_tree, tasks_by_pid

from vwm_overlay.vmon import ProcWants, SysWants, Task, Vmon, VmonFlags
from vwm_overlay.vmon._kept import kept
from vwm_overlay.vmon._procfs import TRANSIENT


def run_sampler(
    pid: int, *args: str, user: str | None = None, where: str | None = None, says: str | None = None
) -> dict[str, object]:
    """Sample the tree under ``pid`` in another process (as ``user``); its JSON report.

    Its stderr must be empty, or one line holding ``says``.

    ``where`` is a directory holding the sampler and the package (see :func:`readable_copy`);
    by default this checkout.
    """
    root = where if where is not None else os.path.dirname(os.path.dirname(HELPERS))
    argv = [sys.executable, os.path.join(root, "tests", os.path.basename(HELPERS)), "sample", str(pid), *args]
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", *argv]
    # The project's own directory first: another user may not see this interpreter's site-packages.
    env = dict(os.environ, PYTHONPATH=root)
    done = subprocess.run(argv, capture_output=True, timeout=15, cwd="/", env=env, check=False)
    assert done.returncode == 0, done.stderr.decode()
    if says is None:
        assert done.stderr == b"", done.stderr.decode()
    else:
        [line] = done.stderr.decode().splitlines()
        assert says in line, line
    report: dict[str, object] = json.loads(done.stdout)
    return report


@pytest.fixture
def readable_copy() -> Iterator[str]:
    """The package and the test helpers copied where any user may read them: a checkout
    may sit in a directory only its owner can enter (pytest's own temporary directories too)."""
    root = Path(tempfile.mkdtemp(prefix="vwm-overlay-sampler-"))
    try:
        project = Path(HELPERS).parent.parent
        shutil.copytree(project / "vwm_overlay", root / "vwm_overlay", ignore=shutil.ignore_patterns("__pycache__"))
        (root / "tests").mkdir()
        for name in ("proc_helpers.py", "polling.py"):
            shutil.copy(project / "tests" / name, root / "tests" / name)
        for path in (root, *root.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield str(root)
    finally:
        shutil.rmtree(root)


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


# -- permissions ----------------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_an_unprivileged_sampler_gets_the_root_owned_fields_as_unavailable(
    nodes: Controller, readable_copy: str
) -> None:
    nobody = pwd.getpwnam("nobody")
    probe = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-c", "pass"]
    if subprocess.run(probe, capture_output=True, timeout=15, cwd="/", check=False).returncode != 0:
        pytest.skip("this interpreter cannot be run by nobody (it lives in a directory only root may enter)")
    root_node = nodes.spawn_node()  # owned by root
    root_kid = root_node.fork()
    own_kid = root_node.fork()
    own_kid.setuid(nobody.pw_uid, nobody.pw_gid)
    report = run_sampler(root_node.pid, user="nobody", where=readable_copy)
    assert report["uid"] == nobody.pw_uid
    tasks = {t["pid"]: t for t in report["tasks"]}  # type: ignore[attr-defined]
    assert set(tasks) == {root_node.pid, root_kid.pid, own_kid.pid}  # children still followed
    for pid in (root_node.pid, root_kid.pid):
        task = tasks[pid]
        assert task["unavailable"] & ProcWants.IO, task
        assert task["unavailable"] & ProcWants.FILES, task
        assert task["io"] is False and task["exe"] is None
        assert task["state"] in ("S", "R") and task["utime_ticks"] is not None  # stat still works
        assert not task["is_stale"]
    mine = tasks[own_kid.pid]
    assert mine["unavailable"] == 0 and mine["io"] is True and mine["exe"] is not None


# -- fds --------------------------------------------------------------------------------------


def test_fds_are_back_at_their_baseline_after_2000_short_lived_children(nodes: Controller) -> None:
    made: list[Task] = []
    freed: list[Task] = []
    node = nodes.spawn_node()
    with Vmon(
        VmonFlags.TWO_PASS, proc_ctor_cb=lambda v, t: made.append(t), proc_dtor_cb=lambda v, t: freed.append(t)
    ) as vmon:
        root = vmon.monitor(node.pid)
        vmon.sample()
        vmon.sample()
        baseline = fd_count()
        most_fds = baseline
        node.send("churn", 2000, 50, 20)  # 2,000 children, 50 at a time, each living 20 ms
        deadline = time.monotonic() + 15
        while not node.answered():
            assert time.monotonic() < deadline, "the churn never finished"
            vmon.sample()
            most_fds = max(most_fds, fd_count())
        assert node.reply() == ["2000"]
        vmon.sample()
        vmon.sample()
        assert fd_count() == baseline
        assert root.children == []
    children = [t for t in made if t is not root]
    assert len(children) >= 200  # most batches were seen while they ran
    assert most_fds > baseline + 50  # and their files were kept open meanwhile
    assert {id(t) for t in children} <= {id(t) for t in freed}


def test_running_out_of_fds_degrades_instead_of_failing(nodes: Controller) -> None:
    node = nodes.spawn_node()
    sleepers = node.sleepers(29)
    # A soft limit of 64 leaves the engine no fd to keep: every file is read open-read-close, said once.
    report = run_sampler(node.pid, "--nofile", "64", "--count", "4", says="open-read-close")
    assert report["out_of_fds"] is True
    tasks = {t["pid"]: t for t in report["tasks"]}  # type: ignore[attr-defined]
    assert set(tasks) == {node.pid, *sleepers}
    for task in tasks.values():
        assert task["state"] in ("S", "R") and not task["is_stale"], task


def test_files_read_open_read_close_are_kept_again_once_the_limit_is_raised(
    nodes: Controller, caplog: pytest.LogCaptureFixture
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip("needs a hard open files limit of 4096 or more")
    node = nodes.spawn_node()
    sleepers = node.sleepers(60)

    def read_by_path(tasks: list[Task]) -> int:
        return sum(fd == TRANSIENT for task in tasks for fd in (kept(task).stat_fd, kept(task).io_fd))

    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE) as vmon:
        root = vmon.monitor(node.pid)
        try:
            # A soft limit of 128 leaves the engine 64 fds, far fewer than 61 processes' files.
            resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))
            vmon.sample()
            vmon.sample()
            tasks = list(tasks_by_pid(root).values())
            assert {t.pid for t in tasks} == {node.pid, *sleepers}
            assert vmon.procfs.kept <= 64 and read_by_path(tasks) > 0
            # The program raises its limit: what was read open-read-close is kept at its next read.
            resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
            vmon.sample()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        assert read_by_path(tasks) == 0 and vmon.procfs.kept > 2 * len(tasks)
    assert [r.message for r in caplog.records if "open-read-close" in r.message] != []


# -- malformed files --------------------------------------------------------------------------


def fake_stat(pid: int, ppid: int, comm: str = "fake") -> bytes:
    """A stat line for ``pid`` with parent ``ppid``, the rest from a captured one."""
    with open(os.path.join(DATA_PROC, "python", "stat"), "rb") as f:
        captured = f.read()
    fields = captured[captured.rfind(b")") + 2 :].split()
    fields[1] = str(ppid).encode()
    return f"{pid} ({comm}) ".encode() + b" ".join(fields) + b"\n"


def fake_proc(root: Path, stats: dict[int, bytes]) -> str:
    for pid, data in stats.items():
        (root / str(pid)).mkdir(parents=True, exist_ok=True)
        (root / str(pid) / "stat").write_bytes(data)
    (root / "meminfo").write_bytes(b"MemTotal: lots\n")
    return str(root)


def test_an_unparsable_stat_is_reported_once_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = fake_proc(tmp_path, {100: b"100 (broken) S 1 2 3\n", 101: fake_stat(101, 100)})
    caplog.set_level(logging.WARNING, logger="vwm_overlay.vmon")
    with Vmon(VmonFlags.TWO_PASS, SysWants.STAT | SysWants.VM, proc_root=root) as vmon:
        assert not vmon.children_files  # this tree has none: children are found by ppid
        task = vmon.monitor(100)
        for _ in range(3):
            vmon.sample()
        assert task.stat is None and not task.is_stale
        # Its children are still followed.
        assert [c.pid for c in task.children] == [101]
        assert task.children[0].stat is not None and task.children[0].stat.comm == "fake"
        (tmp_path / "100" / "stat").write_bytes(b"100 (still broken\n")
        vmon.sample()
        stat_warnings = [r for r in caplog.records if "100/stat" in r.getMessage()]
        assert len(stat_warnings) == 1
        # The system's meminfo is broken too (and /proc/stat is missing): reported once.
        assert len([r for r in caplog.records if "meminfo" in r.getMessage()]) == 1
        assert vmon.meminfo_kb is None and vmon.sys_stat is None
        (tmp_path / "100" / "stat").write_bytes(fake_stat(100, 1, "mended"))
        vmon.sample()
        stat = current(task).stat
        assert stat is not None and stat.comm == "mended"


def test_children_are_found_by_ppid_where_there_are_no_children_files(nodes: Controller) -> None:
    root_node, parents = spawn_tree(nodes, depth=2, fanout=2)
    thread_kid = root_node.fork_from_thread()
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, children_files=False) as vmon:
        root = vmon.monitor(root_node.pid)
        vmon.sample()
        tasks = tasks_by_pid(root)
        assert set(tasks) == {root_node.pid, thread_kid.pid, *parents}
        for pid, parent_pid in parents.items():
            assert tasks[pid].parent is tasks[parent_pid]
        leaving = next(pid for pid, parent in parents.items() if parent == root_node.pid)
        nodes.node(leaving).exit()
        root_node.reap(leaving)
        vmon.sample()
        assert tasks[leaving].is_stale
        vmon.sample()
        assert leaving not in tasks_by_pid(root)


def test_a_stat_with_another_start_time_is_another_task(tmp_path: Path) -> None:
    # Read by path (as when out of fds), a pid can lead to another process
    # than the one followed: its start time tells them apart.
    root = fake_proc(tmp_path, {100: fake_stat(100, 1), 101: fake_stat(101, 100)})
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, proc_root=root) as vmon:
        parent = vmon.monitor(100)
        vmon.sample()
        [old] = parent.children
        (tmp_path / "101" / "stat").write_bytes(fake_stat(101, 100).replace(b" 208823 ", b" 208999 "))
        vmon.sample()
        assert old.is_stale and old.start_ticks == 208823
        vmon.sample()
        [new] = current(parent).children
        assert new is not old and new.is_new and new.start_ticks == 208999
