"""Saving a chart as a PNG file: a fresh name in the output directory, written atomically."""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

import cairocffi

from .chart import Chart

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
    and renamed.  Raises :class:`OSError`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / chart_file_name(name, pid, time.time())
    fd, temporary = tempfile.mkstemp(prefix=".", suffix=".png.part", dir=directory)
    os.close(fd)
    try:
        try:
            chart.write_png(temporary)
        except cairocffi.CairoError as err:
            raise OSError(f"cannot write {path.name}: {err}") from err
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    return path
