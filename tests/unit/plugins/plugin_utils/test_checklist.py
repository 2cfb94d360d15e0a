# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checklist map (meta/checklist.yml), the judge, the README's coverage table and the emergency procedure's rules."""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.ofm.rollback.plugins.action.checklist_report import report
from ansible_collections.ofm.rollback.plugins.plugin_utils import checklist
from ansible_collections.ofm.rollback.plugins.plugin_utils.checklist_rules_emergency import RULES

ROOT = Path(__file__).resolve().parents[4]
SPEC = ROOT.parent / "shared" / "mission" / "rollback-procedures-checklist.md"


def test_the_map_holds_the_104_lines_of_the_checklist_with_unique_ids():
    lines = checklist.load().lines
    assert len(lines) == 104
    assert len({line.id for line in lines}) == 104
    assert sum(1 for line in lines if line.command) == 7
    by_section = {}
    for line in lines:
        by_section[line.section] = by_section.get(line.section, 0) + 1
    assert by_section == {"Emergency Rollback (SLO Violation)": 16, "Planned Rollback": 10, "Database Rollback": 10,
                          "Application Configuration Rollback": 11, "External Service Rollback": 8, "Post-Rollback Procedures": 16,
                          "Communication Protocol": 8, "Documentation Requirements": 9, "Prevention Measures": 10, "Success Criteria": 6}


@pytest.mark.skipif(not SPEC.is_file(), reason="the checklist's source (shared/) is not on this machine")
def test_every_check_box_of_the_checklist_has_its_line_in_the_map():
    titles = {(line.section, line.title) for line in checklist.load().lines}
    section = None
    for text in SPEC.read_text().splitlines():
        if text.startswith("## "):
            section = text[3:].strip()
        if text.startswith("- [ ] "):
            body = text[6:].strip()
            title = body.split("**")[1].rstrip(":").strip() if body.startswith("**") else body
            assert (section, title) in titles, (section, title)


def test_a_map_with_a_bad_line_is_refused_naming_it(tmp_path):
    data = yaml.safe_load(checklist.MAP_PATH.read_text())
    data["lines"][3]["kind"] = "sometimes"
    data["lines"][5]["id"] = data["lines"][4]["id"]
    bad = tmp_path / "checklist.yml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=r"line emergency.monitor-rollback: kind must be one of automated, configured, manual"):
        checklist.load(bad)


def test_the_readme_coverage_table_is_the_one_generated_from_the_map():
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "checklist.py"), "readme", "--check"], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr


def test_the_coverage_view_prints_every_line_and_the_totals():
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "checklist.py"), "coverage"], capture_output=True, text=True, check=True)
    rows = [text for text in run.stdout.splitlines() if text.startswith("  ")]
    assert len(rows) == 104
    assert run.stdout.strip().splitlines()[-1].startswith("104 lines: ")
    assert any("Declare Incident" in row and "automated" in row and "emergency" in row for row in rows)
    assert any("Team confidence" in row and "manual" in row for row in rows)


GATE_BREACH = {
    "status": "ok", "started": 1.0, "finished": 2.0, "changes": [],
    "evidence": {"proceed": True, "breached": ["error_rate"], "unknown": [], "monitoring_available": True, "verdict": "breach",
                 "slos": {"error_rate": {"verdict": "breach", "line": "error rate 4.2 % > 1 %", "compliant": False},
                          "p95_latency": {"verdict": "ok", "line": "p95 0.3 s <= 10 s", "compliant": True},
                          "success_rate": {"verdict": "ok", "line": "success 99 %", "compliant": True},
                          "webhook_signature_verification": {"verdict": "unknown", "reason": "no data", "line": "webhooks: no data"},
                          "db_connection_failures": {"verdict": "ok", "line": "db 0 %", "compliant": True}}},
}
VALIDATED_SLOS = {name: {"verdict": "ok", "compliant": True, "line": f"{name} fine", "trend": "falling"}
                  for name in ("error_rate", "success_rate", "webhook_signature_verification", "db_connection_failures",
                               "publish_queue_backlog", "p95_latency")}
