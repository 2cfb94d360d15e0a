# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Statuspage client and the incident planning against a local fake Statuspage API served from a thread."""
from __future__ import annotations

import json
from typing import Any, Optional

import pytest
from unithelpers import STATUSPAGE_API_KEY, STATUSPAGE_PAGE, FakeClock, FakeStatuspage, Reply

from ansible_collections.ofm.rollback.plugins.module_utils.errors import AuthenticationError, DataError, InputError, NotFoundError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.statuspage import (
    IncidentRequest,
    StatuspageClient,
    apply_plan,
    changed_fields,
    component_ids,
    find_by_name,
    latest_body,
    plan_incident,
)


@pytest.fixture(name="clock")
def fixture_clock() -> FakeClock:
    return FakeClock()


def params(statuspage: FakeStatuspage, **overrides: Any) -> dict[str, Any]:
    return {"api_url": statuspage.api_url, "page_id": STATUSPAGE_PAGE, "api_key": STATUSPAGE_API_KEY, "validate_certs": True, "ca_path": None,
            "timeout": 5.0, "retries": 2, **overrides}


def client_for(statuspage: FakeStatuspage, clock: FakeClock, **overrides: Any):
    return StatuspageClient.from_params(params(statuspage, **overrides), sleep=clock.sleep)


def run(statuspage: FakeStatuspage, clock: FakeClock, **wanted: Any) -> tuple[str, Optional[dict[str, Any]]]:
    client = client_for(statuspage, clock)
    plan = plan_incident(client, IncidentRequest(**wanted))
    return plan.action, apply_plan(client, plan)


def test_create_sends_oauth_key_and_defaults_to_investigating(statuspage, clock):
    action, incident = run(statuspage, clock, name="Degraded publishing", impact_override="major", body="Rolling back")
    assert action == "create"
    get, create = statuspage.received
    assert get.method == "GET" and get.query == {"q": ["Degraded publishing"], "limit": ["100"]}
    assert (create.method, create.path) == ("POST", f"/v1/pages/{STATUSPAGE_PAGE}/incidents")
    assert create.headers["Authorization"] == f"OAuth {STATUSPAGE_API_KEY}"
    assert create.body == {"incident": {"name": "Degraded publishing", "status": "investigating", "impact_override": "major",
                                        "body": "Rolling back", "deliver_notifications": True}}
    assert incident["id"] == "inc001" and incident["status"] == "investigating"


def test_second_run_by_name_updates_instead_of_duplicating(statuspage, clock):
    run(statuspage, clock, name="Degraded publishing", body="Rolling back")
    action, incident = run(statuspage, clock, name="Degraded publishing", status="monitoring", body="Rolled back")
    assert action == "update"
    assert len(statuspage.incidents) == 1
    patch = statuspage.writes()[-1]
    assert (patch.method, patch.path) == ("PATCH", f"/v1/pages/{STATUSPAGE_PAGE}/incidents/inc001")
    assert patch.body == {"incident": {"status": "monitoring", "body": "Rolled back", "deliver_notifications": True}}
    assert incident["status"] == "monitoring" and latest_body(incident) == "Rolled back"


def test_identical_run_sends_nothing(statuspage, clock):
    run(statuspage, clock, name="Degraded publishing", status="identified", impact_override="minor", body="Cause found")
    writes = len(statuspage.writes())
    action, incident = run(statuspage, clock, name="Degraded publishing", status="identified", impact_override="minor", body="Cause found")
    assert action == "none"
    assert len(statuspage.writes()) == writes
    assert incident["id"] == "inc001"


def test_resolving_twice_changes_nothing_the_second_time(statuspage, clock):
    statuspage.add("Degraded publishing", "monitoring", "Watching")
    assert run(statuspage, clock, name="Degraded publishing", status="resolved", body="Fixed")[0] == "update"
    assert run(statuspage, clock, name="Degraded publishing", status="resolved", body="Fixed")[0] == "none"
    assert len(statuspage.incidents) == 1


