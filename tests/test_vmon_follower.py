"""The tree follower alone, on a fake procfs: which processes' children files the new pids call for."""

from __future__ import annotations

from pathlib import Path

from proc_helpers import current
from test_vmon_errors import fake_proc, fake_stat

from vwm_overlay.vmon import FileTable
from vwm_overlay.vmon._cycle import Cycle
from vwm_overlay.vmon._follower import TreeFollower
from vwm_overlay.vmon._kept import kept
from vwm_overlay.vmon._procfs import ProcFS
from vwm_overlay.vmon._table import TaskTable


def _loadavg(root: Path, last_pid: int) -> None:
    (root / "loadavg").write_text(f"0.00 0.01 0.05 1/120 {last_pid}\n")


def test_only_new_pids_are_looked_at_and_name_their_parent(tmp_path: Path) -> None:
    root = Path(fake_proc(tmp_path, {100: fake_stat(100, 1), 200: fake_stat(200, 1)}))
    _loadavg(root, 500)
    with ProcFS(str(root)) as procfs:
        cycle = Cycle(0)
        table = TaskTable(procfs, FileTable(), cycle, owner=None)
        follower = TreeFollower(table, cycle, children_files=True)
        parent = table.create(100, None, is_thread=False, born=1)
        other = table.create(200, None, is_thread=False, born=1)
        assert parent is not None and other is not None
        follower.scan_new_pids()  # the first look: nothing to compare with
        assert not current(follower).all_children and not kept(parent).force_children

        # Two pids allocated: one visible (a child of 100), one not yet.
        (root / "501").mkdir()
        (root / "501" / "stat").write_bytes(fake_stat(501, 100))
        _loadavg(root, 502)
        follower.scan_new_pids()
        assert kept(parent).force_children and not kept(other).force_children
        kept(parent).force_children = False

        # The counter did not move, but the pid not visible then is looked at once more.
        (root / "502").mkdir()
        (root / "502" / "stat").write_bytes(fake_stat(502, 200))
        follower.scan_new_pids()
        assert kept(other).force_children and not kept(parent).force_children

        # Too many new pids, or a wrapped counter: every children file is read instead.
        _loadavg(root, 5000)
        follower.scan_new_pids()
        assert current(follower).all_children
        _loadavg(root, 301)
        follower.scan_new_pids()
        assert current(follower).all_children
        follower.scan_new_pids()
        assert not current(follower).all_children
        follower.close()


def test_without_loadavg_every_children_file_is_read(tmp_path: Path) -> None:
    root = fake_proc(tmp_path, {100: fake_stat(100, 1)})
    with ProcFS(root) as procfs:
        cycle = Cycle(0)
        follower = TreeFollower(TaskTable(procfs, FileTable(), cycle, owner=None), cycle, children_files=True)
        follower.scan_new_pids()
        assert current(follower).all_children


def test_without_an_fd_to_keep_loadavg_is_read_open_read_close(tmp_path: Path) -> None:
    root = fake_proc(tmp_path, {100: fake_stat(100, 1)})
    _loadavg(Path(root), 500)
    with ProcFS(root, budget=0) as procfs:
        cycle = Cycle(0)
        follower = TreeFollower(TaskTable(procfs, FileTable(), cycle, owner=None), cycle, children_files=True)
        follower.scan_new_pids()
        follower.scan_new_pids()
        # The last pid was read all the same: no need to read every children file.
        assert not current(follower).all_children and procfs.kept == 0
        follower.close()
