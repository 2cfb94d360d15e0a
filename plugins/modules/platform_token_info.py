#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: platform_token_info
short_description: Check that OFM's stored Meta (Instagram) or TikTok tokens are valid and hold the scopes the app needs
version_added: 0.1.0
description:
  - Asks the platform about each token - Meta's C(debug_token) (C(is_valid), C(scopes), C(expires_at)) or a TikTok token
    introspection (C(active), C(scope), C(exp)) - and compares the scopes held with the scopes needed.
  - The scopes needed are O(required_scopes), or the scopes the app itself requests (its OAuth settings) when that is not set.
  - A token that is not valid, lacks a needed scope or expires within O(min_days_left) days is listed in RV(failing); the
    task fails then unless O(fail_on_problem=false).
  - "TikTok publishes no introspection endpoint: the module calls C(POST /v2/oauth/token/introspect/) (RFC 7662's answer with
    TikTok's field names), the shape of the collection's lab stand-in, for a token broker that serves it through O(api_url)."
  - Tokens are never in the result. It changes nothing.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.platform
  - ofm.rollback.http_client
options:
  accounts:
    description: The stored tokens to check, each with a name for the report.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The token's name in the report, such as the creator's account.
        type: str
        required: true
      token:
        description:
          - The access token.
          - This value is a secret and is never logged.
        type: str
        required: true
  required_scopes:
    description: The scopes each token must hold; the app's requested scopes when not set.
    type: list
    elements: str
  min_days_left:
    description: A token that expires sooner than this many days is a problem.
    type: float
    default: 1.0
  fail_on_problem:
    description: Fail the task when a token has a problem.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode makes the same requests.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
"""

EXAMPLES = r"""
- name: OFM's Instagram tokens still hold what publishing needs
  ofm.rollback.platform_token_info:
    platform: meta
    app_id: "{{ ofm_meta_app_id }}"
    app_secret: "{{ ofm_meta_app_secret }}"
    accounts:
      - name: ofm-main
        token: "{{ ofm_instagram_token }}"
    required_scopes: [instagram_basic, instagram_content_publish]
"""

RETURN = r"""
tokens:
  description: One line per token - C(name), C(valid), C(scopes), C(required_scopes), C(missing_scopes), C(expires_at), C(days_left), C(ok), C(problems).
  returned: success
  type: list
  elements: dict
failing:
  description: The names of the tokens with a problem.
  returned: success
  type: list
  elements: str
required_scopes:
  description: The scopes checked.
  returned: success
  type: list
  elements: str
required_from:
  description: Where the scopes checked came from, C(required_scopes) or the app's requested scopes.
  returned: success
  type: str
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.apps import client_from_params
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.common import PLATFORM_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.platforms.tokens import token_report

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **PLATFORM_SPEC,
    "accounts": {"type": "list", "elements": "dict", "required": True, "options": {
        "name": {"type": "str", "required": True},
        "token": {"type": "str", "required": True, "no_log": True},
    }},
    "required_scopes": {"type": "list", "elements": "str"},
    "min_days_left": {"type": "float", "default": 1.0},
    "fail_on_problem": {"type": "bool", "default": True},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    try:
        report = token_report(client_from_params(params), params["accounts"], params["required_scopes"], params["min_days_left"])
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), changed=False)
    if report["failing"] and params["fail_on_problem"]:
        module.fail_json(msg=f"{params['platform']} tokens with problems: {', '.join(report['failing'])}", changed=False, **report)
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
