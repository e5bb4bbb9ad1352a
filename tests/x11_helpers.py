"""Helpers for the X11 tests: client windows in their own processes, polling, pixels.

Run as a script, this module *is* the client window::

    python x11_helpers.py client --x 100 --y 100 --width 300 --height 200 --color ff0000 [--pid none|self|N]

It prints ``ready WINDOW_ID PID``, then obeys one command per stdin line
(``pid N``, ``machine NAME``, ``move X Y``, ``resize W H``, ``map``, ``unmap``, ``quit``; ``child`` starts a
child process that lives as long as the client; ``title TEXT`` sets ``_NET_WM_NAME``, ``title`` alone deletes
it, ``wm_name TEXT`` sets ``WM_NAME``)
answering ``ok``, and prints ``button X Y`` for every ButtonPress it gets.

Two more modes make trouble for the program under test, until stdin closes::

    python x11_helpers.py storm --windows 20 [--rounds N]   # windows mapped and destroyed as fast as they can be
    python x11_helpers.py props [--property NAME] [--wait]  # one window rewriting a property of its own in a loop

Each prints ``ready PID`` (``props``: ``ready PID WINDOW``) once it has started, and ``done N`` (windows made,
or property writes) when stdin closes or the rounds are done.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from vwm_overlay.x11 import ClientEvent, ClientTracker, Connection

T = TypeVar("T")
E = TypeVar("E")

HERE = os.path.dirname(os.path.abspath(__file__))


class Session(Protocol):
    """The parts of ``ci/xsession.py``'s XSession the tests use."""

    display: str
    env: dict[str, str]
    wm: str | None
    wm_proc: subprocess.Popen[bytes] | None
    xvfb_proc: subprocess.Popen[bytes] | None

    def start_wm(self, wm: str) -> subprocess.Popen[bytes]: ...
    def restart_wm(self) -> subprocess.Popen[bytes]: ...
    def manager(self, wm: str) -> Any: ...
    def start_compositor(self, kind: str = "xcompmgr", config: str = "/dev/null") -> subprocess.Popen[bytes]: ...
    def stop(self, proc: subprocess.Popen[bytes]) -> None: ...
    def __enter__(self) -> Session: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def new_session(**options: object) -> Session:
    """An unstarted XSession (use it with ``with``); ``options`` as XSession takes them."""
    ci_dir = os.path.join(os.path.dirname(HERE), "ci")
    if ci_dir not in sys.path:
        sys.path.insert(0, ci_dir)
    session: Session = importlib.import_module("xsession").XSession(**options)
    return session


class ClientProc:
    """A client window in its own process, driven over a pipe."""

    def __init__(self, env: dict[str, str], *args: str, timeout_s: float = 10.0, prefix: Sequence[str] = ()) -> None:
        """``prefix`` runs the client through another command (``unshare ...``)."""
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, os.path.join(HERE, "x11_helpers.py"), "client", *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._buf = b""
        try:
            words = self.expect("ready", timeout_s).split()
        except BaseException:
            self.close()
            raise
        self.window = int(words[1])
        #: The pid as the client sees it (in a pid namespace of its own: that namespace's).
        self.own_pid = int(words[2])
        self.pid = self.proc.pid

    def readline(self, timeout_s: float) -> str | None:
        """The next line the client printed, or None at the deadline."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    raise AssertionError(f"client exited with status {self.proc.wait()}")
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def expect(self, prefix: str, timeout_s: float = 20.0) -> str:
        """Skip lines until one starts with ``prefix``."""
        deadline = time.monotonic() + timeout_s
        while True:
            line = self.readline(max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"client never printed {prefix!r}")
            if line.startswith(prefix):
                return line

    def click(self, env: dict[str, str], x: int, y: int, timeout_s: float = 30.0) -> str:
        """Click at ``(x, y)`` on the screen and return the client's report of the press; click again every few
        seconds without one (a manager can keep a click for itself while it moves the focus). A click that never
        reaches the client fails the test."""
        deadline = time.monotonic() + timeout_s
        while True:
            xdotool(env, "mousemove", str(x), str(y), "click", "1")
            line = self.readline(min(5.0, max(0.0, deadline - time.monotonic())))
            while line is not None and not line.startswith("button"):
                line = self.readline(min(5.0, max(0.0, deadline - time.monotonic())))
            if line is not None:
                return line
            if time.monotonic() > deadline:
                raise AssertionError("the client never had the click")

    def command(self, text: str) -> None:
        """Send one command and wait for the client to have done it."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()
        self.expect("ok")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


