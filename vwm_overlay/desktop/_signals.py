"""Signals that end the overlay program: promptly, and within a bounded time even when the cleanup hangs."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence
from types import FrameType, TracebackType

__all__ = ["SignalPipe", "quit_now"]


def quit_now(asked_again: bool) -> None:
    """Exit without the cleanup: it overran its time (an X server that stopped answering), or a second signal
    came (``asked_again``: the user, or a ``timeout`` that signals twice, will not wait for it)."""
    why = b"asked again to quit" if asked_again else b"the X server did not answer in time"
    os.write(2, b"vwm-overlay: " + why + b"; quit without cleaning up\n")
    os._exit(0)


class SignalPipe:
    """Makes the given signals end the loop: the handler notes the signal, the wakeup fd ends the ``select``.

    With ``grace_s``, the first signal also starts a timer: when the program has not ended ``grace_s`` later, or
    at a second signal, ``on_overdue(second_signal)`` is called (from the signal handler), and should end the
    process.
    """

    def __init__(
        self,
        signals: Sequence[signal.Signals],
        *,
        grace_s: float | None = None,
        on_overdue: Callable[[bool], None] | None = None,
    ) -> None:
        self.signals = tuple(signals)
        self.received: int | None = None
        self.grace_s = grace_s
        self.on_overdue = on_overdue
        self._read_fd = self._write_fd = -1
        self._old_wakeup_fd = -1
        self._old_handlers: dict[signal.Signals, Callable[[int, FrameType | None], object] | int | None] = {}

    def __enter__(self) -> SignalPipe:
        self._read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._old_wakeup_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for signum in self.signals:
            self._old_handlers[signum] = signal.signal(signum, self._on_signal)
        if self.grace_s is not None:
            self._old_handlers[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.grace_s is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._old_wakeup_fd)
        os.close(self._read_fd)
        os.close(self._write_fd)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None and self.grace_s is not None:
            self._overdue(True)  # asked twice: the user will not wait for the cleanup
        self.received = signum
        if self.grace_s is not None:
            signal.setitimer(signal.ITIMER_REAL, self.grace_s)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            self._overdue(False)

    def _overdue(self, second_signal: bool) -> None:
        if self.on_overdue is not None:
            self.on_overdue(second_signal)

    def caught(self) -> int | None:
        """The signal that arrived, if any."""
        return self.received

    def fileno(self) -> int:
        return self._read_fd

    def drain(self) -> None:
        try:
            while os.read(self._read_fd, 512):
                pass
        except BlockingIOError:
            pass
