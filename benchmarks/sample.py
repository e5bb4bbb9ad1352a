"""CPU time per sample of a process tree: the engine against floors doing the same reads, and psutil.

    python benchmarks/sample.py [--samples N] [--processes P] [--threads T]

Spawns a tree of P processes with T threads each (default 300 x 10, so 3,001
tasks with the root) and measures, in this one run, the median CPU time of one
``Vmon.sample()`` with STAT, IO, FOLLOW_CHILDREN and FOLLOW_THREADS (what
``record`` asks for), each workload named with its ratios:

- idle tree: nothing in it runs.  Against a floor doing exactly the reads the
  engine does (per process its stat and io, the root's children file, and
  ``/proc/loadavg``), and against one stat pread per process;
- K running: the same tree with K tasks' stat changing (cost grows with K);
- busy tree: every task's stat changes each sample (the engine's kept stat
  bytes are dropped before each sample, so every stat is parsed and every
  thread and children file is read).  Against a floor that reads and parses
  the same files with the same parsers;
- churn: a process forking short-lived children as fast as it can while the
  engine samples at 10 Hz: forks per second sustained, and the engine's CPU
  per sample and per new pid;
- psutil (when installed) on a 1,001-task tree (100 x 10): children(recursive=True),
  then per process in oneshot(): cpu_times, name, cmdline, status,
  io_counters and threads; against the engine idle and on its busy path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

from vwm_overlay.limits import raise_open_files_limit
from vwm_overlay.vmon import ProcWants, SysWants, Task, Vmon, VmonFlags, iter_tree
from vwm_overlay.vmon._parse import parse_children, parse_stat

WANTS = ProcWants.STAT | ProcWants.IO | ProcWants.FOLLOW_CHILDREN | ProcWants.FOLLOW_THREADS

TREE_SCRIPT = r"""
import os, sys, threading
processes, threads = int(sys.argv[1]), int(sys.argv[2])
ready_r, ready_w = os.pipe()
children = []
for _ in range(processes):
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        threading.stack_size(65536)
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

CHURN_SCRIPT = r"""
import os, signal, sys
forks = 0
def done(signum, frame):
    sys.stdout.write(f"{forks}\n")
    sys.stdout.flush()
    os._exit(0)
signal.signal(signal.SIGTERM, done)
sys.stdout.write("ready\n")
sys.stdout.flush()
while True:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    forks += 1
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


def stop_tree(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait()


def cpu_per_call_ms(fn: Callable[[], object], samples: int, before: Callable[[], object] | None = None) -> float:
    """Median CPU time of one call, in ms (CPU time, so other load barely matters)."""
    fn()  # warm up: first calls open files and build state
    times = []
    for _ in range(samples):
        if before is not None:
            before()
        start = time.process_time_ns()
        fn()
        times.append(time.process_time_ns() - start)
    return statistics.median(times) / 1e6


#: A tree's shape as the floors need it: (pid, tids of its threads or [] when single-threaded) per process.
Shape = list[tuple[int, list[int]]]


def shape_of(root: Task) -> Shape:
    return [(task.pid, [t.pid for t in task.threads]) for task, _ in iter_tree(root) if not task.is_thread]


class Reads:
    """Kept fds on the files a floor reads."""

    def __init__(self) -> None:
        self.fds: list[int] = []

    def open(self, path: str) -> int:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.fds.append(fd)
        return fd

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)


class IdleFloor(Reads):
    """Exactly the engine's reads on an idle tree: per process stat and io (compared with the last bytes),
    the root's children file, /proc/loadavg."""

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        root = shape[0][0]
        self.loadavg = self.open("/proc/loadavg")
        self.children = self.open(f"/proc/{root}/task/{root}/children")
        self.pairs = [(self.open(f"/proc/{pid}/stat"), self.open(f"/proc/{pid}/io")) for pid, _ in shape]
        self.last: dict[int, bytes] = {}

    def sample(self) -> None:
        pread = os.pread
        last = self.last
        pread(self.loadavg, 128, 0)
        pread(self.children, 4096, 0)
        for stat_fd, io_fd in self.pairs:
            data = pread(stat_fd, 1024, 0)
            if data != last.get(stat_fd):
                last[stat_fd] = data
            data = pread(io_fd, 512, 0)
            if data != last.get(io_fd):
                last[io_fd] = data


class StatFloor(Reads):
    """One pread of each process's own stat."""

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        self.stat_fds = [self.open(f"/proc/{pid}/stat") for pid, _ in shape]

    def sample(self) -> None:
        pread = os.pread
        for fd in self.stat_fds:
            pread(fd, 1024, 0)


class BusyFloor(Reads):
    """The engine's reads on a tree whose every stat changes, parsed with the engine's parsers: per process
    stat (parsed) and io; per thread stat (parsed), io and children file (parsed); /proc/loadavg."""

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        self.loadavg = self.open("/proc/loadavg")
        self.stat_fds: list[int] = []
        self.io_fds: list[int] = []
        self.children_fds: list[int] = []
        for pid, tids in shape:
            self.stat_fds.append(self.open(f"/proc/{pid}/stat"))
            self.io_fds.append(self.open(f"/proc/{pid}/io"))
            for tid in tids or [pid]:
                base = f"/proc/{pid}/task/{tid}/"
                if tids:
                    self.stat_fds.append(self.open(base + "stat"))
                    self.io_fds.append(self.open(base + "io"))
                self.children_fds.append(self.open(base + "children"))

    def sample(self) -> None:
        pread = os.pread
        pread(self.loadavg, 128, 0)
        for fd in self.stat_fds:
            parse_stat(pread(fd, 1024, 0))
        for fd in self.io_fds:
            pread(fd, 512, 0)
        for fd in self.children_fds:
            parse_children(pread(fd, 4096, 0))


