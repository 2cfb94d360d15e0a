# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Statuspage (Atlassian) API v1 incidents: find, create and update an incident idempotently.

An incident is found by its ID, or by its name: the newest unresolved incident with that exact name, or, when the
request resolves it, the newest incident with that name, so that resolving twice changes nothing. Only fields that
differ are sent; a request whose status, impact, name, components and latest update body already match sends nothing.

Creating (POST) and updating (PATCH) are not retried after HTTP 5xx or a read timeout, since Statuspage may have
applied them; HTTP 429 is retried after ``Retry-After`` (``HttpClient``). A rerun is safe: it finds the
incident by name and updates it instead of creating another.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence
from urllib.parse import quote

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import http_client_kwargs, validated_url
from ansible_collections.ofm.rollback.plugins.module_utils.checks import Check
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, InputError
from ansible_collections.ofm.rollback.plugins.module_utils.http import ClientAuth, HttpClient

SYSTEM = "Statuspage"
DEFAULT_API_URL = "https://api.statuspage.io/v1"
STATUSES = ("investigating", "identified", "monitoring", "resolved")
UNRESOLVED = frozenset(("investigating", "identified", "monitoring"))
IMPACTS = ("none", "minor", "major", "critical")
DEFAULT_STATUS = "investigating"
LIST_LIMIT = 100
_KEY_HINT = "Set api_key (or STATUSPAGE_API_KEY) to an API key of the page's organization (Statuspage > API info)."


class OAuthKeyAuth(ClientAuth):
    """``Authorization: OAuth <api key>``, as the Statuspage API expects."""

    def __init__(self, key: str) -> None:
        self._key = key

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = f"OAuth {self._key}"
        return request

    def secrets(self) -> list[str]:
        return [self._key]


@dataclass(frozen=True)
class IncidentRequest:
    """The incident wanted: found by ``incident_id`` or ``name``; ``None`` fields are left as they are."""

    incident_id: Optional[str] = None
    name: Optional[str] = None
    status: Optional[str] = None
    impact_override: Optional[str] = None
    body: Optional[str] = None
    component_ids: Optional[list[str]] = None
    deliver_notifications: bool = True
    components: Optional[dict[str, str]] = None
    # What a resolved incident of the same name means: "new" - another incident (open a new one), "keep" - the same one (the
    # comms of one incident: its name holds the incident id), left resolved.
    after_resolved: str = "new"


@dataclass
class IncidentPlan:
    """What to do: ``create``, ``update`` or ``none``, the incident found, and the fields to send."""

    action: str
    current: Optional[dict[str, Any]]
    fields: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.action != "none"

    def diff(self) -> dict[str, dict[str, Any]]:
        """Before and after, for ``--diff``: name, status, impact and latest update body."""
        before = incident_state(self.current) if self.current else {}
        wanted = {"name": self.fields.get("name"), "status": self.fields.get("status"), "impact": self.fields.get("impact_override"),
                  "body": self.fields.get("body")}
        after = {**(before or {"impact": "none", "body": ""}), **{key: value for key, value in wanted.items() if value is not None}}
        return {"before": before, "after": after}


def incident_state(incident: Mapping[str, Any]) -> dict[str, Any]:
    """The fields the module compares and diffs."""
    return {"name": incident.get("name"), "status": incident.get("status"), "impact": effective_impact(incident),
            "body": latest_body(incident)}


def effective_impact(incident: Mapping[str, Any]) -> str:
    return str(incident.get("impact_override") or incident.get("impact") or "none")


def latest_body(incident: Mapping[str, Any]) -> str:
    """The body of the newest incident update ('' when there is none)."""
    updates = [update for update in incident.get("incident_updates") or [] if isinstance(update, dict)]
    if not updates:
        return ""
    newest = max(updates, key=lambda update: str(update.get("created_at") or ""))
    return str(newest.get("body") or "")


def component_ids(incident: Mapping[str, Any]) -> list[str]:
    """The IDs of the components attached to the incident (``component_ids``, or the IDs in ``components``)."""
    if isinstance(incident.get("component_ids"), list):
        return [str(item) for item in incident["component_ids"]]
    return [str(component["id"]) for component in incident.get("components") or [] if isinstance(component, dict) and "id" in component]


COMPONENT_STATUSES = ("operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance")


