"""ofm.rollback.notify run by the real `ansible` and `ansible-playbook` against the lab's Slack stand-in."""
from __future__ import annotations

import json
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml
from ansible_cli import ansible_env, run_local_playbook
from ansible_cli import run_module as run_ansible_module
from labtest import ansible_bin, credentials

from lab.config import LabConfig


class Secrets(dict):
    """A dict of credentials whose repr hides them from pytest's failure reports."""

    def __repr__(self) -> str:
        return f"<{len(self)} secret value(s)>"


@dataclass
class AnsibleRun:
    """A module or play run: exit code, result (a play's maps each ``register`` name to its result), warnings and output."""

    rc: int
    result: dict[str, Any]
    warnings: list[str]
    output: str


def warnings_in(output: str) -> list[str]:
    return [line.split("[WARNING]: ", 1)[1] for line in output.splitlines() if "[WARNING]: " in line]


def run_module(workdir: Path, module: str, args: dict[str, Any], env: Optional[Secrets] = None, *, check: bool = False,
               diff: bool = False) -> AnsibleRun:
    """``ansible localhost -m ofm.rollback.<module>``, with credentials passed in the environment only."""
    done = run_ansible_module(module, args, workdir, check=check, diff=diff, env=env)
    output = done.stdout + done.stderr
    return AnsibleRun(done.returncode, done.result, warnings_in(output), output)


def run_play(workdir: Path, tasks: list[dict[str, Any]], env: Optional[Secrets] = None, *, diff: bool = False) -> AnsibleRun:
    """Run ``tasks`` in a play on localhost with ``ansible-playbook``, then save what each task registered."""
    results = workdir / "results.json"
    registered = ", ".join(f"'{task['register']}': {task['register']}" for task in tasks if "register" in task)
    save = {"name": "Save the registered results", "check_mode": False, "changed_when": False,
            "ansible.builtin.copy": {"content": "{{ {%s} | to_json }}" % registered, "dest": str(results), "mode": "0600"}}
    playbook = workdir / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Integration test play", "hosts": "localhost", "gather_facts": False,
                                         "tasks": [*tasks, save]}]))
    done = run_local_playbook(playbook, workdir, env={**(env or {}), **({"ANSIBLE_DIFF_ALWAYS": "true"} if diff else {})})
    output = done.stdout + done.stderr
    assert results.exists(), f"ansible-playbook exited {done.returncode} before saving its results:\n{output}"
    return AnsibleRun(done.returncode, json.loads(results.read_text()), warnings_in(output), output)


