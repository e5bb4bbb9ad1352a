"""Saving a chart as a PNG file: a fresh name in the output directory, written atomically."""

from __future__ import annotations

import errno
import os
import re
import tempfile
import time
from pathlib import Path

import cairocffi

from ..chart import Chart

__all__ = ["chart_file_name", "save_chart"]

_UNSAFE = re.compile(r"[^\w.+-]+")  # letters of any script are kept: a title is often not English
#: Long window titles would make unwieldy file names.
_MAX_NAME_CHARS = 40


def chart_file_name(name: str | None, pid: int | None, when_s: float) -> str:
    """``TITLE-PID-YYYYmmdd-HHMMSS-mmm.png`` with the title reduced to safe characters."""
    stem = _UNSAFE.sub("_", name or "").strip("._-")[:_MAX_NAME_CHARS] or "window"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when_s))
    millis = int(when_s * 1000) % 1000
    return f"{stem}-{pid if pid is not None else 'nopid'}-{stamp}-{millis:03d}.png"


def save_chart(chart: Chart, directory: Path, name: str | None, pid: int | None) -> Path:
    """Write ``chart`` to a new PNG file in ``directory`` (created if needed) and return its path.

    The file appears whole or not at all: it is written under a temporary name
    and renamed.  The PNG goes through the descriptor that created the temporary
    file (``O_EXCL``, mode 0600), never reopened by name: in a directory where
    others may write, a name swapped for a symlink meanwhile is never written
    through.  Raises :class:`OSError`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / chart_file_name(name, pid, time.time())
    fd, temporary = tempfile.mkstemp(prefix=".", suffix=".png.part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                chart.to_surface().write_to_png(out)
            except cairocffi.CairoError as err:
                raise OSError(f"cannot write {path.name}: {err}") from err
            out.flush()
            # Only what we wrote gets the final name: not whatever another user put under the temporary one.
            mine, named = os.fstat(out.fileno()), os.stat(temporary, follow_symlinks=False)
            if (mine.st_dev, mine.st_ino) != (named.st_dev, named.st_ino):
                raise OSError(errno.EEXIST, f"{temporary} was replaced by someone else while being written")
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    return path
