"""Pure parsers for /proc files: bytes in, values out, no I/O.

Every parser takes the bytes of one read and raises :class:`ParseError` on
input it cannot make sense of, so the engine can report the file once and
skip it.  Field positions follow proc(5); they are cited next to each table.
"""

from __future__ import annotations

__all__ = [
    "STAT_INDICES",
    "ParseError",
    "parse_children",
    "parse_cmdline",
    "parse_io",
    "parse_meminfo",
    "parse_stat",
    "parse_statm",
    "parse_sys_stat",
    "parse_wchan",
]


class ParseError(ValueError):
    """The bytes do not have the layout proc(5) documents."""


# Positions, in the whitespace-split tail of /proc/PID/stat that starts with
# the state (proc(5) field 3 is index 0: index = field number - 3), of the
# numeric fields kept, in the order of records.STAT_FIELDS.  Skipped:
# itrealvalue (21), startcode..kstkeip (26-30), the signal masks (31-34),
# nswap/cnswap (36-37), exit_signal (38), rt_priority/policy (40-41).
STAT_INDICES: tuple[int, ...] = (
    1,  # ppid (4)
    2,  # pgrp (5)
    3,  # session (6)
    4,  # tty_nr (7)
    5,  # tpgid (8)
    6,  # flags (9)
    7,  # minflt (10)
    8,  # cminflt (11)
    9,  # majflt (12)
    10,  # cmajflt (13)
    11,  # utime (14)
    12,  # stime (15)
    13,  # cutime (16)
    14,  # cstime (17)
    15,  # priority (18)
    16,  # nice (19)
    17,  # num_threads (20)
    19,  # starttime (22)
    20,  # vsize (23)
    21,  # rss (24), in pages
    22,  # rsslim (25)
    32,  # wchan (35), 0 on kernels that hide it
    36,  # processor (39)
    39,  # delayacct_blkio_ticks (42)
    40,  # guest_time (43)
    41,  # cguest_time (44)
)
_STAT_MIN_FIELDS = STAT_INDICES[-1] + 1


def parse_stat(data: bytes) -> tuple[str, str, list[int]]:
    """``/proc/PID/stat`` -> ``(comm, state, values)``, values in STAT_INDICES order.

    comm may hold spaces, parentheses and newlines: it is everything between
    the first ``(`` and the *last* ``)``, since nothing after it can contain one.
    """
    open_paren = data.find(b"(")
    close_paren = data.rfind(b")")
    if open_paren < 0 or close_paren < open_paren:
        raise ParseError("stat: no (comm) field")
    fields = data[close_paren + 2 :].split()
    if len(fields) < _STAT_MIN_FIELDS:
        raise ParseError(f"stat: {len(fields) + 2} fields, expected at least {_STAT_MIN_FIELDS + 2}")
    try:
        values = [int(fields[i]) for i in STAT_INDICES]
    except ValueError as err:
        raise ParseError(f"stat: {err}") from None
    comm = data[open_paren + 1 : close_paren].decode("utf-8", "replace")
    return comm, fields[0].decode("ascii", "replace"), values


def parse_statm(data: bytes) -> list[int]:
    """``/proc/PID/statm`` -> [size, resident, shared, text, data] in pages
    (fields 6 and 7, lib and dt, are always 0 since Linux 2.6)."""
    fields = data.split()
    if len(fields) < 7:
        raise ParseError(f"statm: {len(fields)} fields, expected 7")
    try:
        return [int(fields[0]), int(fields[1]), int(fields[2]), int(fields[3]), int(fields[5])]
    except ValueError as err:
        raise ParseError(f"statm: {err}") from None


_IO_KEYS = (b"rchar", b"wchar", b"syscr", b"syscw", b"read_bytes", b"write_bytes", b"cancelled_write_bytes")


def parse_io(data: bytes) -> list[int]:
    """``/proc/PID/io`` -> values in records.IO_FIELDS order, parsed by key."""
    values = [0] * len(_IO_KEYS)
    seen = 0
    for line in data.splitlines():
        key, sep, value = line.partition(b":")
        if not sep:
            continue
        try:
            index = _IO_KEYS.index(key)
        except ValueError:
            continue  # a key added by a newer kernel
        try:
            values[index] = int(value)
        except ValueError:
            raise ParseError(f"io: bad value for {key.decode()}") from None
        seen += 1
    if seen < len(_IO_KEYS):
        raise ParseError(f"io: {seen} of {len(_IO_KEYS)} keys")
    return values


def parse_children(data: bytes) -> list[int]:
    """``/proc/PID/task/TID/children``: space-separated pids (proc(5))."""
    try:
        return [int(pid) for pid in data.split()]
    except ValueError:
        raise ParseError("children: not a list of pids") from None


def parse_cmdline(data: bytes) -> tuple[str, ...]:
    """``/proc/PID/cmdline``: NUL-separated arguments, usually NUL-terminated.

    A process that rewrote its argv area (setproctitle) may use spaces and no
    trailing NUL; that is kept as one argument, as ps(1) shows it.
    """
    if not data:
        return ()
    if data.endswith(b"\0"):
        data = data[:-1]
    return tuple(arg.decode("utf-8", "replace") for arg in data.split(b"\0"))


def parse_wchan(data: bytes) -> str:
    """``/proc/PID/wchan``: a symbol name, or "0" when the task is running."""
    return data.decode("ascii", "replace").strip()


def parse_sys_stat(data: bytes) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """``/proc/stat`` -> (aggregate cpu times, [per-cpu times]), ticks, 10 columns.

    Kernels older than 2.6.33 print fewer columns; missing ones read as 0.
    """
    aggregate: tuple[int, ...] | None = None
    per_cpu: list[tuple[int, ...]] = []
    for line in data.split(b"\n"):
        if not line.startswith(b"cpu"):
            if aggregate is not None:
                break  # the cpu lines come first; nothing else is needed
            continue
        fields = line.split()
        try:
            times = tuple(int(v) for v in fields[1:11])
        except ValueError:
            raise ParseError(f"stat: bad cpu line {line[:40]!r}") from None
        times += (0,) * (10 - len(times))
        if fields[0] == b"cpu":
            aggregate = times
        else:
            per_cpu.append(times)
    if aggregate is None:
        raise ParseError("stat: no cpu line")
    return aggregate, per_cpu


def parse_meminfo(data: bytes) -> dict[str, int]:
    """``/proc/meminfo`` by key (the order changes between kernels).

    Values are in kB, except the HugePages_* counts, which have no unit.
    """
    info: dict[str, int] = {}
    for line in data.split(b"\n"):
        key, sep, rest = line.partition(b":")
        if not sep:
            continue
        fields = rest.split()
        if not fields:
            raise ParseError(f"meminfo: no value for {key.decode(errors='replace')}")
        try:
            info[key.decode("ascii", "replace")] = int(fields[0])
        except ValueError:
            raise ParseError(f"meminfo: bad value for {key.decode(errors='replace')}") from None
    if "MemTotal" not in info:
        raise ParseError("meminfo: no MemTotal")
    return info
