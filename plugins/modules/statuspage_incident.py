#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: statuspage_incident
short_description: Open, update and resolve an incident on a Statuspage status page, idempotently
version_added: 0.1.0
description:
  - Creates an incident on an Atlassian Statuspage page, or updates an existing one, through the Statuspage API v1.
  - The incident is the one with O(incident_id), or else the newest unresolved incident called O(name). When O(status=resolved),
    the newest incident called O(name) also counts if it is already resolved, so resolving twice changes nothing.
    Without a match a new incident is created, so running the same task again updates the incident instead of
    opening a second one.
  - Only what differs is sent. The task reports no change when the incident already has the requested status, impact,
    name and components, and its latest update has the same O(body).
  - A failed call warns and returns RV(delivered=false) with the reason in RV(error), so the status page never stops a
    rollback; set O(required=true) to fail the task instead.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - requests >= 2.31.0
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_statuspage
  - ofm.rollback.http_client
options:
  api_url:
    description:
      - Base URL of the Statuspage API, including C(/v1).
    type: str
    default: https://api.statuspage.io/v1
  page_id:
    description:
      - ID of the status page, as in C(https://manage.statuspage.io/pages/<page_id>).
      - If not set, the value of the E(STATUSPAGE_PAGE_ID) environment variable is used.
    type: str
  api_key:
    description:
      - "API key of the page's organization, sent as C(Authorization: OAuth <key>)."
      - If not set, the value of the E(STATUSPAGE_API_KEY) environment variable is used.
      - This value is a secret and is never logged.
    type: str
  state:
    description:
      - V(present) makes sure the incident exists with the given fields.
      - Incidents are closed with O(status=resolved) rather than deleted, so the public history stays.
    type: str
    choices: [present]
    default: present
  incident_id:
    description:
      - ID of the incident to update. When not set, the incident is found by O(name).
    type: str
  name:
    description:
      - Title of the incident, shown on the public page. Needed to create an incident.
      - With O(incident_id), a different name renames the incident.
    type: str
  status:
    description:
      - Status of the incident. A new incident starts as V(investigating) when not set; an existing one keeps its status.
    type: str
    choices: [investigating, identified, monitoring, resolved]
  impact_override:
    description:
      - Impact shown for the incident, instead of the one Statuspage derives from the affected components.
    type: str
    choices: [none, minor, major, critical]
  body:
    description:
      - Text of the incident update that goes with this change and is sent to subscribers.
      - When the incident's latest update already has this text and nothing else differs, nothing is sent.
    type: str
  component_ids:
    description:
      - IDs of the page's components affected by the incident. When not set, the components are left as they are.
    type: list
    elements: str
  components:
    description:
      - The status to give each component (id to status) with this update - V(operational), V(degraded_performance),
        V(partial_outage), V(major_outage) or V(under_maintenance). Components not named are left as they are; the ones
        named are attached to the incident. Compared with the incident's components, so an unchanged status sends nothing.
    type: dict
  after_resolved:
    description:
      - What a resolved incident named O(name) means when O(status) is not V(resolved). V(new) - it was another incident, so
        a new one is opened. V(keep) - it is this incident (its name holds the incident id), whose lifecycle only goes
        forward - it is left resolved, with a warning and no change.
    type: str
    choices: [new, keep]
    default: new
  deliver_notifications:
    description:
      - Whether Statuspage notifies the page's subscribers of this change.
    type: bool
    default: true
  required:
    description:
      - V(false) turns a failed call into a warning with RV(delivered=false), so the play goes on.
      - V(true) fails the task when the status page cannot be updated.
      - Errors in the module's own options (types, choices) always fail the task.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The module reads the incidents and reports what it would create or change, without sending it.
  diff_mode:
    support: full
    description: Shows the incident's name, status, impact and latest update body before and after.
notes:
  - "Creating and updating are not retried after an HTTP 5xx or a missing answer, since Statuspage may have applied them;
    running the task again is safe: it finds the incident by O(name) and updates it."
seealso:
  - name: Statuspage incidents API
    description: The API the module calls.
    link: https://developer.statuspage.io/#tag/incidents
"""

EXAMPLES = r"""
- name: Open the incident on the status page
  ofm.rollback.statuspage_incident:
    page_id: "{{ ofm_statuspage_page_id }}"
    api_key: "{{ ofm_statuspage_api_key }}"
    name: "Degraded publishing ({{ rollback_incident_id }})"
    status: investigating
    impact_override: major
    body: "We are rolling back a release that slows down publishing."
  register: status_incident

- name: Say that the rollback is done (updates the same incident, found by name)
  ofm.rollback.statuspage_incident:
    page_id: "{{ ofm_statuspage_page_id }}"
    api_key: "{{ ofm_statuspage_api_key }}"
    name: "Degraded publishing ({{ rollback_incident_id }})"
    status: monitoring
    body: "The release was rolled back; we are watching the error rates."

- name: Resolve it by ID
  ofm.rollback.statuspage_incident:
    page_id: "{{ ofm_statuspage_page_id }}"
    api_key: "{{ ofm_statuspage_api_key }}"
    incident_id: "{{ status_incident.incident.id }}"
    status: resolved
    impact_override: none
    body: "Publishing is back to normal."
"""

RETURN = r"""
delivered:
  description: True when the status page shows the requested incident at the end of the task (false in check mode if a change is pending).
  returned: always
  type: bool
  sample: true
action:
  description: V(create), V(update) or V(none), what was done (or, in check mode, would be done).
  returned: when the incidents could be read
  type: str
  sample: update
incident:
  description: The incident after the task (in check mode, as found, or null when it would be created).
  returned: when the incidents could be read
  type: dict
  contains:
    id:
      description: Incident ID, to pass as O(incident_id).
      type: str
    name:
      description: Title.
      type: str
    status:
      description: Status.
      type: str
    impact:
      description: The impact override, or else the impact Statuspage derived.
      type: str
    shortlink:
      description: Short public link to the incident.
      type: str
    component_ids:
      description: IDs of the affected components.
      type: list
      elements: str
    latest_update:
      description: Body of the newest incident update.
      type: str
    created_at:
      description: When the incident was created.
      type: str
    updated_at:
      description: When it last changed.
      type: str
    resolved_at:
      description: When it was resolved, or null.
      type: str
  sample:
    id: p31zjtct2jer
    name: Degraded publishing (INC-1234)
    status: monitoring
    impact: major
    shortlink: https://stspg.io/p31zjtc
    component_ids: []
    latest_update: The release was rolled back; we are watching the error rates.
    created_at: "2025-01-01T03:02:11.000Z"
    updated_at: "2025-01-01T03:09:40.000Z"
    resolved_at: null
sent:
  description: The incident fields sent (or, in check mode, that would be sent); empty when nothing changes.
  returned: when the incidents could be read
  type: dict
  sample: {status: monitoring, body: The release was rolled back., deliver_notifications: true}
requests:
  description: Every HTTP attempt made to Statuspage, with secrets removed.
  returned: always
  type: list
  elements: dict
  sample:
    - method: GET
      url: https://api.statuspage.io/v1/pages/kctbh9vrtdwd/incidents?q=Degraded+publishing&limit=100
      attempt: 1
      status: 200
      duration: 0.201
error:
  description: Why the status page was not updated, as the collection's error fields (type, system, operation, reason, hint, ...).
  returned: when a call failed
  type: dict
  sample:
    type: AuthenticationError
    system: Statuspage
    operation: GET /v1/pages/kctbh9vrtdwd/incidents
    reason: "HTTP 401: Could not authenticate"
    status: 401
"""

from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import HTTP_CLIENT_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.statuspage import (
    check_components,
    DEFAULT_API_URL,
    IMPACTS,
    STATUSES,
    IncidentPlan,
    IncidentRequest,
    StatuspageClient,
    apply_plan,
    incident_view,
    plan_incident,
)

ARGUMENT_SPEC = {
    **HTTP_CLIENT_SPEC,
    "api_url": {"type": "str", "default": DEFAULT_API_URL},
    "page_id": {"type": "str", "fallback": (env_fallback, ["STATUSPAGE_PAGE_ID"])},
    "api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["STATUSPAGE_API_KEY"])},
    "state": {"type": "str", "choices": ["present"], "default": "present"},
    "incident_id": {"type": "str"},
    "name": {"type": "str"},
    "status": {"type": "str", "choices": list(STATUSES)},
    "impact_override": {"type": "str", "choices": list(IMPACTS)},
    "body": {"type": "str"},
    "component_ids": {"type": "list", "elements": "str"},
    "components": {"type": "dict"},
    "after_resolved": {"type": "str", "choices": ["new", "keep"], "default": "new"},
    "deliver_notifications": {"type": "bool", "default": True},
    "required": {"type": "bool", "default": False},
}
REQUEST_OPTIONS = ("incident_id", "name", "status", "impact_override", "body", "component_ids", "deliver_notifications", "components", "after_resolved")


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_one_of=[("incident_id", "name")])
    client: Optional[StatuspageClient] = None
    plan: Optional[IncidentPlan] = None
    try:
        client = StatuspageClient.from_params(module.params)
        check_components(module.params["components"])
        plan = plan_incident(client, IncidentRequest(**{key: module.params[key] for key in REQUEST_OPTIONS}))
        for warning in plan.warnings:
            module.warn(warning)
        incident = plan.current if module.check_mode else apply_plan(client, plan)
        delivered = not (module.check_mode and plan.changed)
        module.exit_json(changed=plan.changed, delivered=delivered, msg=_summary(plan, incident, module.check_mode), diff=plan.diff(),
                         incident=incident_view(incident) if incident else None, **_result(client, plan))
    except OfmRollbackError as exc:
        result = _result(client, plan)
        if module.params["required"]:
            module.fail_json(**exc.to_result(), delivered=False, **result)
        module.warn(f"{exc} The status page was not updated; the play goes on because required=false.")
        module.exit_json(changed=False, delivered=False, msg=f"Statuspage incident not updated: {exc}", error=exc.fields(), **result)


def _result(client: Optional[StatuspageClient], plan: Optional[IncidentPlan]) -> dict[str, Any]:
    result: dict[str, Any] = {"requests": client.http.requests if client else []}
    if client and plan:
        result.update(action=plan.action, sent=client.http.redact(plan.fields))
    return result


def _summary(plan: IncidentPlan, incident: Optional[dict[str, Any]], check_mode: bool) -> str:
    name = (incident or {}).get("name") or plan.fields.get("name")
    if plan.action == "none":
        return f"Statuspage: incident {name!r} is already up to date."
    verb = {"create": "created", "update": "updated"}[plan.action]
    changed = ", ".join(sorted(key for key in plan.fields if key != "deliver_notifications"))
    return f"Statuspage: incident {name!r} {'would be ' if check_mode else ''}{verb} ({changed})."


if __name__ == "__main__":
    main()
