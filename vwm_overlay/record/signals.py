"""The recorder's signals, taken synchronously: blocked, then collected with ``sigtimedwait``.

The loop waits for the next signal with the time to its next due sample as the timeout, so a signal is handled the
moment it arrives, never after a whole interval (vwm's vmon can lag one), and nothing runs inside a handler: a
SIGINT can never interrupt a sample or a PNG write halfway.  ``sigtimedwait`` also says who sent a signal, which
tells a terminal's Ctrl-C (sent by the kernel to the whole foreground process group) from a ``kill``.

Every signal that would end the process ends the recording instead, as SIGTERM does, so the final PNG is written:
a closed terminal or a dropped ssh session (SIGHUP), SIGQUIT, a timer (SIGALRM), SIGUSR2, a CPU limit... Only the
faults a process raises on itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS) cannot wait, and SIGKILL
cannot be caught.  A signal that was ignored when the recorder started (``nohup``, a background job's SIGINT)
stays ignored, for the recorder and for the command.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from types import TracebackType

__all__ = ["ENDING_SIGNALS", "HANDLED_SIGNALS", "SI_KERNEL", "SignalWait", "handled_signals"]

#: Signals that end the recording as SIGTERM does (each by default ends the process); SIGINT is handled apart.
ENDING_SIGNALS: frozenset[int] = frozenset(
    {
        signal.SIGTERM,
        signal.SIGHUP,
        signal.SIGQUIT,
        signal.SIGABRT,
        signal.SIGUSR2,
        signal.SIGALRM,
        signal.SIGVTALRM,
        signal.SIGPROF,
        signal.SIGXCPU,
        signal.SIGPOLL,
        signal.SIGPWR,
        signal.SIGSTKFLT,
        *range(signal.SIGRTMIN, signal.SIGRTMAX + 1),
    }
)

#: The signals the recorder acts on.
HANDLED_SIGNALS: frozenset[int] = frozenset({signal.SIGINT, signal.SIGUSR1, signal.SIGCHLD, *ENDING_SIGNALS})

#: ``si_code`` of a signal the kernel generated, e.g. a terminal's SIGINT (``<asm-generic/siginfo.h>``).
SI_KERNEL = 0x80


def handled_signals() -> frozenset[int]:
    """:data:`HANDLED_SIGNALS` but those ignored now (as the recorder was started: ``nohup`` ignores SIGHUP)."""
    return frozenset(s for s in HANDLED_SIGNALS if signal.getsignal(s) != signal.SIG_IGN)


class SignalWait:
    """While entered, ``signals`` are blocked and arrive only through :meth:`wait`."""

    def __init__(self, signals: Iterable[int] = HANDLED_SIGNALS) -> None:
        self.signals = frozenset(signals)
        #: The mask before entering.
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
