"""Per-task readers: stat (with comm, argv, wchan, exe), io, statm and open files; and the task's deltas.

Each reads its kept file with one pread and does nothing more when the bytes
did not change since the last sample; otherwise it parses them and stores
only what moved, with a ``changed`` bit per field.  The accounting turns the
cumulative figures into ``task.delta`` through the task's ledger (``_ledger``).
"""

from __future__ import annotations

import itertools
import operator
import os
from collections.abc import Callable
from typing import NamedTuple

from . import _parse as parse
from ._cycle import FILES, IO, STAT, VM, Cycle
from ._kept import KeptFiles
from ._ledger import account_cpu, account_io, reap_mark
from ._procfs import DENIED, GONE, READ_SLACK
from ._table import TaskTable
from .records import (
    IO_FIELDS,
    STAT_ALL_BITS,
    STAT_ARGV_BIT,
    STAT_COMM_BIT,
    STAT_EXE_BIT,
    STAT_FIELDS,
    STAT_STATE_BIT,
    STAT_WCHAN_BIT,
    STATM_FIELDS,
    Task,
    TaskIO,
    TaskStat,
    TaskVM,
)

__all__ = ["STAT_READ", "TaskReaders"]

# Read sizes: one pread nearly always gets the whole file (see _procfs.read_all).
STAT_READ = 1024
_CMDLINE_READ = 4096

_START = STAT_FIELDS.index("start_ticks")
_READ_BYTES = IO_FIELDS.index("read_bytes")
_WRITE_BYTES = IO_FIELDS.index("write_bytes")


class _Fields:
    """The numeric fields of a record type, read in one C call."""

    __slots__ = ("get", "indices", "names")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.get = operator.attrgetter(*names)
        self.indices = range(len(names))

    def store(self, record: object, values: list[int]) -> int:
        """Store only the values that moved; return their ``changed`` bits."""
        changed = 0
        names = self.names
        # Which moved, found in C: a busy task moves a few of its fields only.
        for index in itertools.compress(self.indices, map(operator.ne, values, self.get(record))):
            changed |= 1 << index
            setattr(record, names[index], values[index])
        return changed


_STAT_FIELDS = _Fields(STAT_FIELDS)


class _Counters(NamedTuple):
    """A file of counters kept in a record on the task: where its fd, last
    bytes and record live, how to read and parse it, and its want bit."""

    name: str
    fd_attr: str
    raw_attr: str
    read_size: int
    parse: Callable[[bytes], list[int]]
    record_attr: str
    new_record: Callable[[], TaskIO | TaskVM]
    fields: _Fields
    want: int


_IO = _Counters("io", "io_fd", "io_raw", 512, parse.parse_io, "io", TaskIO, _Fields(IO_FIELDS), IO)
_STATM = _Counters("statm", "statm_fd", "statm_raw", 128, parse.parse_statm, "vm", TaskVM, _Fields(STATM_FIELDS), VM)


