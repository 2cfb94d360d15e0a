# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who is told what about an incident, decided in Python from the incident record and the measured impact.

The communication protocol of the checklist, as rules:

* **Internal**: the ops team (#ops-alerts) was told by the emergency run; it is told here only when that announcement was
  not delivered. Engineering (#engineering) and the #incident-response thread hear of every state; leadership gets a brief
  with the impact in numbers; customer success only when customers were affected.
* **External**: the status page only when the impact was public; customer emails only when the affected-customers query
  found customers, and only after a dry run: emails go out when ``send_customer_emails`` is true. The support team gets
  the known-issue text when customers or the public were affected. Social media stays with a person.

**Customer impact** is the affected-customers query's count when it ran, else the measured failed requests.
**Public impact** (``public_impact: auto``): customers were affected, or the measured failed requests reach
``min_failed_requests``, or an SLO burned at least ``min_budget_percent`` of its error budget. ``yes`` / ``no`` override it,
and the reason says so. No measurement at all (Prometheus down, no query): the impact is unknown, which counts as public so
that the status page says something; the reason says why.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Sequence

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError

STATES = ("investigating", "identified", "monitoring", "resolved")
AUDIENCES = ("ops", "engineering", "incident_response", "leadership", "customer_success", "support")
PUBLIC_IMPACT = ("auto", "yes", "no")
COMPONENT_STATUSES = ("operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance")
DEFAULT_CHANNELS = {"ops": "#ops-alerts", "engineering": "#engineering", "incident_response": "#incident-response",
                    "leadership": "#eng-leadership", "customer_success": "#customer-success", "support": "#support"}
# The templates each audience's messages use (keys of ``templates``); ``*_blocks`` are Block Kit.
TEMPLATE_KEYS = ("ops", "engineering", "incident_response", "incident_response_update", "leadership", "leadership_blocks",
                 "customer_success", "support")
INCIDENT_ID = re.compile(r"^INC-[0-9]+$")
# A failed-request share at or above this is a partial outage of the components, below it a degradation.
OUTAGE_RATIO = 0.05


def check_choice(option: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise InputError(f"{option} must be one of {', '.join(choices)}, not {value!r}")
    return value


def default_state(record: Mapping[str, Any]) -> str:
    """``monitoring`` once traffic is back on stable (the rollback worked), else ``identified``."""
    return "monitoring" if rolled_back(record) else "identified"


def rolled_back(record: Mapping[str, Any]) -> bool:
    rollback = record.get("rollback") or {}
    traffic = record.get("traffic") or {}
    return bool(traffic.get("all_on_stable")) or (bool(rollback.get("path")) and not record.get("failure"))


def measured(impact: Optional[Mapping[str, Any]]) -> bool:
    return bool(impact) and impact.get("requests_failed") is not None


def customers_count(customers: Optional[Mapping[str, Any]]) -> Optional[int]:
    """The affected-customers query's count; None when it did not run or could not answer."""
    if not customers or customers.get("skipped") or customers.get("count") is None:
        return None
    return int(customers["count"])


def customer_impact(impact: Optional[Mapping[str, Any]], customers: Optional[Mapping[str, Any]]) -> tuple[Optional[bool], str]:
    count = customers_count(customers)
    if count is not None:
        return count > 0, f"the affected-customers query found {count} customer(s)"
    if measured(impact):
        failed = int(impact["requests_failed"])
        return failed > 0, f"{failed} request(s) failed during the incident (no affected-customers query)"
    return None, "not measured: no affected-customers query and no request measurement"


def public_impact(setting: str, impact: Optional[Mapping[str, Any]], customers: Optional[Mapping[str, Any]],
                  min_failed_requests: int, min_budget_percent: float) -> tuple[bool, str]:
    """Whether the impact was public, and why (see the module's docstring)."""
    if setting == "yes":
        return True, "public impact set by the operator (public_impact=yes)"
    if setting == "no":
        return False, "no public impact, set by the operator (public_impact=no)"
    reasons = []
    count = customers_count(customers)
    if count:
        reasons.append(f"{count} customer(s) affected")
    if measured(impact):
        failed = int(impact["requests_failed"])
        if failed >= min_failed_requests:
            reasons.append(f"{failed} failed requests (at least {min_failed_requests})")
        burned = {name: value for name, value in (impact.get("error_budget_burned") or {}).items()
                  if value is not None and float(value) >= min_budget_percent}
        if burned:
            reasons.append("error budget burned: " + ", ".join(f"{name} {float(value):.2f} %" for name, value in sorted(burned.items())))
        if reasons:
            return True, "; ".join(reasons)
        return False, (f"measured below the public-impact rule: {failed} failed requests (< {min_failed_requests}), no SLO burned "
                       f"{min_budget_percent} % of its budget" + (f", {count} customers affected" if count is not None else ""))
    if reasons:
        return True, "; ".join(reasons)
    return True, "impact not measured (Prometheus gave no figures): treated as public so that the status page speaks"


def component_status(state: str, impact: Optional[Mapping[str, Any]]) -> str:
    if state in ("monitoring", "resolved"):
        return "operational"
    if measured(impact) and impact.get("requests_total"):
        ratio = float(impact["requests_failed"]) / max(float(impact["requests_total"]), 1.0)
        return "partial_outage" if ratio >= OUTAGE_RATIO else "degraded_performance"
    return "degraded_performance"


def breached(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    trigger = record.get("trigger") or {}
    slos = trigger.get("slos") or {}
    return [{"name": name, "value": (slos.get(name) or {}).get("current"), "threshold": (slos.get(name) or {}).get("threshold"),
             "line": (slos.get(name) or {}).get("line") or name} for name in trigger.get("breached") or []]


def template_context(params: Mapping[str, Any], record: Mapping[str, Any], state: str, impact_view: Mapping[str, Any]) -> dict[str, Any]:
    """The variables every template sees (the module documents them)."""
    operator = record.get("operator") or {}
    rollback = record.get("rollback") or {}
    return {
        "incident_id": params["incident_id"],
        "environment": record.get("environment") or params.get("environment") or "production",
        "operator": operator.get("name") if isinstance(operator, Mapping) else operator,
        "state": state,
        "milestone": state,
        "release": {"stable": (rollback.get("current") or {}).get("stable") if isinstance(rollback.get("current"), Mapping) else None,
                    "canary": (rollback.get("previous") or {}).get("canary") if isinstance(rollback.get("previous"), Mapping) else None},
        "breached": breached(record),
        "forced": bool((record.get("trigger") or {}).get("forced")),
        "force_reason": (record.get("trigger") or {}).get("force_reason") or "",
        "impact": dict(impact_view),
        "eta": params.get("eta") or "",
        "record_url": params.get("record_url") or "",
        "statuspage_url": params.get("statuspage_url") or "",
        "known_issue": params.get("known_issue") or "",
        "rolled_back": rolled_back(record),
        "outcome": record.get("outcome") or "",
        "started_at": record.get("started_at") or "",
    }


def plan(params: Mapping[str, Any]) -> dict[str, Any]:
    """The module's result: the state, the impact rules' answers, the messages for ofm.rollback.incident_comms, the status
    page update and what to do about customer emails."""
    incident_id = params["incident_id"]
    if not INCIDENT_ID.match(incident_id or ""):
        raise InputError(f"incident_id must look like INC-<digits> (e.g. INC-1234), not {incident_id!r}")
    record = params.get("record") or {}
    if record.get("incident_id") and record["incident_id"] != incident_id:
        raise InputError(f"record: the record is of {record['incident_id']}, not of incident_id {incident_id}")
    state = check_choice("state", params.get("state") or default_state(record), STATES)
    setting = check_choice("public_impact", params.get("public_impact") or "auto", PUBLIC_IMPACT)
    audiences = [check_choice("audiences", audience, AUDIENCES) for audience in params.get("audiences") or AUDIENCES]
    channels = {**DEFAULT_CHANNELS, **(params.get("channels") or {})}
    unknown_channels = sorted(set(channels) - set(AUDIENCES))
    if unknown_channels:
        raise InputError(f"channels: unknown audience(s) {', '.join(unknown_channels)}; accepted: {', '.join(AUDIENCES)}")
    templates = params.get("templates") or {}
    unknown_templates = sorted(set(templates) - set(TEMPLATE_KEYS))
    if unknown_templates:
        raise InputError(f"templates: unknown template key(s) {', '.join(unknown_templates)}; accepted: {', '.join(TEMPLATE_KEYS)}")
    impact = params.get("impact") or {}
    customers = params.get("customers") or {}
    public, public_reason = public_impact(setting, impact, customers, params.get("min_failed_requests", 100),
                                          params.get("min_budget_percent", 1.0))
    affected, customer_reason = customer_impact(impact, customers)
    count = customers_count(customers)
    impact_view = {
        "measured": measured(impact),
        "requests_total": impact.get("requests_total"),
        "requests_failed": impact.get("requests_failed"),
        "error_budget_burned": impact.get("error_budget_burned") or {},
        "customers_affected": count,
        "customer_impact": affected,
        "public_impact": public,
        "public_impact_reason": public_reason,
        "platforms": list(customers.get("platforms") or []),
        "time_to_recover": (impact.get("recovery") or {}).get("time_to_recover"),
    }
    context = template_context(params, record, state, impact_view)
    messages, skipped, audience_of = _messages(audiences, channels, templates, record, state, affected, public)
    statuspage = _statuspage(params, state, public, public_reason, impact)
    emails = _customer_emails(params, affected, count)
    return {"state": state, "public_impact": public, "public_impact_reason": public_reason, "customer_impact": affected,
            "customer_impact_reason": customer_reason, "context": context, "messages": messages, "audiences": audience_of, "skipped": skipped,
            "statuspage": statuspage, "customer_email": emails, "impact": impact_view}


def _messages(audiences: Sequence[str], channels: Mapping[str, str], templates: Mapping[str, str], record: Mapping[str, Any],
              state: str, affected: Optional[bool], public: bool) -> tuple[list[dict[str, Any]], list[dict[str, str]], dict[str, str]]:
    messages: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    audience_of: dict[str, str] = {}

    def add(audience: str, key: str, template: str, **extra: Any) -> None:
        if audience not in audiences:
            skipped.append({"audience": audience, "reason": "not in audiences"})
            return
        if template not in templates:
            skipped.append({"audience": audience, "reason": f"no template {template!r} given"})
            return
        messages.append({"key": key, "channel": channels[audience], "template": templates[template], **extra})
        audience_of[key] = audience

    announcement = record.get("announcement") or {}
    if announcement.get("delivered"):
        skipped.append({"audience": "ops", "reason": f"announced in {announcement.get('channel')} by the emergency run (ts {announcement.get('ts')})"})
    else:
        add("ops", "ops.declared", "ops")
    add("engineering", f"engineering.{state}", "engineering")
    add("incident_response", "incident_response.root", "incident_response")
    add("incident_response", f"incident_response.{state}", "incident_response_update", thread="incident_response.root")
    blocks = {"blocks_template": templates["leadership_blocks"]} if "leadership_blocks" in templates else {}
    add("leadership", f"leadership.{state}", "leadership", **blocks)
    if affected is False:
        skipped.append({"audience": "customer_success", "reason": "no customer impact measured"})
    else:
        add("customer_success", f"customer_success.{state}", "customer_success")
    if affected is False and not public:
        skipped.append({"audience": "support", "reason": "no customer or public impact"})
    else:
        add("support", f"support.{state}", "support")
    return messages, skipped, audience_of


def _statuspage(params: Mapping[str, Any], state: str, public: bool, reason: str, impact: Mapping[str, Any]) -> dict[str, Any]:
    configured = bool(params.get("statuspage_configured"))
    components = params.get("statuspage_components") or []
    status = component_status(state, impact)
    update = public and configured
    why = (reason if public else f"no public impact: {reason}") if configured else "no status page configured"
    return {"publish": update, "configured": configured, "status": state, "reason": why,
            "components": {component: status for component in components}, "component_status": status}


def _customer_emails(params: Mapping[str, Any], affected: Optional[bool], count: Optional[int]) -> dict[str, Any]:
    if not params.get("customer_email_configured"):
        return {"action": "none", "reason": "customer emails are not configured (SMTP and the affected-customers query)"}
    if count is None:
        return {"action": "none", "reason": "the affected-customers query gave no answer"}
    if not count:
        return {"action": "none", "reason": "the affected-customers query found no customer"}
    if params.get("send_customer_emails"):
        return {"action": "send", "reason": f"{count} affected customer(s); sending was asked (send_customer_emails)"}
    return {"action": "dry_run", "reason": f"{count} affected customer(s): dry run only; review it and run again with "
                                           f"-e comms_send_customer_emails=true to send"}
