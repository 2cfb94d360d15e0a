#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: argo_rollout
short_description: Abort, undo, retry, promote, pause or resume an Argo Rollouts canary
version_added: 0.1.0
description:
  - Acts on an Argo Rollouts C(Rollout) (C(argoproj.io/v1alpha1)) as the C(kubectl argo rollouts) plugin does, through the
    Kubernetes API, and optionally waits for the rollout's phase.
  - V(abort) sets C(status.abort) through the status subresource, so all traffic goes back to the stable ReplicaSet and the
    phase becomes C(Degraded).
  - V(undo) puts the pod template of an earlier revision (its ReplicaSet, without the C(rollouts-pod-template-hash) label)
    back in C(spec.template) with a JSON patch.
  - V(retry) clears C(status.abort) so that the aborted update starts again.
  - V(promote) clears the current pause (C(status.pauseConditions), C(spec.paused)) or, with O(full), skips every remaining
    step (C(status.promoteFull)).
  - V(pause) and V(resume) set and clear C(spec.paused).
  - V(status) changes nothing, it reads the rollout and waits for O(wait_for), to watch a rollout that another tool acts on.
  - Each action is idempotent; it reports no change when the rollout is already in the state it leads to.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_k8s
  - ofm.rollback.kube
options:
  name:
    description: The Rollout's name.
    type: str
    required: true
  namespace:
    description: The Rollout's namespace.
    type: str
    default: default
  action:
    description: What to do; see the description.
    type: str
    required: true
    choices: [abort, undo, retry, promote, pause, resume, status]
  to_revision:
    description:
      - With O(action=undo), the revision (annotation C(rollout.argoproj.io/revision) of its ReplicaSet) to go back to.
      - V(0) means the revision before the current one.
    type: int
    default: 0
  to_stable:
    description:
      - With O(action=undo), go back to the stable revision, the one of the ReplicaSet named by C(status.stableRS), instead of
        O(to_revision).
      - Safe to repeat. When the rollout already runs its stable template (because this module, or another tool such as the ops API,
        undid it already) nothing changes, whereas undoing to the previous revision a second time would deploy the one before it,
        which after an undo is the bad revision again.
    type: bool
    default: false
  full:
    description: With O(action=promote), skip all remaining steps, analyses and pauses instead of only the current pause.
    type: bool
    default: false
  wait_for:
    description:
      - The state to wait for after the action.
      - V(healthy) - phase C(Healthy); fails at once when the rollout reports C(ProgressDeadlineExceeded).
      - V(degraded) - phase C(Degraded), as after an abort.
      - V(fully_promoted) - phase C(Healthy) with the desired pods as the stable ReplicaSet.
      - V(none) - do not wait.
      - In check mode nothing is sent and nothing is waited for; the rollout as read is judged once (RV(wait)).
    type: str
    choices: [healthy, degraded, fully_promoted, none]
    default: none
  wait_timeout:
    description: Seconds to wait, counted on a monotonic clock.
    type: float
    default: 300
  wait_sleep:
    description: Seconds between two readings of the rollout while waiting.
    type: float
    default: 2
attributes:
  check_mode:
    support: full
    description: Reads the rollout and reports whether the action would change it, and whether it is already in the O(wait_for) state; sends nothing.
  diff_mode:
    support: full
    description: Returns the rollout's state before and after; with O(action=undo), its pod template before and after.
seealso:
  - module: ofm.rollback.k8s_rollout_undo
  - name: Argo Rollouts kubectl plugin
    description: The commands this module reproduces.
    link: https://argo-rollouts.readthedocs.io/en/stable/generated/kubectl-argo-rollouts/kubectl-argo-rollouts/
requirements:
  - kubernetes (the official Python client)
"""

EXAMPLES = r"""
- name: Abort the canary and wait until all traffic is on stable
  ofm.rollback.argo_rollout:
    name: ofm-social-os
    namespace: ofm-production
    action: abort
    wait_for: degraded
    wait_timeout: 120

- name: Go back to the previous template and wait until it is healthy
  ofm.rollback.argo_rollout:
    name: ofm-social-os
    namespace: ofm-production
    action: undo
    wait_for: healthy

