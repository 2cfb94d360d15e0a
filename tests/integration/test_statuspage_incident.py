"""ofm.rollback.statuspage_incident run by the real `ansible` against the lab's Statuspage stand-in."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from labtest import AnsibleRun, Secrets, lab_call, run_module, run_play, stand_in_messages, tls

# Reads or changes the lab's shared state: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab

NAME = "Degraded publishing (INC-4242)"


@pytest.fixture(name="page_env")
def fixture_page_env(secrets: Secrets) -> Secrets:
    return Secrets(STATUSPAGE_API_KEY=secrets["statuspage_api_key"], STATUSPAGE_PAGE_ID=secrets["statuspage_page_id"])


def incident(workdir: Path, statuspage: str, page_env: Secrets, *, check: bool = False, **args: Any) -> AnsibleRun:
    return run_module("statuspage_incident", {"api_url": statuspage + "/v1", "name": NAME, **tls(), **args}, workdir, env=page_env, check=check)


def task(statuspage: str, register: str, **args: Any) -> dict[str, Any]:
    return {"name": register, "register": register, "ofm.rollback.statuspage_incident": {"api_url": statuspage + "/v1", "name": NAME, **tls(), **args}}


def open_incident(statuspage: str, page_env: Secrets) -> str:
    """Create an incident straight through the stand-in's API; return its ID."""
    created = lab_call(f"{statuspage}/v1/pages/{page_env['STATUSPAGE_PAGE_ID']}/incidents", "POST",
                       {"incident": {"name": NAME, "status": "identified", "body": "Cause found"}},
                       {"Authorization": f"OAuth {page_env['STATUSPAGE_API_KEY']}"})
    return created["id"]


def test_create_update_by_name_resolve_then_nothing(statuspage, page_env, tmp_path):
    resolve = {"status": "resolved", "impact_override": "none", "body": "Publishing is back to normal"}
    play = run_play([
        task(statuspage, "created", status="investigating", impact_override="major", body="Rolling back the release"),
        task(statuspage, "updated", status="monitoring", body="Rolled back; watching error rates"),
        task(statuspage, "resolved", **resolve),
        task(statuspage, "again", **resolve),
    ], tmp_path, page_env, diff=True)
    assert play.rc == 0, play.output
    created, updated, resolved, again = (play.result[name] for name in ("created", "updated", "resolved", "again"))
    assert created["changed"] is True and created["action"] == "create" and created["delivered"] is True
    incident_id = created["incident"]["id"]
    assert created["incident"]["shortlink"].startswith("https://stspg.io/")
    assert updated["action"] == "update" and updated["incident"]["id"] == incident_id
    assert updated["sent"] == {"status": "monitoring", "body": "Rolled back; watching error rates", "deliver_notifications": True}
    assert '-    "status": "investigating"' in play.output and '+    "status": "monitoring"' in play.output
    assert resolved["changed"] is True and resolved["incident"]["status"] == "resolved" and resolved["incident"]["resolved_at"]
    assert again["changed"] is False and again["action"] == "none" and again["delivered"] is True

    records = stand_in_messages(statuspage)
    assert [record["kind"] for record in records] == ["incident.create", "incident.update", "incident.update"]
    assert {record["incident_id"] for record in records} == {incident_id}
    assert records[-1]["incident"]["status"] == "resolved" and records[-1]["incident"]["impact"] == "none"
    assert page_env["STATUSPAGE_API_KEY"] not in play.output


def test_check_mode_writes_nothing(statuspage, page_env, tmp_path):
    run = incident(tmp_path, statuspage, page_env, check=True, status="investigating", body="Preview")
    assert run.rc == 0, run.output
    assert run.result["changed"] is True and run.result["delivered"] is False and run.result["action"] == "create"
    assert stand_in_messages(statuspage) == []


def test_bad_key_warns_and_changes_nothing(statuspage, page_env, tmp_path):
    bad_key = "0123456789abcdef0123456789abcdef"
    run = incident(tmp_path, statuspage, Secrets(page_env, STATUSPAGE_API_KEY=bad_key), status="investigating")
    assert run.rc == 0, run.output
    assert run.result["delivered"] is False and run.result["error"]["type"] == "AuthenticationError"
    assert any("HTTP 401: Could not authenticate" in warning for warning in run.warnings)
    assert stand_in_messages(statuspage) == []
    assert bad_key not in run.output


def test_server_error_on_update_warns_and_is_not_repeated(statuspage, page_env, tmp_path):
    incident_id = open_incident(statuspage, page_env)
    incident_path = f"/v1/pages/{page_env['STATUSPAGE_PAGE_ID']}/incidents/{incident_id}"
    lab_call(statuspage + "/__lab/faults", "PUT", {"status": 500, "count": 1, "paths": [incident_path]})
    update = {"status": "monitoring", "body": "Rolled back", "retries": 3}
    play = run_play([
        task(statuspage, "attempt", **update),
        task(statuspage, "rerun", **update),
    ], tmp_path, page_env)
    assert play.rc == 0, play.output
    attempt, rerun = play.result["attempt"], play.result["rerun"]
    assert attempt["delivered"] is False and attempt["error"]["status"] == 500
    assert [(entry["method"], entry.get("status")) for entry in attempt["requests"]] == [("GET", 200), ("PATCH", 500)]
    assert any("may have reached the server" in warning for warning in play.warnings)
    assert rerun["action"] == "update" and rerun["delivered"] is True
    assert [record["kind"] for record in stand_in_messages(statuspage)] == ["incident.create", "incident.update"]


def test_update_by_incident_id_reads_that_incident_then_patches_it(statuspage, page_env, tmp_path):
    incident_id = open_incident(statuspage, page_env)
    run = run_module("statuspage_incident", {**tls(), "api_url": statuspage + "/v1", "incident_id": incident_id, "status": "monitoring",
                                             "body": "Rolled back; watching error rates"}, tmp_path, env=page_env)
    assert run.rc == 0, run.output
    assert run.result["changed"] is True and run.result["action"] == "update" and run.result["delivered"] is True
    assert [(entry["method"], entry["status"]) for entry in run.result["requests"]] == [("GET", 200), ("PATCH", 200)]
    assert run.result["requests"][0]["url"].endswith(f"/incidents/{incident_id}")
    assert run.result["incident"]["id"] == incident_id and run.result["incident"]["name"] == NAME
    assert run.result["incident"]["status"] == "monitoring"
    records = stand_in_messages(statuspage)
    assert [(record["kind"], record["incident_id"]) for record in records] == [("incident.create", incident_id), ("incident.update", incident_id)]
    assert records[-1]["incident"]["monitoring_at"]
    assert [update["body"] for update in records[-1]["incident"]["incident_updates"]] == ["Rolled back; watching error rates", "Cause found"]


def test_unknown_incident_id_fails_when_required(statuspage, page_env, tmp_path):
    run = run_module("statuspage_incident", {**tls(), "api_url": statuspage + "/v1", "incident_id": "nosuchincident", "status": "resolved",
                                             "required": True}, tmp_path, env=page_env)
    assert run.failed
    assert "nosuchincident" in run.result["msg"] and "404" in run.result["msg"]
    assert stand_in_messages(statuspage) == []
