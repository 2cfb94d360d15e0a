"""ofm.rollback.statuspage_incident run by the real `ansible` against the lab's Statuspage stand-in."""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from labtest import credentials
from test_notify import AnsibleRun, Secrets, lab_call, run_module, run_play

from lab.config import LabConfig

NAME = "Degraded publishing (INC-4242)"


@pytest.fixture(name="statuspage")
def fixture_statuspage(lab: LabConfig):
    """The Statuspage stand-in's URL, with no incidents and no fault before and after the test."""
    url = lab.url("statuspage")
    for path in ("/__lab/messages", "/__lab/faults"):
        lab_call(url + path, "DELETE")
    yield url
    lab_call(url + "/__lab/faults", "DELETE")


@pytest.fixture(name="page_env")
def fixture_page_env(lab: LabConfig) -> Secrets:
    lab_credentials = credentials(lab)
    return Secrets(STATUSPAGE_API_KEY=lab_credentials["statuspage_api_key"], STATUSPAGE_PAGE_ID=lab_credentials["statuspage_page_id"])


def incident(workdir: Path, statuspage: str, page_env: Secrets, *, check: bool = False, **args: Any) -> AnsibleRun:
    return run_module(workdir, "statuspage_incident", {"api_url": statuspage + "/v1", "name": NAME, **args}, page_env, check=check)


def stored(statuspage: str) -> list[dict[str, Any]]:
    return lab_call(statuspage + "/__lab/messages")["messages"]


def task(statuspage: str, register: str, **args: Any) -> dict[str, Any]:
    return {"name": register, "register": register, "ofm.rollback.statuspage_incident": {"api_url": statuspage + "/v1", "name": NAME, **args}}


def test_create_update_by_name_resolve_then_nothing(statuspage, page_env, tmp_path):
    resolve = {"status": "resolved", "impact_override": "none", "body": "Publishing is back to normal"}
    play = run_play(tmp_path, [
        task(statuspage, "created", status="investigating", impact_override="major", body="Rolling back the release"),
        task(statuspage, "updated", status="monitoring", body="Rolled back; watching error rates"),
        task(statuspage, "resolved", **resolve),
        task(statuspage, "again", **resolve),
    ], page_env, diff=True)
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

    records = stored(statuspage)
    assert [record["kind"] for record in records] == ["incident.create", "incident.update", "incident.update"]
    assert {record["incident_id"] for record in records} == {incident_id}
    assert records[-1]["incident"]["status"] == "resolved" and records[-1]["incident"]["impact"] == "none"
    assert page_env["STATUSPAGE_API_KEY"] not in play.output


def test_check_mode_writes_nothing(statuspage, page_env, tmp_path):
    run = incident(tmp_path, statuspage, page_env, check=True, status="investigating", body="Preview")
    assert run.rc == 0, run.output
    assert run.result["changed"] is True and run.result["delivered"] is False and run.result["action"] == "create"
    assert stored(statuspage) == []


def test_bad_key_warns_and_changes_nothing(statuspage, page_env, tmp_path):
    bad_key = "0123456789abcdef0123456789abcdef"
    run = incident(tmp_path, statuspage, Secrets(page_env, STATUSPAGE_API_KEY=bad_key), status="investigating")
    assert run.rc == 0, run.output
    assert run.result["delivered"] is False and run.result["error"]["type"] == "AuthenticationError"
    assert any("HTTP 401: Could not authenticate" in warning for warning in run.warnings)
    assert stored(statuspage) == []
    assert bad_key not in run.output


def open_incident(statuspage: str, page_env: Secrets) -> str:
    """Create an incident straight through the stand-in's API; return its ID."""
    request = urllib.request.Request(f"{statuspage}/v1/pages/{page_env['STATUSPAGE_PAGE_ID']}/incidents", method="POST",
                                     data=json.dumps({"incident": {"name": NAME, "status": "identified", "body": "Cause found"}}).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": f"OAuth {page_env['STATUSPAGE_API_KEY']}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["id"]


def test_server_error_on_update_warns_and_is_not_repeated(statuspage, page_env, tmp_path):
    incident_id = open_incident(statuspage, page_env)
    incident_path = f"/v1/pages/{page_env['STATUSPAGE_PAGE_ID']}/incidents/{incident_id}"
    lab_call(statuspage + "/__lab/faults", "PUT", {"status": 500, "count": 1, "paths": [incident_path]})
    update = {"status": "monitoring", "body": "Rolled back", "retries": 3}
    play = run_play(tmp_path, [
        task(statuspage, "attempt", **update),
        task(statuspage, "rerun", **update),
    ], page_env)
    assert play.rc == 0, play.output
    attempt, rerun = play.result["attempt"], play.result["rerun"]
    assert attempt["delivered"] is False and attempt["error"]["status"] == 500
    assert [(entry["method"], entry.get("status")) for entry in attempt["requests"]] == [("GET", 200), ("PATCH", 500)]
    assert any("may have reached the server" in warning for warning in play.warnings)
    assert rerun["action"] == "update" and rerun["delivered"] is True
    assert [record["kind"] for record in stored(statuspage)] == ["incident.create", "incident.update"]
