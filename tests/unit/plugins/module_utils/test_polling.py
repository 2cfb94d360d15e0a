# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one wait loop: returns when the condition holds, stops at once when the judge raises, never sleeps past the deadline,
builds the timeout error from the last value; its check-mode twin reads once and waits for nothing."""
from __future__ import annotations

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.polling import Poller, read_once


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def reader(values):
    values = iter(values)
    return lambda: next(values)


def test_returns_the_first_value_that_holds_with_the_reads_and_the_time_it_took():
    time = FakeTime()
    polled = Poller(timeout=10, interval=2, clock=time.clock, sleep=time.sleep).until(reader([1, 2, 3, 4]), lambda v: v == 3, None)
    assert (polled.value, polled.polls, polled.elapsed, polled.done) == (3, 3, 4.0, True)
    assert time.sleeps == [2, 2]


def test_at_the_deadline_the_error_is_built_from_the_last_value_and_no_sleep_passes_the_deadline():
    time = FakeTime()
    seen = []

    def timed_out(value, polls, elapsed):
        seen.append((value, polls, elapsed))
        return TimeoutError(f"last {value}")

    with pytest.raises(TimeoutError, match="last 3"):
        Poller(timeout=5, interval=2, clock=time.clock, sleep=time.sleep).until(reader(range(10)), lambda v: False, timed_out)
    assert time.sleeps == [2, 2, 1], "the last sleep is cut to the deadline, then one more read"
    assert seen == [(3, 4, 5.0)]


def test_a_judge_that_raises_stops_the_wait_at_once():
    time = FakeTime()

    def judge(value):
        if value == 2:
            raise RuntimeError("rollout failed")
        return False

    with pytest.raises(RuntimeError, match="rollout failed"):
        Poller(timeout=60, interval=1, clock=time.clock, sleep=time.sleep).until(reader([1, 2, 3]), judge, None)
    assert time.sleeps == [1]


def test_the_interval_may_grow_with_the_time_waited():
    time = FakeTime()
    poller = Poller(timeout=100, interval=1, clock=time.clock, sleep=time.sleep, next_interval=lambda elapsed: max(1.0, elapsed / 2))
    poller.until(reader(range(10)), lambda v: v == 4, None)
    assert time.sleeps == [1.0, 1.0, 1.0, 1.5]


def test_the_check_mode_twin_reads_once_and_waits_for_nothing():
    polled = read_once(reader([7, 8]), lambda v: v == 8)
    assert (polled.value, polled.polls, polled.elapsed, polled.done) == (7, 1, 0.0, False)
