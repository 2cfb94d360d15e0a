#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudfront_distribution
short_description: Read, set or restore the config of an AWS CloudFront distribution, with its ETag
version_added: 0.1.0
description:
  - Reads the config (C(DistributionConfig)) of a distribution found by Id, alias or comment, and the ETag it was read with.
    Without O(config) it only reads, and the result's RV(config) and RV(etag) are what a later task restores.
  - With O(config) it sets those top-level fields and writes the whole config with one C(update_distribution). A field's
    value is merged into the current one (nested objects key by key, lists and scalars replaced, C(Quantity) set from
    C(Items)), so both a partial value and a whole config read earlier work, and a second run changes nothing.
  - "ETag semantics: the C(If-Match) of the write is the ETag read when this task planned the change. The config is read
    once more right before the write; when someone else edited the distribution in between, nothing is written and the
    task fails with the diff of what they changed (CloudFront also refuses a stale C(If-Match))."
  - "O(expected_etag) is the ETag the change being undone left (recorded with that change or read right after it). When the
    distribution now has another ETag it was edited since; the task then fails with the diff of what the restore would
    overwrite, unless O(force) is set."
  - With O(invalidate_paths), a distribution that changed is then invalidated and the task waits until that is Completed.
  - In check mode nothing is written; the result and the diff say what would change.
  - The configuration snapshot kind C(cdn) of M(ofm.rollback.config_snapshot) and M(ofm.rollback.config_restore) holds the
    same configs.
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
  config:
    description:
      - Top-level fields of the C(DistributionConfig) to set, such as C(Enabled), C(Comment), C(Origins) or
        C(DefaultCacheBehavior), or a whole config read earlier (RV(config) of this module) to restore.
      - C(CallerReference) cannot change.
    type: dict
  expected_etag:
    description: The ETag the distribution must still have; another one fails the task unless O(force) is set.
    type: str
  force:
    description: Restore even when the distribution's ETag is not O(expected_etag).
    type: bool
    default: false
  invalidate_paths:
    description: Paths to invalidate after the config changed, such as C(/*); the task waits until the invalidation is Completed.
    type: list
    elements: str
  wait_timeout:
    description: Seconds to wait for the invalidation.
    type: float
    default: 600.0
  timeout:
    description: Seconds to wait for AWS to answer each request.
    type: float
    default: 30.0
attributes:
  check_mode:
    support: full
    description: The module reads the distribution and reports what it would write, without writing or invalidating.
  diff_mode:
    support: full
    description: Shows the top-level config fields that change, before and after.
requirements:
  - boto3
"""

EXAMPLES = r"""
- name: Keep the CDN's config before the change
  ofm.rollback.cloudfront_distribution:
    distribution: cdn.ofm.social
  register: cdn_before

- name: Put it back (refused if someone edited it since the change), then purge the cache
  ofm.rollback.cloudfront_distribution:
    distribution: cdn.ofm.social
    config: "{{ cdn_before.config }}"
    expected_etag: "{{ cdn_after_change.etag }}"
    invalidate_paths: ["/*"]

- name: Point the default behaviour at the stable origin
  ofm.rollback.cloudfront_distribution:
    distribution: ofm-social-cdn
    config:
      DefaultCacheBehavior:
        TargetOriginId: ofm-api-alb
"""

RETURN = r"""
id:
  description: The distribution's Id.
  returned: success
  type: str
etag:
  description: The ETag after the task (the one read when nothing changed; in check mode, the one read).
  returned: success
  type: str
previous_etag:
  description: The ETag read when the task planned the change.
  returned: success
  type: str
config:
  description: The C(DistributionConfig) after the task (in check mode, what it would be).
  returned: success
  type: dict
changed_fields:
  description: The top-level fields that changed (or would change).
  returned: success
  type: list
  elements: str
invalidation:
  description: The invalidation created (C(id), C(status), C(paths), C(caller_reference)), once completed.
  returned: when a changed distribution was invalidated
  type: dict
calls:
  description: The writes sent (C(update_distribution) with its C(If-Match), C(create_invalidation)).
  returned: always
  type: list
  elements: dict
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.aws import AWS_REQUIRED_TOGETHER, AWS_SPEC, boto3
from ansible_collections.ofm.rollback.plugins.module_utils.cloudfront import (DEFAULT_TIMEOUT, DEFAULT_WAIT_TIMEOUT, CloudFrontClient,
                                                                              set_config)
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **AWS_SPEC,
    "distribution": {"type": "str", "required": True},
    "config": {"type": "dict"},
    "expected_etag": {"type": "str"},
    "force": {"type": "bool", "default": False},
    "invalidate_paths": {"type": "list", "elements": "str"},
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
        change = set_config(client, params["distribution"], params["config"], expected_etag=params["expected_etag"], force=params["force"],
                            invalidate_paths=params["invalidate_paths"], wait_timeout=params["wait_timeout"], check_mode=module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), changed=bool(client and client.calls), calls=client.calls if client else [])
    module.exit_json(**change.result(client.calls))


if __name__ == "__main__":
    main()
