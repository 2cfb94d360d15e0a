# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""notify's main() against the local fake Slack of unithelpers: warn-not-fail, check mode, and no secret in any output."""
from __future__ import annotations

import json
from typing import Any

import pytest
from unithelpers import (SLACK_CHANNEL_ID, SLACK_TOKEN, SLACK_WEBHOOK_PATH, SLACK_WEBHOOK_SECRET, FakeClock, FakeSlack, Reply, documented_options,
                         free_port, mismatches, run_module)

from ansible_collections.ofm.rollback.plugins.doc_fragments import http_client
from ansible_collections.ofm.rollback.plugins.module_utils import slack as slack_utils
from ansible_collections.ofm.rollback.plugins.modules import notify

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")


@pytest.fixture(name="clock")
def fixture_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()

    class Notifier(slack_utils.SlackNotifier):
        @classmethod
        def from_params(cls, params: Any, *, sleep: Any = None) -> slack_utils.SlackNotifier:
            return super().from_params(params, sleep=clock.sleep)

    monkeypatch.setattr(notify, "SlackNotifier", Notifier)
    return clock


def api_args(slack: FakeSlack, **overrides: Any) -> dict[str, Any]:
    return {"token": SLACK_TOKEN, "api_url": slack.api_url, "channel": "#ops-alerts", "text": "Rollback started", **overrides}


def assert_no_secret(*outputs: Any, secrets: tuple[str, ...] = (SLACK_TOKEN, SLACK_WEBHOOK_SECRET)) -> None:
    shown = json.dumps(outputs)
    for secret in secrets:
        assert secret not in shown


def test_api_post_returns_ts_and_channel(slack, clock):
    failed, result, warnings = run_module(notify, api_args(slack))
    assert not failed and warnings == []
    assert result["changed"] is True and result["delivered"] is True
    assert result["method"] == "api"
    assert result["ts"] == "1700000000.000001" and result["channel"] == SLACK_CHANNEL_ID and result["thread_ts"] is None
    assert result["payload"] == {"channel": "#ops-alerts", "text": "Rollback started"}
    assert [entry["status"] for entry in result["requests"]] == [200]
    assert result["msg"] == f"Slack: posted the message to {SLACK_CHANNEL_ID} via the Web API (ts 1700000000.000001)."
    assert_no_secret(result)


