"""``vwm-overlay record`` end to end: real commands, real signals, the PNGs and the log it leaves."""

from __future__ import annotations

import itertools
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import cairocffi
import pytest
from chart_helpers import is_cyan
from log_helpers import cpu_percent, header_of, replayed, samples_of, tree_tasks
from record_helpers import (
    BUSY,
    HEADER_PX,
    NAME_RE,
    PNG_SIGNATURE,
    WAITER,
    Start,
    finish,
    gone_or_zombie,
    pngs,
    py,
    wait_until,
)

from vwm_overlay.cli import main


def test_a_busy_command_leaves_a_png_with_its_cyan_row(record: Start, tmp_path: Path) -> None:
    # 40 Hz: enough 1 px columns in a second to see past the text drawn over the newest ones.
    args = ("--output-dir", "out", "--width", "400", "--height", "300", "--hertz", "40")
    status, stderr = finish(record(*args, *py(BUSY, "1.0")))
    assert (status, stderr) == (0, "")
    [png] = pngs(tmp_path / "out")
    assert re.fullmatch(r"python[\d.]*" + NAME_RE, png.name)
    data = png.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (400, 300)
    surface = cairocffi.ImageSurface.create_from_png(str(png))
    pixels = memoryview(surface.get_data()).cast("I")
    stride = surface.get_stride() // 4

    def rgb(x: int, y: int) -> tuple[int, int, int]:
        p = int(pixels[y * stride + x])
        return ((p >> 16) & 255, (p >> 8) & 255, p & 255)

    def cyan_px(x: int, y0: int) -> int:
        return sum(is_cyan(rgb(x, y)) for y in range(y0, y0 + 15))

    # The command's row, first under the header: ~40 samples of a full core, each a cyan bar from the bottom
    # (shorter where the machine was shared, partly hidden where the text and its shadow cover it).
    assert sum(1 for x in range(400) if cyan_px(x, HEADER_PX) >= 3) >= 10
    # Below the rows, nothing.
    assert not any(cyan_px(x, 200) for x in range(400))
    assert not list((tmp_path / "out").glob("*WIP*"))


def test_scale_2_gives_a_twice_as_big_png_with_30_px_rows(record: Start, tmp_path: Path) -> None:
    status, stderr = finish(record("--output-dir", "out", "--scale", "2", "--hertz", "10", *py(BUSY, "1")))
    assert (status, stderr) == (0, "")
    [png] = pngs(tmp_path / "out")
    surface = cairocffi.ImageSurface.create_from_png(str(png))
    assert (surface.get_width(), surface.get_height()) == (1600, 1200)
    pixels = memoryview(surface.get_data()).cast("I")
    stride = surface.get_stride() // 4

    def cyan_px(x: int, y0: int, y1: int) -> int:
        return sum(
            is_cyan(((p >> 16) & 255, (p >> 8) & 255, p & 255)) for p in pixels[y0 * stride + x : y1 * stride : stride]
        )

    # The command's row starts under 3 header rows of 30 px and its full-core bars are up to 29 px tall (a tenth of a
    # second per sample: ten ticks, so a sample of a core it mostly had reads well over half of one).
    assert max(cyan_px(x, 90, 120) for x in range(1600)) > 15
    assert not any(cyan_px(x, 120, 150) for x in range(1600))


SLEEPERS_AND_A_SPINNER = """
    import glob, os, signal, subprocess, sys, time
    sleepers = [subprocess.Popen(["sleep", "60"]) for _ in range(50)]
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    while int(open(f"/proc/{spinner.pid}/stat").read().rsplit(")", 1)[1].split()[11]) < os.sysconf("SC_CLK_TCK"):
        time.sleep(0.05)
    # Once the spinner has used a second of CPU, a snapshot while every child is still in the tree (when this
    # process ends they are no longer its children, and a sample between its exit and the recorder's last one
    # lets them go); then it ends, leaving its children to the test's cleanup.
    os.kill(os.getppid(), signal.SIGUSR1)
    deadline = time.monotonic() + 60
    while not glob.glob("out/*.png") and time.monotonic() < deadline:
        time.sleep(0.05)
"""


