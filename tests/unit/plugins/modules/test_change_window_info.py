# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""change_window_info's main(): the clock against windows that hold now or cannot."""
from __future__ import annotations
import pytest

from datetime import datetime, timedelta, timezone

from unithelpers import documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.modules import change_window_info

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")


def test_a_window_around_now_is_inside_and_one_tomorrow_is_not():
    now = datetime.now(timezone.utc)
    today, tomorrow = now.strftime("%a").lower(), (now + timedelta(days=1)).strftime("%a").lower()
    failed, inside, _warnings = run_module(change_window_info, {"days": [today, tomorrow], "start": "00:00", "end": "24:00"})
    assert not failed and inside["inside"] is True and inside["changed"] is False
    failed, outside, _warnings = run_module(change_window_info, {"days": [tomorrow], "start": "00:00", "end": "24:00"}, check_mode=True)
    assert not failed and outside["inside"] is False
    assert outside["opens_at"].startswith((now + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00"))
    assert "outside, it opens next at" in outside["msg"]


def test_bad_time_zone_names_the_option():
    failed, result, _warnings = run_module(change_window_info, {"days": ["mon"], "start": "02:00", "end": "05:00", "timezone": "Nowhere/Land"})
    assert failed and result["error"]["option"] == "timezone"


def test_documentation_matches_the_argument_spec():
    assert mismatches(change_window_info.ARGUMENT_SPEC, documented_options(change_window_info)) == []
