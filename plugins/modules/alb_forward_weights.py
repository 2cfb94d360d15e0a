#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: alb_forward_weights
short_description: Set the target-group weights of an AWS Application Load Balancer's forward actions
version_added: 0.1.0
description:
  - Reads the listeners and rules of an Application Load Balancer, found by name, and sets the weights (C(ForwardConfig)) of
    the target groups their forward actions send requests to. Without O(weights) it only reads them.
  - Each listener's default actions and each rule are named for people as C(listener <port> default) and
    C(listener <port> rule <priority>); target groups by their names, not their ARNs.
  - C(modify_listener) and C(modify_rule) replace the whole action list, so the module sends every action of the listener or
    rule as described, with only the forward action's weights changed - one call per listener or rule that differs. An
    OIDC authentication action keeps its client secret (C(UseExistingClientSecret)).
  - Every check (weights from V(0) to V(999), the listener, the rules and the target groups named) runs before anything is
    sent. In check mode nothing is written; the result and the diff say what would change.
  - The configuration snapshot kind C(alb) of M(ofm.rollback.config_snapshot) and M(ofm.rollback.config_restore) holds the
    same weights.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.aws
options:
  load_balancer:
    description: The name of the Application Load Balancer.
    type: str
    required: true
  listener_port:
    description: The port of the listener; every listener of the load balancer when not set.
    type: int
  rules:
    description:
      - The forwards to change, V(default) for a listener's default actions and rule priorities such as V(10) for rules; every
        listener default action and rule that forwards when not set.
    type: list
    elements: str
  weights:
    description:
      - The weight (V(0) to V(999); V(0) sends no requests) of each target group to change, by target group name, in every
        selected listener or rule that forwards to it. Target groups not named keep their weight.
      - A target group that no selected listener or rule forwards to is an error.
    type: dict
  timeout:
    description: Seconds to wait for AWS to answer each request.
    type: float
    default: 30.0
attributes:
  check_mode:
    support: full
    description: Reads the listeners and rules and reports the weights they would have; sends no modify call.
  diff_mode:
    support: full
    description: Returns the weights before and after of each listener default action and rule that changes.
requirements:
  - boto3
"""

EXAMPLES = r"""
- name: Send every request of the API load balancer to the stable target group
  ofm.rollback.alb_forward_weights:
    load_balancer: ofm-api-alb
    listener_port: 80
    weights:
      ofm-api-stable: 100
      ofm-api-canary: 0

- name: Only the /api/* rule (priority 10)
  ofm.rollback.alb_forward_weights:
    load_balancer: ofm-api-alb
    listener_port: 80
    rules: ["10"]
    weights:
      ofm-api-canary: 0
"""

RETURN = r"""
load_balancer:
  description: The name of the load balancer.
  returned: always
  type: str
forwards:
  description: Each selected listener default action and rule, its conditions and its weights after the change.
  returned: always
  type: list
  elements: dict
  sample: [{"listener": 80, "rule": "10", "conditions": ["path-pattern /api/*"], "weights": {"ofm-api-stable": 100, "ofm-api-canary": 0}}]
previous:
  description: The weights before, by C(listener <port> default) or C(listener <port> rule <priority>) and target group name.
  returned: always
  type: dict
current:
  description: The weights after (in check mode, what they would be).
  returned: always
  type: dict
calls:
  description: The C(modify_listener) and C(modify_rule) calls made, with the weights sent.
  returned: always
  type: list
  elements: dict
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.alb import DEFAULT_TIMEOUT, AlbClient, set_weights
from ansible_collections.ofm.rollback.plugins.module_utils.aws import AWS_REQUIRED_TOGETHER, AWS_SPEC, boto3
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **AWS_SPEC,
    "load_balancer": {"type": "str", "required": True},
    "listener_port": {"type": "int"},
    "rules": {"type": "list", "elements": "str"},
    "weights": {"type": "dict"},
    "timeout": {"type": "float", "default": DEFAULT_TIMEOUT},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, required_together=AWS_REQUIRED_TOGETHER)
    params = module.params
    if boto3 is None:
        module.fail_json(msg=missing_required_lib("boto3"))
    client = None
    try:
        client = AlbClient.from_params(params, params["load_balancer"], params["timeout"])
        change = set_weights(client, port=params["listener_port"], rules=params["rules"], weights=params["weights"], check_mode=module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), changed=bool(client and client.calls), calls=client.calls if client else [])
    module.exit_json(**change.result())


if __name__ == "__main__":
    main()