RUN = {
    "slo_gate": GATE_BREACH,
    "incident": {"status": "ok", "evidence": {
        "channel": "#ops-alerts", "announcement": {"delivered": True, "ts": "1.2"},
        "statuspage": {"enabled": True, "attempted": True, "delivered": True, "status": "monitoring", "shortlink": "https://stspg.io/x"},
        "record": "/tmp/INC-1.md", "audit": {"ok": True, "records": 40, "path": "/tmp/audit.jsonl"}}},
    "canary_rollback": {"status": "ok", "evidence": {
        "path": "ops_api", "attempts": [{"path": "ops_api", "ok": True, "seconds": 1.5}],
        "traffic": {"all_on_stable": True, "configured": {"canary_weight": 0}, "measured": {"canary_share": 0}}}},
    "rollback_validation": {"status": "ok", "evidence": {"verified": True, "all_ok": True, "sustain": "2m", "slos": VALIDATED_SLOS}},
}


def judged(results, check_mode=False):
    return {line["id"]: line for line in report("emergency", copy.deepcopy(results), check_mode=check_mode)["lines"]}


def test_a_rollback_that_worked_is_ok_on_every_automated_line_and_manual_on_the_rest():
    lines = judged(RUN)
    assert lines["emergency.assess-impact"]["status"] == "ok" and "error rate 4.2 %" in lines["emergency.assess-impact"]["evidence"]
    assert lines["slo-trigger.error-rate"]["status"] == "failed", "a breached trigger"
    assert lines["slo-trigger.p95-latency"]["status"] == "ok"
    assert lines["slo-trigger.webhook-signature-verification"]["status"] == "manual"
    assert lines["emergency.execute-rollback"]["evidence"].startswith("via ops_api")
    assert lines["emergency-validation.database-health"]["status"] == "manual", "no query SLO configured"
    assert "rollback_validation_db_query_slo" in lines["emergency-validation.database-health"]["instruction"]
    assert lines["comms.status-page"]["status"] == "ok"
    assert lines["audit.operations-log"]["status"] == "ok" and "40 records" in lines["audit.operations-log"]["evidence"]
    assert lines["post-immediate.slo-compliance"]["status"] == "manual"
    assert lines["comms.engineering-team"]["instruction"] == "Post an update in Slack #engineering."
    owned = [line for line in lines.values() if line["owned"]]
    assert {line["status"] for line in owned if line["id"] != "slo-trigger.error-rate"} <= {"ok", "manual"}
    assert all(line["status"] in ("ok", "failed", "manual") for line in lines.values())


def test_a_slack_post_that_failed_is_a_manual_line_with_the_message():
    results = copy.deepcopy(RUN)
    results["incident"]["evidence"]["announcement"] = {"delivered": False, "msg": "connection refused",
                                                       "payload": {"text": "INC-1: emergency canary rollback started by alice"}}
    line = judged(results)["emergency.declare-incident"]
    assert line["status"] == "manual"
    assert line["instruction"] == "Post it in #ops-alerts by hand: INC-1: emergency canary rollback started by alice"
    assert "connection refused" in line["evidence"]


def test_the_declare_line_says_when_the_rollback_went_first():
    assert judged(RUN)["emergency.declare-incident"]["evidence"] == "posted to #ops-alerts (ts 1.2)"
    results = copy.deepcopy(RUN)
    results["incident"]["evidence"]["declared_after_rollback"] = True
    line = judged(results)["emergency.declare-incident"]
    assert line["status"] == "ok"
    assert line["evidence"] == ("posted to #ops-alerts (ts 1.2), right after the rollback's request (the breach was confirmed, "
                                "so the rollback went first)")


