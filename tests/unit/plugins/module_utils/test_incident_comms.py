# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An incident's Slack messages: the role's templates render from comms_plan's context; a template with an unknown
variable stops everything before a message leaves; the ledger sends each key once, keeps a killed run's message unknown,
and lets a refused one go again; check mode writes nothing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.ofm.rollback.plugins.module_utils.comms_plan import plan
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, NotFoundError, UnavailableError
from ansible_collections.ofm.rollback.plugins.module_utils.incident_comms import check_messages, deliver, render_all
from ansible_collections.ofm.rollback.plugins.module_utils.ledger import Ledger
from ansible_collections.ofm.rollback.plugins.module_utils.slack import Delivery

ROOT = Path(__file__).resolve().parents[4]
TEMPLATES = {path.stem: str(path) for path in (ROOT / "roles" / "incident_comms" / "templates" / "slack").glob("*.j2")}
RECORD = {"incident_id": "INC-5", "environment": "lab", "operator": {"name": "alice"}, "started_at": "2026-12-04T14:05:00+00:00",
          "trigger": {"breached": ["error_rate"], "slos": {"error_rate": {"current": 0.3, "threshold": 0.01, "line": "error_rate: BREACH"}}},
          "rollback": {"path": "ops_api"}, "traffic": {"all_on_stable": True}, "announcement": {"delivered": False}}


class FakeNotifier:
    """Records what would reach Slack; ``fail`` maps a channel to the exception Slack's answer becomes."""

    def __init__(self, fail=None):
        self.sent = []
        self.fail = fail or {}
        self.http = type("Http", (), {"requests": []})()

    def plan(self, message):
        return Delivery("api", "chat.postMessage", {"channel": message.channel, "text": message.text, "thread_ts": message.thread_ts},
                        channel=message.channel, thread_ts=message.thread_ts)

    def send(self, delivery):
        if delivery.channel in self.fail:
            raise self.fail[delivery.channel]
        self.sent.append(delivery.payload)
        delivery.ts = f"1700000000.{len(self.sent):06d}"
        delivery.delivered = True
        return delivery


def planned(**extra):
    decided = plan({"incident_id": "INC-5", "record": RECORD, "templates": TEMPLATES, "customers": {"count": 2, "platforms": ["tiktok"]},
                    "impact": {"requests_total": 900, "requests_failed": 120, "error_budget_burned": {"error_rate": 2.5, "p95_latency": None}},
                    **extra})
    return decided["messages"], {**decided["context"], "incident_id": "INC-5"}


def run(tmp_path, notifier, check_mode=False, messages=None, context=None):
    default_messages, default_context = planned()
    messages = messages or default_messages
    rendered = render_all(messages, context or default_context)
    ledger = Ledger(str(tmp_path / "comms.json"), "INC-5", "slack")
    if check_mode:
        return deliver(rendered, ledger.load(), None, True, str, lambda text: None)
    with ledger:
        return deliver(rendered, ledger, notifier, False, str, lambda text: None)


def test_every_template_of_the_role_renders_from_the_plan_and_the_blocks_are_block_kit():
    messages, context = planned()
    rendered = {message.key: message for message in render_all(messages, context)}
    assert "ops.declared" in rendered and "error_rate: BREACH" in rendered["ops.declared"].text
    assert "*INC-5* (lab) - state *monitoring*" in rendered["engineering.monitoring"].text
    assert "Failed requests during the incident: 120" in rendered["engineering.monitoring"].text
    blocks = rendered["leadership.monitoring"].blocks
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"] == "INC-5 - monitoring"
    fields = [field["text"] for field in blocks[1]["fields"]]
    assert "*Failed requests*\n120" in fields and "*Customers affected*\n2" in fields
    assert "error_rate 2.50 %" in blocks[2]["text"]["text"] and "p95_latency - %" in blocks[2]["text"]["text"]
    assert "customers affected: 2 on tiktok" in rendered["customer_success.monitoring"].text
    assert "Known issue" in rendered["support.monitoring"].text


def test_a_template_with_an_unknown_variable_is_refused_before_anything_is_sent(tmp_path):
    bad = tmp_path / "bad.j2"
    bad.write_text("{{ incident_id }} owner {{ team_lead }}")
    notifier = FakeNotifier()
    with pytest.raises(InputError) as caught:
        run(tmp_path, notifier, messages=[{"key": "ok.one", "channel": "#a", "text": "fine"},
                                          {"key": "bad.one", "channel": "#b", "template": str(bad)}])
    assert "bad.one" in str(caught.value) and str(bad) in str(caught.value) and "team_lead" in str(caught.value)
    assert "known variables:" in str(caught.value) and "incident_id" in str(caught.value)
    assert notifier.sent == [] and not (tmp_path / "comms.json").exists()


