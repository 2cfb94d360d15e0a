#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_rollout_info
short_description: Read the rollout history and status of Kubernetes Deployments, StatefulSets or DaemonSets
version_added: 0.1.0
description:
  - Returns what C(kubectl rollout history) and C(kubectl rollout status) show, for one workload (O(name)) or every workload
    that matches O(label_selector), as data.
  - The history comes from the workload's ReplicaSets (Deployment) or ControllerRevisions (StatefulSet, DaemonSet).
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
    description: The workload to read. Mutually exclusive with O(label_selector); one of them is required.
    type: str
  label_selector:
    description: A label selector such as V(app.kubernetes.io/part-of=ofm-social-os); every matching workload is read.
    type: str
  namespace:
    description: The namespace of the workloads.
    type: str
    default: default
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: The module changes nothing.
seealso:
  - module: ofm.rollback.k8s_rollout_undo
requirements:
  - kubernetes (the official Python client)
"""

EXAMPLES = r"""
- name: Read the API's rollout history
  ofm.rollback.k8s_rollout_info:
    name: ofm-social-os-api
    namespace: ofm-production
  register: api_rollout

- name: Show the revisions and their images
  ansible.builtin.debug:
    msg: "{{ api_rollout.objects[0].history | map(attribute='images') | list }}"
"""

RETURN = r"""
objects:
  description: One entry per workload.
  returned: always
  type: list
  elements: dict
  contains:
    kind: {description: The workload's kind., type: str, returned: always}
    name: {description: The workload's name., type: str, returned: always}
    namespace: {description: The workload's namespace., type: str, returned: always}
    current_revision: {description: The revision whose pod template the workload runs; null when none matches., type: int, returned: always}
    images: {description: The container images of the current pod template., type: list, elements: str, returned: always}
    history:
      description: The revisions, oldest first.
      type: list
      elements: dict
      returned: always
      sample: [{revision: 3, change_cause: "image ofm/api:2.4.0", images: ["ofm/api:2.4.0"], created: "2025-05-02T10:00:00Z",
                age_seconds: 3600, source: "ReplicaSet ofm-social-os-api-6d4cf56db6"}]
    status:
      description: The rollout status, as the module's waiters judge it.
      type: dict
      returned: always
      contains:
        ready: {description: Whether the rollout is complete., type: bool, returned: always}
        failed: {description: Whether the rollout cannot finish (a Deployment past its progress deadline)., type: bool, returned: always}
        message: {description: "What the status says, such as V(2 of 3 updated replicas available).", type: str, returned: always}
"""

from datetime import datetime, timezone
from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import READINESS, Kube, checked_options
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rest import KUBE_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rollout import KINDS, Listings, Revision, current_revision, history, images, workloads

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **KUBE_SPEC,
    "kind": {"type": "str", "choices": list(KINDS), "default": "Deployment"},
    "name": {"type": "str"},
    "label_selector": {"type": "str"},
    "namespace": {"type": "str", "default": "default"},
}


def age_seconds(created: Optional[str], now: datetime) -> Optional[int]:
    if not created:
        return None
    return int((now - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())


def describe(obj: dict[str, Any], revisions: list[Revision], now: datetime) -> dict[str, Any]:
    current = current_revision(obj, revisions)
    readiness = READINESS[obj["kind"]](obj)
    return {"kind": obj["kind"], "name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"],
            "current_revision": current.number if current else None, "images": images(obj["spec"]["template"]),
            "history": [{**revision.as_dict(), "age_seconds": age_seconds(revision.created, now)} for revision in revisions],
            "status": {"ready": readiness.ready, "failed": readiness.failed, "message": readiness.message}}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=[("name", "label_selector")],
                          required_one_of=[("name", "label_selector")])
    try:
        checked_options(module.params, module.params["kind"])
        kube = Kube.from_params(module.params)
        now = datetime.now(timezone.utc)
        listings = Listings(kube)
        objects = [describe(obj, history(kube, obj, listings), now) for obj in workloads(kube, module.params)]
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(changed=False, objects=objects)


if __name__ == "__main__":
    main()
