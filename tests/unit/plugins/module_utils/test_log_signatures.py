# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Signature normalization, line parsing and the baseline/current split of the application log."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.ofm.rollback.plugins.module_utils import log_signatures as logs
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError
from ansible_collections.ofm.rollback.plugins.module_utils.zoned_time import instant

ERRORS = frozenset({"error", "fatal"})


@pytest.mark.parametrize("message, expected", [
    ("PublishTimeoutError: platform tiktok did not answer in 30 s (job 8812)",
     "PublishTimeoutError: platform tiktok did not answer in <n> s (job <n>)"),
    ("UpstreamError: post store at 10.0.3.17:5432 answered 'connection reset' after 553 ms",
     "UpstreamError: post store at <ip> answered <str> after <n> ms"),
    ("CdnSigningError: signing key kid-4411 rejected for media 12345 (request 0b9d6c1e-6a43-4a5e-9c8f-2f1d0a6c7b11)",
     "CdnSigningError: signing key kid-<n> rejected for media <n> (request <uuid>)"),
    ('TokenExpired: token for "creator_12" expired at 2026-03-01T10:00:00+01:00, user ana@ofm.social',
     "TokenExpired: token for <str> expired at <time>, user <email>"),
    ("PublishTimeoutError: job 3f9a0c2e77b14d0e9a1b2c3d4e5f6a7b failed at 10:02:11.120 from [fe80::1]:8080 ptr 0x7ffd",
     "PublishTimeoutError: job <hex> failed at <time> from <ip> ptr <hex>"),
    ("  Error:   two\tspaces  ", "Error: two spaces"),
])
def test_signature_replaces_what_varies(message, expected):
    assert logs.signature(message) == expected


def test_two_occurrences_of_one_error_share_a_signature_and_different_errors_do_not():
    first = logs.signature("PublishTimeoutError: platform x did not answer in 30 s (job 1)")
    assert first == logs.signature("PublishTimeoutError: platform x did not answer in 45 s (job 77123)")
    assert first != logs.signature("PublishTimeoutError: platform tiktok did not answer in 30 s (job 1)")
    # Words with digits in them (versions, names) are not numbers.
    assert logs.signature("http2 stream reset by s3") == "http2 stream reset by s3"


@pytest.mark.parametrize("line, level, message, time", [
    ('2026-03-01T10:00:01.500+01:00 ERROR version=canary route=/api/posts status=500 msg="request error" '
     'error="UpstreamError: said \\"no\\" after 3 ms"', "error", 'UpstreamError: said "no" after 3 ms', "2026-03-01T09:00:01.500+00:00"),
    ('2026-03-01T09:00:02Z INFO version=stable route=/api/posts status=200 msg="request completed"', "info", "request completed",
     "2026-03-01T09:00:02+00:00"),
    ("2026-03-01 09:00:03,250 [WARNING]: disk almost full", "warn", "disk almost full", "2026-03-01T09:00:03.250000+00:00"),
    ('{"level": 50, "time": 1772355604000, "msg": "publish failed", "err": {"type": "PublishTimeoutError", "message": "no answer"}}',
     "error", "PublishTimeoutError: no answer", "2026-03-01T09:00:04+00:00"),
    ('{"level": "fatal", "timestamp": "2026-03-01T09:00:05+00:00", "message": "out of memory"}', "fatal", "out of memory",
     "2026-03-01T09:00:05+00:00"),
])
def test_parse_line_reads_text_logfmt_and_json(line, level, message, time):
    parsed = logs.parse_line(line)
    assert (parsed.level, parsed.message) == (level, message)
    assert parsed.time == datetime.fromisoformat(time)


def test_lines_without_a_time_are_not_log_lines():
    assert logs.parse_line("    at Object.<anonymous> (/app/server.js:10:5)") is None
    assert logs.parse_line("") is None


def test_a_time_without_offset_is_read_in_the_log_timezone():
    berlin = instant("2026-03-01T10:00:00+01:00", "since").tzinfo
    parsed = logs.parse_line("2026-03-01T10:00:00 ERROR boom", zone=berlin)
    assert parsed.time == datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def line(minute: float, level: str, error: str, offset: str = "+00:00") -> str:
    """A lab-style line at ``minute`` after T0, written in the zone of ``offset``."""
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    delta = timedelta(hours=hours, minutes=minutes) * (1 if offset[0] == "+" else -1)
    moment = (T0 + timedelta(minutes=minute)).astimezone(timezone(delta))
    return f'{moment.isoformat(timespec="milliseconds")} {level} version=canary route=/api/posts msg="x" error="{error}"'


