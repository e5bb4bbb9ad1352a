"""The /proc parsers, on bytes captured from real files and on hand-made broken ones.

``data/proc/`` holds captures: ``python/`` (a process with three children),
``kthreadd/`` (pid 2: a kernel thread, empty cmdline), ``zombie/``,
``weird-comm/`` (a comm of ``a b) (c\\nd)``, set with PR_SET_NAME),
``system/`` (``/proc/stat`` and a modern ``/proc/meminfo``); ``handmade/``
holds edge cases and malformed input.
"""

from __future__ import annotations

import os

import pytest
from proc_helpers import DATA_PROC

from vwm_overlay.vmon import _parse as parse
from vwm_overlay.vmon._parse import ParseError
from vwm_overlay.vmon.records import IO_FIELDS, STAT_FIELDS, STATM_FIELDS


def data(name: str) -> bytes:
    with open(os.path.join(DATA_PROC, name), "rb") as f:
        return f.read()


# proc(5) field numbers of every numeric stat field the engine keeps: checked
# independently of parse.STAT_INDICES.
MAN_FIELD = {
    "ppid": 4,
    "pgrp": 5,
    "sid": 6,
    "tty_nr": 7,
    "tpgid": 8,
    "flags": 9,
    "minflt": 10,
    "cminflt": 11,
    "majflt": 12,
    "cmajflt": 13,
    "utime_ticks": 14,
    "stime_ticks": 15,
    "cutime_ticks": 16,
    "cstime_ticks": 17,
    "priority": 18,
    "nice": 19,
    "num_threads": 20,
    "start_ticks": 22,
    "vsize_bytes": 23,
    "rss_pages": 24,
    "rsslim_bytes": 25,
    "wchan_addr": 35,
    "processor": 39,
    "delayacct_blkio_ticks": 42,
    "guest_time_ticks": 43,
    "cguest_time_ticks": 44,
}


def stat_dict(raw: bytes) -> tuple[str, str, dict[str, int]]:
    comm, state, values = parse.parse_stat(raw)
    return comm, state, dict(zip(STAT_FIELDS, values, strict=True))


# -- /proc/PID/stat ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["python/stat", "kthreadd/stat", "zombie/stat", "weird-comm/stat"])
def test_stat_fields_are_the_proc5_fields(name: str) -> None:
    raw = data(name)
    _, _, fields = stat_dict(raw)
    # Field 3 (state) is the first word after the last ")".
    after_comm = raw[raw.rfind(b")") + 2 :].split()
    assert set(MAN_FIELD) == set(STAT_FIELDS)
    for field, number in MAN_FIELD.items():
        assert fields[field] == int(after_comm[number - 3]), field


def test_stat_of_a_running_python() -> None:
    comm, state, fields = stat_dict(data("python/stat"))
    assert (comm, state) == ("python3", "R")
    assert fields["ppid"] == 1579
    assert fields["tpgid"] == -1
    assert (fields["utime_ticks"], fields["stime_ticks"]) == (5, 1)
    assert (fields["cutime_ticks"], fields["cstime_ticks"]) == (4, 1)
    assert fields["num_threads"] == 1
    assert fields["start_ticks"] == 208823
    assert fields["vsize_bytes"] == 17285120
    assert fields["rss_pages"] == 3514
    assert fields["rsslim_bytes"] == 2**64 - 1


def test_stat_comm_with_spaces_parentheses_and_a_newline() -> None:
    comm, state, fields = stat_dict(data("weird-comm/stat"))
    assert comm == "a b) (c\nd)"
    assert state == "S"
    assert fields["ppid"] == 1582
    assert data("weird-comm/comm") == b"a b) (c\nd)\n"


def test_stat_comm_that_looks_like_fields() -> None:
    comm, state, fields = stat_dict(data("handmade/stat-comm-lookalike"))
    assert comm == "x) R 7 7 (y"
    assert state == "R"
    assert fields["ppid"] == 1579


def test_stat_of_a_kernel_thread() -> None:
    comm, state, fields = stat_dict(data("kthreadd/stat"))
    assert comm == "kthreadd"
    assert state == "S"
    assert fields["ppid"] == 0  # kthreadd has no parent
    assert fields["vsize_bytes"] == 0  # no user address space
    assert data("kthreadd/cmdline") == b""
    assert parse.parse_cmdline(data("kthreadd/cmdline")) == ()
    assert parse.parse_wchan(data("kthreadd/wchan")) == "kthreadd"


def test_stat_of_a_zombie() -> None:
    comm, state, fields = stat_dict(data("zombie/stat"))
    assert (comm, state) == ("python3", "Z")
    assert fields["ppid"] == 1582
    assert (fields["vsize_bytes"], fields["rss_pages"]) == (0, 0)
    assert parse.parse_cmdline(data("zombie/cmdline")) == ()
    assert parse.parse_statm(data("zombie/statm")) == [0, 0, 0, 0, 0]


def test_stat_ignores_fields_added_by_newer_kernels() -> None:
    assert parse.parse_stat(data("handmade/stat-long-line")) == parse.parse_stat(data("python/stat"))


@pytest.mark.parametrize(
    "name", ["handmade/stat-truncated", "handmade/stat-no-parens", "handmade/stat-bad-number", "handmade/stat-empty"]
)
def test_malformed_stat_raises_parse_error(name: str) -> None:
    with pytest.raises(ParseError):
        parse.parse_stat(data(name))


