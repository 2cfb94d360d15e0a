#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: canary_ingress
short_description: Read and set the traffic weight of an ingress-nginx canary Ingress, and scale its canary Deployment
version_added: 0.1.0
description:
  - Reads the annotation C(nginx.ingress.kubernetes.io/canary-weight) of a canary Ingress (one annotated
    C(nginx.ingress.kubernetes.io/canary=true)) and, with O(weight), sets it with a merge patch.
  - With O(deployment) and O(replicas), scales the canary Deployment through its C(scale) subresource, for example to V(0)
    once the weight is V(0), and back later.
  - Returns the previous values; nothing is sent for a value that is already as requested.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_k8s
  - ofm.rollback.kube
options:
  name:
    description: The canary Ingress.
    type: str
    required: true
  namespace:
    description: The namespace of the Ingress and of O(deployment).
    type: str
    default: default
  weight:
    description:
      - The percentage of requests the canary gets, from V(0) to V(100). Not set means only read it.
      - ingress-nginx reads the annotation as a share of C(canary-weight-total), which defaults to 100.
    type: int
  deployment:
    description: The canary Deployment that O(replicas) scales. Required with O(replicas).
    type: str
  replicas:
    description: The number of replicas to scale O(deployment) to. Not set means only read it.
    type: int
attributes:
  check_mode:
    support: full
    description: Reads the current values and reports what would change; sends nothing.
  diff_mode:
    support: full
    description: Returns the weight and replicas before and after.
notes:
  - Set the weight to V(0) before scaling the canary to V(0), and scale it up and wait for it before giving it weight again.
seealso:
  - module: ofm.rollback.argo_rollout
  - name: ingress-nginx canary annotations
    description: What the canary annotations mean.
    link: https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#canary
requirements:
  - kubernetes (the official Python client)
"""

EXAMPLES = r"""
- name: Send no traffic to the canary, then stop its pods
  ofm.rollback.canary_ingress:
    name: ofm-social-os-canary
    namespace: ofm-production
    weight: 0
    deployment: ofm-social-os-canary
    replicas: 0
  register: canary

- name: Put the canary back as it was
  ofm.rollback.canary_ingress:
    name: ofm-social-os-canary
    namespace: ofm-production
    deployment: ofm-social-os-canary
    replicas: "{{ canary.previous.replicas }}"
    weight: "{{ canary.previous.weight }}"
"""

RETURN = r"""
previous:
  description: The weight (null when the annotation is not set) and, with O(deployment), the replicas read before any change.
  returned: always
  type: dict
  sample: {weight: 20, replicas: 2}
current:
  description: The weight and replicas after the change (what they would be, in check mode).
  returned: always
  type: dict
  sample: {weight: 0, replicas: 0}
applied:
  description: What was already changed (V(weight), V(replicas)) when the task failed.
  returned: failure
  type: list
  elements: str
"""

from typing import Any, Mapping, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import DataError, InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import SYSTEM, WORKLOAD_API_VERSION, Kube
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rest import KUBE_SPEC

INGRESS_API_VERSION = "networking.k8s.io/v1"
CANARY_ANNOTATION = "nginx.ingress.kubernetes.io/canary"
WEIGHT_ANNOTATION = "nginx.ingress.kubernetes.io/canary-weight"
MERGE_PATCH = "application/merge-patch+json"

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **KUBE_SPEC,
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "default": "default"},
    "weight": {"type": "int"},
    "deployment": {"type": "str"},
    "replicas": {"type": "int"},
}


def check_options(params: Mapping[str, Any]) -> None:
    if params["weight"] is not None and not 0 <= params["weight"] <= 100:
        raise InputError(f"weight must be from 0 to 100, got {params['weight']}", option="weight", accepted="0 to 100")
    if params["replicas"] is not None and params["replicas"] < 0:
        raise InputError(f"replicas must not be negative, got {params['replicas']}", option="replicas", accepted="0 or more")


def canary_weight(ingress: Mapping[str, Any]) -> Optional[int]:
    """The canary weight of a canary Ingress; ``InputError`` when the Ingress is not a canary, ``DataError`` when the value is not a number."""
    metadata = ingress.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    target = f"Ingress {metadata.get('namespace')}/{metadata.get('name')}"
    if annotations.get(CANARY_ANNOTATION) != "true":
        raise InputError(f"the Ingress is not a canary: annotation {CANARY_ANNOTATION} is {annotations.get(CANARY_ANNOTATION)!r}, not 'true'",
                         system=SYSTEM, operation="read canary weight", target=target, option="name",
                         hint="Name the canary Ingress (the one annotated nginx.ingress.kubernetes.io/canary: \"true\"), not the main one.")
    value = annotations.get(WEIGHT_ANNOTATION)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise DataError(f"annotation {WEIGHT_ANNOTATION} is {value!r}, not a whole number", system=SYSTEM, operation="read canary weight",
                        target=target, hint="Fix the annotation by hand, or set it with the weight option.") from exc


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_by={"replicas": ("deployment",)})
    params = module.params
    namespace = params["namespace"]
    sent: list[str] = []
    try:
        check_options(params)
        kube = Kube.from_params(params)
        previous = {"weight": canary_weight(kube.get(INGRESS_API_VERSION, "Ingress", namespace, params["name"]))}
        if params["deployment"]:
            scale = kube.get(WORKLOAD_API_VERSION, "Deployment", namespace, params["deployment"])
            previous["replicas"] = (scale.get("spec") or {}).get("replicas", 1)
        current = dict(previous)
        if params["weight"] is not None and params["weight"] != previous["weight"]:
            current["weight"] = params["weight"]
            if not module.check_mode:
                kube.patch(INGRESS_API_VERSION, "Ingress", namespace, params["name"],
                           {"metadata": {"annotations": {WEIGHT_ANNOTATION: str(params["weight"])}}}, content_type=MERGE_PATCH)
                sent.append("weight")
        if params["replicas"] is not None and params["replicas"] != previous["replicas"]:
            current["replicas"] = params["replicas"]
            if not module.check_mode:
                kube.patch(WORKLOAD_API_VERSION, "Deployment", namespace, params["deployment"], {"spec": {"replicas": params["replicas"]}},
                           content_type=MERGE_PATCH, subresource="scale")
                sent.append("replicas")
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), changed=bool(sent), applied=sent)
    module.exit_json(changed=current != previous, previous=previous, current=current, diff={"before": previous, "after": current})


if __name__ == "__main__":
    main()
