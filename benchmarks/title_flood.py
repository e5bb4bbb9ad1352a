"""Cost of a window rewriting its title in a loop, against one rewriting a property nobody reads.

Under a fresh Xvfb with no window manager (openbox redraws its title bar for every write, and freezes), one window
rewrites a property of its own as fast as the server takes it (``tests/x11_helpers.py props``), while the overlay's
client tracker reads the events as the program does (batches of ``EVENTS_PER_PASS``, the real clock, so the flood is
muted, polled and listened to again as in the program) for ``--phase-s`` seconds.  Two workloads, alternating for
``--rounds`` rounds, each run under an X server of its own (a backlog left by one never slows the next):

- untitled: ``_VWM_TEST_PROGRESS``, a property the tracker drops; what any flood cost before titles were followed
  (the baseline);
- title: ``_NET_WM_NAME``: the tracker reads the title at most once per batch, and while the window is muted only at
  its polls.

The flood starts once the tracker knows the window: the reads of a new client, chasing a flood that is already on,
cost the same whatever the property.  For each, medians over the rounds: the tracker's CPU (this process: reading,
parsing and handling the events) per second, the notifications it read per second, and title reads (GetProperty of
``_NET_WM_NAME`` or ``WM_NAME``) per second.  How much of a flood reaches the tracker before it is muted varies from
run to run (the server queues what the tracker has not read yet), hence the rounds.  The last line is
``title_cpu_ratio=R title_reads_per_s=N``, ``R`` the title flood's median CPU per second over the untitled flood's.

Run: ``python benchmarks/title_flood.py [--phase-s 40] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import importlib
import select
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "ci"))

XSession = importlib.import_module("xsession").XSession

from vwm_overlay.desktop import EVENTS_PER_PASS  # noqa: E402
from vwm_overlay.x11 import ClientTracker, Connection  # noqa: E402

HELPERS = ROOT / "tests" / "x11_helpers.py"


@dataclass(frozen=True)
class Phase:
    cpu_s_per_s: float
    notifications_per_s: float
    title_reads_per_s: float


def measure(prop: str, phase_s: float) -> Phase:
    """Flood ``prop`` for ``phase_s`` seconds under a tracker, on an X server of its own."""
    with XSession() as xs, Connection(xs.display) as conn:
        tracker = ClientTracker(conn)
        tracker.start()
        titles = {conn.atom("_NET_WM_NAME"), conn.atom("WM_NAME")}
        reads = [0]
        get_property = conn.get_property

        def counted(wid: int, atom: int, kind: int) -> Any:
            reads[0] += atom in titles
            return get_property(wid, atom, kind)

        conn.get_property = counted  # type: ignore[method-assign]
        flood = subprocess.Popen(
            [sys.executable, str(HELPERS), "props", "--property", prop, "--wait"],
            env=xs.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert flood.stdin is not None and flood.stdout is not None
        try:
            words = flood.stdout.readline().split()
            if words[:1] != [b"ready"]:
                raise SystemExit("benchmark: the flooding window did not start")
            # The flood starts once the tracker has the window: what is measured is the flood of a known client,
            # not the start-up reads of a new one chasing it (that cost is the same whatever the property).
            window, deadline_s = int(words[2]), time.monotonic() + 30
            while tracker.get(window) is None:
                if time.monotonic() > deadline_s:
                    raise SystemExit("benchmark: the tracker never found the flooding window")
                select.select([conn.fileno()], [], [], 0.1)
                tracker.process(conn.events(EVENTS_PER_PASS))
            flood.stdin.write(b"go\n")
            flood.stdin.flush()
            notifications = 0
            reads[0] = 0
            cpu_start_s, start_s = time.process_time(), time.monotonic()
            while time.monotonic() - start_s < phase_s:
                if not conn.pending():
                    select.select([conn.fileno()], [], [], 0.1)
                events = conn.events(EVENTS_PER_PASS)
                notifications += sum(conn.property_counts.values())
                tracker.process(events)
                conn.flush()
            cpu_s = time.process_time() - cpu_start_s
            wall_s = time.monotonic() - start_s
        finally:
            flood.stdin.close()
            flood.wait(timeout=60)
            flood.stdout.close()
        return Phase(cpu_s / wall_s, notifications / wall_s, reads[0] / wall_s)


def median(phases: list[Phase]) -> Phase:
    return Phase(
        statistics.median(p.cpu_s_per_s for p in phases),
        statistics.median(p.notifications_per_s for p in phases),
        statistics.median(p.title_reads_per_s for p in phases),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # 40 s: past PROPERTY_MUTE_S, so a muted window is listened to (and flooded by) again once.
    parser.add_argument("--phase-s", type=float, default=40.0, help="seconds per run (default 40)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each workload (default 3)")
    args = parser.parse_args()
    runs: dict[str, list[Phase]] = {"untitled flood": [], "title flood": []}
    for _ in range(max(args.rounds, 1)):
        for name, prop in (("untitled flood", "_VWM_TEST_PROGRESS"), ("title flood", "_NET_WM_NAME")):
            phase = measure(prop, args.phase_s)
            runs[name].append(phase)
            print(
                f"{name:15} tracker CPU {phase.cpu_s_per_s * 1000:7.1f} ms/s  "
                f"notifications {phase.notifications_per_s:9.0f}/s  title reads {phase.title_reads_per_s:5.2f}/s",
                flush=True,
            )
    untitled, title = (median(runs[name]) for name in ("untitled flood", "title flood"))
    print(
        f"medians: untitled {untitled.cpu_s_per_s * 1000:.1f} ms/s, {untitled.notifications_per_s:.0f} notifications/s;"
        f" title {title.cpu_s_per_s * 1000:.1f} ms/s, {title.notifications_per_s:.0f} notifications/s"
    )
    ratio = title.cpu_s_per_s / untitled.cpu_s_per_s if untitled.cpu_s_per_s else float("inf")
    print(f"title_cpu_ratio={ratio:.2f} title_reads_per_s={title.title_reads_per_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