def test_a_missing_attribute_and_bad_blocks_are_refused_too(tmp_path):
    with pytest.raises(InputError, match="undefined value"):
        render_all([{"key": "a", "channel": "#a", "text": "{{ impact.no_such }}"}], {"impact": {}})
    blocks = tmp_path / "blocks.j2"
    blocks.write_text("- text: no type")
    with pytest.raises(InputError, match="list of Block Kit blocks"):
        render_all([{"key": "a", "channel": "#a", "text": "x", "blocks_template": str(blocks)}], {})


def test_each_key_is_sent_once_and_replies_land_in_the_root_thread(tmp_path):
    notifier = FakeNotifier()
    first = run(tmp_path, notifier)
    assert {result["status"] for result in first} == {"sent"}
    root_ts = next(result["ts"] for result in first if result["key"] == "incident_response.root")
    reply = next(payload for payload in notifier.sent if payload["channel"] == "#incident-response" and payload["thread_ts"])
    assert reply["thread_ts"] == root_ts
    again = FakeNotifier()
    second = run(tmp_path, again)
    assert again.sent == [] and {result["status"] for result in second} == {"unchanged"}
    ledger = json.loads((tmp_path / "comms.json").read_text())
    assert ledger["incident_id"] == "INC-5" and ledger["entries"]["engineering.monitoring"]["status"] == "sent"
    assert oct((tmp_path / "comms.json").stat().st_mode & 0o777) == "0o600"


def test_a_refused_message_goes_again_next_run_but_one_slack_may_have_posted_stays_unknown(tmp_path):
    refused = NotFoundError("channel_not_found: the channel does not exist", system="Slack Web API")
    maybe = UnavailableError("HTTP 503", system="Slack Web API", hint="The request may have reached the server and been applied.")
    notifier = FakeNotifier(fail={"#engineering": refused, "#eng-leadership": maybe})
    first = {result["key"]: result for result in run(tmp_path, notifier)}
    assert first["engineering.monitoring"]["status"] == "failed" and "channel_not_found" in first["engineering.monitoring"]["error"]
    assert first["leadership.monitoring"]["status"] == "failed"
    assert first["support.monitoring"]["status"] == "sent", "one failure does not stop the others"
    healed = FakeNotifier()
    second = {result["key"]: result for result in run(tmp_path, healed)}
    assert second["engineering.monitoring"]["status"] == "sent"
    assert second["leadership.monitoring"]["status"] == "unknown" and "look in the channel" in second["leadership.monitoring"]["error"]
    assert [payload["channel"] for payload in healed.sent] == ["#engineering"]


def test_a_killed_run_left_sending_and_the_message_is_not_sent_twice(tmp_path):
    ledger = Ledger(str(tmp_path / "comms.json"), "INC-5", "slack")
    with ledger:
        ledger.mark("engineering.monitoring", "sending", channel="#engineering")
    notifier = FakeNotifier()
    results = {result["key"]: result for result in run(tmp_path, notifier)}
    assert results["engineering.monitoring"]["status"] == "unknown"
    assert "#engineering" not in [payload["channel"] for payload in notifier.sent]


def test_check_mode_renders_and_writes_nothing(tmp_path):
    results = run(tmp_path, None, check_mode=True)
    assert {result["status"] for result in results} == {"would_send"} and not (tmp_path / "comms.json").exists()


def test_another_incidents_ledger_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "comms.json"
    path.write_text(json.dumps({"format": "ofm.rollback/notification-ledger v1", "incident_id": "INC-6", "kind": "slack", "entries": {}}))
    with pytest.raises(InputError, match="ledger of INC-6"):
        run(tmp_path, FakeNotifier())
    assert json.loads(path.read_text())["incident_id"] == "INC-6"


@pytest.mark.parametrize("messages, words", [
    ([{"key": "Bad Key", "channel": "#a", "text": "x"}], "key must match"),
    ([{"key": "a", "channel": "#a", "text": "x"}, {"key": "a", "channel": "#b", "text": "y"}], "used twice"),
    ([{"key": "a", "channel": "#a"}], "exactly one of template"),
    ([{"key": "a", "channel": "#a", "text": "x", "thread": "b"}], "not the key of an earlier message"),
    ([{"key": "a", "text": "x"}], "needs a channel"),
])
def test_bad_messages_name_the_field(messages, words):
    with pytest.raises(InputError) as caught:
        check_messages("INC-5", messages)
    assert words in str(caught.value)
    with pytest.raises(InputError, match="INC-<digits>"):
        check_messages("5", [])


def test_the_blocks_render_valid_yaml_for_any_incident_id():
    messages, context = planned()
    context["incident_id"] = 'INC-5" : {x'
    leadership = [m for m in messages if m["key"].startswith("leadership")]
    assert yaml.safe_dump(render_all(leadership, context)[0].blocks)
