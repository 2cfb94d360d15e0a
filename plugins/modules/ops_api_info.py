#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ops_api_info
short_description: Check the OFM Social OS internal ops API's health and who the caller is
version_added: 0.1.0
description:
  - Calls C(GET /health), which needs no credentials, and tells whether the given session cookie or token is
    authenticated and holds the C(admin) role that every C(/internal/ops/*) route needs.
  - The ops API has no identity route, so the module probes the admin-only C(GET /internal/ops/logs?lines=1), which changes
    nothing. HTTP 200 means admin; HTTP 403 lists the caller's current roles; HTTP 401 means not authenticated.
  - Use it before a rollback to stop early, with a clear message, when the credentials cannot roll back.
  - The module only reads; it never reports a change.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_ops_api
  - ofm.rollback.ops_api
  - ofm.rollback.http_client
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode makes the same calls.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
notes:
  - The probe appears in the ops API's request log (it is a read of that log), not in its audit log.
  - An IP allow-list that refuses this host answers HTTP 403 without roles; then RV(authenticated) and RV(roles) are null.
seealso:
  - module: ofm.rollback.canary_rollback
"""

EXAMPLES = r"""
- name: Check the ops API and the caller's role
  ofm.rollback.ops_api_info:
    ops_api_url: https://internal.ofm.social
    ops_api_session_cookie: "{{ ofm_ops_api_session_cookie }}"
  register: ops_api

- name: Stop unless the caller can roll back
  ansible.builtin.assert:
    that: ops_api.is_admin
    fail_msg: >-
      The ops API needs role admin; the caller holds {{ ops_api.roles | default([], true) | join(', ') or 'none' }}
      ({{ ops_api.identity_detail }}).
"""

RETURN = r"""
health:
  description: The answer of C(GET /health).
  returned: success
  type: dict
  sample: {ok: true, timestamp: "2025-01-01T03:00:00.000Z", service: ofm-internal-ops}
authenticated:
  description: Whether the ops API recognised the credentials; null when an IP allow-list refused the probe first.
  returned: success
  type: bool
  sample: true
is_admin:
  description: Whether the caller holds the C(admin) role, so can call every C(/internal/ops/*) route.
  returned: success
  type: bool
  sample: false
roles:
  description:
    - The caller's roles as the ops API listed them; empty when not authenticated, null when unknown.
    - For an admin the probe only proves the C(admin) role, so this is V([admin]).
  returned: success
  type: list
  elements: str
  sample: [viewer]
identity_detail:
  description: How the identity was told, in words.
  returned: success
  type: str
  sample: "lacks role 'admin': HTTP 403: Insufficient permissions"
requests:
  description: Every HTTP attempt made to the ops API, with secrets removed.
  returned: always
  type: list
  elements: dict
  sample:
    - method: GET
      url: https://internal.ofm.social/health
      attempt: 1
      status: 200
      duration: 0.008
"""

from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import (
    HTTP_CLIENT_SPEC,
    OPS_API_MUTUALLY_EXCLUSIVE,
    OPS_API_SPEC,
)
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HttpClient
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import OpsApiClient

ARGUMENT_SPEC = {**OPS_API_SPEC, **HTTP_CLIENT_SPEC}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=OPS_API_MUTUALLY_EXCLUSIVE)
    http: Optional[HttpClient] = None
    try:
        client = OpsApiClient.from_params(module.params)
        http = client.http
        health = http.redact(client.health())
        identity = client.whoami()
        verdict = "holds the admin role" if identity.is_admin else "does not hold the admin role"
        module.exit_json(changed=False, msg=f"The ops API at {client.url('')} is up; the caller {verdict} ({identity.detail}).",
                         health=health, authenticated=identity.authenticated, is_admin=identity.is_admin, roles=identity.roles,
                         identity_detail=identity.detail, requests=http.requests)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), requests=_requests(http))


def _requests(http: Optional[HttpClient]) -> list[dict[str, Any]]:
    return http.requests if http else []


if __name__ == "__main__":
    main()