def test_a_resolved_namesake_is_not_reopened(statuspage, clock):
    statuspage.add("Degraded publishing", "resolved", "Fixed last week")
    action, incident = run(statuspage, clock, name="Degraded publishing", status="investigating", body="Again")
    assert action == "create"
    assert incident["id"] == "inc002"
    assert statuspage.incidents["inc001"]["status"] == "resolved"


def test_update_by_id_reads_that_incident_and_renames_it(statuspage, clock):
    statuspage.add("Old title", "identified", "Cause found")
    action, incident = run(statuspage, clock, incident_id="inc001", name="New title")
    assert action == "update"
    assert [(request.method, request.path_only) for request in statuspage.received] == [
        ("GET", f"/v1/pages/{STATUSPAGE_PAGE}/incidents/inc001"), ("PATCH", f"/v1/pages/{STATUSPAGE_PAGE}/incidents/inc001")]
    assert statuspage.received[1].body == {"incident": {"name": "New title", "deliver_notifications": True}}
    assert incident["name"] == "New title"


def test_several_unresolved_namesakes_update_the_newest_with_a_warning():
    incidents = [{"id": "new", "name": "Outage", "status": "identified"}, {"id": "old", "name": "Outage", "status": "investigating"},
                 {"id": "other", "name": "Outage 2", "status": "investigating"}]
    found, warnings = find_by_name(incidents, "Outage", "monitoring")
    assert found["id"] == "new"
    assert warnings == ["Statuspage: 2 unresolved incidents are named 'Outage'; the newest (new) is used. Pass incident_id to pick another."]


CURRENT = {"id": "i1", "name": "Outage", "status": "identified", "impact": "major", "impact_override": None,
           "components": [{"id": "c1"}, {"id": "c2"}],
           "incident_updates": [{"body": "older", "created_at": "2025-01-01T00:00:01Z"}, {"body": "Cause found", "created_at": "2025-01-01T00:00:09Z"}]}


@pytest.mark.parametrize("wanted, expected", [
    ({"status": "identified", "impact_override": "major", "body": "Cause found", "component_ids": ["c2", "c1"]}, {}),
    ({"body": " Cause found\n"}, {}),
    ({"status": "monitoring"}, {"status": "monitoring", "deliver_notifications": True}),
    ({"status": "monitoring", "body": "Cause found"}, {"status": "monitoring", "body": "Cause found", "deliver_notifications": True}),
    ({"impact_override": "minor", "deliver_notifications": False}, {"impact_override": "minor", "deliver_notifications": False}),
    ({"component_ids": ["c1"]}, {"component_ids": ["c1"], "deliver_notifications": True}),
    ({"body": "New details"}, {"body": "New details", "deliver_notifications": True}),
])
def test_changed_fields_sends_only_differences(wanted, expected):
    assert changed_fields(CURRENT, IncidentRequest(**wanted)) == expected


def test_latest_body_and_component_ids_read_either_shape():
    assert latest_body(CURRENT) == "Cause found"
    assert latest_body({"incident_updates": []}) == ""
    assert component_ids(CURRENT) == ["c1", "c2"]
    assert component_ids({"component_ids": ["x"], "components": [{"id": "c1"}]}) == ["x"]


def test_diff_shows_before_and_after(statuspage, clock):
    statuspage.add("Outage", "identified", "Cause found", impact="major")
    plan = plan_incident(client_for(statuspage, clock), IncidentRequest(name="Outage", status="resolved", body="Fixed"))
    assert plan.diff() == {"before": {"name": "Outage", "status": "identified", "impact": "major", "body": "Cause found"},
                           "after": {"name": "Outage", "status": "resolved", "impact": "major", "body": "Fixed"}}
    create = plan_incident(client_for(statuspage, clock), IncidentRequest(name="Another"))
    assert create.diff() == {"before": {}, "after": {"name": "Another", "status": "investigating", "impact": "none", "body": ""}}


