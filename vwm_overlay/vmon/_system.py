"""The system-wide sampler: ``/proc/stat`` (CPU times, boot time) and ``/proc/meminfo``."""

from __future__ import annotations

import logging
import os
import time

from . import _parse as parse
from ._procfs import NOT_OPEN, TRANSIENT, ProcFS
from .records import SysStat, SysWants

__all__ = ["SystemSampler"]

log = logging.getLogger("vwm_overlay.vmon")


class SystemSampler:
    """Reads the system files once per sample through kept fds."""

    def __init__(self, procfs: ProcFS, *, ticks_per_s: int, num_cpus: int) -> None:
        self._procfs = procfs
        self._ticks_per_s = ticks_per_s
        self._stat_fd = NOT_OPEN
        self._meminfo_fd = NOT_OPEN
        self._stat_read = 64 + 256 * (num_cpus + 1)
        self._reported: set[str] = set()
        self.sys_stat: SysStat | None = None
        self.meminfo_kb: dict[str, int] | None = None
        #: System wants whose sample changed something this sample.
        self.activity = SysWants.NONE

    def close(self) -> None:
        self._procfs.release(self._stat_fd)
        self._procfs.release(self._meminfo_fd)
        self._stat_fd = self._meminfo_fd = NOT_OPEN

    def sample(self, wants: SysWants) -> None:
        self.activity = SysWants.NONE
        if wants & SysWants.STAT:
            data, self._stat_fd = self._read("stat", self._stat_fd, self._stat_read)
            if data is not None:
                try:
                    cpu, cpus = parse.parse_sys_stat(data)
                except parse.ParseError as err:
                    self._report("stat", err)
                else:
                    sys_stat = self.sys_stat
                    if sys_stat is None:
                        sys_stat = self.sys_stat = SysStat()
                    sys_stat.changed = cpu != sys_stat.cpu
                    sys_stat.cpu = cpu
                    sys_stat.cpus = cpus
                    sys_stat.boottime_ticks = int(time.clock_gettime(time.CLOCK_BOOTTIME) * self._ticks_per_s)
                    if sys_stat.changed:
                        self.activity |= SysWants.STAT
        if wants & SysWants.VM:
            data, self._meminfo_fd = self._read("meminfo", self._meminfo_fd, 8192)
            if data is not None:
                try:
                    meminfo = parse.parse_meminfo(data)
                except parse.ParseError as err:
                    self._report("meminfo", err)
                else:
                    if meminfo != self.meminfo_kb:
                        self.activity |= SysWants.VM
                    self.meminfo_kb = meminfo

    def _read(self, name: str, fd: int, size: int) -> tuple[bytes | None, int]:
        """The file's bytes (or None) and its fd (or state) from now on."""
        if fd in (NOT_OPEN, TRANSIENT):  # read open-read-close: there may be room again
            fd = self._procfs.open(name, priority=True)
        try:
            if fd >= 0:
                return os.pread(fd, size, 0), fd
            if fd == TRANSIENT:
                data = self._procfs.read_transient(name, size)
                return (data if isinstance(data, bytes) else None), fd
        except OSError as err:
            self._report(name, err)
        return None, fd

    def _report(self, name: str, err: Exception) -> None:
        if name not in self._reported:
            self._reported.add(name)
            log.warning("/proc/%s: %s; skipped", name, err)