def lab_call(url: str, method: str = "GET", body: Any = None) -> Any:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture(autouse=True)
def no_credentials_from_the_caller(monkeypatch):
    for name in ("SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL", "STATUSPAGE_API_KEY", "STATUSPAGE_PAGE_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(name="slack")
def fixture_slack(lab: LabConfig):
    """The Slack stand-in's URL, with no messages and no fault before and after the test."""
    url = lab.url("slack")
    for path in ("/__lab/messages", "/__lab/faults"):
        lab_call(url + path, "DELETE")
    yield url
    lab_call(url + "/__lab/faults", "DELETE")


@pytest.fixture(name="secrets")
def fixture_secrets(lab: LabConfig) -> Secrets:
    return Secrets(credentials(lab))


def messages(slack: str) -> list[dict[str, Any]]:
    return lab_call(slack + "/__lab/messages")["messages"]


def api_env(secrets: Secrets, token: Optional[str] = None) -> Secrets:
    return Secrets(SLACK_BOT_TOKEN=token or secrets["slack_bot_token"])


def test_webhook_message_is_stored_with_text_and_blocks(slack, secrets, tmp_path):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Rollback complete* for INC-4242"}}]
    run = run_module(tmp_path, "notify", {"text": "Rollback complete", "blocks": blocks},
                     Secrets(SLACK_WEBHOOK_URL=slack + secrets["slack_webhook_path"]))
    assert run.rc == 0, run.output
    assert run.result["changed"] is True and run.result["delivered"] is True and run.result["method"] == "webhook"
    stored = messages(slack)
    assert [(message["kind"], message["text"], message["blocks"]) for message in stored] == [("webhook", "Rollback complete", blocks)]
    assert secrets["slack_webhook_path"].rsplit("/", 1)[1] not in run.output


def test_api_post_then_thread_reply_then_edit_through_a_playbook(slack, secrets, tmp_path):
    api = slack + "/api"
    play = run_play(tmp_path, [
        {"name": "Announce", "register": "announcement",
         "ofm.rollback.notify": {"api_url": api, "channel": "#ops-alerts", "text": "Rollback started"}},
        {"name": "Reply in the thread", "register": "reply",
         "ofm.rollback.notify": {"api_url": api, "channel": "{{ announcement.channel }}", "thread_ts": "{{ announcement.ts }}",
                                 "text": "Traffic is on stable"}},
        {"name": "Edit the announcement", "register": "edit",
         "ofm.rollback.notify": {"api_url": api, "channel": "{{ announcement.channel }}", "update_ts": "{{ announcement.ts }}",
                                 "text": "Rollback complete"}},
    ], api_env(secrets))
    assert play.rc == 0, play.output
    post, reply, edit = messages(slack)
    assert (post["kind"], post["channel"], post["text"], post["thread_ts"]) == ("chat.postMessage", "C0OPSALRT", "Rollback started", None)
    assert play.result["announcement"]["ts"] == post["ts"] and play.result["announcement"]["channel"] == "C0OPSALRT"
    assert (reply["kind"], reply["text"], reply["thread_ts"]) == ("chat.postMessage", "Traffic is on stable", post["ts"])
    assert play.result["reply"]["thread_ts"] == post["ts"] and play.result["reply"]["ts"] == reply["ts"] != post["ts"]
    assert (edit["kind"], edit["ts"], edit["text"]) == ("chat.update", post["ts"], "Rollback complete")
    assert play.result["edit"]["ts"] == post["ts"] and play.result["edit"]["changed"] is True
    assert secrets["slack_bot_token"] not in play.output


def test_bad_token_warns_and_is_not_delivered(slack, secrets, tmp_path):
    bad = "xoxb-not-a-lab-token-1234"
    run = run_module(tmp_path, "notify", {"api_url": slack + "/api", "channel": "#ops-alerts", "text": "x"}, api_env(secrets, bad))
    assert run.rc == 0, run.output
    assert run.result["delivered"] is False and run.result.get("failed") is not True
    assert run.result["error"]["reason"] == "invalid_auth: Slack does not accept the token"
    assert any(warning.startswith("Slack Web API: chat.postMessage on #ops-alerts failed: invalid_auth") for warning in run.warnings)
    assert messages(slack) == []
    assert bad not in run.output


def test_bad_token_fails_when_required(slack, secrets, tmp_path):
    run = run_module(tmp_path, "notify", {"api_url": slack + "/api", "channel": "#ops-alerts", "text": "x", "required": True},
                     api_env(secrets, "xoxb-not-a-lab-token-1234"))
    assert run.rc != 0 and "localhost | FAILED!" in run.output
    assert run.result["delivered"] is False and run.result["error"]["type"] == "AuthenticationError"


def test_server_error_warns_and_duplicates_nothing(slack, secrets, tmp_path):
    lab_call(slack + "/__lab/faults", "PUT", {"status": 500, "count": 1})
    args = {"api_url": slack + "/api", "channel": "#ops-alerts", "text": "once", "retries": 3}
    failed = run_module(tmp_path, "notify", args, api_env(secrets))
    assert failed.rc == 0, failed.output
    assert failed.result["delivered"] is False and failed.result["error"]["status"] == 500
    assert [entry["status"] for entry in failed.result["requests"]] == [500]
    assert any("may have reached the server" in warning for warning in failed.warnings)
    assert messages(slack) == []
    assert lab_call(slack + "/__lab/faults")["fault"] is None

    delivered = run_module(tmp_path, "notify", args, api_env(secrets))
    assert delivered.result["delivered"] is True and delivered.result["ts"]
    assert [message["text"] for message in messages(slack)] == ["once"]


def test_check_mode_sends_nothing(slack, secrets, tmp_path):
    run = run_module(tmp_path, "notify", {"api_url": slack + "/api", "channel": "#ops-alerts", "text": "preview"}, api_env(secrets),
                     check=True)
    assert run.rc == 0, run.output
    assert run.result["changed"] is True and run.result["delivered"] is False
    assert run.result["payload"] == {"channel": "#ops-alerts", "text": "preview"}
    assert messages(slack) == []


def test_module_documentation_renders(tmp_path):
    for module in ("notify", "statuspage_incident"):
        done = subprocess.run([ansible_bin("ansible-doc"), f"ofm.rollback.{module}"], capture_output=True, text=True,
                              env=ansible_env(tmp_path), timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert f"ofm.rollback.{module}" in done.stdout and "EXAMPLES:" in done.stdout and "RETURN VALUES:" in done.stdout
