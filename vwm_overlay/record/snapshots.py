"""PNG snapshots of a chart, named by time and count, written atomically.

A snapshot is composed and written to a temporary file in the output directory (``.FINAL.WIP``, or the fixed
``--wip-name``), flushed and fsynced, then renamed over its final name, and the directory is fsynced so the rename
survives a crash.  A reader (or a crash, or a SIGKILL) can therefore never see a partial PNG under a final name; at
worst a ``.WIP`` file is left behind.

Names are ``NAME-YYYY-MM-DDTHH.MM.SS-N.png``: vwm's scheme, with an ISO-like date and ``.`` instead of ``:`` so they
are valid on every file system and sort by time.  Without a name they start with the date.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Protocol

from .options import filename_safe

__all__ = ["PngSource", "SnapshotWriter", "snapshot_name"]

TIME_FORMAT = "%Y-%m-%dT%H.%M.%S"


class PngSource(Protocol):
    """What a snapshot needs of a chart (``vwm_overlay.chart.Chart``)."""

    samples: int

    def write_png(self, path: str) -> None: ...


def snapshot_name(name: str | None, when_s: float, index: int) -> str:
    """``name-2026-11-28T09.30.00-0.png`` for local time ``when_s`` (seconds since the epoch)."""
    stamp = time.strftime(TIME_FORMAT, time.localtime(when_s))
    prefix = f"{filename_safe(name)}-" if name else ""
    return f"{prefix}{stamp}-{index}.png"


class SnapshotWriter:
    """Writes numbered snapshots of one recording into ``output_dir``."""

    def __init__(
        self,
        output_dir: str,
        name: str | None,
        *,
        now_names: bool = False,
        wip_name: str | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.output_dir = output_dir
        self.name = name
        self.now_names = now_names
        self.wip_name = wip_name
        self._wall_clock = wall_clock
        self._start_s = wall_clock()
        self._index = 0
        #: Paths written so far, oldest first.
        self.written: list[str] = []
        #: The chart's sample count at the latest snapshot (-1 before any).
        self.last_samples = -1

    def write(self, chart: PngSource) -> str:
        """Write the next snapshot of ``chart``; returns its path.  OSError propagates; no partial file remains."""
        when_s = self._wall_clock() if self.now_names else self._start_s
        final = self._free_path(when_s)
        wip_file = self.wip_name if self.wip_name is not None else f".{os.path.basename(final)}.WIP"
        wip = os.path.join(self.output_dir, wip_file)
        try:
            chart.write_png(wip)
            _fsync_path(wip)
            os.rename(wip, final)
        except BaseException:
            # Also on KeyboardInterrupt: a half-written temporary file is of no use to anyone.
            try:
                os.unlink(wip)
            except OSError:
                pass
            raise
        _fsync_dir(self.output_dir)
        self._index += 1
        self.written.append(final)
        self.last_samples = chart.samples
        return final

    def _free_path(self, when_s: float) -> str:
        # Never replace a PNG of another recording that started in the same second.
        while True:
            path = os.path.join(self.output_dir, snapshot_name(self.name, when_s, self._index))
            if not os.path.lexists(path):
                return path
            self._index += 1


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: str) -> None:
    try:
        _fsync_path(path)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename itself is still atomic
