"""``record --cgroup`` / ``--unit``: every process of a real cgroup v2 group is charted, a daemon that left the
command's tree included; a group given as a plain directory covers kernels without a cgroup2 mount."""

from __future__ import annotations

# The recorder fixture is test_record's, imported: pyflakes reads its use as a parameter as a redefinition.
import json
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from cgroup_helpers import join_group_argv, real_group
from log_helpers import processes_named, replayed, replayed_so_far, tree_tasks
from polling import wait_for
from proc_helpers import spawn
from record_helpers import Start, finish

from vwm_overlay.errors import UsageError
from vwm_overlay.record.cgroup import find_cgroup2_mount, resolve_group

HYBRID_MOUNTS = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""
V1_MOUNTS = "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\nproc /proc proc rw 0 0\n"

# Double-forks out of the tree (the way daemons do), renames itself "daemon", says its pid, then spins until told.
DAEMON = textwrap.dedent("""
    import os, pathlib, sys, time
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    pathlib.Path("/proc/self/comm").write_text("daemon")
    pathlib.Path(sys.argv[1]).write_text(str(os.getpid()))
    while not pathlib.Path(sys.argv[2]).exists():
        pass
""")


def test_the_cgroup2_mount_is_found_in_a_hybrid_layout(tmp_path: Path) -> None:
    (tmp_path / "mounts").write_text(HYBRID_MOUNTS)
    assert find_cgroup2_mount(str(tmp_path / "mounts")) == "/sys/fs/cgroup/unified"
    (tmp_path / "mounts").write_text(V1_MOUNTS)
    assert find_cgroup2_mount(str(tmp_path / "mounts")) is None


def test_without_a_cgroup2_mount_a_named_group_is_a_clear_usage_error(tmp_path: Path) -> None:
    (tmp_path / "mounts").write_text(V1_MOUNTS)
    with pytest.raises(UsageError, match="no cgroup v2 hierarchy is mounted"):
        resolve_group("system.slice/x.service", None, mounts_path=str(tmp_path / "mounts"))
    with pytest.raises(UsageError, match="--unit 'x'"):
        resolve_group(None, "x", mounts_path=str(tmp_path / "mounts"))


