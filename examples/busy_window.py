"""A client window whose process keeps a few children and threads busy: something for the overlay to chart.

    python examples/busy_window.py [--windows N] [--children N] [--threads N] [--busy FRACTION] [--no-pid]
                                   [--x X --y Y --width W --height H] [--color RRGGBB] [--title TEXT]

It opens ``--windows`` windows (all of this one process), sets ``_NET_WM_PID``
on them unless ``--no-pid`` (the overlay then finds the process through the
X-Resource extension), starts ``--children`` worker processes that each run
``--threads`` threads, every one busy for ``--busy`` of each 100 ms, and prints
``ready PID WINDOW...`` once the windows are mapped.  It runs until stdin is
closed or SIGTERM/SIGINT arrives, and takes its workers with it.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import threading
import time

from Xlib import X, Xatom, Xutil
from Xlib import display as xdisplay

PERIOD_S = 0.1


def busy_loop(busy: float, parent: int) -> None:
    """Spin for ``busy`` of every period, sleep the rest; stop when the parent is gone."""
    while os.getppid() == parent:
        start = time.monotonic()
        while time.monotonic() - start < busy * PERIOD_S:
            pass
        time.sleep((1.0 - busy) * PERIOD_S)


def worker_main(busy: float, threads: int, memory_mb: int) -> int:
    parent = os.getppid()
    # Some resident memory, so the memory lane has something to show.
    ballast = bytearray(memory_mb << 20)
    ballast[::4096] = b"x" * len(ballast[::4096])
    for _ in range(threads):
        threading.Thread(target=busy_loop, args=(busy, parent), daemon=True).start()
    busy_loop(busy, parent)
    return 0


def start_workers(args: argparse.Namespace) -> list[subprocess.Popen[bytes]]:
    workers = []
    for index in range(args.children):
        # sys.argv[0] as typed: it is what the chart's ArgV column shows.
        cmd = [sys.executable, sys.argv[0], "worker", "--busy", str(args.busy)]
        cmd += ["--threads", str(args.threads), "--memory-mb", str(4 + 4 * index)]
        workers.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL))
    return workers


def open_windows(d: xdisplay.Display, args: argparse.Namespace) -> list[int]:
    screen = d.screen()
    pid_atom = d.intern_atom("_NET_WM_PID")
    windows = []
    for index in range(args.windows):
        x, y = args.x + 40 * index, args.y + 40 * index
        win = screen.root.create_window(
            x, y, args.width, args.height, 0, screen.root_depth, background_pixel=int(args.color, 16)
        )
        title = args.title if args.windows == 1 else f"{args.title} {index + 1}"
        win.set_wm_name(title)
        win.set_wm_class("busy_window", "BusyWindow")
        # USPosition: the window manager puts the window where asked, so demos and tests know where it is.
        win.set_wm_normal_hints(flags=Xutil.USPosition | Xutil.USSize, x=x, y=y, width=args.width, height=args.height)
        if not args.no_pid:
            win.change_property(pid_atom, Xatom.CARDINAL, 32, [os.getpid()])
        win.change_attributes(event_mask=X.StructureNotifyMask)
        win.map()
        windows.append(win.id)
    d.sync()
    mapped: set[int] = set()
    while len(mapped) < len(windows):
        event = d.next_event()
        if event.type == X.MapNotify:
            mapped.add(event.window.id)
    return windows


def window_main(args: argparse.Namespace) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    d = xdisplay.Display()
    workers = start_workers(args)
    try:
        windows = open_windows(d, args)
        print("ready", os.getpid(), *windows, flush=True)
        stdin = sys.stdin.fileno()
        while not stop.is_set():
            while d.pending_events():
                d.next_event()
            ready, _, _ = select.select([stdin, d.fileno()], [], [], 0.2)
            if stdin in ready and not os.read(stdin, 4096):
                break
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait()
        d.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode")
    worker = sub.add_parser("worker")
    worker.add_argument("--busy", type=float, default=0.3)
    worker.add_argument("--threads", type=int, default=2)
    worker.add_argument("--memory-mb", type=int, default=4)
    parser.add_argument("--windows", type=int, default=1)
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--busy", type=float, default=0.3, help="fraction of each 100 ms spent spinning")
    parser.add_argument("--no-pid", action="store_true", help="do not set _NET_WM_PID")
    parser.add_argument("--x", type=int, default=60)
    parser.add_argument("--y", type=int, default=60)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=400)
    parser.add_argument("--color", default="27405e", help="background as RRGGBB")
    parser.add_argument("--title", default="busy window")
    args = parser.parse_args()
    if args.mode == "worker":
        return worker_main(args.busy, args.threads, args.memory_mb)
    return window_main(args)


if __name__ == "__main__":
    sys.exit(main())
