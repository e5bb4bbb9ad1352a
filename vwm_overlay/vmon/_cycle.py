"""What every part of the engine needs to know of the sample being taken."""

from __future__ import annotations

import os
import time

from .records import ProcWants

__all__ = ["FILES", "FOLLOW_CHILDREN", "FOLLOW_THREADS", "IO", "STAT", "VM", "Cycle"]

# The wants as plain ints: IntFlag operators cost a Python call each, and
# these are tested for every task on every sample.
FOLLOW_CHILDREN = int(ProcWants.FOLLOW_CHILDREN)
FOLLOW_THREADS = int(ProcWants.FOLLOW_THREADS)
FILES = int(ProcWants.FILES)
STAT = int(ProcWants.STAT)
VM = int(ProcWants.VM)
IO = int(ProcWants.IO)


class Cycle:
    """The sample being taken, and the constants of the machine the engine runs on."""

    __slots__ = (
        "cap_ticks",
        "elapsed_s",
        "generation",
        "num_cpus",
        "page_size",
        "proc_wants",
        "start_boottime_ticks",
        "ticks_per_s",
    )

    def __init__(self, proc_wants: int) -> None:
        self.ticks_per_s = os.sysconf("SC_CLK_TCK")
        self.num_cpus = os.cpu_count() or 1
        self.page_size = os.sysconf("SC_PAGE_SIZE")
        #: CLOCK_BOOTTIME in ticks when monitoring began: tasks started before are baselines.
        self.start_boottime_ticks = int(time.clock_gettime(time.CLOCK_BOOTTIME) * self.ticks_per_s)
        #: The instance's default ProcWants, as an int (IntFlag operators cost a call each).
        self.proc_wants = proc_wants
        self.generation = 0
        #: Seconds between this sample and the previous one (0.0 in the first).
        self.elapsed_s = 0.0
        #: This sample's wall time on every core, in ticks: the most children can be credited.
        self.cap_ticks = 0.0

    def advance(self, elapsed_s: float) -> None:
        self.generation += 1
        self.elapsed_s = elapsed_s
        self.cap_ticks = elapsed_s * self.ticks_per_s * self.num_cpus
