# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The post-rollback validation's lines judged from its evidence: ok, failed, unknown (a source down), pending (the watch
running), MANUAL (not configured, phase not run), the outcome; and the JUnit and Markdown files CI reads."""
from __future__ import annotations

import copy
from xml.etree import ElementTree

import pytest
from junitparser import JUnitXml

from ansible_collections.ofm.rollback.plugins.action.checklist_report import report, write_files
from ansible_collections.ofm.rollback.plugins.module_utils.checks import Check, result
from ansible_collections.ofm.rollback.plugins.plugin_utils import checklist

OWNED = [line.id for line in checklist.load().lines if line.procedure == "validation"]


def checks(*items, subject="x", **extra):
    return result([Check(name, status, detail) for name, status, detail in items], subject, extra)


HEALTHY_SLOS = {"slos": {"p95_latency": {}, "error_rate": {}}, "breached": [], "unknown": [], "all_ok": True,
                "monitoring_available": True, "summary": ["p95_latency: OK", "error_rate: OK"]}
WATCH_DONE = checks(("all_slos", "ok", "5 SLOs held for 2h"), ("stability", "ok", "targets up"),
                    watch={"state": "complete", "progress": "2h of 2h covered, 0s left"})
EVIDENCE = {
    "phases": ["immediate", "extended", "success"], "since": "2026-12-04T14:05:00+00:00", "baseline_until": "2026-12-04T13:40:00+00:00",
    "slo_compliance": HEALTHY_SLOS,
    "immediate_metrics": checks(("error_patterns", "ok", "no new error pattern"), ("queue_backlog", "ok", "publish: 3")),
    "logs": checks(("signatures", "ok", "no new error signature")),
    "database": checks(("queries", "ok", "top 10 queries at baseline"), ("connection_pool", "ok", "12/100 connections")),
    "smoke": checks(("GET /health", "ok", "200 in 12 ms"), ("GET /api/posts", "ok", "200 in 30 ms")),
    "e2e": checks(("suite", "ok", "14 tests passed")),
    "load": checks(("p95_latency", "ok", "p95 120 ms"), ("error_rate", "ok", "0 of 900 failed")),
    "extended_metrics": checks(("publish_rate", "ok", "0.98 of last week"), ("targets_up", "ok", "2/2 up")),
    "alerts": checks(("alerts", "ok", "no alert firing")),
    "watch": WATCH_DONE,
    "success_metrics": checks(("publish_rate", "ok", "0.99 of last week"), ("queue_backlog", "ok", "publish: 0")),
    "success_alerts": checks(("alerts", "ok", "no alert firing")),
    "status_page": checks(("incident", "ok", "resolved")),
    "record": checks(("Lessons learned", "ok", "written"), record="/tmp/INC-1.md"),
}


def judge(evidence=None, check_mode=False, **changes):
    evidence = copy.deepcopy(evidence or EVIDENCE)
    evidence.update(changes)
    judged = report("validation", {"validation": {"status": "ok", "evidence": evidence}}, check_mode=check_mode)
    return judged, {line["id"]: line for line in judged["lines"]}


def test_a_healthy_run_passes_every_automated_line():
    judged, lines = judge()
    assert {lines[line_id]["status"] for line_id in OWNED} == {"ok"}
    assert judged["outcome"]["state"] == "passed"
    assert lines["post-extended.user-experience"]["status"] == "manual" and lines["success.team-confidence"]["status"] == "manual"
    assert "2h of 2h covered" in lines["success.all-slos"]["evidence"]


@pytest.mark.parametrize("key, failing, line_id", [
    ("database", checks(("queries", "failed", "SELECT ofm_recent_posts: 58 ms, 12x its baseline"), ("connection_pool", "ok", "12/100")),
     "post-immediate.database-performance"),
    ("logs", checks(("signatures", "failed", "new: TypeError: cannot read <str> of undefined")), "post-immediate.application-logs"),
    ("smoke", checks(("GET /api/posts", "failed", "$.posts[0].status absent")), "post-immediate.integration-tests"),
    ("alerts", checks(("alerts", "failed", "OfmManual firing since 14:20 UTC")), "post-extended.monitoring-systems"),
])
def test_each_fault_fails_exactly_its_line(key, failing, line_id):
    judged, lines = judge(**{key: failing})
    assert [line["id"] for line in judged["lines"] if line["status"] != "ok" and line["owned"]] == [line_id]
    assert judged["outcome"]["state"] == "failed" and judged["outcome"]["failed_lines"] == [lines[line_id]["title"]]


def test_a_queue_backlog_fails_queue_processing_only_in_its_phase():
    _judged, lines = judge(immediate_metrics=checks(("error_patterns", "ok", "none"), ("queue_backlog", "failed", "publish: 4000 > 1000")))
    assert lines["post-immediate.queue-processing"]["status"] == "failed" and "4000" in lines["post-immediate.queue-processing"]["evidence"]
    assert lines["post-immediate.error-monitoring"]["status"] == "ok"


def test_an_unavailable_source_is_unknown_never_ok():
    down = checks(("error_patterns", "unknown", "Prometheus could not be asked (connection refused)"),
                  ("queue_backlog", "unknown", "Prometheus could not be asked (connection refused)"))
    slos = {"slos": {"p95_latency": {}}, "breached": [], "unknown": ["p95_latency"], "all_ok": False, "monitoring_available": False,
            "monitoring_error": "Prometheus could not be asked (refused)"}
    judged, lines = judge(immediate_metrics=down, slo_compliance=slos)
    assert lines["post-immediate.error-monitoring"]["status"] == "unknown"
    assert lines["post-immediate.slo-compliance"]["status"] == "unknown" and "refused" in lines["post-immediate.slo-compliance"]["evidence"]
    assert judged["outcome"]["state"] == "unknown" and "Error Monitoring" in judged["outcome"]["message"]
    assert lines["post-immediate.slo-compliance"]["title"] in judged["outcome"]["unknown_lines"]


def test_a_module_that_failed_is_unknown():
    _judged, lines = judge(logs={"failed": True, "msg": "ops API: GET logs failed: 403"})
    assert lines["post-immediate.application-logs"]["status"] == "unknown" and "403" in lines["post-immediate.application-logs"]["evidence"]


def test_the_running_watch_is_pending_and_a_breach_fails_it():
    running = checks(("all_slos", "unknown", "in progress"), ("stability", "unknown", "in progress"),
                     watch={"state": "running", "progress": "45m of 2h covered, 1h15m left; worst p95_latency 0.3"})
    judged, lines = judge(watch=running)
    assert lines["success.all-slos"]["status"] == "pending" and "1h15m left" in lines["success.all-slos"]["evidence"]
    assert judged["outcome"]["state"] == "pending"
    breached = checks(("all_slos", "failed", "error_rate 0.04 > 0.01 at 14:31:15 UTC"), ("stability", "unknown", "in progress"),
                      watch={"state": "breached", "progress": "26m of 2h covered"})
    judged, lines = judge(watch=breached)
    assert lines["success.all-slos"]["status"] == "failed" and judged["outcome"]["state"] == "failed"


def test_unconfigured_checks_and_unselected_phases_are_manual_with_how_to_automate():
    skipped = {"status": "skipped", "reason": "no database connection (ofm_validation_database)"}
    not_run = {"status": "skipped", "reason": "the extended phase was not run (validation_phases)"}
    judged, lines = judge(database=skipped, e2e=not_run, load=not_run, extended_metrics=not_run, alerts=not_run)
    database = lines["post-immediate.database-performance"]
    assert database["status"] == "manual" and "ofm_validation_database" in database["evidence"]
    assert "To automate: set ofm_validation_database" in database["instruction"]
    assert lines["post-extended.end-to-end-tests"]["status"] == "manual" and "extended phase" in lines["post-extended.end-to-end-tests"]["evidence"]
    assert judged["outcome"]["state"] == "passed"


def test_check_mode_does_not_count_suites_it_did_not_run():
    _judged, lines = judge(check_mode=True, e2e=checks(("suite", "unknown", "check mode: not run")))
    assert lines["post-extended.end-to-end-tests"]["status"] == "manual"


def test_the_junit_file_has_one_case_per_line_and_the_markdown_lists_what_is_not_ok(tmp_path):
    judged, _lines = judge(logs=checks(("signatures", "failed", "new: TypeError <x>")),
                           immediate_metrics=checks(("error_patterns", "unknown", "Prometheus down"), ("queue_backlog", "ok", "0")))
    files = write_files({"procedure": "validation", "junit": str(tmp_path / "out" / "v.xml"), "markdown": str(tmp_path / "v.md"),
                         "title": "post-rollback validation (INC-1)"}, judged)
    xml = JUnitXml.fromfile(files["junit"])
    suite = next(iter(xml))
    cases = list(suite)
    assert len(cases) == len(judged["lines"]) and suite.name == "post-rollback validation (INC-1)"
    assert (suite.tests, suite.failures, suite.errors) == (len(judged["lines"]), 1, 1)
    assert suite.skipped == sum(1 for line in judged["lines"] if line["status"] in ("manual", "pending"))
    by_name = {case.name: case for case in cases}
    logs = by_name["Application Logs (post-immediate.application-logs)"]
    assert logs.classname == "Post-Rollback Procedures / Immediate Validation (0-30 minutes)"
    assert logs.result[0].message == "signatures: new: TypeError <x>"
    user = by_name["User Experience (post-extended.user-experience)"]
    assert user.result[0].message.startswith("MANUAL: Watch the support queue")
    ElementTree.parse(files["junit"])  # well-formed XML that CI tools parse
    text = (tmp_path / "v.md").read_text()
    assert "| Application Logs | **FAILED** | signatures: new: TypeError <x> |" in text
    assert "| Error Monitoring | **UNKNOWN** |" in text and "Queue Processing" in text.split("Passed:")[1]


def test_check_mode_judges_the_cases_it_sent_and_only_those():
    smoke = checks(("GET /api/posts", "ok", "200 in 30 ms"), ("POST /api/posts/publish", "unknown", "POST not sent in check mode"))
    _judged, lines = judge(check_mode=True, smoke=smoke)
    assert lines["post-immediate.integration-tests"]["status"] == "ok"
    _judged, lines = judge(smoke=smoke)
    assert lines["post-immediate.integration-tests"]["status"] == "unknown", "outside check mode an unsent case is never ok"
