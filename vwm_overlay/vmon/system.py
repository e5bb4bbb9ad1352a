"""The system-wide samplers: ``/proc/stat`` (CPU times, boot time) and ``/proc/meminfo``."""

from __future__ import annotations

import os
import time

from . import parse
from .core import VmonCore, log
from .procfs import NOT_OPEN, TRANSIENT
from .records import SysStat, SysWants

__all__ = ["SystemSampling"]


class SystemSampling(VmonCore):
    """Reads the system files once per cycle through kept fds."""

    _sys_stat_fd: int
    _meminfo_fd: int
    _sys_stat_read: int
    _reported_sys: set[str]

    def _sample_sys(self) -> None:
        self.activity = SysWants.NONE
        if self.sys_wants & SysWants.STAT:
            data = self._read_sys("stat", "_sys_stat_fd", self._sys_stat_read)
            if data is not None:
                try:
                    cpu, cpus = parse.parse_sys_stat(data)
                except parse.ParseError as err:
                    self._report_sys("stat", err)
                else:
                    sys_stat = self.sys_stat
                    if sys_stat is None:
                        sys_stat = self.sys_stat = SysStat()
                    sys_stat.changed = cpu != sys_stat.cpu
                    sys_stat.cpu = cpu
                    sys_stat.cpus = cpus
                    sys_stat.boottime_ticks = int(time.clock_gettime(time.CLOCK_BOOTTIME) * self.ticks_per_s)
                    if sys_stat.changed:
                        self.activity |= SysWants.STAT
        if self.sys_wants & SysWants.VM:
            data = self._read_sys("meminfo", "_meminfo_fd", 8192)
            if data is not None:
                try:
                    meminfo = parse.parse_meminfo(data)
                except parse.ParseError as err:
                    self._report_sys("meminfo", err)
                else:
                    if meminfo != self.meminfo_kb:
                        self.activity |= SysWants.VM
                    self.meminfo_kb = meminfo

    def _read_sys(self, name: str, attr: str, size: int) -> bytes | None:
        fd: int = getattr(self, attr)
        if fd == NOT_OPEN:
            fd = self.procfs.open(name)
            setattr(self, attr, fd)
        try:
            if fd >= 0:
                return os.pread(fd, size, 0)
            if fd == TRANSIENT:
                data = self.procfs.read_transient(name, size)
                return data if isinstance(data, bytes) else None
        except OSError as err:
            self._report_sys(name, err)
        return None

    def _report_sys(self, name: str, err: Exception) -> None:
        if name not in self._reported_sys:
            self._reported_sys.add(name)
            log.warning("/proc/%s: %s; skipped", name, err)
