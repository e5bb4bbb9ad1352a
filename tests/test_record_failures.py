"""Every failure survived: outputs that fail (a full disk, a closed pipe, no fds, a name too long) and the signals
that would end the process.  Each output failure is one line naming the file and the errno; the recording, the
other outputs and the command go on."""

from __future__ import annotations

import io
import itertools
import json
import re
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import fs_helpers
import pytest
from record_helpers import WAITER, Start, finish, pngs, py, wait_until

from vwm_overlay.record.options import parse_options
from vwm_overlay.record.runner import Recorder
from vwm_overlay.record.signals import ENDING_SIGNALS

#: ``vwm-overlay: FILE: CAUSE (ERRNO); WHAT NOW``
REPORT = re.compile(r"vwm-overlay: (?P<file>.+): (?P<cause>[^;]+) \((?P<errno>E[A-Z]+)\); (?P<now>[^;]+)")

#: A command that says it runs, then exits 0 when the file ``stop`` appears (or after 60 s).
UNTIL_STOP = """
    import pathlib, time
    pathlib.Path("ready").touch()
    deadline = time.monotonic() + 60
    while not pathlib.Path("stop").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    pathlib.Path("done").touch()
"""


class StderrLines:
    """Collects a running recorder's stderr lines as they come (its pipe must not fill)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        self._stream = proc.stderr
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line)

    def matching(self, pattern: str) -> list[str]:
        return [line for line in self.lines if re.search(pattern, line)]

    def join(self) -> str:
        self._thread.join(timeout=30)
        return "".join(self.lines)


def assert_reports(stderr: str) -> list[re.Match[str]]:
    """Every stderr line is a one-line report; returns them."""
    lines = stderr.splitlines()
    assert lines, "no report"
    matches = [REPORT.fullmatch(line) for line in lines]
    assert all(matches), stderr
    return [m for m in matches if m is not None]


# -- outputs that fail


def test_a_full_log_device_stops_the_log_only(record: Start, tmp_path: Path) -> None:
    status, stderr = finish(record("--jsonl", "/dev/full", "--output-dir", "out", "--", "touch", "ran"))
    assert stderr == "vwm-overlay: /dev/full: No space left on device (ENOSPC); the log stops, the recording goes on\n"
    assert status == 1  # the command's 0, made a failure by the lost output
    assert (tmp_path / "ran").exists()
    assert len(pngs(tmp_path / "out")) == 1


def test_a_log_reader_that_goes_away_stops_the_log_only(record: Start, tmp_path: Path) -> None:
    proc = record("--jsonl", "/dev/stdout", "--output-dir", "out", *py(UNTIL_STOP))
    assert proc.stdout is not None
    assert json.loads(proc.stdout.readline())["schema"] == "vwm-overlay-log"  # the header, then the samples
    assert json.loads(proc.stdout.readline())["sample"] == 0
    proc.stdout.close()  # as `| head -1` does
    stderr = StderrLines(proc)
    wait_until(lambda: stderr.lines, "the report")
    (tmp_path / "stop").touch()
    status = proc.wait(timeout=30)
    [report] = assert_reports(stderr.join())
    assert (report["file"], report["errno"], report["now"]) == (
        "/dev/stdout",
        "EPIPE",
        "the log stops, the recording goes on",
    )
    assert status == 1
    assert (tmp_path / "done").exists()
    assert len(pngs(tmp_path / "out")) == 1


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs, mounted for the test."""
    with fs_helpers.small_tmpfs(tmp_path / "tmpfs", 1024) as mount_point:
        yield mount_point


def fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` with one file; returns it."""
    filler = directory / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_is_reported_and_retried(record: Start, tmp_path: Path, small_tmpfs: Path) -> None:
    out = small_tmpfs / "out"
    log = small_tmpfs / "log.jsonl"
    filler = fill(small_tmpfs)
    proc = record("--name", "job", "--jsonl", str(log), "--output-dir", str(out), *py(UNTIL_STOP))
    stderr = StderrLines(proc)
    wait_until(lambda: stderr.matching("log stops"), "the log's report")
    proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: stderr.matching("no snapshot"), "the snapshot's report")
    filler.unlink()
    proc.send_signal(signal.SIGUSR1)  # the next snapshot finds room
    wait_until(lambda: pngs(out), "a snapshot after the space was freed")
    (tmp_path / "stop").touch()
    status = proc.wait(timeout=30)
    log_report, png_report = assert_reports(stderr.join())
    assert (log_report["file"], log_report["errno"]) == (str(log), "ENOSPC")
    assert re.fullmatch(re.escape(str(out)) + r"/job-.*-0\.png", png_report["file"])
    assert png_report["errno"] == "ENOSPC"
    assert png_report["now"] == "no snapshot this time, the recording goes on"
    assert status == 1
    assert (tmp_path / "done").exists()
    assert log.read_bytes() == b""  # cut back to its last whole line: none was written
    assert [p.name[-6:] for p in pngs(out)][:1] == ["-1.png"]
    assert not [p for p in out.iterdir() if p.name.endswith(".WIP")]


def test_running_out_of_fds_is_reported_and_retried(record: Start, tmp_path: Path) -> None:
    proc = record("--output-dir", "out", *py(UNTIL_STOP))
    stderr = StderrLines(proc)
    wait_until((tmp_path / "ready").exists, "the command")
    limits = resource.prlimit(proc.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (3, limits[1]))  # no fd can be opened now
    proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: stderr.lines, "the report")
    resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, limits)
    proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: pngs(tmp_path / "out"), "a snapshot once fds are back")
    (tmp_path / "stop").touch()
    status = proc.wait(timeout=30)
    # A sample in the same moment may have found no fd for a /proc file either: the engine says so once.
    engine_line = "; reading the others open-read-close from now on, which costs more"
    lines = [line for line in stderr.join().splitlines() if not line.endswith(engine_line)]
    [report] = assert_reports("\n".join(lines))
    assert report["errno"] == "EMFILE" and report["file"].endswith(".WIP")
    assert status == 1
    assert (tmp_path / "done").exists()


def test_a_name_too_long_for_a_file_name(record: Start, tmp_path: Path) -> None:
    status, stderr = finish(record("--name", "x" * 300, "--output-dir", "out", "--", "true"))
    assert (status, stderr) == (0, "")
    [png] = pngs(tmp_path / "out")
    assert png.name.startswith("x" * 100) and len(png.name) < 255
    status, stderr = finish(record("--jsonl", "y" * 300, "--", "touch", "ran"))
    assert status == 2
    assert stderr == f"vwm-overlay record: {'y' * 300}: File name too long (ENAMETOOLONG); nothing was started\n"
    assert not (tmp_path / "ran").exists()


# -- signals


@pytest.mark.parametrize(
    "signum",
    [signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR2, signal.SIGALRM, signal.SIGXCPU, signal.SIGRTMIN + 3],
    ids=lambda s: signal.Signals(s).name if s in signal.Signals._value2member_map_ else f"SIG{s}",
)
def test_a_fatal_signal_ends_the_recording_with_a_png(record: Start, tmp_path: Path, signum: int) -> None:
    assert signum in ENDING_SIGNALS
    proc = record("--output-dir", "out", *py(WAITER, "plain"))
    wait_until((tmp_path / "ready").exists, "the command")
    proc.send_signal(signum)
    status, stderr = finish(proc)
    assert (status, stderr) == (128 + signum, "")
    assert len(pngs(tmp_path / "out")) == 1


def signals_blocked(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigBlk:"):
            return int(line.split()[1], 16)
    return 0


def test_a_signal_during_start_up_waits_for_the_recorder(record: Start, tmp_path: Path) -> None:
    proc = record("--output-dir", "out", "--", "true")
    usr1_bit = 1 << (signal.SIGUSR1 - 1)
    # The moment the entry point blocked the signals: the imports (cairo, the engine) are still to come.
    wait_until(lambda: signals_blocked(proc.pid) & usr1_bit or proc.poll() is not None, "signals blocked")
    proc.send_signal(signal.SIGUSR1)
    status, stderr = finish(proc)
    assert (status, stderr) == (0, "")  # not killed: the snapshot it asked for was taken
    assert pngs(tmp_path / "out")


REPORT_SIGNALS = """
    import pathlib, signal
    hup = signal.getsignal(signal.SIGHUP)
    blocked = [l for l in open("/proc/self/status") if l.startswith("SigBlk:")][0].split()[1]
    pathlib.Path("signals").write_text(f"{hup == signal.SIG_IGN} {int(blocked, 16)}")
    pathlib.Path("ready").touch()
    import time; time.sleep(60)
"""


def test_the_command_gets_the_signals_the_recorder_started_with(record: Start, tmp_path: Path) -> None:
    # As under nohup: SIGHUP ignored.  It stays ignored for the recorder and for the command, and the command's
    # mask is the one the recorder started with, not the one it blocks its own signals with.
    proc = record(
        "--output-dir", "out", *py(REPORT_SIGNALS), preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)
    )
    wait_until((tmp_path / "ready").exists, "the command")
    assert (tmp_path / "signals").read_text() == "True 0"
    proc.send_signal(signal.SIGHUP)
    proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: pngs(tmp_path / "out"), "the snapshot after SIGHUP")
    assert proc.poll() is None
    proc.terminate()
    assert finish(proc) == (128 + signal.SIGTERM, "")


HANGUP_HARNESS = """
    # The recorder runs on a terminal, under a session leader (as a shell would be) that dies when the terminal
    # hangs up; the kernel then sends SIGHUP to the foreground process group.  This harness is a subreaper, so it
    # can reap the orphaned recorder and print its exit status.
    import ctypes, os, pathlib, pty, select, sys, time
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    pid, master = pty.fork()
    if pid == 0:
        recorder = os.fork()
        if recorder == 0:
            os.execv(sys.argv[1], sys.argv[1:])
        pathlib.Path("recorder.pid").write_text(str(recorder))
        os.waitpid(recorder, 0)
        os._exit(0)
    deadline = time.monotonic() + 30
    output = b""
    while not (pathlib.Path("ready").exists() and b"samples" in output) and time.monotonic() < deadline:
        if select.select([master], [], [], 0.05)[0]:
            output += os.read(master, 4096)
    os.close(master)  # the terminal hangs up
    recorder = int(pathlib.Path("recorder.pid").read_text())
    statuses = {}
    while True:
        try:
            child, status = os.wait()
        except ChildProcessError:
            break
        statuses[child] = os.waitstatus_to_exitcode(status)
    print(statuses.get(recorder))
"""


def test_a_terminal_that_hangs_up_ends_the_recording_with_a_png(tmp_path: Path) -> None:
    recorder = [sys.executable, "-m", "vwm_overlay", "record", "--output-dir", "out", *py(WAITER, "plain")]
    done = subprocess.run(
        py(HANGUP_HARNESS, *recorder), cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stderr == ""
    assert done.stdout == f"{128 + signal.SIGHUP}\n"
    assert len(pngs(tmp_path / "out")) == 1


def test_record_imports_no_x_code(tmp_path: Path) -> None:
    script = """
        import sys
        from vwm_overlay.cli import main
        assert main(["record", "--output-dir", sys.argv[1], "--", "true"]) == 0
        x_code = ("Xlib", "xcffib", "vwm_overlay.x11", "vwm_overlay.desktop")
        print(sorted(m for m in sys.modules if m.startswith(x_code)))
    """
    done = subprocess.run(py(script, str(tmp_path)), capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == "[]\n"


def test_a_command_that_exits_at_once_still_leaves_a_png(tmp_path: Path) -> None:
    # In-process, on a clock that moves on at every reading, as on a loaded machine where the recorder is preempted
    # between two: the first sample must not wait for a deadline, or the command's exit could end the run first.
    ticks = itertools.count()
    recorder = Recorder(
        parse_options(["--output-dir", str(tmp_path / "out"), "--", "true"]),
        ("true",),
        clock=lambda: next(ticks) * 0.01,
        stderr=io.StringIO(),
    )
    assert recorder.run() == 0
    assert len(pngs(tmp_path / "out")) == 1
