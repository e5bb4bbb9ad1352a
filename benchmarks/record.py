"""The recorder's own CPU while it charts a big tree: ``record --pid`` at 10 Hz on 100 processes x 10 threads.

    python benchmarks/record.py [--seconds 20] [--hertz 10] [--processes 100] [--threads 10] [--profile FILE] [--jsonl]

Spawns the tree (1,001 tasks with its root), runs ``vwm-overlay record --pid ROOT`` on it with stderr on a
pseudo-terminal (so its progress line says how many samples it took), waits for the first sample, lets it settle
for a second, then measures its CPU (utime + stime from /proc/PID/stat) over ``--seconds``.  Prints that as a
percentage of one core, the samples taken, and the whole run's CPU including start-up and the final PNG (from
``wait4``).  The last line is ``record_cpu_percent=R`` (the steady state; the budget is 12.5).

With ``--jsonl`` the recorder also writes its log; its size is printed: the header and first sample (every task's
identity), and the bytes per sample after them (``log_bytes_per_sample=B``).  Run with and without it for the
log's share of the recorder's CPU.

With ``--profile FILE`` the recorder runs under cProfile on a CPU-time clock (which slows it down: use it for where
the time goes, not for the number) and the time is split into engine sampling, chart update, PNG writing and the rest.
"""

from __future__ import annotations

import argparse
import os
import pstats
import pty
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

from sample import spawn_tree

PROGRESS_RE = re.compile(rb"(\d+) samples\s+(\d+) tasks")

# Runs the command line under cProfile with a CPU-time clock, so time spent waiting for the next sample is not
# counted as if it were work.
PROFILED_MAIN = """
import cProfile, sys, time
from vwm_overlay.cli import main
profile = cProfile.Profile(time.process_time)
status = profile.runcall(main, sys.argv[2:])
profile.dump_stats(sys.argv[1])
sys.exit(status)
"""


class ProgressReader:
    """Drains the recorder's terminal (a full pty would block it) and keeps its latest progress figures."""

    def __init__(self, master_fd: int) -> None:
        self.samples = -1
        self.tasks = -1
        self._fd = master_fd
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(self._fd, 4096)
            except OSError:  # EIO: the recorder closed its end
                return
            if not chunk:
                return
            pending = (pending + chunk)[-512:]
            found = PROGRESS_RE.findall(pending)
            if found:
                self.samples, self.tasks = (int(v) for v in found[-1])


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)


