"""A throw-away X session: a fresh Xvfb, optionally a window manager and a
compositor, torn down in reverse order however the caller ends.

Used by ``ci/xvfb`` and by the X11 tests.  Xvfb picks a free display itself
(``-displayfd``), so parallel sessions never race for a display number, and we
wait for each part by polling against a deadline, never by sleeping.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from types import TracebackType

from wms import MANAGERS, WindowManager

__all__ = ["XSession", "XSessionError"]


class XSessionError(RuntimeError):
    """A part of the session could not be started."""


def _wait_until(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    delay_s = 0.005
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise XSessionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(delay_s)
        delay_s = min(delay_s * 1.5, 0.1)


def _stat_fields(pid: int) -> list[bytes] | None:
    """``/proc/PID/stat`` after the command's ")": index 0 is the state, 2 the process group."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None


def _group_members(pgid: int) -> list[int]:
    """The processes of process group ``pgid``."""
    pids = (int(name) for name in os.listdir("/proc") if name.isdigit())
    return [pid for pid in pids if (fields := _stat_fields(pid)) is not None and int(fields[2]) == pgid]


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie has exited: nobody may reap an orphan soon)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in (b"Z", b"X")


class XSession:
    """``with XSession(wm="openbox", compositor="picom") as xs: ... xs.display``

    ``wm`` names a manager of ``wms.MANAGERS`` (any other name is run as it is);
    ``compositor`` is ``"xcompmgr"``, ``"picom"``, True (xcompmgr) or None.
    ``auth`` is an authority file, made the session's XAUTHORITY: the server lets in only the clients that present
    its cookie, as startx's does (this module's own probes do not: no window manager or compositor then).
    """

    def __init__(
        self,
        *,
        screen: str = "1280x800x24",
        wm: str | None = None,
        compositor: str | bool | None = None,
        fbdir: str | None = None,
        auth: str | None = None,
        timeout_s: float = 20.0,
    ) -> None:
        self.screen = screen
        self.wm = wm
        self.compositor = compositor
        self.fbdir = fbdir
        self.auth = auth
        self.timeout_s = timeout_s
        self.display = ""
        self.env: dict[str, str] = {}
        self._procs: list[subprocess.Popen[bytes]] = []
        self._home: tempfile.TemporaryDirectory[str] | None = None
        self.wm_proc: subprocess.Popen[bytes] | None = None
        self.xvfb_proc: subprocess.Popen[bytes] | None = None

    # -- parts ---------------------------------------------------------------

    def _start_xvfb(self) -> None:
        if shutil.which("Xvfb") is None:
            raise XSessionError("Xvfb is not installed (Debian package xvfb)")
        read_fd, write_fd = os.pipe()
        cmd = ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", self.screen, "-nolisten", "tcp", "-noreset"]
        if self.fbdir is not None:
            cmd += ["-fbdir", self.fbdir]
        if self.auth is not None:
            cmd += ["-auth", self.auth]
        proc = subprocess.Popen(
            cmd, pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self._procs.append(proc)
        self.xvfb_proc = proc
        os.close(write_fd)
        number = b""
        deadline = time.monotonic() + self.timeout_s
        try:
            while not number.endswith(b"\n"):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise XSessionError("Xvfb did not report a display")
                chunk = os.read(read_fd, 16)
                if not chunk:
                    raise XSessionError("Xvfb exited before reporting a display")
                number += chunk
        finally:
            os.close(read_fd)
        self.display = ":" + number.decode().strip()
        self.env = dict(os.environ, DISPLAY=self.display)
        if self.auth is not None:
            self.env["XAUTHORITY"] = self.auth

    def _spawn(self, cmd: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            list(cmd),
            env=self.env if env is None else env,
            # Its own process group: a manager's helpers (a D-Bus session, autostart scripts) stop with it.
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._procs.append(proc)
        return proc

    def _selection_owned(self, atom_name: str) -> bool:
        from Xlib import display as xdisplay

        d = xdisplay.Display(self.display)
        try:
            return bool(d.get_selection_owner(d.intern_atom(atom_name)))
        finally:
            d.close()

    def manager(self, wm: str) -> WindowManager:
        """The table entry for ``wm`` (a plain command for a manager not in the table)."""
        return MANAGERS.get(wm) or WindowManager(wm, (wm,), wm)

    def _wm_env(self, manager: WindowManager) -> tuple[dict[str, str], list[str]]:
        """A private HOME with the manager's configuration files, and its command."""
        if self._home is None:
            self._home = tempfile.TemporaryDirectory(prefix="xsession-home-")
        home = self._home.name
        for name, text in manager.files.items():
            path = os.path.join(home, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)  # autostart files are scripts
        env = dict(self.env, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"))
        return env, [word.replace("{config}", home) for word in manager.command]

    def _managed(self) -> bool:
        """Whether a window manager runs: it owns WM_S0 or, like twm, redirects the root's substructure."""
        from Xlib import X
        from Xlib import display as xdisplay

        d = xdisplay.Display(self.display)
        try:
            if d.get_selection_owner(d.intern_atom("WM_S0")):
                return True
            return bool(d.screen().root.get_attributes().all_event_masks & X.SubstructureRedirectMask)
        finally:
            d.close()

    def start_wm(self, wm: str) -> subprocess.Popen[bytes]:
        """Start a window manager (again, e.g. after stopping ``wm_proc``) and wait until it manages windows."""
        manager = self.manager(wm)
        env, command = self._wm_env(manager)
        if shutil.which(command[0]) is None:
            raise XSessionError(f"window manager {wm!r} is not installed (Debian package {manager.package})")
        proc = self._spawn(command, env)
        _wait_until(lambda: proc.poll() is not None or self._managed(), self.timeout_s, wm)
        if proc.poll() is not None:
            raise XSessionError(f"{wm} exited with status {proc.returncode}")
        self._wait_wm_manages(wm)
        self.wm_proc = proc
        return proc

    def restart_wm(self) -> subprocess.Popen[bytes]:
        """Stop the window manager and start it again (the windows stay, the manager takes them anew)."""
        assert self.wm is not None and self.wm_proc is not None
        manager = self.manager(self.wm)
        if manager.restart is not None:
            env, _command = self._wm_env(manager)
            subprocess.run(manager.restart, env=env, check=True, timeout=self.timeout_s, stdin=subprocess.DEVNULL)
            _wait_until(self._managed, self.timeout_s, f"{self.wm} to restart")
            return self.wm_proc
        self._stop_manager(self.wm_proc, manager)
        _wait_until(lambda: not self._managed(), self.timeout_s, f"{self.wm} to let go")
        return self.start_wm(self.wm)

    def _stop_manager(self, proc: subprocess.Popen[bytes], manager: WindowManager) -> None:
        """Stop the manager itself first and let it hand its windows back, then the rest of its group.

        Signalled together with its wrapper, a manager can lose its D-Bus session (and exit at once) or be killed
        half-way through giving its clients back: a window left in a frame that goes is destroyed with it.
        """
        own = [pid for pid in _group_members(proc.pid) if _comm(pid) == os.path.basename(manager.program)[:15]]
        for pid in own:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        _wait_until(lambda: not any(_running(pid) for pid in own), self.timeout_s, f"{manager.name} to exit")
        self.stop(proc)

    def _wait_wm_manages(self, wm: str) -> None:
        """Wait until the window manager really manages new windows.

        openbox owns WM_S0 before it has finished starting, and a window mapped in
        that gap is never managed (its MapRequest is lost).  A probe window is
        mapped, and mapped again until the window manager shows it.
        """
        from Xlib import X
        from Xlib import display as xdisplay

        d = xdisplay.Display(self.display)
        try:
            probe = d.screen().root.create_window(0, 0, 16, 16, 0, d.screen().root_depth)
            deadline = time.monotonic() + self.timeout_s
            next_map = 0.0
            while probe.get_attributes().map_state != X.IsViewable:
                now = time.monotonic()
                if now > deadline:
                    raise XSessionError(f"timed out waiting for {wm} to manage a window")
                if now >= next_map:
                    probe.map()
                    next_map = now + 0.1
                time.sleep(0.01)
            probe.destroy()
            d.sync()
        finally:
            d.close()

    def start_compositor(self, kind: str = "xcompmgr", config: str = "/dev/null") -> subprocess.Popen[bytes]:
        """Start ``xcompmgr`` or ``picom`` (its XRender backend: Xvfb has no GL; ``config`` its configuration
        file, none by default) and wait until it composites."""
        commands = {"xcompmgr": ["xcompmgr"], "picom": ["picom", "--backend", "xrender", "--config", config]}
        if shutil.which(kind) is None:
            raise XSessionError(f"{kind} is not installed (Debian package {kind})")
        proc = self._spawn(commands[kind])
        _wait_until(lambda: proc.poll() is not None or self._selection_owned("_NET_WM_CM_S0"), self.timeout_s, kind)
        if proc.poll() is not None:
            raise XSessionError(f"{kind} exited with status {proc.returncode}")
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # what is left of its group
        except ProcessLookupError:
            pass
        if proc in self._procs:
            self._procs.remove(proc)
        if proc is self.wm_proc:
            self.wm_proc = None

    # -- lifetime ------------------------------------------------------------

    def __enter__(self) -> XSession:
        if self.auth is not None and (self.wm or self.compositor):
            raise XSessionError("a session with an authority file has no window manager or compositor")
        try:
            self._start_xvfb()
            if self.wm:
                self.start_wm(self.wm)
            if self.compositor:
                self.start_compositor("xcompmgr" if self.compositor is True else str(self.compositor))
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for proc in reversed(self._procs[:]):
            self.stop(proc)
        if self._home is not None:
            self._home.cleanup()
            self._home = None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
