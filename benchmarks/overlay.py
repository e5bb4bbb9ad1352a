"""Cost of the overlay program: CPU per sample with every chart hidden, extra CPU per shown 800x600 chart, X traffic.

Under a fresh Xvfb with openbox, 10 client windows (each a process with children and threads) are monitored at
10 Hz by ``vwm-overlay`` running as a subprocess.  First every overlay is hidden for ``PHASE_S`` seconds, then three
800x600 overlays are shown (with the toggle hotkey, typed by xdotool) for another ``PHASE_S``.

The CPU counted is the program's, the X server's and the compositor's (``--compositor``), each from its
``/proc/PID/stat`` (utime + stime): drawing moves work into the server (uploads, shapes) and the compositor
(blending), and leaving theirs out would flatter whatever moves the most work there.  The window manager's is
left out: it does the same whether overlays show or not.  Frames are counted where they are sent: a frame skipped
(the server still reading the previous one) is no cheap frame, so costs are given per frame actually presented
as well as per sample.  The bytes the program sends to the X server are counted by wrapping its X socket (the
benchmark runs the program as its own subprocess for that).

The last line printed is ``overlay_ms_per_visible_sample=R overlay_ms_per_frame=F hidden_x_bytes_per_sample=N``,
``R`` and ``F`` counting all three processes.

With ``--profile FILE`` the program runs cProfile over the shown phase only (started and stopped by signals),
writes the statistics to ``FILE`` and the benchmark prints where the time per sample went: sampling, chart
updates, composing, upload and the shape.  Profiling slows Python code down, so the CPU figures of such a run
are higher than without it; compare the shares, not the totals.

Frames go to the server through MIT-SHM when it allows; ``--no-shm`` measures the PutImage path instead.

Run: ``python benchmarks/overlay.py [--compositor] [--no-shm] [--phase-s 20] [--profile FILE]``
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import mmap
import os
import pstats
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "ci"))

XSession = importlib.import_module("xsession").XSession

from vwm_overlay.x11 import Connection  # noqa: E402
from vwm_overlay.x11.shm import NO_SHM_ENV  # noqa: E402

HERTZ = 10
WINDOWS = 10
SHOWN = 3
SHOWN_SIZE = (800, 600)
SMALL_SIZE = (400, 300)
FULL_FRAME_BYTES = SHOWN_SIZE[0] * SHOWN_SIZE[1] * 4
TOGGLE = "super+semicolon"


class CountingSocket:
    """The X connection's socket, counting the bytes sent into a shared 8-byte file."""

    def __init__(self, sock: socket.socket, counter: mmap.mmap) -> None:
        self._sock = sock
        self._counter = counter
        self._sent = 0

    def send(self, data: bytes, *flags: int) -> int:
        sent = self._sock.send(data, *flags)
        self._sent += sent
        struct.pack_into("<Q", self._counter, 0, self._sent)
        return sent

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)


