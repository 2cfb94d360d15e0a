#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_rollback_report
short_description: Write the RTO/RPO report of a database rollback as JSON and Markdown
version_added: 0.2.0
description:
  - Computes the recovery time and recovery point achieved by a point-in-time recovery into a sandbox, compares them with
    their targets, and writes the report, with every validation check, as C(<report_name>.json) and C(<report_name>.md)
    under O(results_dir).
  - "RTO achieved: the time from O(restore_started_at) (the start of the restore) to O(validated_at) (the end of the
    sandbox's validation). A sandbox is recovered once it is validated, so the validation counts."
  - "RPO achieved: O(target_time) minus O(reached_time), that is the time between the PITR target and the commit time of
    the last transaction the sandbox actually holds; 0 when the sandbox reached the target. Transactions committed in
    that span before the target are missing from the sandbox, so it bounds the data lost relative to the target (when
    nothing was committed in that span, nothing was lost)."
  - A target is met when the achieved value is at most the target; RV(missed_targets) names the targets missed.
  - O(results_dir) is created with mode C(0700) when missing; the files get mode C(0600). The reports hold no time of
    their own making, so the same inputs give the same files and a second run reports no change.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
options:
  results_dir:
    description:
      - Directory of the reports, created (mode C(0700)) when missing.
    type: path
    required: true
  report_name:
    description:
      - Base name of the two files, without extension.
    type: str
    default: db-rollback-report
  rto_target:
    description:
      - The recovery time objective, as a duration (V(30m), V(1h30m)) or a number of seconds.
    type: str
    default: 30m
  rpo_target:
    description:
      - The recovery point objective, as a duration (V(15m), V(90s)) or a number of seconds.
    type: str
    default: 15m
  restore_started_at:
    description:
      - When the restore started (ISO 8601; a time without an offset is taken as UTC, and the report says so).
    type: str
    required: true
  validated_at:
    description:
      - When the sandbox's validation ended; C(finished_at) of O(validation) when not set.
    type: str
  target_time:
    description:
      - The point in time the recovery was asked to reach (the PITR target).
      - For a target that is not a time (an LSN, a transaction id, a restore point, the latest state), the time it stands
        for, such as the commit time of that transaction or the source's last commit when the restore started.
    type: str
    required: true
  reached_time:
    description:
      - The commit time of the last transaction the sandbox actually holds, for example the time reached returned by
        M(ofm.rollback.pg_pitr_restore) or C(pg_last_xact_replay_timestamp()) read before promotion.
    type: str
    required: true
  restore:
    description:
      - The registered result of the restore, included in the report (secrets and Ansible's own keys left out).
    type: dict
    default: {}
  validation:
    description:
      - The registered result of M(ofm.rollback.pg_validate); its checks, summary and verdict go in the report.
    type: dict
    default: {}
  context:
    description:
      - Other facts to head the report with, such as the incident id, the environment, the operator and the source.
    type: dict
    default: {}
  fail_on_missed:
    description:
      - Fail the task, after writing the reports, when a target is missed.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Returns the report and whether the files would change, and writes nothing.
  diff_mode:
    support: full
    description: Shows the previous and new contents of both files.
notes:
  - "Why a module and not a filter: the report is written as files with set modes, which needs check mode, diff and
    idempotence; a filter can only compute."
seealso:
  - module: ofm.rollback.pg_validate
"""

EXAMPLES = r"""
- name: Write the RTO/RPO report
  ofm.rollback.pg_rollback_report:
    results_dir: "{{ db_pitr_results_dir }}"
    report_name: "dr-{{ rollback_incident_id }}"
    rto_target: 30m
    rpo_target: 15m
    restore_started_at: "{{ db_pitr_started_at }}"
    target_time: "2026-11-28 03:00:00"
    reached_time: "{{ db_pitr_restore.reached.time }}"
    restore: "{{ db_pitr_restore }}"
    validation: "{{ db_validation }}"
    context:
      incident_id: "{{ rollback_incident_id }}"
      environment: production
  register: db_pitr_report

- name: Fail when a target was missed
  ansible.builtin.assert:
    that: db_pitr_report.targets_met
    fail_msg: "Missed: {{ db_pitr_report.missed_targets | join(', ') }} ({{ db_pitr_report.report.summary }})"
"""

RETURN = r"""
report:
  description: The report, as written to the JSON file.
  returned: success
  type: dict
  sample:
    rto: {target: 30m, target_seconds: 1800.0, achieved: 4m12s, achieved_seconds: 252.0, met: true,
          restore_started_at: "2026-11-28T03:10:00Z", validated_at: "2026-11-28T03:14:12Z"}
    rpo: {target: 15m, target_seconds: 900.0, achieved: 3s, achieved_seconds: 3.0, met: true, target_time: "2026-11-28T03:00:00Z",
          reached_time: "2026-11-28T02:59:57Z", reached_after_target: false}
    targets_met: true
    missed_targets: []
    validation_passed: true
    summary: RTO 4m12s within 30m; RPO 3s within 15m; validation passed
rto_met:
  description: Whether the RTO achieved is at most the RTO target.
  returned: success
  type: bool
rpo_met:
  description: Whether the RPO achieved is at most the RPO target.
  returned: success
  type: bool
targets_met:
  description: Whether both targets are met.
  returned: success
  type: bool
missed_targets:
  description: The targets missed, V(rto) and/or V(rpo).
  returned: success
  type: list
  elements: str
  sample: [rto]
rto_seconds:
  description: The RTO achieved, in seconds.
  returned: success
  type: float
  sample: 252.0
rpo_seconds:
  description: The RPO achieved, in seconds.
  returned: success
  type: float
  sample: 3.0
validation_passed:
  description: RV(ofm.rollback.pg_validate#module:passed) of the validation, or null without one.
  returned: success
  type: bool
json_path:
  description: Path of the JSON report.
  returned: success
  type: str
  sample: /var/lib/ofm-rollback/results/db-rollback-report.json
markdown_path:
  description: Path of the Markdown report.
  returned: success
  type: str
  sample: /var/lib/ofm-rollback/results/db-rollback-report.md
markdown:
  description: The Markdown report's text.
  returned: success
  type: str
"""

import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.postgres.report import (
    build_report,
    check_inputs,
    plan_files,
    render_json,
    render_markdown,
    write_files,
)

ARGUMENT_SPEC = {
    "results_dir": {"type": "path", "required": True},
    "report_name": {"type": "str", "default": "db-rollback-report"},
    "rto_target": {"type": "str", "default": "30m"},
    "rpo_target": {"type": "str", "default": "15m"},
    "restore_started_at": {"type": "str", "required": True},
    "validated_at": {"type": "str"},
    "target_time": {"type": "str", "required": True},
    "reached_time": {"type": "str", "required": True},
    "restore": {"type": "dict", "default": {}},
    "validation": {"type": "dict", "default": {}},
    "context": {"type": "dict", "default": {}},
    "fail_on_missed": {"type": "bool", "default": False},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = report_result(module.params, module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    except OSError as exc:
        module.fail_json(msg=f"pg_rollback_report: writing the reports under {module.params['results_dir']} failed: {exc}. "
                             "Check that the directory can be created and written by this user.")
    else:
        if module.params["fail_on_missed"] and result["missed_targets"]:
            module.fail_json(**{**result, "msg": f"missed: {', '.join(result['missed_targets'])} ({result['msg']})"})
        module.exit_json(**result)


def report_result(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Build the report, write the files that differ (unless ``check_mode``), and return the module's result."""
    name = params["report_name"]
    if not name or os.sep in name or name.startswith("."):
        raise InputError(f"report_name {name!r} is not a plain file name", option="report_name",
                         accepted="a name without / that does not start with a dot, such as db-rollback-report")
    report = build_report(check_inputs(params))
    markdown = render_markdown(report)
    results_dir = params["results_dir"]
    states = plan_files(results_dir, {f"{name}.json": render_json(report), f"{name}.md": markdown})
    changed = not os.path.isdir(results_dir) or any(state.changed for state in states)
    if changed and not check_mode:
        write_files(results_dir, states)
    return {
        "changed": changed, "msg": report["summary"], "report": report, "markdown": markdown, "rto_met": report["rto"]["met"],
        "rpo_met": report["rpo"]["met"], "targets_met": report["targets_met"], "missed_targets": report["missed_targets"],
        "rto_seconds": report["rto"]["achieved_seconds"], "rpo_seconds": report["rpo"]["achieved_seconds"],
        "validation_passed": report["validation_passed"], "json_path": states[0].path, "markdown_path": states[1].path,
        "diff": [{"before_header": state.path, "after_header": state.path, "before": state.before or "", "after": state.after}
                 for state in states if state.changed],
    }


if __name__ == "__main__":
    main()
