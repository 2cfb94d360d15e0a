#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rollback_begin
short_description: Begin a rollback in one task - the lease, the run journal, the SLO gate and the operator's authority
version_added: 1.0.0
description:
  - The start of the emergency rollback (C(playbooks/emergency_rollback.yml)) in one task, the reads at once. Each option
    holds the options of one module, which runs with them, with its own argument spec, check mode and C(no_log) rules, and
    with the C(module_defaults) a task of that module would get (its own and its action groups').
  - The order is what keeps a second run of the same target harmless. First O(lease) (M(ofm.rollback.rollback_lease)) - a
    run that does not get the lease fails here having written nothing. Then O(journal) (M(ofm.rollback.run_journal),
    C(state=open)), opened by the lease holder only. Then O(gate) (M(ofm.rollback.rollback_gate)) - a decision to roll back
    that a killed run of the incident journaled is reused without a request; otherwise the fresh decision is written to the
    journal just opened. Last O(authorize) (M(ofm.rollback.rollback_authorize)).
  - The gate's reads (Prometheus, the router) and the ops API's admin probe change nothing, so when the task runs on the
    controller they start at once with the lease, in threads, and each answer is used only once the steps before it are
    done. That is the task's reason to be - on the emergency path, users stop seeing the canary's errors sooner. Run as
    modules (a remote host, C(become), or the variable C(ofm_in_process=false)) the four run one after the other.
  - The task fails when the rollback must not go on - another run holds the lease (nothing else is written), the gate failed,
    or the operator is refused while the gate says roll back - with that part's message. A journal that cannot be written
    never stops a rollback (RV(journal) holds why); a refused operator does not fail a run with nothing to roll back.
  - When the gate stops the rollback (nothing to roll back) or lets a forced one through, the task says why at once, in the
    run's output (the gate's C(reasons)).
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
options:
  lease:
    description:
      - The options of M(ofm.rollback.rollback_lease). Omit it to take no lease.
    type: dict
  journal:
    description:
      - The options of M(ofm.rollback.run_journal) for C(state=open) (the state is set here). Omit it to keep no journal.
    type: dict
  gate:
    description:
      - The options of M(ofm.rollback.rollback_gate), without C(reuse) and C(journal) - this task sets them from O(journal).
    type: dict
  authorize:
    description:
      - The options of M(ofm.rollback.rollback_authorize).
    type: dict
attributes:
  check_mode:
    support: full
    description: Each module runs in check mode - the lease is not taken, the journal not written, the reads are made.
  diff_mode:
    support: none
    description: The lease and the journal are the run's bookkeeping; each module's result says what it would write.
notes:
  - Give at least one option. The results of the parts that did not run are absent.
seealso:
  - module: ofm.rollback.rollback_lease
  - module: ofm.rollback.run_journal
  - module: ofm.rollback.rollback_gate
  - module: ofm.rollback.rollback_authorize
"""

EXAMPLES = r"""
- name: One rollback at a time, the run journal, the SLO gate and the operator's authority, the reads at once
  ofm.rollback.rollback_begin:
    lease:
      name: ofm-rollback-emergency-ofm-production
      namespace: ofm-production
      incident_id: INC-1234
      operator: alice
      procedure: emergency
    journal:
      record_dir: /var/lib/ofm-rollback/incidents
      incident_id: INC-1234
      procedure: emergency
      operator: alice
    gate:
      prometheus_url: https://prometheus.internal.ofm.social
      scope: canary
      sustain: 5m
    authorize:
      ops_api_url: https://internal.ofm.social
      operator: alice
      admins: [alice]
  register: rollback_begin
"""

RETURN = r"""
lease:
  description: The result of M(ofm.rollback.rollback_lease).
  returned: when O(lease) is given
  type: dict
  sample: {acquired: true, backend: kubernetes}
journal:
  description: The result of M(ofm.rollback.run_journal) (C(state=open)); C(failed) when it could not be opened.
  returned: when O(journal) is given and the lease is held
  type: dict
  sample: {run_id: r-20261205T101500Z-1a2b, resumed: false, steps: {}}
gate:
  description:
    - The result of M(ofm.rollback.rollback_gate); C(failed) and C(msg) when the gate failed.
    - Its C(journaled) says whether a fresh decision to roll back was written to the journal.
  returned: when O(gate) is given and the lease is held
  type: dict
  sample: {proceed: true, breach_detected: true, journaled: true}
authorization:
  description: The result of M(ofm.rollback.rollback_authorize); C(failed) and C(msg) when the operator was refused.
  returned: when O(authorize) is given and the lease is held
  type: dict
  sample: {authorized: true, authority: incident_admins list}
"""

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = {
    "lease": {"type": "dict"},
    "journal": {"type": "dict"},
    "gate": {"type": "dict"},
    "authorize": {"type": "dict"},
}


def main() -> None:
    """Only the action plugin runs this module's parts (plugins/action/rollback_begin.py); executed alone, it says so."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_one_of=[list(ARGUMENT_SPEC)])
    module.fail_json(msg="ofm.rollback.rollback_begin runs through its action plugin, which runs the modules of its options: "
                         "run it as a task of a playbook, with the collection installed on the controller.")


if __name__ == "__main__":
    main()
