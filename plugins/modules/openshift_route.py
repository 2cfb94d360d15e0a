#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: openshift_route
short_description: Set the backend weights of an OpenShift Route (spec.to and alternateBackends)
version_added: 0.1.0
description:
  - Reads an OpenShift Route (C(route.openshift.io/v1)) and sets the weights of its backends, the Services in C(spec.to) and
    C(spec.alternateBackends), through the Kubernetes dynamic client. Without O(weights) and O(backends) it only reads them.
  - The API server replaces C(alternateBackends) whole, so the module sends the Route's whole backend list in one merge patch,
    conditional on the Route's C(resourceVersion) as read; a Route changed in between fails with a conflict and nothing is written.
  - Every check (weights from V(0) to V(256), Services the Route has, at most three alternate backends) runs before anything
    is sent. In check mode nothing is sent at all; the result and the diff say what would change.
  - The configuration snapshot kind C(routes) of M(ofm.rollback.config_snapshot) and M(ofm.rollback.config_restore) holds the
    same weights for several Routes.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_k8s
  - ofm.rollback.kube
options:
  name:
    description: The name of the Route.
    type: str
    required: true
  namespace:
    description: The namespace of the Route.
    type: str
    default: default
  weights:
    description:
      - The weight (V(0) to V(256); V(0) sends no requests) of each Service to change, by Service name. Backends not named keep
        their weight.
      - A Service the Route does not have is an error unless O(add) is set.
    type: dict
  add:
    description:
      - Add the Services of O(weights) that the Route does not have as alternate backends (at most three in all).
    type: bool
    default: false
  backends:
    description:
      - The Route's exact backend list, replacing the current one; the first becomes C(spec.to), the others
        C(spec.alternateBackends) in order.
    type: list
    elements: dict
    suboptions:
      service:
        description: The name of the Service.
        type: str
        required: true
      weight:
        description: Its weight, V(0) to V(256).
        type: int
        required: true
  timeout:
    description: Seconds to wait for the API server to answer each request (connection failures are tried again).
    type: float
    default: 30.0
attributes:
  check_mode:
    support: full
    description: Reads the Route and reports the backends it would have; sends no write.
  diff_mode:
    support: full
    description: Returns the backends and their weights before and after.
notes:
  - Routes exist on OpenShift (and on the lab's Kubernetes test server); elsewhere the module fails saying that the API
    server has no resource type Route.
"""

EXAMPLES = r"""
- name: Send every request of api.ofm.social to the stable Service
  ofm.rollback.openshift_route:
    name: ofm-api
    namespace: ofm-production
    weights:
      ofm-social-os-api: 100
      ofm-social-os-api-canary: 0

- name: Put the Route's backends back exactly
  ofm.rollback.openshift_route:
    name: ofm-api
    namespace: ofm-production
    backends:
      - service: ofm-social-os-api
        weight: 90
      - service: ofm-social-os-api-canary
        weight: 10
"""

RETURN = r"""
route:
  description: The Route, as V(Route <namespace>/<name>).
  returned: always
  type: str
previous:
  description: The backends before, C(spec.to) first.
  returned: always
  type: list
  elements: dict
  sample: [{"service": "ofm-social-os-api", "weight": 90}, {"service": "ofm-social-os-api-canary", "weight": 10}]
current:
  description: The backends after (in check mode, what they would be).
  returned: always
  type: list
  elements: dict
weights:
  description: The weight of each Service after the change.
  returned: always
  type: dict
  sample: {"ofm-social-os-api": 100, "ofm-social-os-api-canary": 0}
patches:
  description: The merge patches sent (none in check mode or when nothing changes).
  returned: always
  type: list
  elements: dict
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rest import KUBE_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.openshift_route import DEFAULT_TIMEOUT, RouteClient, parse_backends, set_backends

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **KUBE_SPEC,
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str", "default": "default"},
    "weights": {"type": "dict"},
    "add": {"type": "bool", "default": False},
    "backends": {"type": "list", "elements": "dict",
                 "options": {"service": {"type": "str", "required": True}, "weight": {"type": "int", "required": True}}},
    "timeout": {"type": "float", "default": DEFAULT_TIMEOUT},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=[("weights", "backends")])
    params = module.params
    client = None
    try:
        backends = parse_backends(params["backends"]) if params["backends"] is not None else None
        client = RouteClient.from_params(params, timeout=params["timeout"])
        change = set_backends(client, params["name"], weights=params["weights"], backends=backends, add=params["add"],
                              check_mode=module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), changed=bool(client and client.patches), patches=client.patches if client else [])
    result = change.result()
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