def snapshot_rgb(out: Path) -> Callable[[int, int], tuple[int, int, int]]:
    """``rgb(x, y)`` of the oldest PNG in ``out`` (a snapshot taken before the recording's final one)."""
    png = min(pngs(out), key=lambda path: path.stat().st_mtime_ns)
    surface = cairocffi.ImageSurface.create_from_png(str(png))
    pixels = memoryview(bytes(surface.get_data())).cast("I")  # a copy: the surface's memory goes with it
    stride = surface.get_stride() // 4

    def rgb(x: int, y: int) -> tuple[int, int, int]:
        p = int(pixels[y * stride + x])
        return ((p >> 16) & 255, (p >> 8) & 255, p & 255)

    return rgb


def test_a_busy_child_after_50_sleepers_is_on_the_chart(record: Start, tmp_path: Path) -> None:
    status, stderr = finish(record("--output-dir", "out", "--hertz", "10", *py(SLEEPERS_AND_A_SPINNER)))
    assert (status, stderr) == (0, "")
    rgb = snapshot_rgb(tmp_path / "out")

    rows = range(HEADER_PX, 600 - 14, 15)
    # vwm's density: a task in every row (its PID at the right).
    assert sum(any(rgb(x, y + 7) == (255, 255, 255) for x in range(700, 796)) for y in rows) >= 34
    # Below the command's own row, the spinner's cyan bars (any CPU at all shows at least their bottom pixel).
    busy = [y for y in rows if y > HEADER_PX and any(is_cyan(rgb(x, y + 13)) for x in range(3))]
    assert busy, "the busy child's graph is on the chart"


SLEEPERS_AND_A_SPINNER_THAT_ENDS = """
    import glob, json, os, signal, subprocess, sys, time
    sleepers = [subprocess.Popen(["sleep", "60"]) for _ in range(50)]
    # A child that spins (in user space: asking for the time is a system call) for a second of CPU, then exits.
    spin = "import time\\nwhile time.process_time() < 1:\\n    for _ in range(100000): pass"
    subprocess.run([sys.executable, "-c", spin], check=True)

    def spinner_seen_gone():
        with open("log.jsonl") as log:
            lines = log.readlines()[1:]  # after the header, samples: the spinner is the only task to exit
        return any(line.endswith("\\n") and json.loads(line).get("exited") for line in lines)

    # Once the recorder has seen the spinner exit, a snapshot while the sleepers still run.
    deadline = time.monotonic() + 60
    while not spinner_seen_gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(os.getppid(), signal.SIGUSR1)
    while not glob.glob("out/*.png") and time.monotonic() < deadline:
        time.sleep(0.05)
"""


def test_a_busy_child_that_exited_keeps_its_row_among_50_sleepers(record: Start, tmp_path: Path) -> None:
    args = ("--jsonl", "log.jsonl", "--output-dir", "out", "--hertz", "10")
    status, stderr = finish(record(*args, *py(SLEEPERS_AND_A_SPINNER_THAT_ENDS)))
    assert (status, stderr) == (0, "")
    rgb = snapshot_rgb(tmp_path / "out")

    def bars(y: int) -> int:
        """Columns of the row at ``y`` with a cyan bar (any CPU at all shows at least its bottom pixel)."""
        return sum(is_cyan(rgb(x, y + 13)) for x in range(400))

    def has_text(y: int) -> bool:
        return any(rgb(x, y + 7) == (255, 255, 255) for x in range(800))

    rows = range(HEADER_PX + 15, 600 - 14, 15)  # under the command's own row
    assert sum(has_text(y) for y in rows) >= 30, "the sleepers are on the chart"
    # The spinner's snowflake, with its graph, under the blank row that separates the exited from the living.
    busy = [y for y in rows if bars(y) >= 3]
    assert busy, "the busy child's row is on the chart"
    assert not has_text(busy[0] - 15)
    assert not any(is_cyan(rgb(x, busy[0] - 15 + 7)) for x in range(400))


def test_the_exit_status_is_the_commands(record: Start) -> None:
    assert finish(record("--", "sh", "-c", "exit 7"))[0] == 7


def test_a_command_killed_by_a_signal_gives_128_plus_it(record: Start) -> None:
    assert finish(record("--", "sh", "-c", "kill -KILL $$"))[0] == 128 + signal.SIGKILL


