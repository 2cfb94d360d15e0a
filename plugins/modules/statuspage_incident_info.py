#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: statuspage_incident_info
short_description: Tell whether a Statuspage incident is resolved
version_added: 0.3.0
description:
  - Reads one incident of an Atlassian Statuspage page through the Statuspage API v1, by O(incident_id) or as the newest
    incident called O(name), and checks that it is resolved - the Success Criteria's "No ongoing incidents".
  - Returns the post-rollback validation's check result (RV(status), RV(checks)) - the check C(incident) is V(ok) when the
    incident is V(resolved), V(failed) while it is open, and V(unknown) when Statuspage could not be asked and
    O(unavailable_is=unknown). No incident of that name is V(ok) - none was opened.
  - The module only reads.
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
      - ID of the status page. If not set, the value of the E(STATUSPAGE_PAGE_ID) environment variable is used.
    type: str
  api_key:
    description:
      - "API key of the page's organization, sent as C(Authorization: OAuth <key>); never logged."
      - If not set, the value of the E(STATUSPAGE_API_KEY) environment variable is used.
    type: str
  incident_id:
    description:
      - ID of the incident. One of O(incident_id) and O(name) is required.
    type: str
  name:
    description:
      - Title of the incident; the newest incident with exactly this title is read.
    type: str
  unavailable_is:
    description:
      - What an unreachable or failing Statuspage API makes of the check - V(fail) fails the task, V(unknown) returns the
        check V(unknown) with the reason.
    type: str
    choices: [fail, unknown]
    default: fail
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode runs it unchanged.
  diff_mode:
    support: none
    description: Nothing is changed.
  action:
    support: full
    description: Runs in process on the controller.
"""

EXAMPLES = r"""
- name: No ongoing incident on the status page
  ofm.rollback.statuspage_incident_info:
    page_id: "{{ ofm_statuspage_page_id }}"
    api_key: "{{ ofm_statuspage_api_key }}"
    name: Degraded performance of the OFM API (INC-1234)
    unavailable_is: unknown
  register: status_page
"""

RETURN = r"""
status:
  description: V(ok) (resolved or never opened), V(failed) (still open) or V(unknown) (Statuspage could not be asked).
  returned: always
  type: str
checks:
  description: The one check C(incident) with its status and detail.
  returned: always
  type: list
  elements: dict
msg:
  description: One line for a person.
  returned: always
  type: str
incident:
  description: The incident found (id, name, status, impact, shortlink), or none.
  returned: always
  type: dict
"""

from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import HTTP_CLIENT_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.checks import UNAVAILABLE_IS, result, unavailable
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.statuspage import DEFAULT_API_URL, StatuspageClient, incident_check, incident_view

ARGUMENT_SPEC = {
    **HTTP_CLIENT_SPEC,
    "api_url": {"type": "str", "default": DEFAULT_API_URL},
    "page_id": {"type": "str", "fallback": (env_fallback, ["STATUSPAGE_PAGE_ID"])},
    "api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["STATUSPAGE_API_KEY"])},
    "incident_id": {"type": "str"},
    "name": {"type": "str"},
    "unavailable_is": {"type": "str", "choices": list(UNAVAILABLE_IS), "default": "fail"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_one_of=[("incident_id", "name")],
                          mutually_exclusive=[("incident_id", "name")])
    params = module.params
    wanted = f"id {params['incident_id']}" if params["incident_id"] else f"called {params['name']!r}"
    try:
        client = StatuspageClient.from_params(params)
    except InputError as exc:
        module.fail_json(**exc.to_result())
    try:
        if params["incident_id"]:
            incident: Optional[dict[str, Any]] = client.get(params["incident_id"])
        else:
            incident = next((item for item in client.search(params["name"]) if item.get("name") == params["name"]), None)
        check = incident_check(incident, wanted)
    except OfmRollbackError as exc:
        if params["unavailable_is"] == "fail":
            module.fail_json(**exc.to_result())
        incident, check = None, unavailable("incident", f"Statuspage could not be asked: {exc}")
    module.exit_json(changed=False, incident=incident_view(incident) if incident else None,
                     **result([check], "the status page incident"))


if __name__ == "__main__":
    main()
