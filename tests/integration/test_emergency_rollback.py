"""playbooks/emergency-rollback.yml end to end against the lab.

The tests run in file order: first the runs that must change nothing (healthy canary, no data,
check mode, a non-admin, the ops API failing) while one breach is sustained, then one real
rollback per SLO, then a second run after a success.
"""
from __future__ import annotations

import itertools
import json
import re

import pytest
from labtest import credentials, emergency, flat, lab_call, record, run_lab, slack_messages, slo_wait, statuspage_incidents

from lab.components.haproxy import weights

# Reads or changes the lab's shared state: runs in file order in the one pytest process of such modules (scripts/test.sh).
pytestmark = pytest.mark.shared_lab

INITIAL = {"stable": 90, "canary": 10}
ROLLED_BACK = {"stable": 100, "canary": 0}
FAULT_TO_SLO = {
    "slow": "p95_latency",
    "errors": "error_rate",
    "publish": "success_rate",
    "webhooks": "webhook_signature_verification",
    "db": "db_connection_failures",
}
_incident_numbers = itertools.count(7001)


def incident_id() -> str:
    return f"INC-{next(_incident_numbers)}"


def recap_changed(stdout: str) -> int:
    match = re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)", stdout)
    assert match, stdout[-2000:]
    return int(match.group(1))


def test_healthy_canary_is_not_rolled_back(healthy_canary, tmp_path):
    lab = healthy_canary
    incident = incident_id()
    run = emergency(tmp_path, incident)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "No rollback: no SLO of the canary breaches" in run.stdout
    assert weights(lab) == INITIAL
    assert record(tmp_path / "incidents", incident)["outcome"].startswith("no rollback: ok")
    assert not [m for m in slack_messages(lab) if incident in json.dumps(m)]
    assert statuspage_incidents(lab, incident) == []


@pytest.mark.reliability("fault", procedure="emergency", case="Prometheus returns no data for the SLO queries",
                         expected="breach UNKNOWN, not ok; nothing changed")
def test_no_data_is_unknown_not_ok(breaching_canary, tmp_path):
    incident = incident_id()
    run = emergency(tmp_path, incident, slo_gate_selector='namespace="no-such-namespace"')
    assert run.returncode == 0, run.stdout[-3000:]
    assert "the breach cannot be confirmed" in run.stdout
    trigger = record(tmp_path / "incidents", incident)["trigger"]
    assert trigger["verdict"] == "unknown"
    assert sorted(trigger["unknown"]) == sorted(FAULT_TO_SLO.values())
    assert weights(breaching_canary) == INITIAL


def test_check_mode_changes_nothing(breaching_canary, tmp_path):
    lab = breaching_canary
    lab_call(f"{lab.url('ops_api')}/__lab/requests", "DELETE")
    incident = incident_id()
    run = emergency(tmp_path, incident, "--check")
    assert run.returncode == 0, run.stdout[-3000:]
    assert weights(lab) == INITIAL
    posts = [r for r in lab_call(f"{lab.url('ops_api')}/__lab/requests")["requests"] if r["method"] == "POST"]
    assert posts == []
    assert not [m for m in slack_messages(lab) if incident in json.dumps(m)]
    assert statuspage_incidents(lab, incident) == []
    assert "status page incident would be monitoring (check mode)" in run.stdout


def test_non_admin_operator_is_refused_before_anything_changes(breaching_canary, tmp_path):
    lab = breaching_canary
    viewer = credentials(lab)["identities"]["viewer"]
    incident = incident_id()
    run = emergency(tmp_path, incident, rollback_operator="vic", ofm_ops_api_token=viewer["token"])
    assert run.returncode != 0
    assert "Refused: vic is not in incident_admins" in run.stdout and "viewer" in run.stdout
    assert weights(lab) == INITIAL
    assert not [m for m in slack_messages(lab) if incident in json.dumps(m) and "started" in json.dumps(m)]


def test_unknown_operator_fails_closed(breaching_canary, tmp_path):
    run = emergency(tmp_path, incident_id(), rollback_operator="")
    assert run.returncode != 0
    assert "the operator is unknown" in run.stdout
    assert weights(breaching_canary) == INITIAL


@pytest.mark.reliability("fault", procedure="emergency", case="ops API answers 5xx, fallback off",
                         expected="retried, then failed clearly; every attempt audited")
def test_ops_api_answering_5xx_without_fallback_fails_clearly_and_audits_every_attempt(breaching_canary, tmp_path):
    lab = breaching_canary
    lab_call(f"{lab.url('ops_api')}/__lab/faults", "PUT", {"status": 503, "count": -1, "paths": ["/internal/ops/canary/rollback"]})
    try:
        incident = incident_id()
        run = emergency(tmp_path, incident, canary_rollback_deadline=4, canary_rollback_fallback=False)
    finally:
        lab_call(f"{lab.url('ops_api')}/__lab/faults", "DELETE")
    assert run.returncode != 0
    assert weights(lab) == INITIAL
    failure = record(tmp_path / "incidents", incident)["failure"]
    assert "503" in failure["msg"]
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    rollback_task = [r for r in audit if r.get("module") == "ofm.rollback.canary_rollback"]
    assert len(rollback_task) == 1 and rollback_task[0]["failed"] is True
    attempts = [r for r in rollback_task[0]["result"]["requests"] if r["url"].endswith("/internal/ops/canary/rollback")]
    assert len(attempts) >= 2 and all(a.get("status") == 503 for a in attempts)


