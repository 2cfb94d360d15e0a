#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_rollout_undo
short_description: Roll Kubernetes Deployments, StatefulSets or DaemonSets back to an earlier revision
version_added: 0.1.0
description:
  - Does what C(kubectl rollout undo) does, for one workload (O(name)) or every workload that matches O(label_selector).
  - Reads each workload's history (its ReplicaSets for a Deployment, its ControllerRevisions for a StatefulSet or DaemonSet)
    and puts the pod template of the target revision back in place with a JSON patch of C(/spec/template).
  - Every workload's target revision is checked before any of them is patched, so a missing revision fails the task with
    the available revisions listed and nothing changed.
  - A workload that already runs the target's template is left alone and reported unchanged, so a second run changes nothing.
  - The patch is conditional on the workload's spec as read (a JSON patch C(test) of its C(metadata.generation)), so a deploy
    that lands between the read and the patch is not overwritten blindly - the API server refuses the patch, and the module
    reads the workload and its history again and decides again - no change when it now runs the target's template, else a
    patch conditional on the new read, to the same target template (V(0) is not resolved again). After 3 refused patches the
    task fails naming what the workload became, with nothing of that workload changed.
  - With O(wait), waits until every patched workload has rolled out, and fails at once when a Deployment reports
    C(ProgressDeadlineExceeded), with the condition's message.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_k8s
  - ofm.rollback.kube
options:
  kind:
    description: The kind of the workloads.
    type: str
    choices: [Deployment, StatefulSet, DaemonSet]
    default: Deployment
  name:
    description: The workload to roll back. Mutually exclusive with O(label_selector); one of them is required.
    type: str
  label_selector:
    description: A label selector such as V(app.kubernetes.io/part-of=ofm-social-os); every matching workload is rolled back.
    type: str
  namespace:
    description: The namespace of the workloads.
    type: str
    default: default
  to_revision:
    description:
      - The revision to go back to, as listed by M(ofm.rollback.k8s_rollout_info).
      - V(0) means the revision before the current one, as C(kubectl rollout undo) without C(--to-revision).
    type: int
    default: 0
  wait:
    description: Whether to wait until every patched workload has rolled out.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for all workloads, counted on a monotonic clock.
    type: float
    default: 300
  wait_sleep:
    description: Seconds between two readings of a workload while waiting.
    type: float
    default: 2
attributes:
  check_mode:
    support: full
    description: Sends each patch as a server-side dry run (C(dryRun=All)), so the API server validates it, and changes nothing.
  diff_mode:
    support: full
    description: Returns each changed workload's pod template before and after.
notes:
  - Unlike C(kubectl rollout undo), a Deployment's annotations are kept as they are; only the pod template changes.
seealso:
  - module: ofm.rollback.k8s_rollout_info
  - name: kubectl rollout undo
    description: The command this module reproduces.
    link: https://kubernetes.io/docs/reference/kubectl/generated/kubectl_rollout/kubectl_rollout_undo/
requirements:
  - kubernetes (the official Python client)
"""

EXAMPLES = r"""
- name: Roll the API back to the previous revision and wait for it
  ofm.rollback.k8s_rollout_undo:
    kind: Deployment
    name: ofm-social-os-api
    namespace: ofm-production
  register: undo

- name: Roll every worker back to revision 4, showing the template diff first
  ofm.rollback.k8s_rollout_undo:
    kind: Deployment
    label_selector: app.kubernetes.io/component=worker
    namespace: ofm-production
    to_revision: 4
  check_mode: true
  diff: true
"""

RETURN = r"""
changed:
  description: True when at least one workload's template was (or in check mode would be) replaced.
  returned: always
  type: bool
