#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: input_check
short_description: Check the formats and ranges of a procedure's inputs before anything changes
version_added: 0.1.0
description:
  - Each procedure of the collection runs this module in its preflight (role C(ofm.rollback.preflight)), after the argument
    specs of its roles gave each variable a type and its accepted values, and before it contacts any system. An incident
    id must be C(INC-<digits>), a duration longer than zero, a sandbox name not a path, an operator's name one line.
  - Every input is checked and every bad one is reported in one message that names the variable and what it accepts. A
    value is shown as Python prints it (a newline as C(\n)), so a value cannot forge a line of the output.
  - The module contacts nothing and changes nothing.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
options:
  procedure:
    description:
      - What the inputs are of, for the message, such as V(emergency rollback).
    type: str
    default: procedure
  stray_words:
    description:
      - The extra var C(_raw_params) - the words a C(-e key=value) option split at its spaces left over (Ansible sets the
        variable to its first word). When set the run is refused first, naming the words and the quoting that keeps them.
      - Give it as C("{{ _raw_params | default(omit) }}").
    type: raw
  incident:
    description:
      - Open the run's incident as well - the id given in O(incident.id) (check it with an input of rule V(incident_id)), else
        one generated from the UTC time (C(INC-<YYYYmmddHHMMSS>)), announced in the run's output; the operator; the start time.
        The result is RV(incident); the incident role's defaults read it from the registered C(preflight_checked).
    type: dict
    suboptions:
      id:
        description:
          - The incident id given (C(rollback_incident_id)); empty to generate one.
        type: str
        default: ""
      operator:
        description:
          - Who runs the procedure outside AWX (C(rollback_operator)).
        type: str
        default: ""
      awx_job_id:
        description:
          - The AWX/Tower job that runs the procedure (C(awx_job_id), C(tower_job_id)); empty outside AWX.
          - In an AWX job the operator is O(incident.awx_user_name) alone, whatever O(incident.operator) says - extra vars
            (a schedule's, a launch through the API) cannot name someone else. A job without a user (a scheduled launch,
            one by a system) has no operator, and the admin rule refuses it.
        type: str
        default: ""
      awx_user_name:
        description:
          - The AWX/Tower user who launched the job (C(awx_user_name), C(tower_user_name)).
        type: str
        default: ""
      awx_launch_type:
        description:
          - How the AWX/Tower job was launched (C(awx_job_launch_type) - V(manual), V(scheduled), V(workflow), ...), recorded.
        type: str
        default: ""
  role_specs:
    description:
      - Roles of this collection whose argument specs (the options of their C(main) entry point) the run's variables must
        meet, checked as M(ansible.builtin.validate_argument_spec) checks them, before O(inputs).
      - Checked by the action plugin on the controller, which reads the variables; an unknown role is refused naming the
        roles that have a spec.
    type: list
    elements: str
    default: []
  inputs:
    description:
      - The inputs to check.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The variable as the person sets it, named in the message.
        type: str
        required: true
      value:
        description:
          - Its value.
        type: raw
      rule:
        description:
          - V(incident_id) is C(INC-<digits>).
          - V(duration) is a Prometheus duration (V(30s), V(5m), V(1h30m)) or a number of seconds, longer than zero;
            V(duration_or_zero) may also be zero.
          - V(integer) and V(number) lie within O(inputs[].minimum) and O(inputs[].maximum) when given.
          - V(time) is a time with an offset, or a wall-clock time in O(inputs[].timezone) (a time the zone skips or
            repeats is refused); V(timezone) is an IANA time zone name.
          - V(name) is letters, digits, C(.), C(_) and C(-), at most 63, never a path; V(k8s_name) is a Kubernetes object name.
          - V(line) is one line of text without control characters, at most 200 characters.
          - V(choice) is one of O(inputs[].choices).
        type: str
        required: true
        choices: [incident_id, duration, duration_or_zero, integer, number, time, timezone, name, k8s_name, line, choice]
      optional:
        description:
          - An empty value (none or blank text) is accepted.
        type: bool
        default: false
      minimum:
        description:
          - The smallest accepted value of an V(integer) or V(number).
        type: float
      maximum:
        description:
          - The largest accepted value of an V(integer) or V(number).
        type: float
      choices:
        description:
          - The accepted values of a V(choice).
        type: list
        elements: raw
      timezone:
        description:
          - The zone of a V(time) given without an offset.
        type: str
        default: UTC
      timezone_name:
        description:
          - The variable that holds O(inputs[].timezone), named when that zone is not valid.
        type: str
        default: timezone
