#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: comms_plan
short_description: Decide who is told what about an incident, from its record and its measured impact
version_added: 0.4.0
description:
  - The communication protocol of the rollback checklist as rules in Python. From the incident record (O(record)), the
    measured impact (O(impact), the result of M(ofm.rollback.incident_impact_info)) and the affected customers
    (O(customers), the result of M(ofm.rollback.affected_customers_info)), it returns the Slack messages to send with
    M(ofm.rollback.incident_comms), the status page update for M(ofm.rollback.statuspage_incident), and whether to email
    the affected customers with M(ofm.rollback.customer_email) (a dry run unless O(send_customer_emails)).
  - B(Internal.) The ops team (#ops-alerts) is told again only when the emergency run's announcement was not delivered.
    Engineering and the C(#incident-response) thread hear of every state, leadership gets a brief with the impact in
    numbers, customer success only when customers were affected (or the impact is unknown).
  - B(Customer impact) is the affected-customers query's count when it ran, else whether any request failed.
  - B(Public impact) with O(public_impact=auto) - customers were affected, the failed requests reach
    O(min_failed_requests), or an SLO burned at least O(min_budget_percent) of its error budget. An impact that was not
    measured at all counts as public, so that the status page speaks; the reason says so.
  - Message keys are C(<audience>.<state>) (C(engineering.monitoring)), so each state is told once per audience and a
    re-run sends nothing new; C(incident_response.root) starts the thread the updates reply in.
  - The module only computes; it sends nothing.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
options:
  incident_id:
    description:
      - The incident, C(INC-<digits>).
    type: str
    required: true
  record:
    description:
      - The incident's JSON record as the emergency procedure writes it (trigger, rollback, traffic, announcement, outcome).
      - Empty when there is none (an incident handled by hand); the state then defaults to V(identified).
    type: dict
    default: {}
  state:
    description:
      - The incident's state on the status page and in the messages. Default - V(monitoring) when the record says traffic
        is back on stable, else V(identified). V(resolved) is only ever given by a person (after the validation passed).
    type: str
    choices: [investigating, identified, monitoring, resolved]
  impact:
    description:
      - The result of M(ofm.rollback.incident_impact_info) - V(requests_total), V(requests_failed), V(error_budget_burned)
        per SLO, V(recovery). Empty - the impact is not measured.
    type: dict
    default: {}
  customers:
    description:
      - The result of M(ofm.rollback.affected_customers_info) - V(count), V(platforms). Empty - no query ran.
    type: dict
    default: {}
  public_impact:
    description:
      - V(auto) applies the rule above; V(yes) and V(no) are a person's decision, and the reason says so.
    type: str
    choices: [auto, "yes", "no"]
    default: auto
  min_failed_requests:
    description:
      - With O(public_impact=auto), this many failed requests make the impact public.
    type: int
    default: 100
  min_budget_percent:
    description:
      - With O(public_impact=auto), an SLO that burned this percentage of its error budget makes the impact public.
    type: float
    default: 1.0
  audiences:
    description:
      - Who may be told. Default - all of them.
    type: list
    elements: str
    choices: [ops, engineering, incident_response, leadership, customer_success, support]
  channels:
    description:
      - Slack channel per audience, over the defaults C(#ops-alerts), C(#engineering), C(#incident-response),
        C(#eng-leadership), C(#customer-success), C(#support).
    type: dict
    default: {}
  templates:
    description:
      - The template file per key - V(ops), V(engineering), V(incident_response), V(incident_response_update),
        V(leadership), V(leadership_blocks) (Block Kit), V(customer_success), V(support). An audience without its template
        is skipped, and RV(skipped) says so. The role M(ofm.rollback.incident_comms) passes its own templates, which a team
        overrides per key.
    type: dict
    default: {}
  known_issue:
    description:
      - The known-issue text for the support team and customer success.
    type: str
    default: ""
  eta:
    description:
      - The expected time of the next update or of resolution, as people read it (with its zone).
    type: str
    default: ""
  record_url:
    description:
      - Where people read the incident record or report.
    type: str
    default: ""
  statuspage_url:
    description:
      - The public status page.
    type: str
    default: ""
  statuspage_configured:
    description:
      - Whether a status page is configured (page id and API key); without one the status page is never updated.
    type: bool
    default: false
  statuspage_components:
    description:
      - The status page components the release affects; their status follows the state (RV(statuspage)).
    type: list
    elements: str
    default: []
  customer_email_configured:
    description:
      - Whether SMTP and the affected-customers query are configured.
    type: bool
    default: false
  send_customer_emails:
    description:
      - Send the customer emails. False (the default) - a dry run that lists the recipients and renders the message.
    type: bool
    default: false
  environment:
    description:
      - The environment's name when the record does not say.
    type: str
    default: production
attributes:
  check_mode:
    support: full
    description: The module only computes, so check mode runs it unchanged.
  diff_mode:
    support: none
    description: Nothing is changed.
"""

EXAMPLES = r"""
- name: Who is told what about INC-1234
  ofm.rollback.comms_plan:
    incident_id: INC-1234
    record: "{{ lookup('ansible.builtin.file', record_json) | from_json }}"
    impact: "{{ impact }}"
    customers: "{{ customers }}"
    templates:
      engineering: "{{ role_path }}/templates/slack/engineering.j2"
  register: plan
"""

RETURN = r"""
state:
  description: The state told (investigating, identified, monitoring or resolved).
  returned: success
  type: str
  sample: monitoring
public_impact:
  description: Whether the impact was public (the status page is updated only then).
  returned: success
  type: bool
public_impact_reason:
  description: Why, in one line.
  returned: success
  type: str
  sample: 312 failed requests (at least 100); error budget burned - error_rate 4.10 %
customer_impact:
  description: Whether customers were affected; null when not measured.
  returned: success
  type: bool
customer_impact_reason:
  description: Why, in one line.
  returned: success
  type: str
context:
  description:
    - The variables the templates see - V(incident_id), V(environment), V(operator), V(state), V(milestone), V(release)
      (V(stable), V(canary)), V(breached) (V(name), V(value), V(threshold), V(line)), V(forced), V(force_reason), V(impact)
      (V(measured), V(requests_total), V(requests_failed), V(error_budget_burned), V(customers_affected),
      V(customer_impact), V(public_impact), V(public_impact_reason), V(platforms), V(time_to_recover)), V(eta),
      V(record_url), V(statuspage_url), V(known_issue), V(rolled_back), V(outcome), V(started_at).
  returned: success
  type: dict
messages:
  description: The messages for M(ofm.rollback.incident_comms) - V(key), V(channel), V(template), and V(thread) or
    V(blocks_template) where they apply.
  returned: success
  type: list
  elements: dict
audiences:
  description: The audience of each message, by key.
  returned: success
  type: dict
  sample: {engineering.monitoring: engineering, incident_response.root: incident_response}
skipped:
  description: The audiences not told, each with V(audience) and V(reason).
  returned: success
  type: list
  elements: dict
statuspage:
  description: V(publish) (whether to update the status page), V(configured), V(status), V(components) (id to status),
    V(component_status) and V(reason).
  returned: success
  type: dict
customer_email:
  description: V(action) - V(none), V(dry_run) or V(send) - and V(reason).
  returned: success
  type: dict
impact:
  description: The impact as the templates see it (C(impact) of RV(context)).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.comms_plan import AUDIENCES, PUBLIC_IMPACT, STATES, plan
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError

ARGUMENT_SPEC = {
    "incident_id": {"type": "str", "required": True},
    "record": {"type": "dict", "default": {}},
    "state": {"type": "str", "choices": list(STATES)},
    "impact": {"type": "dict", "default": {}},
    "customers": {"type": "dict", "default": {}},
    "public_impact": {"type": "str", "choices": list(PUBLIC_IMPACT), "default": "auto"},
    "min_failed_requests": {"type": "int", "default": 100},
    "min_budget_percent": {"type": "float", "default": 1.0},
    "audiences": {"type": "list", "elements": "str", "choices": list(AUDIENCES)},
    "channels": {"type": "dict", "default": {}},
    "templates": {"type": "dict", "default": {}},
    "known_issue": {"type": "str", "default": ""},
    "eta": {"type": "str", "default": ""},
    "record_url": {"type": "str", "default": ""},
    "statuspage_url": {"type": "str", "default": ""},
    "statuspage_configured": {"type": "bool", "default": False},
    "statuspage_components": {"type": "list", "elements": "str", "default": []},
    "customer_email_configured": {"type": "bool", "default": False},
    "send_customer_emails": {"type": "bool", "default": False},
    "environment": {"type": "str", "default": "production"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        decided = plan(module.params)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(changed=False, **decided)


if __name__ == "__main__":
    main()