def check_components(components: Optional[Mapping[str, Any]]) -> None:
    for component, status in (components or {}).items():
        if status not in COMPONENT_STATUSES:
            raise InputError(f"components: {component} has the status {status!r}", option="components", system=SYSTEM,
                             accepted=COMPONENT_STATUSES)


def component_statuses(incident: Mapping[str, Any]) -> dict[str, str]:
    """The status of each component attached to the incident (``components`` as Statuspage returns them)."""
    return {str(component["id"]): str(component.get("status")) for component in incident.get("components") or []
            if isinstance(component, dict) and "id" in component}


def incident_view(incident: Mapping[str, Any]) -> dict[str, Any]:
    """The incident as the module returns it."""
    return {"id": incident.get("id"), "name": incident.get("name"), "status": incident.get("status"), "impact": effective_impact(incident),
            "shortlink": incident.get("shortlink"), "component_ids": component_ids(incident),
            "components": component_statuses(incident), "latest_update": latest_body(incident),
            "created_at": incident.get("created_at"), "updated_at": incident.get("updated_at"), "resolved_at": incident.get("resolved_at")}


def incident_check(incident: Optional[Mapping[str, Any]], wanted: str) -> Check:
    """The post-rollback validation's check of an incident: ok when resolved (or never opened), failed while open."""
    if incident is None:
        return Check("incident", "ok", f"no status page incident {wanted}: none was opened")
    status = incident.get("status") or "unknown"
    where = f" ({incident['shortlink']})" if incident.get("shortlink") else ""
    if status == "resolved":
        return Check("incident", "ok", f"status page incident {incident.get('name')!r} is resolved{where}", {"status": status})
    return Check("incident", "failed", f"status page incident {incident.get('name')!r} is still {status}{where}: resolve it when the "
                 "service is back", {"status": status})


