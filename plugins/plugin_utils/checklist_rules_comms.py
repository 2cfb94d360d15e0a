# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the communication protocol's result judges its checklist lines (one function per line id).

The result is ``incident_comms_phase`` of roles/incident_comms, handed in as ``comms``. Its evidence holds:

- ``plan``: ofm.rollback.comms_plan (the state, public and customer impact with their reasons, the messages, the status
  page update, what to do about customer emails);
- ``slack``: ofm.rollback.incident_comms (``messages`` with ``key`` and ``status`` sent / unchanged / would_send / failed /
  unknown);
- ``statuspage``: ofm.rollback.statuspage_incident, or ``{"status": "skipped", "reason": ...}``;
- ``emails``: ofm.rollback.customer_email (``sent``, ``already_sent``, ``opted_out``, ``refused``, ``failed``, ``dry_run``),
  or skipped with the reason;
- ``record``: the incident record's ``announcement`` (the emergency run's #ops-alerts message).

A notification that could not be sent never blocks anything: its line is MANUAL with what to post by hand and why (Slack's or
Statuspage's error); the audit log holds the failed task.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ansible_collections.ofm.rollback.plugins.plugin_utils.checklist import NotReached, phase_result, Verdict, failed, manual, ok, unknown

PHASE = "comms"
DONE = ("sent", "unchanged")
# The evidence of a notification a system did not take (its line is MANUAL: a person posts it).
NOT_SENT = "did not take"


def _phase(results: Mapping[str, Any]) -> Mapping[str, Any]:
    return phase_result(results, PHASE, "the communication protocol did not run (playbooks/incident-comms.yml)")


def _evidence(results: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    evidence = _phase(results).get("evidence") or {}
    if key not in evidence or evidence[key] is None:
        raise NotReached(f"the run stopped before its {key} step")
    return evidence[key]


def _plan(results: Mapping[str, Any]) -> Mapping[str, Any]:
    found = _evidence(results, "plan")
    if "messages" not in found:
        raise NotReached(f"the plan could not be made: {found.get('msg') or 'no result'}")
    return found


def _skipped_reason(plan: Mapping[str, Any], audience: str) -> Optional[str]:
    for entry in plan.get("skipped") or []:
        if entry.get("audience") == audience:
            return entry.get("reason")
    return None


def _planned(plan: Mapping[str, Any], audience: str) -> list[str]:
    """The keys of the messages the plan has for ``audience``."""
    return [key for key, whom in (plan.get("audiences") or {}).items() if whom == audience]


def _messages(results: Mapping[str, Any], audience: str) -> list[Mapping[str, Any]]:
    slack = _evidence(results, "slack")
    planned = set(_planned(_plan(results), audience))
    return [message for message in slack.get("messages") or [] if message.get("key") in planned]


def slack_rule(audience: str, what: str):
    """A line told by the Slack messages of ``audience``: ok when each was sent (now or by an earlier run)."""

    def rule(results: Mapping[str, Any]) -> Verdict:
        plan = _plan(results)
        reason = _skipped_reason(plan, audience)
        planned = [message for message in plan.get("messages") or [] if message["key"] in _planned(plan, audience)]
        if not planned:
            return manual("", f"not sent: {reason or 'no message planned'}")
        slack = _evidence(results, "slack")
        if slack.get("status") == "skipped":
            return manual("", f"not sent: {slack.get('reason') or 'Slack is not configured'}")
        if "messages" not in slack:
            return manual("", f"Slack did not take {what}: {slack.get('msg') or 'no result'}")
        told = _messages(results, audience)
        statuses = {message.get("key"): message.get("status") for message in told}
        bad = [message for message in told if message.get("status") == "failed"]
        if bad:
            # A failed notification never blocks: it is a manual step with the text to post (the audit log has the error).
            return manual(" ".join(f"Post in {message.get('channel')} by hand: {message.get('text') or message['key']}" for message in bad),
                          "Slack did not take it: " + "; ".join(f"{message['key']}: {message.get('error') or 'failed'}" for message in bad))
        if any(status == "unknown" for status in statuses.values()):
            return unknown("an earlier run was stopped while sending " + ", ".join(k for k, s in statuses.items() if s == "unknown")
                           + ": check the channel, the message may or may not be there")
        if any(status == "would_send" for status in statuses.values()):
            return manual("", "check mode: would post " + ", ".join(sorted(statuses)))
        missing = sorted({message["key"] for message in planned} - {key for key, status in statuses.items() if status in DONE})
        if missing:
            return failed(f"no result for {', '.join(missing)}")
        channel = planned[0].get("channel")
        return ok(f"{what} in {channel}: " + ", ".join(f"{key} {'sent' if status == 'sent' else 'already sent'}"
                                                       for key, status in sorted(statuses.items())))
    return rule


def ops_team(results: Mapping[str, Any]) -> Verdict:
    """Ops Team: the emergency run's #ops-alerts announcement, or the catch-up message of this run."""
    plan = _plan(results)
    reason = _skipped_reason(plan, "ops")
    if reason and "announced in" in reason:
        return ok(reason)
    return slack_rule("ops", "the incident")(results)


def status_page(results: Mapping[str, Any]) -> Verdict:
    plan = _plan(results)
    page = plan.get("statuspage") or {}
    if not page.get("configured"):
        return manual("", page.get("reason") or "no status page configured",
                      "set ofm_statuspage_page_id and ofm_statuspage_api_key")
    if not page.get("publish"):
        return ok(f"left unchanged: {page.get('reason')}")
    found = _evidence(results, "statuspage")
    if found.get("status") == "skipped":
        return manual("", f"not updated: {found.get('reason')}")
    if found.get("error") or not found.get("delivered", found.get("incident") is not None):
        return manual(f"Set the status page incident to {page.get('status')} by hand"
                      + (f", components {', '.join(f'{k} {v}' for k, v in sorted((page.get('components') or {}).items()))}" if page.get("components") else "")
                      + ".", f"Statuspage did not take the update: {found.get('msg') or found.get('error') or 'no answer'}")
    incident = found.get("incident") or {}
    components = ", ".join(f"{key} {value}" for key, value in sorted((page.get("components") or {}).items()))
    if found.get("check_mode") or results.get("check_mode"):
        return manual("", f"check mode: would set {page.get('status')}" + (f" ({components})" if components else ""))
    return ok(f"{incident.get('status') or page.get('status')} ({page.get('reason')})" + (f"; components: {components}" if components else "")
              + (f"; {incident.get('shortlink')}" if incident.get("shortlink") else ""))


def customer_notifications(results: Mapping[str, Any]) -> Verdict:
    plan = _plan(results)
    decision = plan.get("customer_email") or {}
    action = decision.get("action")
    if action == "none":
        if "not configured" in (decision.get("reason") or ""):
            return manual("", decision["reason"], "set ofm_smtp_host and ofm_comms_customer_database")
        if "no answer" in (decision.get("reason") or ""):
            return unknown(decision["reason"])
        return ok(f"no email needed: {decision.get('reason')}")
    emails = _evidence(results, "emails")
    if emails.get("status") == "skipped":
        return manual("", f"not sent: {emails.get('reason')}")
    if "sent" not in emails:
        return manual("Email the affected customers: fix the cause and run again (a re-run sends only to those not emailed yet).",
                      f"SMTP did not take the customer emails: {emails.get('msg') or 'no result'}")
    tally = (f"{emails.get('sent', 0)} sent, {emails.get('already_sent', 0)} already sent, {emails.get('opted_out', 0)} opted out, "
             f"{emails.get('refused', 0)} refused")
    if emails.get("failed") or emails.get("status") == "partial":
        return manual("Run again to email the rest (a re-run sends only to those not emailed yet).",
                      f"SMTP did not take them all: {tally}, {emails.get('failed', 0)} failed: {emails.get('msg') or 'not finished'}")
    if action == "dry_run" or emails.get("dry_run"):
        return manual("Review the dry run (recipients and message) and send with -e comms_send_customer_emails=true.",
                      f"dry run: {len(emails.get('recipients') or [])} recipient(s); {decision.get('reason')}")
    if emails.get("refused"):
        return ok(f"{tally} (refused addresses are listed in the ledger {emails.get('ledger') or ''})")
    return ok(tally)


RULES = {
    "comms.ops-team": ops_team,
    "comms.engineering-team": slack_rule("engineering", "the update"),
    "comms.leadership": slack_rule("leadership", "the leadership brief"),
    "comms.customer-success": slack_rule("customer_success", "the customer-success note"),
    "comms.status-page": status_page,
    "comms.customer-notifications": customer_notifications,
    "comms.support-team": slack_rule("support", "the support brief"),
}


def outcome(results: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``state`` ok / partial / failed / unknown and a one-line message: a notification that was not sent is listed, never
    hidden, though it never fails the run (``partial``: a person posts it, the lines say what)."""
    lines = list(by_id.values())
    bad = [line["title"] for line in lines if line["status"] == "failed"]
    unsure = [line["title"] for line in lines if line["status"] == "unknown"]
    not_sent = [line["title"] for line in lines if line["status"] == "manual" and NOT_SENT in (line.get("evidence") or "")]
    todo = [line["title"] for line in lines if line["status"] == "manual" and line["title"] not in not_sent]
    if bad:
        state, message = "failed", f"failed: {', '.join(bad)}"
    elif unsure:
        state, message = "unknown", f"not sure it was told: {', '.join(unsure)}"
    elif not_sent:
        state, message = "partial", f"NOT SENT (post by hand, see the lines): {', '.join(not_sent)}"
    else:
        state, message = "ok", "every automated audience told"
    if todo:
        message += f"; for a person: {', '.join(todo)}"
    return {"state": state, "message": message}