def test_sigusr1_writes_a_snapshot(record: Start, tmp_path: Path) -> None:
    proc = record("--output-dir", "out", *py(WAITER, "plain"))
    wait_until((tmp_path / "ready").exists, "the command")
    proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: pngs(tmp_path / "out"), "the SIGUSR1 snapshot")
    assert proc.poll() is None  # a snapshot does not end the recording
    proc.terminate()
    status, _ = finish(proc)
    assert status == 128 + signal.SIGTERM
    assert 1 <= len(pngs(tmp_path / "out")) <= 2  # the SIGUSR1 one, and the final one if a sample came since


def test_sigterm_writes_a_final_snapshot_and_exits_at_once(record: Start, tmp_path: Path) -> None:
    # At 1 Hz the loop sleeps a second between samples: the signal must not wait for it.
    proc = record("--snapshot", "--hertz", "1", "--output-dir", "out", *py(WAITER, "plain"))
    wait_until((tmp_path / "ready").exists, "the command")
    sent = time.monotonic()
    proc.terminate()
    status, stderr = finish(proc)
    assert time.monotonic() - sent < 0.9
    assert (status, stderr) == (128 + signal.SIGTERM, "")
    [png] = pngs(tmp_path / "out")
    assert png.read_bytes()[:8] == PNG_SIGNATURE


def test_the_first_sigint_goes_to_the_command(record: Start, tmp_path: Path) -> None:
    proc = record("--output-dir", "out", *py(WAITER, "trap"))
    wait_until((tmp_path / "ready").exists, "the command")
    proc.send_signal(signal.SIGINT)
    assert finish(proc)[0] == 3  # the command's handler exits 3
    assert len(pngs(tmp_path / "out")) == 1


def test_a_second_sigint_ends_the_recording(record: Start, tmp_path: Path) -> None:
    command = py("import os, pathlib; pathlib.Path('pid').write_text(str(os.getpid()))\n" + textwrap.dedent(WAITER))
    proc = record("--output-dir", "out", *command, "count")
    wait_until((tmp_path / "ready").exists, "the command")
    proc.send_signal(signal.SIGINT)
    wait_until((tmp_path / "got-int").exists, "the forwarded SIGINT")
    proc.send_signal(signal.SIGINT)
    assert finish(proc)[0] == 128 + signal.SIGINT
    assert len(pngs(tmp_path / "out")) == 1
    command_pid = int((tmp_path / "pid").read_text())
    wait_until(lambda: gone_or_zombie(command_pid), "the command to be killed with the recorder")


def test_a_command_that_cannot_run_gives_127(record: Start) -> None:
    status, stderr = finish(record("--", "/nonexistent/command"))
    assert status == 127
    assert stderr.count("\n") == 1 and "/nonexistent/command" in stderr


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_an_unwritable_output_dir_fails_before_the_command_runs(record: Start, tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("")
    # A directory under a regular file cannot be created; /proc exists but takes no files, even from root.
    output_dir = str(tmp_path / "file" / "out") if where == "under-a-file" else "/proc"
    status, stderr = finish(record("--output-dir", output_dir, "--", "touch", "marker"))
    assert status == 2
    assert stderr.count("\n") == 1 and "output directory" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "marker").exists()