def run_counting_app(counter_path: str, argv: list[str], profile_path: str | None = None) -> int:
    """Run the overlay program in this process with its X socket's sent bytes, its samples and its frames counted.

    With ``profile_path``, SIGUSR1 starts cProfile and SIGUSR2 stops it and writes its statistics there.
    """
    from Xlib.support import connect

    from vwm_overlay.cli import main as overlay_main
    from vwm_overlay.vmon import Vmon
    from vwm_overlay.x11 import OverlayWindow

    with open(counter_path, "r+b") as f:
        counter = mmap.mmap(f.fileno(), COUNTER_BYTES)
    plain_sample = Vmon.sample
    samples = 0
    plain_upload = OverlayWindow.upload
    frames = 0

    def counted_upload(overlay: OverlayWindow, *args: Any, **kwargs: Any) -> None:
        nonlocal frames
        if overlay.visible:  # a hidden overlay sends nothing
            frames += 1
            struct.pack_into("<Q", counter, 16, frames)
        plain_upload(overlay, *args, **kwargs)

    setattr(OverlayWindow, "upload", counted_upload)  # noqa: B010
    plain_upload_layers = OverlayWindow.upload_layers

    def counted_upload_layers(overlay: OverlayWindow, *args: Any, **kwargs: Any) -> bool:
        nonlocal frames
        shown = plain_upload_layers(overlay, *args, **kwargs)
        if shown and overlay.visible:  # refused layers are sent as a whole frame, counted there
            frames += 1
            struct.pack_into("<Q", counter, 16, frames)
        return shown

    setattr(OverlayWindow, "upload_layers", counted_upload_layers)  # noqa: B010

    def counted_sample(vmon: Vmon) -> None:
        nonlocal samples
        plain_sample(vmon)
        samples += 1
        struct.pack_into("<Q", counter, 8, samples)

    setattr(Vmon, "sample", counted_sample)  # noqa: B010
    plain = connect.get_socket

    def counting(*args: Any) -> CountingSocket:
        return CountingSocket(plain(*args), counter)

    # python-xlib looks the function up on its module at every connect.
    setattr(connect, "get_socket", counting)  # noqa: B010
    if profile_path is not None:
        profiler = cProfile.Profile()

        def start(signum: int, frame: FrameType | None) -> None:
            profiler.enable()

        def stop(signum: int, frame: FrameType | None) -> None:
            profiler.disable()
            profiler.dump_stats(profile_path)

        signal.signal(signal.SIGUSR1, start)
        signal.signal(signal.SIGUSR2, stop)
    return overlay_main(argv)


#: Parts of a sample and the functions whose cumulative time they are, ``(file suffix, function name)``; a part
#: written ``a - b`` is a's time without the time of the parts named in ``b``.
PARTS: tuple[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]], ...] = (
    ("sampling (engine)", (("vmon/_monitor.py", "sample"),), ("chart update",)),
    ("chart update", (("chart/chart.py", "_on_sample"),), ()),
    ("compose", (("vwm_overlay/desktop/_view.py", "present"),), ("upload", "shape")),
    ("upload", (("x11/overlay.py", "_put_rows"), ("x11/shm.py", "put_image"), ("x11/lean.py", "present")), ()),
    ("shape", (("chart/shape.py", "update"), ("x11/overlay.py", "set_shape")), ()),
)


def profile_breakdown(path: str, samples: int, overlays: int) -> list[str]:
    """Lines giving each part's milliseconds per sample (all overlays) and per shown overlay, from a profile."""
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]] = pstats.Stats(path).stats  # type: ignore[attr-defined]
    total: dict[str, float] = {}
    for part, functions, _ in PARTS:
        total[part] = sum(
            ct
            for (file, _, name), (_, _, _, ct, _) in raw.items()
            if any(file.endswith(suffix) and name == fn for suffix, fn in functions)
        )
    lines = []
    for part, _, minus in PARTS:
        ms = 1000 * (total[part] - sum(total[m] for m in minus)) / max(samples, 1)
        lines.append(f"  {part:18} {ms:6.2f} ms per sample, {ms / overlays:6.2f} ms per shown overlay")
    return lines


#: The shared counters: bytes sent to X, samples taken, frames presented (8 bytes each).
COUNTER_BYTES = 24


