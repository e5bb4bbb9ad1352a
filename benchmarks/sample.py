"""CPU time per sample of a process tree: vmon against the raw floor and psutil.

    python benchmarks/sample.py [--samples N] [--processes P] [--threads T]

Spawns a tree of P processes with T threads each (default 100 x 10, so 1,001
tasks with the root) and measures, in this one run, the CPU time of one
sample of that tree taken three ways:

- floor: a bare loop over kept-open fds that preads each task's stat and
  children file and lists task/ once per process: the least any sampler of
  this tree by /proc can do;
- vmon: ``Vmon.sample()`` with STAT, IO, FOLLOW_CHILDREN and FOLLOW_THREADS;
- psutil: children(recursive=True), then per process in oneshot(): cpu_times,
  name, cmdline, status, io_counters and threads.

Then the same for a small tree (a shell with five children).  The last line
is ``vmon/floor=R psutil/vmon=R`` for the big tree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from vwm_overlay.vmon import ProcWants, SysWants, Vmon, VmonFlags

TREE_SCRIPT = r"""
import os, sys, threading, time
processes, threads = int(sys.argv[1]), int(sys.argv[2])
ready_r, ready_w = os.pipe()
children = []
for _ in range(processes):
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        stop = threading.Event()
        for _ in range(threads - 1):
            threading.Thread(target=stop.wait, daemon=True).start()
        os.write(ready_w, b"x")
        os.close(ready_w)
        stop.wait()
        os._exit(0)
    children.append(pid)
os.close(ready_w)
got = 0
while got < processes:
    got += len(os.read(ready_r, processes))
sys.stdout.write("ready\n")
sys.stdout.flush()
sys.stdin.read()
for pid in children:
    os.kill(pid, 9)
"""


def spawn_tree(processes: int, threads: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", TREE_SCRIPT, str(processes), str(threads)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise SystemExit("the benchmark tree did not start")
    return proc


def spawn_shell_tree(children: int) -> subprocess.Popen[str]:
    script = " ".join(["sleep 1000 &"] * children) + " echo ready; wait"
    proc = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()
    deadline = time.monotonic() + 10
    while len(_children_of(proc.pid)) < children:
        if time.monotonic() > deadline:
            raise SystemExit("the small tree did not start")
        time.sleep(0.01)
    return proc


def _children_of(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
        return [int(p) for p in f.read().split()]


def cpu_per_call_ms(fn: Callable[[], object], samples: int) -> float:
    """Median CPU time of one call, in ms (CPU time, so other load barely matters)."""
    fn()  # warm up: first calls open files and build state
    times = []
    for _ in range(samples):
        start = time.process_time_ns()
        fn()
        times.append(time.process_time_ns() - start)
    return statistics.median(times) / 1e6


class Floor:
    """The raw floor: kept fds, one pread of stat and children per task, one task/ listing per process."""

    def __init__(self, root_pid: int) -> None:
        self.stat_fds: list[int] = []
        self.children_fds: list[int] = []
        self.task_dirs: list[str] = []
        for pid in [root_pid, *_children_of(root_pid)]:
            self.task_dirs.append(f"/proc/{pid}/task")
            self.stat_fds.append(os.open(f"/proc/{pid}/stat", os.O_RDONLY))
            for tid in os.listdir(f"/proc/{pid}/task"):
                self.stat_fds.append(os.open(f"/proc/{pid}/task/{tid}/stat", os.O_RDONLY))
                self.children_fds.append(os.open(f"/proc/{pid}/task/{tid}/children", os.O_RDONLY))

    def sample(self) -> None:
        pread = os.pread
        for fd in self.stat_fds:
            pread(fd, 1024, 0)
        for fd in self.children_fds:
            pread(fd, 4096, 0)
        for path in self.task_dirs:
            os.listdir(path)

    def close(self) -> None:
        for fd in self.stat_fds + self.children_fds:
            os.close(fd)


def psutil_sampler(root_pid: int) -> Callable[[], object]:
    import psutil

    root = psutil.Process(root_pid)

    def sample() -> object:
        out = []
        for proc in [root, *root.children(recursive=True)]:
            try:
                with proc.oneshot():
                    out.append(
                        (
                            proc.cpu_times(),
                            proc.name(),
                            proc.cmdline(),
                            proc.status(),
                            proc.io_counters(),
                            proc.threads(),
                        )
                    )
            except psutil.NoSuchProcess:
                pass
        return out

    return sample


def measure(root_pid: int, samples: int, label: str) -> tuple[float, float, float]:
    wants = ProcWants.STAT | ProcWants.IO | ProcWants.FOLLOW_CHILDREN | ProcWants.FOLLOW_THREADS
    vmon = Vmon(VmonFlags.TWO_PASS, SysWants.STAT, wants)
    vmon.monitor(root_pid)
    vmon.sample()
    tasks = sum(1 + len(p.threads) for p in _walk(vmon.processes))
    floor = Floor(root_pid)
    floor_ms = cpu_per_call_ms(floor.sample, samples)
    vmon_ms = cpu_per_call_ms(vmon.sample, samples)
    psutil_ms = cpu_per_call_ms(psutil_sampler(root_pid), max(5, samples // 4))
    floor.close()
    vmon.close()
    print(f"{label}: {tasks} tasks")
    print(f"  floor   {floor_ms:8.3f} ms/sample")
    print(f"  vmon    {vmon_ms:8.3f} ms/sample  ({vmon_ms * 1000 / tasks:.2f} us/task)")
    print(f"  psutil  {psutil_ms:8.3f} ms/sample")
    print(f"  vmon/floor={vmon_ms / floor_ms:.2f} psutil/vmon={psutil_ms / vmon_ms:.2f}")
    return floor_ms, vmon_ms, psutil_ms


def _walk(tasks: list) -> list:  # type: ignore[type-arg]
    out = []
    stack = list(tasks)
    while stack:
        task = stack.pop()
        out.append(task)
        stack.extend(task.children)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--processes", type=int, default=100)
    parser.add_argument("--threads", type=int, default=10)
    args = parser.parse_args()

    small = spawn_shell_tree(5)
    try:
        measure(small.pid, args.samples, "small tree (a shell with five children)")
    finally:
        small.kill()
        small.wait()

    big = spawn_tree(args.processes, args.threads)
    try:
        floor_ms, vmon_ms, psutil_ms = measure(
            big.pid, args.samples, f"{args.processes} processes x {args.threads} threads"
        )
    finally:
        assert big.stdin is not None
        big.stdin.close()
        big.wait()
    print(f"vmon/floor={vmon_ms / floor_ms:.2f} psutil/vmon={psutil_ms / vmon_ms:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
