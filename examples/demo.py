"""See the overlay without a desktop: a screenshot of vwm-overlay's charts over a few busy windows.

    python examples/demo.py [demo.png] [--seconds 5] [--use-display]

It starts a throw-away X server with openbox (or, with ``--use-display``, uses
``$DISPLAY``, e.g. under ``ci/xvfb --wm openbox``), opens three windows whose
processes keep children and threads busy, runs ``vwm-overlay --show-all`` over
them, lets the charts gather a few seconds of history, saves a screenshot and
cleans everything up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "ci"))

from Xlib import X  # noqa: E402

from vwm_overlay.x11 import Connection, grab_root  # noqa: E402

#: (x, y, width, height, colour, children, threads, title) of each window.
WINDOWS = [
    (30, 40, 700, 430, "1d3557", 3, 2, "build"),
    (760, 40, 490, 330, "3a2e4f", 1, 4, "server"),
    (760, 410, 490, 360, "24453a", 2, 1, "batch"),
]


def wait_for(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"demo: timed out waiting for {what}")
        time.sleep(0.05)


def shown_overlays(conn: Connection) -> int:
    count = 0
    for child in conn.root.query_tree().children:
        attrs = child.get_attributes()
        if attrs.override_redirect and attrs.map_state == X.IsViewable and child.get_wm_name() == "vwm-overlay":
            count += 1
    return count


def run_demo(env: dict[str, str], output: Path, seconds: float) -> None:
    with ExitStack() as stack:
        procs: list[subprocess.Popen[bytes]] = []

        def stop_all() -> None:
            for proc in reversed(procs):
                if proc.poll() is None:
                    proc.terminate()
                proc.wait()

        stack.callback(stop_all)
        for x, y, width, height, colour, children, threads, title in WINDOWS:
            # Relative to the checkout, so the charts show a short command line.
            cmd = [sys.executable, "examples/busy_window.py", "--title", title, "--color", colour]
            cmd += ["--x", str(x), "--y", str(y), "--width", str(width), "--height", str(height)]
            cmd += ["--children", str(children), "--threads", str(threads), "--busy", "0.15"]
            proc = subprocess.Popen(cmd, env=env, cwd=HERE.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            procs.append(proc)
            assert proc.stdout is not None
            if not proc.stdout.readline().startswith(b"ready"):
                raise SystemExit("demo: a client window did not start")
        # 20 Hz: five seconds of history fill 100 px of each chart.
        overlay = subprocess.Popen([sys.executable, "-m", "vwm_overlay", "--show-all", "--hertz", "20"], env=env)
        procs.append(overlay)
        conn = stack.enter_context(Connection(env["DISPLAY"]))
        wait_for(lambda: overlay.poll() is not None or shown_overlays(conn) == len(WINDOWS), 20, "the overlays")
        if overlay.poll() is not None:
            raise SystemExit(f"demo: vwm-overlay exited with status {overlay.returncode}")
        time.sleep(seconds)  # the point of the demo: history to look at
        grab_root(conn).save_png(str(output))
    print(output)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", nargs="?", default="demo.png", type=Path, help="the screenshot (default demo.png)")
    parser.add_argument("--seconds", type=float, default=5.0, help="history to gather before the screenshot")
    parser.add_argument("--use-display", action="store_true", help="use $DISPLAY instead of a throw-away X server")
    args = parser.parse_args()
    if args.use_display:
        if not os.environ.get("DISPLAY"):
            parser.error("--use-display needs $DISPLAY")
        run_demo(dict(os.environ), args.output, args.seconds)
        return 0
    from xsession import XSession

    with XSession(wm="openbox", screen="1280x800x24") as xs:
        run_demo(xs.env, args.output, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
