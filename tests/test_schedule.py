"""The sampling schedule, on a fake clock: presets, pause, back-off, and a time axis that never drifts."""

from __future__ import annotations

import pytest

from vwm_overlay.schedule import EPSILON_S, PRESETS_HZ, Schedule


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_sample_is_due_at_once_and_covers_one_column() -> None:
    clock = FakeClock()
    schedule = Schedule(10.0, clock)
    assert schedule.due()
    timing = schedule.begin_sample()
    assert (timing.columns, timing.adherence) == (1, 0.0)
    assert timing.elapsed_s == pytest.approx(0.1)
    assert schedule.next_deadline() == pytest.approx(1000.1)


def test_due_within_the_epsilon() -> None:
    clock = FakeClock()
    schedule = Schedule(10.0, clock)
    schedule.begin_sample()
    clock.now += 0.1 - 2 * EPSILON_S
    assert not schedule.due()
    assert schedule.delay_s() == pytest.approx(2 * EPSILON_S)
    clock.now += EPSILON_S * 1.5
    assert schedule.due()
    assert schedule.delay_s() == 0.0
    timing = schedule.begin_sample()
    assert (timing.columns, timing.adherence) == (1, 0.0)


def test_presets_up_and_down() -> None:
    schedule = Schedule(10.0, FakeClock())
    seen = []
    for _ in range(5):
        schedule.rate_up()
        seen.append(schedule.hertz)
    assert seen == [20.0, 40.0, 60.0, 60.0, 60.0]
    seen = []
    for _ in range(5):
        schedule.rate_down()
        seen.append(schedule.hertz)
    assert seen == [40.0, 20.0, 10.0, 1.0, 1.0]
    assert PRESETS_HZ == (1.0, 10.0, 20.0, 40.0, 60.0)
    schedule.set_hertz(15)
    schedule.rate_up()
    assert schedule.hertz == 20.0


@pytest.mark.parametrize("hertz", [0, 0.5, 1000.5, 5000])
def test_hertz_out_of_range_is_refused(hertz: float) -> None:
    with pytest.raises(ValueError, match="1 to 1000 Hz"):
        Schedule(hertz, FakeClock())


def test_any_rate_from_1_to_1000_hz() -> None:
    schedule = Schedule(1, FakeClock())
    schedule.set_hertz(1000)
    assert schedule.interval_s == pytest.approx(0.001)
    assert schedule.display_hertz == 1000


def test_late_samples_carry_their_fraction_so_the_axis_never_drifts() -> None:
    clock = FakeClock()
    schedule = Schedule(10.0, clock, auto_backoff=False)
    start = clock.now
    schedule.begin_sample()
    columns = 1
    for _ in range(1000):
        clock.now += 0.137  # always 37% late
        timing = schedule.begin_sample()
        assert timing.columns >= 1
        columns += timing.columns
    # vwm's round(elapsed / interval) would give 1 column per sample here: 1001 columns for 137 s.
    assert columns == pytest.approx((clock.now - start) / 0.1 + 1, abs=1)


def test_a_missed_deadline_repeats_columns_and_reports_lateness() -> None:
    clock = FakeClock()
    schedule = Schedule(10.0, clock)
    schedule.begin_sample()
    clock.now += 0.35
    timing = schedule.begin_sample()
    assert timing.columns == 3
    assert timing.adherence == pytest.approx(2.5)
    assert timing.elapsed_s == pytest.approx(0.35)
    # Back on the grid: the next deadline is 0.4 s after the first sample.
    assert schedule.next_deadline() == pytest.approx(1000.4)


def test_backoff_after_three_consecutive_late_samples() -> None:
    clock = FakeClock()
    schedule = Schedule(40.0, clock)
    schedule.begin_sample()
    for _ in range(2):
        clock.now += 0.025 * 1.6
        schedule.begin_sample()
    clock.now += 0.025  # on time: the run of late samples is broken
    schedule.begin_sample()
    for _ in range(2):
        clock.now += 0.025 * 1.6
        schedule.begin_sample()
    assert schedule.hertz == 40.0
    clock.now += 0.025 * 1.6
    schedule.begin_sample()
    assert schedule.hertz == 20.0
    assert schedule.backoffs == 1


def test_pause_and_resume_without_filling_the_gap() -> None:
    clock = FakeClock()
    schedule = Schedule(10.0, clock)
    schedule.begin_sample()
    schedule.pause()
    assert schedule.paused
    assert schedule.display_hertz == 0
    assert schedule.hertz == 10.0
    assert schedule.next_deadline() is None
    assert schedule.delay_s() is None
    clock.now += 100.0
    assert not schedule.due()
    schedule.resume()
    assert schedule.due()
    timing = schedule.begin_sample()
    assert timing.columns == 1
    assert timing.adherence == 0.0
    assert timing.elapsed_s == pytest.approx(100.0), "rates still see the real elapsed time"
    schedule.toggle_pause()
    assert schedule.paused


def test_a_rate_change_restarts_the_grid_from_the_last_sample() -> None:
    clock = FakeClock()
    schedule = Schedule(1.0, clock)
    schedule.begin_sample()
    clock.now += 0.5
    schedule.set_hertz(10)
    assert schedule.due()
    timing = schedule.begin_sample()
    assert timing.columns == 5, "half a second at 10 Hz"
    assert timing.adherence == 0.0
    assert schedule.last_timing is timing
