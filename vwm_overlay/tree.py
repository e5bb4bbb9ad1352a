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
    """Formats the tree under a task, with the rates of the engine's latest sample."""

    def __init__(self, ticks_per_s: int) -> None:
        self.ticks_per_s = ticks_per_s
        # The tasks printed: counted in their ``shown``, so the engine keeps their state fresh.
        self._shown: set[Task] = set()

    def lines(self, root: Task, elapsed_s: float) -> list[str]:
        out = [f"{'PID':>7} S {'CPU%':>6} {'READ/s':>9} {'WRITE/s':>9}  COMMAND"]
        shown: set[Task] = set()
        for task, depth in iter_tree(root, include_stale=False):
            shown.add(task)
            stat = task.stat
            if stat is None:
                continue
            # The engine's deltas: a process's own use plus what its children
            # used unseen (those that exited between samples).
            delta = task.delta
            if delta.baseline or elapsed_s <= 0:
                cpu = "-"
                read_rate = write_rate = "-"
            else:
                used_ticks = (
                    delta.utime_ticks + delta.stime_ticks + delta.children_utime_ticks + delta.children_stime_ticks
                )
                cpu = f"{100.0 * used_ticks / self.ticks_per_s / elapsed_s:.1f}%"
                known_io = task.io is not None
                read_rate = _rate(delta.read_bytes + delta.children_read_bytes, known_io, elapsed_s)
                write_rate = _rate(delta.write_bytes + delta.children_write_bytes, known_io, elapsed_s)
            if task.is_thread:
                name = "~" + (stat.comm or "?")
            else:
                name = " ".join(stat.argv) if stat.argv else f"[{stat.comm or '?'}]"
            name = printable(name)
            out.append(f"{task.pid:>7} {stat.state} {cpu:>6} {read_rate:>9} {write_rate:>9}  {'  ' * depth}{name}")
        self._show(shown)
        return out

    def _show(self, tasks: set[Task]) -> None:
        for task in tasks - self._shown:
            task.shown += 1
        for task in self._shown - tasks:
            task.shown -= 1
        self._shown = tasks


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on (escape sequences, newlines, bidi controls) shown
    as ``?``, as ``ps`` does: another user's argv must not reach the terminal raw."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else "?" for c in text)


def _rate(used: int, known: bool, elapsed_s: float) -> str:
    if not known:
        return "n/a"
    return format_bytes(max(0, used) / elapsed_s) + "/s"


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
    with Vmon(VmonFlags.TWO_PASS, SysWants.NONE, TREE_WANTS, clock=clock) as vmon:
        try:
            root = vmon.monitor(pid)
        except TaskGone:
            raise UsageError(f"no such process: {pid}") from None
        printer = TreePrinter(vmon.ticks_per_s)
        vmon.sample()  # the baseline the first rates are taken against
        printer.lines(root, 0.0)  # and the tasks to show
        last_s = clock()
        printed = 0
        while count is None or printed < count:
            deadline = last_s + interval_s
            while (remaining_s := deadline - clock()) > 0:
                sleep(remaining_s)
            vmon.sample()
            if root.is_stale:
                print(f"# process {pid} exited", file=out, flush=True)
                return 0
            lines = printer.lines(root, vmon.elapsed_s)
            last_s = clock()
            printed += 1
            print(f"# sample {printed}", file=out)
            print("\n".join(lines), file=out, flush=True)
    return 0
