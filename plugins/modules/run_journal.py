#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: run_journal
short_description: Journal the runs and steps of a procedure, so that a re-run after a crash resumes without doing a step twice
version_added: 0.5.0
description:
  - Keeps the run journal of one procedure of one incident, C(<record_dir>/<incident_id>/journal-<procedure>.json), for the
    procedures' playbooks. A run killed half-way (SIGKILL, a lost controller or AWX node) is finished by the next run with the
    same incident id - the procedure skips the steps the journal holds as done and reuses what they decided.
  - O(state=open) appends this run (run id, start, operator) and returns what the runs before it did - RV(resumed),
    RV(previous_runs) (each with its last step done and its outcome, V(killed) when it never closed), RV(steps) and
    RV(resume_line), the line a resumed run's summary prints.
  - O(state=step) marks a step V(started) (before a change) or V(done) (after it) with O(data), a small dict of what it decided
    or did that a re-run must reuse (a gate decision, a target revision, an object id). A step a killed run left V(started)
    may or may not have happened - RV(left_started) names them, and the procedure looks at the real state before it does such a
    step again.
  - O(state=closed) writes this run's O(outcome) and returns RV(runs), every run of the journal, for the incident record.
  - The file is written whole after every change, atomically (a temporary file, fsync, rename; mode 0600, its directory 0700)
    under an exclusive lock, so a kill leaves the journal as it was before the change or after it, never torn.
  - Only the newest run writes - a run that another run took over (a re-run started while it was presumed dead) is refused
    with a conflict. Values under secret-looking keys of O(data) (password, token, secret, api_key ...) are masked; keep
    secrets out of it anyway.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
options:
  state:
    description:
      - V(open) starts a run, V(step) records a step of it, V(closed) records its outcome.
    type: str
    choices: [open, step, closed]
    required: true
  incident_id:
    description:
      - The incident, C(INC-<digits>).
    type: str
    required: true
  procedure:
    description:
      - The procedure the journal is of; each procedure of an incident has its own journal.
    type: str
    choices: [emergency, planned, database, config, external]
    required: true
  record_dir:
    description:
      - The incident record directory (the incident role's C(ofm_incident_record_dir)); the journal is in its C(<incident_id>/).
    type: path
    default: ~/.ansible/ofm-rollback/incidents
  run_id:
    description:
      - With O(state=open) - the id of this run (such as an AWX job id); made from the start time and random digits when not
        set. With O(state=step) and O(state=closed) - the RV(run_id) that O(state=open) returned (required).
    type: str
  operator:
    description:
      - Who runs it (O(state=open)).
    type: str
    default: ""
  started:
    description:
      - When this run started (O(state=open)) - ISO 8601 with an offset or epoch seconds; now when not set.
    type: raw
  timezone:
    description:
      - The IANA time zone RV(resume_line) shows the earlier run's start in (O(state=open)).
    type: str
    default: UTC
  step:
    description:
      - "The step's name (O(state=step)) - lower-case letters, digits and C(_ . : -), such as C(gate) or C(restore:flags)."
    type: str
  status:
    description:
      - V(started) before the step changes anything, V(done) once it did (O(state=step)).
    type: str
    choices: [started, done]
  data:
    description:
      - What the step decided or did, for a re-run to reuse (O(state=step)); at most 16 KiB as JSON. A V(done) adds to the data
        of the same run's V(started).
    type: dict
  steps:
    description:
      - Several steps in one write, instead of O(step), O(status) and O(data) - a dict of step name to C({status, data}), written
        in its order.
    type: dict
  outcome:
    description:
      - How the run ended (O(state=closed)), in one line.
    type: str
attributes:
  check_mode:
    support: full
    description: Reads the journal and returns what would be written; writes nothing.
  diff_mode:
    support: none
    description: The journal is bookkeeping of the run, not a change of the systems rolled back.
seealso:
  - module: ofm.rollback.incident_comms
"""

EXAMPLES = r"""
- name: Open the run journal (a re-run with the same incident id resumes where this one stops)
  ofm.rollback.run_journal:
    state: open
    incident_id: INC-1234
    procedure: planned
    record_dir: "{{ ofm_incident_record_dir }}"
    operator: alice
  register: journal

- name: The target revision a re-run must reuse (after a rollback, "the previous revision" is the bad one)
  ofm.rollback.run_journal:
    state: step
    incident_id: INC-1234
    procedure: planned
    record_dir: "{{ ofm_incident_record_dir }}"
    run_id: "{{ journal.run_id }}"
    step: verify
    status: done
    data: {target_revision: 5}

- name: Say that this run resumed an earlier one
  ansible.builtin.debug:
    msg: "{{ journal.resume_line }}"
  when: journal.resumed

- name: Close the run
  ofm.rollback.run_journal:
    state: closed
    incident_id: INC-1234
    procedure: planned
    record_dir: "{{ ofm_incident_record_dir }}"
    run_id: "{{ journal.run_id }}"
    outcome: rolled back and validated
"""

RETURN = r"""
path:
  description: The journal file.
  returned: success
  type: str
  sample: /home/sre/.ansible/ofm-rollback/incidents/INC-1234/journal-planned.json
run_id:
  description: This run's id (give it to O(state=step) and O(state=closed)).
  returned: success
  type: str
  sample: 20261204T140500Z-3f9a2c
resumed:
  description: Whether runs of this procedure of this incident came before this one (O(state=open)).
  returned: state=open
  type: bool
previous_runs:
  description:
    - The runs before this one, oldest first - C(run_id), C(started), C(operator), C(last_step) (the newest step done when it
      stopped), C(in_step) (a step it left started), C(outcome) (V(killed) when it never closed) and C(finished).
  returned: state=open
  type: list
  elements: dict
resumed_from:
  description: The newest of RV(previous_runs), or null.
  returned: state=open
  type: dict
resume_line:
  description:
    - "C(Resumed run <id> (the run of <start with its zone> stopped after '<step>')), or C(... ended after '<step>': <outcome>)
      for a run that closed; empty when not resumed."
  returned: state=open
  type: str
steps:
  description: Per step name - C(status) (V(started) or V(done)), C(at), C(run_id) (the run that wrote it) and C(data).
  returned: success
  type: dict
left_started:
  description: The steps a run left V(started) - it stopped during them, so they may or may not have happened.
  returned: state=open
  type: list
  elements: str
done:
  description: The steps done.
  returned: state=open
  type: list
  elements: str
first_started:
  description: When the first run of the journal started (this run's start when it is the first), ISO 8601 with an offset.
  returned: state=open
  type: str
first_started_epoch:
  description: The same, in epoch seconds.
  returned: state=open
  type: float
runs:
  description: Every run of the journal, this one with its outcome (as RV(previous_runs)), for the incident record.
  returned: state=closed
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.run_journal import DEFAULT_RECORD_DIR, PROCEDURES, STATES, STATUSES, run_journal

ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": list(STATES), "required": True},
    "incident_id": {"type": "str", "required": True},
    "procedure": {"type": "str", "choices": list(PROCEDURES), "required": True},
    "record_dir": {"type": "path", "default": DEFAULT_RECORD_DIR},
    "run_id": {"type": "str"},
    "operator": {"type": "str", "default": ""},
    "started": {"type": "raw"},
    "timezone": {"type": "str", "default": "UTC"},
    "step": {"type": "str"},
    "status": {"type": "str", "choices": list(STATUSES)},
    "data": {"type": "dict"},
    "steps": {"type": "dict"},
    "outcome": {"type": "str"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=[("step", "steps")])
    try:
        result = run_journal(module.params, module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
