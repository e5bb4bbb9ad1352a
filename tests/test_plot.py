"""``vwm-overlay plot``: the chart of a recorded run drawn again from its log, pixel for pixel."""

from __future__ import annotations

from pathlib import Path

import cairocffi
import pytest
from chart_helpers import Png, is_cyan
from log_helpers import samples_of
from polling import wait_for
from record_helpers import Start, finish, pngs, py

from vwm_overlay.cli import main
from vwm_overlay.record.plot import plot_log

# A small build: threads, children that come and go (one too short to be sampled), an exec, file writes, a busy
# phase, then an idle one.  It says when its threads stopped spinning and when the idle phase began (wall clock).
WORKLOAD = """
    import os, subprocess, sys, threading, time
    def spin(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
    threads = [threading.Thread(target=spin, args=(0.6,)) for _ in range(2)]
    for t in threads:
        t.start()
    sleepers = [subprocess.Popen(["sleep", "0.8"]) for _ in range(3)]
    subprocess.run(["true"])
    subprocess.run(["sh", "-c", "head -c 3000000 /dev/zero > data; sync data; exec sleep 0.3"])
    for t in threads:
        t.join()
    busy_until = time.time()
    for p in sleepers:
        p.wait()
    with open("phases", "w") as out:
        out.write(f"{busy_until} {time.time()}")
    time.sleep(1.0)
"""


def pixels(path: Path) -> tuple[int, int, bytes]:
    surface = cairocffi.ImageSurface.create_from_png(str(path))
    return surface.get_width(), surface.get_height(), bytes(surface.get_data())


def recorded(record: Start, tmp_path: Path, *options: str) -> tuple[Path, Path]:
    """Record the workload; the log and the recorder's last PNG."""
    status, stderr = finish(
        record("--hertz", "40", "--jsonl", "run.jsonl", "--output-dir", "out", *options, *py(WORKLOAD))
    )
    assert (status, stderr) == (0, "")
    return tmp_path / "run.jsonl", pngs(tmp_path / "out")[-1]


@pytest.mark.parametrize(
    "options",
    [(), ("--lanes", "--scale", "1.5", "--markers", "7", "--snapshots", "1", "--name", "a build")],
    ids=["default", "lanes-scaled-with-snapshots"],
)
def test_the_plot_has_the_recorders_pixels(record: Start, tmp_path: Path, options: tuple[str, ...]) -> None:
    log, png = recorded(record, tmp_path, *options)
    assert main(["plot", str(log), "--output", str(tmp_path / "plot.png")]) == 0
    width, height, recorded_px = pixels(png)
    assert pixels(tmp_path / "plot.png") == (width, height, recorded_px)
    assert any(is_cyan((recorded_px[i + 2], recorded_px[i + 1], recorded_px[i])) for i in range(0, len(recorded_px), 4))


def test_orphans_adopted_with_reaper_replay_too(record: Start, tmp_path: Path) -> None:
    # A subshell leaves a child behind, adopted by the recorder (the chart's root); then everything exits.
    proc = record(
        "--reaper", "--linger", "--hertz", "40", "--jsonl", "run.jsonl", "--output-dir", "out",
        "--", "sh", "-c", "(sleep 1 & sleep 0.3; exit 0); sleep 0.3; exit 0",
    )  # fmt: skip

    def all_gone() -> bool:
        samples = samples_of(tmp_path / "run.jsonl") if (tmp_path / "run.jsonl").exists() else []
        return any([0, []] in s.get("children", ()) for s in samples)

    wait_for(all_gone, 60.0, "the command and the orphan to exit")
    proc.terminate()
    assert finish(proc) == (0, "")
    assert main(["plot", str(tmp_path / "run.jsonl"), "-o", str(tmp_path / "plot.png")]) == 0
    assert pixels(tmp_path / "plot.png") == pixels(pngs(tmp_path / "out")[-1])


def test_svg_pdf_and_another_size(record: Start, tmp_path: Path) -> None:
    log, _ = recorded(record, tmp_path)
    for name, magic in (("plot.svg", b"<?xml"), ("plot.pdf", b"%PDF-")):
        assert main(["plot", str(log), "-o", str(tmp_path / name)]) == 0
        assert (tmp_path / name).read_bytes().startswith(magic)
    assert main(["plot", str(log), "-o", str(tmp_path / "chart"), "--format", "svg"]) == 0
    assert b"<svg" in (tmp_path / "chart").read_bytes()[:200]
    assert main(["plot", str(log), "-o", str(tmp_path / "big.png"), "--width", "1000", "--height", "300"]) == 0
    assert pixels(tmp_path / "big.png")[:2] == (1000, 300)
    # A size that fits may not at a scale: one line, nothing drawn.
    for size in (("--width", "16384"), ("--width", "4096", "--height", "4096")):
        assert main(["plot", str(log), "-o", str(tmp_path / "huge.png"), "--scale", "4", *size]) == 2
    assert not (tmp_path / "huge.png").exists()


def test_an_unwritable_output_is_one_line(record: Start, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, _ = recorded(record, tmp_path)
    for name in ("x.png", "x.svg", "x.pdf"):
        assert main(["plot", str(log), "-o", str(tmp_path / "missing" / name)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert all(line.endswith("No such file or directory (ENOENT); nothing written") for line in lines)


def root_row_cyan_columns(png: Png) -> list[int]:
    """The x of every column with cyan in the command's row (the first task row, below the 3 header rows)."""
    return [x for x in range(png.width) if any(is_cyan(rgb) for rgb in png.column(x, 45, 60))]


def test_a_window_of_the_run(record: Start, tmp_path: Path) -> None:
    log, _ = recorded(record, tmp_path)
    busy_until, idle_from = (float(word) for word in (tmp_path / "phases").read_text().split())
    samples = samples_of(log)

    def run_s(wall_s: float) -> float:
        """Seconds since the recording started at wall-clock time ``wall_s``, as the samples tell."""
        return float(max(s["t_s"] for s in samples if s["time"] <= wall_s))

    whole = plot_log(str(log))
    busy = plot_log(str(log), to_s=run_s(busy_until - 0.15))
    idle = plot_log(str(log), from_s=run_s(idle_from + 0.2), to_s=run_s(idle_from + 0.8))
    assert 0 < busy.samples < whole.samples and 0 < idle.samples < whole.samples
    # The newest columns are at the left: the busy part ends busy (at 40 Hz a sample may see no tick of 10 ms even
    # so), the idle part has no CPU in the command's row.
    assert min(root_row_cyan_columns(Png(busy, tmp_path / "busy.png"))) < 4
    assert root_row_cyan_columns(Png(idle, tmp_path / "idle.png")) == []
    assert main(["plot", str(log), "-o", str(tmp_path / "none.png"), "--from", "1000"]) == 2


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "run.jsonl"
    assert main(["plot", str(log), "-o", str(tmp_path / "x.gif")]) == 2
    assert main(["plot", str(log), "-o", str(tmp_path / "x.png"), "--from", "2", "--to", "1"]) == 2
    assert main(["plot", str(log), "-o", str(tmp_path / "x.png")]) == 2  # no such log
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("vwm-overlay plot: ") for line in lines)