def test_a_pid_that_does_not_exist_is_a_usage_error(record: Start) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names no process now
    status, stderr = finish(record("--pid", str(gone.pid)))
    assert status == 2
    assert stderr == f"vwm-overlay record: no such process: {gone.pid}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--width", "199", "--", "true"], "--width"),
        (["--height", "27", "--", "true"], "--height"),
        (["--width", "40000", "--", "true"], "--width"),
        (["--width", "16384", "--height", "16384", "--", "true"], "Mpx"),
        (["--scale", "4", "--width", "16384", "--", "true"], "65536 x 2400 px"),
        (["--scale", "4", "--width", "4096", "--height", "4096", "--", "true"], "Mpx"),
        (["--wip-name", "w" * 256, "--", "true"], "--wip-name"),
        (["--hertz", "0", "--", "true"], "--hertz"),
        (["--hertz", "1001", "--", "true"], "--hertz"),
        (["--snapshots", "0", "--", "true"], "--snapshots"),
        (["--scale", "5", "--", "true"], "--scale"),
        (["--scale", "x", "--", "true"], "--scale"),
        (["--wip-name", "a/b", "--", "true"], "--wip-name"),
        (["--bogus", "--", "true"], "--bogus"),
        (["--pid", "1", "--", "true"], "--pid"),
        (["--reaper", "--pid", "1"], "--reaper"),
        ([], "nothing to record"),
        (["--", "echo", "%x"], "%x"),
        (["--", "echo", "50%"], "trailing %"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    # In-process: every one of these is refused before anything is started.
    sigpipe = signal.getsignal(signal.SIGPIPE)  # main() resets it for the command line's sake
    try:
        assert main(["record", "--output-dir", str(tmp_path), *args]) == 2
    finally:
        signal.signal(signal.SIGPIPE, sigpipe)
    stderr = capsys.readouterr().err
    assert stderr.startswith("vwm-overlay record: ") and stderr.count("\n") == 1
    assert message in stderr
    assert list(tmp_path.iterdir()) == []


def test_arguments_are_interpolated(record: Start, tmp_path: Path) -> None:
    write_args = "import sys; open('args', 'w').write('|'.join(sys.argv[1:]))"
    proc = record(
        "--name", "my/job", "--output-dir", "out", "--", sys.executable, "-c", write_args, "%O", "%P", "%%", "%n", "%N"
    )
    assert finish(proc)[0] == 0
    assert (tmp_path / "args").read_text() == f"out|{proc.pid}|%|my/job|my_job"
    assert all(re.fullmatch("my_job" + NAME_RE, p.name) for p in pngs(tmp_path / "out"))


def test_periodic_snapshots_are_whole_pngs_and_leave_no_temporary_file(record: Start, tmp_path: Path) -> None:
    status, _ = finish(record("--snapshots", "1", "--name", "busy", "--output-dir", "out", *py(BUSY, "1.5")))
    assert status == 0
    written = pngs(tmp_path / "out")
    assert len(written) >= 3  # at the start, after 1 s, and at the end
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in written]
    for png in written:
        assert re.fullmatch("busy" + NAME_RE, png.name)
        assert cairocffi.ImageSurface.create_from_png(str(png)).get_width() == 800


def test_a_fixed_wip_name_is_used_and_gone_afterwards(record: Start, tmp_path: Path) -> None:
    status, _ = finish(record("--wip-name", "in-progress", "--snapshots", "1", "--output-dir", "out", "true"))
    assert status == 0
    assert not (tmp_path / "out" / "in-progress").exists()
    assert pngs(tmp_path / "out")


def test_the_log_covers_the_run(record: Start, tmp_path: Path) -> None:
    # The command reports its own pid, and when it was busy and how much of a core it got meanwhile (the machine
    # may be shared: the log must agree with that, not with an ideal 100%).
    script = """
        import json, os, subprocess, time
        subprocess.run(["sleep", "0.4"])
        start, cpu_start = time.time(), time.process_time()
        while time.time() - start < 1.0:
            pass
        share = (time.process_time() - cpu_start) / (time.time() - start)
        json.dump({"pid": os.getpid(), "start": start, "end": time.time(), "share": share}, open("report", "w"))
    """
    status, _ = finish(record("--jsonl", "log.jsonl", "--output-dir", "out", *py(script)))
    assert status == 0
    report = json.loads((tmp_path / "report").read_text())
    command_pid = report["pid"]
    samples = samples_of(tmp_path / "log.jsonl")
    assert header_of(tmp_path / "log.jsonl")["argv"] == py(script)
    assert [s["sample"] for s in samples] == list(range(len(samples)))
    assert len(samples) >= 10
    assert all(a["t_s"] < b["t_s"] for a, b in itertools.pairwise(samples))
    # The first sample already sees the command; the last one records its exit.
    assert samples[0]["started"][0]["pid"] == command_pid
    assert 0 in samples[-1]["exited"]
    # The short-lived child came and went: started, exec'd sleep, exited.
    sleeps: list[int] = []
    busy: list[float] = []
    for line, replay in replayed(tmp_path / "log.jsonl"):
        for task in tree_tasks(replay.root):
            if task.stat is not None and task.stat.argv == ("sleep", "0.4") and task.is_stale:
                sleeps.append(task.pid)
        # The busy loop: (on an idle machine) a whole core in the samples that fall within it.
        if report["start"] + 0.2 < line["time"] < report["end"]:
            assert replay.root is not None and replay.root.pid == command_pid
            busy.append(cpu_percent(replay.root, replay))
    assert len(sleeps) == 1
    assert len(busy) >= 5
    assert sum(busy) / len(busy) > 50 or report["share"] < 0.6
    assert abs(sum(busy) / len(busy) - 100 * report["share"]) < 20