- name: Promote past every remaining step
  ofm.rollback.argo_rollout:
    name: ofm-social-os
    namespace: ofm-production
    action: promote
    full: true
    wait_for: fully_promoted
"""

RETURN = r"""
before:
  description: The rollout's state read before the action.
  returned: always
  type: dict
  contains:
    phase: {description: "C(status.phase), such as V(Healthy), V(Paused), V(Degraded).", type: str, returned: always}
    message: {description: C(status.message)., type: str, returned: always}
    aborted: {description: Whether C(status.abort) is set., type: bool, returned: always}
    paused: {description: Whether C(spec.paused) is set or a pause condition holds., type: bool, returned: always}
    weights: {description: "C(status.canary.weights), the canary and stable weights with their pod template hashes.", type: dict, returned: always}
    stable_rs: {description: C(status.stableRS)., type: str, returned: always}
    current_pod_hash: {description: C(status.currentPodHash)., type: str, returned: always}
    step_index: {description: C(status.currentStepIndex)., type: int, returned: always}
    images: {description: The images of C(spec.template)., type: list, elements: str, returned: always}
  sample: {phase: Paused, message: CanaryPauseStep, aborted: false, paused: true, stable_rs: 6d4cf56db6, current_pod_hash: 7f8b9c5d4,
           step_index: 1, images: ["ofm/api:2.4.0"],
           weights: {canary: {podTemplateHash: 7f8b9c5d4, weight: 20}, stable: {podTemplateHash: 6d4cf56db6, weight: 80}}}
after:
  description: The same fields read after the action (and after the wait); equal to RV(before) in check mode.
  returned: always
  type: dict
target_revision:
  description: With O(action=undo), the revision rolled back to.
  returned: when O(action=undo)
  type: int
patches:
  description: The patches sent, in order, each with its C(subresource), C(content_type) and C(body); empty in check mode.
  returned: always
  type: list
  elements: dict
wait:
  description:
    - The end of the wait for O(wait_for) - the rollout reached it (otherwise the task fails), after how many readings and seconds.
    - In check mode, one reading of the rollout as it was before the action, not waited on; RV(wait.ready) says whether it is in that state already.
  returned: when O(wait_for) is not V(none)
  type: dict
  contains:
    wait_for: {description: The O(wait_for) waited for., type: str, returned: always}
    ready: {description: Whether the rollout is in that state., type: bool, returned: always}
    message: {description: "What the last reading showed, such as C(phase Healthy).", type: str, returned: always}
    polls: {description: How many times the rollout was read., type: int, returned: always}
    waited_seconds: {description: Seconds from the first reading to the last., type: float, returned: always}
  sample: {wait_for: degraded, ready: true, message: "phase Degraded (RolloutAborted: Rollout aborted update to revision 2)", polls: 3,
           waited_seconds: 4.012}
"""

from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.argo import ACTIONS, WAIT_FOR, ActionRequest, ArgoRollout
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import Kube, checked_options
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rest import KUBE_SPEC

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **KUBE_SPEC,
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "default": "default"},
    "action": {"type": "str", "required": True, "choices": list(ACTIONS)},
    "to_revision": {"type": "int", "default": 0},
    "to_stable": {"type": "bool", "default": False},
    "full": {"type": "bool", "default": False},
    "wait_for": {"type": "str", "choices": list(WAIT_FOR), "default": "none"},
    "wait_timeout": {"type": "float", "default": 300},
    "wait_sleep": {"type": "float", "default": 2},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    rollout: Optional[ArgoRollout] = None
    try:
        checked_options(params, "Rollout", above_zero=("wait_timeout", "wait_sleep"), not_negative=("to_revision",))
        rollout = ArgoRollout(Kube.from_params(params), params["namespace"], params["name"])
        outcome = rollout.act(ActionRequest.from_params(params), module.check_mode)
    except OfmRollbackError as exc:
        sent = rollout.sent if rollout else []
        module.fail_json(**exc.to_result(), changed=bool(sent), patches=sent)
    module.exit_json(**outcome.result())


if __name__ == "__main__":
    main()
