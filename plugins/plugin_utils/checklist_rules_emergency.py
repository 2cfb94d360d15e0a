# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the emergency procedure's results judge its checklist lines (one function per line id).

The results are the phase results of playbooks/emergency_rollback.yml by role: ``slo_gate``, ``incident``, ``canary_rollback`` and
``rollback_validation``, each in the shape of :data:`checklist.RESULT_SHAPE`, plus ``check_mode``. A rule raises
:class:`NotReached` when its phase did not run: the judge then prints the line as MANUAL with its instruction.
"""

from __future__ import annotations

from typing import Any, Mapping

from ansible_collections.ofm.rollback.plugins.plugin_utils import checklist_rules_config
from ansible_collections.ofm.rollback.plugins.plugin_utils.checklist import NotReached, Rule, Verdict, failed, manual, ok

TRIGGERS = {
    "slo-trigger.p95-latency": "p95_latency",
    "slo-trigger.error-rate": "error_rate",
    "slo-trigger.success-rate": "success_rate",
    "slo-trigger.webhook-signature-verification": "webhook_signature_verification",
    "slo-trigger.db-connection-failures": "db_connection_failures",
}


def phase(results: Mapping[str, Any], name: str, why: str = "the run stopped before it") -> dict[str, Any]:
    """The evidence of a phase that ran, else NotReached."""
    found = results.get(name) or {}
    if not found or found.get("status") == "skipped":
        raise NotReached(why)
    return found.get("evidence") or {}


def _no_rollback(results: Mapping[str, Any]) -> str:
    gate = phase(results, "slo_gate")
    if gate.get("proceed"):
        return ""
    if gate.get("already_stable"):
        return "no rollback: the canary already carries no traffic"
    return f"no rollback: {gate.get('verdict', 'unknown')} (no sustained breach)"


def assess_impact(results: Mapping[str, Any]) -> Verdict:
    gate = phase(results, "slo_gate", "the SLOs were not evaluated")
    breached = gate.get("breached") or []
    slos = gate.get("slos") or {}
    if breached:
        return ok("sustained breach: " + "; ".join(slos.get(name, {}).get("line") or name for name in breached))
    if not gate.get("monitoring_available", True):
        return manual("Confirm the SLO violation on the SLO dashboards: Prometheus could not be asked.",
                      f"{gate.get('monitoring_error') or 'Prometheus unavailable'}"
                      + (f"; forced: {gate.get('force_reason')}" if gate.get("forced") else "; nothing rolled back"))
    if gate.get("forced"):
        return ok(f"no sustained breach ({gate.get('verdict')}); rollback forced: {gate.get('force_reason')}")
    unknown = gate.get("unknown") or []
    if unknown:
        return manual("Confirm the SLO violation on the SLO dashboards: these SLOs have no usable data: " + ", ".join(unknown),
                      "nothing rolled back")
    return ok(f"no SLO of the canary breaches for the sustain window ({gate.get('verdict')}): nothing to roll back")


def trigger(name: str) -> Rule:
    def rule(results: Mapping[str, Any]) -> Verdict:
        gate = phase(results, "slo_gate", "the SLOs were not evaluated")
        slo = (gate.get("slos") or {}).get(name)
        if not slo:
            return manual(f"Check {name} on the SLO dashboard: it was not evaluated.", "not in slo_gate_slos")
        line = slo.get("line") or name
        if slo.get("verdict") == "breach":
            return failed(f"sustained: {line}")
        if slo.get("verdict") == "unknown":
            return manual(f"Check {name} on the SLO dashboard: {slo.get('reason') or 'no data'}.", line)
        return ok(line)
    return rule


def declare_incident(results: Mapping[str, Any]) -> Verdict:
    incident = phase(results, "incident", _no_rollback(results) or "the operator was not authorized")
    announcement = incident.get("announcement")
    if not announcement:
        raise NotReached(_no_rollback(results) or "the run stopped before the declaration")
    channel = incident.get("channel", "#ops-alerts")
    if results.get("check_mode"):
        return ok(f"would be posted to {channel} (check mode)")
    if announcement.get("delivered"):
        return ok(f"posted to {channel}" + (f" (ts {announcement['ts']})" if announcement.get("ts") else "") + _declare_order(incident))
    text = (announcement.get("payload") or {}).get("text") or ""
    return manual(f"Post it in {channel} by hand: {text}", f"Slack did not take the declaration ({announcement.get('msg') or 'not delivered'})")


def _declare_order(incident: Mapping[str, Any]) -> str:
    """The checklist lists the declaration before the rollback; a confirmed breach rolls back first (the playbook's header)."""
    return ", right after the rollback's request (the breach was confirmed, so the rollback went first)" if incident.get(
        "declared_after_rollback") else ""


def execute_rollback(results: Mapping[str, Any]) -> Verdict:
    reason = _no_rollback(results)
    if reason:
        return ok(f"{reason}; nothing to execute")
    rollback = phase(results, "canary_rollback", "the run stopped before the rollback")
    attempts = rollback.get("attempts") or []
    tried = "; ".join(f"{a['path']} {'ok' if a.get('ok') else 'failed (' + str(a.get('error_type')) + ')'}"
                      + (f" {a['seconds']} s" if a.get("seconds") is not None else "") for a in attempts)
    if rollback.get("path"):
        return ok(f"via {rollback['path']}" + (f": {tried}" if tried else ""))
    commands = rollback.get("manual_commands") or []
    return Verdict("failed", f"no rollback path worked: {tried}" + (f"; by hand: {' ;; '.join(commands)}" if commands else ""))


def monitor_rollback(results: Mapping[str, Any]) -> Verdict:
    reason = _no_rollback(results)
    if reason:
        return ok(f"{reason}; nothing to watch")
    rollback = phase(results, "canary_rollback", "the run stopped before the rollback")
    return _traffic(rollback, "watched until all traffic was on stable", results.get("check_mode", False))


def _traffic(rollback: Mapping[str, Any], what: str, check_mode: bool) -> Verdict:
    traffic = rollback.get("traffic") or {}
    if not traffic:
        raise NotReached("the traffic was not read")
    weight = (traffic.get("configured") or {}).get("canary_weight", "unknown")
    share = (traffic.get("measured") or {}).get("canary_share", "unknown")
    seen = f"canary weight {weight}, measured canary share {share}" if traffic.get("measured") else \
        f"canary weight {weight} (router; nothing measured)"
    if check_mode:
        return ok(f"check mode: nothing was rolled back; now {seen}")
    if traffic.get("all_on_stable"):
        return ok(f"{what}: {seen}")
    return failed(f"NOT all on stable: {seen}")


def verify_recovery(results: Mapping[str, Any]) -> Verdict:
    reason = _no_rollback(results)
    if reason:
        return ok(f"{reason}; the SLOs of the canary comply")
    return slo_recovery(results)


def _validation(results: Mapping[str, Any]) -> dict[str, Any]:
    validation = phase(results, "rollback_validation", _no_rollback(results) or "the run stopped before the validation")
    if not validation.get("verified", True):
        raise _Unverified(validation)
    return validation


class _Unverified(Exception):
    def __init__(self, validation: Mapping[str, Any]) -> None:
        super().__init__("not verified")
        self.validation = validation


def _unverified(validation: Mapping[str, Any], what: str) -> Verdict:
    return manual(f"Prometheus could not be asked during this run: watch {validation.get('dashboards') or 'the SLO dashboards'} until "
                  f"{what} (for {validation.get('sustain', 'the sustain window')}).",
                  f"NOT VERIFIED: {validation.get('monitoring_error') or 'no monitoring'}")


def _validated(what: str, judge_slos: Any) -> Rule:
    def rule(results: Mapping[str, Any]) -> Verdict:
        try:
            validation = _validation(results)
        except _Unverified as exc:
            return _unverified(exc.validation, what)
        if results.get("check_mode"):
            return ok("check mode: the SLOs were read once, nothing was waited for")
        return judge_slos(validation, validation.get("slos") or {})
    return rule


def _slo_recovery(validation: Mapping[str, Any], slos: Mapping[str, Any]) -> Verdict:
    if validation.get("all_ok"):
        return ok(f"every SLO complied for {validation.get('sustain')}")
    missing = (validation.get("breached") or []) + (validation.get("unknown") or [])
    return failed(validation.get("msg") or f"not all SLOs recovered: {', '.join(missing)}")


def _error_reduction(validation: Mapping[str, Any], slos: Mapping[str, Any]) -> Verdict:
    error = slos.get("error_rate") or {}
    seen = f"error rate now {error.get('current_text', error.get('current', 'unknown'))}, trend {error.get('trend') or 'unknown'}"
    return ok(seen) if error.get("compliant") and error.get("trend") != "rising" else failed(seen)


def _database_health(validation: Mapping[str, Any], slos: Mapping[str, Any]) -> Verdict:
    connections = slos.get("db_connection_failures") or {}
    if not connections.get("compliant"):
        return failed(f"connections: {connections.get('line') or 'no data'}")
    query = slos.get("db_query_performance")
    if not query:
        return manual("Check query latency and the connection pool on the database dashboard "
                      "(set rollback_validation_db_query_slo to automate this).",
                      f"connections ok ({connections.get('line')}); query performance not measured")
    seen = f"connections {connections.get('line')}; queries {query.get('line')}"
    return ok(seen) if query.get("compliant") else failed(seen)


def _external_apis(validation: Mapping[str, Any], slos: Mapping[str, Any]) -> Verdict:
    publish = slos.get("success_rate") or {}
    webhooks = slos.get("webhook_signature_verification") or {}
    seen = f"publishing {publish.get('line') or 'no data'}; webhooks {webhooks.get('line') or 'no data'}"
    return ok(seen) if publish.get("compliant") and webhooks.get("compliant") else failed(seen)


def _queue_processing(validation: Mapping[str, Any], slos: Mapping[str, Any]) -> Verdict:
    backlog = slos.get("publish_queue_backlog") or {}
    return ok(backlog.get("line", "")) if backlog.get("compliant") else failed(backlog.get("line") or "no data")


slo_recovery = _validated("every SLO is back within its target", _slo_recovery)


def traffic_routing(results: Mapping[str, Any]) -> Verdict:
    reason = _no_rollback(results)
    if reason:
        return ok(reason)
    return _traffic(phase(results, "canary_rollback", "the run stopped before the rollback"), "100 % on stable", results.get("check_mode", False))


def status_page(results: Mapping[str, Any]) -> Verdict:
    incident = phase(results, "incident", _no_rollback(results) or "the run stopped before the declaration")
    page = incident.get("statuspage") or {}
    if not page.get("enabled"):
        raise NotReached("no status page configured (ofm_statuspage_page_id), or incident_statuspage_public_impact is false")
    if not page.get("attempted"):
        raise NotReached(_no_rollback(results) or "the run stopped before the declaration")
    if results.get("check_mode"):
        return ok(f"the incident would be {page.get('status')} (check mode)")
    if page.get("delivered"):
        return ok(f"incident {page.get('shortlink') or page.get('incident_id')} {page.get('status')}")
    return manual(f"On page {page.get('page_id')} set the incident \"{page.get('name')}\" to {page.get('status')} with the update: "
                  f"{page.get('body')}", f"Statuspage did not take the update ({page.get('error') or 'not delivered'})")


def _record(results: Mapping[str, Any], what: str) -> Verdict:
    incident = results.get("incident") or {}
    evidence = incident.get("evidence") or {}
    if results.get("check_mode"):
        return ok(f"check mode: {what} shown in this summary, no record written")
    if not evidence.get("record"):
        raise NotReached("the incident record was not written")
    return ok(f"{what} in {evidence['record']}")


def _audit(what: str) -> Rule:
    def rule(results: Mapping[str, Any]) -> Verdict:
        audit = ((results.get("incident") or {}).get("evidence") or {}).get("audit") or {}
        if not audit:
            return manual("Enable the ofm.rollback.audit callback (callbacks_enabled in ansible.cfg) and keep its log.",
                          "no audit log found")
        if not audit.get("ok"):
            return failed(f"the audit log's hash chain is BROKEN at line {(audit.get('first_broken') or {}).get('line')}: {audit.get('path')}")
        return ok(f"{what}: {audit.get('path')} (chain verified, {audit.get('records')} records)")
    return rule


VALIDATION_LINES = ("emergency.verify-recovery", "emergency-validation.traffic-routing", "emergency-validation.slo-recovery",
                    "emergency-validation.error-reduction", "emergency-validation.database-health",
                    "emergency-validation.external-apis", "emergency-validation.queue-processing")


def outcome(results: Mapping[str, Any], lines: Mapping[str, Mapping[str, Any]]) -> str:
    """The run's outcome in one line, from its results and its judged lines (``lines`` by id)."""
    failure = results.get("failure")
    if failure:
        return f"FAILED: {failure.get('task')}: {failure.get('msg')}"
    gate = (results.get("slo_gate") or {}).get("evidence") or {}
    if gate and not gate.get("proceed"):
        if gate.get("already_stable"):
            return "no rollback: the canary already carries no traffic"
        return f"no rollback: {gate.get('verdict', 'unknown')} (no sustained breach)"
    validation = (results.get("rollback_validation") or {}).get("evidence")
    passed = validation is not None and not any(lines[line_id]["status"] == "failed" for line_id in VALIDATION_LINES if line_id in lines)
    if not passed:
        return "rolled back, validation incomplete"
    if not validation.get("verified", True):
        return f"rolled back, traffic on stable by the router's weights, NOT VERIFIED: {validation.get('monitoring_error') or 'no monitoring'}"
    return "rolled back, traffic on stable, validated"


# How the summary, the record and the thread update name the rollback paths of the canary_rollback role.
PATH_NAMES = {
    "ops_api": "the ops API (POST /internal/ops/canary/rollback)",
    "argo": "Argo Rollouts (abort, then undo)",
    "ingress": "the canary Ingress (weight 0, canary Deployment scaled to 0)",
}


def texts(results: Mapping[str, Any], lines: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What the incident role prints besides the lines (summary, record, thread update), decided here instead of in Jinja:

    ``phases`` (name, start, end and ``took``), ``path`` (the rollback path that worked, or "none"), ``rollback_path`` (how,
    and which paths failed before; None when no rollback was tried), ``attempts`` (one line per path tried), ``changed``
    (what the rollback changed, one line each), ``status_page`` (the status page's last word in this run, None when it was
    not asked) and ``message`` (the outcome and the path, for the incident thread).
    """
    rollback = (results.get("canary_rollback") or {}).get("evidence") or {}
    path_text = _rollback_path(rollback)
    path = rollback.get("path") or "none"
    return {"phases": _phases(results), "path": path, "rollback_path": path_text,
            "attempts": [_attempt(attempt) for attempt in rollback.get("attempts") or []] if path_text else [],
            "changed": _by_run(_changed(rollback), rollback.get("reused_from")), "status_page": _status_page(results),
            "message": outcome(results, lines) + (f". Rollback path: {path} ({path_text})" if path_text else "")}


def _phases(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The timeline: each phase that started, with its end when it finished (None: unfinished)."""
    incident, gate, rollback, validation = (results.get(name) or {} for name in ("incident", "slo_gate", "canary_rollback", "rollback_validation"))
    executed = (rollback.get("evidence") or {}).get("executed")
    spans = (("Assess impact", incident.get("started"), gate.get("finished")),
             ("Execute rollback", rollback.get("started"), executed),
             ("Monitor traffic shift", executed, _finished(rollback)),
             ("Verify recovery and validate", validation.get("started"), _finished(validation)))
    timeline = []
    for name, start, end in spans:
        if _epoch(start) is None:
            continue
        took = None if _epoch(end) is None else _epoch(end) - _epoch(start)
        timeline.append({"phase": name, "start": _epoch(start), "end": _epoch(end),
                         "took": "unfinished" if took is None else f"{took:.1f} s"})
    return timeline


def _finished(result: Mapping[str, Any]) -> Any:
    return result.get("finished") if result.get("status") == "ok" else None


def _epoch(value: Any) -> Any:
    return None if value in (None, "") else float(value)


def _rollback_path(rollback: Mapping[str, Any]) -> Any:
    attempts = rollback.get("attempts") or []
    if not attempts:
        return None
    failures = ", ".join(f"{attempt.get('path')} failed: {attempt.get('error_type')}" for attempt in attempts if not attempt.get("ok"))
    path = rollback.get("path")
    text = f"via {PATH_NAMES.get(path, path)}" if path else "no rollback path worked"
    return text + ((", after " if path else ": ") + failures if failures else "")


def _attempt(attempt: Mapping[str, Any]) -> str:
    seconds = attempt.get("seconds")
    if attempt.get("ok"):
        return f"{attempt.get('path')} rolled back" + (f" in {seconds} s" if seconds is not None else "")
    return (f"{attempt.get('path')} failed ({attempt.get('error_type')})" + (f" after {seconds} s" if seconds is not None else "")
            + f": {attempt.get('message')}")


def _changed(rollback: Mapping[str, Any]) -> list[str]:
    """What the path that worked changed, as the summary's "Changed:" lines."""
    path = rollback.get("path")
    if path == "ops_api" and rollback.get("ops_api"):
        ops = rollback["ops_api"]
        if not ops.get("changed"):
            return ["nothing: the canary already carried no traffic"]
        return [f"canary traffic {_known(ops.get('previous_weight'))} -> {_known(ops.get('current_weight'))} (weight) via the ops API"]
    if path == "argo":
        argo = rollback.get("argo") or {}
        return [f"Rollout {argo.get('rollout') or '?'} aborted (phase {_known(argo.get('abort_phase'))}),",
                f"then undone to revision {_known(argo.get('undo_revision'))} (phase {_known(argo.get('undo_phase'))})"]
    if path == "ingress":
        ingress = rollback.get("ingress") or {}
        before, after = ingress.get("previous") or {}, ingress.get("current") or {}
        return [f"canary Ingress {ingress.get('ingress') or '?'} weight {_known(before.get('weight'))} -> {_known(after.get('weight'))},",
                f"canary Deployment {ingress.get('deployment') or '?'} replicas {_known(before.get('replicas'))} -> {_known(after.get('replicas'))}"]
    return []


def _by_run(lines: list[str], run_id: Any) -> list[str]:
    """A rollback a re-run reused (the run journal) says which run did it."""
    return lines[:-1] + [f"{lines[-1]} (by run {run_id})"] if lines and run_id else lines


def _known(value: Any) -> Any:
    return "?" if value is None else value


def _status_page(results: Mapping[str, Any]) -> Any:
    page = ((results.get("incident") or {}).get("evidence") or {}).get("statuspage") or {}
    if not page.get("attempted"):
        return None
    if page.get("delivered"):
        return f"status page incident {page.get('shortlink') or page.get('incident_id') or '?'} {_known(page.get('incident_status'))}"
    if results.get("check_mode"):
        return f"status page incident would be {page.get('status')} (check mode)"
    return "status page NOT updated (see the manual steps)"


RULES: dict[str, Rule] = {
    "emergency.assess-impact": assess_impact,
    "emergency.declare-incident": declare_incident,
    "emergency.execute-rollback": execute_rollback,
    "emergency.monitor-rollback": monitor_rollback,
    "emergency.verify-recovery": verify_recovery,
    **{line_id: trigger(name) for line_id, name in TRIGGERS.items()},
    "emergency-validation.traffic-routing": traffic_routing,
    "emergency-validation.slo-recovery": slo_recovery,
    "emergency-validation.error-reduction": _validated("the error rate keeps decreasing", _error_reduction),
    "emergency-validation.database-health": _validated("the connection pool and query latency are normal", _database_health),
    "emergency-validation.external-apis": _validated("publishing and webhooks are normal", _external_apis),
    "emergency-validation.queue-processing": _validated("the publish queue backlog is normal", _queue_processing),
    "comms.ops-team": declare_incident,  # the #ops-alerts declaration is the ops team's notification
    "comms.status-page": status_page,
    "docs.rollback-trigger": lambda results: _record(results, "the trigger (breached SLOs with values, or the force reason)"),
    "docs.timeline": lambda results: _record(results, "the phases with their start and end"),
    "docs.recovery-time": lambda results: _record(results, "start, end and duration"),
    "audit.operations-log": _audit("every task of the run, hash-chained"),
    "audit.command-history": _audit("each task with its arguments (secrets removed)"),
    "audit.configuration-changes": _audit("each change with its before and after"),
    "audit.team-actions": _audit("the operator, the authority and the time of each action"),
    # The configuration lines, judged when the run restored configuration too (rollback_config: true).
    **checklist_rules_config.RULES,
}
