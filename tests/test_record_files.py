"""The recorder's files cannot be hijacked: another user's symlinks and directories, run as root.

Each attack plants what a local user could (symlinks, a directory, a file) owned by ``nobody``, and runs the
recorder as root, as a build or a service recorded by root would be.  The victims are root's files elsewhere: none
may change.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from record_helpers import Start, finish, pngs

from vwm_overlay.record.files import OutputDir, create_output
from vwm_overlay.record.snapshots import SnapshotWriter, snapshot_name

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the attacks need root to run the recorder as root")

PRECIOUS = b"root's precious file\n"


@pytest.fixture
def nobody() -> int:
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("needs a user named nobody")


@pytest.fixture
def victims(tmp_path: Path) -> Iterator[list[Path]]:
    """Root's files outside the output directory; none may change."""
    directory = tmp_path / "victims"
    directory.mkdir()
    files = [directory / f"victim{i}" for i in range(4)]
    for path in files:
        path.write_bytes(PRECIOUS)
    yield files
    for path in files:
        assert path.read_bytes() == PRECIOUS, f"{path.name} was written through"


def shared_dir(tmp_path: Path) -> Path:
    """A directory every user may write to, root's own, like /tmp."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    return shared


def plant_symlink(link: Path, target: Path, owner: int) -> None:
    link.symlink_to(target)
    os.lchown(link, owner, owner)


def final_names(name: str, seconds: int = 30) -> list[str]:
    """The first PNG names a recording named ``name`` starting within ``seconds`` from now can have."""
    now = int(time.time())
    return [snapshot_name(name, now + delta, 0) for delta in range(-1, seconds)]


def test_symlinks_planted_for_the_png_names_are_left_alone(
    record: Start, tmp_path: Path, victims: list[Path], nobody: int
) -> None:
    shared = shared_dir(tmp_path)
    for name in final_names("job"):
        plant_symlink(shared / name, victims[0], nobody)
    status, stderr = finish(record("--name", "job", "--output-dir", str(shared), "--", "true", umask=0o022))
    assert (status, stderr) == (0, "")
    [png] = [p for p in pngs(shared) if not p.is_symlink()]
    assert png.name.endswith("-1.png") and png.read_bytes()[:4] == b"\x89PNG"
    assert stat.S_IMODE(png.stat().st_mode) == 0o644  # 0666 less the umask


def test_a_planted_wip_name_is_not_written_through(
    record: Start, tmp_path: Path, victims: list[Path], nobody: int
) -> None:
    shared = shared_dir(tmp_path)
    plant_symlink(shared / "wip", victims[1], nobody)
    # A snapshot every second: each fails the same way, which is reported once, and the final one is reported.
    args = ("--wip-name", "wip", "--snapshots", "1", "--output-dir", str(shared))
    status, stderr = finish(record(*args, "--", "sleep", "2.5"))
    assert status == 1
    assert stderr == (
        f"vwm-overlay: {shared}/wip: File exists (EEXIST); no snapshot this time, the recording goes on\n"
        f"vwm-overlay: {shared}/wip: File exists (EEXIST); the recording ends without its final PNG\n"
    )
    assert (shared / "wip").is_symlink()


def test_a_planted_default_wip_name_is_not_written_through(tmp_path: Path, victims: list[Path], nobody: int) -> None:
    # In-process, where the pid the name carries is known.
    shared = shared_dir(tmp_path)
    writer = SnapshotWriter(OutputDir(str(shared)), "job", wall_clock=lambda: 1_800_000_000.0)
    first = snapshot_name("job", 1_800_000_000.0, 0)
    plant_symlink(shared / f".{first}.{os.getpid()}.WIP", victims[2], nobody)

    class Chart:
        samples = 1

        def to_surface(self) -> Chart:
            return self

        def write_to_png(self, target: object) -> None:
            target.write(b"\x89PNG")  # type: ignore[attr-defined]

    with pytest.raises(FileExistsError):
        writer.write(Chart())
    assert Path(writer.write(Chart())).name == snapshot_name("job", 1_800_000_000.0, 1)  # the next one is written


def test_a_planted_log_symlink_is_refused_before_anything_starts(
    record: Start, tmp_path: Path, victims: list[Path], nobody: int
) -> None:
    shared = shared_dir(tmp_path)
    plant_symlink(shared / "log.jsonl", victims[3], nobody)
    status, stderr = finish(record("--jsonl", str(shared / "log.jsonl"), "--", "touch", "ran"))
    assert status == 2
    assert stderr == (
        f"vwm-overlay record: {shared}/log.jsonl: exists and belongs to another user (uid {nobody}); "
        "nothing was started\n"
    )
    assert not (tmp_path / "ran").exists()


def test_a_planted_dangling_log_symlink_is_refused(tmp_path: Path, nobody: int) -> None:
    shared = shared_dir(tmp_path)
    plant_symlink(shared / "log.jsonl", tmp_path / "would-be-created", nobody)
    with pytest.raises(Exception, match="belongs to another user"):
        create_output(str(shared / "log.jsonl"))
    assert not (tmp_path / "would-be-created").exists()


def test_a_directory_another_user_owns_is_refused_unless_allowed(
    record: Start, tmp_path: Path, victims: list[Path], nobody: int
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    os.chown(foreign, nobody, nobody)
    for name in final_names("job"):
        plant_symlink(foreign / name, victims[0], nobody)
    plant_symlink(foreign / "log.jsonl", victims[1], nobody)
    args = ("--name", "job", "--output-dir", str(foreign))
    status, stderr = finish(record(*args, "--", "touch", "ran"))
    assert status == 2 and stderr.count("\n") == 1
    assert stderr.startswith(f"vwm-overlay record: {foreign}: the directory belongs to another user (uid {nobody})")
    assert "--allow-foreign-dir" in stderr
    assert not (tmp_path / "ran").exists()
    # The log's directory is checked too.
    status, stderr = finish(record("--jsonl", str(foreign / "new.jsonl"), "--", "true"))
    assert status == 2 and "belongs to another user" in stderr
    # Insisting writes there, but still through no planted name.
    status, stderr = finish(record("--allow-foreign-dir", *args, "--", "true"))
    assert (status, stderr) == (0, "")
    [png] = [p for p in pngs(foreign) if not p.is_symlink()]
    assert png.stat().st_uid == 0


def test_an_existing_log_of_ours_is_replaced_not_written_through(record: Start, tmp_path: Path) -> None:
    (tmp_path / "log.jsonl").write_bytes(PRECIOUS)
    os.link(tmp_path / "log.jsonl", tmp_path / "elsewhere")  # e.g. a backup made with cp -l
    status, _ = finish(record("--jsonl", "log.jsonl", "--output-dir", "out", "--", "true"))
    assert status == 0
    assert (tmp_path / "elsewhere").read_bytes() == PRECIOUS
    assert (tmp_path / "log.jsonl").read_bytes().startswith(b'{"schema":"vwm-overlay-log",')


def test_the_log_can_be_a_pipe(record: Start, tmp_path: Path) -> None:
    proc = record("--jsonl", "/dev/stdout", "--output-dir", "out", "--", "true")
    stdout, stderr = proc.communicate(timeout=30)
    assert (proc.returncode, stderr) == (0, "")
    assert [json.loads(line).get("sample") for line in stdout.splitlines()][:3] == [None, 0, 1]


def test_the_log_can_be_stdout_redirected_to_a_file(record: Start, tmp_path: Path) -> None:
    with open(tmp_path / "log.jsonl", "w") as stdout:
        stdout.write("the shell's own line\n")
        stdout.flush()
        status, _ = finish(record("--jsonl", "/dev/stdout", "--output-dir", "out", "--", "true", stdout=stdout))
    assert status == 0
    first, *samples = (tmp_path / "log.jsonl").read_text().splitlines()
    assert first == "the shell's own line"
    assert [json.loads(line).get("sample") for line in samples][:3] == [None, 0, 1]


def test_modes_follow_the_umask(record: Start, tmp_path: Path) -> None:
    status, stderr = finish(record("--jsonl", "log.jsonl", "--output-dir", "out", "--", "true", umask=0o027))
    assert (status, stderr) == (0, "")
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "log.jsonl").stat().st_mode) == 0o640
    written = pngs(tmp_path / "out")
    assert len(written) == 1, (written, (tmp_path / "log.jsonl").read_text())
    [png] = written
    assert stat.S_IMODE(png.stat().st_mode) == 0o640


def test_left_over_wip_files_of_dead_recorders_are_removed(tmp_path: Path, nobody: int) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names no process now
    dead, alive = gone.pid, os.getppid()
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".job-2026-11-28T09.30.00-0.png.{dead}.WIP"
    stale.write_bytes(b"half a PNG")
    kept = [
        out / f".job-2026-11-28T09.30.00-1.png.{alive}.WIP",  # its recorder may still be writing it
        out / f".job-2026-11-28T09.30.00-2.png.{dead}.WIP",  # another user's
        out / f".job-2026-11-28T09.30.00-3.png.{dead}.WIP",  # a symlink
        out / "job.WIP",  # no pid
    ]
    for path in kept[:2] + kept[3:]:
        path.write_bytes(b"")
    os.chown(kept[1], nobody, nobody)
    kept[2].symlink_to(out / "job.WIP")
    directory = OutputDir(str(out))
    assert directory.remove_stale_wips() == [stale.name]
    assert sorted(out.iterdir()) == sorted(kept)


# -- symlinks to directories on the way to an output

#: Every output, as (its options, the name it takes in the planted directory).
OUTPUTS = {
    "--output-dir": ("--name", "job", "--output-dir", "shared/logs"),
    "--jsonl": ("--jsonl", "shared/logs/run.jsonl"),
    "--summary": ("--summary", "shared/logs/summary.json"),
    "--trace": ("--trace", "shared/logs/trace.json"),
    "--openmetrics": ("--openmetrics", "shared/logs/metrics.prom"),
}


@pytest.fixture
def roots_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory of root's with root's files under the names the outputs would take; none may change."""
    directory = tmp_path / "root-only"
    directory.mkdir(mode=0o700)
    names = ["run.jsonl", "summary.json", "trace.json", "metrics.prom"]
    for name in names:
        (directory / name).write_bytes(PRECIOUS)
    yield directory
    assert sorted(p.name for p in directory.iterdir()) == sorted(names), "something was written there"
    for name in names:
        assert (directory / name).read_bytes() == PRECIOUS, f"{name} was replaced"


