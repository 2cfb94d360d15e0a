# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change windows: weekdays, overnight windows, time zones with daylight saving time, and bad input."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils.change_window import parse_window
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_inside_and_outside_a_daytime_window():
    window = parse_window(["tue", "Wednesday"], "02:00", "05:00", "UTC")
    inside = window.check(utc(2025, 5, 7, 4, 59))          # a Wednesday
    assert (inside["inside"], inside["closes_at"], inside["opens_at"]) == (True, "2025-05-07T05:00:00+00:00", None)
    after = window.check(utc(2025, 5, 7, 5, 0))
    assert (after["inside"], after["opens_at"]) == (False, "2025-05-13T02:00:00+00:00")
    assert window.check(utc(2025, 5, 8, 3, 0))["inside"] is False   # a Thursday
    assert window.describe() == "tue,wed 02:00-05:00 UTC"


def test_overnight_window_belongs_to_the_day_it_opens():
    window = parse_window(["fri"], "22:00", "02:00", "UTC")
    assert window.check(utc(2025, 5, 10, 1, 30))["inside"] is True    # Saturday 01:30, opened Friday
    assert window.check(utc(2025, 5, 11, 1, 30))["inside"] is False   # Sunday 01:30: Saturday opens nothing
    assert window.check(utc(2025, 5, 9, 21, 59))["opens_at"] == "2025-05-09T22:00:00+00:00"


def test_time_zone_and_daylight_saving():
    window = parse_window(["all"], "02:00", "05:00", "Europe/Paris")
    summer = window.check(utc(2025, 7, 1, 1, 30))    # 03:30 CEST
    winter = window.check(utc(2025, 1, 7, 1, 30))    # 02:30 CET
    assert summer["inside"] and summer["now"] == "2025-07-01T03:30:00+02:00"
    assert winter["inside"] and winter["now"] == "2025-01-07T02:30:00+01:00"
    assert window.check(utc(2025, 7, 1, 3, 0))["inside"] is False    # 05:00 CEST


def test_whole_day_windows():
    assert parse_window(["weekend"], "00:00", "24:00", "UTC").check(utc(2025, 5, 11, 23, 59))["inside"] is True
    assert parse_window(["weekend"], "00:00", "24:00", "UTC").check(utc(2025, 5, 12, 0, 0))["inside"] is False
    assert parse_window(["mon"], "08:00", "08:00", "UTC").check(utc(2025, 5, 13, 7, 59))["inside"] is True


@pytest.mark.parametrize("args, option", [
    ((["funday"], "02:00", "05:00", "UTC"), "days"),
    (([], "02:00", "05:00", "UTC"), "days"),
    ((["mon"], "2h", "05:00", "UTC"), "start"),
    ((["mon"], "02:00", "24:01", "UTC"), "end"),
    ((["mon"], "24:00", "05:00", "UTC"), "start"),
    ((["mon"], "02:00", "05:00", "Mars/Olympus"), "timezone"),
])
def test_bad_input_names_the_option(args, option):
    with pytest.raises(InputError) as caught:
        parse_window(*args)
    assert caught.value.option == option
    assert "Accepted" in str(caught.value)
