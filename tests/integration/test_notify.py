"""ofm.rollback.notify run by the real `ansible` and `ansible-playbook` against the lab's Slack stand-in."""
from __future__ import annotations

import subprocess

import pytest
from labtest import Secrets, ansible_bin, ansible_env, lab_call, run_module, run_play, stand_in_messages, tls

# Reads or changes the lab's shared state: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab


def api_env(secrets: Secrets, token: str = "") -> Secrets:
    return Secrets(SLACK_BOT_TOKEN=token or secrets["slack_bot_token"])


def test_webhook_message_is_stored_with_text_and_blocks(slack, secrets, tmp_path):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Rollback complete* for INC-4242"}}]
    run = run_module("notify", {"text": "Rollback complete", "blocks": blocks, **tls()}, tmp_path,
                     env=Secrets(SLACK_WEBHOOK_URL=slack + secrets["slack_webhook_path"]))
    assert run.rc == 0, run.output
    assert run.result["changed"] is True and run.result["delivered"] is True and run.result["method"] == "webhook"
    stored = stand_in_messages(slack)
    assert [(message["kind"], message["text"], message["blocks"]) for message in stored] == [("webhook", "Rollback complete", blocks)]
    assert secrets["slack_webhook_path"].rsplit("/", 1)[1] not in run.output


def test_api_post_then_thread_reply_then_edit_through_a_playbook(slack, secrets, tmp_path):
    api = slack + "/api"
    play = run_play([
        {"name": "Announce", "register": "announcement",
         "ofm.rollback.notify": {**tls(), "api_url": api, "channel": "#ops-alerts", "text": "Rollback started"}},
        {"name": "Reply in the thread", "register": "reply",
         "ofm.rollback.notify": {**tls(), "api_url": api, "channel": "{{ announcement.channel }}", "thread_ts": "{{ announcement.ts }}",
                                 "text": "Traffic is on stable"}},
        {"name": "Edit the announcement", "register": "edit",
         "ofm.rollback.notify": {**tls(), "api_url": api, "channel": "{{ announcement.channel }}", "update_ts": "{{ announcement.ts }}",
                                 "text": "Rollback complete"}},
    ], tmp_path, api_env(secrets))
    assert play.rc == 0, play.output
    post, reply, edit = stand_in_messages(slack)
    assert (post["kind"], post["channel"], post["text"], post["thread_ts"]) == ("chat.postMessage", "C0OPSALRT", "Rollback started", None)
    assert play.result["announcement"]["ts"] == post["ts"] and play.result["announcement"]["channel"] == "C0OPSALRT"
    assert (reply["kind"], reply["text"], reply["thread_ts"]) == ("chat.postMessage", "Traffic is on stable", post["ts"])
    assert play.result["reply"]["thread_ts"] == post["ts"] and play.result["reply"]["ts"] == reply["ts"] != post["ts"]
    assert (edit["kind"], edit["ts"], edit["text"]) == ("chat.update", post["ts"], "Rollback complete")
    assert play.result["edit"]["ts"] == post["ts"] and play.result["edit"]["changed"] is True
    assert secrets["slack_bot_token"] not in play.output


def test_bad_token_warns_and_is_not_delivered(slack, secrets, tmp_path):
    bad = "xoxb-not-a-lab-token-1234"
    run = run_module("notify", {"api_url": slack + "/api", "channel": "#ops-alerts", "text": "x", **tls()}, tmp_path, env=api_env(secrets, bad))
    assert run.rc == 0, run.output
    assert run.result["delivered"] is False and run.result.get("failed") is not True
    assert run.result["error"]["reason"] == "invalid_auth: Slack does not accept the token"
    assert any(warning.startswith("Slack Web API: chat.postMessage on #ops-alerts failed: invalid_auth") for warning in run.warnings)
    assert stand_in_messages(slack) == []
    assert bad not in run.output


def test_bad_token_fails_when_required(slack, secrets, tmp_path):
    run = run_module("notify", {"api_url": slack + "/api", "channel": "#ops-alerts", "text": "x", "required": True, **tls()}, tmp_path,
                     env=api_env(secrets, "xoxb-not-a-lab-token-1234"))
    assert run.rc != 0 and "localhost | FAILED!" in run.output
    assert run.result["delivered"] is False and run.result["error"]["type"] == "AuthenticationError"


def test_server_error_warns_and_duplicates_nothing(slack, secrets, tmp_path):
    lab_call(slack + "/__lab/faults", "PUT", {"status": 500, "count": 1})
    args = {"api_url": slack + "/api", "channel": "#ops-alerts", "text": "once", "retries": 3, **tls()}
    failed = run_module("notify", args, tmp_path, env=api_env(secrets))
    assert failed.rc == 0, failed.output
    assert failed.result["delivered"] is False and failed.result["error"]["status"] == 500
    assert [entry["status"] for entry in failed.result["requests"]] == [500]
    assert any("may have reached the server" in warning for warning in failed.warnings)
    assert stand_in_messages(slack) == []
    assert lab_call(slack + "/__lab/faults")["fault"] is None

    delivered = run_module("notify", args, tmp_path, env=api_env(secrets))
    assert delivered.result["delivered"] is True and delivered.result["ts"]
    assert [message["text"] for message in stand_in_messages(slack)] == ["once"]


def test_check_mode_sends_nothing(slack, secrets, tmp_path):
    run = run_module("notify", {"api_url": slack + "/api", "channel": "#ops-alerts", "text": "preview", **tls()}, tmp_path,
                     env=api_env(secrets), check=True)
    assert run.rc == 0, run.output
    assert run.result["changed"] is True and run.result["delivered"] is False
    assert run.result["payload"] == {"channel": "#ops-alerts", "text": "preview"}
    assert stand_in_messages(slack) == []


def test_module_documentation_renders(tmp_path):
    for module in ("notify", "statuspage_incident"):
        done = subprocess.run([ansible_bin("ansible-doc"), f"ofm.rollback.{module}"], capture_output=True, text=True,
                              env=ansible_env(tmp_path), timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert f"ofm.rollback.{module}" in done.stdout and "EXAMPLES:" in done.stdout and "RETURN VALUES:" in done.stdout