@pytest.mark.parametrize("option", sorted(OUTPUTS))
def test_another_users_symlink_to_a_directory_is_not_followed(
    record: Start, tmp_path: Path, roots_dir: Path, nobody: int, option: str
) -> None:
    shared = shared_dir(tmp_path)
    plant_symlink(shared / "logs", roots_dir, nobody)
    args = OUTPUTS[option]
    if option != "--output-dir":
        args = (*args, "--output-dir", "out")
    status, stderr = finish(record(*args, "--", "touch", "ran"))
    assert status == 2
    output, link = ("shared/logs", "") if option == "--output-dir" else (args[1], "shared/logs ")
    assert stderr == (
        f"vwm-overlay record: {output}: {link}is a symlink another user owns (uid {nobody}), so it is not "
        "followed; nothing was started (give the path it leads to, if you trust it)\n"
    )
    assert not (tmp_path / "ran").exists()


def test_a_symlink_deeper_in_the_path_or_in_a_link_is_not_followed(
    record: Start, tmp_path: Path, roots_dir: Path, nobody: int
) -> None:
    shared = shared_dir(tmp_path)
    plant_symlink(shared / "logs", roots_dir, nobody)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "via").symlink_to("../shared/logs")  # root's own link, leading to nobody's
    for path in ("mine/via/run.jsonl", f"{tmp_path}/mine/./via/../via/run.jsonl"):
        status, stderr = finish(record("--jsonl", path, "--output-dir", "out", "--", "touch", "ran"))
        assert status == 2 and stderr.count("\n") == 1
        assert f"shared/logs is a symlink another user owns (uid {nobody})" in stderr
    assert not (tmp_path / "ran").exists()