class StatuspageClient:
    """The incidents of one Statuspage page."""

    def __init__(self, http: HttpClient, page_id: str) -> None:
        self.http = http
        self.page_id = page_id
        self._base = f"pages/{quote(page_id, safe='')}/incidents"

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, sleep: Callable[[float], None] = time.sleep) -> "StatuspageClient":
        """A client from the module's ``api_url``, ``page_id``, ``api_key`` and ``HTTP_CLIENT_SPEC`` options, validated."""
        if not params.get("api_key"):
            raise InputError("no API key is set", option="api_key", system=SYSTEM, hint=_KEY_HINT)
        if not params.get("page_id"):
            raise InputError("no page ID is set", option="page_id", system=SYSTEM,
                             hint="Set page_id (or STATUSPAGE_PAGE_ID) to the ID in the page's URL, manage.statuspage.io/pages/<page_id>.")
        url = validated_url(params["api_url"], "api_url", example=DEFAULT_API_URL)
        http = HttpClient(url, auth=OAuthKeyAuth(params["api_key"]), system=SYSTEM, sleep=sleep, **http_client_kwargs(params, "api_url"))
        return cls(http, params["page_id"])

    def get(self, incident_id: str) -> dict[str, Any]:
        response = self.http.request("GET", f"{self._base}/{quote(incident_id, safe='')}")
        return self._incident(response.body, "GET incident")

    def search(self, query: str) -> list[dict[str, Any]]:
        """Incidents matching the search ``query``, newest first."""
        response = self.http.request("GET", self._base, params={"q": query, "limit": LIST_LIMIT})
        if not isinstance(response.body, list):
            raise self._shape_error("a list of incidents", response.body, "GET incidents")
        incidents = [item for item in response.body if isinstance(item, dict)]
        return sorted(incidents, key=lambda incident: str(incident.get("created_at") or ""), reverse=True)

    def create(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        response = self.http.request("POST", self._base, json={"incident": dict(fields)}, expected=(200, 201))
        return self._incident(response.body, "POST incident")

    def update(self, incident_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        response = self.http.request("PATCH", f"{self._base}/{quote(incident_id, safe='')}", json={"incident": dict(fields)})
        return self._incident(response.body, "PATCH incident")

    def _incident(self, body: Any, operation: str) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("id"):
            raise self._shape_error("an incident object with an 'id'", body, operation)
        return body

    def _shape_error(self, expected: str, body: Any, operation: str) -> DataError:
        return DataError(f"expected {expected}, got {self.http.redact(str(body))[:300]}", system=SYSTEM, operation=operation,
                         target=f"page {self.page_id}", hint="Check that api_url points at the Statuspage API v1, such as "
                         f"{DEFAULT_API_URL}.")


def plan_incident(client: StatuspageClient, wanted: IncidentRequest) -> IncidentPlan:
    """Find the incident ``wanted`` names and decide whether to create it, update it, or leave it."""
    warnings: list[str] = []
    if wanted.incident_id:
        current: Optional[dict[str, Any]] = client.get(wanted.incident_id)
    elif wanted.name:
        current, warnings = find_by_name(client.search(wanted.name), wanted.name, wanted.status, wanted.after_resolved == "keep")
    else:
        raise InputError("neither incident_id nor name is set", option="name", system=SYSTEM,
                         hint="Set name to create or find an incident, or incident_id to update a known one.")
    if current is None:
        return IncidentPlan("create", None, creation_fields(wanted), warnings)
    if current.get("status") == "resolved" and wanted.status not in (None, "resolved"):
        # The lifecycle only goes forward: a late run (a retry, an older milestone) never reopens a resolved incident.
        return IncidentPlan("none", current, {}, warnings + [
            f"Statuspage: incident {current.get('id')} ({current.get('name')!r}) is resolved; it is not set back to {wanted.status}. "
            "Open a new incident (another name) if the problem is back."])
    fields = changed_fields(current, wanted)
    return IncidentPlan("update" if fields else "none", current, fields, warnings)


def find_by_name(incidents: Sequence[Mapping[str, Any]], name: str, status: Optional[str],
                 keep_resolved: bool = False) -> tuple[Optional[dict[str, Any]], list[str]]:
    """The newest unresolved incident named ``name`` or, when ``status`` is resolved, the newest one; and warnings."""
    named = [dict(incident) for incident in incidents if str(incident.get("name") or "").strip() == name.strip()]
    unresolved = [incident for incident in named if incident.get("status") in UNRESOLVED]
    if len(unresolved) > 1:
        return unresolved[0], [f"Statuspage: {len(unresolved)} unresolved incidents are named {name!r}; the newest "
                               f"({unresolved[0]['id']}) is used. Pass incident_id to pick another."]
    if unresolved:
        return unresolved[0], []
    # With keep_resolved, a resolved incident of that name is the same incident: found, and not reopened (plan_incident).
    return (named[0] if named and (status == "resolved" or keep_resolved) else None), []


def creation_fields(wanted: IncidentRequest) -> dict[str, Any]:
    ids = wanted.component_ids if wanted.component_ids is not None else (sorted(wanted.components) if wanted.components else None)
    fields = {"name": wanted.name, "status": wanted.status or DEFAULT_STATUS, "impact_override": wanted.impact_override,
              "body": wanted.body, "component_ids": ids, "components": wanted.components}
    return {**{key: value for key, value in fields.items() if value is not None}, "deliver_notifications": wanted.deliver_notifications}


def changed_fields(current: Mapping[str, Any], wanted: IncidentRequest) -> dict[str, Any]:
    """The fields of ``wanted`` that differ from ``current``; with any change, the body too, so the new update carries it."""
    fields: dict[str, Any] = {}
    if wanted.name is not None and wanted.name.strip() != str(current.get("name") or "").strip():
        fields["name"] = wanted.name
    if wanted.status is not None and wanted.status != current.get("status"):
        fields["status"] = wanted.status
    if wanted.impact_override is not None and wanted.impact_override != effective_impact(current):
        fields["impact_override"] = wanted.impact_override
    if wanted.component_ids is not None and sorted(set(wanted.component_ids)) != sorted(set(component_ids(current))):
        fields["component_ids"] = wanted.component_ids
    if wanted.components and wanted.components != {key: value for key, value in component_statuses(current).items() if key in wanted.components}:
        fields["components"] = wanted.components
        fields["component_ids"] = sorted(set(component_ids(current)) | set(wanted.components))
    if wanted.body is not None and (fields or wanted.body.strip() != latest_body(current).strip()):
        fields["body"] = wanted.body
    if fields:
        fields["deliver_notifications"] = wanted.deliver_notifications
    return fields


def apply_plan(client: StatuspageClient, plan: IncidentPlan) -> Optional[dict[str, Any]]:
    """Send the plan; return the incident as Statuspage holds it afterwards."""
    if plan.action == "create":
        return client.create(plan.fields)
    if plan.action == "update" and plan.current is not None:
        return client.update(str(plan.current["id"]), plan.fields)
    return plan.current
