"""PNG snapshots of a chart, named by time and count, written atomically.

A snapshot is composed and written to a new work-in-progress file in the output directory (``.FINAL.PID.WIP``, or
the fixed ``--wip-name``), flushed and fsynced, then renamed to its final name, which must not exist yet, and the
directory is fsynced so the rename survives a crash.  A reader (or a crash, or a SIGKILL) can therefore never see a
partial PNG under a final name; at worst a ``.WIP`` file is left behind, and the next recording in the directory
removes it (its name says which recorder wrote it, and that recorder is gone).  How the files are created, so that
no other user can redirect them, is :mod:`.files`' job.

Names are ``NAME-YYYY-MM-DDTHH.MM.SS-N.png``: vwm's scheme, with an ISO-like date and ``.`` instead of ``:`` so they
are valid on every file system and sort by time.  Without a name they start with the date; a name too long for a
file name is cut.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import BinaryIO, Protocol, cast

from .files import OutputDir
from .options import filename_safe

__all__ = ["PngSource", "SnapshotWriter", "snapshot_name"]

TIME_FORMAT = "%Y-%m-%dT%H.%M.%S"
#: Bytes a work-in-progress name adds to a PNG name, at most: ".", ".PID" (up to 10 digits), ".WIP".
_WIP_EXTRA_BYTES = 1 + 11 + 4
#: Bytes of a name without its prefix, at most: the date, "-N" (up to 20 digits), ".png".
_STAMP_BYTES = 19 + 21 + 4
#: NAME_MAX of Linux file systems, if the directory does not say.
_NAME_MAX_BYTES = 255


class PngSource(Protocol):
    """What a snapshot needs of a chart (``vwm_overlay.chart.Chart``)."""

    samples: int

    def to_surface(self) -> object:
        """The composed chart: a cairo ``ImageSurface`` (anything with ``write_to_png(file)``)."""
        ...


class _PngSurface(Protocol):
    def write_to_png(self, target: BinaryIO) -> None: ...


def snapshot_name(name: str | None, when_s: float, index: int, *, name_max_bytes: int = _NAME_MAX_BYTES) -> str:
    """``name-2026-11-28T09.30.00-0.png`` for local time ``when_s`` (seconds since the epoch).

    The name is cut so that the file name and its work-in-progress name fit in ``name_max_bytes``.
    """
    stamp = time.strftime(TIME_FORMAT, time.localtime(when_s))
    prefix = ""
    if name:
        prefix = _clip(filename_safe(name), name_max_bytes - _WIP_EXTRA_BYTES - _STAMP_BYTES - 1) + "-"
    return f"{prefix}{stamp}-{index}.png"


def _clip(text: str, max_bytes: int) -> str:
    """``text`` cut at a character boundary to at most ``max_bytes`` in the file system's encoding."""
    text = text[: max(max_bytes, 0)]
    while len(os.fsencode(text)) > max_bytes:
        text = text[:-1]
    return text


class _FdSink:
    """A binary file for cairo's PNG writer: writes straight to an fd and keeps the first error.

    cairo calls ``write`` from C through a callback, where an exception would only be printed; so the error is
    kept and raised by :meth:`check` once cairo returns.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        if self.error is None:
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError as err:
                self.error = err
        return len(data)

    def check(self) -> None:
        if self.error is not None:
            raise self.error


class SnapshotWriter:
    """Writes numbered snapshots of one recording into ``directory``."""

    def __init__(
        self,
        directory: OutputDir,
        name: str | None,
        *,
        now_names: bool = False,
        wip_name: str | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.name = name
        self.now_names = now_names
        self.wip_name = wip_name
        self._wall_clock = wall_clock
        self._start_s = wall_clock()
        self._index = 0
        try:
            self._name_max_bytes = os.fpathconf(directory.fd, "PC_NAME_MAX")
        except (OSError, ValueError):
            self._name_max_bytes = _NAME_MAX_BYTES
        #: Paths written so far, oldest first.
        self.written: list[str] = []
        #: The chart's sample count at the latest snapshot (-1 before any).
        self.last_samples = -1

    def next_path(self) -> str:
        """The path the next snapshot will have (if no other file takes it first)."""
        return self.directory.join(self._free_name(self._when_s()))

    def _when_s(self) -> float:
        return self._wall_clock() if self.now_names else self._start_s

    def write(self, chart: PngSource) -> str:
        """Write the next snapshot of ``chart``; returns its path.  OSError propagates; no partial file remains.

        A failed snapshot still uses up its number, so the next one is not refused for the same name.
        """
        when_s = self._when_s()
        final = self._free_name(when_s)
        self._index += 1
        directory = self.directory
        fixed = self.wip_name is not None
        wip = self.wip_name if self.wip_name is not None else f".{final}.{os.getpid()}.WIP"
        try:
            fd = directory.create(wip, replace_own=fixed)
        except OSError as err:
            err.filename = directory.join(wip)
            raise
        try:
            try:
                sink = _FdSink(fd)
                cast(_PngSurface, chart.to_surface()).write_to_png(cast(BinaryIO, sink))
                sink.check()
                os.fsync(fd)
            finally:
                os.close(fd)
            while True:
                try:
                    directory.rename_new(wip, final)
                    break
                except FileExistsError:
                    final = self._free_name(when_s)  # another file took the name meanwhile
                    self._index += 1
        except BaseException:
            # Also on KeyboardInterrupt: a half-written temporary file is of no use to anyone.
            directory.remove(wip)
            raise
        directory.fsync()
        path = directory.join(final)
        self.written.append(path)
        self.last_samples = chart.samples
        return path

    def _free_name(self, when_s: float) -> str:
        # Never replace a PNG of another recording that started in the same second.
        while True:
            name = snapshot_name(self.name, when_s, self._index, name_max_bytes=self._name_max_bytes)
            if not self.directory.exists(name):
                return name
            self._index += 1
