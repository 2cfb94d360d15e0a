# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change windows: weekdays plus a local start and end time in an IANA time zone, and whether a moment falls inside one.

A window whose end is not after its start runs overnight: ``fri 22:00-02:00`` opens on Friday at 22:00 and closes on
Saturday at 02:00; an end equal to the start makes a 24-hour window. ``24:00`` ends a window at midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
except ImportError:  # Python < 3.9
    ZoneInfo = None  # type: ignore[assignment,misc]
    ZoneInfoNotFoundError = KeyError  # type: ignore[assignment,misc]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MINUTES_PER_DAY = 24 * 60
_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class Window:
    """A weekly window: the weekdays it opens on (0 = Monday), start and end in minutes after local midnight, the zone."""

    days: tuple[int, ...]
    start: int
    end: int
    zone: Any
    zone_name: str

    @property
    def length(self) -> timedelta:
        return timedelta(minutes=(self.end - self.start) % MINUTES_PER_DAY or MINUTES_PER_DAY)

    def describe(self) -> str:
        days = ",".join(DAYS[day] for day in self.days)
        return f"{days} {_clock(self.start)}-{_clock(self.end)} {self.zone_name}"

    def opening(self, day: datetime) -> datetime:
        """When the window opens on ``day``'s date, in the window's zone."""
        return datetime.combine(day.date(), time(self.start // 60, self.start % 60), tzinfo=self.zone)

    def check(self, now: datetime) -> dict[str, Any]:
        """Whether ``now`` (aware) is inside; when it is, when the window closes; else when it opens next."""
        local = now.astimezone(self.zone)
        current = None
        for days_back in (0, 1):
            day = local - timedelta(days=days_back)
            if day.weekday() in self.days:
                opens = self.opening(day)
                if opens <= local < opens + self.length:
                    current = opens
                    break
        result: dict[str, Any] = {"inside": current is not None, "now": local.isoformat(timespec="seconds"),
                                  "weekday": DAYS[local.weekday()], "window": self.describe(), "closes_at": None, "opens_at": None}
        if current is not None:
            result["closes_at"] = (current + self.length).isoformat(timespec="seconds")
        else:
            result["opens_at"] = self._next_opening(local).isoformat(timespec="seconds")
        return result

    def _next_opening(self, local: datetime) -> datetime:
        for days_ahead in range(8):
            day = local + timedelta(days=days_ahead)
            if day.weekday() in self.days and self.opening(day) > local:
                return self.opening(day)
        raise AssertionError("a window with at least one weekday opens within 8 days")


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}" if minutes < MINUTES_PER_DAY else "24:00"


def parse_clock(value: str, option: str) -> int:
    """``HH:MM`` (``24:00`` allowed) as minutes after midnight."""
    match = _CLOCK.match(str(value).strip())
    minutes = int(match.group(1)) * 60 + int(match.group(2)) if match else -1
    if not match or minutes > MINUTES_PER_DAY:
        raise InputError(f"{option} must be a time of day HH:MM, got '{value}'", option=option, accepted="00:00 to 24:00, such as 02:30")
    return minutes


def parse_days(days: Sequence[str]) -> tuple[int, ...]:
    """Weekday names (``mon`` or ``monday``, any case; ``all``, ``weekdays``, ``weekend``) as sorted numbers, Monday 0."""
    groups = {"all": range(7), "weekdays": range(5), "weekend": (5, 6)}
    found: set[int] = set()
    for name in days:
        key = str(name).strip().lower()
        if key in groups:
            found.update(groups[key])
        elif key in DAYS or key in DAY_NAMES:
            found.add(DAYS.index(key[:3]))
        else:
            raise InputError(f"'{name}' is not a weekday", option="days",
                             accepted=", ".join(DAYS) + " (or full names), all, weekdays, weekend")
    if not found:
        raise InputError("days is empty: the window would never open", option="days", accepted="one weekday or more, such as [tue, wed, thu]")
    return tuple(sorted(found))


def load_zone(name: str) -> Any:
    if ZoneInfo is None:
        if name.upper() == "UTC":
            return timezone.utc
        raise InputError("time zones other than UTC need Python 3.9 or later (zoneinfo)", option="timezone", accepted="UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"'{name}' is not a known IANA time zone", option="timezone",
                         accepted="an IANA time zone name such as UTC, Europe/Paris or America/New_York") from exc


def parse_window(days: Sequence[str], start: str, end: str, zone_name: str) -> Window:
    start_minutes, end_minutes = parse_clock(start, "start"), parse_clock(end, "end")
    if start_minutes == MINUTES_PER_DAY:
        raise InputError("start cannot be 24:00", option="start", accepted="00:00 to 23:59")
    return Window(parse_days(days), start_minutes, end_minutes, load_zone(zone_name), zone_name)
