# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""alertmanager_alerts_info against a local fake Alertmanager API v2: firing, none, silenced and inhibited, the filters sent,
down or malformed (unknown or fail as asked), credentials never in the output, and bad input naming the option."""
from __future__ import annotations

import base64
import json
import socket
import time

import pytest
from unithelpers import FakeService, Received, Reply, run_module

from ansible_collections.ofm.rollback.plugins.module_utils.alertmanager import parse_time
from ansible_collections.ofm.rollback.plugins.modules import alertmanager_alerts_info

pytestmark = pytest.mark.usefixtures("module_runner")
TOKEN = "am-token-SECRET-5e6f7a"
PASSWORD = "am-pass-SECRET-1b2c"


def alert(name, severity="page", starts="2026-12-04T14:57:11.020123456Z", silenced=(), inhibited=(), **labels):
    return {"labels": {"alertname": name, "service": "ofm-social-os", "severity": severity, **labels},
            "annotations": {"summary": f"{name} summary"}, "startsAt": starts, "endsAt": "2026-12-04T16:00:00Z",
            "fingerprint": f"fp-{name}", "receivers": [{"name": "null"}], "updatedAt": starts,
            "status": {"state": "suppressed" if silenced or inhibited else "active", "silencedBy": list(silenced),
                       "inhibitedBy": list(inhibited)}}


class FakeAlertmanager(FakeService):
    """GET /api/v2/alerts answering its ``alerts`` (Alertmanager itself applies the filters; the tests check what was sent)."""

    def __init__(self, alerts=()):
        self.alerts = list(alerts)
        super().__init__()

    def answer(self, request: Received) -> Reply:
        if request.method == "GET" and request.path_only == "/api/v2/alerts":
            return Reply(200, self.alerts)
        return Reply(404, "not found")


@pytest.fixture(name="alertmanager")
def fixture_alertmanager():
    service = FakeAlertmanager()
    yield service
    service.close()


def test_firing_alerts_fail_the_check_with_name_severity_and_since(alertmanager):
    alertmanager.alerts = [alert("OfmErrorBudgetBurn", slo="error_rate", version="canary"),
                           alert("OfmOlder", severity="ticket", starts="2026-12-04T09:57:11-05:00"),
                           alert("OfmMuted", silenced=["silence-1"])]
    failed, result, _warnings = run_module(alertmanager_alerts_info, {"alertmanager_url": alertmanager.url})
    assert not failed and result["changed"] is False
    assert result["status"] == "failed" and result["failed_checks"] == ["alerts"]
    assert [item["name"] for item in result["alerts"]] == ["OfmOlder", "OfmErrorBudgetBurn"], "oldest first, the silenced one left out"
    newest = result["alerts"][1]
    assert newest["severity"] == "page" and newest["since"] == "2026-12-04T14:57:11Z" and newest["labels"]["slo"] == "error_rate"
    assert result["alerts"][0]["since"] == "2026-12-04T14:57:11Z", "an offset is converted, the zone kept"
    detail = result["checks"][0]["detail"]
    assert detail.startswith('2 alert(s) firing for service="ofm-social-os": OfmOlder (ticket) since 2026-12-04T14:57:11Z')
    assert "OfmErrorBudgetBurn (page; slo=error_rate, version=canary) since 2026-12-04T14:57:11Z" in detail
    assert detail.endswith("(1 silenced not counted)") and "OfmMuted" not in detail
    sent = alertmanager.received[-1]
    assert sent.query["filter"] == ['service="ofm-social-os"']
    assert {key: sent.query[key] for key in ("active", "silenced", "inhibited")} == {"active": ["true"], "silenced": ["true"], "inhibited": ["true"]}


def test_silenced_and_inhibited_count_when_asked(alertmanager):
    alertmanager.alerts = [alert("OfmMuted", silenced=["s1"]), alert("OfmInhibited", inhibited=["fp-x"])]
    _failed, default, _warnings = run_module(alertmanager_alerts_info, {"alertmanager_url": alertmanager.url})
    assert default["status"] == "ok" and default["alerts"] == []
    assert default["checks"][0]["detail"] == 'no alert firing for service="ofm-social-os" (1 silenced and 1 inhibited not counted)'
    _failed, silenced, _warnings = run_module(alertmanager_alerts_info, {"alertmanager_url": alertmanager.url, "include_silenced": True})
    assert silenced["status"] == "failed" and [item["name"] for item in silenced["alerts"]] == ["OfmMuted"]
    every = {"alertmanager_url": alertmanager.url, "include_silenced": True, "include_inhibited": True}
    _failed, both, _warnings = run_module(alertmanager_alerts_info, every)
    assert sorted(item["name"] for item in both["alerts"]) == ["OfmInhibited", "OfmMuted"]


def test_no_alert_passes_and_the_matchers_are_sent_as_filters(alertmanager):
    matchers = ['service="ofm-social-os"', 'severity=~"page|critical"', "env!=staging"]
    args = {"alertmanager_url": alertmanager.url + "/", "matchers": matchers}
    failed, result, _warnings = run_module(alertmanager_alerts_info, args, check_mode=True)
    assert not failed and result["status"] == "ok" and result["alerts"] == []
    assert result["matchers"] == ['service="ofm-social-os"', 'severity=~"page|critical"', 'env!="staging"']
    assert alertmanager.received[-1].query["filter"] == result["matchers"]
    assert 'no alert firing for service="ofm-social-os", severity=~"page|critical", env!="staging"' in result["msg"]


def test_many_alerts_are_listed_up_to_five(alertmanager):
    alertmanager.alerts = [alert(f"OfmAlert{number}", starts=f"2026-12-04T14:0{number}:00Z") for number in range(8)]
    _failed, result, _warnings = run_module(alertmanager_alerts_info, {"alertmanager_url": alertmanager.url})
    assert len(result["alerts"]) == 8 and result["checks"][0]["data"]["firing"] == 8
    assert "OfmAlert4" in result["msg"] and "OfmAlert5" not in result["msg"] and "and 3 more" in result["msg"]


@pytest.mark.parametrize("auth, expected", [
    ({"alertmanager_token": TOKEN}, f"Bearer {TOKEN}"),
    ({"alertmanager_username": "ofm", "alertmanager_password": PASSWORD}, "Basic " + base64.b64encode(f"ofm:{PASSWORD}".encode()).decode()),
])
def test_credentials_are_sent_and_never_in_the_output(alertmanager, auth, expected):
    secret = auth.get("alertmanager_token") or auth["alertmanager_password"]
    alertmanager.alerts = [alert("OfmLeaky", debug=f"sent {secret}")]
    alertmanager.alerts[0]["annotations"]["summary"] = f"echo {secret}"
    _failed, result, _warnings = run_module(alertmanager_alerts_info, {"alertmanager_url": alertmanager.url, **auth})
    assert alertmanager.received[-1].headers["Authorization"] == expected
    assert result["status"] == "failed" and "OfmLeaky" in result["msg"] and secret not in json.dumps(result)
    alertmanager.script(Reply(401, f"bad credentials {secret}"))
    failed, refused, _warnings = run_module(alertmanager_alerts_info, {"alertmanager_url": alertmanager.url, "retries": 0, **auth})
    assert failed and "401" in refused["msg"]
    assert TOKEN not in json.dumps(refused) and PASSWORD not in json.dumps(refused)


def test_server_errors_are_unknown_or_fail_as_asked(alertmanager):
    alertmanager.script(*[Reply(503, "unavailable")] * 4)
    args = {"alertmanager_url": alertmanager.url, "unavailable_is": "unknown", "retries": 1}
    failed, result, _warnings = run_module(alertmanager_alerts_info, args)
    assert not failed and result["status"] == "unknown" and result["unknown_checks"] == ["alerts"] and result["alerts"] == []
    assert "Alertmanager could not be asked" in result["msg"] and "503" in result["msg"]
    alertmanager.script(*[Reply(503, "unavailable")] * 4)
    failed, result, _warnings = run_module(alertmanager_alerts_info, {"alertmanager_url": alertmanager.url, "retries": 1})
    assert failed and "503" in result["msg"]


def test_an_answer_that_is_not_alerts_is_unknown(alertmanager):
    alertmanager.script(Reply(200, {"status": "success", "data": []}))
    _failed, result, _warnings = run_module(alertmanager_alerts_info, {"alertmanager_url": alertmanager.url, "unavailable_is": "unknown"})
    assert result["status"] == "unknown" and "expected a list of alerts" in result["msg"]
    assert "alertmanager_url points at Alertmanager" in result["msg"] or "alertmanager_url" in json.dumps(result)


def test_a_listener_that_never_answers_is_unknown():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        started = time.monotonic()
        args = {"alertmanager_url": f"http://127.0.0.1:{silent.getsockname()[1]}", "unavailable_is": "unknown", "timeout": 0.5, "retries": 0}
        failed, result, _warnings = run_module(alertmanager_alerts_info, args)
    assert not failed and result["status"] == "unknown" and time.monotonic() - started < 10


@pytest.mark.parametrize("args, option", [
    ({"alertmanager_url": "ftp://alertmanager"}, "alertmanager_url"),
    ({"matchers": ["service"]}, "matchers"),
    ({"matchers": ['severity=~"(page"']}, "matchers"),
    ({"matchers": ['1service="x"']}, "matchers"),
    ({"timeout": 0}, "timeout"),
    ({"unavailable_is": "ok"}, "unavailable_is"),
    ({"alertmanager_token": TOKEN, "alertmanager_username": "ofm", "alertmanager_password": PASSWORD}, "alertmanager_token"),
    ({"alertmanager_username": "ofm"}, "alertmanager_password"),
])
def test_bad_input_names_the_option_before_anything_is_sent(alertmanager, args, option):
    failed, result, _warnings = run_module(alertmanager_alerts_info, {"alertmanager_url": alertmanager.url, **args})
    assert failed and option in result["msg"], result["msg"]
    assert alertmanager.received == []
    assert TOKEN not in json.dumps(result) and PASSWORD not in json.dumps(result)


def test_alertmanager_times_parse_with_any_fraction_and_offset():
    assert parse_time("2026-12-04T14:57:11Z") == parse_time("2026-12-04T09:57:11-05:00") == parse_time("2026-12-04T16:57:11+02:00")
    assert parse_time("2026-12-04T14:57:11.5Z") - parse_time("2026-12-04T14:57:11Z") == pytest.approx(0.5)
    assert parse_time("2026-12-04T14:57:11.020123456Z") - parse_time("2026-12-04T14:57:11Z") == pytest.approx(0.020123456, abs=1e-5)
    assert parse_time("0001-01-01T00:00:00Z") is not None and parse_time("yesterday") is None and parse_time(None) is None