def test_symlinks_of_ours_or_roots_are_followed(record: Start, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "reports").symlink_to("real")
    (tmp_path / "abs").symlink_to(tmp_path / "real")
    args = ("--jsonl", "reports/run.jsonl", "--summary", "abs/summary.json", "--openmetrics", "abs/../real/m.prom")
    status, stderr = finish(record(*args, "--trace", "reports/t.json", "--output-dir", "abs/out", "--", "true"))
    assert (status, stderr) == (0, "")
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == [
        "m.prom",
        "out",
        "run.jsonl",
        "summary.json",
        "t.json",
    ]
    assert len(pngs(tmp_path / "real" / "out")) == 1


def test_the_metrics_directory_of_another_user_is_refused_unless_allowed(
    record: Start, tmp_path: Path, nobody: int
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    os.chown(foreign, nobody, nobody)
    status, stderr = finish(record("--openmetrics", "foreign/m.prom", "--output-dir", "out", "--", "touch", "ran"))
    assert status == 2
    assert stderr == (
        f"vwm-overlay record: foreign: the directory belongs to another user (uid {nobody}), who could replace what "
        "is written there; nothing was started (--allow-foreign-dir to write there anyway)\n"
    )
    assert not (tmp_path / "ran").exists() and list(foreign.iterdir()) == []
    status, stderr = finish(
        record("--allow-foreign-dir", "--openmetrics", "foreign/m.prom", "--output-dir", "out", "true")
    )
    assert (status, stderr) == (0, "")
    assert [p.name for p in foreign.iterdir()] == ["m.prom"]


def test_a_metrics_file_that_cannot_be_written_is_said_in_one_line(record: Start, tmp_path: Path) -> None:
    (tmp_path / "isdir.prom").mkdir()
    status, stderr = finish(record("--openmetrics", "isdir.prom", "--output-dir", "out", "--", "touch", "ran"))
    assert status == 2
    assert stderr == "vwm-overlay record: isdir.prom: Is a directory (EISDIR); nothing was started\n"
    assert not (tmp_path / "ran").exists() and list((tmp_path / "isdir.prom").iterdir()) == []