def counters(counter_path: str) -> tuple[int, int, int]:
    """Bytes sent to X, samples taken and frames presented so far."""
    with open(counter_path, "rb") as f:
        sent, samples, frames = struct.unpack("<QQQ", f.read(COUNTER_BYTES))
        return int(sent), int(samples), int(frames)


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"benchmark: timed out waiting for {what}")
        time.sleep(0.05)


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    # utime and stime are fields 14 and 15 of proc(5); fields[0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def monitored_pids(pid: int) -> set[int]:
    """Processes whose stat file the program keeps open (the engine keeps one fd per monitored task)."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        match = re.fullmatch(r"/proc/(\d+)/stat", target)
        if match:
            found.add(int(match.group(1)))
    return found


def shown_overlays(display: str) -> int:
    from Xlib import X

    with Connection(display) as conn:
        count = 0
        for child in conn.root.query_tree().children:
            attrs = child.get_attributes()
            if attrs.override_redirect and attrs.map_state == X.IsViewable and child.get_wm_name() == "vwm-overlay":
                count += 1
        return count


def overlays_shown(display: str, count: int) -> bool:
    return shown_overlays(display) == count


class Phase:
    """What one phase cost: CPU seconds by process name, bytes to X, samples taken, frames presented."""

    def __init__(self, cpu: dict[str, float], sent: int, samples: int, frames: int) -> None:
        self.cpu, self.sent, self.samples, self.frames = cpu, sent, samples, frames

    @property
    def total_cpu_s(self) -> float:
        return sum(self.cpu.values())

    def ms_per_sample(self, name: str | None = None) -> float:
        cpu = self.total_cpu_s if name is None else self.cpu[name]
        return 1000 * cpu / max(self.samples, 1)


def measure(pids: dict[str, int], counter_path: str, seconds: float) -> Phase:
    """The CPU of each process in ``pids`` and the program's counters over ``seconds``."""
    cpu0, (bytes0, samples0, frames0) = {n: cpu_s(p) for n, p in pids.items()}, counters(counter_path)
    time.sleep(seconds)
    sent, samples, frames = counters(counter_path)
    cpu = {name: cpu_s(pid) - cpu0[name] for name, pid in pids.items()}
    return Phase(cpu, sent - bytes0, samples - samples0, frames - frames0)


