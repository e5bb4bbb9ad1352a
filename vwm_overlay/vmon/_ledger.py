"""Per-task accounting: what each task used in a sample, every tick and byte counted once.

The kernel folds a reaped child into its parent: ``wait_task_zombie`` adds the
child's utime + stime + cutime + cstime to the parent's cutime/cstime and its
IO (its threads', its dead threads' and its own reaped descendants') to the
parent's signal IO, which ``/proc/PID/io`` includes.  That happens before the
child is unhashed and leaves the parent's children list, so once a child is
found gone, its fold shows in the parent's next read.

A :class:`Ledger` per task keeps the last cumulative figures seen and, per
process, a balance: what the kernel folded in (cutime/cstime growth, the growth
of the IO that is not the live threads' own) less what the engine had already
attributed to the children found gone (their *accounted*: own figures, credited
children, and what their own gone children had been attributed).  A positive
balance is what children used unseen (after their last sample, or in a life too
short to be seen): it is credited to the parent's ``children_*`` figures, CPU
at most the sample's wall time x cores.  A negative balance is a fold not
visible yet (a child reaped between the parent's stat read and its children
read): it waits one sample, then is forgiven (with SIGCHLD ignored the kernel
folds nothing).

A process's own IO is told from its children's by its threads' own IO
(``task/TID/io``), read only in a sample where it reaped something (its
cutime, cstime, cminflt or cmajflt moved, or a child was found gone) or lost
a thread.  When both happen in one sample, the IO of the threads that died
since the last sample counts as its children's: the sum stays exact, only
that split is approximate.

Since the balance absorbs everything attributed, a task's accounted figure is
simply its last cumulative total less its balance (plus gone children not yet
deducted): no running sums are needed.
"""

from __future__ import annotations

from .records import TaskDelta, TaskStat

__all__ = ["Ledger", "account_cpu", "account_io", "reap_mark", "settle"]


class Ledger:
    """One task's last cumulative figures and, for a process, what is owed to or by its children."""

    __slots__ = (
        "cpu_started",
        "cstime",
        "cutime",
        "dead_r",
        "dead_s",
        "dead_u",
        "dead_w",
        "io_started",
        "num_threads",
        "owed_r",
        "owed_s",
        "owed_u",
        "owed_w",
        "pre_existing",
        "read_bytes",
        "reap_mark",
        "reaped",
        "settled",
        "settled_up",
        "short_cpu",
        "short_io",
        "split_r",
        "split_w",
        "stime",
        "utime",
        "write_bytes",
    )

    def __init__(self) -> None:
        self.cpu_started = False
        self.io_started = False
        self.settled = False
        self.pre_existing = False
        # Last cumulative figures seen (stat; /proc/PID/io: a process's whole, a thread's own).
        self.utime = self.stime = self.cutime = self.cstime = 0
        self.read_bytes = self.write_bytes = 0
        # A process's IO that is not its live threads' own (dead threads and reaped children), at its last split.
        self.split_r = self.split_w = 0
        # cutime + cstime + cminflt + cmajflt when IO was last accounted: a reap moves at least one.
        self.reap_mark = 0
        self.num_threads = 0
        self.reaped = False
        # Balances: folded in by the kernel less attributed (see the module docstring).
        self.owed_u = self.owed_s = self.owed_r = self.owed_w = 0
        # Accounted figures of children found gone, deducted at the next step.
        self.dead_u = self.dead_s = self.dead_r = self.dead_w = 0
        # Steps in a row that ended with a negative balance.
        self.short_cpu = self.short_io = 0
        #: Nothing owed either way and the last delta all zero: a sample in
        #: which nothing moved needs no accounting at all.
        self.settled_up = False

    def check_settled_up(self, delta: TaskDelta) -> None:
        self.settled_up = not (
            self.owed_u
            or self.owed_s
            or self.owed_r
            or self.owed_w
            or self.dead_u
            or self.dead_s
            or self.dead_r
            or self.dead_w
            or self.reaped
            or delta.baseline
            or delta.used_anything
        )

    def accounted_cpu(self) -> tuple[int, int]:
        """(user, system) ticks attributed to this task and its subtree so far, as the kernel would fold them."""
        return (
            self.utime + self.cutime - self.owed_u + self.dead_u,
            self.stime + self.cstime - self.owed_s + self.dead_s,
        )

    def accounted_io(self) -> tuple[int, int]:
        """(read, write) bytes attributed to this task and its subtree so far."""
        return (self.read_bytes - self.owed_r + self.dead_r, self.write_bytes - self.owed_w + self.dead_w)


def reap_mark(stat: TaskStat) -> int:
    return stat.cutime_ticks + stat.cstime_ticks + stat.cminflt + stat.cmajflt


