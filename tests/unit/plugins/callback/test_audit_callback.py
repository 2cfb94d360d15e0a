# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit callback: redaction, actor and launch detection, diff and result summaries, and its events end to end.

Events are driven with small stand-ins for Ansible's play and task result objects; tests/integration/test_audit_callback.py
drives the callback through real ansible-playbook runs.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import pytest
from unithelpers import serving

from ansible_collections.ofm.rollback.plugins.callback import audit
from ansible_collections.ofm.rollback.plugins.module_utils import audit_anchor
from ansible_collections.ofm.rollback.plugins.module_utils.audit import read_records, verify_chain
from ansible_collections.ofm.rollback.plugins.module_utils.redact import REDACTED

from lab.services.common import JsonlFile
from lab.services.ops_api import AuditLog, Authenticator, CanaryOps, OpsApi, Principal, RequestJournal

SECRET = "s3cr3t-Value-42"


@pytest.mark.parametrize("key", [
    "password", "db_password", "PASSWD", "api_token", "client_secret", "api_key", "apiKey", "X-Api-Key", "key", "ssh_key",
    "sshKey", "SSH_KEY", "Cookie", "session_id", "Authorization", "aws_credentials", "slack_webhook_url", "webhookUrl",
    "private_key_file",
])
def test_secret_keys_are_recognised(key: str):
    assert audit.is_secret_key(key)


@pytest.mark.parametrize("key", ["monkey", "keyspace", "name", "path", "dest", "reason", "incident_id", 3])
def test_ordinary_keys_are_not_secret(key: Any):
    assert not audit.is_secret_key(key)


def test_scrub_masks_secret_keys_at_any_depth_and_keeps_the_rest():
    value = {
        "name": "ofm-social-os",
        "headers": {"Authorization": f"Bearer {SECRET}", "Accept": "application/json"},
        "steps": [{"db_password": SECRET, "host": "db"}, {"token": 12345}],
        "credentials": {"user": "ops", "pass": SECRET},
        "validate_certs": True,
        "api_key": None,
        "session": "",
    }
    assert audit.scrub(value) == {
        "name": "ofm-social-os",
        "headers": {"Authorization": REDACTED, "Accept": "application/json"},
        "steps": [{"db_password": REDACTED, "host": "db"}, {"token": REDACTED}],
        "credentials": REDACTED,
        "validate_certs": True,
        "api_key": None,
        "session": "",
    }


@pytest.mark.parametrize("text", [
    f"https://deploy:{SECRET}@git.example.com/ops.git",
    f"Authorization: Bearer {SECRET}",
    f"Cookie: connect.sid={SECRET}",
    f"curl https://ops.example.com/logs?access_token={SECRET}",
    f"posted to https://hooks.slack.com/services/T000/B000/{SECRET}",
])
def test_scrub_redacts_credentials_inside_strings(text: str):
    scrubbed = audit.scrub({"msg": text, "nested": [[text]]})
    assert SECRET not in json.dumps(scrubbed)
    assert REDACTED in scrubbed["msg"]


def test_scrub_shortens_long_strings_and_lists_and_makes_values_json_ready():
    scrubbed = audit.scrub({"content": "x" * 5000, "items": list(range(250)), "ratio": float("nan"), "raw": b"bytes", "pair": (1, 2)})
    assert scrubbed["content"].startswith("x" * audit.MAX_TEXT) and scrubbed["content"].endswith("[3976 more characters]")
    assert scrubbed["items"][:audit.MAX_LIST] == list(range(audit.MAX_LIST)) and scrubbed["items"][-1] == "...[150 more items]"
    assert scrubbed["ratio"] == "nan" and scrubbed["raw"] == "bytes" and scrubbed["pair"] == [1, 2]
    json.dumps(scrubbed, allow_nan=False)