def test_a_status_page_that_failed_names_the_status_and_text_to_post():
    results = copy.deepcopy(RUN)
    results["incident"]["evidence"]["statuspage"] = {"enabled": True, "attempted": True, "delivered": False, "status": "monitoring",
                                                     "name": "Degraded (INC-1)", "page_id": "p1", "body": "Rolled back.", "error": "refused"}
    line = judged(results)["comms.status-page"]
    assert line["status"] == "manual" and line["instruction"] == 'On page p1 set the incident "Degraded (INC-1)" to monitoring with the update: Rolled back.'


def test_without_a_status_page_the_line_is_manual_and_says_how_to_automate_it():
    results = copy.deepcopy(RUN)
    results["incident"]["evidence"]["statuspage"] = {"enabled": False}
    line = judged(results)["comms.status-page"]
    assert line["status"] == "manual" and "ofm_statuspage_page_id" in line["evidence"]


def test_prometheus_down_with_force_is_not_verified_and_every_slo_line_is_manual():
    results = copy.deepcopy(RUN)
    results["slo_gate"]["evidence"] = {"proceed": True, "forced": True, "force_reason": "dashboards red", "breached": [],
                                       "monitoring_available": False, "monitoring_error": "Prometheus: connection refused",
                                       "verdict": "unknown", "unknown": ["error_rate"], "slos": {}}
    results["rollback_validation"]["evidence"] = {"verified": False, "monitoring_error": "Prometheus: connection refused",
                                                  "dashboards": "Grafana SLO board", "sustain": "2m"}
    lines = judged(results)
    assert lines["emergency.assess-impact"]["status"] == "manual" and "forced: dashboards red" in lines["emergency.assess-impact"]["evidence"]
    for line_id in ("emergency-validation.slo-recovery", "emergency-validation.error-reduction", "emergency.verify-recovery"):
        assert lines[line_id]["status"] == "manual", line_id
        assert "NOT VERIFIED" in lines[line_id]["evidence"] and "Grafana SLO board" in lines[line_id]["instruction"]
    assert lines["emergency-validation.traffic-routing"]["status"] == "ok"


def test_a_run_refused_at_the_gate_leaves_the_later_lines_manual_with_the_reason():
    gate = {"proceed": False, "breached": [], "unknown": [], "verdict": "ok", "monitoring_available": True, "slos": {}}
    results = {"slo_gate": {"status": "ok", "evidence": gate}}
    lines = judged(results)
    assert lines["emergency.execute-rollback"]["status"] == "ok" and "no sustained breach" in lines["emergency.execute-rollback"]["evidence"]
    assert lines["emergency.declare-incident"]["status"] == "manual"
    assert "no sustained breach" in lines["emergency.declare-incident"]["evidence"]


def test_no_path_worked_is_failed_with_the_commands_to_run():
    results = copy.deepcopy(RUN)
    results["canary_rollback"] = {"status": "failed", "evidence": {
        "attempts": [{"path": "ops_api", "ok": False, "error_type": "UnavailableError"}, {"path": "argo", "ok": False, "error_type": "X"}],
        "manual_commands": ["kubectl argo rollouts abort ofm"]}}
    line = judged(results)["emergency.execute-rollback"]
    assert line["status"] == "failed" and "kubectl argo rollouts abort ofm" in line["evidence"]


def test_a_broken_audit_chain_fails_the_audit_lines():
    results = copy.deepcopy(RUN)
    results["incident"]["evidence"]["audit"] = {"ok": False, "first_broken": {"line": 7}, "path": "/tmp/a"}
    assert judged(results)["audit.team-actions"]["status"] == "failed"


def test_check_mode_lines_say_so_and_traffic_still_on_the_canary_is_no_failure():
    results = copy.deepcopy(RUN)
    results["canary_rollback"]["evidence"]["traffic"] = {"all_on_stable": False, "configured": {"canary_weight": 10}}
    lines = judged(results, check_mode=True)
    assert lines["emergency.declare-incident"]["evidence"] == "would be posted to #ops-alerts (check mode)"
    assert lines["emergency-validation.traffic-routing"]["status"] == "ok"
    assert lines["emergency-validation.traffic-routing"]["evidence"].startswith("check mode: nothing was rolled back; now canary weight 10")
    assert judged(results)["emergency-validation.traffic-routing"]["status"] == "failed"