def reap(clients: Iterable[ClientProc]) -> None:
    for client in clients:
        client.close()


class Pump:
    """Feeds a tracker the connection's events and finds the reported ones, in order."""

    def __init__(self, conn: Connection, tracker: ClientTracker) -> None:
        self.conn = conn
        self.tracker = tracker
        self.seen: list[ClientEvent] = []
        self._cursor = 0

    def of(self, kind: type[E], window: int | None = None) -> list[E]:
        """Every event of ``kind`` (for ``window``) seen so far."""
        return [
            e for e in self.seen if isinstance(e, kind) and (window is None or getattr(e, "window", None) == window)
        ]

    def until(
        self,
        kind: type[E],
        window: int | None = None,
        where: Callable[[E], object] = bool,
        timeout_s: float = 20.0,
    ) -> E:
        """Pump until an event of ``kind`` (for ``window``, matching ``where``) follows the last one returned."""
        deadline = time.monotonic() + timeout_s
        while True:
            for index in range(self._cursor, len(self.seen)):
                event = self.seen[index]
                if isinstance(event, kind) and window in (None, getattr(event, "window", None)) and where(event):
                    self._cursor = index + 1
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {kind.__name__} of {window}; got {self.seen}")
            if not self.conn.pending():
                select.select([self.conn.fileno()], [], [], min(left, 0.05))
            self.seen += self.tracker.process(self.conn.events())


def trouble(xs: Session, procs: list[Any], mode: str, *args: str) -> subprocess.Popen[bytes]:
    """A ``storm`` or ``props`` process of this module, started and ready (its pid: ``proc.pid``); appended to
    ``procs``, for the caller to reap."""
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "x11_helpers.py"), mode, *args],
        env=xs.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    procs.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith(b"ready ")
    return proc


