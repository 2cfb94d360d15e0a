#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudfront_invalidation
short_description: Invalidate paths of an AWS CloudFront distribution and wait until the invalidation is Completed
version_added: 0.1.0
description:
  - Creates an invalidation of O(paths) on a distribution found by Id, alias or comment, and by default waits until
    CloudFront reports it C(Completed).
  - An invalidation is an action, so the task always reports a change. CloudFront answers a repeated O(caller_reference)
    with the invalidation it already made, so a retried task with the same reference does not invalidate twice.
  - In check mode the distribution is looked up and nothing is created.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.aws
options:
  distribution:
    description: The distribution's Id, one of its aliases (CNAMEs) or its comment.
    type: str
    required: true
  paths:
    description: The paths, each starting with C(/), C(*) only at the end (C(/*) for everything).
    type: list
    elements: str
    required: true
  caller_reference:
    description: CloudFront's unique reference of the request; a new one when not set.
    type: str
  wait:
    description: Wait until the invalidation is Completed.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: float
    default: 600.0
  timeout:
    description: Seconds to wait for AWS to answer each request.
    type: float
    default: 30.0
attributes:
  check_mode:
    support: full
    description: The module looks the distribution up and creates nothing.
  diff_mode:
    support: none
    description: An invalidation has no before and after to show.
requirements:
  - boto3
"""

EXAMPLES = r"""
- name: Purge the CDN after the restore
  ofm.rollback.cloudfront_invalidation:
    distribution: cdn.ofm.social
    paths: ["/*"]
    caller_reference: "rollback-{{ incident_id }}"
"""

RETURN = r"""
id:
  description: The distribution's Id.
  returned: success
  type: str
invalidation:
  description: The invalidation (C(id), C(status), C(paths), C(caller_reference)); C(status) is C(Completed) after a wait.
  returned: success
  type: dict
calls:
  description: The C(create_invalidation) call sent.
  returned: always
  type: list
  elements: dict
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.aws import AWS_REQUIRED_TOGETHER, AWS_SPEC, boto3
from ansible_collections.ofm.rollback.plugins.module_utils.cloudfront import DEFAULT_TIMEOUT, DEFAULT_WAIT_TIMEOUT, CloudFrontClient, invalidate
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **AWS_SPEC,
    "distribution": {"type": "str", "required": True},
    "paths": {"type": "list", "elements": "str", "required": True},
    "caller_reference": {"type": "str"},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "float", "default": DEFAULT_WAIT_TIMEOUT},
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
        client = CloudFrontClient.from_params(params, params["timeout"])
        result = invalidate(client, params["distribution"], params["paths"], caller_reference=params["caller_reference"], wait=params["wait"],
                            wait_timeout=params["wait_timeout"], check_mode=module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), changed=bool(client and client.calls), calls=client.calls if client else [])
    module.exit_json(**result, calls=client.calls)


if __name__ == "__main__":
    main()