def test_only_restricts_the_lines_and_unknown_ids_are_refused():
    only = report("emergency", copy.deepcopy(RUN), ["emergency-validation.slo-recovery"])
    assert [line["id"] for line in only["lines"]] == ["emergency-validation.slo-recovery"]
    with pytest.raises(ValueError, match="unknown checklist line"):
        report("emergency", {}, ["no.such-line"])


def test_every_rule_names_a_line_of_the_map_owned_by_the_emergency_procedure_or_one_it_borders():
    checklist_map = checklist.load()
    for line_id in RULES:
        # The configuration rollback's lines, and the communications the emergency run starts (#ops-alerts, status page).
        assert checklist_map.line(line_id).procedure in ("emergency", "config", "comms"), line_id


def test_the_summary_block_has_a_heading_per_subsection_and_a_status_per_line():
    text = checklist.render(report("emergency", copy.deepcopy(RUN))["lines"])
    assert text[0] == "Emergency Rollback (SLO Violation) · Immediate Response (0-5 minutes)"
    assert "  [ok    ] Declare Incident: posted to #ops-alerts (ts 1.2)" in text
    assert all(len(line) <= 150 for line in text if line.startswith("  [ok")), "an ok line is cut, a MANUAL instruction never"
    at = text.index("Communication Protocol · Internal Communications")
    assert text[at + 1].startswith("  [ok    ] Ops Team: posted to #ops-alerts")
    assert text[at + 2] == "  [MANUAL] Engineering Team · Leadership · Customer Success", "bordering MANUAL lines are listed together"


DB_RUN = {"db_pitr": {"status": "ok", "evidence": {
    "reason": "data_corruption", "dry_run": False, "target": "2026-12-03 12:00:00 UTC",
    "restore": {"msg": "restored", "timings": {"total_seconds": 12.5}},
    "validation": {"summary": {"schema_version": {"status": "skipped"}, "data_integrity": {"status": "ok"},
                               "application_compatibility": {"status": "ok"}, "performance": {"status": "failed"},
                               "backup_status": {"status": "ok"}},
                   "checks": [{"category": "schema_version", "name": "schema_version", "status": "skipped", "detail": "no expected version given"},
                              {"category": "data_integrity", "name": "tables", "status": "ok", "detail": "3 tables present"},
                              {"category": "performance", "name": "q1", "status": "failed", "detail": "120 ms > 50 ms"}]}}}}


def test_an_empty_schema_version_is_a_manual_line_that_says_what_to_set():
    lines = {line["id"]: line for line in report("database", copy.deepcopy(DB_RUN))["lines"]}
    assert len(lines) == 10, "the procedure prints the ten lines of its section"
    schema = lines["db-validation.schema-version"]
    assert schema["status"] == "manual" and "set ofm_db_schema_version" in schema["instruction"]
    assert "no expected version given" in schema["evidence"]
    assert lines["db-validation.data-integrity"]["status"] == "ok" and lines["db-validation.data-integrity"]["evidence"] == "3 tables present"
    assert lines["db-validation.performance"]["status"] == "failed" and "120 ms > 50 ms" in lines["db-validation.performance"]["evidence"]
    assert lines["db-when.data-corruption"]["evidence"] == "the reason for this rollback (--reason data_corruption)"
    assert lines["db-process.dr-restore-sandbox"]["evidence"].startswith("restored to 2026-12-03 12:00:00 UTC in 12.5 s")


