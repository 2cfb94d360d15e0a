# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""zoned_time: a typed time read in the zone the person meant, daylight-saving refusals, the shell's zone, the CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ansible_collections.ofm.rollback.plugins.filter.zoned_time import zoned_time
from ansible_collections.ofm.rollback.plugins.module_utils import zoned_time as zt
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible.errors import AnsibleFilterError


@pytest.mark.parametrize("text, zone, utc, display", [
    ("2026-12-03 12:28:39", "America/New_York", datetime(2026, 12, 3, 17, 28, 39, tzinfo=timezone.utc),
     "2026-12-03 12:28:39 America/New_York (-05:00) = 2026-12-03 17:28:39 UTC"),
    ("2026-12-03 12:28:39", "Asia/Kolkata", datetime(2026, 12, 3, 6, 58, 39, tzinfo=timezone.utc),
     "2026-12-03 12:28:39 Asia/Kolkata (+05:30) = 2026-12-03 06:58:39 UTC"),
    ("2026-07-01T12:00:00.25", ":Europe/Berlin", datetime(2026, 7, 1, 10, 0, 0, 250000, tzinfo=timezone.utc),
     "2026-07-01 12:00:00.250000 Europe/Berlin (+02:00) = 2026-07-01 10:00:00.250000 UTC"),
    ("2026-12-03 12:28:39+01:00", "America/New_York", datetime(2026, 12, 3, 11, 28, 39, tzinfo=timezone.utc),
     "2026-12-03 12:28:39+01:00 (offset given) = 2026-12-03 11:28:39 UTC"),
    ("2026-12-03 12:28:39Z", "Asia/Tokyo", datetime(2026, 12, 3, 12, 28, 39, tzinfo=timezone.utc),
     "2026-12-03 12:28:39+00:00 (offset given) = 2026-12-03 12:28:39 UTC"),
    ("2026-12-03 12:28:39", "", datetime(2026, 12, 3, 12, 28, 39, tzinfo=timezone.utc),
     "2026-12-03 12:28:39 UTC (+00:00) = 2026-12-03 12:28:39 UTC"),
])
def test_a_time_is_read_in_its_zone_unless_it_has_an_offset(text, zone, utc, display):
    moment = zt.zoned(text, zone)
    assert moment.utc == utc
    assert moment.display() == display
    assert moment.offset_given is ("+" in text or text.endswith("Z"))


@pytest.mark.parametrize("text, zone, fragment, candidates", [
    ("2026-11-01 01:30:00", "America/New_York", "is ambiguous in America/New_York",
     ("2026-11-01 01:30:00-04:00 = 2026-11-01 05:30:00 UTC", "2026-11-01 01:30:00-05:00 = 2026-11-01 06:30:00 UTC")),
    ("2026-10-25 02:30:00", "Europe/Berlin", "is ambiguous in Europe/Berlin",
     ("2026-10-25 02:30:00+02:00 = 2026-10-25 00:30:00 UTC", "2026-10-25 02:30:00+01:00 = 2026-10-25 01:30:00 UTC")),
    ("2026-03-08 02:30:00", "America/New_York", "does not exist in America/New_York",
     ("= 2026-03-08 06:30:00 UTC", "= 2026-03-08 07:30:00 UTC")),
    ("2026-03-29 02:30:00", "Europe/Berlin", "does not exist in Europe/Berlin",
     ("= 2026-03-29 00:30:00 UTC", "= 2026-03-29 01:30:00 UTC")),
])
def test_a_time_the_zone_shows_twice_or_skips_is_refused_with_both_instants(text, zone, fragment, candidates):
    with pytest.raises(InputError) as caught:
        zt.zoned(text, zone, option="--pitr-target")
    assert fragment in caught.value.reason
    assert all(candidate in caught.value.reason for candidate in candidates)
    assert caught.value.option == "--pitr-target" and "offset" in str(caught.value.accepted)


@pytest.mark.parametrize("text, zone, option", [("yesterday", "UTC", "target"), ("2026-12-03 12:00:00", "Mars/Olympus", "timezone"),
                                                ("2026-12-03 12:00:00", "EST+5", "timezone"), ("2026-12-03 12:00:00", "/etc/passwd", "timezone")])
def test_bad_input_names_the_option(text, zone, option):
    with pytest.raises(InputError) as caught:
        zt.zoned(text, zone)
    assert caught.value.option == option


def test_the_shell_zone_is_tz_else_the_system_zone_else_utc(tmp_path: Path):
    zoneinfo = tmp_path / "zoneinfo" / "Europe"
    zoneinfo.mkdir(parents=True)
    (zoneinfo / "Berlin").write_bytes(b"TZif")
    localtime, timezone_file = tmp_path / "localtime", tmp_path / "timezone"
    assert zt.shell_zone({"TZ": "America/New_York"}, localtime, timezone_file) == "America/New_York"
    assert zt.shell_zone({"TZ": ":Asia/Tokyo"}, localtime, timezone_file) == "Asia/Tokyo"
    assert zt.shell_zone({"TZ": ""}, localtime, timezone_file) == "UTC"
    assert zt.shell_zone({}, localtime, timezone_file) == "UTC"
    timezone_file.write_text("Asia/Kolkata\n")
    assert zt.shell_zone({}, localtime, timezone_file) == "Asia/Kolkata"
    localtime.symlink_to(zoneinfo / "Berlin")
    assert zt.shell_zone({}, localtime, timezone_file) == "Europe/Berlin"


def test_the_script_prints_the_zone_and_the_line_or_exits_2():
    script = Path(__file__).resolve().parents[4] / "scripts" / "zoned_time.py"
    done = subprocess.run([sys.executable, str(script), "2026-12-03 12:28:39"], env={**os.environ, "TZ": "America/New_York"}, capture_output=True,
                          text=True, check=False)
    assert done.stdout.splitlines() == ["America/New_York", "2026-12-03 12:28:39 America/New_York (-05:00) = 2026-12-03 17:28:39 UTC"]
    refused = subprocess.run([sys.executable, str(script), "--zone", "Europe/Berlin", "2026-03-29 02:30:00"], capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "does not exist in Europe/Berlin" in refused.stderr and not refused.stdout


def test_the_filter_returns_both_readings_and_fails_as_ansible_does():
    value = zoned_time("2026-12-03 12:28:39", "America/New_York", "db_pitr_target")
    assert value["local"] == "2026-12-03T12:28:39-05:00" and value["utc"] == "2026-12-03T17:28:39+00:00"
    assert value["zone"] == "America/New_York" and value["offset_given"] is False
    with pytest.raises(AnsibleFilterError, match="db_pitr_target.*is ambiguous"):
        zoned_time("2026-11-01 01:30:00", "America/New_York", "db_pitr_target")