class TaskReaders:
    """The readers of one task's own files, and its accounting."""

    def __init__(self, table: TaskTable, cycle: Cycle) -> None:
        self._table = table
        self._cycle = cycle

    def sample_thread(self, task: Task) -> None:
        state: KeptFiles = task._engine
        generation = self._cycle.generation
        task.is_new = state.born_generation == generation
        task.generation = generation
        wants = task.wants or self._cycle.proc_wants
        task.activity = 0
        if not self.sample_stat(task, state, True):
            task.delta.clear()
            return
        # A thread's io and statm can only have moved if it ran, and running
        # for a tick changes its stat: idle threads cost one pread, not three.
        # (IO done in less than a tick is counted at the thread's next tick.)
        if task.activity:
            if wants & IO:
                self.sample_io(task, state)
            if wants & VM:
                self.sample_statm(task, state)
        else:
            if task.io is not None:
                task.io.changed = 0
            if task.vm is not None:
                task.vm.changed = 0
        self.account_thread(task, state)

    def quiet_thread(self, task: Task) -> None:
        """A thread of a process whose stat did not move: nothing of it changed this sample."""
        task.is_new = False
        task.activity = 0
        task.delta.clear()
        for record in (task.stat, task.io, task.vm):
            if record is not None:
                record.changed = 0

    def sample_stat(self, task: Task, state: KeptFiles, is_thread: bool) -> bool:
        """Returns False when the task is gone."""
        fd = state.stat_fd
        if fd >= 0:
            try:
                data: bytes | None = os.pread(fd, STAT_READ, 0)
            except OSError as err:
                self._table.read_failed(task, state, "stat_fd", "stat", fd, err)
                data = None
        else:
            data = self._table.read(task, state, "stat_fd", "stat", STAT_READ)
        if data is None:
            if state.stat_fd == GONE:
                self._table.mark_gone(task)
                return False
            return True  # out of fds this cycle: keep the last values
        stat = task.stat
        if data == state.stat_raw:
            if stat is not None:
                stat.changed = 0
                if task.shown:
                    self._sample_wchan(task, state, stat)
            return True
        if len(data) == STAT_READ:
            data = self._table.read(task, state, "stat_fd", "stat", STAT_READ)
            if data is None:
                return True
        try:
            comm, state_char, values = parse.parse_stat(data)
        except parse.ParseError as err:
            self._table.report(task, "stat", err)
            return True
        if stat is None:
            stat = task.stat = TaskStat()
            _STAT_FIELDS.store(stat, values)
            changed = STAT_ALL_BITS
        else:
            if values[_START] != stat.start_ticks:
                # Read by path (no fd could be kept), the pid now leads to
                # another process: a task is (pid, start_ticks), ours is gone.
                self._table.mark_gone(task)
                return False
            # Only the fields that moved are stored, and flagged for consumers.
            changed = _STAT_FIELDS.store(stat, values)
            if state_char != stat.state:
                changed |= STAT_STATE_BIT
            if comm != stat.comm:
                changed |= STAT_COMM_BIT
        state.stat_raw = data
        stat.state = state_char
        stat.comm = comm
        # The names can only have changed when stat did.  Not only when comm or
        # the address space size moved: a program that execs itself with other
        # arguments can end up with both as they were.
        if not is_thread:
            argv = self._table.read(task, state, "cmdline_fd", "cmdline", _CMDLINE_READ)
            if argv is not None:
                parsed = parse.parse_cmdline(argv)
                # A zombie's cmdline reads empty: keep the last one known.
                # So does an exec's, until the new image has set up its
                # arguments: keep the last one too, and read it again next cycle.
                if parsed != stat.argv and (parsed or not stat.argv):
                    stat.argv = parsed
                    changed |= STAT_ARGV_BIT
                elif not parsed and stat.argv and state_char != "Z":
                    state.stat_raw = b""  # parse stat again next cycle, even if unchanged, to read cmdline again
            if stat.argv and changed & (STAT_COMM_BIT | STAT_ARGV_BIT):
                exe = self._table.procfs.readlink(state.base + "exe")  # kernel threads have none
                if exe != stat.exe:
                    stat.exe = exe
                    changed |= STAT_EXE_BIT
        stat.changed = changed
        # A wait channel can change while stat's bytes do not: it is read every
        # sample for the tasks a consumer shows, and for no other.
        if task.shown:
            self._sample_wchan(task, state, stat)
        task.activity |= STAT
        return True

    def _sample_wchan(self, task: Task, state: KeptFiles, stat: TaskStat) -> None:
        wchan = self._table.read(task, state, "wchan_fd", "wchan", 64)
        if wchan is not None:
            text = parse.parse_wchan(wchan)
            if text != stat.wchan:
                stat.wchan = text
                stat.changed |= STAT_WCHAN_BIT

    # ------------------------------------------------------------ accounting

    def account_thread(self, task: Task, state: KeptFiles) -> None:
        stat = task.stat
        delta = task.delta
        delta.clear()
        if stat is None:
            return
        ledger = state.ledger
        baseline = stat.start_ticks < self._cycle.start_boottime_ticks
        account_cpu(ledger, delta, stat, baseline=baseline, cap_ticks=0.0, process=False)
        delta.rss_bytes = stat.rss_pages * self._cycle.page_size
        io = task.io
        if io is not None and (task.activity & IO or not ledger.io_started):
            account_io(ledger, delta, io.read_bytes, io.write_bytes, None, reap=False)

    def account_process(self, task: Task, state: KeptFiles, with_io: bool) -> None:
        """This sample's :class:`TaskDelta` of a process, once its children were reconciled."""
        ledger = state.ledger
        if not task.activity and ledger.settled_up:
            # Nothing read moved and nothing is owed: all zero, as it already is.
            return
        stat = task.stat
        delta = task.delta
        delta.clear()
        if stat is None:
            return
        baseline = stat.start_ticks < self._cycle.start_boottime_ticks
        account_cpu(ledger, delta, stat, baseline=baseline, cap_ticks=self._cycle.cap_ticks, process=True)
        delta.rss_bytes = stat.rss_pages * self._cycle.page_size
        io = task.io
        if io is not None and with_io:
            mark = reap_mark(stat)
            reap = mark != ledger.reap_mark or ledger.reaped
            split = None
            if reap or not ledger.io_started or stat.num_threads < ledger.num_threads:
                # A reap, or a thread gone (its IO moved out of the live threads'):
                # split the process's IO from its children's by its threads' own.
                split = self._io_split(task, state, io)
            ledger.reap_mark = mark
            ledger.reaped = False
            ledger.num_threads = stat.num_threads
            account_io(ledger, delta, io.read_bytes, io.write_bytes, split, reap=reap)
        ledger.check_settled_up(delta)

    def _io_split(self, task: Task, state: KeptFiles, io: TaskIO) -> tuple[int, int] | None:
        """The process's IO less its live threads' own: its dead threads' and reaped children's."""
        own_r = own_w = 0
        threads = task.threads
        if threads:
            for thread in threads:
                if thread.is_stale:
                    continue
                values = self._own_io(thread, thread._engine, "io_fd", "io")
                if values is not None:  # else it just exited: its IO is in the rest now
                    own_r += values[0]
                    own_w += values[1]
        elif task.stat is not None and task.stat.num_threads > 1:
            # Threads not followed: read them by path.
            for name in self._table.procfs.listdir(state.base + "task") or ():
                data = self._table.procfs.read_transient(f"{state.base}task/{name}/io", _IO.read_size)
                if isinstance(data, bytes):
                    try:
                        counters = parse.parse_io(data)
                    except parse.ParseError:
                        continue
                    own_r += counters[_READ_BYTES]
                    own_w += counters[_WRITE_BYTES]
        else:
            own = self._own_io(task, state, "thread_io_fd", f"task/{task.pid}/io")
            if own is None:
                return None
            own_r, own_w = own
        return io.read_bytes - own_r, io.write_bytes - own_w

    def _own_io(self, task: Task, state: KeptFiles, attr: str, name: str) -> tuple[int, int] | None:
        data = self._table.read(task, state, attr, name, _IO.read_size)
        if data is None:
            return None
        try:
            values = parse.parse_io(data)
        except parse.ParseError as err:
            self._table.report(task, name, err)
            return None
        return values[_READ_BYTES], values[_WRITE_BYTES]

    def sample_io(self, task: Task, state: KeptFiles) -> None:
        self._sample_counters(task, state, _IO)

    def sample_statm(self, task: Task, state: KeptFiles) -> None:
        self._sample_counters(task, state, _STATM)

    def _sample_counters(self, task: Task, state: KeptFiles, counters: _Counters) -> None:
        """io or statm: one pread; parse and store only when the bytes changed."""
        fd = getattr(state, counters.fd_attr)
        data: bytes | None
        if fd >= 0:
            try:
                data = os.pread(fd, counters.read_size, 0)
            except OSError as err:
                self._table.read_failed(task, state, counters.fd_attr, counters.name, fd, err)
                data = None
            else:
                if len(data) >= counters.read_size - READ_SLACK:
                    data = self._table.read(task, state, counters.fd_attr, counters.name, counters.read_size)
        else:
            data = self._table.read(task, state, counters.fd_attr, counters.name, counters.read_size)
        if data is None:
            if getattr(state, counters.fd_attr) == DENIED:
                task.unavailable |= counters.want
            return
        record: TaskIO | TaskVM | None = getattr(task, counters.record_attr)
        if data == getattr(state, counters.raw_attr):
            if record is not None:
                record.changed = 0
            return
        try:
            values = counters.parse(data)
        except parse.ParseError as err:
            self._table.report(task, counters.name, err)
            return
        setattr(state, counters.raw_attr, data)
        if record is None:
            record = counters.new_record()
            setattr(task, counters.record_attr, record)
            counters.fields.store(record, values)
        else:
            record.changed = counters.fields.store(record, values)
        task.activity |= counters.want

    def sample_files(self, task: Task, state: KeptFiles) -> None:
        if task.unavailable & FILES:
            return
        names = self._table.procfs.listdir(state.base + "fd")
        if names is None:
            # EACCES for another user's process; a vanished one is caught by stat.
            task.unavailable |= FILES
            return
        current: dict[int, str] = {}
        for name in names:
            link = self._table.procfs.readlink(f"{state.base}fd/{name}")
            if link is not None:
                current[int(name)] = link
        if task.files is None:
            task.files = {}
        if self._table.files.update(task.files, current, self._cycle.generation):
            task.activity |= FILES
