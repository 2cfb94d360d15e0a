# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the post-rollback validation's result judges its checklist lines (one function per line id).

The result is ``post_rollback_validation_phase`` of roles/post_rollback_validation, handed in as ``validation``. Its evidence
holds, by key, the raw result of each module the role ran; every validation module returns the check contract of
``module_utils/checks.py`` (``status`` ok / failed / unknown and named ``checks``). An entry is ``{"status": "skipped",
"reason": ...}`` when its phase was not selected or its configuration is missing: the line is then MANUAL with what to set.

- ``slo_compliance``: ofm.rollback.slo_check on all traffic (its own result shape: ``all_ok``, ``breached``, ``unknown``);
- ``immediate_metrics``, ``extended_metrics``, ``success_metrics``: ofm.rollback.metric_check (checks ``error_patterns``,
  ``queue_backlog``, ``publish_rate``, ``targets_up``);
- ``logs``: ofm.rollback.ops_api_logs_info; ``database``: ofm.rollback.pg_stat_info; ``smoke``: ofm.rollback.http_suite;
  ``e2e``: ofm.rollback.test_suite; ``load``: ofm.rollback.load_test;
- ``alerts`` (extended) and ``success_alerts``: ofm.rollback.alertmanager_alerts_info; ``status_page``:
  ofm.rollback.statuspage_incident_info; ``record``: ofm.rollback.incident_record_info;
- ``watch``: ofm.rollback.slo_watch, whose ``watch.state`` ``running`` makes its lines PENDING.

A line is ``unknown`` when a source of truth could not answer: never ok, an error in the JUnit file, and the run fails.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.plugin_utils.checklist import (
    NotReached, phase_result, Rule, Verdict, failed, manual, ok, pending, unknown)

PHASE = "validation"
PHASES = {
    "slo_compliance": "immediate", "immediate_metrics": "immediate", "logs": "immediate", "database": "immediate",
    "smoke": "immediate", "e2e": "extended", "load": "extended", "extended_metrics": "extended", "alerts": "extended",
    "watch": "success", "success_metrics": "success", "success_alerts": "success", "status_page": "success", "record": "success",
}
CHECK_MODE_SKIPS = frozenset({"e2e", "load"})
CHECK_MODE_WORDS = "check mode"


def _phase(results: Mapping[str, Any]) -> Mapping[str, Any]:
    return phase_result(results, PHASE, "the post-rollback validation did not run (playbooks/post-rollback-validation.yml)")


def _entry(results: Mapping[str, Any], key: str) -> Optional[Mapping[str, Any]]:
    """The module result under ``key``; None when the step was skipped (its reason is then in :func:`_skip_reason`)."""
    evidence = _phase(results).get("evidence") or {}
    entry = evidence.get(key)
    if entry is None:
        raise NotReached(f"the {PHASES[key]} phase did not reach this check")
    if entry.get("status") == "skipped" or entry.get("skipped"):
        return None
    return entry


def _skip_reason(results: Mapping[str, Any], key: str) -> str:
    entry = ((_phase(results).get("evidence") or {}).get(key)) or {}
    return entry.get("reason") or entry.get("skip_reason") or "not run"


def from_checks(entry: Mapping[str, Any], names: Optional[Iterable[str]] = None, what: str = "", check_mode: bool = False) -> Verdict:
    """The verdict of a module that returns the check contract, on all its checks or the ``names`` ones.

    In check mode, a check its module did not send (an HTTP case that writes, a suite, a load test) counts for nothing: the
    others decide, and none left is MANUAL."""
    if "checks" not in entry:
        return unknown(f"{what or 'the check'} did not run: {entry.get('msg') or 'no result'}")
    wanted = list(names) if names is not None else None
    checks = [check for check in entry.get("checks") or [] if wanted is None or check.get("name") in wanted]
    missing = sorted(set(wanted or ()) - {check.get("name") for check in checks})
    if missing:
        return unknown(f"no result for {', '.join(missing)}")
    if check_mode:
        not_sent = [check for check in checks if check.get("status") == "unknown" and CHECK_MODE_WORDS in (check.get("detail") or "")]
        checks = [check for check in checks if check not in not_sent]
        if not checks and not_sent:
            return manual("", f"check mode: {len(not_sent)} check(s) not run")
    bad = [check for check in checks if check.get("status") != "ok"]
    text = "; ".join(f"{check['name']}: {check.get('detail') or check.get('status')}" for check in (bad or checks))
    if any(check.get("status") == "failed" for check in checks):
        return failed("; ".join(f"{check['name']}: {check.get('detail')}" for check in checks if check.get("status") == "failed"))
    if bad or not checks:
        return unknown(text or "nothing was checked")
    return ok(text)