def test_wrong_key_is_an_authentication_error_without_the_key(statuspage, clock):
    wrong = "sp-wrong-key-5150"
    client = client_for(statuspage, clock, api_key=wrong)
    with pytest.raises(AuthenticationError) as caught:
        plan_incident(client, IncidentRequest(name="Outage"))
    assert statuspage.received[0].headers["Authorization"] == f"OAuth {wrong}"
    assert "HTTP 401: Could not authenticate" in str(caught.value)
    assert wrong not in json.dumps([str(caught.value), caught.value.fields(), client.http.requests])


def test_create_is_not_retried_after_500(statuspage, clock):
    client = client_for(statuspage, clock, retries=3)
    plan = plan_incident(client, IncidentRequest(name="Outage"))
    statuspage.script(Reply(500, {"error": "boom"}))
    with pytest.raises(UnavailableError) as caught:
        apply_plan(client, plan)
    assert len(statuspage.writes()) == 1
    assert clock.sleeps == []
    assert "may have reached the server" in str(caught.value)


def test_create_is_retried_after_429(statuspage, clock):
    client = client_for(statuspage, clock)
    plan = plan_incident(client, IncidentRequest(name="Outage"))
    statuspage.script(Reply(429, {"error": "Rate limited"}, {"Retry-After": "2"}))
    assert apply_plan(client, plan)["name"] == "Outage"
    assert clock.sleeps == [2.0]
    assert [(request.method, request.path) for request in statuspage.writes()] == [("POST", f"/v1/pages/{STATUSPAGE_PAGE}/incidents")] * 2
    assert len(statuspage.incidents) == 1


def test_patch_is_retried_after_429(statuspage, clock):
    statuspage.add("Outage")
    client = client_for(statuspage, clock)
    plan = plan_incident(client, IncidentRequest(name="Outage", status="monitoring"))
    statuspage.script(Reply(429, {"error": "Rate limited"}, {"Retry-After": "1"}))
    assert apply_plan(client, plan)["status"] == "monitoring"
    assert clock.sleeps == [1.0]
    assert [entry["status"] for entry in client.http.requests] == [200, 429, 200]


def test_list_is_retried_after_503(statuspage, clock):
    statuspage.script(Reply(503, {"error": "unavailable"}))
    plan = plan_incident(client_for(statuspage, clock), IncidentRequest(name="Outage"))
    assert plan.action == "create"
    assert [request.method for request in statuspage.received] == ["GET", "GET"]


def test_unexpected_answer_is_a_data_error(statuspage, clock):
    statuspage.script(Reply(200, {"incidents": []}))
    with pytest.raises(DataError) as caught:
        plan_incident(client_for(statuspage, clock), IncidentRequest(name="Outage"))
    assert "expected a list of incidents" in str(caught.value)


@pytest.mark.parametrize("overrides, option", [({"api_key": None}, "api_key"), ({"page_id": ""}, "page_id"),
                                               ({"api_url": "api.statuspage.io"}, "api_url")])
def test_missing_settings_name_the_option(statuspage, clock, overrides, option):
    with pytest.raises(InputError) as caught:
        client_for(statuspage, clock, **overrides)
    assert caught.value.option == option


def test_a_bad_api_url_shows_a_statuspage_example(statuspage, clock):
    with pytest.raises(InputError) as caught:
        client_for(statuspage, clock, api_url="api.statuspage.io/v1")
    assert caught.value.accepted == "a URL such as https://api.statuspage.io/v1"


def test_an_incident_needs_an_id_or_a_name(statuspage, clock):
    with pytest.raises(InputError) as caught:
        plan_incident(client_for(statuspage, clock), IncidentRequest(status="resolved"))
    assert caught.value.option == "name"
    assert statuspage.received == []


def test_unknown_incident_id_is_not_found(statuspage, clock):
    with pytest.raises(NotFoundError) as caught:
        plan_incident(client_for(statuspage, clock), IncidentRequest(incident_id="nope", status="resolved"))
    assert caught.value.status == 404
    assert statuspage.writes() == []
