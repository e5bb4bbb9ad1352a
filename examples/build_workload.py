"""A build-like workload to record: about six seconds of what a parallel build does.

    vwm-overlay record --output-dir charts -- python3 examples/build_workload.py

- three "compiler" worker processes, each with three threads hashing data (hashlib releases the GIL for large
  buffers, so the threads really run in parallel);
- a "driver" that starts a short-lived child every 100 ms (``true``, or a tiny Python one), as make does;
- a "linker" that writes files in a temporary directory and fsyncs each one.

Only the standard library is needed.  ``--seconds`` changes the length.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

WORKERS = 3
THREADS_PER_WORKER = 3
SPAWN_EVERY_S = 0.1
WRITE_CHUNK_BYTES = 256 * 1024


def hash_until(deadline_s: float) -> None:
    """Burn CPU in C (hashlib drops the GIL for big buffers) until the monotonic deadline."""
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    while time.monotonic() < deadline_s:
        digest.update(block)


def worker(deadline_s: float) -> None:
    threads = [threading.Thread(target=hash_until, args=(deadline_s,)) for _ in range(THREADS_PER_WORKER - 1)]
    for thread in threads:
        thread.start()
    hash_until(deadline_s)  # the main thread works too
    for thread in threads:
        thread.join()


def driver(deadline_s: float) -> None:
    """A stream of short-lived children, alternating a binary and a Python one-liner."""
    true = shutil.which("true")
    count = 0
    while time.monotonic() < deadline_s:
        if true is not None and count % 2 == 0:
            subprocess.run([true], check=False)
        else:
            subprocess.run([sys.executable, "-c", "sum(range(200000))"], check=False)
        count += 1
        time.sleep(SPAWN_EVERY_S)


def writer(deadline_s: float) -> None:
    """Write and fsync files, so the IO lane has something to show."""
    chunk = os.urandom(WRITE_CHUNK_BYTES)
    with tempfile.TemporaryDirectory(prefix="build-workload-") as directory:
        index = 0
        while time.monotonic() < deadline_s:
            path = os.path.join(directory, f"object-{index % 8}.o")
            with open(path, "wb") as out:
                out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            index += 1
            time.sleep(0.05)


ROLES = {"worker": worker, "driver": driver, "writer": writer}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="how long the workload runs (default 6)")
    parser.add_argument("--role", choices=sorted(ROLES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    deadline_s = time.monotonic() + args.seconds
    if args.role is not None:
        ROLES[args.role](deadline_s)
        return 0
    # Each job is this script again with a role, so the chart names it: "build_workload.py --role worker".
    roles = ["worker"] * WORKERS + ["driver", "writer"]
    jobs = [
        # sys.argv[0] is the path as it was typed, which is what the chart shows.
        subprocess.Popen([sys.executable, sys.argv[0], "--role", role, "--seconds", str(args.seconds)])
        for role in roles
    ]
    failed = [role for role, job in zip(roles, jobs, strict=True) if job.wait() != 0]
    if failed:
        print(f"build_workload: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
