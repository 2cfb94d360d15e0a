#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_access_info
short_description: Ask a Kubernetes cluster what the caller may do (SelfSubjectAccessReview)
version_added: 0.4.0
description:
  - Sends one C(SelfSubjectAccessReview) (C(authorization.k8s.io/v1)) per check, with the credentials of the connection options,
    and returns each answer of the cluster's own authorizer (RBAC and whatever else it runs), as C(kubectl auth can-i) does.
  - O(preset=emergency_fallback) asks for exactly what the emergency rollback's Kubernetes paths do, so that an operator can be
    authorized by the cluster when the ops API cannot be asked - get, patch C(status) of and patch the Argo Rollout O(rollout)
    (M(ofm.rollback.argo_rollout) abort and undo), list the ReplicaSets (the Rollout's history), get and patch the canary Ingress
    O(canary_ingress) and get the canary Deployment O(canary_deployment) and patch its C(scale) (M(ofm.rollback.canary_ingress)).
  - After the reviews it asks who the credentials are (one C(SelfSubjectReview), C(authentication.k8s.io/v1), Kubernetes 1.28 and
    later) and returns RV(user) when the cluster says; a cluster that does not is no failure.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_k8s
  - ofm.rollback.kube
options:
  namespace:
    description: The namespace of the checks that name none.
    type: str
    default: default
  preset:
    description: A set of checks to ask for (in addition to O(checks)).
    type: str
    choices: [emergency_fallback]
  rollout:
    description: With O(preset=emergency_fallback), the Argo Rollout (refused without O(preset)).
    type: str
  canary_ingress:
    description: With O(preset=emergency_fallback), the canary Ingress (refused without O(preset)).
    type: str
  canary_deployment:
    description: With O(preset=emergency_fallback), the canary Deployment (refused without O(preset)).
    type: str
  checks:
    description: The questions, each one C(SelfSubjectAccessReview). Required without O(preset).
    type: list
    elements: dict
    suboptions:
      verb:
        description: The verb.
        type: str
        required: true
        choices: [get, list, watch, create, update, patch, delete, deletecollection]
      group:
        description: The API group; empty for the core group.
        type: str
        default: ""
      resource:
        description: The resource, such as V(deployments).
        type: str
        required: true
      subresource:
        description: The subresource, such as V(scale) or V(status).
        type: str
      name:
        description: The object's name; all objects when not set.
        type: str
      namespace:
        description: The namespace; O(namespace) when not set.
        type: str
attributes:
  check_mode:
    support: full
    description: The module only asks; it runs the same in check mode.
  diff_mode:
    support: none
    description: The module changes nothing.
requirements:
  - kubernetes (the official Python client)
seealso:
  - name: SelfSubjectAccessReview
    description: The Kubernetes API the module calls.
    link: https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access
"""

EXAMPLES = r"""
- name: May these credentials run the emergency fallback?
  ofm.rollback.k8s_access_info:
    namespace: ofm-production
    preset: emergency_fallback
    rollout: ofm-social-os-api-rollout
    canary_ingress: ofm-social-os-api-canary
    canary_deployment: ofm-social-os-api-canary
  register: access

- name: May they scale Deployments?
  ofm.rollback.k8s_access_info:
    namespace: ofm-production
    checks:
      - {verb: patch, group: apps, resource: deployments, subresource: scale}
"""

RETURN = r"""
allowed:
  description: True when every check is allowed.
  returned: success
  type: bool
results:
  description: Each check's attributes, a C(description), and the cluster's answer (C(allowed), C(denied), C(reason)).
  returned: success
  type: list
  elements: dict
  sample: [{verb: patch, group: argoproj.io, resource: rollouts, subresource: status, name: ofm-social-os-api-rollout,
            namespace: ofm-production, description: patch argoproj.io/rollouts/status ofm-social-os-api-rollout in ofm-production,
            allowed: true, denied: false, reason: ""}]
denied:
  description: The descriptions of the checks that are not allowed.
  returned: success
  type: list
  elements: str
user:
  description: The user name the cluster sees for these credentials (its C(SelfSubjectReview)).
  returned: when the cluster answers a SelfSubjectReview
  type: str
  sample: kube-sre
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.kube import ReviewApi
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rest import KUBE_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.kube_access import PRESET_OPTIONS, PRESETS, VERBS, checks_from_params, review, whoami

CHECK_SPEC: dict[str, dict[str, Any]] = {
    "verb": {"type": "str", "required": True, "choices": list(VERBS)},
    "group": {"type": "str", "default": ""},
    "resource": {"type": "str", "required": True},
    "subresource": {"type": "str"},
    "name": {"type": "str"},
    "namespace": {"type": "str"},
}
ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **KUBE_SPEC,
    "namespace": {"type": "str", "default": "default"},
    "preset": {"type": "str", "choices": list(PRESETS)},
    **{option: {"type": "str"} for option in PRESET_OPTIONS},
    "checks": {"type": "list", "elements": "dict", "options": CHECK_SPEC},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        checks = checks_from_params(module.params)
        api = ReviewApi.from_params(module.params)
        answers = review(api.authorization.create_self_subject_access_review, checks, api.host)
        user = whoami(api.authentication.create_self_subject_review, api.host)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), changed=False)
    results = [answer.as_dict() for answer in answers]
    denied = [result["description"] for result in results if not result["allowed"]]
    who = f"{user}: " if user else ""
    module.exit_json(changed=False, allowed=not denied, results=results, denied=denied, **({"user": user} if user else {}),
                     msg=f"{who}all {len(results)} allowed" if not denied else f"{who}{len(denied)} of {len(results)} not allowed: {'; '.join(denied)}")


if __name__ == "__main__":
    main()
