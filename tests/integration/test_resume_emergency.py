"""A crash-safe re-run of the emergency rollback: ``ansible-playbook`` killed (SIGKILL, its whole process group) right after the
rollback POST and before the monitoring and validation, then run again with the same incident id.

The re-run reuses the first run's gate decision from the run journal (a fresh gate would see the canary without traffic and
the SLOs recovering, and say there is nothing to roll back), posts no second declaration, sends no second rollback, monitors
and validates, and says in its summary which run it resumed; the incident record lists both runs.
"""
from __future__ import annotations

import itertools
import json
import re

import pytest
from labtest import flat, lab_call, record, run_lab, slack_messages, slo_wait, statuspage_incidents
from resumetest import finish, journal, journal_task, kill_after, no_process_left, start

from lab.components.haproxy import weights

# A breach of the canary and the lab's router, ops API, Slack and status page: the shared lab.
pytestmark = pytest.mark.shared_lab

ROLLED_BACK = {"stable": 100, "canary": 0}
_numbers = itertools.count(9501)


@pytest.mark.reliability("resume", procedure="emergency", case="killed after the rollback POST, before monitoring",
                         expected="resumed, no step twice")
def test_killed_after_the_rollback_a_re_run_resumes_without_a_second_declaration_or_rollback(lab, tmp_path, reliability):
    run_lab("reset")
    run_lab("canary", "bad", "errors")
    slo_wait(lab, tmp_path, "breach")
    lab_call(f"{lab.url('ops_api')}/__lab/requests", "DELETE")
    incident = f"INC-{next(_numbers)}"
    records = tmp_path / "incidents"
    extra = {"rollback_incident_id": incident, "ofm_incident_record_dir": str(records), "rollback_validation_sustain": "2s",
             "rollback_comms": False}
    audit = tmp_path / "audit.jsonl"
    try:
        first = start("emergency-rollback.yml", extra, audit)
        killed = kill_after(first, audit, journal_task("rollback"))
        assert no_process_left(first)
        assert weights(lab) == ROLLED_BACK
        stopped = journal(records, incident, "emergency")
        assert {name: step["status"] for name, step in stopped["steps"].items()} == {"gate": "done", "rollback": "done"}
        assert "Verify recovery" not in killed.stdout, "killed before the validation"

        again = finish(start("emergency-rollback.yml", extra, audit))
        posts = [entry for entry in lab_call(f"{lab.url('ops_api')}/__lab/requests")["requests"]
                 if entry["method"] == "POST" and entry["path"].startswith("/internal/ops/canary/rollback")]
        declarations = [message for message in slack_messages(lab) if incident in json.dumps(message) and "rollback started" in json.dumps(message)]
        pages = statuspage_incidents(lab, incident)
    finally:
        run_lab("reset")
    summary = flat(again.stdout)
    assert again.returncode == 0, again.stdout[-5000:]

    first_run = stopped["runs"][0]["run_id"]
    resumed = re.search(rf"Resumed run {re.escape(first_run)} \(the run of \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\+00:00\) "
                        r"stopped after 'rollback'\)", summary)
    assert resumed, summary[-5000:]
    assert "Outcome:   rolled back, traffic on stable, validated" in summary
    assert f"(by run {first_run})" in summary

    # No step twice: one rollback POST, one declaration, one status page incident.
    assert len(posts) == 1, posts
    assert len(declarations) == 1, declarations
    assert len(pages) == 1, pages

    # The record: the trigger of the first run's gate, both runs.
    written = record(records, incident)
    assert written["trigger"]["breached"] == ["error_rate"]
    assert [run["outcome"] for run in written["runs"]] == ["killed", "rolled back, traffic on stable, validated"]
    assert written["runs"][0]["last_step"] == "rollback" and written["resumed_from"]["run_id"] == first_run
    assert written["started_at"].replace(":", "") in str(sorted(records.glob(f"{incident}-*.json"))[-1])
    reliability.observed("killed after the journal's rollback step; the re-run reused the gate and the rollback, validated: 1 rollback "
                         "POST, 1 declaration, 1 status page incident, the record lists both runs")
