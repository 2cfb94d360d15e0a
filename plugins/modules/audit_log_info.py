#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_log_info
short_description: Read an incident's command history, team actions and configuration changes from the audit trail
version_added: 0.4.0
description:
  - Reads the records of every run that touched the incident (O(incident_id)) - from the audit callback's JSONL log
    (O(source=file)) or from OFM's C(audit_logs) table (O(source=table)) - and returns the checklist's Audit Trail -
    RV(commands) (every run started and every module that acted, with its redacted arguments and the commands it ran),
    RV(team_actions) (who started what, and each change, with its time) and RV(config_changes) (changed tasks of the
    modules that change configuration or routing, with their diff summaries, never the values).
  - Times are UTC, ISO 8601 with their offset. The module only reads.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.pg_connection.database
options:
  incident_id:
    description:
      - The incident, C(INC-<digits>).
    type: str
    required: true
  source:
    description:
      - Where to read - the JSONL log (O(path)) or the table (O(database), O(table)).
    type: str
    choices: [file, table]
    default: file
  path:
    description:
      - The audit log (the callback's C(log_path)), with O(source=file).
    type: path
  table:
    description:
      - The audit table, with O(source=table).
    type: str
    default: audit_logs
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode runs it unchanged.
  diff_mode:
    support: none
    description: Nothing is changed.
"""

EXAMPLES = r"""
- name: Who did what during INC-1234
  ofm.rollback.audit_log_info:
    incident_id: INC-1234
    path: ~/.ansible/ofm-rollback/audit.jsonl
  register: history
"""

RETURN = r"""
records:
  description: How many records the incident's runs wrote.
  returned: success
  type: int
commands:
  description: The Command History - V(time), V(actor), V(task), V(module), V(status), V(changed), V(args), V(commands), V(run_id), V(seq).
  returned: success
  type: list
  elements: dict
team_actions:
  description: The Team Actions - V(time), V(actor), V(action), V(run_id).
  returned: success
  type: list
  elements: dict
config_changes:
  description: The configuration changes - V(time), V(actor), V(module), V(task), V(diff), V(run_id).
  returned: success
  type: list
  elements: dict
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils import audit_history
from ansible_collections.ofm.rollback.plugins.module_utils.audit_table import incident_records_from_file, incident_records_from_table
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.connection import DATABASE_ARGUMENT_SPEC

ARGUMENT_SPEC = {
    "incident_id": {"type": "str", "required": True},
    "source": {"type": "str", "choices": ["file", "table"], "default": "file"},
    "path": {"type": "path"},
    "table": {"type": "str", "default": "audit_logs"},
    **DATABASE_ARGUMENT_SPEC,
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_if=[("source", "file", ("path",))])
    params = module.params
    try:
        if not re.match(r"^INC-[0-9]+$", params["incident_id"]):
            raise InputError(f"incident_id must look like INC-<digits> (e.g. INC-1234), not {params['incident_id']!r}", option="incident_id")
        if params["source"] == "file":
            if not os.path.exists(params["path"]):
                raise InputError(f"path: no audit log at {params['path']}", option="path", accepted="the audit callback's log_path")
            records = incident_records_from_file(params["path"], params["incident_id"])
        else:
            records = incident_records_from_table(params, params["incident_id"])
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(changed=False, records=len(records), commands=audit_history.command_history(records),
                     team_actions=audit_history.team_actions(records), config_changes=audit_history.config_changes(records))


if __name__ == "__main__":
    main()