def module_rule(key: str, names: Optional[Iterable[str]] = None, automate: str = "") -> Rule:
    """A line judged by one module's checks; skipped (not configured) is MANUAL with what to set to automate it."""
    names = tuple(names) if names is not None else None

    def rule(results: Mapping[str, Any]) -> Verdict:
        entry = _entry(results, key)
        if entry is None:
            return manual("", f"not checked: {_skip_reason(results, key)}", automate)
        if key in CHECK_MODE_SKIPS and results.get("check_mode"):
            return manual("", "check mode: the suite was not run", automate)
        return from_checks(entry, names, check_mode=bool(results.get("check_mode")))
    return rule


def slo_compliance(results: Mapping[str, Any]) -> Verdict:
    """SLO Compliance: ofm.rollback.slo_check on all traffic, every SLO within its target (unknown is never ok)."""
    entry = _entry(results, "slo_compliance")
    if entry is None:
        return manual("", f"not checked: {_skip_reason(results, 'slo_compliance')}")
    if "slos" not in entry:
        return unknown(f"the SLOs were not evaluated: {entry.get('msg') or 'no result'}")
    lines = "; ".join(entry.get("summary") or [])
    if entry.get("breached"):
        return failed(f"breached: {', '.join(entry['breached'])} ({lines})")
    if not entry.get("monitoring_available", True) or entry.get("unknown"):
        return unknown(entry.get("monitoring_error") or f"no verdict for {', '.join(entry.get('unknown') or [])} ({lines})")
    if not entry.get("all_ok"):
        return failed(f"not every SLO is compliant over the window ({lines})")
    return ok(f"all {len(entry['slos'])} SLOs within target on all traffic")


def monitoring_systems(results: Mapping[str, Any]) -> Verdict:
    """Monitoring Systems: every scrape target up (Prometheus) and no alert of the service firing (Alertmanager)."""
    targets = _entry(results, "extended_metrics")
    verdicts = [from_checks(targets, ["targets_up"])] if targets is not None else []
    alerts = _entry(results, "alerts")
    if alerts is not None:
        verdicts.append(from_checks(alerts))
    worst = _worst(verdicts)
    if worst is not None and worst.status != "ok":
        return worst
    if alerts is None:
        return manual("Check that no alert of the service is firing in Alertmanager.", "; ".join(
            [verdict.evidence for verdict in verdicts] + [f"Alertmanager not checked: {_skip_reason(results, 'alerts')}"]),
            "set ofm_alertmanager_url")
    return ok("; ".join(verdict.evidence for verdict in verdicts))


def _worst(verdicts: list[Verdict]) -> Optional[Verdict]:
    for status in ("failed", "unknown", "pending", "manual", "ok"):
        found = [verdict for verdict in verdicts if verdict.status == status]
        if found:
            return Verdict(status, "; ".join(verdict.evidence for verdict in found), found[0].manual, found[0].automate)
    return None


def watch_rule(check: str) -> Rule:
    """All SLOs / Application stability: the 2-hour watch; PENDING while it runs, failed at the first breach."""
    def rule(results: Mapping[str, Any]) -> Verdict:
        entry = _entry(results, "watch")
        if entry is None:
            return manual("", f"not checked: {_skip_reason(results, 'watch')}")
        watch = entry.get("watch") or {}
        verdict = from_checks(entry, [check])
        if verdict.status == "failed":
            return verdict
        if watch.get("state") == "running":
            return pending(f"{watch.get('progress') or 'the watch is running'}; run the playbook again (or on a schedule) to go on")
        if verdict.status == "ok" and watch.get("progress"):
            return ok(f"{verdict.evidence} ({watch['progress']})")
        return verdict
    return rule


