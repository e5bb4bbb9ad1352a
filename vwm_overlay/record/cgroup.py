"""``--cgroup PATH`` / ``--unit NAME``: follow every process of a cgroup v2 group, even those that left the
command's tree (a daemon that double-forked is reparented away, but stays in its group).

Each sample the group's ``cgroup.procs`` is read (one kept fd, read to EOF) and every process not yet in the
monitored trees becomes a new top-level root; roots that left the group are let go.  The recording's chart and log
show one tree: a row for the group, and under it each root's tree.  The group's own totals (``cpu.stat`` over the
run, ``memory.peak`` where the kernel has it) go to the summary, which takes the group's CPU for the tree's only
when every recorded process was in the group (or a group below it): a command run outside the group, say, is in no
figure of the group's.

A group is a directory with a ``cgroup.procs`` file: PATH is taken as it is when it is one, otherwise inside the
cgroup2 mount found in ``/proc/mounts``.  A unit's group comes from ``systemctl show -p ControlGroup``, or, where
systemd does not answer, from the first directory of that name in the cgroup2 tree.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections import deque

from ..errors import TaskGone, UsageError
from ..vmon import Task, TaskStat, Vmon
from ._processes import iter_processes

__all__ = ["CgroupFollower", "find_cgroup2_mount", "group_root", "read_cpu_stat", "resolve_group"]

#: How deep to look for a unit's directory when systemd cannot be asked.
UNIT_SEARCH_DEPTH = 6


def find_cgroup2_mount(mounts_path: str = "/proc/mounts") -> str | None:
    """Where the cgroup v2 hierarchy is mounted (``/sys/fs/cgroup``, or ``.../unified`` in the hybrid layout)."""
    try:
        with open(mounts_path, encoding="utf-8", errors="replace") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) >= 3 and fields[2] == "cgroup2":
                    return fields[1].replace("\\040", " ")
    except OSError:
        return None
    return None


def _is_group(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "cgroup.procs"))


def resolve_group(cgroup: str | None, unit: str | None, *, mounts_path: str = "/proc/mounts") -> str:
    """The directory of the group named by ``--cgroup`` or ``--unit``; a :class:`UsageError` when there is none."""
    if cgroup is not None and _is_group(cgroup):
        return cgroup
    mount = find_cgroup2_mount(mounts_path)
    if mount is None:
        what = f"--cgroup {cgroup!r}" if cgroup is not None else f"--unit {unit!r}"
        raise UsageError(f"{what}: no cgroup v2 hierarchy is mounted (no cgroup2 line in {mounts_path})")
    if cgroup is not None:
        path = os.path.join(mount, cgroup.lstrip("/"))
        if not _is_group(path):
            raise UsageError(f"--cgroup {cgroup!r}: no such cgroup (looked in {mount})")
        return path
    assert unit is not None
    name = unit if "." in unit else f"{unit}.service"
    found = _unit_from_systemd(name, mount) or _unit_by_search(name, mount)
    if found is None:
        raise UsageError(f"--unit {unit!r}: no cgroup for it (systemd did not say, and none is named {name!r})")
    return found


def _unit_from_systemd(name: str, mount: str) -> str | None:
    try:
        shown = subprocess.run(
            ["systemctl", "show", "--property=ControlGroup", "--value", name],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    relative = shown.stdout.strip()
    if shown.returncode != 0 or not relative:
        return None
    path = os.path.join(mount, relative.lstrip("/"))
    return path if _is_group(path) else None


def _unit_by_search(name: str, mount: str) -> str | None:
    # Breadth first: a unit's group sits near the top (system.slice/NAME, user.slice/.../NAME).
    queue = deque([(mount, 0)])
    while queue:
        directory, depth = queue.popleft()
        try:
            entries = sorted(e.name for e in os.scandir(directory) if e.is_dir(follow_symlinks=False))
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(directory, entry)
            if entry == name and _is_group(path):
                return path
            if depth + 1 < UNIT_SEARCH_DEPTH:
                queue.append((path, depth + 1))
    return None


def read_cpu_stat(path: str) -> dict[str, int]:
    """``cpu.stat`` of the group at ``path`` (``usage_usec``, ``user_usec``, ``system_usec``...); {} if unreadable."""
    try:
        with open(os.path.join(path, "cpu.stat"), encoding="ascii") as stat:
            return {key: int(value) for key, value in (line.split() for line in stat if line.strip())}
    except (OSError, ValueError):
        return {}


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as file:
            return int(file.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _name_in_hierarchy(path: str) -> str | None:
    """``/system.slice/x.service`` for the group at ``path``: its name in ``/proc/PID/cgroup``."""
    mount = find_cgroup2_mount()
    if mount is None:
        return None
    relative = os.path.relpath(os.path.realpath(path), os.path.realpath(mount))
    if relative == ".." or relative.startswith("../"):
        return None
    return "/" if relative == "." else "/" + relative


def _group_of(pid: int) -> str | None:
    """The cgroup v2 group of process ``pid`` (``0::PATH`` in ``/proc/PID/cgroup``); "" when it has none, None when
    the process is gone."""
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8", errors="surrogateescape") as groups:
            for line in groups:
                if line.startswith("0::"):
                    return line[3:].rstrip("\n")
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return ""
    return ""


def group_root(name: str, start_ticks: int = 0) -> Task:
    """The chart's and the log's row for the group: not a process, never sampled, holding the group's roots;
    its start (boot-time ticks) is the recording's, so its wall time is the recording's."""
    root = Task(0)
    stat = root.stat = TaskStat()
    stat.start_ticks = start_ticks
    stat.comm = name
    stat.argv = (name,)
    stat.state = "S"
    stat.num_threads = 1
    return root


class CgroupFollower:
    """Keeps every process of one group monitored, under :attr:`root`."""

    def __init__(self, path: str, vmon: Vmon, *, name: str | None = None) -> None:
        self.path = path
        self._vmon = vmon
        try:
            self._procs_fd = os.open(os.path.join(path, "cgroup.procs"), os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            raise UsageError(f"cannot read the cgroup {path!r}: {err.strerror}") from None
        start_ticks = int(time.clock_gettime(time.CLOCK_BOOTTIME) * vmon.ticks_per_s)
        self.root = group_root(name or os.path.basename(path.rstrip("/")) or path, start_ticks)
        #: Roots this follower monitored, by pid.
        self._roots: dict[int, Task] = {}
        #: The group was removed (its unit stopped): nothing more will join it.
        self.gone = False
        self._cpu_start = read_cpu_stat(path)
        #: Every process recorded so far was in the group or below it, so the group's figures cover them all.
        self.holds_every_process = True
        #: The group as ``/proc/PID/cgroup`` names it, or None when it is not in the cgroup2 hierarchy.
        self._name_in_hierarchy = _name_in_hierarchy(path)
        #: Recorded processes not listed in the group's ``cgroup.procs`` but in a group below it.
        self._below: set[Task] = set()

    def sync(self) -> None:
        """Before a sample: the group's new processes join, the roots that left are let go."""
        root = self.root
        if root.is_new and root.generation:
            root.is_new = False
        root.generation += 1
        # Roots shown stale in the last sample leave the tree now (the engine already dropped them).
        if any(task.is_stale for task in root.children):
            root.children[:] = [task for task in root.children if not task.is_stale]
            root.children_changed = True
        pids = self._read_pids()
        if pids is None:
            return
        members = set(pids)
        if self.holds_every_process:
            self._check_members(members)
        vmon = self._vmon
        for pid in pids:
            known = vmon.find(pid)
            if known is not None and not known.is_stale:
                continue  # in a monitored tree already
            try:
                task = vmon.monitor(pid)
            except TaskGone:
                continue  # gone since the group listed it
            self._roots[pid] = task
            if task not in root.children:
                root.children.append(task)
                root.children_changed = True
        for pid, task in list(self._roots.items()):
            if task.is_stale:
                del self._roots[pid]
            elif pid not in members:
                # Moved to another group: no longer ours to follow.
                del self._roots[pid]
                vmon.unmonitor(task)
                if task in root.children:
                    root.children.remove(task)
                    root.children_changed = True

    def _check_members(self, members: set[int]) -> None:
        """Whether the processes recorded so far (the command's included) are all in the group; once one is not,
        the answer stays no (what it used is in no figure of the group's)."""
        if self._below:
            self._below = {task for task in self._below if not task.is_stale}
        for process in iter_processes(self.root.children):
            if process.is_stale or process.pid in members or process in self._below:
                continue
            group = _group_of(process.pid)
            if group is None:
                continue  # exited since the last sample: it was listed then
            inside = self._name_in_hierarchy
            if inside is not None and (inside == "/" or group == inside or group.startswith(inside + "/")):
                self._below.add(process)
            else:
                self.holds_every_process = False
                self._below.clear()
                return

    def prune(self) -> None:
        """After a sample: roots the engine moved into another monitored tree (a process forked between two
        samples is listed by the group before its parent's sample finds it) are shown there only."""
        root = self.root
        for pid, task in list(self._roots.items()):
            if task.parent is not None:
                del self._roots[pid]
                self._vmon.unmonitor(task)  # the tree it joined holds its own reference
        # The recorded command too, when its parent (the recorder) is in the group.
        if any(task.parent is not None for task in root.children):
            root.children[:] = [task for task in root.children if task.parent is None]
            root.children_changed = True

    def adopt(self, task: Task) -> None:
        """The recorded command's tree, shown under the group's row too."""
        if task not in self.root.children:
            self.root.children.insert(0, task)

    def totals(self) -> dict[str, object]:
        """The group's own figures over the run, for the summary."""
        result: dict[str, object] = {"path": self.path}
        end = read_cpu_stat(self.path)
        if "user_usec" in end and "user_usec" in self._cpu_start:
            result["cpu_user_s"] = round((end["user_usec"] - self._cpu_start["user_usec"]) / 1e6, 3)
            result["cpu_system_s"] = round((end["system_usec"] - self._cpu_start.get("system_usec", 0)) / 1e6, 3)
        peak = _read_int(os.path.join(self.path, "memory.peak"))
        if peak is not None:
            result["memory_peak_bytes"] = peak
        return result

    def close(self) -> None:
        if self._procs_fd >= 0:
            os.close(self._procs_fd)
            self._procs_fd = -1

    def _read_pids(self) -> list[int] | None:
        chunks: list[bytes] = []
        offset = 0
        try:
            while chunk := os.pread(self._procs_fd, 65536, offset):
                chunks.append(chunk)
                offset += len(chunk)
        except OSError as err:
            if err.errno in (errno.ENODEV, errno.ENOENT):
                self.gone = True  # the group was removed
            return None
        try:
            return [int(word) for word in b"".join(chunks).split()]
        except ValueError:
            return None
