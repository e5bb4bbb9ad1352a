"""``record --openmetrics``: process-exporter's metrics replaced every sample, read back with Prometheus's own
text parser while the recording runs."""

from __future__ import annotations

# The recorder fixture is test_record's, imported: pyflakes reads its use as a parameter as a redefinition.
import itertools
from pathlib import Path

from fs_helpers import small_tmpfs
from polling import wait_for
from prometheus_client.parser import text_string_to_metric_families
from record_helpers import Start, finish, py

from vwm_overlay.record.groups import Group, GroupTotals
from vwm_overlay.record.openmetrics import render_metrics

MIB = 1024 * 1024

# Two "burner" children one after the other, each using half a second of CPU and writing 1 MiB (fsynced, so it
# reaches storage); then the command waits for the file "release" and exits 6.
WORKLOAD = """
    import os, pathlib, subprocess, sys, time
    child = (
        "import os, pathlib, time\\n"
        "pathlib.Path('/proc/self/comm').write_text('burner')\\n"
        "while time.process_time() < 0.5: pass\\n"
        "fd = os.open(f'data-{os.getpid()}', os.O_WRONLY | os.O_CREAT, 0o644)\\n"
        "os.write(fd, b'x' * (1 << 20)); os.fsync(fd); os.close(fd)\\n"
    )
    for _ in range(2):
        subprocess.run([sys.executable, "-c", child], check=True)
    pathlib.Path("burned").touch()
    while not pathlib.Path("release").exists():
        time.sleep(0.02)
    sys.exit(6)
"""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of the file by (name, labels), with the checks a textfile collector makes."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("namedprocess_namegroup_")
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in samples, f"duplicate series {key}"
            samples[key] = sample.value
    # Node's textfile collector (Go's text parser) takes a sample for its own family only when the names match.
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed = line.split()[2]
        elif line and not line.startswith("#"):
            assert line.startswith(typed + "{"), line
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(f"namedprocess_namegroup_{name}", tuple(sorted(labels.items())))]


def test_metrics_are_whole_every_time_and_counters_never_decrease(record: Start, tmp_path: Path) -> None:
    proc = record("--openmetrics", "run.prom", "--hertz", "20", "--output-dir", "out", *py(WORKLOAD))
    metrics = tmp_path / "run.prom"
    versions: list[Samples] = []

    def burned_and_read() -> bool:
        if metrics.exists():
            versions.append(parse(metrics.read_text()))  # a partial file would not parse
        # A version written before the last burner's exit was seen still counts it as a process.
        burners = ("namedprocess_namegroup_num_procs", (("groupname", "burner"),))
        return (tmp_path / "burned").exists() and len(versions) > 3 and versions[-1].get(burners) == 0

    wait_for(burned_and_read, 30.0, "the burners to finish")
    versions.append(parse(metrics.read_text()))
    (tmp_path / "release").touch()
    status, stderr = finish(proc)
    assert status == 6, stderr
    versions.append(parse(metrics.read_text()))
    for before, after in itertools.pairwise(versions):
        for key, count in before.items():
            if key[0].endswith("_total"):
                assert after[key] >= count, key
    last = versions[-1]
    # Both burners exited: their totals stay in their group, which has no process left.
    assert value(last, "num_procs", groupname="burner") == 0
    cpu_s = sum(v for k, v in last.items() if k[0].endswith("cpu_seconds_total"))
    assert cpu_s >= 1.0 - 0.05  # the two half-seconds, on the burners or credited to their parent
    assert value(last, "cpu_seconds_total", groupname="burner", mode="user") > 0
    # Each burner's MiB counts once: on the burner, or on its parent when it came after the burner's last sample.
    written = sum(v for k, v in last.items() if k[0].endswith("write_bytes_total"))
    assert 2 * MIB <= written < 3 * MIB
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run.prom.")], "no temporary file left"
    # While the command waited, its group had one process, one thread and memory.
    waiting = versions[-2]
    command_group = next(k[1][0][1] for k in waiting if k[0].endswith("num_procs") and waiting[k] == 1)
    assert value(waiting, "num_threads", groupname=command_group) >= 1
    assert value(waiting, "memory_bytes", groupname=command_group, memtype="resident") > MIB


# A child writes 1 MiB and is reaped by the command, which exits at once: no sample falls between the reap (the
# child's IO folded into the command's) and the command's exit, at one sample a second.
REAP_AND_EXIT = """
    import subprocess, sys
    child = (
        "import os\\n"
        "fd = os.open('data', os.O_WRONLY | os.O_CREAT, 0o644)\\n"
        "os.write(fd, b'x' * (1 << 20)); os.fsync(fd); os.close(fd)\\n"
    )
    subprocess.run([sys.executable, "-c", child], check=True)
"""


def test_a_child_reaped_just_before_the_command_exits_is_counted(record: Start, tmp_path: Path) -> None:
    # The recorder samples the exited command before reaping it: reaping folds the command's figures, and the
    # child's it reaped, into the recorder, out of the monitored tree.
    status, stderr = finish(
        record("--openmetrics", "run.prom", "--hertz", "1", "--output-dir", "out", *py(REAP_AND_EXIT))
    )
    assert status == 0, stderr
    last = parse((tmp_path / "run.prom").read_text())
    written = sum(v for k, v in last.items() if k[0].endswith("write_bytes_total"))
    assert MIB <= written < 2 * MIB


def test_per_pid_series_carry_the_pid(record: Start, tmp_path: Path) -> None:
    status, _ = finish(record("--openmetrics", "run.prom", "--per-pid", "--output-dir", "out", "sleep", "0.3"))
    assert status == 0
    text = (tmp_path / "run.prom").read_text()
    parse(text)
    assert 'namedprocess_namegroup_num_procs{groupname="sleep",pid="' in text


def test_labels_are_escaped() -> None:
    totals = GroupTotals(ticks_per_s=100)
    totals.groups["x"] = Group('a"b\\c\nd')
    (family, *_) = text_string_to_metric_families(render_metrics(totals))
    assert family.samples[0].labels == {"groupname": 'a"b\\c\nd'}


def test_a_full_disk_keeps_the_last_whole_file_and_the_recording_goes_on(record: Start, tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "small", 8):
        # Two pages: the first version fits beside its temporary file only while it has few groups.
        filler = tmp_path / "small" / "filler"
        args = ("--openmetrics", "small/run.prom", "--jsonl", "log.jsonl", "--output-dir", "out")
        proc = record(*args, "--", "sh", "-c", "until [ -e release ]; do sleep 0.05; done")
        wait_for((tmp_path / "small" / "run.prom").exists, 30.0, "the metrics file")
        filler.write_bytes(b"x" * 4096)  # now a new version has no room
        before = (tmp_path / "log.jsonl").stat().st_size
        wait_for(lambda: (tmp_path / "log.jsonl").stat().st_size > before + 1000, 30.0, "more samples")
        (tmp_path / "release").touch()
        status, stderr = finish(proc)
        assert status == 0
        (line,) = stderr.splitlines()
        assert line.startswith("vwm-overlay: small/run.prom: No space left on device (ENOSPC); ")
        parse((tmp_path / "small" / "run.prom").read_text())
        assert sorted(p.name for p in (tmp_path / "small").iterdir()) == ["filler", "run.prom"]