def start_clients(env: dict[str, str]) -> list[tuple[subprocess.Popen[bytes], int, int]]:
    clients = []
    for index in range(WINDOWS):
        big = index < SHOWN
        width, height = SHOWN_SIZE if big else SMALL_SIZE
        # The shown windows hold about 40 rows: 9 processes and 24 threads under the window's process.
        shape = ["--children", "8", "--threads", "3"] if big else ["--children", "2", "--threads", "1"]
        x, y = (20 + 420 * index, 20) if big else (40 * index, 640)
        cmd = [sys.executable, str(ROOT / "examples" / "busy_window.py"), *shape, "--busy", "0.003"]
        cmd += ["--x", str(x), "--y", str(y), "--width", str(width), "--height", str(height)]
        cmd += ["--title", f"client {index}"]
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        words = proc.stdout.readline().split()
        if not words or words[0] != b"ready":
            raise SystemExit("benchmark: a client window did not start")
        clients.append((proc, int(words[1]), int(words[2])))
    return clients


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compositor", action="store_true", help="run xcompmgr (alpha blending instead of SHAPE)")
    parser.add_argument("--no-shm", action="store_true", help=f"send frames with PutImage ({NO_SHM_ENV}=1)")
    parser.add_argument("--phase-s", type=float, default=20.0, help="seconds per phase (default 20)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the shown phase into FILE and break it down")
    parser.add_argument("--count-x-bytes", metavar="FILE", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.count_x_bytes:
        # The overlay program itself, as the benchmark's subprocess.
        return run_counting_app(args.count_x_bytes, rest, args.profile)

    with tempfile.NamedTemporaryFile(prefix="overlay-bench-", suffix=".counter") as counter:
        counter.write(bytes(COUNTER_BYTES))
        counter.flush()
        with XSession(screen="2560x1400x24", wm="openbox") as xs:
            compositor = xs.start_compositor() if args.compositor else None
            clients = start_clients(xs.env)
            profiling = ["--profile", args.profile] if args.profile else []
            if args.profile and os.path.exists(args.profile):
                os.remove(args.profile)  # so that its appearance says the new one is written
            app_env = {key: value for key, value in xs.env.items() if key != NO_SHM_ENV}
            if args.no_shm:
                app_env[NO_SHM_ENV] = "1"
            app = subprocess.Popen(
                [sys.executable, __file__, *profiling, "--count-x-bytes", counter.name, "--hertz", str(HERTZ)],
                env=app_env,
                stdin=subprocess.DEVNULL,
            )
            try:
                client_pids = {pid for _, pid, _ in clients}
                wait_for(lambda: client_pids <= monitored_pids(app.pid), 20, "every client to be monitored")
                time.sleep(1.0)  # let start-up work (imports, first samples) settle before measuring
                assert xs.xvfb_proc is not None
                pids = {"program": app.pid, "X server": xs.xvfb_proc.pid}
                if compositor is not None:
                    pids["compositor"] = compositor.pid
                hidden = measure(pids, counter.name, args.phase_s)

                for showing, (_, _, window) in enumerate(clients[:SHOWN], 1):
                    env = xs.env
                    subprocess.run(["xdotool", "windowactivate", "--sync", str(window)], env=env, check=True)
                    subprocess.run(["xdotool", "key", "--clearmodifiers", TOGGLE], env=env, check=True)
                    # The program toggles the window active when it reads the key: activating the next one
                    # before that would toggle the wrong window.
                    wait_for(partial(overlays_shown, xs.display, showing), 10, f"{showing} overlays to show")
                time.sleep(1.0)
                if args.profile:
                    app.send_signal(signal.SIGUSR1)
                shown = measure(pids, counter.name, args.phase_s)
                if args.profile:
                    app.send_signal(signal.SIGUSR2)
                    wait_for(lambda: os.path.exists(args.profile), 10, "the profile")
            finally:
                app.terminate()
                app.wait()
                for proc, _, _ in clients:
                    assert proc.stdin is not None
                    proc.stdin.close()
                    proc.wait()

    hidden_ms, shown_ms = hidden.ms_per_sample(), shown.ms_per_sample()
    per_overlay_ms = (shown_ms - hidden_ms) / SHOWN
    # Per frame presented: the shown phase's CPU beyond what the hidden phase spent in as many seconds.
    drawing_s = shown.total_cpu_s - hidden.total_cpu_s * shown.samples / max(hidden.samples, 1)
    per_frame_ms = 1000 * drawing_s / max(shown.frames, 1)
    hidden_per_sample = round(hidden.sent / max(hidden.samples, 1))
    frame_bytes = shown.sent / max(shown.frames, 1)
    mode = "alpha-blended (compositor)" if args.compositor else "SHAPE cut-out (no compositor)"
    upload = "PutImage" if args.no_shm else "MIT-SHM where the server allows"
    print(f"{WINDOWS} windows at {HERTZ} Hz, overlays {mode}, uploads {upload}, {args.phase_s:g} s per phase")
    print(
        f"samples taken: {hidden.samples} hidden, {shown.samples} shown "
        f"(fewer than {HERTZ}/s means the rate backed off: samples came late); "
        f"frames presented while shown: {shown.frames} of {shown.samples * SHOWN}"
    )
    names = list(hidden.cpu)
    print("ms CPU per sample    " + "".join(f"{name:>12}" for name in names) + f"{'all':>12}")
    for label, phase in (("all hidden", hidden), (f"{SHOWN} shown 800x600", shown)):
        cells = "".join(f"{phase.ms_per_sample(name):12.2f}" for name in names)
        print(f"{label:21}{cells}{phase.ms_per_sample():12.2f}")
    print(f"per shown overlay: {per_overlay_ms:.2f} ms CPU per sample, all three processes (budget 3 ms)")
    print(f"per frame presented: {per_frame_ms:.2f} ms CPU, all three processes")
    print(f"all hidden: {hidden_per_sample} bytes to X per sample")
    print(
        f"X traffic per frame presented: {frame_bytes:,.0f} bytes, whole-frame upload {FULL_FRAME_BYTES:,} bytes "
        f"({frame_bytes / FULL_FRAME_BYTES:.0%})"
    )
    if args.profile:
        print(f"where the time of the shown phase went (profiled, so slower than above; {SHOWN} overlays):")
        print("\n".join(profile_breakdown(args.profile, shown.samples, SHOWN)))
    print(
        f"overlay_ms_per_visible_sample={per_overlay_ms:.2f} overlay_ms_per_frame={per_frame_ms:.2f} "
        f"hidden_x_bytes_per_sample={hidden_per_sample}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
