"""``vwm-overlay tree``, run as a command over real processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from proc_helpers import Controller

ROW = re.compile(r"^\s*(\d+) (\S) +(\S+) +(\S+) +(\S+)  (.*)$")


def tree(*args: str, timeout_s: float = 15) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vwm_overlay", "tree", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def rows(output: str) -> list[list[tuple[int, str, str, str]]]:
    """Per printed sample: (pid, state, cpu, command) for each row."""
    samples: list[list[tuple[int, str, str, str]]] = []
    for line in output.splitlines():
        if line.startswith("# sample"):
            samples.append([])
        elif (match := ROW.match(line)) is not None:
            samples[-1].append((int(match[1]), match[2], match[3], match[6]))
    return samples


def test_tree_prints_pid_state_cpu_and_argv(nodes: Controller) -> None:
    node = nodes.spawn_node()
    spinner = node.spin()
    tids = node.start_threads(1)
    done = tree("--pid", str(node.pid), "--interval", "0.5", "--count", "2")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert re.search(r"^\s+PID S\s+CPU%\s+READ/s\s+WRITE/s\s+COMMAND$", done.stdout, re.MULTILINE)
    samples = rows(done.stdout)
    assert len(samples) == 2
    for sample in samples:
        by_pid = {
            pid: (state, cpu, command) for pid, state, cpu, command in sample if not command.lstrip().startswith("~")
        }
        assert sample[0][0] == node.pid and by_pid[node.pid][2].startswith("/")  # the root, unindented
        state, cpu, command = by_pid[node.pid]
        assert state in "SR" and command.endswith(f"node {nodes.path}")
        assert re.fullmatch(r"\d+\.\d%", cpu)
        state, cpu, command = by_pid[spinner]
        assert state == "R" and command.strip().endswith(f"node {nodes.path}")
        assert 0.0 < float(cpu.rstrip("%")) <= 120.0  # at most a core: what it got of a busy machine
        threads = {pid for pid, _, _, command in sample if command.lstrip().startswith("~")}
        assert threads == {node.pid, *tids}  # the main thread too


def test_tree_of_the_calling_process() -> None:
    done = tree("--pid", str(os.getpid()), "--interval", "0.1", "--count", "1")
    assert done.returncode == 0, done.stderr
    [sample] = rows(done.stdout)
    pids = [pid for pid, _, _, _ in sample]
    assert pids[0] == os.getpid()
    assert any("vwm_overlay tree" in command for _, _, _, command in sample)  # itself, a child


def test_tree_of_a_process_that_does_not_exist(nodes: Controller) -> None:
    node = nodes.spawn_node()
    gone = node.zombie()
    node.reap(gone)
    done = tree("--pid", str(gone), "--count", "1")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and f"no such process: {gone}" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--pid", "abc"],
        ["--pid", "1", "--interval", "0"],
        ["--pid", "1", "--interval", "soon"],
        ["--pid", "1", "--count", "0"],
        ["--pid", "1", "--frobnicate"],
    ],
)
def test_tree_with_bad_arguments_exits_2_with_one_line(args: list[str]) -> None:
    done = tree(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("vwm-overlay tree: "), done.stderr


def test_tree_shows_control_characters_as_ps_does() -> None:
    # Another user's argv can hold escape sequences; they must not reach the terminal.
    argv = [sys.executable, "-c", "import time; time.sleep(30)", "\x1b]0;pwned\x07", "two\nlines\u202e"]
    target = subprocess.Popen(argv)
    try:
        done = tree("--pid", str(target.pid), "--interval", "0.1", "--count", "1")
    finally:
        target.kill()
        target.wait()
    assert done.returncode == 0, done.stderr
    [[(_, _, _, command)]] = rows(done.stdout)
    assert command.endswith(" ?]0;pwned? two?lines?")
    assert "\x1b" not in done.stdout


@pytest.mark.parametrize("interval", ["inf", "nan", "-1", "0", "1e300"])
def test_tree_refuses_intervals_that_are_no_duration(interval: str) -> None:
    done = tree("--pid", str(os.getpid()), "--interval", interval, "--count", "1")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--interval" in done.stderr and "Traceback" not in done.stderr
