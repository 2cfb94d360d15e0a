#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: alertmanager_alerts_info
short_description: Tell whether any alert of the service fires in Alertmanager
version_added: 0.3.0
description:
  - Reads the active alerts of Alertmanager through its API v2 (C(GET /api/v2/alerts)), narrowed by label O(matchers), for the
    post-rollback validation's "Monitoring systems" and "No ongoing incidents" lines.
  - Returns the post-rollback validation's check result (RV(status), RV(checks)) - the check C(alerts) is V(failed) when any
    alert fires (each listed with its name, severity and since when), V(ok) when none does, and V(unknown) when Alertmanager
    could not be asked and O(unavailable_is=unknown). A firing alert never fails the task; the procedure judges the result.
  - Silenced and inhibited alerts are left out unless O(include_silenced) or O(include_inhibited) is set; the check says how
    many were left out. Resolved alerts are not active and never count.
  - The module only reads.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - requests >= 2.31.0
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_alertmanager
  - ofm.rollback.alertmanager
  - ofm.rollback.http_client
options:
  matchers:
    description:
      - Label matchers every counted alert must satisfy, in Alertmanager's syntax (C(name="value"), C(name!="value"),
        C(name=~"regex"), C(name!~"regex")); Alertmanager applies them.
      - An empty list counts every active alert.
    type: list
    elements: str
    default: ['service="ofm-social-os"']
  include_silenced:
    description:
      - Count alerts that a silence mutes.
    type: bool
    default: false
  include_inhibited:
    description:
      - Count alerts that another alert inhibits.
    type: bool
    default: false
  unavailable_is:
    description:
      - What an unreachable or failing Alertmanager makes of the check - V(fail) fails the task, V(unknown) returns the check
        V(unknown) with the reason.
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
- name: No alert of the service fires
  ofm.rollback.alertmanager_alerts_info:
    alertmanager_url: "{{ ofm_alertmanager_url }}"
    alertmanager_token: "{{ ofm_alertmanager_token | default(omit) }}"
    unavailable_is: unknown
  register: alerts

- name: Only paging alerts of production count
  ofm.rollback.alertmanager_alerts_info:
    alertmanager_url: https://alertmanager.example.com:9093
    alertmanager_username: ofm-rollback
    alertmanager_password: "{{ vault_alertmanager_password }}"
    matchers:
      - service="ofm-social-os"
      - severity=~"page|critical"
      - env="production"
  register: paging
"""

RETURN = r"""
status:
  description: V(ok) (no alert fires), V(failed) (an alert fires) or V(unknown) (Alertmanager could not be asked).
  returned: always
  type: str
checks:
  description: The one check C(alerts) with its status, detail (the firing alerts, or the reason) and data.
  returned: always
  type: list
  elements: dict
failed_checks:
  description: Names of the failed checks.
  returned: always
  type: list
  elements: str
unknown_checks:
  description: Names of the checks that could not be evaluated.
  returned: always
  type: list
  elements: str
msg:
  description: One line for a person.
  returned: always
  type: str
alerts:
  description:
    - The counted alerts, oldest first - V(name) (alertname), V(severity), V(since) (ISO 8601 in UTC with its zone), V(for)
      (how long it has fired), V(state), V(silenced), V(inhibited), V(labels), V(summary) and V(fingerprint).
  returned: always
  type: list
  elements: dict
  sample:
    - name: OfmErrorBudgetBurn
      severity: page
      since: "2026-12-04T14:57:11Z"
      for: 3m12s
      state: active
      silenced: false
      inhibited: false
      labels: {alertname: OfmErrorBudgetBurn, service: ofm-social-os, severity: page, slo: error_rate, version: canary}
      summary: error_rate of the canary version burns its error budget (page)
      fingerprint: 5405d2971e5be060
matchers:
  description: The label matchers sent to Alertmanager.
  returned: always
  type: list
  elements: str
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.alertmanager import AlertmanagerClient, alerts_check, checked_matchers
from ansible_collections.ofm.rollback.plugins.module_utils.argspec import (
    ALERTMANAGER_MUTUALLY_EXCLUSIVE, ALERTMANAGER_REQUIRED_TOGETHER, ALERTMANAGER_SPEC, HTTP_CLIENT_SPEC)
from ansible_collections.ofm.rollback.plugins.module_utils.checks import UNAVAILABLE_IS, result, unavailable
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError

ARGUMENT_SPEC = {
    **ALERTMANAGER_SPEC,
    **HTTP_CLIENT_SPEC,
    "matchers": {"type": "list", "elements": "str", "default": ['service="ofm-social-os"']},
    "include_silenced": {"type": "bool", "default": False},
    "include_inhibited": {"type": "bool", "default": False},
    "unavailable_is": {"type": "str", "choices": list(UNAVAILABLE_IS), "default": "fail"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=ALERTMANAGER_MUTUALLY_EXCLUSIVE,
                          required_together=ALERTMANAGER_REQUIRED_TOGETHER)
    params = module.params
    try:
        matchers = checked_matchers(params["matchers"])
        client = AlertmanagerClient.from_params(params)
    except InputError as exc:
        module.fail_json(**exc.to_result())
    try:
        alerts = client.alerts(matchers)
    except OfmRollbackError as exc:
        if params["unavailable_is"] == "fail":
            module.fail_json(**exc.to_result())
        module.exit_json(changed=False, alerts=[], matchers=matchers,
                         **result([unavailable("alerts", f"Alertmanager could not be asked: {exc}")], "the alerts"))
    now = time.time()
    check, counted = alerts_check(alerts, matchers, include_silenced=params["include_silenced"],
                                  include_inhibited=params["include_inhibited"], now=now)
    # Labels and annotations are the alert's authors' text: anything secret-looking (or the credentials) is redacted.
    module.exit_json(changed=False, **client.http.redact({"alerts": [alert.view(now) for alert in counted], "matchers": matchers,
                                                          **result([check], "the alerts")}))


if __name__ == "__main__":
    main()