def test_a_dry_run_or_a_failed_restore_leaves_the_validation_manual_with_the_reason():
    dry = copy.deepcopy(DB_RUN)
    dry["db_pitr"]["evidence"].update(dry_run=True, validation={})
    lines = {line["id"]: line for line in report("database", dry)["lines"]}
    assert lines["db-validation.backup-status"]["status"] == "manual" and "dry run" in lines["db-validation.backup-status"]["evidence"]
    broken = copy.deepcopy(DB_RUN)
    broken["db_pitr"]["evidence"].update(restore={"failed": True, "msg": "pgbackrest: no backup"}, validation={}, reason="")
    lines = {line["id"]: line for line in report("database", broken)["lines"]}
    assert lines["db-process.dr-restore-sandbox"] == {**lines["db-process.dr-restore-sandbox"], "status": "failed", "evidence": "pgbackrest: no backup"}
    assert lines["db-when.schema-changes"]["status"] == "manual"


PLANNED = {
    "planned_rollback": {"status": "ok", "evidence": {
        "method": "kubectl", "reason": "api 2 doubles the DB load", "key_personnel": [], "channel": "#ops-alerts",
        "window": {"inside": True, "now": "Tue 03:00 UTC", "window": "Tue 02:00-04:00 UTC"},
        "announcement": {"delivered": True}, "smoke_tests": True, "test_command": "make e2e",
        "verify": {"started": True, "done": True, "target": "revision 1 of Deployment web", "images": ["ofm/api:1"], "registry_url": False},
        "execute": {"started": True, "done": True, "changes": ["Deployment default/web: revision 2 -> 1"]},
        "validate": {"started": True, "suite": {"rc": 2},
                     "smoke": [{"item": {"name": "home", "url": "http://x/"}, "status": 200},
                               {"item": {"name": "checkout", "url": "http://x/c", "body_regex": "total"}, "status": 200, "content": "empty"},
                               {"item": {"name": "api", "url": "http://x/a"}, "status": -1, "msg": "Connection refused"}]}}},
    "k8s_rollback": {"status": "ok", "evidence": {"workload": "Deployment default/web", "to_revision": 3, "target": {"revision": 3},
                                                  "changed": True, "rollout": [{"ready": False, "message": "1 of 2 updated replicas available"}],
                                                  "undo_status": ["waiting"]}},
}


def planned_lines(results, check_mode=False):
    return {line["id"]: line for line in report("planned", copy.deepcopy(results), check_mode=check_mode)["lines"]}


def test_planned_smoke_tests_are_judged_in_python_status_and_body_and_connection():
    line = planned_lines(PLANNED)["planned.smoke-tests"]
    assert line["status"] == "failed"
    assert line["evidence"] == ("1 of 3 passed; FAILED: checkout: HTTP 200, body does not match /total/; "
                                "api: HTTP -1 (expected 200): Connection refused")


def test_planned_lines_from_the_method_role_and_the_methods_not_used():
    lines = planned_lines(PLANNED)
    assert lines["kubectl.undo-to-revision"]["evidence"] == "Deployment default/web to revision 3 (rolled back)"
    assert lines["kubectl.undo"]["evidence"] == "not needed: the rollback went to a given revision (rollback_to_revision)"
    assert lines["kubectl.status"]["status"] == "failed" and lines["planned.validate-health"]["status"] == "failed"
    assert lines["helm.history"]["status"] == "ok" and lines["helm.history"]["evidence"].startswith("not needed: method kubectl")
    assert lines["planned.full-validation"] == {**lines["planned.full-validation"], "status": "failed", "evidence": "'make e2e' exited 2"}
    assert lines["planned.backup-verification"]["status"] == "manual"
    assert "set planned_rollback_registry_url to automate this" in lines["planned.backup-verification"]["instruction"]
    assert "ofm/api:1" in lines["planned.backup-verification"]["instruction"]
    assert lines["planned.team-availability"]["instruction"].endswith("(set planned_rollback_key_personnel to list them).")


