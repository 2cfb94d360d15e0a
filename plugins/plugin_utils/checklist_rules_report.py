# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the incident report's result judges the checklist's documentation, audit, root-cause and prevention lines.

The result is ``incident_report_phase`` of roles/incident_report, handed in as ``report``. Its evidence holds, by key, the
raw result of each module the role ran (``{"status": "skipped", "reason": ...}`` when a step did not run):

- ``record``: ofm.rollback.incident_record_info (the Markdown record's sections: Lessons learned written or not);
- ``audit``: ofm.rollback.audit_verify (the JSONL chain, and the ``audit_logs`` table when ``source`` is both);
- ``history``: ofm.rollback.audit_log_info (Command History, Team Actions, configuration changes);
- ``impact``: ofm.rollback.incident_impact_info (requests failed, error budget burned, recovery times, gaps);
- ``report``: ofm.rollback.incident_report (the HTML and Markdown files, their sections, the gaps);
- ``bundle``: ofm.rollback.rca_collect (the evidence archive, its files and gaps).

A measurement whose source did not answer is ``unknown`` (never ok). The lines a person writes (lessons learned,
contributing factors) and the prevention follow-ups are MANUAL with where to write them, until the record says they are
written.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.plugin_utils.checklist import NotReached, phase_result, Rule, Verdict, failed, manual, ok, unknown

PHASE = "report"
PREVENTION = ("review-deployment-process", "update-checklists", "improve-monitoring", "automate-rollbacks", "testing-enhancement",
              "circuit-breakers", "feature-flags", "blue-green-deployment", "database-migrations")
PLACEHOLDER_SECTIONS = {"lessons": "Lessons learned"}


def _phase(results: Mapping[str, Any]) -> Mapping[str, Any]:
    return phase_result(results, PHASE, "the incident report did not run (playbooks/incident-report.yml)")


def _entry(results: Mapping[str, Any], key: str) -> Optional[Mapping[str, Any]]:
    """The module result under ``key``; None when the step was skipped (why: :func:`_reason`)."""
    evidence = _phase(results).get("evidence") or {}
    entry = evidence.get(key)
    if entry is None:
        raise NotReached(f"the run stopped before its {key} step")
    if entry.get("status") == "skipped" or entry.get("skipped"):
        return None
    return entry


def _reason(results: Mapping[str, Any], key: str) -> str:
    entry = ((_phase(results).get("evidence") or {}).get(key)) or {}
    return entry.get("reason") or entry.get("skip_reason") or "not run"


def _report(results: Mapping[str, Any]) -> Mapping[str, Any]:
    entry = _entry(results, "report")
    if entry is None:
        raise NotReached(f"no report: {_reason(results, 'report')}")
    if "sections" not in entry:
        raise NotReached(f"the report could not be written: {entry.get('msg') or 'no result'}")
    return entry


def _where(report: Mapping[str, Any]) -> str:
    files = report.get("files") or {}
    if report.get("check_mode") or not files:
        return "the report (check mode: not written)"
    return files.get("html") or files.get("markdown") or "the report"


def section_rule(title: str, what: str) -> Rule:
    """A line documented by a section of the report."""

    def rule(results: Mapping[str, Any]) -> Verdict:
        report = _report(results)
        if title not in (report.get("sections") or []):
            return failed(f"the report has no section {title!r}")
        gaps = [gap for gap in report.get("gaps") or [] if title.lower() in str(gap).lower()]
        return ok(f"{what}: section {title} of {_where(report)}" + (f" (gaps: {'; '.join(map(str, gaps))})" if gaps else ""))
    return rule


def impact_assessment(results: Mapping[str, Any]) -> Verdict:
    impact = _entry(results, "impact")
    if impact is None:
        return manual("", f"not measured: {_reason(results, 'impact')}")
    if impact.get("requests_failed") is None:
        return unknown(f"the impact could not be measured: {impact.get('msg') or '; '.join(map(str, impact.get('gaps') or [])) or 'no data'}")
    burned = impact.get("error_budget_burned") or {}
    burned_text = ", ".join(f"{name} {value:.2f} %" if isinstance(value, (int, float)) else f"{name} not measured"
                            for name, value in sorted(burned.items()))
    customers = (((_phase(results).get("evidence") or {}).get("customers")) or {}).get("count")
    return ok(f"{impact['requests_failed']} of {impact.get('requests_total')} requests failed; error budget burned: {burned_text or '-'}; "
              f"customers affected: {customers if customers is not None else 'not measured'}")


def recovery_time(results: Mapping[str, Any]) -> Verdict:
    impact = _entry(results, "impact")
    if impact is None:
        return manual("", f"not measured: {_reason(results, 'impact')}")
    recovery = impact.get("recovery") or {}
    if not recovery.get("time_to_recover"):
        why = "; ".join(map(str, impact.get("gaps") or [])) or impact.get("msg") or "no compliant samples after the rollback"
        return unknown(f"recovery not measured: {why}")
    return ok(f"{recovery['time_to_recover']} from detection ({recovery.get('detected_at')}) to SLOs compliant ({recovery.get('slos_compliant_at')}); "
              f"traffic on stable at {recovery.get('traffic_on_stable_at') or 'not recorded'}")


def written_section(title: str) -> Rule:
    """A section people write in the incident record: ok once written, else MANUAL with where."""

    def rule(results: Mapping[str, Any]) -> Verdict:
        record = _entry(results, "record")
        if record is None:
            return manual("", f"no incident record: {_reason(results, 'record')}")
        for check in record.get("checks") or []:
            if check.get("name") == title:
                if check.get("status") == "ok":
                    return ok(f"{check.get('detail')} in {record.get('record')}")
                return manual("", f"{check.get('detail')}: write it in {record.get('record')}")
        return manual("", f"the record {record.get('record') or ''} was not checked for {title!r}")
    return rule


def operations_log(results: Mapping[str, Any]) -> Verdict:
    audit = _entry(results, "audit")
    if audit is None:
        return manual("", f"not verified: {_reason(results, 'audit')}")
    if "ok" not in audit:
        return unknown(f"the audit trail could not be verified: {audit.get('msg') or 'no result'}")
    file_part = audit.get("file") or audit
    table = audit.get("table")
    if not audit.get("ok"):
        broken = (table or {}).get("first_broken") or file_part.get("first_broken") or {}
        missing = (table or {}).get("missing_seqs") or []
        detail = f"BROKEN at {broken}" if broken else (f"records of the log not in the audit_logs table (seq {', '.join(missing)}): runs without "
                                                       "the callback's db_dsn, or the database was down; the next run with db_dsn writes them"
                                                       if missing else "not verified")
        return failed(f"the audit trail does not verify: {detail}")
    if table is None:
        return manual("Keep the audit trail in the audit system: set ofm_audit_database (the OFM audit_logs table) and the callback's db_dsn.",
                      f"the JSONL chain verifies ({file_part.get('records')} records) but no audit_logs table was checked")
    return ok(f"{table.get('rows')} rows in audit_logs match the JSONL chain ({file_part.get('records')} records, chain verified)")


def history_rule(key: str, what: str, empty_is_ok: bool = False) -> Rule:
    def rule(results: Mapping[str, Any]) -> Verdict:
        history = _entry(results, "history")
        if history is None:
            return manual("", f"not listed: {_reason(results, 'history')}")
        if key not in history:
            return unknown(f"the audit trail could not be read: {history.get('msg') or 'no result'}")
        items: Sequence[Any] = history.get(key) or []
        if not items and not empty_is_ok:
            return failed(f"no {what} recorded for this incident in the audit trail")
        report = _entry(results, "report")
        where = f" (listed in {_where(report)})" if report and "sections" in report else ""
        return ok(f"{len(items)} {what}{where}" if items else f"no {what} during the incident{where}")
    return rule


def bundle_rule(artefacts: Sequence[str], what: str) -> Rule:
    def rule(results: Mapping[str, Any]) -> Verdict:
        bundle = _entry(results, "bundle")
        if bundle is None:
            return manual("", f"no evidence bundle: {_reason(results, 'bundle')}")
        if "files" not in bundle:
            return unknown(f"the evidence bundle could not be written: {bundle.get('msg') or 'no result'}")
        gaps = [gap for gap in bundle.get("gaps") or [] if gap.get("artefact") in artefacts]
        if gaps:
            return unknown("; ".join(f"{gap['artefact']}: {gap.get('reason')}" for gap in gaps))
        count = sum(1 for item in bundle.get("files") or [] if any(_belongs(item.get("name", ""), artefact) for artefact in artefacts))
        where = bundle.get("path") if not results.get("check_mode") else "the bundle (check mode: not written)"
        return ok(f"{what}: {count} file(s) in {where} (sha256 {str(bundle.get('sha256') or '')[:12]})")
    return rule


ARTEFACT_PREFIXES = {"pod_logs": "pod-logs/", "ops_api_logs": "ops-api", "sli_series": "sli/", "events": "kubernetes/events"}


def _belongs(name: str, artefact: str) -> bool:
    return name.startswith(ARTEFACT_PREFIXES.get(artefact, artefact))


def metric_analysis(results: Mapping[str, Any]) -> Verdict:
    verdict = bundle_rule(["sli_series"], "the SLI series as CSV")(results)
    report = _report(results)
    charts = (report.get("files") or {}).get("charts") or []
    if verdict.status != "ok":
        return verdict
    return ok(f"{verdict.evidence}; {len(charts)} chart(s) in {_where(report)}")


def followup(results: Mapping[str, Any]) -> Verdict:
    report = _report(results)
    return manual("", f"a follow-up item in the section Follow-up items of {_where(report)}")


def contributing_factors(results: Mapping[str, Any]) -> Verdict:
    report = _report(results)
    return manual("", f"the section Contributing factors of {_where(report)} is for it")


RULES = {
    "docs.rollback-trigger": section_rule("Rollback trigger", "which SLOs, their values and thresholds"),
    "docs.timeline": section_rule("Timeline", "every event with its time and zone"),
    "docs.impact-assessment": impact_assessment,
    "docs.recovery-time": recovery_time,
    "docs.lessons-learned": written_section("Lessons learned"),
    "audit.operations-log": operations_log,
    "audit.command-history": history_rule("commands", "commands and module calls"),
    "audit.configuration-changes": history_rule("config_changes", "configuration changes", empty_is_ok=True),
    "audit.team-actions": history_rule("team_actions", "team actions (who, what, when)"),
    "rca.log-collection": bundle_rule(["pod_logs", "ops_api_logs", "events"], "the canary's pod logs, the ops API logs and the events"),
    "rca.metric-analysis": metric_analysis,
    "rca.timeline-creation": section_rule("Timeline", "the timeline of events"),
    "rca.contributing-factors": contributing_factors,
    "rca.lessons-learned": written_section("Lessons learned"),
    **{f"prevention.{name}": followup for name in PREVENTION},
}


def outcome(results: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    lines = list(by_id.values())
    bad = [line["title"] for line in lines if line["status"] == "failed"]
    unsure = [line["title"] for line in lines if line["status"] == "unknown"]
    if bad:
        return {"state": "failed", "message": f"failed: {', '.join(dict.fromkeys(bad))}"}
    if unsure:
        return {"state": "unknown", "message": f"not measured or not collected: {', '.join(dict.fromkeys(unsure))}"}
    people = [line["title"] for line in lines if line["status"] == "manual"]
    return {"state": "ok", "message": "report and evidence written" + (f"; for people: {', '.join(dict.fromkeys(people))}" if people else "")}
