"""The parts of ``record`` on their own: options, interpolation, snapshot names and atomic writes, the log."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from vwm_overlay.errors import UsageError
from vwm_overlay.record.files import OutputDir
from vwm_overlay.record.options import filename_safe, interpolate, parse_options
from vwm_overlay.record.progress import Progress
from vwm_overlay.record.snapshots import SnapshotWriter, snapshot_name

# -- options


def test_defaults_follow_vwm() -> None:
    options = parse_options(["--", "make", "-j3"])
    assert options.command == ("make", "-j3")
    assert (options.width_px, options.height_px, options.hertz, options.output_dir) == (800, 600, 10, ".")
    assert options.name == "make"
    assert not (options.snapshot_on_exit or options.linger or options.reaper or options.now_names)


def test_the_first_argument_that_is_no_option_starts_the_command() -> None:
    options = parse_options(["--hertz", "20", "/usr/bin/make", "--width", "5", "--"])
    assert options.command == ("/usr/bin/make", "--width", "5", "--")
    assert (options.hertz, options.width_px, options.name) == (20, 800, "make")


def test_a_pid_has_no_default_name() -> None:
    options = parse_options(["--pid", "1"])
    assert (options.pid, options.command, options.name) == (1, (), None)


@pytest.mark.parametrize(
    "argv",
    [["--pid", "1", "--", "true"], ["--reaper", "--pid", "1"], [], ["--width", "x", "true"], ["--pid", "0"]],
)
def test_contradictions_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(UsageError):
        parse_options(argv)


def test_the_output_dir_is_created_one_level_only(tmp_path: Path) -> None:
    OutputDir(str(tmp_path / "new")).close()
    assert (tmp_path / "new").is_dir()
    assert list((tmp_path / "new").iterdir()) == []  # the probe file is gone
    with pytest.raises(UsageError, match=r"cannot create .*\(ENOENT\)"):
        OutputDir(str(tmp_path / "a" / "b"))
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="not a directory"):
        OutputDir(str(tmp_path / "file"))


# -- interpolation


def test_every_specifier_expands() -> None:
    got = interpolate(["%n", "%N", "%O", "%P", "%%", "a%%b%P"], name="../my job/x", output_dir="out dir", pid=42)
    assert got == ("../my job/x", "_._my job_x", "out dir", "42", "%", "a%b42")


def test_no_name_expands_to_nothing() -> None:
    assert interpolate(["[%n]"], name=None, output_dir=".", pid=1) == ("[]",)


@pytest.mark.parametrize(("arg", "shown"), [("%x", "%x"), ("%W", "%W"), ("100%", "trailing %")])
def test_other_specifiers_are_errors(arg: str, shown: str) -> None:
    with pytest.raises(UsageError, match=shown):
        interpolate(["echo", arg], name="n", output_dir=".", pid=1)


def test_filename_safe() -> None:
    assert filename_safe("a/b\nc") == "a_b_c"
    assert filename_safe(".hidden") == "_hidden"
    assert filename_safe("..") == "_."


# -- snapshots


class FakeChart:
    """Writes ``data`` as its PNG; with ``fail_after``, writes that much and then fails like cairo running out of
    memory.  ``wips`` lists the files it was written to, as seen through the fd."""

    def __init__(self, data: bytes = b"\x89PNG fake", fail_after: int | None = None) -> None:
        self.data = data
        self.fail_after = fail_after
        self.samples = 1
        self.wips: list[str] = []

    def to_surface(self) -> FakeChart:
        return self

    def write_to_png(self, target: Any) -> None:
        self.wips.append(os.readlink(f"/proc/self/fd/{target._fd}"))
        if self.fail_after is not None:
            target.write(self.data[: self.fail_after])
            raise MemoryError
        target.write(self.data)


def test_snapshot_names_sort_by_time_and_have_no_colon() -> None:
    when = time.mktime((2026, 11, 28, 9, 30, 0, 0, 0, -1))
    assert snapshot_name("build", when, 0) == "build-2026-11-28T09.30.00-0.png"
    assert snapshot_name("a/b", when, 3) == "a_b-2026-11-28T09.30.00-3.png"
    assert snapshot_name(None, when, 1) == "2026-11-28T09.30.00-1.png"


def test_snapshots_count_up_and_go_through_a_temporary_file(tmp_path: Path) -> None:
    writer = SnapshotWriter(OutputDir(str(tmp_path)), "job", wall_clock=lambda: 1_800_000_000.0)
    chart = FakeChart()
    first, second = writer.write(chart), writer.write(chart)
    assert [Path(p).name[-6:] for p in (first, second)] == ["-0.png", "-1.png"]
    pid = os.getpid()
    assert [Path(p).name for p in chart.wips] == [f".{Path(first).name}.{pid}.WIP", f".{Path(second).name}.{pid}.WIP"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p).name for p in (first, second))
    assert Path(first).read_bytes() == chart.data


def test_an_interrupted_snapshot_leaves_nothing(tmp_path: Path) -> None:
    writer = SnapshotWriter(OutputDir(str(tmp_path)), "job", wip_name="in-progress")
    chart = FakeChart(fail_after=4)
    with pytest.raises(MemoryError):
        writer.write(chart)
    assert chart.wips == [str(tmp_path / "in-progress")]
    assert list(tmp_path.iterdir()) == []
    assert writer.written == []


def test_an_existing_png_is_never_replaced(tmp_path: Path) -> None:
    writer = SnapshotWriter(OutputDir(str(tmp_path)), "job", wall_clock=lambda: 1_800_000_000.0)
    taken = tmp_path / snapshot_name("job", 1_800_000_000.0, 0)
    taken.write_bytes(b"another run's")
    path = writer.write(FakeChart())
    assert path.endswith("-1.png")
    assert taken.read_bytes() == b"another run's"


def test_now_names_use_the_time_of_each_snapshot(tmp_path: Path) -> None:
    times = iter([1_800_000_000.0, 1_800_000_100.0])
    writer = SnapshotWriter(OutputDir(str(tmp_path)), "job", now_names=True, wall_clock=lambda: next(times))
    path = writer.write(FakeChart())
    assert Path(path).name == snapshot_name("job", 1_800_000_100.0, 0)


# -- progress


def test_progress_only_on_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress(out)
    assert not progress.enabled and progress.delay_s(0.0) is None
    progress.show(0.0, 1.0, 10, 3)
    assert out.getvalue() == ""


def test_progress_rewrites_one_line() -> None:
    out = io.StringIO()
    progress = Progress(out, enabled=True)
    assert progress.due(0.0)
    progress.show(0.0, 75.25, 752, 31)
    assert not progress.due(0.1)
    progress.clear()
    assert re.fullmatch(r"\rrecord: 01:15\.2  752 samples  31 tasks\x1b\[K\r\x1b\[K", out.getvalue())