def test_planned_rollback_commands_say_where_the_method_went_and_which_command_was_not_needed():
    helm = copy.deepcopy(PLANNED)
    helm["planned_rollback"]["evidence"]["method"] = "helm"
    helm["helm_rollback"] = {"status": "ok", "evidence": {"release": "ofm-production/ofm-social-os", "target": "5",
                                                          "result": {"changed": True, "target_revision": {"revision": 5}}}}
    lines = planned_lines(helm)
    assert lines["helm.rollback-to-revision"]["evidence"] == "ofm-production/ofm-social-os to revision 5 (rolled back)"
    assert lines["helm.rollback-previous"]["evidence"] == "not needed: the rollback went to a given revision (rollback_to_revision)"
    assert lines["kubectl.undo"]["evidence"].startswith("not needed: method helm rolled back instead")
    helm["helm_rollback"]["evidence"].update(target="previous", result={"changed": False, "target_revision": {"revision": 6}})
    lines = planned_lines(helm)
    assert lines["helm.rollback-previous"]["evidence"] == "ofm-production/ofm-social-os to revision 6 (already there)"
    assert lines["helm.rollback-to-revision"]["evidence"] == "not needed: the rollback went to the previous revision"
    kubectl = copy.deepcopy(PLANNED)
    kubectl["k8s_rollback"]["evidence"].update(to_revision=0, changed=False, target={"revision": 1})
    lines = planned_lines(kubectl)
    assert lines["kubectl.undo"]["evidence"] == "Deployment default/web to revision 1 (already there)"
    assert lines["kubectl.undo-to-revision"]["evidence"] == "not needed: the rollback went to the previous revision"
    del kubectl["k8s_rollback"]
    assert planned_lines(kubectl)["kubectl.undo"]["status"] == "manual", "the method's role never ran"


def test_planned_outside_the_window_fails_that_line_and_leaves_the_rest_manual_with_the_reason():
    results = {"planned_rollback": {"status": "failed", "evidence": {
        "method": "kubectl", "reason": "r", "failure": {"task": "Plan | stop outside the change window", "msg": "Outside the change window"},
        "window": {"inside": False, "now": "Mon 12:00 UTC", "window": "Tue 02:00-04:00 UTC", "opens_at": "Tue 02:00 UTC"},
        "verify": {}, "execute": {}, "validate": {}}}}
    lines = planned_lines(results)
    assert lines["planned.change-window"]["status"] == "failed" and "opens Tue 02:00 UTC" in lines["planned.change-window"]["evidence"]
    assert lines["planned.initiate-rollback"]["status"] == "manual"
    assert "Plan | stop outside the change window" in lines["planned.initiate-rollback"]["evidence"]
    assert lines["kubectl.undo"]["status"] == "manual", "the method's role never ran"


def test_planned_check_mode_runs_no_smoke_test_and_says_so():
    lines = planned_lines(PLANNED, check_mode=True)
    assert lines["planned.smoke-tests"]["status"] == "manual" and lines["planned.smoke-tests"]["evidence"] == "check mode: not run"
    assert lines["planned.communication"]["evidence"] == "would be posted to #ops-alerts (check mode)"


def test_the_emergency_outcome_is_judged_with_the_lines():
    assert report("emergency", copy.deepcopy(RUN))["outcome"] == "rolled back, traffic on stable, validated"
    failed = copy.deepcopy(RUN)
    failed["rollback_validation"]["evidence"]["all_ok"] = False
    assert report("emergency", failed)["outcome"] == "rolled back, validation incomplete"
    blind = copy.deepcopy(RUN)
    blind["rollback_validation"]["evidence"] = {"verified": False, "monitoring_error": "Prometheus: connection refused"}
    assert report("emergency", blind)["outcome"] == (
        "rolled back, traffic on stable by the router's weights, NOT VERIFIED: Prometheus: connection refused")
    stopped = {"slo_gate": {"status": "ok", "evidence": {"proceed": False, "verdict": "ok"}}}
    assert report("emergency", stopped)["outcome"] == "no rollback: ok (no sustained breach)"
    crashed = {**copy.deepcopy(RUN), "failure": {"task": "Execute rollback", "msg": "boom"}}
    assert report("emergency", crashed)["outcome"] == "FAILED: Execute rollback: boom"
    assert report("emergency", copy.deepcopy(RUN), ["emergency.assess-impact"])["outcome"] is None, "only part of the lines judged"