def test_a_group_as_a_plain_directory_is_followed_without_a_mount(record: Start, tmp_path: Path, reaped: None) -> None:
    # The fixture tree of a group: what the kernel shows in a group directory, with a real process in it.
    sleeper = spawn(["sleep", "60"])
    group = tmp_path / "fixture.slice" / "job.service"
    group.mkdir(parents=True)
    (group / "cgroup.procs").write_text(f"{sleeper.pid}\n")
    (group / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n")
    proc = record("--cgroup", str(group), "--jsonl", "log.jsonl", "--summary", "summary.json", "--output-dir", "out")
    wait_for(lambda: processes_named(tmp_path / "log.jsonl", "sleep"), 30.0, "the group's process in the log")
    proc.send_signal(signal.SIGTERM)
    status, stderr = finish(proc)
    assert status == 0, stderr
    _, replay = next(replayed(tmp_path / "log.jsonl"))
    root = replay.root
    assert root is not None and root.stat is not None
    assert root.pid == 0 and root.stat.comm == "job.service"  # the group's row
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["cgroup"] == {"path": str(group), "cpu_user_s": 0.0, "cpu_system_s": 0.0}
    assert summary["tree"]["cpu_source"] == "cgroup"
    assert [c["name"] for c in summary["commands"]] == ["sleep"]


def _cpu_ticks_charted(log: Path, comm: str) -> int:
    """The CPU ticks the log's samples gave the processes called ``comm`` so far."""
    return sum(
        task.delta.utime_ticks + task.delta.stime_ticks
        for _, replay in replayed_so_far(log)
        for task in tree_tasks(replay.root)
        if not task.is_thread and task.stat is not None and task.stat.comm == comm
    )


def test_a_daemon_in_a_real_group_is_charted(record: Start, tmp_path: Path, reaped: None) -> None:
    with real_group(f"vwm-overlay-test-{os.getpid()}") as group:
        args = ("--cgroup", group.name, "--jsonl", "log.jsonl", "--summary", "summary.json", "--trace", "run.json")
        proc = record(*args, "--output-dir", "out")
        wait_for((tmp_path / "log.jsonl").exists, 30.0, "the first sample")
        starter = spawn(join_group_argv(group, [sys.executable, "-c", DAEMON, "daemon.pid", "release"]), cwd=tmp_path)
        assert starter.wait(30) == 0  # its parent returned at once: the daemon is nobody's child we know
        wait_for((tmp_path / "daemon.pid").exists, 30.0, "the daemon")
        daemon_pid = int((tmp_path / "daemon.pid").read_text())
        # Released once a sample has charted some of its CPU (on a loaded machine it may have had none at first).
        wait_for(lambda: _cpu_ticks_charted(tmp_path / "log.jsonl", "daemon"), 30.0, "the daemon's CPU charted")
        (tmp_path / "release").touch()
        wait_for(lambda: not os.path.exists(f"/proc/{daemon_pid}"), 30.0, "the daemon to end")
        proc.send_signal(signal.SIGTERM)
        status, stderr = finish(proc)
    assert status == 0, stderr
    assert [t.pid for t in processes_named(tmp_path / "log.jsonl", "daemon")] == [daemon_pid]
    summary = json.loads((tmp_path / "summary.json").read_text())
    daemon = next(c for c in summary["commands"] if c["name"] == "daemon")
    assert daemon["count"] == 1 and daemon["cpu_user_s"] + daemon["cpu_system_s"] > 0
    assert summary["cgroup"]["path"] == str(group)
    assert summary["cgroup"]["cpu_user_s"] + summary["cgroup"]["cpu_system_s"] > 0
    assert summary["tree"]["cpu_source"] == "cgroup"  # every process recorded was the group's
    trace = (tmp_path / "run.json").read_text()
    names = [e for e in json.loads(trace) if e["ph"] == "M" and e["pid"] == daemon_pid]
    assert {"name": "daemon"} in [e["args"] for e in names]


def test_a_unit_is_found_by_name_and_its_removal_ends_the_recording(
    record: Start, tmp_path: Path, reaped: None
) -> None:
    unit = f"vwm-overlay-test-{os.getpid()}"
    with real_group(f"{unit}.slice", f"{unit}.service") as group:
        sleeper = spawn(join_group_argv(group, ["sleep", "60"]))
        proc = record("--unit", unit, "--jsonl", "log.jsonl", "--output-dir", "out")
        wait_for(lambda: processes_named(tmp_path / "log.jsonl", "sleep"), 30.0, "the unit's process in the log")
        sleeper.kill()
        sleeper.wait()
        wait_for(lambda: not (group / "cgroup.procs").read_text(), 30, "the unit to empty")
        group.rmdir()  # the unit stopped
        status, stderr = finish(proc)
    assert status == 0, stderr
    _, replay = next(replayed(tmp_path / "log.jsonl"))
    assert replay.root is not None and replay.root.stat is not None
    assert replay.root.stat.comm == f"{unit}.service"


def test_bad_groups_are_usage_errors(record: Start, tmp_path: Path) -> None:
    status, stderr = finish(record("--cgroup", "no/such/group", "--output-dir", "out"))
    assert status == 2 and "--cgroup 'no/such/group'" in stderr and len(stderr.splitlines()) == 1
    status, stderr = finish(record("--pid", "1", "--cgroup", "x", "--output-dir", "out"))
    assert status == 2 and "--pid cannot be combined with --cgroup" in stderr


def test_a_command_in_its_group_is_charted_once_per_process(record: Start, tmp_path: Path) -> None:
    # The group lists the command's new children before its next sample finds them: each must still show once.
    with real_group(f"vwm-overlay-test-{os.getpid()}-cmd") as group:
        script = (
            f'echo $$ > "{group}/cgroup.procs"; for i in 1 2 3 4 5 6; do sleep 0.1 & done; (setsid sleep 0.3 &); wait'
        )
        args = ("--cgroup", str(group), "--hertz", "40", "--jsonl", "log.jsonl", "--output-dir", "out")
        status, stderr = finish(record(*args, "--", "sh", "-c", script))
    assert status == 0, stderr
    for line, replay in replayed(tmp_path / "log.jsonl"):
        tids = [t.pid for t in tree_tasks(replay.root) if not t.is_stale and t.pid]
        assert len(tids) == len(set(tids)), line
    assert len(processes_named(tmp_path / "log.jsonl", "sleep")) >= 6
    assert list((tmp_path / "out").glob("*.png"))


# Uses a second of CPU (not of wall time: the machine may be busy), then exits.
SPIN = "import time\nwhile time.process_time() < 1.0:\n    pass\n"


def test_a_command_outside_the_group_counts_in_the_trees_cpu(record: Start, tmp_path: Path, reaped: None) -> None:
    # The recorder, and so the command, run outside the group: the group's cpu.stat has none of the command's CPU.
    with real_group(f"vwm-overlay-test-{os.getpid()}-outside") as group:
        sleeper = spawn(join_group_argv(group, ["sleep", "60"]))
        args = ("--cgroup", str(group), "--summary", "summary.json", "--output-dir", "out")
        status, stderr = finish(record(*args, "--", sys.executable, "-c", SPIN))
        sleeper.kill()
    assert status == 0, stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    tree, group_figures = summary["tree"], summary["cgroup"]
    assert tree["cpu_source"] == "samples"
    assert tree["cpu_total_s"] >= 0.95, tree
    assert tree["cpu_total_s"] == round(tree["cpu_user_s"] + tree["cpu_system_s"], 3)
    # The group's own figures are still reported as the group's: its sleeper used next to nothing.
    assert group_figures["path"] == str(group)
    assert group_figures["cpu_user_s"] + group_figures["cpu_system_s"] < 0.5
    assert "sleep" in [c["name"] for c in summary["commands"]]  # the group's process is recorded all the same
