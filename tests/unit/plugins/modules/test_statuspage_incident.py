# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""statuspage_incident's main() against the local fake Statuspage of unithelpers."""
from __future__ import annotations
import pytest

import json
from typing import Any

from unithelpers import STATUSPAGE_API_KEY, STATUSPAGE_PAGE, FakeStatuspage, Reply, documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import http_client
from ansible_collections.ofm.rollback.plugins.modules import statuspage_incident

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")


def args(statuspage: FakeStatuspage, **overrides: Any) -> dict[str, Any]:
    return {"api_url": statuspage.api_url, "page_id": STATUSPAGE_PAGE, "api_key": STATUSPAGE_API_KEY, "name": "Degraded publishing (INC-1234)", **overrides}


def run(statuspage: FakeStatuspage, check_mode: bool = False, **overrides: Any) -> tuple[bool, dict[str, Any], list[str]]:
    return run_module(statuspage_incident, args(statuspage, **overrides), check_mode=check_mode)


def test_create_update_resolve_and_rerun(statuspage):
    failed, created, _warnings = run(statuspage, status="investigating", impact_override="major", body="Rolling back")
    assert not failed
    assert created["changed"] is True and created["delivered"] is True and created["action"] == "create"
    assert created["incident"]["id"] == "inc001" and created["incident"]["shortlink"] == "https://stspg.io/inc001"
    assert created["diff"]["before"] == {}

    _failed, updated, _warnings = run(statuspage, status="monitoring", body="Rolled back; watching")
    assert updated["action"] == "update" and updated["incident"]["id"] == "inc001"
    assert updated["sent"] == {"status": "monitoring", "body": "Rolled back; watching", "deliver_notifications": True}
    assert updated["diff"]["before"]["status"] == "investigating" and updated["diff"]["after"]["status"] == "monitoring"

    _failed, resolved, _warnings = run(statuspage, status="resolved", impact_override="none", body="Fixed")
    assert resolved["changed"] is True and resolved["incident"]["status"] == "resolved"

    writes = len(statuspage.writes())
    _failed, again, _warnings = run(statuspage, status="resolved", impact_override="none", body="Fixed")
    assert again["changed"] is False and again["action"] == "none" and again["delivered"] is True
    assert again["sent"] == {}
    assert again["msg"] == "Statuspage: incident 'Degraded publishing (INC-1234)' is already up to date."
    assert len(statuspage.writes()) == writes
    assert list(statuspage.incidents) == ["inc001"]


def test_check_mode_reads_but_does_not_write(statuspage):
    failed, result, _warnings = run(statuspage, check_mode=True, status="identified", body="Cause found")
    assert not failed
    assert result["changed"] is True and result["delivered"] is False and result["action"] == "create"
    assert result["incident"] is None
    assert result["sent"] == {"name": "Degraded publishing (INC-1234)", "status": "identified", "body": "Cause found",
                              "deliver_notifications": True}
    assert result["diff"]["after"]["status"] == "identified"
    assert [request.method for request in statuspage.received] == ["GET"]
    assert statuspage.incidents == {}


def test_check_mode_of_an_applied_change_is_delivered(statuspage):
    statuspage.add("Degraded publishing (INC-1234)", "identified", "Cause found")
    _failed, result, _warnings = run(statuspage, check_mode=True, status="identified", body="Cause found")
    assert result["changed"] is False and result["delivered"] is True and result["incident"]["id"] == "inc001"


def test_bad_key_warns_by_default(statuspage):
    wrong = "sp-wrong-key-0bad"
    failed, result, warnings = run(statuspage, api_key=wrong, status="investigating")
    assert not failed
    assert result["changed"] is False and result["delivered"] is False
    assert result["error"]["type"] == "AuthenticationError" and result["error"]["status"] == 401
    assert len(warnings) == 1 and warnings[0].startswith("Statuspage: GET /v1/pages/unitpage01/incidents on ")
    assert warnings[0].endswith("the play goes on because required=false.")
    assert wrong not in json.dumps([result, warnings])


def test_bad_key_fails_when_required(statuspage):
    wrong = "sp-wrong-key-0bad"
    failed, result, warnings = run(statuspage, api_key=wrong, required=True)
    assert failed and warnings == []
    assert result["delivered"] is False and "HTTP 401: Could not authenticate" in result["msg"]
    assert wrong not in json.dumps(result)


def test_server_error_on_create_is_reported_once(statuspage):
    statuspage.script(Reply(200, []), Reply(502, {"error": "Bad gateway"}))
    failed, result, warnings = run(statuspage, retries=3)
    assert not failed and result["delivered"] is False
    assert len(statuspage.writes()) == 1
    assert result["error"]["status"] == 502
    assert "may have reached the server" in warnings[0]


def test_missing_key_warns_without_a_request(statuspage):
    failed, result, warnings = run(statuspage, api_key=None)
    assert not failed and result["delivered"] is False
    assert result["error"]["option"] == "api_key"
    assert "STATUSPAGE_API_KEY" in warnings[0]
    assert statuspage.received == [] and result["requests"] == []


def test_settings_from_the_environment(statuspage, monkeypatch):
    monkeypatch.setenv("STATUSPAGE_API_KEY", STATUSPAGE_API_KEY)
    monkeypatch.setenv("STATUSPAGE_PAGE_ID", STATUSPAGE_PAGE)
    failed, result, _warnings = run_module(statuspage_incident, {"api_url": statuspage.api_url, "name": "From env"})
    assert not failed and result["action"] == "create"
    assert statuspage.received[-1].headers["Authorization"] == f"OAuth {STATUSPAGE_API_KEY}"
    assert STATUSPAGE_API_KEY not in json.dumps(result)


def test_needs_a_name_or_an_id(statuspage):
    failed, result, _warnings = run_module(statuspage_incident, {"api_url": statuspage.api_url, "page_id": STATUSPAGE_PAGE, "api_key": STATUSPAGE_API_KEY})
    assert failed and "one of the following is required: incident_id, name" in result["msg"]


def test_docs_match_the_argument_spec():
    assert mismatches(statuspage_incident.ARGUMENT_SPEC, documented_options(statuspage_incident, http_client)) == []