def emergency_texts(results, check_mode=False):
    return report("emergency", copy.deepcopy(results), check_mode=check_mode)["texts"]


TIMED = copy.deepcopy(RUN)
TIMED["incident"]["started"] = 100.0
TIMED["incident"]["evidence"]["statuspage"]["incident_status"] = "monitoring"
TIMED["slo_gate"]["finished"] = 103.2
TIMED["canary_rollback"].update(started=104.0, finished=110.0)
TIMED["canary_rollback"]["evidence"].update(executed=105.5, ops_api={"changed": True, "previous_weight": 10, "current_weight": 0})
TIMED["rollback_validation"].update(started="111.0", finished="131.25")
ARGO_AFTER_OPS_API = [{"path": "ops_api", "ok": False, "error_type": "UnavailableError", "message": "connection refused", "seconds": 20.1},
                      {"path": "argo", "ok": True, "seconds": 3.2}]


def test_the_emergency_timeline_path_changes_and_status_page_are_texts_from_python():
    texts = emergency_texts(TIMED)
    assert texts["phases"] == [
        {"phase": "Assess impact", "start": 100.0, "end": 103.2, "took": "3.2 s"},
        {"phase": "Execute rollback", "start": 104.0, "end": 105.5, "took": "1.5 s"},
        {"phase": "Monitor traffic shift", "start": 105.5, "end": 110.0, "took": "4.5 s"},
        {"phase": "Verify recovery and validate", "start": 111.0, "end": 131.25, "took": "20.2 s"}]
    assert texts["path"] == "ops_api" and texts["rollback_path"] == "via the ops API (POST /internal/ops/canary/rollback)"
    assert texts["attempts"] == ["ops_api rolled back in 1.5 s"]
    assert texts["changed"] == ["canary traffic 10 -> 0 (weight) via the ops API"]
    assert texts["status_page"] == "status page incident https://stspg.io/x monitoring"
    assert texts["message"] == ("rolled back, traffic on stable, validated. Rollback path: ops_api "
                                "(via the ops API (POST /internal/ops/canary/rollback))")
    unchanged = copy.deepcopy(TIMED)
    unchanged["canary_rollback"]["evidence"]["ops_api"]["changed"] = False
    assert emergency_texts(unchanged)["changed"] == ["nothing: the canary already carried no traffic"]
    assert report("emergency", copy.deepcopy(TIMED), ["emergency.assess-impact"])["texts"] == {}, "only part of the lines judged"


def test_the_emergency_texts_name_the_fallback_path_and_what_failed_before_it():
    argo = copy.deepcopy(TIMED)
    argo["canary_rollback"]["evidence"].update(path="argo", attempts=ARGO_AFTER_OPS_API, argo={
        "rollout": "ofm-production/api", "abort_phase": "Degraded", "undo_revision": 1, "undo_phase": "Healthy"})
    texts = emergency_texts(argo)
    assert texts["rollback_path"] == "via Argo Rollouts (abort, then undo), after ops_api failed: UnavailableError"
    assert texts["attempts"] == ["ops_api failed (UnavailableError) after 20.1 s: connection refused", "argo rolled back in 3.2 s"]
    assert texts["changed"] == ["Rollout ofm-production/api aborted (phase Degraded),", "then undone to revision 1 (phase Healthy)"]
    assert texts["message"].endswith(". Rollback path: argo (via Argo Rollouts (abort, then undo), after ops_api failed: UnavailableError)")

    ingress = copy.deepcopy(argo)
    ingress["canary_rollback"]["evidence"].update(path="ingress", ingress={
        "ingress": "api-canary", "deployment": "api-canary", "previous": {"weight": 10, "replicas": 1}, "current": {"weight": 0, "replicas": 0}})
    assert emergency_texts(ingress)["changed"] == ["canary Ingress api-canary weight 10 -> 0,", "canary Deployment api-canary replicas 1 -> 0"]

    nothing = copy.deepcopy(TIMED)
    nothing["canary_rollback"].update(status="failed")
    nothing["canary_rollback"]["evidence"].update(path=None, executed=None, attempts=[
        ARGO_AFTER_OPS_API[0], {"path": "argo", "ok": False, "error_type": "ApiError", "message": "no Rollout", "seconds": 0.4}])
    texts = emergency_texts(nothing)
    assert texts["path"] == "none"
    assert texts["rollback_path"] == "no rollback path worked: ops_api failed: UnavailableError, argo failed: ApiError"
    assert texts["changed"] == []
    assert [phase["phase"] for phase in texts["phases"]] == ["Assess impact", "Execute rollback", "Verify recovery and validate"]
    assert texts["phases"][1]["end"] is None and texts["phases"][1]["took"] == "unfinished"