def test_ops_api_down_without_the_fallback_fails_clearly(breaching_canary, tmp_path):
    """With the fallback off there is no other authority either: refused, naming the ops API (test_emergency_faults has the rest)."""
    incident = incident_id()
    run = emergency(tmp_path, incident, ofm_ops_api_url="http://127.0.0.1:9", canary_rollback_deadline=3, ofm_rollback_fallback=False)
    assert run.returncode != 0
    assert weights(breaching_canary) == INITIAL
    failure = record(tmp_path / "incidents", incident)["failure"]["msg"]
    assert "the ops API could not be asked" in failure and "RBAC authority disabled" in failure


@pytest.mark.parametrize("fault", list(FAULT_TO_SLO))
def test_each_breach_alone_rolls_back_to_stable(lab, fault, tmp_path):
    run_lab("reset")
    lab_call(f"{lab.url('slack')}/__lab/messages", "DELETE")
    slo_wait(lab, tmp_path, "all_ok")
    run_lab("canary", "bad", fault)
    slo_wait(lab, tmp_path, "breach")
    incident = incident_id()
    run = emergency(tmp_path, incident)
    assert run.returncode == 0, run.stdout[-4000:]

    assert weights(lab) == ROLLED_BACK, run.stdout[-4000:]
    result = record(tmp_path / "incidents", incident)
    assert result["trigger"]["breached"] == [FAULT_TO_SLO[fault]]
    assert result["traffic"]["all_on_stable"] is True
    assert result["traffic"]["measured"]["canary_share"] == 0
    assert result["rollback"]["changed"] is True
    statuses = {item["title"]: item["status"] for item in result["validation"]}
    assert statuses["Traffic Routing"] == "ok" and statuses["SLO Recovery"] == "ok"
    assert statuses["Database Health"] == "manual", "no query-latency SLO in the lab"
    lines = {line["id"]: line for line in result["checklist"]}
    assert len(lines) == result["checklist_counts"]["ok"] + result["checklist_counts"]["failed"] + result["checklist_counts"]["manual"]
    assert lines["emergency.declare-incident"]["status"] == "ok" and lines["comms.status-page"]["status"] == "ok"
    assert lines[f"slo-trigger.{FAULT_TO_SLO[fault].replace('_', '-')}"]["status"] == "failed", "the breached trigger"
    assert lines["post-immediate.slo-compliance"]["status"] == "manual", "bordering sections are printed as MANUAL"
    assert "[MANUAL] Engineering Team · Leadership · Customer Success" in flat(run.stdout)
    markdown = tmp_path / "incidents" / f"{result['incident_id']}-{result['started_at'].replace(':', '')}.md"
    assert "Post an update in Slack #engineering." in markdown.read_text(), "the record holds every instruction"
    impact = markdown.read_text().split("## Impact assessment\n", 1)[1].split("\n## ", 1)[0]
    assert f"- Breached: {FAULT_TO_SLO[fault]}" in impact and "Time on the canary:" in impact and " UTC (+00:00)," in impact
    recovery = markdown.read_text().split("## Recovery time\n", 1)[1].split("\n## ", 1)[0]
    assert "- Incident start: " in recovery and "- Validated recovery: " in recovery and "- Recovery time: " in recovery, recovery
    assert markdown.read_text().rstrip().endswith("## Lessons learned\n_To be written at the post-incident review._")
    announcement = [m for m in slack_messages(lab) if incident in (m.get("text") or "") and "started" in m["text"]]
    assert len(announcement) == 1 and FAULT_TO_SLO[fault] in announcement[0]["text"]
    # A confirmed breach: the rollback's request first, the declaration right after it, saying so.
    assert "the canary was rolled back first: via ops_api" in announcement[0]["text"] and result["announcement"]["after_rollback"] is True
    # The ops API's request log outlives lab resets, so an earlier run of this file may have used the same incident id: its last.
    posted = [r["time"] for r in lab_call(f"{lab.url('ops_api')}/__lab/requests")["requests"]
              if r["method"] == "POST" and r.get("idempotency_key") == f"ofm-rollback-canary-{incident}"]
    assert posted and posted[-1] <= announcement[0]["received_at"], (posted, announcement[0]["received_at"])
    assert "right after the rollback's request" in lines["emergency.declare-incident"]["evidence"]
    assert "Audit log:" in run.stdout and "chain verified" in run.stdout
    public = statuspage_incidents(lab, incident)
    assert [(found["status"], found["impact"]) for found in public] == [("monitoring", "major")], public
    assert [update["status"] for update in public[0]["incident_updates"]][:2] == ["monitoring", "identified"]
    assert result["status_page"]["delivered"] is True and result["status_page"]["incident_id"] == public[0]["id"]

    if fault == list(FAULT_TO_SLO)[-1]:
        again = emergency(tmp_path, incident_id())
        assert again.returncode == 0, again.stdout[-3000:]
        assert recap_changed(again.stdout) == 0
        # Depending on how much of the canary's last traffic the SLO windows still hold, the gate finds no
        # sustained breach, or a stale one on a canary that carries no traffic: either way nothing is rolled back.
        assert "No rollback:" in again.stdout
        assert weights(lab) == ROLLED_BACK
    run_lab("reset")
