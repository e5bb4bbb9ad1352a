"""The ``--jsonl`` log on its own: written from hand-built engine records, read back into the same records."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from vwm_overlay.cli import main
from vwm_overlay.record.jsonlog import JsonLog, log_header
from vwm_overlay.record.logformat import LogError, read_log
from vwm_overlay.record.options import parse_options
from vwm_overlay.record.replay import LogReplay
from vwm_overlay.schedule import SampleTiming
from vwm_overlay.vmon import SysStat, Task, TaskIO, TaskStat

CHART = {"width_px": 800, "height_px": 600, "scale": 1.0, "lanes": False, "markers_every": 0, "name": "make"}


@dataclass
class Machine:
    ticks_per_s: int = 100
    num_cpus: int = 2
    page_size: int = 4096
    start_boottime_ticks: int = 400


def header() -> dict[str, Any]:
    options = parse_options(["--name", "make", "--", "make"])
    made = log_header(options, ["make"], Machine(), start_time=1.0)
    assert made["chart"] == CHART and made["argv"] == ["make"] and made["ticks_per_s"] == 100
    return made


def make_task(pid: int, *, parent: Task | None = None, thread: bool = False, comm: str = "w") -> Task:
    task = Task(pid, is_thread=thread, parent=parent)
    task.stat = TaskStat()
    task.stat.comm = comm
    task.stat.argv = (comm, "-x")
    task.stat.start_ticks = 500 + pid
    task.stat.state = "S"
    task.stat.wchan = "do_wait"
    task.delta.rss_bytes = 40960
    if not thread:
        task.io = TaskIO()
    if parent is not None:
        (parent.threads if thread else parent.children).append(task)
    return task


class Run:
    """A log being written from a hand-built tree and read back after each sample."""

    def __init__(self, root: Task) -> None:
        self.root = root
        self.out = io.StringIO()
        self.log = JsonLog(self.out, header())
        self.replay = LogReplay(json.loads(self.out.getvalue()))
        self.sys = SysStat()
        self.version = 0
        self.lines: list[dict[str, Any]] = []

    def sample(self, *, tree: bool = False, charted: bool = True) -> dict[str, Any]:
        self.version += tree
        self.sys.cpu = tuple(self.sys.cpu[i] + i for i in range(10))
        self.sys.boottime_ticks += 10
        start = len(self.out.getvalue())
        timing = SampleTiming(2, 0.5, 0.1000001)
        self.log.write_sample(
            self.root,
            sys=self.sys,
            timing=timing,
            t_s=0.1 * len(self.lines),
            time_s=2.0,
            hertz=10,
            charted=charted,
            structure_version=self.version,
        )
        line: dict[str, Any] = json.loads(self.out.getvalue()[start:])
        self.lines.append(line)
        self.replay.apply(line)
        assert self.replay.timing == timing and self.replay.sys.cpu == self.sys.cpu
        assert self.replay.sys.boottime_ticks == self.sys.boottime_ticks
        self.check(self.root, self.replay.root)
        return line

    def check(self, engine: Task | None, replayed: Task | None) -> None:
        """The replayed tree is the engine's, field by field, as far as a chart reads it."""
        assert engine is not None and replayed is not None
        stack = [(engine, replayed)]
        while stack:
            a, b = stack.pop()
            assert (a.pid, a.is_thread, a.is_threaded, a.is_stale) == (b.pid, b.is_thread, b.is_threaded, b.is_stale)
            assert (a.parent is None) == (b.parent is None)
            if a.parent is not None and b.parent is not None:
                assert a.parent.pid == b.parent.pid
            assert (a.io is None) == (b.io is None)
            assert (a.stat is None) == (b.stat is None)
            if a.stat is not None and b.stat is not None:
                for name in ("comm", "argv", "state", "wchan", "utime_ticks", "stime_ticks", "start_ticks"):
                    assert getattr(a.stat, name) == getattr(b.stat, name), name
            assert repr(a.delta) == repr(b.delta)
            assert len(a.children) == len(b.children) and len(a.threads) == len(b.threads)
            stack.extend(zip(a.children, b.children, strict=True))
            stack.extend(zip(a.threads, b.threads, strict=True))


