# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one wait loop of the collection: read something until a condition holds or a deadline passes.

Every wait (a rollout becoming ready, the traffic leaving the canary, the SLOs recovering, a PostgreSQL recovery
reaching its target, a sandbox accepting connections) is a :class:`Poller`: read, judge, and either return, fail at once
(the judge raises), or sleep until the next read, never past the deadline; at the deadline the caller's ``timed_out``
builds the error with the last value read. :func:`read_once` is its do-nothing twin for check mode: one read, no wait,
nothing raised for a condition that does not hold yet. Clock and sleep are injectable, so tests run in no time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Generic, Optional, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Polled(Generic[T]):
    """The last value read, how many reads it took and how long, and whether the condition held."""

    value: T
    polls: int
    elapsed: float
    done: bool = True


class Poller:
    """Reads every ``interval`` seconds (or ``next_interval(elapsed)``) for at most ``timeout`` seconds."""

    # pylint: disable-next=too-many-arguments
    def __init__(self, *, timeout: float, interval: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, next_interval: Optional[Callable[[float], float]] = None) -> None:
        self.timeout = timeout
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._next_interval = next_interval

    def until(self, read: Callable[[], T], done: Callable[[T], bool], timed_out: Callable[[T, int, float], Exception]) -> Polled[T]:
        """``read()`` until ``done(value)``; ``done`` may raise to stop at once; ``timed_out(value, polls, elapsed)`` at the deadline."""
        started = self.clock()
        polls = 0
        while True:
            value = read()
            polls += 1
            elapsed = self.clock() - started
            if done(value):
                return Polled(value, polls, elapsed)
            remaining = self.timeout - elapsed
            if remaining <= 0:
                raise timed_out(value, polls, elapsed)
            pause = self._next_interval(elapsed) if self._next_interval else self.interval
            self.sleep(max(0.0, min(pause, remaining)))


def read_once(read: Callable[[], T], done: Callable[[T], bool]) -> Polled[T]:
    """The check-mode twin of :meth:`Poller.until`: one read, judged, no wait and no deadline."""
    value = read()
    return Polled(value, 1, 0.0, done(value))