attributes:
  check_mode:
    support: full
    description: The module contacts nothing and changes nothing.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
seealso:
  - module: ansible.builtin.validate_argument_spec
"""

EXAMPLES = r"""
- name: Preflight | the inputs of the database rollback, before anything changes
  ofm.rollback.input_check:
    procedure: database rollback
    role_specs: [db_pitr]
    inputs:
      - {name: db_pitr_environment, value: "{{ db_pitr_environment }}", rule: name}
      - {name: db_pitr_rto_target, value: "{{ db_pitr_rto_target }}", rule: duration}
      - {name: db_pitr_sandbox_port, value: "{{ db_pitr_sandbox_port }}", rule: integer, minimum: 1, maximum: 65535}
      - {name: rollback_incident_id, value: "{{ rollback_incident_id | default('') }}", rule: incident_id, optional: true}
"""

RETURN = r"""
checked:
  description: How many inputs were checked.
  returned: always
  type: int
  sample: 4
errors:
  description: Each input refused, with the variable, the reason and what it accepts.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "db_pitr_environment", "reason": "'../../etc' is a path, not a name", "accepted": "a name of letters, ..."}]
incident:
  description:
    - The run's incident (O(incident)) - C(id), C(id_generated), C(operator), C(started_at) (epoch) and C(started_iso) (UTC).
    - C(launched_by) says who or what launched the run - C(AWX job <id> (<launch type>)), or empty outside AWX.
  returned: when O(incident) is given and the inputs are accepted
  type: dict
  sample: {id: INC-20261205101500, id_generated: true, operator: alice, started_at: 1796465700.0, started_iso: "2026-12-05T10:15:00Z"}
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.input_check import RULES, check_inputs, open_incident, refusal, stray_words_refusal

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "procedure": {"type": "str", "default": "procedure"},
    "stray_words": {"type": "raw"},
    "incident": {"type": "dict", "options": {name: {"type": "str", "default": ""}
                                             for name in ("id", "operator", "awx_job_id", "awx_user_name", "awx_launch_type")}},
    # Checked by the action plugin before the module runs (it needs the controller's variables).
    "role_specs": {"type": "list", "elements": "str", "default": []},
    "inputs": {"type": "list", "elements": "dict", "required": True, "options": {
        "name": {"type": "str", "required": True},
        "value": {"type": "raw"},
        "rule": {"type": "str", "required": True, "choices": list(RULES)},
        "optional": {"type": "bool", "default": False},
        "minimum": {"type": "float"},
        "maximum": {"type": "float"},
        "choices": {"type": "list", "elements": "raw"},
        "timezone": {"type": "str", "default": "UTC"},
        "timezone_name": {"type": "str", "default": "timezone"},
    }},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.params["stray_words"] is not None:
        module.fail_json(msg=stray_words_refusal(module.params["stray_words"]), checked=0, errors=[])
    problems = check_inputs(module.params["inputs"])
    errors = [{"name": exc.option, "reason": exc.reason, "accepted": exc.accepted} for exc in problems]
    checked = len(module.params["inputs"])
    if problems:
        module.fail_json(msg=refusal(problems, module.params["procedure"]), checked=checked, errors=errors)
    extra = {"incident": open_incident(module.params["incident"])} if module.params["incident"] is not None else {}
    module.exit_json(changed=False, checked=checked, errors=[], msg=f"the {checked} inputs of the {module.params['procedure']} are accepted",
                     **extra)


if __name__ == "__main__":
    main()
