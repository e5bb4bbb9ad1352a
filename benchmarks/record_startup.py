"""The recorder's start-up: CPU until signals are taken, and for a whole short run, against the interpreter's own.

    python benchmarks/record_startup.py [--runs 10]

Each figure is the median over ``--runs`` of a child's CPU (utime + stime, from ``wait4``):

- ``python -c pass``: the interpreter alone, the floor of anything written in Python;
- ``import vwm_overlay.cli``: what runs before ``main`` blocks the signals (the only window in which a signal can
  still end the program without its PNG);
- ``import cairocffi``: the drawing library the recorder cannot do without;
- ``record -- true``: a whole recording of a command that exits at once: start-up, a sample, the final PNG.

The last line is ``record_startup_cpu_s=S`` (the whole short run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile


def cpu_s(argv: list[str], cwd: str) -> float:
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited {proc.returncode}")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    python = sys.executable
    cases = {
        "python -c pass": [python, "-c", "pass"],
        "import vwm_overlay.cli": [python, "-c", "import vwm_overlay.cli"],
        "import cairocffi": [python, "-c", "import cairocffi"],
        "record -- true": [python, "-m", "vwm_overlay", "record", "--output-dir", "out", "--", "true"],
    }
    with tempfile.TemporaryDirectory() as cwd:
        medians = {name: statistics.median(cpu_s(argv, cwd) for _ in range(args.runs)) for name, argv in cases.items()}
    floor = medians["python -c pass"]
    for name, value in medians.items():
        print(f"{name:<24} {value * 1000:7.1f} ms CPU  {value / floor:5.2f}x the interpreter alone")
    print(f"signals taken after {medians['import vwm_overlay.cli'] * 1000:.1f} ms of CPU")
    print(f"record_startup_cpu_s={medians['record -- true']:.3f}")


if __name__ == "__main__":
    main()
