"""``vwm-overlay compare``: two runs recorded here, per command name, with limits a CI job can gate on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from record_helpers import Start, finish, py

from vwm_overlay.cli import main
from vwm_overlay.errors import UsageError
from vwm_overlay.record.compare import TOTAL_NAME, parse_thresholds, summarize

# COUNT shell loops of ITERATIONS each, one after the other (each then sleeps SLEEP seconds, so that every one is
# sampled even on a loaded machine, and B's last longer than A's however the machine's load changes between the
# runs), and a file of BYTES written and synced.
WORKLOAD = """
    import os, subprocess, sys
    count, iterations, size = (int(word) for word in sys.argv[1:4])
    loop = f"i=0; while [ $i -lt {iterations} ]; do i=$((i+1)); done; sleep {sys.argv[4]}; exit 0"
    for _ in range(count):
        subprocess.run(["sh", "-c", loop], check=True)
    with open("data", "wb") as out:
        out.write(b"x" * size)
        os.fsync(out.fileno())
"""


@pytest.fixture
def runs(record: Start, tmp_path: Path) -> tuple[str, str]:
    """Two recorded runs: B runs more and longer loops than A."""
    logs = []
    for name, args in (("a", ("2", "20000", "100000", "0.4")), ("b", ("3", "150000", "100000", "1.2"))):
        log = str(tmp_path / f"{name}.jsonl")
        status, stderr = finish(record("--hertz", "20", "--jsonl", log, "--output-dir", "out", *py(WORKLOAD, *args)))
        assert (status, stderr) == (0, "")
        logs.append(log)
    return logs[0], logs[1]


def test_a_table_per_command_name_and_limits(runs: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    a, b = runs
    before, after = summarize(a), summarize(b)
    assert (before["sh"].count, after["sh"].count) == (2, 3)
    assert after["sh"].cpu > before["sh"].cpu > 0
    assert after["sh"].longest > before["sh"].longest > 0
    assert before["sh"].rss > 0
    assert before["sleep"].count == 2 and after["sleep"].count == 3
    assert before[TOTAL_NAME].count == 5 and after[TOTAL_NAME].count == 7  # with the Python parent
    assert after[TOTAL_NAME].cpu == pytest.approx(sum(s.cpu for n, s in after.items() if n != TOTAL_NAME))

    assert main(["compare", a, b, "--fail-on", "count:+10"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["command", "count", "A"]
    assert table[1].split()[:5] == ["sh", "2", "->", "3", "+50%"]  # the busiest in B first
    assert table[-1].startswith(TOTAL_NAME)
    assert len({len(line) for line in table}) == 1  # aligned

    assert main(["compare", a, b, "--fail-on", "cpu:+10%,count:+1"]) == 1
    captured = capsys.readouterr()
    assert [line.split(":")[1].split()[0] for line in captured.err.splitlines()] == ["cpu", "count"]
    assert "more than +10%" in captured.err

    assert main(["compare", b, a, "--fail-on", "cpu:+10%,count:+0,wall:+0", "--json"]) == 0  # all fell
    document = json.loads(capsys.readouterr().out)
    assert document["commands"]["sh"]["a"]["count"] == 3 and document["commands"]["sh"]["b"]["count"] == 2
    assert document["exceeded"] == []


def test_a_run_compared_with_itself_changed_nothing(runs: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    a, _ = runs
    assert main(["compare", a, a, "--fail-on", "cpu:+0%,rss:+0,read:+0,write:+0,wall:+0%,longest:+0,count:+0"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert all(row.split()[4] == "=" for row in rows)


def test_limits_are_parsed_or_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cpu, rss, wall = parse_thresholds("cpu:+10%, rss:20M,wall:+1.5")
    assert (cpu.column, cpu.limit, cpu.percent) == ("cpu", 10.0, True)
    assert (rss.limit, rss.percent) == (20 * 1024**2, False)
    assert cpu.exceeded(1.0, 1.11) and not cpu.exceeded(1.0, 1.09) and cpu.exceeded(0.0, 0.01)
    assert wall.exceeded(10.0, 11.6) and not wall.exceeded(10.0, 11.5)
    for bad in ("cpu", "cpu:ten%", "speed:+1%", "count:+1M", ""):
        with pytest.raises(UsageError):
            parse_thresholds(bad)
    missing = str(tmp_path / "missing.jsonl")
    assert main(["compare", missing, missing]) == 2
    assert main(["compare", missing, missing, "--fail-on", "nonsense"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith("vwm-overlay compare: ") for line in lines)