def test_a_replayed_log_rebuilds_the_engines_records_sample_by_sample() -> None:
    root = make_task(10, comm="make")
    child = make_task(11, parent=root, comm="cc")
    run = Run(root)
    root.delta.baseline = child.delta.baseline = True  # running before the recording began
    first = run.sample(tree=True)
    assert [t["pid"] for t in first["started"]] == [10, 11] and first["baseline"] == [0, 1]
    assert first["children"] == [[0, [1]]]
    # Used CPU and IO, including children's; the total moved; a new thread; the state changed.
    for task in (root, child):
        task.delta.clear()
    root.delta.utime_ticks, root.delta.stime_ticks, root.delta.children_utime_ticks = 8, 2, 5
    root.delta.write_bytes = 4096
    assert root.stat is not None
    root.stat.utime_ticks, root.stat.stime_ticks = 30, 5
    root.stat.state, root.stat.wchan = "R", "0"
    root.is_threaded = True
    main_thread = make_task(10, parent=root, thread=True, comm="make")
    other = make_task(12, parent=root, thread=True, comm="make")
    main_thread.is_threaded = other.is_threaded = True
    other.delta.utime_ticks = 3
    second = run.sample(tree=True)
    assert second["use"] == [[0, 8, 2, 5, 0, 0, 4096], [3, 3]]
    assert second["threads"] == [[0, [2, 3]]]
    # Not a tree sample: nothing but what changed.
    for task in (root, other):
        task.delta.clear()
    child.delta.rss_bytes = 81920
    assert child.stat is not None
    child.stat.comm, child.stat.argv = "ld", ("ld", "-o", "x")
    third = run.sample()
    assert set(third) - {"sample", "t_s", "time", "elapsed_s", "columns", "adherence", "boottime_ticks", "cpu"} == {
        "names",
        "rss",
    }
    # The child exits (stale for one sample), then leaves its parent's list; the log drops it.
    child.is_stale = True
    assert run.sample(tree=True)["exited"] == [1]
    root.children.remove(child)
    child.is_stale = False
    fifth = run.sample(tree=True, charted=False)
    assert fifth["children"] == [[0, []]] and fifth["dropped"] == [1] and fifth["charted"] is False
    assert 1 not in run.replay.tasks
    # A task moved: its new parent.
    grandchild = make_task(13, parent=other, comm="x")
    run.sample(tree=True)
    other.children.remove(grandchild)
    root.children.append(grandchild)
    grandchild.parent = root
    assert run.sample(tree=True)["parents"] == [[4, 0]]


def write_lines(path: Path, *lines: object) -> str:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def test_a_version_1_log_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write_lines(tmp_path / "old.jsonl", {"sample": 0, "t_s": 0.0, "tasks": [], "started": [], "exited": []})
    with pytest.raises(LogError, match="older vwm-overlay"):
        read_log(old)
    assert main(["plot", old, "--output", str(tmp_path / "x.png")]) == 2
    assert main(["compare", old, old]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "version 1" in err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("not json\n", "not a vwm-overlay log"),
        ('{"schema": "vwm-overlay-log", "version": 3}\n', "version 3 is not supported"),
        ('{"schema": "something-else"}\n', "not a vwm-overlay log"),
    ],
)
def test_what_is_not_a_log_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(content)
    with pytest.raises(LogError, match=message):
        read_log(str(path))


def test_bytes_that_are_no_text_and_endless_lines_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(b"\xff\xfe\xfd caf\xe9\n")
    with pytest.raises(LogError, match="not a vwm-overlay log"):
        read_log(str(latin1))
    later = write_lines(tmp_path / "later.jsonl", header(), {"sample": 0})
    with open(later, "ab") as out:
        out.write(b'{"sample": "caf\xe9"}\n')
    _, lines = read_log(later)
    with pytest.raises(LogError, match=":3: not JSON"):
        list(lines)
    # No newline ever (a device): refused after a bounded read, not read for ever.
    assert main(["plot", "/dev/zero", "--output", str(tmp_path / "x.png")]) == 2
    assert main(["compare", str(latin1), "/dev/zero"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err and "more than" in err


def test_a_missing_log_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="No such file"):
        read_log(str(tmp_path / "missing.jsonl"))


def test_a_line_cut_short_by_a_crash_ends_the_log(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    write_lines(path, header(), {"sample": 0})
    with path.open("a") as out:
        out.write('{"sample": 1, "t_')
    _, lines = read_log(str(path))
    assert [line["sample"] for line in lines] == [0]