def test_baseline_and_current_split_on_zoned_times():
    # One log written by hosts in three zones; the windows are given in a fourth. Only the lines' instants count.
    lines = [
        line(1, "ERROR", "KnownError: retry 1 of 3", "+05:30"),             # baseline
        line(5, "ERROR", "IncidentError: during the rollback 7", "-08:00"),  # between the windows: neither
        line(11, "INFO", "ok", "+01:00"),                                    # current, not an error
        line(12, "ERROR", "KnownError: retry 2 of 3", "+01:00"),             # current, known
        line(13, "ERROR", "NewError: job 17 lost", "-08:00"),                # current, new
        line(14, "ERROR", "NewError: job 18 lost", "+05:30"),                # current, new (same signature)
        line(15, "WARN", "SlowWarning: 3 s", "+00:00"),                      # current, level not wanted
    ]
    since = instant("2026-03-01T04:10:00-05:00", "since")          # T0 + 10 min
    until = instant("2026-03-01T10:04:00+01:00", "baseline_until")  # T0 + 4 min
    analysis = logs.analyse(lines, since, until, ERRORS)
    assert (analysis.lines_read, analysis.baseline_lines, analysis.current_lines) == (7, 1, 5)
    assert [(seen.signature, seen.count) for seen in analysis.new] == [("NewError: job <n> lost", 2)]
    assert analysis.new[0].first_seen == T0 + timedelta(minutes=13) and "job 17" in analysis.new[0].example
    check = logs.judge(analysis, ERRORS)
    assert check.status == "failed" and "1 new error/fatal signature(s)" in check.detail and "NewError: job <n> lost (x2)" in check.detail
    # The incident's own error is in neither window; had the baseline run up to the current window, it would be known.
    assert logs.judge(logs.analyse(lines, since, since, ERRORS), ERRORS).status == "failed"
    assert "IncidentError: during the rollback <n>" in logs.analyse(lines, since, since, ERRORS).baseline


def test_known_signatures_only_pass_and_ignore_leaves_out_matches():
    lines = [line(1, "ERROR", "KnownError: retry 1 of 3"), line(11, "ERROR", "KnownError: retry 3 of 3"),
             line(12, "ERROR", "ClientAbortError: socket 4 closed")]
    since = T0 + timedelta(minutes=10)
    assert logs.judge(logs.analyse(lines, since, since, ERRORS), ERRORS).status == "failed"
    ignored = logs.analyse(lines, since, since, ERRORS, logs.checked_ignore(["^ClientAbort"]))
    check = logs.judge(ignored, ERRORS)
    assert (check.status, ignored.ignored) == ("ok", 1)
    assert "1 error/fatal signature(s) in 2 current line(s), all seen in the baseline" == check.detail


def test_no_current_line_is_unknown_and_no_baseline_cannot_call_a_signature_new():
    since = T0 + timedelta(minutes=10)
    old = [line(1, "ERROR", "KnownError: retry 1 of 3")]
    check = logs.judge(logs.analyse(old, since, since, ERRORS), ERRORS)
    assert check.status == "unknown" and "no log line at or after 2026-03-01T09:10:00+00:00" in check.detail
    recent = [line(11, "ERROR", "NewError: job 1 lost")]
    check = logs.judge(logs.analyse(recent, since, since, ERRORS), ERRORS)
    assert check.status == "unknown" and "no baseline line before" in check.detail and "read more lines" in check.detail
    quiet = [line(11, "INFO", "fine")]
    assert logs.judge(logs.analyse(quiet, since, since, ERRORS), ERRORS).status == "ok"


def test_windows_default_to_the_last_window_and_refuse_a_baseline_after_since():
    now = T0 + timedelta(hours=1)
    assert logs.windows(now, 600, None, None) == (now - timedelta(minutes=10), now - timedelta(minutes=10))
    with pytest.raises(InputError) as raised:
        logs.windows(now, 600, T0, T0 + timedelta(minutes=1))
    assert raised.value.option == "baseline_until"


@pytest.mark.parametrize("params, option", [
    ({"levels": ["error", "loud"]}, "levels"),
    ({"levels": []}, "levels"),
    ({"ignore": ["(unclosed"]}, "ignore"),
    ({"lines": 0}, "lines"),
    ({"lines": 10001}, "lines"),
    ({"since": "yesterday-ish"}, "since"),
    ({"baseline_until": "2026-13-01T00:00:00Z"}, "baseline_until"),
    ({"window": "ten minutes"}, "window"),
    ({"log_timezone": "Mars/Olympus"}, "log_timezone"),
    ({"unavailable_is": "ok"}, "unavailable_is"),
])
def test_bad_options_name_the_option(params, option):
    with pytest.raises(InputError) as raised:
        logs.Options.from_params({"lines": 2000, **params})
    assert raised.value.option == option and raised.value.accepted


def test_levels_accept_aliases_and_pino_numbers():
    assert logs.checked_levels(["warning", "CRITICAL", 50]) == frozenset({"warn", "fatal", "error"})
