#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: incident_record_info
short_description: Tell whether an incident record is complete for the post-incident review
version_added: 0.3.0
description:
  - Reads the Markdown incident record the emergency procedure writes (O(path), or the newest
    C(<record_dir>/<incident_id>-<start>.md)) and checks that every section of the checklist's Incident Documentation is
    written - the Success Criteria's "Documentation complete".
  - Returns the post-rollback validation's check result (RV(status), RV(checks)) with one check per required section,
    V(failed) when the section is missing, empty, or still holds the O(placeholder). No record at all fails every check.
    An incomplete record never fails the task; the procedure judges the result.
  - A section is a Markdown heading of level 2 or deeper (C(## Lessons learned)) and its text up to the next heading of the
    same or a higher level; titles are compared ignoring case and spaces. HTML comments do not count as text.
  - The module only reads.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
options:
  path:
    description:
      - The record to check. Mutually exclusive with O(incident_id); one of the two is required.
    type: path
  incident_id:
    description:
      - The incident whose newest record in O(record_dir) is checked (the file names start with the incident id and hold the
        run's start time).
    type: str
  record_dir:
    description:
      - Where the emergency procedure writes its records (its C(ofm_incident_record_dir)).
    type: path
    default: ~/.ansible/ofm-rollback/incidents
  required_sections:
    description:
      - The section titles the record must hold, written.
    type: list
    elements: str
    default: [Rollback trigger, Timeline, Impact assessment, Recovery time, Lessons learned]
  placeholder:
    description:
      - Text that marks a section as not written yet; a section holding it fails.
    type: str
    default: _To be written
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode runs it unchanged.
  diff_mode:
    support: none
    description: Nothing is changed.
"""

EXAMPLES = r"""
- name: The incident record is ready for the post-incident review
  ofm.rollback.incident_record_info:
    incident_id: "{{ incident_id }}"
    record_dir: "{{ ofm_incident_record_dir }}"
  register: record

- name: A record written by hand, with a section of our own
  ofm.rollback.incident_record_info:
    path: /srv/incidents/INC-1234.md
    required_sections: [Rollback trigger, Timeline, Impact assessment, Recovery time, Lessons learned, Action items]
    placeholder: TODO
"""

RETURN = r"""
status:
  description: V(ok) (every required section written) or V(failed).
  returned: always
  type: str
checks:
  description: One check per required section, named after it, with its status and detail.
  returned: always
  type: list
  elements: dict
failed_checks:
  description: The required sections missing or not written.
  returned: always
  type: list
  elements: str
unknown_checks:
  description: Always empty (a record that cannot be read fails the task).
  returned: always
  type: list
  elements: str
msg:
  description: One line for a person.
  returned: always
  type: str
record:
  description: The record checked, or null when there is none.
  returned: always
  type: str
  sample: /home/sre/.ansible/ofm-rollback/incidents/INC-1234-2026-12-04T140500Z.md
incident:
  description:
    - From the JSON record beside the Markdown one, when there is one - V(started_at) (when the incident began) and
      V(finished_at) (when its procedure ended), ISO 8601 with an offset, and the procedure's V(outcome). Empty otherwise.
    - The post-rollback validation takes its baseline's end and the 2-hour watch's start from them.
  returned: always
  type: dict
  sample: {started_at: "2026-12-04T14:05:00+00:00", finished_at: "2026-12-04T14:06:12+00:00", outcome: rolled_back}
sections:
  description: Every section of the record - V(title), V(level), V(line) (of its heading), V(lines) (of text) and V(placeholder).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.checks import result
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.incident_record import DEFAULT_PLACEHOLDER, DEFAULT_SECTIONS, checked_options, evaluate

ARGUMENT_SPEC = {
    "path": {"type": "path"},
    "incident_id": {"type": "str"},
    "record_dir": {"type": "path", "default": "~/.ansible/ofm-rollback/incidents"},
    "required_sections": {"type": "list", "elements": "str", "default": list(DEFAULT_SECTIONS)},
    "placeholder": {"type": "str", "default": DEFAULT_PLACEHOLDER},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_one_of=[("path", "incident_id")],
                          mutually_exclusive=[("path", "incident_id")])
    params = module.params
    try:
        required, placeholder = checked_options(params["required_sections"], params["placeholder"])
        found = evaluate(params["path"], params["incident_id"], params["record_dir"], required, placeholder)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(changed=False, record=found["record"], sections=found["sections"], incident=found["incident"],
                     **result(found["checks"], f"the incident record{' of ' + params['incident_id'] if params['incident_id'] else ''}"))


if __name__ == "__main__":
    main()
