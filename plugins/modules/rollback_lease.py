#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rollback_lease
short_description: One rollback at a time - take, renew and release the lease of a rollback target
version_added: 0.9.0
description:
  - Takes the lease O(name) for this run before the run changes anything, so that two runs started at once against the same
    target (two responders; a person and the event-driven trigger; an AWX retry) do not both act. The second run fails at once,
    naming who holds the lease and since when, and changes nothing; with O(wait) it queues behind the first.
  - The lease is a C(coordination.k8s.io/v1) Lease in O(namespace) (O(backend=kubernetes)). With O(backend=auto) (the default),
    a Kubernetes API that cannot be reached or refuses the Lease makes the module use a lock file in O(lock_dir) instead
    (O(backend=file) always does), and says so; why these two and not a PostgreSQL advisory lock is in the module_utils docstring.
  - A lease expires O(ttl) after its last renewal. Unless O(renew=false), a renewer process started here renews it every third of
    O(ttl) while the C(ansible-playbook) process lives, and stops when the run ends or lets go; a killed run therefore leaves a
    lease that expires on its own. A holder on this host whose process is gone is dead at once, and its lease is taken over
    (the re-run of a killed run does not wait).
  - O(state=released) lets go of the lease this run holds (a lease held by another run is left alone).
  - In check mode nothing is written; the module says whether the lease would be taken, and a lease held by another run is a warning.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_k8s
  - ofm.rollback.kube
options:
  name:
    description:
      - The lease, one per rollback target, such as V(ofm-rollback-emergency-ofm-api). 1-63 lower-case letters, digits and C(-).
    type: str
    required: true
  namespace:
    description: The namespace of the Lease object.
    type: str
    default: ofm-production
  state:
    description: V(held) takes (or renews) the lease; V(released) lets go of it.
    type: str
    choices: [held, released]
    default: held
  incident_id:
    description: The incident of this run, shown to a run that finds the lease held.
    type: str
    default: ""
  operator:
    description: Who runs this rollback, shown to a run that finds the lease held.
    type: str
    default: ""
  procedure:
    description: The procedure of this run, shown to a run that finds the lease held.
    type: str
    choices: [emergency, planned, database, config, external, comms, report, validation, other]
    default: other
  target:
    description: What the run acts on, in words (such as V(canary of ofm-api)), shown to a run that finds the lease held.
    type: str
    default: ""
  ttl:
    description: How long the lease lasts after its last renewal (Prometheus duration syntax or seconds, 15s to 1h).
    type: raw
    default: 60s
  wait:
    description:
      - How long to wait for a lease another live run holds (Prometheus duration syntax or seconds, at most 1h); V(0) fails at once.
    type: raw
    default: 0
  takeover:
    description:
      - Take the lease even though another run holds it and it has not expired. Only for a run you know is dead (its controller
        is gone); the previous holder is returned and logged.
    type: bool
    default: false
  backend:
    description: Where the lease lives; see the description.
    type: str
    choices: [auto, kubernetes, file]
    default: auto
  lock_dir:
    description: The directory of the lock files (O(backend=file), and the fallback of O(backend=auto)); a shared mount when runs start on several hosts.
    type: path
    default: ~/.ansible/ofm-rollback/leases
  if_unavailable:
    description:
      - What to do when no backend can be reached. V(fail) stops the run; V(proceed) goes on without a lease and warns (for the
        emergency path, where rolling back matters more than the lock).
    type: str
    choices: [fail, proceed]
    default: fail
  renew:
    description: Start the renewer process after taking the lease.
    type: bool
    default: true
notes:
  - The Kubernetes identity needs C(get), C(create) and C(update) on C(leases.coordination.k8s.io) in O(namespace).
attributes:
  check_mode:
    support: full
    description: Reads the lease and says whether it would be taken; writes nothing and starts no renewer.
  diff_mode:
    support: full
    description: Returns the holder identity before and after.
"""

EXAMPLES = r"""
- name: Take the lease of the canary rollback before anything changes
  ofm.rollback.rollback_lease:
    name: ofm-rollback-emergency-ofm-api
    incident_id: INC-1234
    operator: alice
    procedure: emergency
    target: canary of ofm-api

- name: Queue behind a run that holds it, for up to ten minutes
  ofm.rollback.rollback_lease:
    name: ofm-rollback-planned-ofm-social-os
    procedure: planned
    wait: 10m

- name: Let go of it at the end of the run
  ofm.rollback.rollback_lease:
    name: ofm-rollback-emergency-ofm-api
    state: released
"""

RETURN = r"""
acquired:
  description: Whether this run holds the lease now (O(state=held)).
  returned: always
  type: bool
lease:
  description: The lease as this run holds (or would hold) it - name, backend, holder identity, incident, operator, times with their zone.
  returned: when acquired or released
  type: dict
took_over:
  description: The holder whose lease was taken, and why (C(expired), C(dead) or C(takeover)).
  returned: when a lease was taken from another run
  type: dict
held_by:
  description: The run that holds the lease, when another live run holds it.
  returned: when the lease is held by another run
  type: dict
backend:
  description: Where the lease lives (C(kubernetes), C(file)), or C(none) when no backend was reachable and O(if_unavailable=proceed).
  returned: always
  type: str
renewer_pid:
  description: The pid of the renewer process.
  returned: when a lease was taken and O(renew=true) (not in check mode)
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rest import KUBE_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.lease_run import PROCEDURES, run

ARGUMENT_SPEC = {
    **KUBE_SPEC,
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "default": "ofm-production"},
    "state": {"type": "str", "choices": ["held", "released"], "default": "held"},
    "incident_id": {"type": "str", "default": ""},
    "operator": {"type": "str", "default": ""},
    "procedure": {"type": "str", "choices": list(PROCEDURES), "default": "other"},
    "target": {"type": "str", "default": ""},
    "ttl": {"type": "raw", "default": "60s"},
    "wait": {"type": "raw", "default": 0},
    "takeover": {"type": "bool", "default": False},
    "backend": {"type": "str", "choices": ["auto", "kubernetes", "file"], "default": "auto"},
    "lock_dir": {"type": "path", "default": "~/.ansible/ofm-rollback/leases"},
    "if_unavailable": {"type": "str", "choices": ["fail", "proceed"], "default": "fail"},
    "renew": {"type": "bool", "default": True},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = run(module.params, module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), **getattr(exc, "extra", {}), changed=False, acquired=False)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
