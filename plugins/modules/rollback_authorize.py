#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rollback_authorize
short_description: Decide whether the operator may roll back - the admin list, the ops API's admin role, or the cluster's RBAC
version_added: 1.0.0
description:
  - The emergency rollback's authorization in one task (role C(ofm.rollback.incident), C(tasks_from=authorize)), judged in
    Python and failing closed.
  - An O(operator) listed in O(admins) may roll back without a question.
  - Otherwise the ops API is asked, with one read-only probe (the admin-only C(GET /internal/ops/logs?lines=1), as
    M(ofm.rollback.ops_api_info) does), whether the credentials hold the C(admin) role. A caller without it, or credentials
    the ops API does not recognise, is refused.
  - When the ops API cannot be reached (connection refused, timeout, the O(timeout) budget spent) the verdict belongs to the
    cluster's RBAC - with O(rbac_fallback) the module returns RV(needs_rbac) and the playbook asks it
    (M(ofm.rollback.k8s_access_info)); without it the operator is refused.
  - An unknown operator (empty O(operator)) is refused. Every refusal fails the task with a message that names the operator
    and the authority that refused, and ends with "Nothing was changed.".
  - Any other failure of the ops API (a 5xx after the retries, a body it cannot read) fails the task with that error.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_ops_api
  - ofm.rollback.ops_api
  - ofm.rollback.http_client
options:
  operator:
    description:
      - Who runs the rollback (the AWX user, else C(rollback_operator)).
    type: str
    required: true
  admins:
    description:
      - Operators who may roll back without asking the ops API (the incident role's C(incident_admins)).
    type: list
    elements: str
    default: []
  confirm_with_ops_api:
    description:
      - Ask the ops API for an operator not in O(admins). When false such an operator is refused.
    type: bool
    default: true
  rbac_fallback:
    description:
      - When the ops API cannot be reached, leave the verdict to the cluster's RBAC (RV(needs_rbac)) instead of refusing.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode asks the same question.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
notes:
  - The probe appears in the ops API's request log (it is a read of that log), not in its audit log.
seealso:
  - module: ofm.rollback.ops_api_info
  - module: ofm.rollback.k8s_access_info
"""

EXAMPLES = r"""
- name: Authorize | only a known admin rolls back
  ofm.rollback.rollback_authorize:
    ops_api_url: https://internal.ofm.social
    ops_api_token: "{{ ofm_ops_api_token }}"
    operator: "{{ awx_user_name | default(rollback_operator) }}"
    admins: [alice]
    timeout: 5
    retries: 1
  register: authorization
"""

RETURN = r"""
authorized:
  description: True when the operator may roll back; null when the cluster's RBAC must answer (RV(needs_rbac)).
  returned: success
  type: bool
  sample: true
authority:
  description: What authorized the operator - V(incident_admins list) or V(ops API (admin role)); null with RV(needs_rbac).
  returned: success
  type: str
  sample: ops API (admin role)
needs_rbac:
  description: The ops API cannot be reached and O(rbac_fallback) is on - ask the cluster's RBAC.
  returned: success
  type: bool
  sample: false
ops_api_down:
  description: The probe could not reach the ops API.
  returned: success
  type: bool
  sample: false
ops_api_down_reason:
  description: Why, when RV(ops_api_down).
  returned: success
  type: str
  sample: ""
is_admin:
  description: What the probe said of the admin role; null when the ops API was not asked or not reached.
  returned: success
  type: bool
  sample: true
roles:
  description: The caller's roles as the ops API listed them; null when unknown.
  returned: success
  type: list
  elements: str
  sample: [admin]
operator:
  description: The operator judged.
  returned: success
  type: str
  sample: alice
requests:
  description: Every HTTP attempt made to the ops API, with secrets removed.
  returned: always
  type: list
  elements: dict
  sample: []
"""

from typing import Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import HTTP_CLIENT_SPEC, OPS_API_MUTUALLY_EXCLUSIVE, OPS_API_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.authorize import authorize, message
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import OpsApiClient

ARGUMENT_SPEC = {
    **OPS_API_SPEC,
    **HTTP_CLIENT_SPEC,
    "operator": {"type": "str", "required": True},
    "admins": {"type": "list", "elements": "str", "default": []},
    "confirm_with_ops_api": {"type": "bool", "default": True},
    "rbac_fallback": {"type": "bool", "default": True},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=OPS_API_MUTUALLY_EXCLUSIVE)
    client: Optional[OpsApiClient] = None
    params = module.params
    try:
        client = OpsApiClient.from_params(params) if params["confirm_with_ops_api"] else None
        result = authorize(params["operator"], params["admins"], confirm_with_ops_api=params["confirm_with_ops_api"],
                           rbac_fallback=params["rbac_fallback"], probe=client.whoami if client else None)
        module.exit_json(changed=False, msg=message(result), **result, requests=client.http.requests if client else [])
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), requests=client.http.requests if client else [])


if __name__ == "__main__":
    main()
