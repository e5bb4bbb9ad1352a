"""The systemd user unit started as a plain ``startx`` session starts it, by a real user manager.

``systemd --user`` runs here even where systemd is not PID 1 (a container), as root with a home and a runtime
directory of its own:

- in a cgroup of its own: a manager moves every process of the group it starts in into its ``init.scope``
  (all of a container's, when that group is the root), and makes its units' groups below it;
- in a mount namespace where ``/run/systemd/system`` exists, the test systemd makes of whether it was booted with
  systemd (it refuses to run as a user instance otherwise).

The unit is installed as the README says, the program where ``pip install --user`` puts it; then the lines that
the unit's comments and ``examples/xinitrc.example`` give run against a fresh Xvfb.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cgroup_helpers import group_pids, join_group_argv
from polling import wait_for
from test_app import connected, key_taken
from x11_helpers import new_session

from vwm_overlay.x11 import Connection

# A user manager and a unit starting on a loaded machine can take a while: the waits are polls, the bound is wide.
pytestmark = [pytest.mark.x11, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
UNIT = "vwm-overlay"


def _commented_systemctl_lines(path: Path) -> list[str]:
    """The ``systemctl --user`` commands a file's comments give, without their comment marks."""
    text = path.read_text()
    return [line.lstrip("# ").strip() for line in text.splitlines() if line.lstrip("# ").startswith("systemctl ")]


def _write_xauthority(path: Path) -> None:
    """An authority file with one fresh cookie for any display of this host, as startx makes for its server."""

    def counted(data: bytes) -> bytes:
        return struct.pack(">H", len(data)) + data

    family_local = 256
    entry = struct.pack(">H", family_local) + counted(socket.gethostname().encode()) + counted(b"")
    path.write_bytes(entry + counted(b"MIT-MAGIC-COOKIE-1") + counted(secrets.token_bytes(16)))
    path.chmod(0o600)


def _cgroup_mounts() -> dict[str, Path]:
    """Every cgroup hierarchy's mount, by its name in /proc/self/cgroup ("" for the v2 one)."""
    found = {}
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            _source, mount, kind, options = line.split()[:4]
            if kind == "cgroup2":
                found[""] = Path(mount)
            elif kind == "cgroup":
                named = [o for o in options.split(",") if o.startswith("name=")]
                found[named[0] if named else Path(mount).name] = Path(mount)
    return found


def _own_group(hierarchy: str) -> str:
    """This process's group in ``hierarchy`` ("" for the v2 one), from /proc/self/cgroup."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        if (number == "0") if hierarchy == "" else hierarchy in controllers.split(","):
            return path.lstrip("/")
    raise AssertionError(f"no {hierarchy or 'cgroup2'} line in /proc/self/cgroup")


def _remove_group(group: Path) -> None:
    """Kill what is left in ``group`` and below, then remove the groups, deepest first."""
    groups = sorted((p for p in group.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
    for each in [*groups, group]:
        for pid in group_pids(each):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_for(lambda each=each: not group_pids(each), 30, f"{each} to empty")  # type: ignore[misc]
        each.rmdir()


@contextlib.contextmanager
def manager_groups() -> Iterator[list[Path]]:
    """A new group for a manager to start in, in the hierarchies it tracks units by (the v2 one, and the named
    v1 one of the hybrid layout), under this test's own group; afterwards that path is removed, with every group
    below it, from every hierarchy (a manager run by root makes its groups in the v1 controllers' ones too)."""
    mounts = _cgroup_mounts()
    tracking = [name for name in ("name=systemd", "") if name in mounts]
    if not tracking:
        pytest.skip("no cgroup hierarchy for a user manager is mounted")
    # The manager takes its path in the first of these as its root, and uses that same path in all of them.
    path = Path(_own_group(tracking[0])) / f"vwm-test-{os.getpid()}"
    created: list[Path] = []
    try:
        for name in tracking:
            try:
                (mounts[name] / path).mkdir()
            except OSError as err:
                pytest.skip(f"cannot create a cgroup for the user manager: {err.strerror}")
            created.append(mounts[name] / path)
        yield created
    finally:
        for mount in mounts.values():
            if (mount / path).is_dir():
                _remove_group(mount / path)


class UserManager:
    """``systemd --user``, and ``systemctl --user`` talking to it from a given environment."""

    def __init__(self, home: Path, runtime: Path, groups: list[Path], log: Path) -> None:
        self.env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "PATH": os.environ.get("PATH", "/usr/bin")}
        self.log = log
        self.runtime = runtime
        argv = ["systemd", "--user"]
        if not os.path.isdir("/run/systemd/system"):
            # Without a journal the manager writes to /dev/console: in its namespace, that is the log file.
            booted = 'mount --bind "$0" /dev/console && mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system'
            argv = [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                f'{booted} && exec "$@"',
                str(log),
                *argv,
            ]
        for group in groups:
            argv = join_group_argv(group, argv)
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
            )

    def run(self, command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """A shell command line (``env`` on top of the manager's login environment)."""
        return subprocess.run(
            ["sh", "-c", command],
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def show(self, *properties: str) -> dict[str, str]:
        done = self.run(f"systemctl --user show --property={','.join(properties)} {UNIT}")
        assert done.returncode == 0, done.stderr
        return dict(line.split("=", 1) for line in done.stdout.splitlines())

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            pytest.skip(f"systemd --user cannot run here (status {self.proc.returncode}): {self.log.read_text()}")
        done = self.run("systemctl --user show --property=SystemState --value")
        return done.returncode == 0 and done.stdout.strip() == "running"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # it stops its units, then exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[UserManager]:
    """A user manager with the unit installed in its home as the README says."""
    if os.geteuid() != 0:
        pytest.skip("needs root: to give the user manager a cgroup of its own")
    for tool, package in (
        ("systemd", "systemd"),
        ("systemctl", "systemd"),
        ("unshare", "util-linux"),
        ("Xvfb", "xvfb"),
    ):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool} (Debian package {package})")
    program = Path(sys.executable).parent / "vwm-overlay"
    if not program.exists():
        pytest.skip("the vwm-overlay entry point is not installed beside this interpreter")
    home, runtime = tmp_path / "home", tmp_path / "run"
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "vwm-overlay").symlink_to(program)  # what pip install --user leaves
    (home / ".config" / "systemd" / "user").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "vwm-overlay.service", home / ".config" / "systemd" / "user")
    # A drop-in that changes nothing but records how the program ended: an inactive unit is unloaded at once,
    # with its ExecMainStatus=, and there may be no journal to tell.
    record = "echo $${SERVICE_RESULT} $${EXIT_CODE} $${EXIT_STATUS} > %t/vwm-overlay.exit"
    (home / ".config" / "systemd" / "user" / "vwm-overlay.service.d").mkdir()
    (home / ".config" / "systemd" / "user" / "vwm-overlay.service.d" / "exit.conf").write_text(
        f"[Service]\nExecStopPost=/bin/sh -c '{record}'\n"
    )
    runtime.mkdir(mode=0o700)
    with manager_groups() as groups:
        user = UserManager(home, runtime, groups, tmp_path / "manager.log")
        try:
            wait_for(user.ready, 30, "the user manager to run")
            done = user.run("systemctl --user daemon-reload")
            assert done.returncode == 0, done.stderr
            yield user
        finally:
            user.close()