def test_a_pid_is_recorded_until_it_exits(record: Start, tmp_path: Path) -> None:
    target = subprocess.Popen(["sleep", "60"])
    try:
        proc = record("--pid", str(target.pid), "--jsonl", "log.jsonl", "--output-dir", "out")
        log = tmp_path / "log.jsonl"
        wait_until(lambda: log.exists() and log.read_text().count("\n") >= 2, "a sample after the header")
        target.kill()
        target.wait()
        assert finish(proc) == (0, "")
    finally:
        target.kill()
        target.wait()
    assert len(pngs(tmp_path / "out")) == 1
    assert samples_of(tmp_path / "log.jsonl")[0]["started"][0]["comm"] == "sleep"


def test_the_reaper_keeps_orphans_in_the_chart(record: Start, tmp_path: Path) -> None:
    proc = record("--reaper", "--linger", "--jsonl", "log.jsonl", "--", "sh", "-c", "sleep 60 & echo $! > orphan")
    wait_until((tmp_path / "orphan").exists, "the orphan")
    orphan = int((tmp_path / "orphan").read_text())

    def orphan_charted_after_the_command_exited() -> bool:
        sh_exited = False
        for _, replay in replayed(tmp_path / "log.jsonl"):
            tasks = list(tree_tasks(replay.root))
            if sh_exited and any(t.pid == orphan and not t.is_stale for t in tasks):
                return True
            sh_exited = sh_exited or any(t.is_stale and t.stat is not None and t.stat.comm == "sh" for t in tasks)
        return False

    wait_until(orphan_charted_after_the_command_exited, "the orphan to be charted under the recorder")
    assert samples_of(tmp_path / "log.jsonl")[0]["started"][0]["pid"] == proc.pid  # the root is the recorder
    proc.terminate()
    assert finish(proc)[0] == 0  # the command's status: it had exited


def test_on_a_terminal_ctrl_c_reaches_the_command_and_progress_is_shown(tmp_path: Path) -> None:
    # The command counts its SIGINTs and exits 3 a little after the first.
    script = """
        import pathlib, signal, time
        got = []
        signal.signal(signal.SIGINT, lambda *_: got.append(1))
        pathlib.Path("ready").touch()
        deadline = time.monotonic() + 30
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)
        pathlib.Path("count").write_text(str(len(got)))
        raise SystemExit(3)
    """
    argv = [sys.executable, "-m", "vwm_overlay", "record", "--output-dir", str(tmp_path / "out"), *py(script)]
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child: the pty is its controlling terminal
        os.chdir(tmp_path)
        os.execv(argv[0], argv)
    output = bytearray()
    try:

        def read_terminal() -> bytes:
            while select.select([master], [], [], 0)[0]:
                try:
                    output.extend(os.read(master, 4096))
                except OSError:
                    break
            return bytes(output)

        wait_until(lambda: (tmp_path / "ready").exists() and b"samples" in read_terminal(), "the progress line")
        os.write(master, b"\x03")  # Ctrl-C: the terminal signals its whole foreground process group
        deadline = time.monotonic() + 15
        while (waited := os.waitpid(pid, os.WNOHANG))[0] == 0:
            assert time.monotonic() < deadline, "the recorder did not exit"
            read_terminal()
            time.sleep(0.02)
        pid = 0
        assert os.waitstatus_to_exitcode(waited[1]) == 3
        assert (tmp_path / "count").read_text() == "1"
        assert re.search(rb"record: \d\d:\d\d\.\d  \d+ samples  \d+ tasks", output)
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(master)