def end_trouble(proc: subprocess.Popen[bytes]) -> int:
    """Stop it (closing its stdin) and return how many windows or writes it made."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    words = proc.stdout.readline().split()
    assert words[:1] == [b"done"], words
    assert proc.wait(timeout=30) == 0
    return int(words[1])


def set_screen_size(conn: Connection, width: int, height: int) -> None:
    """Resize the screen as a monitor change does, through RandR: a mode of that size on Xvfb's one output."""
    from Xlib.ext import randr

    # The RandR requests are added to python-xlib's objects at run time: its type stubs do not know them.
    root: Any = conn.root
    display: Any = conn.display
    resources = root.xrandr_get_screen_resources()
    output, crtc = resources.outputs[0], resources.crtcs[0]
    mode = next((m.id for m in resources.modes if (m.width, m.height) == (width, height)), None)
    if mode is None:
        name = f"{width}x{height}"
        info = {"id": 0, "width": width, "height": height, "dot_clock": 0, "h_sync_start": 0, "h_sync_end": 0}
        info |= {"h_total": width, "h_skew": 0, "v_sync_start": 0, "v_sync_end": 0, "v_total": height}
        info |= {"name_length": len(name), "flags": 0}
        mode = root.xrandr_create_mode(info, name).mode
        display.xrandr_add_output_mode(output, mode)
        resources = root.xrandr_get_screen_resources()
    current = display.xrandr_get_crtc_info(crtc, resources.config_timestamp)
    if width > current.width or height > current.height:
        root.xrandr_set_screen_size(width, height, width * 254 // 960, height * 254 // 960)
    display.xrandr_set_crtc_config(crtc, resources.config_timestamp, 0, 0, mode, randr.Rotate_0, [output])
    root.xrandr_set_screen_size(width, height, width * 254 // 960, height * 254 // 960)
    conn.sync()


def xdotool(env: dict[str, str], *args: str) -> None:
    subprocess.run(["xdotool", *args], env=env, check=True, timeout=10, stdin=subprocess.DEVNULL)


def active_window(env: dict[str, str]) -> int | None:
    """The window ``_NET_ACTIVE_WINDOW`` names, if it can be read."""
    done = subprocess.run(
        ["xdotool", "getactivewindow"], env=env, timeout=10, stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    words = done.stdout.split()
    return int(words[0]) if done.returncode == 0 and words and words[0].isdigit() else None


def activate(env: dict[str, str], window: int, timeout_s: float = 30.0) -> None:
    """Ask the window manager to activate ``window``, again until it has: right after a manager (re)starts or a
    window maps, the request can fail (``_NET_ACTIVE_WINDOW`` not readable yet) or be ignored (the window not
    managed yet), and a loaded machine can take seconds to act on it."""
    deadline = time.monotonic() + timeout_s
    error = ""
    while True:
        try:
            done = subprocess.run(
                ["xdotool", "windowactivate", str(window)],
                env=env,
                timeout=10,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
            )
            error = done.stderr.decode().strip()
        except subprocess.TimeoutExpired:
            error = "xdotool timed out"
        asked_s = time.monotonic()
        while time.monotonic() < min(asked_s + 3.0, deadline):
            if active_window(env) == window:
                return
            time.sleep(0.05)
        if time.monotonic() > deadline:
            raise AssertionError(f"could not activate window {window}: {error or 'the manager did not'}")


# -- the client process ---------------------------------------------------------------


def _client_main(argv: list[str]) -> int:
    from Xlib import X, Xatom, Xutil
    from Xlib import display as xdisplay

    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=int, default=100)
    parser.add_argument("--y", type=int, default=100)
    parser.add_argument("--width", type=int, default=300)
    parser.add_argument("--height", type=int, default=200)
    parser.add_argument("--color", default="ff0000")
    parser.add_argument("--pid", default="self", help="self, none or a number")
    parser.add_argument("--machine", default=None)
    parser.add_argument("--title", default="test client")
    parser.add_argument("--type", default=None, help="_NET_WM_WINDOW_TYPE_<TYPE>, e.g. DOCK")
    args = parser.parse_args(argv)

    d = xdisplay.Display()
    screen = d.screen()
    win = screen.root.create_window(
        args.x,
        args.y,
        args.width,
        args.height,
        0,
        screen.root_depth,
        background_pixel=int(args.color, 16),
        event_mask=X.ButtonPressMask | X.StructureNotifyMask,
    )
    win.set_wm_name(args.title)
    win.set_wm_class("x11test", "X11Test")
    if args.type is not None:
        kind = d.intern_atom(f"_NET_WM_WINDOW_TYPE_{args.type}")
        win.change_property(d.intern_atom("_NET_WM_WINDOW_TYPE"), Xatom.ATOM, 32, [kind])
    # USPosition: openbox places the window where asked, not by its own policy.
    win.set_wm_normal_hints(
        flags=Xutil.USPosition | Xutil.USSize, x=args.x, y=args.y, width=args.width, height=args.height
    )
    pid_atom = d.intern_atom("_NET_WM_PID")
    machine_atom = d.intern_atom("WM_CLIENT_MACHINE")
    net_name_atom, utf8 = d.intern_atom("_NET_WM_NAME"), d.intern_atom("UTF8_STRING")

    def set_pid(value: str) -> None:
        if value == "none":
            win.delete_property(pid_atom)
        else:
            win.change_property(pid_atom, Xatom.CARDINAL, 32, [os.getpid() if value == "self" else int(value)])

    set_pid(args.pid)
    if args.machine:
        win.change_property(machine_atom, Xatom.STRING, 8, args.machine.encode())
    win.map()
    d.sync()
    while True:
        e = d.next_event()
        if e.type == X.MapNotify:
            break
    print(f"ready {win.id} {os.getpid()}", flush=True)

    stdin = sys.stdin.fileno()
    buf = b""
    # Children read a pipe only the client holds: they end with it, however it ends.
    children: list[subprocess.Popen[bytes]] = []
    while True:
        while d.pending_events():
            e = d.next_event()
            if e.type == X.ButtonPress:
                print(f"button {e.event_x} {e.event_y}", flush=True)
        ready, _, _ = select.select([stdin, d.fileno()], [], [])
        if stdin not in ready:
            continue
        chunk = os.read(stdin, 4096)
        if not chunk:
            return 0
        buf += chunk
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            cmd, _, text = raw.decode().partition(" ")
            rest = text.split()
            if cmd == "quit":
                return 0
            if cmd == "pid":
                set_pid(rest[0])
            elif cmd == "machine":
                win.change_property(machine_atom, Xatom.STRING, 8, rest[0].encode())
            elif cmd == "move":
                win.configure(x=int(rest[0]), y=int(rest[1]))
            elif cmd == "resize":
                win.configure(width=int(rest[0]), height=int(rest[1]))
            elif cmd == "map":
                win.map()
            elif cmd == "unmap":
                win.unmap()
            elif cmd == "title" and text:
                win.change_property(net_name_atom, utf8, 8, text.encode())
            elif cmd == "title":
                win.delete_property(net_name_atom)
            elif cmd == "wm_name":
                win.set_wm_name(text)
            elif cmd == "child":
                children.append(subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL))
            d.sync()
            print("ok", flush=True)


def _storm_main(argv: list[str]) -> int:
    """Windows that come and go: the window manager's client list changes all the time."""
    from Xlib import display as xdisplay

    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1 << 62)
    args = parser.parse_args(argv)
    d = xdisplay.Display()
    screen = d.screen()
    stdin = sys.stdin.fileno()
    print(f"ready {os.getpid()}", flush=True)
    made = 0
    live: list[object] = []
    for _ in range(args.rounds):
        if select.select([stdin], [], [], 0)[0]:
            break
        for index in range(args.windows):
            win = screen.root.create_window(
                20 + 7 * index, 20 + 5 * index, 60, 40, 0, screen.root_depth, background_pixel=0x3366CC
            )
            win.set_wm_name(f"storm {index}")
            win.map()
            live.append(win)
            made += 1
        d.sync()
        # Half of them go at once, the rest with the next round: the list both grows and shrinks.
        for win in live[: len(live) // 2]:
            win.destroy()  # type: ignore[attr-defined]
        del live[: len(live) // 2]
        d.sync()
        while d.pending_events():
            d.next_event()
    for win in live:
        win.destroy()  # type: ignore[attr-defined]
    d.sync()
    print(f"done {made}", flush=True)
    return 0


def _props_main(argv: list[str]) -> int:
    """A window that rewrites a property of its own in a tight loop (a busy title, a progress counter)."""
    from Xlib import X, Xatom
    from Xlib import display as xdisplay

    parser = argparse.ArgumentParser()
    # By default a property nobody reads: the window manager, in C, drops its notifications at once; the program
    # must too.  ``_NET_WM_NAME`` makes it a title rewritten in a loop, which the program does read.
    parser.add_argument("--property", default="_VWM_TEST_PROGRESS")
    parser.add_argument("--wait", action="store_true", help="start writing at the first line on stdin, not at once")
    args = parser.parse_args(argv)
    d = xdisplay.Display()
    screen = d.screen()
    win = screen.root.create_window(400, 300, 200, 100, 0, screen.root_depth, background_pixel=0xCC6633)
    win.set_wm_name("props")
    win.change_property(d.intern_atom("_NET_WM_PID"), Xatom.CARDINAL, 32, [os.getpid()])
    win.map()
    d.sync()
    atom = d.intern_atom(args.property)
    utf8 = d.intern_atom("UTF8_STRING")
    print(f"ready {os.getpid()} {win.id}", flush=True)
    stdin = sys.stdin.fileno()
    if args.wait:
        sys.stdin.readline()
    writes = 0
    while not select.select([stdin], [], [], 0)[0]:
        for _ in range(200):
            win.change_property(atom, utf8, 8, f"props {writes}".encode(), mode=X.PropModeReplace)
            writes += 1
        d.sync()  # at the pace the server takes them, no faster
        while d.pending_events():
            d.next_event()
    d.sync()
    print(f"done {writes}", flush=True)
    return 0


if __name__ == "__main__":
    modes = {"client": _client_main, "storm": _storm_main, "props": _props_main}
    mode = modes.get(sys.argv[1] if len(sys.argv) > 1 else "")
    if mode is not None:
        sys.exit(mode(sys.argv[2:]))
    sys.exit("usage: x11_helpers.py client|storm|props [options]")