def test_token_from_the_environment_selects_the_api(slack, clock, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
    args = {"api_url": slack.api_url, "channel": "#ops-alerts", "text": "x", "webhook_url": slack.webhook_url}
    failed, result, _warnings = run_module(notify, args)
    assert not failed and result["method"] == "api"
    assert slack.received[0].headers["Authorization"] == f"Bearer {SLACK_TOKEN}"


def test_check_mode_sends_nothing_and_returns_the_payload(slack, clock):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Rollback*"}}]
    failed, result, _warnings = run_module(notify, api_args(slack, blocks=blocks, thread_ts="1700000000.5"), check_mode=True)
    assert not failed
    assert slack.received == []
    assert result["changed"] is True and result["delivered"] is False and result["ts"] is None
    assert result["payload"] == {"channel": "#ops-alerts", "text": "Rollback started", "blocks": blocks, "thread_ts": "1700000000.500000"}
    assert result["msg"] == "Slack: would post the message to #ops-alerts via the Web API."


def test_failed_delivery_warns_and_goes_on_by_default(slack, clock):
    wrong = "xoxb-wrong-token-0000"
    failed, result, warnings = run_module(notify, api_args(slack, token=wrong))
    assert not failed
    assert result["changed"] is False and result["delivered"] is False
    assert result["error"]["type"] == "AuthenticationError"
    assert result["error"]["reason"] == "invalid_auth: Slack does not accept the token"
    assert len(warnings) == 1
    assert warnings[0].startswith("Slack Web API: chat.postMessage on #ops-alerts failed: invalid_auth")
    assert warnings[0].endswith("the play goes on because required=false.")
    assert_no_secret(result, warnings, secrets=(wrong,))


def test_failed_delivery_fails_when_required(slack, clock):
    slack.script(Reply(200, {"ok": False, "error": "channel_not_found"}))
    failed, result, warnings = run_module(notify, api_args(slack, channel="#nope", required=True))
    assert failed
    assert warnings == []
    assert result["delivered"] is False
    assert result["msg"].startswith("Slack Web API: chat.postMessage on #nope failed: channel_not_found")
    assert result["error"]["type"] == "NotFoundError"
    assert_no_secret(result)


def test_server_error_is_not_retried_and_warns(slack, clock):
    slack.script(Reply(500, {"error": "Injected fault"}))
    failed, result, warnings = run_module(notify, api_args(slack, retries=3))
    assert not failed and result["delivered"] is False
    assert len(slack.received) == 1
    assert result["error"]["status"] == 500
    assert "may have reached the server" in warnings[0]


def test_unreachable_slack_is_retried_then_warns(clock):
    args = {"token": SLACK_TOKEN, "api_url": f"http://127.0.0.1:{free_port()}/api", "channel": "#ops-alerts", "text": "x", "retries": 2}
    failed, result, warnings = run_module(notify, args)
    assert not failed and result["delivered"] is False
    assert len(result["requests"]) == 3 and clock.sleeps == [0.5, 1.0]
    assert result["error"]["type"] == "UnavailableError" and result["error"]["attempts"] == 3 and result["error"]["sent"] is False
    assert "could not connect" in warnings[0]


def test_webhook_thread_reply_warns_and_posts_to_the_channel(slack, clock):
    failed, result, warnings = run_module(notify, {"webhook_url": slack.webhook_url, "text": "Reply", "thread_ts": "1700000000.000001"})
    assert not failed and result["delivered"] is True
    assert result["method"] == "webhook" and result["ts"] is None and result["thread_ts"] is None
    assert slack.received[0].path == SLACK_WEBHOOK_PATH and slack.received[0].body == {"text": "Reply"}
    assert len(warnings) == 1 and "incoming webhooks cannot reply in a thread" in warnings[0]
    assert_no_secret(result, warnings)


def test_webhook_failure_hides_the_url(slack, clock):
    slack.script(Reply(404, "no_service"))
    failed, result, warnings = run_module(notify, {"webhook_url": slack.webhook_url, "text": "x"})
    assert not failed and result["delivered"] is False
    assert result["error"]["type"] == "NotFoundError"
    assert_no_secret(result, warnings)
    assert "TUNIT000" not in json.dumps([result, warnings])


def test_nothing_configured_warns_without_sending(slack, clock):
    failed, result, warnings = run_module(notify, {"channel": "#ops-alerts", "text": "x"})
    assert not failed and result["delivered"] is False
    assert result["error"]["option"] == "webhook_url"
    assert result["requests"] == [] and "payload" not in result
    assert "SLACK_WEBHOOK_URL" in warnings[0]


def test_update_with_a_webhook_is_refused(slack, clock):
    args = {"webhook_url": slack.webhook_url, "text": "x", "update_ts": "1700000000.000001", "required": True}
    failed, result, _warnings = run_module(notify, args)
    assert failed and result["error"]["option"] == "update_ts"
    assert slack.received == []


@pytest.mark.parametrize("args, words", [
    ({"channel": "#ops-alerts"}, "one of the following is required: text, blocks"),
    ({"text": "x", "thread_ts": "1.1", "update_ts": "1.1"}, "mutually exclusive: thread_ts|update_ts"),
])
def test_option_errors_always_fail(args, words):
    failed, result, _warnings = run_module(notify, args)
    assert failed and words in result["msg"]


def test_docs_match_the_argument_spec():
    assert mismatches(notify.ARGUMENT_SPEC, documented_options(notify, http_client)) == []


# --- once per incident, with a notification ledger -------------------------------------------------------------------------

def once_args(slack: FakeSlack, tmp_path: Any, **overrides: Any) -> dict[str, Any]:
    once = {"ledger": str(tmp_path / "INC-42" / "comms.json"), "ledger_key": "ops-alerts.declared", "incident_id": "INC-42"}
    return api_args(slack, **{**once, **overrides})


def test_with_a_ledger_a_re_run_does_not_post_again_and_keeps_the_first_ts(slack, clock, tmp_path):
    failed, first, _warnings = run_module(notify, once_args(slack, tmp_path))
    assert not failed and first["status"] == "sent" and first["changed"] is True
    failed, again, _warnings = run_module(notify, once_args(slack, tmp_path, text="Rollback started (re-run)"))
    assert not failed and again["status"] == "unchanged" and again["changed"] is False
    assert again["delivered"] is True and again["ts"] == first["ts"] and again["channel"] == SLACK_CHANNEL_ID
    assert len(slack.received) == 1
    assert "was posted before" in again["msg"]
    entry = json.loads((tmp_path / "INC-42" / "comms.json").read_text())["entries"]["ops-alerts.declared"]
    assert entry["status"] == "sent" and entry["ts"] == first["ts"]


def test_a_post_a_killed_run_left_sending_is_not_posted_again(slack, clock, tmp_path):
    ledger = tmp_path / "INC-42" / "comms.json"
    ledger.parent.mkdir()
    ledger.write_text(json.dumps({"format": "ofm.rollback/notification-ledger v1", "incident_id": "INC-42", "kind": "slack",
                                  "entries": {"ops-alerts.declared": {"status": "sending", "sending_at": "2026-12-04T14:05:00+00:00"}}}))
    failed, result, _warnings = run_module(notify, once_args(slack, tmp_path))
    assert not failed and result["status"] == "unknown" and result["delivered"] is False and result["changed"] is False
    assert slack.received == [] and "may or may not be in the channel" in result["msg"]
    failed, checked, _warnings = run_module(notify, once_args(slack, tmp_path), check_mode=True)
    assert not failed and checked["status"] == "unknown"


def test_with_a_ledger_a_5xx_stays_sending_and_a_refusal_is_forgotten(slack, clock, tmp_path):
    slack.script(Reply(500, {"error": "Injected fault"}))
    failed, result, warnings = run_module(notify, once_args(slack, tmp_path))
    assert not failed and result["status"] == "failed" and warnings
    entries = json.loads((tmp_path / "INC-42" / "comms.json").read_text())["entries"]
    assert entries["ops-alerts.declared"]["status"] == "sending"
    failed, refused, _warnings = run_module(notify, once_args(slack, tmp_path, token="xoxb-wrong-token-0000", ledger_key="other.key"))
    assert not failed and refused["status"] == "failed"
    assert "other.key" not in json.loads((tmp_path / "INC-42" / "comms.json").read_text())["entries"]


def test_check_mode_with_a_ledger_writes_nothing(slack, clock, tmp_path):
    failed, result, _warnings = run_module(notify, once_args(slack, tmp_path), check_mode=True)
    assert not failed and result["status"] == "would_send" and slack.received == []
    assert not (tmp_path / "INC-42").exists()


@pytest.mark.parametrize("bad, option", [({"incident_id": "INC-4x"}, "incident_id"), ({"ledger_key": "Ops Alerts"}, "ledger_key")])
def test_a_bad_ledger_option_is_refused_before_anything_is_sent(slack, clock, tmp_path, bad, option):
    failed, result, _warnings = run_module(notify, once_args(slack, tmp_path, **bad))
    assert failed and result["error"]["option"] == option and slack.received == []
