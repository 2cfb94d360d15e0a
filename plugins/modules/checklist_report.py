#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: checklist_report
short_description: Judge the rollback checklist's lines from a procedure's phase results
version_added: 0.2.0
description:
  - Reads the collection's checklist map, C(meta/checklist.yml) (every line of the rollback checklist, what automates it
    or what a person does), and judges every line a procedure prints from the results its phase roles handed back.
  - Each line ends V(ok), V(failed) or V(manual) with its evidence; a manual line carries the instruction a person
    follows, and an automated step that could not run (a notification that failed, a check without its configuration,
    a phase the run never reached) becomes V(manual) with the reason. No line is silently skipped.
  - The judging is Python (C(plugins/plugin_utils/checklist_rules_<procedure>.py), one rule per line id), not Jinja.
  - This is an action plugin, it runs on the controller and never connects to the host.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
options:
  procedure:
    description:
      - The procedure whose lines to judge; its summary prints the sections it owns and those it borders.
    type: str
    required: true
    choices: [emergency, planned, database, config, external, validation, comms, report]
  results:
    description:
      - The phase results of the run, by role name (each role's C(<role>_phase)), each with C(status), C(started),
        C(finished), C(changes) and C(evidence).
    type: dict
    default: {}
  only:
    description:
      - Judge only these line ids (for example a phase that must fail on its own failed lines).
    type: list
    elements: str
  fail_on_failed:
    description:
      - Fail the task when a judged line is V(failed), naming the lines.
    type: bool
    default: false
  junit:
    description:
      - Write the judged lines to this JUnit XML file on the controller, one test case per line, for CI test reports.
      - V(failed) lines are failures, V(unknown) lines are errors, V(manual) and V(pending) lines are skipped with the
        instruction or the progress as the message.
      - Needs the Python library C(junitparser) on the controller. Written also in check mode (it reports on the run).
    type: path
  markdown:
    description:
      - Write a short Markdown summary (outcome, counts, every line that is not ok) to this file on the controller, for a
        CI job page such as GitHub's C($GITHUB_STEP_SUMMARY).
    type: path
  title:
    description:
      - The JUnit test suite's name and the Markdown heading; default C(ofm.rollback <procedure> checklist).
    type: str
attributes:
  check_mode:
    support: full
    description: The module only judges; in check mode the rules know that nothing was changed or waited for.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
  action:
    support: full
    description: Runs on the controller.
notes:
  - Run C(python3 scripts/checklist.py coverage) in a checkout to print the whole map.
"""

EXAMPLES = r"""
- name: Judge the emergency procedure's checklist lines
  ofm.rollback.checklist_report:
    procedure: emergency
    results:
      slo_gate: "{{ slo_gate_phase }}"
      canary_rollback: "{{ canary_rollback_phase }}"
  register: checklist

- name: Print them
  ansible.builtin.debug:
    msg: "{{ checklist.summary }}"
"""

RETURN = r"""
lines:
  description: Every judged line, in checklist order.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The line's stable id in the map.
      type: str
    section:
      description: Its section.
      type: str
    subsection:
      description: Its subsection, if any.
      type: str
    title:
      description: Its title as the checklist writes it.
      type: str
    status:
      description: V(ok), V(failed), V(manual), V(unknown) or V(pending).
      type: str
    evidence:
      description: What the run saw, or why a step could not run.
      type: str
    instruction:
      description: For a manual line, what a person does.
      type: str
    owned:
      description: Whether the procedure automates the line (else it borders its section).
      type: bool
  sample:
    - id: emergency.declare-incident
      section: Emergency Rollback (SLO Violation)
      subsection: Immediate Response (0-5 minutes)
      title: Declare Incident
      status: manual
      evidence: Slack did not take the declaration (connection refused)
      instruction: "Post it in #ops-alerts by hand: INC-1234: emergency canary rollback started by alice"
      owned: true
counts:
  description: How many lines ended with each status.
  returned: always
  type: dict
  sample: {ok: 21, failed: 0, manual: 26, unknown: 0, pending: 0}
outcome:
  description:
    - The run's outcome, for the procedures that judge one, when every line was judged - a line of text for V(emergency) and
      V(planned); a dict with C(state) and C(message) for V(validation) (passed, failed, unknown, pending), V(comms) (ok,
      partial - a notification was not sent and is a manual step -, failed, unknown) and V(report) (ok, failed, unknown).
  returned: always
  type: raw
  sample: rolled back, traffic on stable, validated
texts:
  description:
    - What the procedure's summary, record and messages print besides the lines, decided in Python with the lines, when every
      line was judged (empty otherwise, and for the database procedure).
    - V(emergency) - C(phases) (the timeline, each with C(phase), C(start), C(end) and C(took)), C(path) (the rollback path that
      worked, or V(none)), C(rollback_path) (how, and which paths failed before it), C(attempts) (a line per path tried),
      C(changed) (what the rollback changed, a line each), C(status_page) (the status page's last word) and C(message) (the
      incident thread's update).
    - V(planned) - C(window) (the change window, and whether the run was outside it or overrode it), C(changed) (a line per
      change, or V(nothing)) and C(message) (the closing Slack message).
  returned: always
  type: dict
  sample:
    window: mon,tue,wed,thu,fri,sat,sun 00:00-24:00 UTC
    changed: ["Deployment ofm-production/ofm-social-os-api: revision 2 -> 1"]
    message: "planned rollback rolled back and validated. Changed: ... Manual steps left: Team Availability."
failed_lines:
  description: Titles of the failed lines.
  returned: always
  type: list
  elements: str
  sample: []
manual_steps:
  description: The manual lines the procedure owns (automated steps that could not run, and its manual lines), for the record.
  returned: always
  type: list
  elements: dict
  contains:
    item:
      description: The line's title.
      type: str
    step:
      description: What a person does.
      type: str
    why:
      description: Why it is manual in this run.
      type: str
files:
  description: The report files written (keys C(junit) and C(markdown)), when asked for.
  returned: always
  type: dict
  sample: {junit: /builds/ofm/validation.xml}
summary:
  description: The lines as printed in the run's summary, a heading per subsection.
  returned: always
  type: list
  elements: str
"""