@pytest.mark.parametrize("extra_vars, environ, actor", [
    ({"awx_user_name": "alice", "awx_user_email": "alice@ofm.social"}, {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "bot"},
     {"name": "alice", "email": "alice@ofm.social", "source": "awx"}),
    ({"tower_user_name": "bob"}, {}, {"name": "bob", "email": None, "source": "awx"}),
    ({}, {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octocat"}, {"name": "octocat", "email": None, "source": "ci"}),
    ({}, {"GITLAB_CI": "true", "GITLAB_USER_LOGIN": "gl-user", "GITLAB_USER_EMAIL": "gl@ofm.social"},
     {"name": "gl-user", "email": "gl@ofm.social", "source": "ci"}),
    ({}, {"JENKINS_URL": "https://jenkins.ofm.social/", "BUILD_USER": "Jenkins Jane", "BUILD_USER_EMAIL": "jane@ofm.social"},
     {"name": "Jenkins Jane", "email": "jane@ofm.social", "source": "ci"}),
    ({}, {"JENKINS_URL": "https://jenkins.ofm.social/", "BUILD_USER_ID": "jjane"}, {"name": "jjane", "email": None, "source": "ci"}),
    ({}, {"CI": "true", "USER": "runner"}, {"name": "runner", "email": None, "source": "ci"}),
    ({}, {"JENKINS_URL": "https://jenkins.ofm.social/"}, {"name": "oncall", "email": None, "source": "os"}),
    ({}, {"USER": "someone"}, {"name": "oncall", "email": None, "source": "os"}),
], ids=["awx wins over ci", "tower", "github", "gitlab", "jenkins build user", "jenkins build user id", "generic ci",
        "jenkins without user", "os"])
def test_actor_detection(extra_vars: dict[str, Any], environ: dict[str, str], actor: dict[str, Any]):
    assert audit.detect_actor(extra_vars, environ, "oncall") == actor


def test_launch_from_awx_names_the_job():
    launch = audit.detect_launch({"awx_job_id": 812, "awx_job_template_name": "Emergency rollback"}, {"CI": "true"})
    assert launch["source"] == "awx" and launch["awx_job_id"] == "812" and launch["awx_job_template_name"] == "Emergency rollback"
    assert launch["controller"]


@pytest.mark.parametrize("environ, system, url", [
    ({"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "ofm/ops", "GITHUB_RUN_ID": "77"},
     "github", "https://github.com/ofm/ops/actions/runs/77"),
    ({"GITLAB_CI": "true", "CI_PIPELINE_URL": "https://gitlab.com/ofm/ops/-/pipelines/5"}, "gitlab", "https://gitlab.com/ofm/ops/-/pipelines/5"),
    ({"JENKINS_URL": "https://j/", "BUILD_URL": f"https://ci:{SECRET}@jenkins.ofm.social/job/rollback/9/"}, "jenkins",
     f"https://{REDACTED}@jenkins.ofm.social/job/rollback/9/"),
    ({"CI": "1"}, "generic", None),
])
def test_launch_from_ci_names_the_pipeline(environ: dict[str, str], system: str, url: Optional[str]):
    launch = audit.detect_launch({}, environ)
    assert (launch["source"], launch["ci_system"], launch["ci_pipeline_url"]) == ("ci", system, url)


def test_launch_from_a_terminal_is_cli():
    assert audit.detect_launch({}, {"USER": "oncall"})["source"] == "cli"


def test_command_line_keeps_options_but_not_extra_vars_values():
    argv = ["ansible-playbook", "-i", "inv", "-e", f"db_password={SECRET}", f"--extra-vars={SECRET}", f"-e{SECRET}",
            "--extra-vars", "@vars.yml", "playbooks/emergency.yml", "-e", "incident_id=INC-1"]
    command = audit.redact_command(argv)
    assert SECRET not in json.dumps(command)
    assert command == ["ansible-playbook", "-i", "inv", "-e", REDACTED, f"--extra-vars={REDACTED}", f"-e{REDACTED}",
                       "--extra-vars", REDACTED, "playbooks/emergency.yml", "-e", REDACTED]


def test_diff_summary_counts_lines_without_content():
    diff = [
        {"before_header": "/etc/ofm/app.conf", "after_header": "/etc/ofm/app.conf", "before": f"a\nb\npassword={SECRET}\n",
         "after": "a\nB\nc\nd\n"},
        {"before": {"path": "/srv/flag", "state": "absent"}, "after": {"path": "/srv/flag", "state": "touch"}},
        {"prepared": "--- before\n+++ after\n@@ -1 +1,2 @@\n-old\n+new\n+more\n"},
    ]
    summaries = audit.summarize_diffs(diff)
    assert summaries == [
        {"object": "/etc/ofm/app.conf", "added": 3, "removed": 2},
        {"object": "/srv/flag", "added": 1, "removed": 1},
        {"object": None, "added": 2, "removed": 1},
    ]
    assert audit.summarize_diffs({"before": "", "after": "x\n"}) == [{"object": None, "added": 1, "removed": 0}]


def test_result_summary_keeps_message_audit_lists_and_attempts_redacted():
    result = {
        "msg": "rolled back", "rc": 0, "attempts": 2, "stdout": "lots of output", "ansible_facts": {"x": 1},
        "requests": [{"method": "POST", "url": "https://internal.ofm.social/internal/ops/canary/rollback",
                      "headers": {"Cookie": f"connect.sid={SECRET}"}}],
        "results": [{"commands": ["argo rollouts abort api"]}, {"queries": [f"ALTER ROLE ops PASSWORD '{SECRET}'"]}],
    }
    summary = audit.summarize_result(result)
    assert set(summary) == {"msg", "rc", "attempts", "requests", "commands", "queries"}
    assert summary["requests"][0]["headers"]["Cookie"] == REDACTED
    assert summary["commands"] == ["argo rollouts abort api"]
    assert summary["msg"] == "rolled back" and summary["attempts"] == 2


def test_module_args_prefer_the_templated_invocation_and_drop_unset_options():
    result = {"invocation": {"module_args": {"dest": "/srv/app.conf", "owner": None, "token": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}}}
    assert audit.module_args(result, {"dest": "{{ app_dir }}/app.conf"}) == {"dest": "/srv/app.conf", "token": REDACTED}
    assert audit.module_args({}, {"dest": "{{ app_dir }}/app.conf", "password": "{{ vault_pw }}"}) == {
        "dest": "{{ app_dir }}/app.conf", "password": REDACTED}


def test_loop_items_fold_into_small_entries():
    results = [
        {"_ansible_item_label": "marker-a", "changed": True, "invocation": {"module_args": {"path": "/srv/a", "mode": None}}},
        {"item": {"name": "b", "api_token": SECRET}, "ansible_loop_var": "item", "failed": True, "msg": "permission denied"},
        {"flag": "c", "ansible_loop_var": "flag", "skipped": True},
    ]
    assert audit.fold_items(results) == [
        {"index": 0, "label": "marker-a", "status": "changed", "changed": True, "args": {"path": "/srv/a"}},
        {"index": 1, "label": {"name": "b", "api_token": REDACTED}, "status": "failed", "changed": False, "msg": "permission denied"},
        {"index": 2, "label": "c", "status": "skipped", "changed": False},
    ]


def test_censored_results_are_recognised():
    assert audit.is_censored(True, {})
    assert audit.is_censored(False, {"_ansible_no_log": True})
    assert audit.is_censored("{{ hide }}", {"censored": "the output has been hidden"})
    assert not audit.is_censored(False, {"changed": True})


def test_literal_values_ignore_templates_and_empty_values():
    variables = {"rollback_incident_id": "{{ lookup('env', 'INC') }}", "incident_id": "INC-9", "other": "x"}
    assert audit.literal_values(variables, ["rollback_incident_id", "incident_id"]) == {"incident_id": "INC-9"}
    assert not audit.literal_values({"incident_id": ""}, ["incident_id"])


def test_utc_time_has_milliseconds_and_zulu():
    assert len(audit.utc_now()) == len("2025-01-01T03:00:00.123Z") and audit.utc_now().endswith("Z")


class Display:
    verbosity = 0

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str) -> None:
        self.warnings.append(message)


class Result:
    """What the callback reads from Ansible's CallbackTaskResult."""

    def __init__(self, host: str, result: dict[str, Any], *, name: str = "Roll back", args: Optional[dict[str, Any]] = None,
                 no_log: Any = False, check_mode: Any = False) -> None:
        self.host = SimpleNamespace(get_name=lambda: host)
        self.task = SimpleNamespace(no_log=no_log, args=args or {}, action="ofm.rollback.ops_canary_rollback",
                                    resolved_action="ofm.rollback.ops_canary_rollback", check_mode=check_mode,
                                    get_path=lambda: "playbooks/emergency.yml:12")
        self.task_fields = {"check_mode": check_mode}
        self.task_name = name
        self.result = result

    def is_changed(self) -> bool:
        return bool(self.result.get("changed"))


def play(extra_vars: dict[str, Any], play_vars: Optional[dict[str, Any]] = None) -> SimpleNamespace:
    manager = SimpleNamespace(extra_vars=extra_vars)
    return SimpleNamespace(get_variable_manager=lambda: manager, vars=play_vars or {}, get_name=lambda: "Emergency rollback")


def stats(*hosts: str, failures: int = 0) -> SimpleNamespace:
    summary = {"ok": 1, "changed": 1, "failures": failures, "unreachable": 0, "skipped": 0, "rescued": 0, "ignored": 0}
    return SimpleNamespace(processed={host: 1 for host in hosts}, summarize=lambda host: dict(summary))


def callback(log_path: Path) -> audit.CallbackModule:
    plugin = audit.CallbackModule(display=Display())
    plugin._plugin_options = {"log_path": str(log_path), "incident_var_names": ["rollback_incident_id", "incident_id"]}
    return plugin


def test_a_run_writes_start_task_and_end_records_on_one_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    log = tmp_path / "audit.jsonl"
    plugin = callback(log)
    plugin.v2_playbook_on_start(SimpleNamespace(_file_name="playbooks/emergency.yml"))
    plugin.v2_playbook_on_play_start(play({"awx_user_name": "alice", "awx_job_id": 5, "incident_id": "INC-1"}))
    plugin.v2_runner_on_ok(Result("api-1", {"changed": True, "msg": "Canary rollback initiated",
                                            "invocation": {"module_args": {"reason": "p95 breach", "session_cookie": SECRET}},
                                            "diff": {"before": "canary: 20\n", "after": "canary: 0\n"}}))
    plugin.v2_runner_on_failed(Result("api-2", {"msg": "timeout"}, name=f"Call https://ops:{SECRET}@internal.ofm.social"), ignore_errors=True)
    plugin.v2_runner_on_skipped(Result("api-3", {"skipped": True}))
    plugin.v2_runner_on_unreachable(Result("api-4", {"unreachable": True, "msg": "ssh: connect refused"}))
    plugin.v2_playbook_on_stats(stats("api-1", "api-2", failures=1))

    records = read_records(str(log))
    assert [record["type"] for record in records] == ["run_start", "task", "task", "task", "task", "run_end"]
    assert len({record["run_id"] for record in records}) == 1
    assert all(record["actor"] == {"name": "alice", "email": None, "source": "awx"} for record in records)
    assert all(record["launch"]["awx_job_id"] == "5" for record in records)
    changed, failed, skipped, unreachable = records[1:5]
    assert (changed["status"], changed["changed"], changed["module"], changed["host"]) == ("changed", True, "ofm.rollback.ops_canary_rollback", "api-1")
    assert changed["args"] == {"reason": "p95 breach", "session_cookie": REDACTED}
    assert changed["diff_summary"] == [{"object": None, "added": 1, "removed": 1}]
    assert changed["result"] == {"msg": "Canary rollback initiated"}
    assert changed["incident_id"] == "INC-1" and changed["task_path"] == "playbooks/emergency.yml:12"
    assert (failed["status"], failed["failed"], failed["ignore_errors"]) == ("failed", True, True)
    assert failed["task"] == f"Call https://{REDACTED}@internal.ofm.social"
    assert skipped["status"] == "skipped" and unreachable["status"] == "unreachable"
    assert records[-1]["status"] == "failed" and set(records[-1]["stats"]) == {"api-1", "api-2"}
    assert records[0]["playbook"].endswith("playbooks/emergency.yml") and records[0]["extra_vars"] == ["awx_job_id", "awx_user_name", "incident_id"]
    assert SECRET not in log.read_text()
    assert verify_chain(str(log)).ok


def test_no_log_tasks_keep_only_their_status(tmp_path: Path):
    log = tmp_path / "audit.jsonl"
    plugin = callback(log)
    plugin.v2_playbook_on_play_start(play({}))
    censored = {"changed": True, "censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result",
                "results": [{"changed": True, "censored": "hidden"}, {"changed": False, "censored": "hidden"}]}
    plugin.v2_runner_on_ok(Result("api-1", censored, args={"password": SECRET, "note": SECRET}, no_log=True))
    task = read_records(str(log))[1]
    assert (task["args"], task["result"], task["diff_summary"], task["item_count"]) == ("censored", {}, [], 2)
    assert task["status"] == "changed" and "items" not in task
    assert SECRET not in log.read_text()


def test_incident_follows_facts_per_host_and_extra_vars_win(tmp_path: Path):
    log = tmp_path / "audit.jsonl"
    plugin = callback(log)
    plugin.v2_playbook_on_play_start(play({}, {"incident_id": "INC-1"}))
    plugin.v2_runner_on_ok(Result("api-1", {"ansible_facts": {"rollback_incident_id": "INC-2"}}, name="Open the incident"))
    plugin.v2_runner_on_ok(Result("api-1", {}, name="after, same host"))
    plugin.v2_runner_on_ok(Result("api-2", {}, name="after, other host"))
    plugin.v2_playbook_on_stats(stats("api-1", "api-2"))
    incidents = {record.get("task", record["type"]): record["incident_id"] for record in read_records(str(log))}
    assert incidents == {"run_start": "INC-1", "Open the incident": "INC-2", "after, same host": "INC-2",
                         "after, other host": "INC-1", "run_end": "INC-1"}
    assert read_records(str(log))[-1]["incident_ids"] == ["INC-1", "INC-2"]

    override = callback(tmp_path / "override.jsonl")
    override.v2_playbook_on_play_start(play({"rollback_incident_id": "INC-X"}))
    override.v2_runner_on_ok(Result("api-1", {"ansible_facts": {"rollback_incident_id": "INC-2"}}))
    assert read_records(str(tmp_path / "override.jsonl"))[1]["incident_id"] == "INC-X"


def test_check_mode_comes_from_the_task(tmp_path: Path):
    log = tmp_path / "audit.jsonl"
    plugin = callback(log)
    plugin.v2_playbook_on_play_start(play({}))
    plugin.v2_runner_on_ok(Result("api-1", {"changed": True}, check_mode=True))
    plugin.v2_runner_on_ok(Result("api-1", {"changed": True}, check_mode=False))
    assert [record["check_mode"] for record in read_records(str(log))[1:]] == [True, False]


def test_write_failures_warn_once_never_raise_and_are_counted_in_run_end(tmp_path: Path):
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the log directory should be")
    plugin = callback(blocker / "audit.jsonl")
    plugin.v2_playbook_on_play_start(play({}))
    plugin.v2_runner_on_ok(Result("api-1", {"changed": True}))
    plugin.v2_runner_on_ok(Result("api-1", {"changed": False}))
    assert len(plugin._display.warnings) == 1
    assert "ofm.rollback.audit" in plugin._display.warnings[0] and str(blocker) in plugin._display.warnings[0]

    blocker.unlink()
    plugin.v2_playbook_on_stats(stats("api-1"))
    (run_end,) = read_records(str(blocker / "audit.jsonl"))
    assert run_end["type"] == "run_end"
    assert run_end["audit_errors"]["lost_records"] == 3 and str(blocker) in run_end["audit_errors"]["error"]


KEY = "callback-HMAC-key-5d1c"
OPS_TOKEN = "callback-ops-TOKEN-8e2a"


def anchoring_callback(log_path: Path, **options: Any) -> audit.CallbackModule:
    plugin = callback(log_path)
    plugin._plugin_options.update(options)
    return plugin


def one_run(plugin: audit.CallbackModule, failures: int = 0) -> list[dict[str, Any]]:
    plugin.v2_playbook_on_start(SimpleNamespace(_file_name="playbooks/emergency.yml"))
    plugin.v2_playbook_on_play_start(play({"incident_id": "INC-9"}))
    plugin.v2_runner_on_ok(Result("api-1", {"changed": True}))
    if failures:
        plugin.v2_runner_on_failed(Result("api-1", {"msg": "boom"}))
    plugin.v2_playbook_on_stats(stats("api-1", failures=failures))
    return read_records(str(plugin.get_option("log_path")))


@pytest.mark.parametrize("failures", [0, 1], ids=["ok run", "failed run"])
def test_every_run_end_is_anchored_in_the_anchor_file_with_an_hmac(tmp_path: Path, failures: int):
    log, anchors = tmp_path / "audit.jsonl", tmp_path / "anchors" / "anchors.jsonl"
    plugin = anchoring_callback(log, anchor_path=str(anchors), hmac_key=KEY)
    one_run(plugin)
    records = one_run(plugin, failures=failures)
    run_end = records[-1]
    assert run_end["type"] == "run_end" and run_end["status"] == ("failed" if failures else "ok")
    first, second = (json.loads(line) for line in anchors.read_text().splitlines())
    assert (second["seq"], second["hash"], second["run_id"], second["time"]) == (run_end["seq"], run_end["hash"], run_end["run_id"], run_end["time"])
    assert second["run_records"] == 3 + failures and first["seq"] == 3 and second["chain"] == first["chain"] == records[0]["hash"][:16]
    assert second["hmac"] == audit_anchor.anchor_hmac(second, KEY)
    assert not plugin._display.warnings
    assert KEY not in log.read_text() + anchors.read_text()


def test_no_anchor_without_a_destination(tmp_path: Path):
    records = one_run(anchoring_callback(tmp_path / "audit.jsonl", hmac_key=KEY))
    assert records[-1]["type"] == "run_end" and not list(tmp_path.glob("*anchor*"))


@pytest.fixture(name="ops_api_stand_in")
def fixture_ops_api_stand_in(tmp_path: Path) -> Any:
    """The lab's ops API stand-in serving its audit routes from a thread, with one admin token."""
    admin = Principal("oidc|auditor", "auditor@ofm.social", ("admin",))
    app = OpsApi(Authenticator({}, {OPS_TOKEN: admin}), CanaryOps(SimpleNamespace(), "ofm_api", "stable", "canary", [100]),
                 AuditLog(JsonlFile(str(tmp_path / "ops-audit.jsonl"))), RequestJournal(None), [ipaddress.ip_network("127.0.0.0/8")])
    with serving(app.handler()) as url:
        yield SimpleNamespace(url=url, app=app)


def test_the_anchor_goes_through_the_ops_api_audit_route(tmp_path: Path, ops_api_stand_in):
    plugin = anchoring_callback(tmp_path / "audit.jsonl", anchor_ops_api_url=ops_api_stand_in.url, anchor_ops_api_token=OPS_TOKEN,
                                anchor_ops_api_validate_certs=True, anchor_timeout=5.0)
    records = one_run(plugin)
    [row] = ops_api_stand_in.app.audit.query(10, action="rollback.audit_anchor")
    assert row["resource"] == f"audit-chain:{records[0]['hash'][:16]}" and row["actor_sub"] == "oidc|auditor"
    assert row["meta"]["anchor"]["seq"] == records[-1]["seq"] and "hmac" not in row["meta"]["anchor"]
    assert row["ua"].startswith("ofm.rollback/") and not plugin._display.warnings


@pytest.mark.reliability("anchor", procedure="all", case="audit anchor destinations fail (ops API refuses the token, anchor file unwritable, "
                         "audit table unreachable)", expected="went on, failure recorded in the audit log and printed")
def test_anchors_that_cannot_be_written_never_fail_the_run_and_are_recorded_in_the_log(tmp_path: Path, ops_api_stand_in, reliability):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the anchor directory should be")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    log = tmp_path / "audit.jsonl"
    plugin = anchoring_callback(log, hmac_key=KEY, anchor_path=str(blocker / "anchors.jsonl"), anchor_ops_api_url=ops_api_stand_in.url,
                                anchor_ops_api_token="not-" + OPS_TOKEN, db_dsn=f"host=127.0.0.1 port={closed} dbname=ofm user=ofm_audit",
                                db_password="db-" + KEY, db_table="audit_logs", db_batch=50, db_flush_interval=0.1, db_flush_timeout=5.0)
    records = one_run(plugin)
    run_end, failed = records[-2:]
    assert run_end["type"] == "run_end" and failed["type"] == "anchor_failed" and failed["run_id"] == run_end["run_id"]
    assert failed["anchor"] == {"chain": records[0]["hash"][:16], "seq": run_end["seq"], "hash": run_end["hash"]}
    assert sorted(failed["failed"]) == ["file", "ops_api", "table"] and failed["written"] == []
    assert "401" in failed["failed"]["ops_api"] and str(blocker) in failed["failed"]["file"]
    warning = plugin._display.warnings[-1]
    assert f"the chain's head (seq {run_end['seq']}) was not anchored" in warning and f"records it (seq {failed['seq']})" in warning
    assert not ops_api_stand_in.app.audit.query(10)
    everything = log.read_text() + "".join(plugin._display.warnings)
    assert KEY not in everything and OPS_TOKEN not in everything
    assert verify_chain(str(log)).ok
    reliability.observed(f"run went on; anchor_failed record names {', '.join(sorted(failed['failed']))}; warning printed")


@pytest.mark.reliability("anchor", procedure="all", case="the previous run was killed mid-record: torn last line in the audit log",
                         expected="torn line named by the next record, chain continues")
def test_a_run_after_a_killed_one_names_the_torn_line_and_continues_the_chain(tmp_path: Path, reliability):
    log = tmp_path / "audit.jsonl"
    one_run(callback(log))
    intact = log.read_bytes()
    cut = b'{"actor":{"email":null,"name":"root"},"args":{"da'
    log.write_bytes(intact + cut)
    plugin = callback(log)
    records = one_run(plugin)
    torn, run_start = records[3:5]
    assert torn["type"] == "torn_line" and run_start["type"] == "run_start" and torn["run_id"] == run_start["run_id"]
    assert torn["torn"] == [{"offset": len(intact), "length": len(cut), "sha256": hashlib.sha256(cut).hexdigest()}]
    assert log.read_bytes()[len(intact):len(intact) + len(cut) + 1] == cut + b"\n"
    assert torn["after_seq"] == 3 and torn["prev_hash"] == records[2]["hash"]
    assert f"record seq {torn['seq']} (torn_line)" in plugin._display.warnings[0] and f"{len(cut)} bytes at byte {len(intact)}" in plugin._display.warnings[0]
    result = verify_chain(str(log))
    assert result.ok and [line["repaired_by_seq"] for line in result.torn_lines] == [4]
    reliability.observed("torn_line record seq 4 names the cut line (offset, length, sha256); chain verifies")