def test_the_xinitrc_lines_start_the_unit_on_the_display_and_stop_ends_it_cleanly(
    manager: UserManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _commented_systemctl_lines(ROOT / "examples" / "xinitrc.example")
    assert _commented_systemctl_lines(ROOT / "data" / "vwm-overlay.service")[-2:] == lines
    assert lines == ["systemctl --user import-environment DISPLAY XAUTHORITY", f"systemctl --user start {UNIT}"]
    # Like startx's, the server lets in only the clients with its cookie; kept where the default ~/.Xauthority is
    # not, the program can only find it through the imported XAUTHORITY.
    xauthority = manager.runtime / "Xauthority"
    _write_xauthority(xauthority)
    monkeypatch.setenv("XAUTHORITY", str(xauthority))
    with new_session(auth=str(xauthority)) as xs, Connection(xs.display) as conn:
        probe = [sys.executable, "-c", "from Xlib import display; display.Display()"]
        refused = subprocess.run(probe, env=dict(xs.env, XAUTHORITY=os.devnull), capture_output=True, timeout=30)
        assert refused.returncode != 0, "the server let in a client without its cookie"
        for line in lines:
            done = manager.run(line, env={"DISPLAY": xs.display, "XAUTHORITY": str(xauthority)})
            assert done.returncode == 0, f"{line}: {done.stderr}"
        state = manager.show("ActiveState", "MainPID")
        assert state["ActiveState"] == "active", state
        main_pid = int(state["MainPID"])
        wait_for(lambda: connected(conn, main_pid), 60, "the unit's program to connect to the display")
        wait_for(lambda: key_taken(conn), 60, "the unit's program to grab Mod4+semicolon")

        done = manager.run(f"systemctl --user stop {UNIT}")
        assert done.returncode == 0, done.stderr
        assert manager.show("ActiveState")["ActiveState"] == "inactive"
        # How the program ended, as its ExecStopPost= saw it: it exits by itself on SIGTERM, with status 0.
        assert (manager.runtime / "vwm-overlay.exit").read_text().split() == ["success", "exited", "0"]
        assert not key_taken(conn)


def test_when_the_x_session_ends_the_unit_fails_with_status_3_and_is_not_restarted(manager: UserManager) -> None:
    with new_session() as xs:
        for line in _commented_systemctl_lines(ROOT / "examples" / "xinitrc.example"):
            done = manager.run(line, env={"DISPLAY": xs.display})
            assert done.returncode == 0, f"{line}: {done.stderr}"
        with Connection(xs.display) as conn:
            wait_for(lambda: key_taken(conn), 60, "the unit's program to grab Mod4+semicolon")
        assert xs.xvfb_proc is not None
        xs.stop(xs.xvfb_proc)  # the user left the session: startx's server is gone
        wait_for(lambda: manager.show("ActiveState")["ActiveState"] == "failed", 60, "the unit to fail")
    # RestartPreventExitStatus=: a program without its display is not restarted every RestartSec= for nothing.
    state = manager.show("Result", "ExecMainStatus", "NRestarts")
    assert state == {"Result": "exit-code", "ExecMainStatus": "3", "NRestarts": "0"}
    assert (manager.runtime / "vwm-overlay.exit").read_text().split() == ["exit-code", "exited", "3"]


def test_without_the_imported_display_the_unit_fails_with_status_2_and_is_not_restarted(manager: UserManager) -> None:
    done = manager.run(f"systemctl --user start {UNIT}")  # the import-environment line forgotten
    assert done.returncode == 0, done.stderr
    wait_for(lambda: manager.show("ActiveState")["ActiveState"] == "failed", 60, "the unit to fail")
    state = manager.show("Result", "ExecMainStatus", "NRestarts")
    assert state == {"Result": "exit-code", "ExecMainStatus": "2", "NRestarts": "0"}
