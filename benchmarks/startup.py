"""How soon ``vwm-overlay record -- CMD`` starts the command: the recorder's CPU at that instant.

    python benchmarks/startup.py [--runs 15]

Each run records a command that reads its parent's ``/proc/PPID/stat`` (the recorder's utime + stime) as its first
act, so the figure is everything the recorder did before the command ran: interpreter start, imports, option
checks, output files, the engine.  The floor is the same interpreter starting and exiting (``python -c pass``, its
whole CPU from ``wait4``), measured in the same loop.  The whole run of ``record -- true`` (start, one sample, the
final PNG) is given too.  Medians over ``--runs``; the last line is ``record_start_cpu_ms=S``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROGRAM = [sys.executable, "-m", "vwm_overlay"]
# Prints the parent's (the recorder's) utime + stime in clock ticks (its comm, "python", has no space), then exits.
READ_PARENT = "awk '{print $14 + $15}' /proc/$PPID/stat"


def child_cpu_ms(argv: list[str], cwd: str) -> float:
    """CPU (user + system) of one run of ``argv`` and everything it waited for, in ms."""
    before = os.times()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = os.times()
    return 1000 * ((after.children_user - before.children_user) + (after.children_system - before.children_system))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    at_start, whole, floor = [], [], []
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as work:
        out = Path(work, "ticks")
        for _ in range(args.runs):
            command = ["sh", "-c", f"{READ_PARENT} > {out}"]
            subprocess.run(
                [*PROGRAM, "record", "--output-dir", work, "--", *command],
                cwd=work,
                check=True,
                stderr=subprocess.DEVNULL,
            )
            at_start.append(1000 * int(out.read_text()) / ticks_per_s)
            whole.append(child_cpu_ms([*PROGRAM, "record", "--output-dir", work, "--", "true"], work))
            floor.append(child_cpu_ms([sys.executable, "-c", "pass"], work))
    start_ms, whole_ms, floor_ms = (statistics.median(v) for v in (at_start, whole, floor))
    print(f"recorder CPU when the command starts: {start_ms:.0f} ms (median of {args.runs}; ticks of 10 ms)")
    print(f"python starting and exiting (the floor): {floor_ms:.0f} ms: {start_ms / floor_ms:.1f}x the floor")
    print(f"a whole 'record -- true' (start, a sample, the final PNG): {whole_ms:.0f} ms")
    print(f"record_start_cpu_ms={start_ms:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
