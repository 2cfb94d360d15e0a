# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit callback inside real ansible-playbook runs, and audit_verify through real ansible ad-hoc runs.

Needs no lab: the playbook runs against localhost. The ansible binaries are those next to the Python running pytest.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from labtest import run_local_playbook, run_module

from ansible_collections.ofm.rollback.plugins.module_utils.audit import GENESIS_HASH, canonical_json, read_records, verify_chain
from lab.config import REPO_ROOT

# Reads or changes the lab's shared state: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab

PLAYBOOK = REPO_ROOT / "tests" / "integration" / "playbooks" / "audit-trail.yml"
SECRET = "Hunter2-audit-SECRET-value"
TOKEN = "tok-audit-SECRET-token"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit")


def run_playbook(workdir: Path, log: Path, run: int) -> None:
    extra_vars = {"awx_user_name": "alice", "incident_id": "INC-77", "audit_dir": str(workdir), "audit_run": run,
                  "audit_secret": SECRET, "audit_api_token": TOKEN}
    completed = run_local_playbook(PLAYBOOK, workdir, extra_vars=extra_vars, options=["--diff"],
                                   env={"ANSIBLE_CALLBACKS_ENABLED": "ofm.rollback.audit", "OFM_AUDIT_LOG": str(log)}, timeout=300)
    assert completed.returncode == 0, f"ansible-playbook run {run} exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}"


def audit_verify(workdir: Path, log: Path) -> dict[str, Any]:
    """The result of ``ansible localhost -m ofm.rollback.audit_verify -a path=<log>``, which exits 2 exactly when it fails."""
    run = run_module("audit_verify", {"path": str(log)}, workdir)
    assert run.rc == (2 if run.result.get("failed") else 0), run.stderr
    return run.result


@pytest.fixture(scope="module")
def log(workdir: Path) -> Path:
    path = workdir / "logs" / "audit.jsonl"
    run_playbook(workdir, path, 1)
    run_playbook(workdir, path, 2)
    return path


@pytest.fixture(scope="module")
def runs(log: Path) -> list[dict[str, dict[str, Any]]]:
    """Per run, in order: the records keyed by task name (and ``run_start`` / ``run_end``)."""
    by_run: dict[str, dict[str, dict[str, Any]]] = {}
    for record in read_records(str(log)):
        by_run.setdefault(record["run_id"], {})[record.get("task") or record["type"]] = record
    return list(by_run.values())


def test_two_runs_form_one_chain_of_start_task_and_end_records(log: Path, runs):
    records = read_records(str(log))
    assert [record["seq"] for record in records] == list(range(1, len(records) + 1))
    assert records[0]["prev_hash"] == GENESIS_HASH
    assert len(runs) == 2
    for run in runs:
        kinds = [record["type"] for record in run.values()]
        assert kinds[0] == "run_start" and kinds[-1] == "run_end" and set(kinds[1:-1]) == {"task"}
        assert len(kinds) == 11
    assert verify_chain(str(log)).ok


def test_every_record_names_the_awx_actor_and_the_playbook(log: Path):
    for record in read_records(str(log)):
        assert record["actor"] == {"name": "alice", "email": None, "source": "awx"}
        assert record["launch"]["source"] == "awx"
        assert record["playbook"] == str(PLAYBOOK)


@pytest.mark.reliability("secret", procedure="all", case="audit callback: a no_log task, credentials in a URL and a token argument",
                         expected="no secret in any output")
def test_secrets_never_reach_the_log(log: Path, runs, reliability):
    text = log.read_text()
    assert SECRET not in text and TOKEN not in text
    for run in runs:
        hidden = run["Use the secret without logging it"]
        assert (hidden["args"], hidden["result"], hidden["status"]) == ("censored", {}, "ok")
        argv = run["Call an endpoint with credentials in its URL and a token argument"]["args"]["argv"]
        assert argv == ["/bin/true", "https://********@git.example.invalid/ops.git", "--api-token=********"]
        assert run["run_start"]["extra_vars"] == ["audit_api_token", "audit_dir", "audit_run", "audit_secret", "awx_user_name", "incident_id"]
    reliability.observed("the no_log task censored, the URL's credentials and the token masked in the audit log")


def test_the_incident_follows_set_fact(runs):
    for run in runs:
        incidents = {name: record["incident_id"] for name, record in run.items()}
        assert incidents["run_start"] == incidents["Write the service configuration"] == "INC-77"
        assert incidents["Open the incident"] == incidents["Check the canary"] == "INC-78"
        assert run["run_end"]["incident_ids"] == ["INC-77", "INC-78"]


def test_changes_are_summarised_with_templated_args_and_line_counts(workdir: Path, runs):
    first, second = (run["Write the service configuration"] for run in runs)
    assert first["module"] == "ansible.builtin.copy" and first["args"]["dest"] == str(workdir / "service.conf")
    assert (first["status"], first["diff_summary"]) == ("changed", [{"object": str(workdir / "service.conf"), "added": 2, "removed": 0}])
    assert (second["status"], second["diff_summary"]) == ("changed", [{"object": str(workdir / "service.conf"), "added": 1, "removed": 1}])


def test_loop_items_fold_into_their_task(runs):
    markers = runs[0]["Touch the markers"]
    assert [(item["label"], item["status"], item["args"]["path"].rsplit("/", 1)[-1]) for item in markers["items"]] == [
        ("marker-a", "changed", "marker-a"), ("marker-b", "changed", "marker-b")]
    assert markers["result"]["msg"] == "All items completed"


def test_statuses_failure_rescue_skip_and_check_mode(runs):
    run = runs[0]
    failed = run["Check the canary"]
    assert (failed["status"], failed["failed"], failed["changed"]) == ("failed", True, False)
    assert run["Record the recovery"]["status"] == "ok"
    assert run["Skip a step that does not apply"]["status"] == "skipped"
    assert run["Preview a change without making it"]["check_mode"] is True
    assert run["Write the service configuration"]["check_mode"] is False
    assert run["run_end"]["status"] == "ok"
    assert run["run_end"]["stats"]["localhost"]["rescued"] == 1 and run["run_end"]["stats"]["localhost"]["failures"] == 0


def test_audit_verify_accepts_the_intact_log(workdir: Path, log: Path):
    result = audit_verify(workdir, log)
    records = read_records(str(log))
    assert "failed" not in result and result["ok"] is True and result["changed"] is False and result["first_broken"] is None
    assert (result["records"], result["runs"], result["incidents"]) == (len(records), 2, ["INC-77", "INC-78"])
    assert result["last_hash"] == records[-1]["hash"]


def _change_status(rows: list[str], line: int) -> list[str]:
    record = json.loads(rows[line - 1])
    record["status"] = "skipped"
    return rows[:line - 1] + [canonical_json(record)] + rows[line:]


@pytest.mark.parametrize("tamper, reason", [
    (_change_status, "hash mismatch"),
    (lambda rows, line: rows[:line - 1] + rows[line:], "prev_hash does not match"),
], ids=["changed record", "deleted record"])
def test_audit_verify_fails_on_a_tampered_log(workdir: Path, log: Path, tamper, reason: str):
    line = 14
    tampered = workdir / f"tampered-{reason.split()[0]}.jsonl"
    tampered.write_text("\n".join(tamper(log.read_text().splitlines(), line)) + "\n")
    result = audit_verify(workdir, tampered)
    assert result["failed"] is True and result["ok"] is False
    assert result["first_broken"]["line"] == line and reason in result["first_broken"]["reason"]
    assert f"line {line} (seq {result['first_broken']['seq']})" in result["msg"]
