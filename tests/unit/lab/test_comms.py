"""Tests of the Slack and Statuspage stand-ins: what they answer, what they record, what they never store."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from unithelpers import LabService, serving
from unithelpers import http_call as call

from lab.services.comms import CommsApp, MessageStore, TsClock, channel_id
from lab.services.common import JsonlFile

BOT_TOKEN = "xoxb-lab-4f1e2d"
API_KEY = "statuspage-key-9c8b"
WEBHOOK_SECRET = "hookSecret123"
PAGE = "labpage0001"
AS_BOT = {"Authorization": f"Bearer {BOT_TOKEN}"}
AS_PAGE_OWNER = {"Authorization": f"OAuth {API_KEY}"}


def app_for(kind: str, store: Path) -> CommsApp:
    return CommsApp(kind, MessageStore(JsonlFile(str(store))), {BOT_TOKEN if kind == "slack" else API_KEY})


@pytest.fixture()
def slack(tmp_path: Path) -> Iterator[str]:
    with serving(app_for("slack", tmp_path / "slack.jsonl").handler()) as url:
        yield url


@pytest.fixture()
def statuspage(tmp_path: Path) -> Iterator[str]:
    with serving(app_for("statuspage", tmp_path / "statuspage.jsonl").handler()) as url:
        yield url


def messages(url: str, query: str = "") -> list[dict[str, Any]]:
    status, body = call(f"{url}/__lab/messages{query}")
    assert status == 200
    return body["messages"]


def post_message(url: str, **args: Any) -> dict[str, Any]:
    status, body = call(f"{url}/api/chat.postMessage", "POST", args, AS_BOT)
    assert status == 200
    return body


def ts_value(ts: str) -> tuple[int, int]:
    seconds, micros = ts.split(".")
    return int(seconds), int(micros)


# Slack incoming webhooks

def test_webhook_is_recorded_without_its_secret(slack, tmp_path):
    status, body = call(f"{slack}/services/T0LAB/B0HOOK/{WEBHOOK_SECRET}", "POST",
                        {"text": "Canary rollback started", "channel": "#ops-alerts", "blocks": [{"type": "section"}]})
    assert (status, body) == (200, "ok")
    [message] = messages(slack)
    assert (message["kind"], message["channel"], message["text"]) == ("webhook", "C0OPSALRT", "Canary rollback started")
    assert message["blocks"] == [{"type": "section"}] and message["webhook"] == "T0LAB/B0HOOK"
    assert message["payload"]["channel"] == "#ops-alerts" and message["received_at"]
    assert WEBHOOK_SECRET not in (tmp_path / "slack.jsonl").read_text()


def test_webhook_accepts_a_form_payload(slack):
    status, _body = call(f"{slack}/services/T/B/X", "POST", form={"payload": json.dumps({"text": "from a form"})})
    assert status == 200
    assert messages(slack)[0]["text"] == "from a form"


@pytest.mark.parametrize("path, body, expected", [
    ("/services/T/B/X", {"channel": "#ops-alerts"}, (400, "invalid_payload")),
    ("/services/T/B/X", ["not", "an", "object"], (400, "invalid_payload")),
    ("/services/T/B", {"text": "x"}, (404, "no_service")),
    ("/services/T/B/X/extra", {"text": "x"}, (404, "no_service")),
])
def test_webhook_errors_match_slack(slack, path, body, expected):
    assert call(f"{slack}{path}", "POST", body) == expected
    assert not messages(slack)


# Slack Web API

def test_post_message_returns_increasing_ts_and_threads_replies(slack):
    first = post_message(slack, channel="#incident-response", text="INC-1234 declared")
    second = post_message(slack, channel="C0INCRESP", text="second")
    assert first["ok"] is True and first["channel"] == "C0INCRESP"
    assert first["message"]["text"] == "INC-1234 declared" and first["message"]["ts"] == first["ts"]
    assert ts_value(second["ts"]) > ts_value(first["ts"])

    reply = post_message(slack, channel="incident-response", text="rolled back", thread_ts=first["ts"])
    assert reply["ok"] is True and reply["message"]["thread_ts"] == first["ts"]
    assert ts_value(reply["ts"]) > ts_value(second["ts"])
    recorded = messages(slack, "?kind=chat.postMessage&channel=%23incident-response")
    assert [(message["text"], message["thread_ts"]) for message in recorded] == \
        [("INC-1234 declared", None), ("second", None), ("rolled back", first["ts"])]


def test_thread_ts_must_be_a_message_of_that_channel(slack):
    parent = post_message(slack, channel="#ops-alerts", text="parent")
    assert post_message(slack, channel="#engineering", text="x", thread_ts=parent["ts"]) == {"ok": False, "error": "thread_not_found"}
    assert post_message(slack, channel="#ops-alerts", text="x", thread_ts="1.000001") == {"ok": False, "error": "thread_not_found"}
    assert len(messages(slack)) == 1


@pytest.mark.parametrize("request_headers, error", [
    ({}, "not_authed"),
    ({"Authorization": "Bearer xoxb-wrong"}, "invalid_auth"),
    ({"Authorization": f"Basic {BOT_TOKEN}"}, "not_authed"),
])
def test_web_api_rejects_bad_tokens(slack, request_headers, error):
    for method in ("chat.postMessage", "auth.test"):
        assert call(f"{slack}/api/{method}", "POST", {"channel": "#ops-alerts", "text": "x"}, request_headers) == \
            (200, {"ok": False, "error": error})
    assert not messages(slack)


@pytest.mark.parametrize("args, error", [
    ({"text": "no channel"}, "channel_not_found"),
    ({"channel": "#", "text": "empty channel"}, "channel_not_found"),
    ({"channel": "#ops-alerts"}, "no_text"),
])
def test_post_message_argument_errors(slack, args, error):
    assert post_message(slack, **args) == {"ok": False, "error": error}


def test_form_encoded_call_with_token_in_body_is_not_stored(slack, tmp_path):
    status, body = call(f"{slack}/api/chat.postMessage", "POST",
                        form={"token": BOT_TOKEN, "channel": "#ops-alerts", "blocks": json.dumps([{"type": "divider"}])})
    assert status == 200 and body["ok"] is True
    assert messages(slack)[0]["blocks"] == [{"type": "divider"}]
    stored = (tmp_path / "slack.jsonl").read_text()
    assert BOT_TOKEN not in stored and "token" not in json.loads(stored)["payload"]


def test_chat_update_edits_a_known_message(slack):
    original = post_message(slack, channel="#ops-alerts", text="rollback running")
    status, body = call(f"{slack}/api/chat.update", "POST", {"channel": "#ops-alerts", "ts": original["ts"], "text": "rollback done"}, AS_BOT)
    assert status == 200 and body["ok"] is True and body["ts"] == original["ts"] and body["text"] == "rollback done"
    update = messages(slack, "?kind=chat.update")[0]
    assert (update["channel"], update["ts"], update["text"]) == ("C0OPSALRT", original["ts"], "rollback done")
    assert call(f"{slack}/api/chat.update", "POST", {"channel": "#ops-alerts", "ts": "1.1", "text": "x"}, AS_BOT) == \
        (200, {"ok": False, "error": "message_not_found"})


def test_auth_test_names_the_bot(slack):
    status, body = call(f"{slack}/api/auth.test", "POST", {}, AS_BOT)
    assert status == 200 and body["ok"] is True and body["user_id"] == "U0LABBOT"


def test_channel_ids():
    assert channel_id("#ops-alerts") == "C0OPSALRT"
    assert channel_id("C0123ABCD") == "C0123ABCD"
    assert channel_id("#random") == channel_id("random") != channel_id("general")


def test_ts_clock_never_repeats_or_goes_back():
    clock = TsClock()
    clock.observe("9999999999.999998")
    assert [clock.next(), clock.next()] == ["9999999999.999999", "10000000000.000000"]


# Statuspage

def create_incident(url: str, **fields: Any) -> tuple[int, Any]:
    return call(f"{url}/v1/pages/{PAGE}/incidents", "POST", {"incident": fields}, AS_PAGE_OWNER)


def test_incident_create_update_and_list(statuspage):
    status, created = create_incident(statuspage, name="API degraded", status="investigating", impact_override="major",
                                      body="We are rolling back a release.", component_ids=["cmp1"])
    assert status == 201
    assert (created["name"], created["status"], created["impact"], created["page_id"]) == ("API degraded", "investigating", "major", PAGE)
    assert created["shortlink"].startswith("https://stspg.io/") and created["created_at"]
    assert [update["body"] for update in created["incident_updates"]] == ["We are rolling back a release."]

    status, updated = call(f"{statuspage}/v1/pages/{PAGE}/incidents/{created['id']}", "PATCH",
                           {"incident": {"status": "resolved", "body": "Rolled back."}}, AS_PAGE_OWNER)
    assert status == 200
    assert updated["status"] == "resolved" and updated["resolved_at"]
    assert [(update["status"], update["body"]) for update in updated["incident_updates"]] == \
        [("resolved", "Rolled back."), ("investigating", "We are rolling back a release.")]

    status, listed = call(f"{statuspage}/v1/pages/{PAGE}/incidents", headers=AS_PAGE_OWNER)
    assert status == 200 and [incident["id"] for incident in listed] == [created["id"]]
    assert listed[0]["status"] == "resolved"
    assert call(f"{statuspage}/v1/pages/otherpage/incidents", headers=AS_PAGE_OWNER) == (200, [])
    assert [(message["kind"], message["channel"], message["text"]) for message in messages(statuspage)] == \
        [("incident.create", PAGE, "We are rolling back a release."), ("incident.update", PAGE, "Rolled back.")]


@pytest.mark.parametrize("request_headers", [{}, {"Authorization": "OAuth wrong-key"}, {"Authorization": f"Bearer {API_KEY}"}])
def test_statuspage_requires_the_oauth_key(statuspage, request_headers):
    assert call(f"{statuspage}/v1/pages/{PAGE}/incidents", "POST", {"incident": {"name": "x"}}, request_headers) == \
        (401, {"error": "Could not authenticate"})
    assert call(f"{statuspage}/v1/pages/{PAGE}/incidents", headers=request_headers)[0] == 401
    assert not messages(statuspage)


@pytest.mark.parametrize("fields, status", [({"status": "investigating"}, 422), ({"name": "x", "status": "exploding"}, 422),
                                            ({"name": "x", "impact_override": "apocalyptic"}, 422)])
def test_invalid_incidents_are_refused(statuspage, fields, status):
    assert create_incident(statuspage, **fields)[0] == status
    assert not messages(statuspage)


def test_get_incident_answers_the_current_incident(statuspage):
    created = create_incident(statuspage, name="API degraded", status="investigating", body="Looking.")[1]
    call(f"{statuspage}/v1/pages/{PAGE}/incidents/{created['id']}", "PATCH", {"incident": {"status": "monitoring", "body": "Fixed."}}, AS_PAGE_OWNER)
    status, incident = call(f"{statuspage}/v1/pages/{PAGE}/incidents/{created['id']}", headers=AS_PAGE_OWNER)
    assert status == 200
    assert (incident["id"], incident["name"], incident["status"], incident["page_id"]) == (created["id"], "API degraded", "monitoring", PAGE)
    assert incident["monitoring_at"] and [update["body"] for update in incident["incident_updates"]] == ["Fixed.", "Looking."]
    assert [message["kind"] for message in messages(statuspage)] == ["incident.create", "incident.update"]


@pytest.mark.parametrize("page", [PAGE, "otherpage"])
def test_unknown_incident_is_404(statuspage, page):
    created = create_incident(statuspage, name="API degraded")[1]
    unknown = "doesnotexist" if page == PAGE else created["id"]
    path = f"{statuspage}/v1/pages/{page}/incidents/{unknown}"
    assert call(path, headers=AS_PAGE_OWNER) == (404, {"error": "Not found"})
    assert call(path, "PATCH", {"incident": {"status": "resolved"}}, AS_PAGE_OWNER) == (404, {"error": "Not found"})
    assert [message["kind"] for message in messages(statuspage)] == ["incident.create"]


def test_get_incident_requires_the_oauth_key(statuspage):
    created = create_incident(statuspage, name="API degraded")[1]
    assert call(f"{statuspage}/v1/pages/{PAGE}/incidents/{created['id']}", headers={"Authorization": "OAuth wrong-key"}) == \
        (401, {"error": "Could not authenticate"})


# Lab routes shared by both kinds

def test_injected_fault_records_nothing(slack):
    assert call(f"{slack}/__lab/faults", "PUT", {"status": 500, "count": 1})[0] == 200
    assert call(f"{slack}/services/T/B/X", "POST", {"text": "lost"}) == (500, {"error": "Injected fault", "status": 500})
    assert not messages(slack)
    assert call(f"{slack}/services/T/B/X", "POST", {"text": "delivered"}) == (200, "ok")
    assert [message["text"] for message in messages(slack)] == ["delivered"]


def test_clearing_messages_empties_the_store(slack, tmp_path):
    parent = post_message(slack, channel="#ops-alerts", text="x")
    assert call(f"{slack}/__lab/messages", "DELETE") == (200, {"messages": []})
    assert not messages(slack) and not (tmp_path / "slack.jsonl").read_text()
    assert post_message(slack, channel="#ops-alerts", text="y", thread_ts=parent["ts"])["error"] == "thread_not_found"


def test_health(slack, statuspage):
    assert call(f"{slack}/health")[1]["service"] == "slack-lab"
    assert call(f"{statuspage}/health")[1]["service"] == "statuspage-lab"


def comms_process(kind: str, store: Path, token: str, log: Path) -> LabService:
    return LabService("comms", "--kind", kind, "--store", str(store), "--token", token, log=log)


def test_slack_store_is_reloaded_across_a_restart(tmp_path):
    store, log = tmp_path / "slack.jsonl", tmp_path / "slack.log"
    with comms_process("slack", store, BOT_TOKEN, log) as service:
        parent = post_message(service.url, channel="#ops-alerts", text="before restart")
    with comms_process("slack", store, BOT_TOKEN, log) as service:
        assert [message["text"] for message in messages(service.url)] == ["before restart"]
        reply = post_message(service.url, channel="#ops-alerts", text="after restart", thread_ts=parent["ts"])
        assert reply["ok"] is True and ts_value(reply["ts"]) > ts_value(parent["ts"])
    assert BOT_TOKEN not in store.read_text()


def test_statuspage_store_is_reloaded_across_a_restart(tmp_path):
    store, log = tmp_path / "statuspage.jsonl", tmp_path / "statuspage.log"
    with comms_process("statuspage", store, API_KEY, log) as service:
        incident = create_incident(service.url, name="API degraded")[1]
    with comms_process("statuspage", store, API_KEY, log) as service:
        assert call(f"{service.url}/v1/pages/{PAGE}/incidents/{incident['id']}", headers=AS_PAGE_OWNER) == (200, incident)
        status, updated = call(f"{service.url}/v1/pages/{PAGE}/incidents/{incident['id']}", "PATCH",
                               {"incident": {"status": "monitoring", "body": "Watching."}}, AS_PAGE_OWNER)
        assert status == 200 and updated["status"] == "monitoring" and len(updated["incident_updates"]) == 2
    assert API_KEY not in store.read_text()
