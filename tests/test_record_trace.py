"""``record --trace``: the Chrome trace-event file a real run leaves, checked against the viewers' rules, also
after the recorder was killed with SIGKILL."""

from __future__ import annotations

# The recorder fixture is test_record's, imported: pyflakes reads its use as a parameter as a redefinition.
import json
import os
import signal
from collections import defaultdict
from pathlib import Path
from typing import Any

from fs_helpers import small_tmpfs
from log_helpers import replayed
from polling import wait_for
from record_helpers import Start, finish, py

# A busy parent with one extra thread, a busy child named "worker", then exit 7.
WORKLOAD = """
    import os, pathlib, subprocess, sys, threading, time
    def spin(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
    child = subprocess.Popen([sys.executable, "-c",
        "import pathlib, time\\n"
        "pathlib.Path('/proc/self/comm').write_text('worker')\\n"
        "end = time.monotonic() + float(__import__('sys').argv[1])\\n"
        "while time.monotonic() < end: pass", sys.argv[1]])
    thread = threading.Thread(target=spin, args=(float(sys.argv[1]),))
    thread.start()
    spin(float(sys.argv[1]))
    thread.join()
    child.wait()
    sys.exit(7)
"""


def load_as_viewer(path: Path) -> list[dict[str, Any]]:
    """The JSON array form as chrome://tracing and Perfetto read it: the closing ``]`` may be missing."""
    text = path.read_text().rstrip()
    assert text.startswith("[")
    if not text.endswith("]"):
        text += "]"
    events = json.loads(text)
    assert isinstance(events, list)
    return events


def check_viewer_rules(events: list[dict[str, Any]]) -> None:
    named_processes = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    named_threads = {(e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    last_ts: dict[tuple[int, str], int] = {}
    for event in events:
        assert event["ph"] in ("M", "X", "C"), event
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int)
        assert isinstance(event["ts"], int) and event["ts"] >= 0, event  # (Perfetto wants it on names too)
        if event["ph"] == "M":
            assert isinstance(event["args"]["name"], str)
            continue
        assert event["pid"] in named_processes, event
        if event["ph"] == "X":
            assert isinstance(event["dur"], int) and event["dur"] >= 0, event
            assert (event["pid"], event["tid"]) in named_threads, event
        else:
            values = event["args"]
            assert values and all(isinstance(v, int | float) and v >= 0 for v in values.values()), event
            # A counter track never goes back in time.
            key = (event["pid"], event["name"])
            assert event["ts"] >= last_ts.get(key, 0), event
            last_ts[key] = event["ts"]


def test_a_run_gives_names_slices_and_counters(record: Start, tmp_path: Path) -> None:
    status, stderr = finish(record("--trace", "run.json", "--hertz", "20", "--output-dir", "out", *py(WORKLOAD, "1")))
    assert status == 7, stderr
    text = (tmp_path / "run.json").read_text()
    assert text.endswith("]\n")
    events = json.loads(text)  # complete: loads as plain JSON too
    check_viewer_rules(events)
    slices = [e for e in events if e["ph"] == "X"]
    names = {e["name"] for e in slices}
    assert "worker" in names
    # One slice per task: the command, its extra thread, the worker.
    assert len({(e["pid"], e["tid"]) for e in slices}) == len(slices)
    (worker,) = [e for e in slices if e["name"] == "worker"]
    command = next(e for e in slices if e["pid"] == e["tid"] and e["pid"] != worker["pid"] and e["dur"] > 500_000)
    threads = [e for e in slices if e["pid"] == command["pid"] and e["tid"] != command["pid"]]
    assert threads, "the command's extra thread has a slice"
    assert command["ts"] <= worker["ts"] and worker["ts"] + worker["dur"] <= command["ts"] + command["dur"]
    # The worker spun for a second (how much of a core it got depends on the machine's load): its CPU track shows it.
    counters = defaultdict(list)
    for e in events:
        if e["ph"] == "C":
            counters[(e["pid"], e["name"])].append(e["args"])
    assert max(a["user"] + a["system"] for a in counters[(worker["pid"], "cpu_percent")]) > 0
    assert max(a["rss"] for a in counters[(worker["pid"], "rss_bytes")]) > 1024 * 1024
    assert counters[(worker["pid"], "io_bytes_per_s")]


def test_a_recorder_killed_with_sigkill_leaves_a_trace_that_loads(record: Start, tmp_path: Path) -> None:
    proc = record("--trace", "run.json", "--hertz", "20", "--output-dir", "out", *py(WORKLOAD, "60"))
    trace = tmp_path / "run.json"

    def worker_counted() -> bool:
        text = trace.read_text() if trace.exists() else ""
        return '"name":"thread_name"' in text and '{"name":"worker"}' in text and text.count('"cpu_percent"') > 5

    wait_for(worker_counted, 30.0, "the worker's counters in the trace")
    os.kill(proc.pid, signal.SIGKILL)
    finish(proc)
    assert not trace.read_text().endswith("]\n")
    events = load_as_viewer(trace)
    check_viewer_rules(events)
    assert any(e["ph"] == "C" for e in events)


def test_a_symlink_is_never_followed(record: Start, tmp_path: Path) -> None:
    os.symlink(tmp_path / "elsewhere", tmp_path / "run.json")
    status, stderr = finish(record("--trace", "run.json", "--output-dir", "out", "true"))
    assert status == 2 and stderr.startswith("vwm-overlay record: run.json: ")
    assert not (tmp_path / "elsewhere").exists()


def test_a_full_disk_stops_the_trace_with_one_line_and_the_recording_goes_on(record: Start, tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "small", 4):
        args = ("--trace", "small/run.json", "--jsonl", "log.jsonl", "--hertz", "20", "--output-dir", "out")
        status, stderr = finish(record(*args, *py(WORKLOAD, "1.5")))
        assert status == 7
        (line,) = stderr.splitlines()
        cause = "No space left on device (ENOSPC)"
        assert line == f"vwm-overlay: small/run.json: {cause}; the trace stops here; the recording goes on"
        check_viewer_rules(load_as_viewer(tmp_path / "small" / "run.json"))
    *_, (last, _) = replayed(tmp_path / "log.jsonl")
    assert last.get("exited"), "the log went on to the command's exit"