def no_ongoing_incidents(results: Mapping[str, Any]) -> Verdict:
    """No ongoing incidents: no alert of the service firing at the end of the watch, and the status page incident resolved."""
    alerts = _entry(results, "success_alerts")
    if alerts is None:
        return manual("", f"Alertmanager not checked: {_skip_reason(results, 'success_alerts')}", "set ofm_alertmanager_url")
    verdicts = [from_checks(alerts)]
    page = _entry(results, "status_page")
    if page is not None:
        verdicts.append(from_checks(page))
    worst = _worst(verdicts) or unknown("nothing was checked")
    if worst.status == "ok" and page is None:
        return ok(f"{worst.evidence}; no status page incident to check ({_skip_reason(results, 'status_page')})")
    return worst


def documentation(results: Mapping[str, Any]) -> Verdict:
    """Documentation complete: the incident record holds every section of the checklist's Incident Documentation."""
    entry = _entry(results, "record")
    if entry is None:
        return manual("", f"no incident record checked: {_skip_reason(results, 'record')}", "give -e incident_id=INC-... of the emergency run")
    verdict = from_checks(entry)
    if verdict.status == "failed":
        record = entry.get("record") or "the record"
        return failed(f"{record}: {verdict.evidence}; write the missing sections before the post-incident review")
    return verdict


RULES: dict[str, Rule] = {
    "post-immediate.slo-compliance": slo_compliance,
    "post-immediate.error-monitoring": module_rule("immediate_metrics", ["error_patterns"]),
    "post-immediate.application-logs": module_rule("logs", automate="set ofm_ops_api_url and its credentials"),
    "post-immediate.database-performance": module_rule("database", automate="set ofm_validation_database (a read-only connection with "
                                                       "pg_read_all_stats, the pg_stat_statements extension installed)"),
    "post-immediate.queue-processing": module_rule("immediate_metrics", ["queue_backlog"]),
    "post-immediate.integration-tests": module_rule("smoke", automate="set ofm_validation_base_url and ofm_validation_smoke_suite"),
    "post-extended.end-to-end-tests": module_rule("e2e", automate="set ofm_validation_e2e_command and ofm_validation_e2e_junit"),
    "post-extended.load-testing": module_rule("load", automate="set ofm_validation_base_url and ofm_validation_smoke_suite"),
    "post-extended.business-metrics": module_rule("extended_metrics", ["publish_rate"]),
    "post-extended.monitoring-systems": monitoring_systems,
    "success.all-slos": watch_rule("all_slos"),
    "success.application-stability": watch_rule("stability"),
    "success.no-ongoing-incidents": no_ongoing_incidents,
    "success.business-operations": module_rule("success_metrics", ["publish_rate", "queue_backlog"]),
    "success.documentation-complete": documentation,
}


def outcome(results: Mapping[str, Any], lines: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The run's verdict: failed over unknown over pending over passed; which lines, and what to do next."""
    owned = [line for line in lines.values() if line.get("owned")]
    by_status = {status: [line["title"] for line in owned if line["status"] == status] for status in ("failed", "unknown", "pending", "manual")}
    if not results.get(PHASE):
        return {"state": "failed", "message": "the validation did not run", **_lists(by_status)}
    if by_status["failed"]:
        state, message = "failed", f"{len(by_status['failed'])} check(s) failed: {', '.join(by_status['failed'])}"
    elif by_status["unknown"]:
        state, message = "unknown", (f"{len(by_status['unknown'])} check(s) could not be judged (a source of truth did not answer): "
                                     f"{', '.join(by_status['unknown'])}")
    elif by_status["pending"]:
        state, message = "pending", "every check so far passed; the 2-hour watch is still running: run the playbook again to go on"
    else:
        done = sum(1 for line in owned if line["status"] == "ok")
        state, message = "passed", f"{done} automated check(s) passed" + (f"; {len(by_status['manual'])} MANUAL" if by_status["manual"] else "")
    return {"state": state, "message": message, **_lists(by_status)}


def _lists(by_status: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {f"{status}_lines": titles for status, titles in by_status.items()}


def texts(results: Mapping[str, Any], lines: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:  # pylint: disable=unused-argument
    """What the summary prints above the lines: the watch's progress, the phases run."""
    found = results.get(PHASE) or {}
    evidence = found.get("evidence") or {}
    watch = ((evidence.get("watch") or {}).get("watch")) or {}
    return {"watch": watch.get("progress") or "", "phases": evidence.get("phases") or [],
            "since": evidence.get("since") or "", "baseline_until": evidence.get("baseline_until") or ""}
