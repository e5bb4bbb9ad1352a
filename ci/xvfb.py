#!/usr/bin/env python3
"""Run a command under a fresh Xvfb (and optionally a window manager and a
compositor), then tear everything down and exit with the command's status.

    ci/xvfb [--wm openbox] [--compositor [xcompmgr|picom]] [--screen WxHxD] [--fbdir DIR] [--] CMD [ARGS...]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wms import MANAGERS
from xsession import XSession, XSessionError


def main() -> int:
    parser = argparse.ArgumentParser(prog="ci/xvfb", description=__doc__.split("\n\n")[0])
    parser.add_argument("--wm", help="window manager to start: " + ", ".join(MANAGERS))
    parser.add_argument(
        "--compositor", nargs="?", const="xcompmgr", choices=("xcompmgr", "picom"), help="also start a compositor"
    )
    parser.add_argument("--screen", default="1280x800x24", help="screen geometry (default 1280x800x24)")
    parser.add_argument("--fbdir", help="let Xvfb expose its framebuffer as an XWD file in DIR")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="the command to run")
    args = parser.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command given")
    # Turn SIGTERM into an exception so the session is still torn down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        with XSession(screen=args.screen, wm=args.wm, compositor=args.compositor, fbdir=args.fbdir) as xs:
            try:
                return subprocess.call(cmd, env=xs.env)
            except FileNotFoundError:
                print(f"ci/xvfb: {cmd[0]}: command not found", file=sys.stderr)
                return 127
    except XSessionError as err:
        print(f"ci/xvfb: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