objects:
  description: One entry per workload.
  returned: always
  type: list
  elements: dict
  contains:
    kind: {description: The workload's kind., type: str, returned: always}
    name: {description: The workload's name., type: str, returned: always}
    namespace: {description: The workload's namespace., type: str, returned: always}
    changed: {description: Whether this workload's template was replaced., type: bool, returned: always}
    target_revision: {description: The revision rolled back to., type: int, returned: always}
    revision_before: {description: The revision the workload ran before; null when its template matched none., type: int, returned: always}
    revision_after:
      description: The revision it runs after; a rollback makes the target the newest revision, so this number is new.
      type: int
      returned: always
    images_before: {description: The container images before., type: list, elements: str, returned: always}
    images_after: {description: The container images after., type: list, elements: str, returned: always}
    status: {description: "The rollout status after the wait, or the last one read.", type: str, returned: always}
    conflicts:
      description:
        - What the workload had become each time a patch was refused because its spec changed since read, oldest first;
          empty when the first patch went through.
        - Each entry has C(refused) (the HTTP status of the refusal), C(generation), C(resource_version), C(revision),
          C(images), C(change_cause), C(manager) (the field manager that wrote it last, when the server records it) and
          C(at_target) (it already ran the target's template).
      type: list
      elements: dict
      returned: always
    diff:
      description: The pod template before and after.
      type: dict
      returned: always
      sample: {before: {spec: {containers: [{name: api, image: "ofm/api:2.4.0"}]}}, after: {spec: {containers: [{name: api, image: "ofm/api:2.3.1"}]}}}
patched:
  description: The workloads already patched when the task failed (for example while waiting), as C(Kind namespace/name).
  returned: failure
  type: list
  elements: str
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import READINESS, WORKLOAD_API_VERSION, Kube, checked_options, wait_until
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rest import KUBE_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rollout import (
    KINDS, Applied, Listings, UndoPlan, apply_undo, current_revision, history, images, plan_undo, target_name, workloads)

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **KUBE_SPEC,
    "kind": {"type": "str", "choices": list(KINDS), "default": "Deployment"},
    "name": {"type": "str"},
    "label_selector": {"type": "str"},
    "namespace": {"type": "str", "default": "default"},
    "to_revision": {"type": "int", "default": 0},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "float", "default": 300},
    "wait_sleep": {"type": "float", "default": 2},
}


def report(kube: Kube, done: Applied, after: dict[str, Any], status: str, listings: Listings) -> dict[str, Any]:
    plan = done.plan
    revisions = history(kube, after, listings) if plan.changed else []
    now = current_revision(after, revisions) if plan.changed else plan.before
    metadata = plan.obj["metadata"]
    return {"kind": plan.obj["kind"], "name": metadata["name"], "namespace": metadata["namespace"], "changed": plan.changed,
            "target_revision": plan.target.number, "revision_before": plan.before.number if plan.before else None,
            "revision_after": now.number if now else plan.target.number, "images_before": images(plan.obj["spec"]["template"]),
            "images_after": images(after["spec"]["template"]), "status": status, "conflicts": done.conflicts,
            "diff": {"before": plan.obj["spec"]["template"], "after": after["spec"]["template"]} if plan.changed else {}}


def run(kube: Kube, params: dict[str, Any], check_mode: bool, applied: list[str]) -> list[dict[str, Any]]:
    """Plan every undo first (a missing revision fails before anything is patched), patch, wait, then report; ``applied`` lists what was patched."""
    before = Listings(kube)
    plans = [plan_undo(obj, history(kube, obj, before), params["to_revision"]) for obj in workloads(kube, params)]
    done = []
    for plan in plans:
        done.append(apply_undo(kube, plan, check_mode))
        if done[-1].plan.changed and not check_mode:
            applied.append(target_name(plan.obj))
    plans, answers = [result.plan for result in done], [result.answer for result in done]
    statuses = [wait(kube, plan, params) if params["wait"] and plan.changed and not check_mode else READINESS[plan.obj["kind"]](answer).message
                for plan, answer in zip(plans, answers)]
    if params["wait"] and not check_mode:
        answers = [refresh(kube, plan) if plan.changed else answer for plan, answer in zip(plans, answers)]
    after = Listings(kube)
    return [report(kube, result, answer, status, after) for result, answer, status in zip(done, answers, statuses)]


def refresh(kube: Kube, plan: UndoPlan) -> dict[str, Any]:
    metadata = plan.obj["metadata"]
    return {"kind": plan.obj["kind"], **kube.get(WORKLOAD_API_VERSION, plan.obj["kind"], metadata["namespace"], metadata["name"])}


def wait(kube: Kube, plan: UndoPlan, params: dict[str, Any]) -> str:
    return wait_until(lambda: refresh(kube, plan), READINESS[plan.obj["kind"]], target=target_name(plan.obj),
                      timeout=params["wait_timeout"], sleep_seconds=params["wait_sleep"]).message


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=[("name", "label_selector")],
                          required_one_of=[("name", "label_selector")])
    applied: list[str] = []
    try:
        checked_options(module.params, module.params["kind"], above_zero=("wait_timeout", "wait_sleep"), not_negative=("to_revision",))
        kube = Kube.from_params(module.params)
        objects = run(kube, module.params, module.check_mode, applied)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), changed=bool(applied), patched=applied)
    changed = any(obj["changed"] for obj in objects)
    module.exit_json(changed=changed, objects=objects, diff=[obj["diff"] for obj in objects if obj["changed"]],
                     msg=f"rolled back {sum(obj['changed'] for obj in objects)} of {len(objects)} {module.params['kind']}(s)")


if __name__ == "__main__":
    main()
