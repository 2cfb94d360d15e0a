# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The communication protocol's and the incident report's lines judged in Python: every line of the four sections ends ok,
failed, UNKNOWN or MANUAL; a notification that was not sent is a manual step with the text to post, never a silent ok."""
from __future__ import annotations

import copy

from ansible_collections.ofm.rollback.plugins.action.checklist_report import report
from ansible_collections.ofm.rollback.plugins.module_utils.comms_plan import plan
from ansible_collections.ofm.rollback.plugins.plugin_utils import checklist

SECTIONS = {"Communication Protocol", "Documentation Requirements", "Root Cause Analysis", "Prevention Measures"}
TEMPLATES = {key: f"/t/{key}.j2" for key in ("engineering", "incident_response", "incident_response_update", "leadership",
                                             "customer_success", "support")}
RECORD = {"incident_id": "INC-9", "rollback": {"path": "ops_api"}, "traffic": {"all_on_stable": True},
          "announcement": {"channel": "#ops-alerts", "ts": "1.2", "delivered": True}}
IMPACT = {"requests_total": 5000, "requests_failed": 250, "error_budget_burned": {"error_rate": 3.0},
          "recovery": {"time_to_recover": "2m 5s", "detected_at": "2026-12-04T14:05:00+00:00",
                       "slos_compliant_at": "2026-12-04T14:07:05+00:00", "traffic_on_stable_at": "2026-12-04T14:06:00+00:00"}}


def comms_results(slack_status="sent", emails=None, statuspage=None, send=False):
    decided = plan({"incident_id": "INC-9", "record": RECORD, "templates": TEMPLATES, "impact": IMPACT, "customers": {"count": 3},
                    "statuspage_configured": True, "statuspage_components": ["c1"], "customer_email_configured": True,
                    "send_customer_emails": send})
    slack = {"status": "ok", "messages": [{"key": m["key"], "channel": m["channel"], "status": slack_status,
                                           "text": f"text of {m['key']}", "error": "channel_not_found" if slack_status == "failed" else None}
                                          for m in decided["messages"]]}
    return {"comms": {"status": "ok", "evidence": {
        "plan": decided, "slack": slack,
        "statuspage": statuspage if statuspage is not None else {"delivered": True, "changed": True,
                                                                 "incident": {"status": "monitoring", "shortlink": "http://stspg.io/x"}},
        "emails": emails if emails is not None else {"sent": 0, "already_sent": 0, "opted_out": 0, "refused": 0, "failed": 0,
                                                     "recipients": ["a***@x", "b***@x", "c***@x"], "dry_run": True, "status": "ok"}}}}


def lines(procedure, results):
    return {line["id"]: line for line in report(procedure, results)["lines"]}


def test_every_line_of_the_four_sections_is_printed_by_the_comms_or_the_report_procedure():
    checklist_map = checklist.load()
    printed = {line.id for line in checklist_map.printed_by("comms")} | {line.id for line in checklist_map.printed_by("report")}
    wanted = {line.id for line in checklist_map.lines if line.section in SECTIONS or line.subsection in SECTIONS}
    assert wanted - printed == set()


def test_a_comms_run_that_told_everyone_is_ok_and_the_dry_run_is_a_manual_review():
    judged = lines("comms", comms_results())
    for line_id in ("comms.ops-team", "comms.engineering-team", "comms.leadership", "comms.customer-success", "comms.support-team",
                    "comms.status-page"):
        assert judged[line_id]["status"] == "ok", (line_id, judged[line_id])
    assert "announced in #ops-alerts" in judged["comms.ops-team"]["evidence"]
    assert "#engineering" in judged["comms.engineering-team"]["evidence"]
    assert judged["comms.customer-notifications"]["status"] == "manual"
    assert "comms_send_customer_emails=true" in judged["comms.customer-notifications"]["instruction"]
    assert judged["comms.social-media"]["status"] == "manual"
    outcome = report("comms", comms_results())["outcome"]
    assert outcome["state"] == "ok" and "Customer Notifications" in outcome["message"]


def test_sent_emails_are_counted_and_a_half_sent_batch_is_a_manual_rerun():
    sent = {"sent": 2, "already_sent": 0, "opted_out": 1, "refused": 0, "failed": 0, "status": "ok"}
    assert lines("comms", comms_results(emails=sent, send=True))["comms.customer-notifications"]["evidence"] == \
        "2 sent, 0 already sent, 1 opted out, 0 refused"
    half = {**sent, "failed": 1, "status": "partial", "msg": "connection lost after 2"}
    line = lines("comms", comms_results(emails=half, send=True))["comms.customer-notifications"]
    assert line["status"] == "manual" and "Run again" in line["instruction"] and "connection lost" in line["evidence"]


def test_a_slack_message_that_failed_is_a_manual_step_with_its_text_and_the_outcome_says_not_sent():
    results = comms_results(slack_status="failed")
    judged = lines("comms", results)
    line = judged["comms.engineering-team"]
    assert line["status"] == "manual"
    assert "Post in #engineering by hand: text of engineering.monitoring" in line["instruction"]
    assert "channel_not_found" in line["evidence"]
    outcome = report("comms", results)["outcome"]
    assert outcome["state"] == "partial" and "Engineering Team" in outcome["message"]


def test_a_message_an_earlier_killed_run_may_have_sent_is_unknown():
    assert lines("comms", comms_results(slack_status="unknown"))["comms.leadership"]["status"] == "unknown"


def test_check_mode_would_send_is_manual_and_says_so():
    line = lines("comms", comms_results(slack_status="would_send"))["comms.leadership"]
    assert line["status"] == "manual" and "check mode: would post leadership.monitoring" in line["evidence"]


def test_a_status_page_that_refused_is_a_manual_step_naming_the_state_and_components():
    line = lines("comms", comms_results(statuspage={"error": {"type": "UnavailableError"}, "msg": "Statuspage answered 503"}))["comms.status-page"]
    assert line["status"] == "manual" and "monitoring" in line["instruction"] and "c1 operational" in line["instruction"]
    assert "503" in line["evidence"]


def test_without_the_comms_run_its_lines_are_manual_with_the_playbook_to_run():
    judged = lines("comms", {})
    assert judged["comms.engineering-team"]["status"] == "manual"
    assert "playbooks/incident-comms.yml" in judged["comms.engineering-team"]["evidence"]


def report_results(**overrides):
    evidence = {
        "record": {"record": "/r/INC-9.md",
                   "checks": [{"name": "Lessons learned", "status": "failed", "detail": "section 'Lessons learned' still holds the placeholder"}]},
        "audit": {"ok": True, "records": 40, "file": {"ok": True, "records": 40}, "table": {"ok": True, "rows": 40, "missing_seqs": []}},
        "history": {"records": 40, "commands": [{"task": "a"}, {"task": "b"}], "team_actions": [{"actor": "alice"}], "config_changes": []},
        "impact": IMPACT, "customers": {"count": 3},
        "report": {"files": {"html": "/r/INC-9/report.html", "markdown": "/r/INC-9/report.md", "charts": ["a.png"] * 5},
                   "sections": ["Summary", "Rollback trigger", "Timeline", "Impact assessment", "Recovery time", "Charts"], "gaps": []},
        "bundle": {"path": "/r/INC-9/rca-INC-9.tar.gz", "sha256": "ab" * 32, "gaps": [], "status": "ok",
                   "files": [{"name": "pod-logs/canary-1.log"}, {"name": "ops-api.log"}, {"name": "sli/error_rate.csv"}, {"name": "kubernetes/events.json"}]},
    }
    evidence.update(overrides)
    return {"report": {"status": "ok", "evidence": evidence}}


def test_a_complete_report_is_ok_on_its_automated_lines_and_manual_where_people_write():
    judged = lines("report", report_results())
    for line_id in ("docs.rollback-trigger", "docs.timeline", "docs.impact-assessment", "audit.operations-log", "audit.command-history",
                    "audit.configuration-changes", "audit.team-actions", "rca.log-collection", "rca.metric-analysis", "rca.timeline-creation"):
        assert judged[line_id]["status"] == "ok", (line_id, judged[line_id])
    evidence = judged["docs.impact-assessment"]["evidence"]
    assert "250 of 5000 requests failed" in evidence and "customers affected: 3" in evidence
    assert "2m 5s" in judged["docs.recovery-time"]["evidence"]
    assert "40 rows in audit_logs match" in judged["audit.operations-log"]["evidence"]
    assert judged["docs.lessons-learned"]["status"] == "manual" and "/r/INC-9.md" in judged["docs.lessons-learned"]["evidence"]
    assert judged["prevention.circuit-breakers"]["status"] == "manual" and "Follow-up items" in judged["prevention.circuit-breakers"]["evidence"]
    assert report("report", report_results())["outcome"]["state"] == "ok"


def test_prometheus_down_makes_the_impact_unknown_never_ok():
    results = report_results(impact={"requests_failed": None, "gaps": ["no data for error_rate"], "recovery": {}})
    judged = lines("report", results)
    assert judged["docs.impact-assessment"]["status"] == "unknown" and "no data for error_rate" in judged["docs.impact-assessment"]["evidence"]
    assert judged["docs.recovery-time"]["status"] == "unknown"
    assert report("report", results)["outcome"]["state"] == "unknown"


def test_a_table_that_misses_records_or_was_edited_fails_the_operations_log():
    audit = {"ok": False, "file": {"ok": True, "records": 40}, "table": {"ok": False, "rows": 38, "missing_seqs": ["39-40"]}}
    line = lines("report", report_results(audit=audit))["audit.operations-log"]
    assert line["status"] == "failed" and "39-40" in line["evidence"]
    no_table = {"ok": True, "records": 40, "file": {"ok": True, "records": 40}}
    line = lines("report", report_results(audit=no_table))["audit.operations-log"]
    assert line["status"] == "manual" and "ofm_audit_database" in line["instruction"]


def test_a_bundle_gap_makes_its_line_unknown_with_the_reason():
    bundle = copy.deepcopy(report_results()["report"]["evidence"]["bundle"])
    bundle["gaps"] = [{"artefact": "pod_logs", "reason": "the Kubernetes API answered 503"}]
    line = lines("report", report_results(bundle=bundle))["rca.log-collection"]
    assert line["status"] == "unknown" and "503" in line["evidence"]


def test_no_command_in_the_audit_trail_fails_command_history():
    history = {"records": 0, "commands": [], "team_actions": [], "config_changes": []}
    judged = lines("report", report_results(history=history))
    assert judged["audit.command-history"]["status"] == "failed"
    assert judged["audit.configuration-changes"]["status"] == "ok"