def _tasks(vmon: Vmon) -> Iterator[Task]:
    for top in vmon.processes:
        for task, _ in iter_tree(top):
            yield task


def drop_kept_stat(vmon: Vmon, processes_n: int | None = None) -> Callable[[], None]:
    """Make every task's stat differ from what the engine kept, as a running task's does (its times, the CPU
    it last ran on): the busy path for all; or for the first ``processes_n`` processes and their threads."""
    tasks = list(_tasks(vmon))
    if processes_n is not None:
        chosen = [t for t in tasks if not t.is_thread][:processes_n]
        tasks = [t for t in tasks if (t.parent if t.is_thread else t) in chosen]

    def drop() -> None:
        for task in tasks:
            task._engine.stat_raw = b""
            if task.stat is not None:
                task.stat.processor = -1  # a field that moved, to store and flag

    return drop


def _floor_ms(floor: IdleFloor | StatFloor | BusyFloor, samples: int) -> float:
    try:
        return cpu_per_call_ms(floor.sample, samples)
    finally:
        floor.close()


def measure_tree(processes_n: int, threads_n: int, samples: int) -> None:
    tree = spawn_tree(processes_n, threads_n)
    try:
        vmon = Vmon(VmonFlags.TWO_PASS, SysWants.NONE, WANTS)
        root = vmon.monitor(tree.pid)
        for _ in range(3):
            vmon.sample()
        shape = shape_of(root)
        tasks = sum(max(len(tids), 1) for _, tids in shape)
        idle_ms = cpu_per_call_ms(vmon.sample, samples)
        some = [max(1, processes_n // 30), max(1, processes_n // 3)]
        some_ms = [cpu_per_call_ms(vmon.sample, samples, before=drop_kept_stat(vmon, n)) for n in some]
        busy_ms = cpu_per_call_ms(vmon.sample, samples, before=drop_kept_stat(vmon))
        vmon.close()
        # The floors keep as many fds as the engine: one at a time, the engine's closed.
        idle_floor_ms = _floor_ms(IdleFloor(shape), samples)
        stat_floor_ms = _floor_ms(StatFloor(shape), samples)
        busy_floor_ms = _floor_ms(BusyFloor(shape), samples)
    finally:
        stop_tree(tree)
    print(f"idle tree, {processes_n} processes x {threads_n} threads under a root ({tasks} tasks):")
    print(f"  vmon {idle_ms:.3f} ms/sample; same-reads floor {idle_floor_ms:.3f} ms; stat floor {stat_floor_ms:.3f} ms")
    print(f"  vmon/same-reads={idle_ms / idle_floor_ms:.2f} vmon/stat-pread-per-process={idle_ms / stat_floor_ms:.2f}")
    print("the same tree with K processes (and their threads) running, the others idle:")
    for n, ms in zip(some, some_ms, strict=True):
        ran = n * threads_n
        print(f"  K={ran} tasks: vmon {ms:.3f} ms/sample, {(ms - idle_ms) * 1000 / ran:.1f} us more per task that ran")
    print(f"busy tree (every task's stat changes each sample), {tasks} tasks:")
    print(f"  vmon {busy_ms:.3f} ms/sample; read-and-parse floor {busy_floor_ms:.3f} ms")
    print(f"  vmon/read-and-parse={busy_ms / busy_floor_ms:.2f}")


def measure_churn(duration_s: float) -> None:
    churner = subprocess.Popen([sys.executable, "-c", CHURN_SCRIPT], stdout=subprocess.PIPE, text=True)
    try:
        assert churner.stdout is not None
        churner.stdout.readline()
        with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, WANTS) as vmon:
            vmon.monitor(churner.pid)
            vmon.sample()
            cpu_ns = 0
            count = 0
            start_s = time.monotonic()
            while time.monotonic() - start_s < duration_s:
                time.sleep(0.1)
                before = time.process_time_ns()
                vmon.sample()
                cpu_ns += time.process_time_ns() - before
                count += 1
            churner.terminate()
            forks = int(churner.stdout.readline())
            wall_s = time.monotonic() - start_s
    finally:
        churner.kill()
        churner.wait()
    print(f"churn (a process forking short-lived children), {count} samples at 10 Hz:")
    print(f"  {forks / wall_s:.0f} forks/s sustained; vmon {cpu_ns / count / 1e6:.3f} ms/sample")


def measure_psutil(samples: int) -> None:
    try:
        import psutil
    except ImportError:
        print("psutil: not installed, skipped")
        return
    tree = spawn_tree(100, 10)
    try:
        root = psutil.Process(tree.pid)

        def psutil_sample() -> object:
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

        with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, WANTS) as vmon:
            vmon.monitor(tree.pid)
            for _ in range(3):
                vmon.sample()
            idle_ms = cpu_per_call_ms(vmon.sample, samples)
            busy_ms = cpu_per_call_ms(vmon.sample, samples, before=drop_kept_stat(vmon))
        psutil_ms = cpu_per_call_ms(psutil_sample, max(5, samples // 4))
    finally:
        stop_tree(tree)
    print("psutil on an idle tree of 100 processes x 10 threads (psutil reads everything each time):")
    print(f"  psutil {psutil_ms:.3f} ms/sample; vmon idle {idle_ms:.3f} ms, busy path {busy_ms:.3f} ms")
    print(f"  psutil/vmon-idle={psutil_ms / idle_ms:.2f} psutil/vmon-busy={psutil_ms / busy_ms:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--processes", type=int, default=300)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--churn-s", type=float, default=3.0)
    args = parser.parse_args()
    raise_open_files_limit()
    measure_tree(args.processes, args.threads, args.samples)
    measure_churn(args.churn_s)
    measure_psutil(args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
