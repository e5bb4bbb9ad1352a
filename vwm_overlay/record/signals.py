"""The recorder's signals, taken synchronously: blocked, then collected with ``sigtimedwait``.

The loop waits for the next signal with the time to its next due sample as the timeout, so a signal is handled the
moment it arrives, never after a whole interval (vwm's vmon can lag one), and nothing runs inside a handler: a
SIGINT can never interrupt a sample or a PNG write halfway.  ``sigtimedwait`` also says who sent a signal, which
tells a terminal's Ctrl-C (sent by the kernel to the whole foreground process group) from a ``kill``.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from types import TracebackType

__all__ = ["HANDLED_SIGNALS", "SI_KERNEL", "SignalWait"]

#: The signals the recorder acts on.
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGCHLD)

#: ``si_code`` of a signal the kernel generated, e.g. a terminal's SIGINT (``<asm-generic/siginfo.h>``).
SI_KERNEL = 0x80


class SignalWait:
    """While entered, ``signals`` are blocked and arrive only through :meth:`wait`."""

    def __init__(self, signals: Iterable[signal.Signals] = HANDLED_SIGNALS) -> None:
        self.signals = frozenset(signals)
        #: The mask before entering: what a forked child restores before exec.
        self.previous_mask: set[int] = set()

    def __enter__(self) -> SignalWait:
        self.previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, self.signals)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, self.previous_mask)

    def wait(self, timeout_s: float | None) -> list[signal.struct_siginfo]:
        """The signals pending now, or the first to arrive within ``timeout_s`` (None: no limit); [] if none."""
        if timeout_s is None:
            first: signal.struct_siginfo | None = signal.sigwaitinfo(self.signals)
        else:
            first = signal.sigtimedwait(self.signals, max(timeout_s, 0.0))
        received = []
        while first is not None:
            received.append(first)
            first = signal.sigtimedwait(self.signals, 0)
        return received