def account_cpu(
    ledger: Ledger, delta: TaskDelta, stat: TaskStat, *, baseline: bool, cap_ticks: float, process: bool
) -> None:
    """This sample's CPU of a task from its stat; for a process, the children's credit too.

    (A thread's stat shows its process's cutime/cstime: a thread has no children figures.)
    """
    if not ledger.cpu_started:
        ledger.cpu_started = True
        if baseline:
            # Running before monitoring began: its past is nobody's business now.
            ledger.utime, ledger.stime = stat.utime_ticks, stat.stime_ticks
            ledger.cutime, ledger.cstime = stat.cutime_ticks, stat.cstime_ticks
            ledger.reap_mark = reap_mark(stat)
            ledger.pre_existing = delta.baseline = True
    own_u = stat.utime_ticks - ledger.utime
    own_s = stat.stime_ticks - ledger.stime
    delta.utime_ticks = own_u
    delta.stime_ticks = own_s
    ledger.utime, ledger.stime = stat.utime_ticks, stat.stime_ticks
    if not process:
        return
    owed_u = ledger.owed_u + stat.cutime_ticks - ledger.cutime - ledger.dead_u
    owed_s = ledger.owed_s + stat.cstime_ticks - ledger.cstime - ledger.dead_s
    ledger.cutime, ledger.cstime = stat.cutime_ticks, stat.cstime_ticks
    ledger.dead_u = ledger.dead_s = 0
    # No sample credits more than its wall time on every core.
    room = max(0, int(cap_ticks) - own_u - own_s)
    credit_u = min(max(owed_u, 0), room)
    credit_s = min(max(owed_s, 0), room - credit_u)
    delta.children_utime_ticks = credit_u
    delta.children_stime_ticks = credit_s
    ledger.owed_u, ledger.owed_s, ledger.short_cpu = _short_or_forgiven(
        owed_u - credit_u, owed_s - credit_s, ledger.short_cpu
    )


def account_io(
    ledger: Ledger, delta: TaskDelta, read_bytes: int, write_bytes: int, split: tuple[int, int] | None, *, reap: bool
) -> None:
    """This sample's IO of a task from its ``io`` totals.

    For a process, ``split`` is its IO less its live threads' own IO, read now
    (None when not needed: no reap and no thread gone since the last split).
    With ``reap``, the growth of that part since the last split is the
    children's fold; without, it is the process's own dead threads'.
    """
    if not ledger.io_started:
        ledger.io_started = True
        if ledger.pre_existing:
            ledger.read_bytes, ledger.write_bytes = read_bytes, write_bytes
            if split is not None:
                ledger.split_r, ledger.split_w = split
    fold_r = fold_w = 0
    if split is not None:
        if reap:
            fold_r = split[0] - ledger.split_r
            fold_w = split[1] - ledger.split_w
        ledger.split_r, ledger.split_w = split
    delta.read_bytes = read_bytes - ledger.read_bytes - fold_r
    delta.write_bytes = write_bytes - ledger.write_bytes - fold_w
    ledger.read_bytes, ledger.write_bytes = read_bytes, write_bytes
    owed_r = ledger.owed_r + fold_r - ledger.dead_r
    owed_w = ledger.owed_w + fold_w - ledger.dead_w
    ledger.dead_r = ledger.dead_w = 0
    credit_r = max(owed_r, 0)
    credit_w = max(owed_w, 0)
    delta.children_read_bytes = credit_r
    delta.children_write_bytes = credit_w
    ledger.owed_r, ledger.owed_w, ledger.short_io = _short_or_forgiven(
        owed_r - credit_r, owed_w - credit_w, ledger.short_io
    )


def _short_or_forgiven(owed_a: int, owed_b: int, short_samples: int) -> tuple[int, int, int]:
    """Two owed amounts after a sample, and how many samples running they have been short (below zero).

    A shortfall waits one sample for a fold that lands late; still short after that, the fold never came (the child
    was auto-reaped: SIGCHLD ignored) and it is forgiven.
    """
    if owed_a >= 0 and owed_b >= 0:
        return owed_a, owed_b, 0
    if short_samples >= 1:
        return max(owed_a, 0), max(owed_b, 0), 0
    return owed_a, owed_b, short_samples + 1


def settle(child: Ledger, parent: Ledger) -> None:
    """A child was found gone from its parent: what was attributed to it is deducted from the parent's next fold."""
    if child.settled:
        return
    child.settled = True
    if child.cpu_started:
        user, system = child.accounted_cpu()
        parent.dead_u += user
        parent.dead_s += system
    if child.io_started:
        read, write = child.accounted_io()
        parent.dead_r += read
        parent.dead_w += write
    parent.reaped = True
    parent.settled_up = False
