"""``record --summary``: real commands, the JSON it leaves and the Markdown step summary."""

# The recorder fixture is test_record's, imported: pyflakes reads its use as a parameter as a redefinition.

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from log_helpers import replayed_so_far, tree_tasks
from polling import wait_for
from record_helpers import Start, finish, py

from vwm_overlay.record.groups import Group, GroupTotals
from vwm_overlay.record.summary import markdown_table, summary_dict

MIB = 1024 * 1024

# A child named "holder" holding 60 MiB (touched, so resident) until the file "release" exists.
HOLDER = """
import pathlib, sys, time
pathlib.Path("/proc/self/comm").write_text("holder")
block = bytearray(b"x") * (60 * 1024 * 1024)
pathlib.Path(f"ready-{sys.argv[1]}").touch()
while not pathlib.Path("release").exists():
    time.sleep(0.02)
"""

# Three holders at once; the command exits with 5 once they are done.
HOLDERS = """
    import subprocess, sys
    children = [subprocess.Popen([sys.executable, "-c", sys.argv[1], str(i)]) for i in range(3)]
    for c in children:
        c.wait()
    sys.exit(5)
"""


def test_three_holders_give_one_command_with_three_instances(
    record: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step.md"))
    proc = record("--summary", "summary.json", "--jsonl", "log.jsonl", "--output-dir", "out", *py(HOLDERS, HOLDER))

    def all_three_held_in_one_sample() -> bool:
        for _, replay in replayed_so_far(tmp_path / "log.jsonl"):
            holding = [
                t
                for t in tree_tasks(replay.root)
                if not t.is_thread and not t.is_stale and t.stat is not None and t.stat.comm == "holder"
                if t.delta.rss_bytes >= 60 * MIB
            ]
            if len(holding) == 3:
                return True
        return False

    wait_for(all_three_held_in_one_sample, 60.0, "a sample with the three holders at 60 MiB")
    (tmp_path / "release").touch()
    status, stderr = finish(proc)
    assert status == 5, stderr  # the command's status, not the summary's
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["exit_status"] == 5
    holder = next(c for c in summary["commands"] if c["name"] == "holder")
    assert holder["count"] == 3
    assert 60 * MIB <= holder["peak_rss_bytes"] < 80 * MIB
    assert holder["longest_wall_s"] > 0
    assert summary["tree"]["peak_rss_bytes"] >= 180 * MIB
    assert summary["tree"]["peak_processes"] >= 4
    assert summary["tree"]["cpu_total_s"] > 0
    step = (tmp_path / "step.md").read_text()
    assert "| `holder` | 3 |" in step
    assert "exit status 5" in step


def test_an_existing_summary_of_ours_is_replaced_by_a_new_file(record: Start, tmp_path: Path) -> None:
    old = tmp_path / "summary.json"
    old.write_text("last run")
    os.link(old, tmp_path / "other-name")
    status, stderr = finish(record("--summary", "summary.json", "--output-dir", "out", "true"))
    assert (status, stderr) == (0, "")
    assert json.loads(old.read_text())["exit_status"] == 0
    assert (tmp_path / "other-name").read_text() == "last run"  # a new file: the old one was not written through


def test_a_summary_in_another_users_directory_stops_the_run_before_the_command(record: Start, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chown(shared, 65534, 65534)
    status, stderr = finish(record("--summary", "shared/summary.json", "--output-dir", "out", "touch", "ran"))
    assert status == 2 and "another user" in stderr and len(stderr.splitlines()) == 1
    assert not (shared / "summary.json").exists() and not (tmp_path / "ran").exists()


def test_a_symlink_is_never_followed(record: Start, tmp_path: Path) -> None:
    os.symlink(tmp_path / "elsewhere", tmp_path / "summary.json")
    status, stderr = finish(record("--summary", "summary.json", "--output-dir", "out", "true"))
    assert status == 2 and stderr.startswith("vwm-overlay record: summary.json: ")
    assert not (tmp_path / "elsewhere").exists()


def test_an_unwritable_step_summary_is_reported_once_and_the_status_stays(
    record: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "no-such-dir" / "step.md"))
    status, stderr = finish(record("--summary", "summary.json", "--output-dir", "out", "--", "sh", "-c", "exit 4"))
    assert status == 4
    assert stderr.count("\n") == 1
    assert stderr.startswith(
        f"vwm-overlay: {tmp_path / 'no-such-dir' / 'step.md'}: No such file or directory (ENOENT); "
    )
    assert json.loads((tmp_path / "summary.json").read_text())["exit_status"] == 4


def test_markdown_cells_cannot_break_the_table() -> None:
    totals = GroupTotals(ticks_per_s=100)
    totals.groups["a|b"] = group = Group("a|b`\n")
    group.count = 1
    text = markdown_table(summary_dict(totals, command=["x|y"], exit_status=0, duration_s=1.0, samples=1))
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows == ["| `a\\|b' ` | 1 | 0.00 | 0.00 | 0.0 | 0.0 | 0.0 | 0.0 |"]


def test_a_run_that_never_starts_leaves_no_report_files(record: Start, tmp_path: Path) -> None:
    (tmp_path / "kept.json").write_text("keep me")
    os.symlink(tmp_path / "kept.json", tmp_path / "taken.json")  # never written through
    status, stderr = finish(record("--summary", "summary.json", "--trace", "taken.json", "--output-dir", "out", "true"))
    assert status == 2 and stderr.startswith("vwm-overlay record: taken.json: ")
    assert not (tmp_path / "summary.json").exists()
    assert (tmp_path / "kept.json").read_text() == "keep me"
    status, _ = finish(record("--summary", "summary.json", "--trace", "run.json", "--output-dir", "out", "no-such-cmd"))
    assert status == 127
    assert not (tmp_path / "summary.json").exists() and not (tmp_path / "run.json").exists()


def test_a_run_that_never_starts_leaves_old_files_as_they_were(record: Start, tmp_path: Path) -> None:
    old = {name: f"last run's {name}" for name in ("log.jsonl", "summary.json", "run.json")}
    for name, text in old.items():
        (tmp_path / name).write_text(text)
    os.symlink(tmp_path / "kept.json", tmp_path / "taken.json")  # refused: the run never starts
    args = ("--jsonl", "log.jsonl", "--summary", "summary.json", "--output-dir", "out")
    status, stderr = finish(record(*args, "--trace", "taken.json", "--", "touch", "ran"))
    assert status == 2 and stderr.startswith("vwm-overlay record: taken.json: ")
    status, stderr = finish(record(*args, "--trace", "run.json", "no-such-cmd"))
    assert status == 127, stderr
    assert {name: (tmp_path / name).read_text() for name in old} == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.jsonl", "out", "run.json", "summary.json", "taken.json"]
    # Once the command runs, each is replaced.
    status, stderr = finish(record(*args, "--trace", "run.json", "true"))
    assert (status, stderr) == (0, "")
    assert all((tmp_path / name).read_text() != text for name, text in old.items())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.jsonl", "out", "run.json", "summary.json", "taken.json"]


def record_help() -> str:
    help_run = subprocess.run(
        [sys.executable, "-m", "vwm_overlay", "record", "--help"], capture_output=True, text=True, check=True
    )
    return " ".join(help_run.stdout.split())  # the words, not the line breaks


@pytest.mark.parametrize("option", ["--jsonl", "--summary", "--trace"])
def test_an_existing_file_of_ours_is_replaced_as_the_help_says(record: Start, tmp_path: Path, option: str) -> None:
    help_text = record_help()
    assert "an existing --jsonl, --summary or --trace file of yours is replaced by a new one" in help_text
    assert "must not exist" not in help_text
    old = tmp_path / "report"
    old.write_text("last run")
    os.link(old, tmp_path / "other-name")
    status, stderr = finish(record(option, "report", "--output-dir", "out", "true"))
    assert (status, stderr) == (0, "")
    assert old.read_text() not in ("", "last run")
    assert (tmp_path / "other-name").read_text() == "last run"  # a new file: the old one was not written through


def test_the_metrics_file_is_replaced_whatever_it_is_as_the_help_says(record: Start, tmp_path: Path) -> None:
    assert "--openmetrics replaces FILE whatever it is, a symlink too, never following it" in record_help()
    (tmp_path / "elsewhere").write_text("kept")
    (tmp_path / "link.prom").symlink_to("elsewhere")
    (tmp_path / "file.prom").write_text("last run")
    args = ("--openmetrics", "link.prom", "--output-dir", "out", "true")
    assert finish(record(*args)) == (0, "")
    assert finish(record("--openmetrics", "file.prom", *args[2:])) == (0, "")
    for name in ("link.prom", "file.prom"):
        assert (tmp_path / name).read_text().startswith("# HELP namedprocess_namegroup_")
    assert (tmp_path / "elsewhere").read_text() == "kept"
