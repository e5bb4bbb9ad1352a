"""A one-line progress display on a terminal: elapsed time, samples taken, tasks charted.

It rewrites its line in place at most a few times a second, and only when the stream is a terminal, so logs and
pipes never get carriage returns.
"""

from __future__ import annotations

import os
from typing import TextIO

__all__ = ["Progress"]

#: Redraws per second at most: faster than this only costs CPU and flickers.
REFRESH_HZ = 4.0


class Progress:
    """``record: 00:12.4  124 samples  37 tasks`` on ``stream``, if it is a terminal."""

    def __init__(self, stream: TextIO, *, enabled: bool | None = None) -> None:
        self._stream = stream
        self.enabled = _isatty(stream) if enabled is None else enabled
        self._next_s = 0.0
        self._shown = False

    def due(self, now_s: float) -> bool:
        return self.enabled and now_s >= self._next_s

    def delay_s(self, now_s: float) -> float | None:
        """Seconds until the next redraw is due; None when disabled."""
        return max(self._next_s - now_s, 0.0) if self.enabled else None

    def show(self, now_s: float, elapsed_s: float, samples: int, tasks: int) -> None:
        if not self.enabled:
            return
        self._next_s = now_s + 1.0 / REFRESH_HZ
        minutes, seconds = divmod(elapsed_s, 60.0)
        line = f"record: {int(minutes):02d}:{seconds:04.1f}  {samples} samples  {tasks} tasks"
        # \r to the line start, \x1b[K erases what a longer previous line left.
        self._write(f"\r{line}\x1b[K")
        self._shown = True

    def clear(self) -> None:
        """Erase the line, so what follows (an error, the shell prompt) starts clean."""
        if self._shown:
            self._write("\r\x1b[K")
            self._shown = False

    def _write(self, text: str) -> None:
        try:
            fileno = self._stream.fileno()
        except (OSError, AttributeError, ValueError):
            fileno = -1
        try:
            if fileno >= 0:
                # Straight to the terminal: a line left in a buffer would fail again as the interpreter exits.
                os.write(fileno, text.encode(errors="backslashreplace"))
            else:
                self._stream.write(text)
                self._stream.flush()
        except OSError:
            self.enabled = False  # a closed terminal must not end the recording
            self._shown = False


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
