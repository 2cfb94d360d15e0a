# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""statuspage_incident_info against the local fake Statuspage: open, resolved, never opened, down, and no key in the output."""
from __future__ import annotations

import json
import socket

import pytest
from unithelpers import STATUSPAGE_API_KEY, STATUSPAGE_PAGE, Reply, run_module

from ansible_collections.ofm.rollback.plugins.modules import statuspage_incident, statuspage_incident_info

pytestmark = pytest.mark.usefixtures("module_runner")
NAME = "Degraded performance of the OFM API (INC-77)"


def base(api_url: str, **overrides):
    return {"api_url": api_url, "page_id": STATUSPAGE_PAGE, "api_key": STATUSPAGE_API_KEY, **overrides}


def test_open_then_resolved_and_never_opened(statuspage):
    run_module(statuspage_incident, base(statuspage.api_url, name=NAME, status="investigating", body="Rolling back"))
    failed, opened, _warnings = run_module(statuspage_incident_info, base(statuspage.api_url, name=NAME))
    assert not failed and opened["changed"] is False
    assert opened["status"] == "failed" and opened["failed_checks"] == ["incident"]
    assert "still investigating" in opened["checks"][0]["detail"] and opened["incident"]["status"] == "investigating"

    run_module(statuspage_incident, base(statuspage.api_url, name=NAME, status="resolved", body="Fixed"))
    _failed, resolved, _warnings = run_module(statuspage_incident_info, base(statuspage.api_url, incident_id=opened["incident"]["id"]))
    assert resolved["status"] == "ok" and "is resolved" in resolved["msg"]

    _failed, none, _warnings = run_module(statuspage_incident_info, base(statuspage.api_url, name="Another incident (INC-78)"))
    assert none["status"] == "ok" and none["incident"] is None and "none was opened" in none["checks"][0]["detail"]
    assert STATUSPAGE_API_KEY not in json.dumps([opened, resolved, none])


def test_server_errors_are_unknown_or_fail_as_asked(statuspage):
    statuspage.script(*[Reply(503, {"error": "maintenance"})] * 6)
    failed, result, _warnings = run_module(statuspage_incident_info, base(statuspage.api_url, name=NAME, unavailable_is="unknown", retries=1))
    assert not failed and result["status"] == "unknown" and result["unknown_checks"] == ["incident"]
    assert "Statuspage could not be asked" in result["msg"]
    statuspage.script(*[Reply(503, {"error": "maintenance"})] * 6)
    failed, result, _warnings = run_module(statuspage_incident_info, base(statuspage.api_url, name=NAME, retries=1))
    assert failed and "503" in result["msg"]


def test_a_listener_that_never_answers_is_unknown():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        failed, result, _warnings = run_module(statuspage_incident_info, base(url, name=NAME, unavailable_is="unknown", timeout=0.5, retries=0))
    assert not failed and result["status"] == "unknown"


def test_bad_input_names_the_option(statuspage):
    failed, result, _warnings = run_module(statuspage_incident_info, base("ftp://status", name=NAME))
    assert failed and "api_url" in result["msg"]
    failed, result, _warnings = run_module(statuspage_incident_info, base(statuspage.api_url, name=NAME, incident_id="x"))
    assert failed and "mutually exclusive" in result["msg"]