def test_parse_error_is_a_value_error() -> None:
    assert issubclass(ParseError, ValueError)


# -- statm, io, children, cmdline, wchan ---------------------------------------------------


def test_statm() -> None:
    assert len(STATM_FIELDS) == 5
    # size resident shared text lib data dt: lib (always 0) is skipped.
    assert parse.parse_statm(data("python/statm")) == [4220, 3533, 1715, 1, 2058]
    assert parse.parse_statm(data("kthreadd/statm")) == [0, 0, 0, 0, 0]


@pytest.mark.parametrize("name", ["handmade/statm-short", "handmade/statm-bad-number"])
def test_malformed_statm_raises_parse_error(name: str) -> None:
    with pytest.raises(ParseError):
        parse.parse_statm(data(name))


def test_io() -> None:
    values = dict(zip(IO_FIELDS, parse.parse_io(data("python/io")), strict=True))
    assert values == {
        "rchar": 1738908,
        "wchar": 306717,
        "syscr": 2183,
        "syscw": 95,
        "read_bytes": 0,
        "write_bytes": 417792,
        "cancelled_write_bytes": 0,
    }
    assert parse.parse_io(data("kthreadd/io")) == [0] * 7
    assert parse.parse_io(data("zombie/io")) == [0] * 7


def test_io_skips_unknown_keys() -> None:
    assert parse.parse_io(data("handmade/io-extra-key")) == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize("name", ["handmade/io-missing-key", "handmade/io-bad-number", "handmade/stat-empty"])
def test_malformed_io_raises_parse_error(name: str) -> None:
    with pytest.raises(ParseError):
        parse.parse_io(data(name))


def test_children() -> None:
    assert parse.parse_children(data("python/children")) == [1623, 1624, 1625]
    assert parse.parse_children(data("handmade/children-empty")) == []
    with pytest.raises(ParseError):
        parse.parse_children(data("handmade/children-garbage"))


def test_cmdline() -> None:
    assert parse.parse_cmdline(data("python/cmdline")) == ("/usr/bin/python3", "-")
    # setproctitle-style: one string, spaces, no NUL.
    assert parse.parse_cmdline(data("handmade/cmdline-setproctitle")) == ("nginx: worker process",)
    assert parse.parse_cmdline(b"a\0\0b\0") == ("a", "", "b")
    assert parse.parse_cmdline(b"a\0b") == ("a", "b")
    assert parse.parse_cmdline(b"\xff\0") == ("\ufffd",)


def test_wchan() -> None:
    assert parse.parse_wchan(data("python/wchan")) == "0"
    assert parse.parse_wchan(b"do_epoll_wait") == "do_epoll_wait"


# -- /proc/stat, /proc/meminfo -------------------------------------------------------------


def test_sys_stat() -> None:
    aggregate, per_cpu = parse.parse_sys_stat(data("system/stat"))
    assert aggregate == (30866, 0, 10287, 374936, 490, 0, 317, 394, 0, 0)
    assert len(per_cpu) == 2
    assert per_cpu[0] == (14681, 0, 3957, 189284, 359, 0, 155, 207, 0, 0)
    assert all(len(times) == 10 for times in per_cpu)


def test_sys_stat_of_an_old_kernel_pads_missing_columns() -> None:
    aggregate, per_cpu = parse.parse_sys_stat(data("handmade/sys-stat-old-kernel"))
    assert aggregate == (10, 20, 30, 40, 0, 0, 0, 0, 0, 0)
    assert per_cpu == [aggregate]


@pytest.mark.parametrize("name", ["handmade/sys-stat-no-cpu", "handmade/sys-stat-bad-number", "handmade/stat-empty"])
def test_malformed_sys_stat_raises_parse_error(name: str) -> None:
    with pytest.raises(ParseError):
        parse.parse_sys_stat(data(name))


def test_meminfo_is_parsed_by_key() -> None:
    info = parse.parse_meminfo(data("system/meminfo"))
    # MemAvailable (Linux 3.14) sits between MemFree and Buffers: a parser
    # that goes by position, as vwm's did, gets everything after it wrong.
    assert list(info)[:4] == ["MemTotal", "MemFree", "MemAvailable", "Buffers"]
    assert info["MemTotal"] == 24684092
    assert info["MemAvailable"] == 24322468
    assert info["Buffers"] == 11196
    assert info["Cached"] == 764612
    assert info["HugePages_Total"] == 0  # a count, no unit
    assert info["Hugepagesize"] == 2048
    assert len(info) == len(data("system/meminfo").splitlines())


def test_meminfo_of_an_old_kernel() -> None:
    info = parse.parse_meminfo(data("handmade/meminfo-2.6"))
    assert "MemAvailable" not in info
    assert info["Buffers"] == 170640
    assert info["Committed_AS"] == 1078824


@pytest.mark.parametrize(
    "name", ["handmade/meminfo-no-memtotal", "handmade/meminfo-bad-number", "handmade/meminfo-no-value"]
)
def test_malformed_meminfo_raises_parse_error(name: str) -> None:
    with pytest.raises(ParseError):
        parse.parse_meminfo(data(name))