def wait_for(predicate: object, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def print_profile(path: str) -> None:
    stats = pstats.Stats(path)
    entries = stats.stats  # type: ignore[attr-defined]
    total_s = sum(tt for (_, _, tt, _, _) in entries.values())

    def cumulative(name: str, filename_part: str) -> float:
        return float(
            sum(ct for (file, _, func), (_, _, _, ct, _) in entries.items() if func == name and filename_part in file)
        )

    sample_s = cumulative("sample", "vmon/_monitor.py")
    chart_s = cumulative("update", "chart/chart.py")
    png_s = cumulative("write_png", "chart/chart.py")
    loop_s = cumulative("_loop", "record/runner.py")
    engine_s = sample_s - chart_s  # the chart is updated from a callback inside Vmon.sample
    print(f"profile: {total_s:.2f} s of CPU in Python functions")
    for label, seconds in (
        ("engine sampling (Vmon.sample without callbacks)", engine_s),
        ("chart update (Chart.update)", chart_s),
        ("PNG writing (Chart.write_png)", png_s),
        ("recorder loop (waits, signals, progress line)", loop_s - sample_s - png_s),
        ("start-up and the rest", total_s - loop_s),
    ):
        print(f"  {label:48s} {seconds:7.2f} s  {100 * seconds / total_s:5.1f}%")
    print("top functions by own time:")
    stats.sort_stats("tottime").print_stats(15)


def log_line_sizes(path: str) -> list[int]:
    """The size in bytes of each line of the log, header first."""
    with open(path, "rb") as log:
        return [len(line) for line in log]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--hertz", type=int, default=10)
    parser.add_argument("--processes", type=int, default=100)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--profile", metavar="FILE", help="run the recorder under cProfile, write the stats here")
    parser.add_argument("--reports", action="store_true", help="with --summary, --trace and --openmetrics too")
    parser.add_argument("--jsonl", action="store_true", help="also write the log, and print its size per sample")
    args = parser.parse_args()

    tree = spawn_tree(args.processes, args.threads)
    master, slave = pty.openpty()
    with tempfile.TemporaryDirectory(prefix="record-bench-") as out_dir:
        run = (
            [sys.executable, "-c", PROFILED_MAIN, args.profile]
            if args.profile
            else [sys.executable, "-m", "vwm_overlay"]
        )
        record = ["record", "--pid", str(tree.pid), "--hertz", str(args.hertz), "--output-dir", out_dir]
        if args.reports:
            for option, name in (("--summary", "s.json"), ("--trace", "t.json"), ("--openmetrics", "m.prom")):
                record += [option, os.path.join(out_dir, name)]
        log_path = os.path.join(out_dir, "run.jsonl")
        if args.jsonl:
            record += ["--jsonl", log_path]
        recorder = subprocess.Popen(
            [*run, *record],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=slave,
        )
        os.close(slave)
        progress = ProgressReader(master)
        try:
            wait_for(lambda: progress.samples >= 1, "the recorder's first sample")
            time.sleep(1.0)  # settle: the first samples open every task's files
            ticks_per_s = os.sysconf("SC_CLK_TCK")
            cpu0, t0, samples0 = cpu_ticks(recorder.pid), time.monotonic(), progress.samples
            time.sleep(args.seconds)
            cpu1, t1, samples1 = cpu_ticks(recorder.pid), time.monotonic(), progress.samples
            recorder.send_signal(signal.SIGTERM)
            _, status, rusage = os.wait4(recorder.pid, 0)
            recorder.returncode = os.waitstatus_to_exitcode(status)
            pngs = [name for name in os.listdir(out_dir) if name.endswith(".png")]
            log_sizes = log_line_sizes(log_path) if args.jsonl else []
        finally:
            if recorder.poll() is None:
                recorder.kill()
                recorder.wait()
            assert tree.stdin is not None
            tree.stdin.close()
            tree.wait()
            os.close(master)

    wall_s = t1 - t0
    samples = samples1 - samples0
    steady = 100.0 * (cpu1 - cpu0) / ticks_per_s / wall_s
    per_sample_ms = 1000.0 * (cpu1 - cpu0) / ticks_per_s / max(samples, 1)
    whole_s = rusage.ru_utime + rusage.ru_stime
    print(f"tree: {args.processes} processes x {args.threads} threads; charted tasks: {progress.tasks}")
    print(f"recorder: {samples} samples in {wall_s:.1f} s at {args.hertz} Hz (nominal {wall_s * args.hertz:.0f})")
    print(f"recorder CPU, steady state: {steady:.1f}% of one core ({per_sample_ms:.1f} ms per sample)")
    print(
        f"recorder CPU, whole run: {whole_s:.2f} s for {progress.samples} samples, with start-up and "
        f"{len(pngs)} final PNG (exit {recorder.returncode})"
    )
    if log_sizes:
        later = log_sizes[2:]
        per_sample = sum(later) / max(len(later), 1)
        print(
            f"log: header {log_sizes[0]} B, first sample {log_sizes[1]} B, then {per_sample:.0f} B per sample "
            f"over {len(later)} samples ({per_sample * args.hertz * 3600 / 1e6:.1f} MB per hour at {args.hertz} Hz)"
        )
        print(f"log_bytes_per_sample={per_sample:.0f}")
    if args.profile:
        print_profile(args.profile)
    print(f"record_cpu_percent={steady:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
