"""When to sample, and how many 1 px columns each sample covers.

Samples are due on a fixed grid of deadlines, ``interval`` apart.  A late sample covers every grid point it
passed, so the fractional lateness is carried forward instead of being rounded away: after any run of samples,
the columns drawn add up to the time elapsed, and the time axis of a chart never drifts.  After three
consecutive samples that came later than 1.5 intervals after the previous one, the rate steps down a preset.

The clock is injected (``time.monotonic`` by default), so tests drive a fake one and never sleep.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "BACKOFF_AFTER_LATE",
    "EPSILON_S",
    "LATE_FACTOR",
    "MAX_HZ",
    "MIN_HZ",
    "PRESETS_HZ",
    "SampleTiming",
    "Schedule",
]

PRESETS_HZ: tuple[float, ...] = (1.0, 10.0, 20.0, 40.0, 60.0)
MIN_HZ = 1.0
MAX_HZ = 1000.0
#: A sample this close to its deadline is on time (vwm's "close enough").
EPSILON_S = 0.001
#: A sample is late when it comes this many intervals or more after the previous one.
LATE_FACTOR = 1.5
#: This many late samples in a row make the rate step down one preset.
BACKOFF_AFTER_LATE = 3


@dataclass(frozen=True, slots=True)
class SampleTiming:
    """What a chart needs to know about one sample's place in time."""

    #: How many 1 px columns the sample covers (the same bars are repeated for missed deadlines); at least 1.
    columns: int = 1
    #: Lateness against the sample's deadline, in intervals: > 0 late, < 0 early, 0 within the epsilon.
    adherence: float = 0.0
    #: Seconds since the previous sample (the nominal interval for the first one), for rates like bytes/s.
    elapsed_s: float = 0.1


class Schedule:
    """A sampling rate with presets, pause, and automatic back-off, on an injectable clock."""

    def __init__(
        self, hertz: float = 10.0, clock: Callable[[], float] = time.monotonic, *, auto_backoff: bool = True
    ) -> None:
        self._clock = clock
        self._hertz = _checked_hertz(hertz)
        self._paused = False
        self._auto_backoff = auto_backoff
        self._deadline_s: float | None = None  # None: the next sample is due at once and starts a new grid
        self._last_sample_s: float | None = None
        self._late_run = 0
        self._rate_changed = False
        #: Times the rate was lowered because samples kept coming late.
        self.backoffs = 0
        #: The timing of the latest sample, for callbacks that run inside it.
        self.last_timing = SampleTiming(1, 0.0, 1.0 / self._hertz)

    # -- rate

    @property
    def hertz(self) -> float:
        """The configured rate (kept while paused)."""
        return self._hertz

    @property
    def interval_s(self) -> float:
        return 1.0 / self._hertz

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def display_hertz(self) -> int:
        """The rate for a heading, rounded; 0 while paused."""
        return 0 if self._paused else int(self._hertz + 0.5)

    def set_hertz(self, hertz: float) -> None:
        """Any rate from 1 to 1000 Hz; the grid restarts from the latest sample."""
        self._hertz = _checked_hertz(hertz)
        self._rate_changed = True
        if self._last_sample_s is not None and self._deadline_s is not None:
            self._deadline_s = self._last_sample_s + self.interval_s

    def rate_up(self) -> None:
        """The next preset faster than the current rate, if any."""
        faster = [hz for hz in PRESETS_HZ if hz > self._hertz]
        if faster:
            self.set_hertz(faster[0])

    def rate_down(self) -> None:
        """The next preset slower than the current rate; 1 Hz is the bottom."""
        slower = [hz for hz in PRESETS_HZ if hz < self._hertz]
        if slower:
            self.set_hertz(slower[-1])

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        """Sample at once; the paused time is not filled with columns."""
        if self._paused:
            self._paused = False
            self._deadline_s = None

    def toggle_pause(self) -> None:
        if self._paused:
            self.resume()
        else:
            self.pause()

    # -- timing

    def next_deadline(self) -> float | None:
        """Clock time the next sample is due; ``None`` while paused."""
        if self._paused:
            return None
        return self._deadline_s if self._deadline_s is not None else self._clock()

    def delay_s(self, now: float | None = None) -> float | None:
        """Seconds to wait before the next sample (0 when due); ``None`` (forever) while paused."""
        deadline = self.next_deadline()
        if deadline is None:
            return None
        now = self._clock() if now is None else now
        remaining = deadline - now
        return 0.0 if remaining <= EPSILON_S else remaining

    def due(self, now: float | None = None) -> bool:
        return self.delay_s(now) == 0.0

    def begin_sample(self, now: float | None = None) -> SampleTiming:
        """Record that a sample is taken now; returns its column count and adherence."""
        now = self._clock() if now is None else now
        interval = self.interval_s
        elapsed = interval if self._last_sample_s is None else now - self._last_sample_s
        if self._deadline_s is None:
            # First sample, or the first after a pause: one column, and a new grid from here.
            timing = SampleTiming(1, 0.0, elapsed)
            self._deadline_s = now + interval
        else:
            lateness = now - self._deadline_s
            missed = max(0, math.floor((lateness + EPSILON_S) / interval))
            self._deadline_s += (1 + missed) * interval
            adherence = 0.0 if abs(lateness) < EPSILON_S or self._rate_changed else lateness / interval
            timing = SampleTiming(1 + missed, adherence, elapsed)
            self._count_late(elapsed >= LATE_FACTOR * interval - EPSILON_S and not self._rate_changed)
        self._rate_changed = False
        self._last_sample_s = now
        self.last_timing = timing
        return timing

    def _count_late(self, late: bool) -> None:
        self._late_run = self._late_run + 1 if late else 0
        if self._auto_backoff and self._late_run >= BACKOFF_AFTER_LATE:
            self._late_run = 0
            before = self._hertz
            self.rate_down()
            if self._hertz != before:
                self.backoffs += 1


def _checked_hertz(hertz: float) -> float:
    if not MIN_HZ <= hertz <= MAX_HZ:
        raise ValueError(f"sampling rate must be {MIN_HZ:g} to {MAX_HZ:g} Hz, not {hertz:g}")
    return float(hertz)
