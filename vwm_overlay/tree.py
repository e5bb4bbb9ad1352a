"""``vwm-overlay tree``: print a process tree with CPU and IO, once per sample."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from .errors import TaskGone, UsageError
from .units import format_bytes
from .vmon import ProcWants, SysWants, Task, Vmon, VmonFlags, iter_tree

__all__ = ["TreePrinter", "printable", "run_tree"]

TREE_WANTS = ProcWants.STAT | ProcWants.IO | ProcWants.FOLLOW_CHILDREN | ProcWants.FOLLOW_THREADS


class TreePrinter:
    """Formats the tree under a task, with rates since the previous call."""

    def __init__(self, ticks_per_s: int) -> None:
        self.ticks_per_s = ticks_per_s
        # task -> (cpu ticks, read bytes, write bytes) at the previous call
        self._last: dict[Task, tuple[int, int, int]] = {}

    def lines(self, root: Task, elapsed_s: float) -> list[str]:
        out = [f"{'PID':>7} S {'CPU%':>6} {'READ/s':>9} {'WRITE/s':>9}  COMMAND"]
        seen: dict[Task, tuple[int, int, int]] = {}
        for task, depth in iter_tree(root, include_stale=False):
            stat = task.stat
            if stat is None:
                continue
            cpu_ticks = stat.utime_ticks + stat.stime_ticks
            if not task.is_thread:
                # Children that ran and exited between samples: their time.
                cpu_ticks += task.unseen_cutime_ticks + task.unseen_cstime_ticks
            io = task.io
            read_bytes = io.read_bytes if io is not None else -1
            write_bytes = io.write_bytes if io is not None else -1
            now = (cpu_ticks, read_bytes, write_bytes)
            seen[task] = now
            before = self._last.get(task)
            if before is None or elapsed_s <= 0:
                cpu = "-"
                read_rate = write_rate = "-"
            else:
                used_ticks = stat.utime_ticks + stat.stime_ticks - before[0]
                if not task.is_thread:
                    used_ticks += task.unseen_cutime_ticks + task.unseen_cstime_ticks
                cpu = f"{100.0 * used_ticks / self.ticks_per_s / elapsed_s:.1f}%"
                read_rate = _rate(read_bytes, before[1], elapsed_s)
                write_rate = _rate(write_bytes, before[2], elapsed_s)
            if task.is_thread:
                name = "~" + (stat.comm or "?")
            else:
                name = " ".join(stat.argv) if stat.argv else f"[{stat.comm or '?'}]"
            name = printable(name)
            out.append(f"{task.pid:>7} {stat.state} {cpu:>6} {read_rate:>9} {write_rate:>9}  {'  ' * depth}{name}")
            # Keep the cumulative values, not including this sample's unseen part twice.
            seen[task] = (stat.utime_ticks + stat.stime_ticks, read_bytes, write_bytes)
        self._last = seen
        return out


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on (escape sequences, newlines, bidi controls) shown
    as ``?``, as ``ps`` does: another user's argv must not reach the terminal raw."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else "?" for c in text)


def _rate(now: int, before: int, elapsed_s: float) -> str:
    if now < 0 or before < 0:
        return "n/a"
    return format_bytes(max(0, now - before) / elapsed_s) + "/s"


def run_tree(
    pid: int,
    interval_s: float,
    count: int | None,
    out: TextIO,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Sample ``count`` times (forever when None), printing the tree each time."""
    if interval_s <= 0:
        raise UsageError("--interval must be positive")
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, TREE_WANTS) as vmon:
        try:
            root = vmon.monitor(pid)
        except TaskGone:
            raise UsageError(f"no such process: {pid}") from None
        printer = TreePrinter(vmon.ticks_per_s)
        vmon.sample()
        printer.lines(root, 0.0)  # the baseline the first rates are taken against
        last_s = clock()
        printed = 0
        while count is None or printed < count:
            deadline = last_s + interval_s
            while (remaining_s := deadline - clock()) > 0:
                sleep(remaining_s)
            vmon.sample()
            now_s = clock()
            if root.is_stale:
                print(f"# process {pid} exited", file=out, flush=True)
                return 0
            lines = printer.lines(root, now_s - last_s)
            last_s = now_s
            printed += 1
            print(f"# sample {printed}", file=out)
            print("\n".join(lines), file=out, flush=True)
    return 0