def test_the_status_page_text_says_when_it_was_not_updated_and_what_check_mode_would_do():
    down = copy.deepcopy(TIMED)
    down["incident"]["evidence"]["statuspage"].update(delivered=False, status="identified", error="HTTP 503")
    assert emergency_texts(down)["status_page"] == "status page NOT updated (see the manual steps)"
    assert emergency_texts(down, check_mode=True)["status_page"] == "status page incident would be identified (check mode)"
    down["incident"]["evidence"]["statuspage"]["attempted"] = False
    assert emergency_texts(down)["status_page"] is None
    before = copy.deepcopy(TIMED)
    del before["canary_rollback"]
    texts = emergency_texts(before)
    assert texts["rollback_path"] is None and texts["attempts"] == [] and texts["changed"] == []


def test_the_planned_outcome_and_texts_are_judged_in_python():
    done = copy.deepcopy(PLANNED)
    done["planned_rollback"]["changes"] = ["Deployment default/web: revision 2 -> 1"]
    judged = report("planned", done)
    assert judged["outcome"] == "rolled back and validated"
    texts = judged["texts"]
    assert texts["window"] == "Tue 02:00-04:00 UTC"
    assert texts["changed"] == ["Deployment default/web: revision 2 -> 1"]
    left = ", ".join(step["item"] for step in judged["manual_steps"])
    assert "Team Availability" in left
    assert texts["message"] == f"planned rollback rolled back and validated. Changed: Deployment default/web: revision 2 -> 1. Manual steps left: {left}."

    again = copy.deepcopy(PLANNED)
    again["planned_rollback"]["evidence"].update(window={"inside": False, "window": "Tue 02:00-04:00 UTC"}, override_window=True,
                                                 override_reason="the DB is melting")
    judged = report("planned", again)
    assert judged["outcome"] == "nothing to roll back: already on the target, validated"
    assert judged["texts"]["changed"] == ["nothing"]
    assert judged["texts"]["window"] == "Tue 02:00-04:00 UTC - OUTSIDE, OVERRIDDEN: the DB is melting"
    assert "Changed:" not in judged["texts"]["message"]

    stopped = copy.deepcopy(PLANNED)
    stopped["planned_rollback"]["evidence"].update(failure={"task": "Plan | stop outside the change window", "msg": "Outside the change window"},
                                                   window={"inside": False, "window": "Tue 02:00-04:00 UTC"}, override_window=False)
    judged = report("planned", stopped)
    assert judged["outcome"] == "FAILED: Plan | stop outside the change window: Outside the change window"
    assert judged["texts"]["window"] == "Tue 02:00-04:00 UTC - OUTSIDE"
    assert report("planned", {})["outcome"] == "FAILED: the planned procedure did not start"
    stopped["planned_rollback"]["evidence"]["window"] = {}
    assert report("planned", stopped)["texts"]["window"] == "not checked"
