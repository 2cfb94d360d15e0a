#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: feature_flag
short_description: Turn feature flags off or on now, on their source of truth and their cache (the emergency kill switch)
version_added: 0.1.0
description:
  - Turns one or many feature flags off (or on) at once and returns the state each had before, so the change can be undone.
  - With O(provider=ofm), OFM's own flags. Their source of truth is the C(FEATURE_FLAGS) environment value
    (C(name=true|false) pairs, comma-separated) of container C(api) of each Deployment in O(deployments); the app caches each
    flag in Redis as C(feature_flags:<name>) for a TTL and reads its environment again when the key is gone. The module
    first patches C(FEATURE_FLAGS) of each Deployment (one JSON patch of that one env entry per Deployment), then writes
    every flag's key to Redis with the cache TTL (O(cache_ttl)) in one MULTI/EXEC transaction, so the running app sees
    the change at once and the pods started after it read the new value.
  - A change written only to Redis does not hold - when the key's TTL runs out, the app reads C(FEATURE_FLAGS) again and
    the old state comes back. That is why this module always changes the source of truth too.
  - Patching C(FEATURE_FLAGS) changes the Deployment's pod template, so Kubernetes rolls its pods; the module does not wait
    for that rollout.
  - With O(provider=unleash), the toggles of the Unleash project O(unleash_project), turned on or off in the environment
    O(unleash_environment) through the Unleash admin API.
  - Every flag is checked before anything changes. A flag that exists nowhere (in no Deployment's C(FEATURE_FLAGS) and
    not in the cache; not in the Unleash project) fails the task with the known flags listed, unless O(create_missing=true).
  - A flag already in the wanted state everywhere is left alone, so a second run reports no change. A flag whose Redis key
    has expired is written to the cache again, and that is reported as a change.
  - When a write fails half-way (say Redis fails after the Deployments were patched), the task fails saying what was
    changed (RV(applied)) and what was not (RV(not_applied)); running it again completes the change.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - kubernetes (the official Python client) and redis >= 5.0 for O(provider=ofm)
  - requests >= 2.31.0 for O(provider=unleash)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_k8s
  - ofm.rollback.kube
  - ofm.rollback.redis
  - ofm.rollback.unleash
options:
  names:
    description:
      - The flags to turn on or off, such as V(publish_v2).
      - A name is a letter or digit, then letters, digits, V(_), V(.) or V(-).
    type: list
    elements: str
    required: true
  state:
    description:
      - V(disabled) turns the flags off (the kill switch), V(enabled) turns them on (for example to undo a kill switch).
    type: str
    choices: [enabled, disabled]
    required: true
  provider:
    description:
      - Where the flags live. V(ofm) is OFM's own flag system (C(FEATURE_FLAGS) of the Deployments plus the Redis cache); it uses
        the Kubernetes options and O(redis_url). V(unleash) is an Unleash server; it uses O(unleash_url) and O(unleash_token).
    type: str
    choices: [ofm, unleash]
    default: ofm
  deployments:
    description:
      - With O(provider=ofm), the Deployments whose container C(api) holds the flags in its C(FEATURE_FLAGS) env entry.
      - Each must exist, and its C(FEATURE_FLAGS) must be an inline value. A flag that one of them lacks is added to it.
    type: list
    elements: str
    default: [ofm-social-os-api, ofm-social-os-api-canary]
  namespace:
    description:
      - With O(provider=ofm), the namespace of O(deployments).
    type: str
    default: ofm-production
  cache_ttl:
    description:
      - With O(provider=ofm), the TTL in seconds of the Redis keys the module writes, as the app sets it (300 in OFM).
    type: int
    default: 300
  create_missing:
    description:
      - V(false) fails the task, before anything changes, when a flag exists nowhere.
      - V(true) adds such a flag (to C(FEATURE_FLAGS) of every Deployment and the cache; as a new kill-switch toggle in Unleash).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description:
      - Reads every flag and reports what would change. Nothing is written to Redis or Unleash; each Deployment patch is sent as
        a server-side dry run (C(dryRun=All)), so the API server validates it and stores nothing.
  diff_mode:
    support: full
    description: Shows each flag's state in each place (each Deployment and the cache, or Unleash) before and after.
notes:
  - "To undo a kill switch, turn the flags in RV(previous) that were V(true) on again; see the examples."
  - The Kubernetes options (O(kubeconfig), O(host), ...) and O(namespace) suit C(module_defaults) of C(group/ofm.rollback.k8s).
seealso:
  - name: Unleash admin API
    description: The toggle on/off endpoints the V(unleash) provider calls.
    link: https://docs.getunleash.io/reference/api/unleash/toggle-feature-environment-off
"""

EXAMPLES = r"""
- name: Kill publish_v2 now, in FEATURE_FLAGS of both Deployments and in the Redis cache
  ofm.rollback.feature_flag:
    names: [publish_v2]
    state: disabled
    redis_url: redis://redis.ofm-production.svc:6379/0
    redis_password: "{{ ofm_redis_password }}"
  register: kill_switch

- name: Undo it later - turn on again what was on before
  ofm.rollback.feature_flag:
    names: "{{ kill_switch.previous | dict2items | selectattr('value') | map(attribute='key') | list }}"
    state: enabled
    redis_url: redis://redis.ofm-production.svc:6379/0
    redis_password: "{{ ofm_redis_password }}"
  when: kill_switch.previous | dict2items | selectattr('value') | list | length > 0

- name: Turn two Unleash toggles off in production (token from UNLEASH_TOKEN)
  ofm.rollback.feature_flag:
    provider: unleash
    names: [new_composer, tiktok_direct_post]
    state: disabled
    unleash_url: https://unleash.internal.ofm.social
"""

RETURN = r"""
previous:
  description:
    - Each flag's state before the task, V(null) for a flag that did not exist. With O(provider=ofm), its value in
      C(FEATURE_FLAGS) of the first Deployment that has it (else the cached value), with a warning when the Deployments
      differed (RV(flags) holds each one's); with O(provider=unleash), the toggle's state in the environment.
  returned: success
  type: dict
  sample: {publish_v2: true, new_composer: false}
flags:
  description: Each flag, its state in each place before and after (V(null) when absent), and whether it changed.
  returned: success
  type: list
  elements: dict
  sample:
    - name: publish_v2
      changed: true
      previous: true
      before: {deployment/ofm-social-os-api: true, deployment/ofm-social-os-api-canary: true, redis: true}
      after: {deployment/ofm-social-os-api: false, deployment/ofm-social-os-api-canary: false, redis: false}
state:
  description: The state asked for.
  returned: success
  type: str
  sample: disabled
source_of_truth:
  description: Where the flags were read and changed.
  returned: success
  type: str
  sample: FEATURE_FLAGS of container api of Deployment(s) ofm-social-os-api, ofm-social-os-api-canary (namespace ofm-production) and the Redis cache
applied:
  description: The writes made, in order (empty in check mode and when nothing changed).
  returned: always
  type: list
  elements: str
  sample: [Deployment ofm-production/ofm-social-os-api, "Redis cache (feature_flags:publish_v2)"]
not_applied:
  description: When a write failed after others were made, the writes not made; run the task again to make them.
  returned: failure
  type: list
  elements: str
deployments:
  description: With O(provider=ofm), each Deployment's C(FEATURE_FLAGS) before and after.
  returned: success and O(provider=ofm)
  type: list
  elements: dict
  sample:
    - {name: ofm-social-os-api, namespace: ofm-production, changed: true, before: "publish_v2=true,platform_x=true",
       after: "publish_v2=false,platform_x=true"}
cache:
  description:
    - With O(provider=ofm), the Redis cache - where it is, the TTL written, each named flag's key as read (value and milliseconds
      left, V(null) for a key that never expires), the keys written, and why the source of truth is changed too.
  returned: success and O(provider=ofm)
  type: dict
  sample:
    target: redis.ofm-production.svc:6379/0
    ttl: 300
    before: {"feature_flags:publish_v2": {value: "true", ttl_ms: 212345}}
    written: ["feature_flags:publish_v2"]
    note: A flag written only to the Redis cache would come back to its FEATURE_FLAGS state when the key's TTL runs out ...
unleash:
  description: With O(provider=unleash), the project and environment.
  returned: success and O(provider=unleash)
  type: dict
  sample: {project: default, environment: production}
round_trips:
  description: Requests sent, per system (Redis - each SCAN call or pipeline counts one; Unleash - each HTTP attempt).
  returned: always
  type: dict
  sample: {redis: 2}
requests:
  description: With O(provider=unleash), every HTTP attempt made, with secrets removed.
  returned: O(provider=unleash)
  type: list
  elements: dict
error:
  description: Why the task failed, as the collection's error fields (type, system, operation, target, reason, hint, option, ...).
  returned: failure
  type: dict
"""

from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import REDIS_SPEC, UNLEASH_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.feature_flags import (
    DEFAULT_CACHE_TTL, DEFAULT_DEPLOYMENTS, DEFAULT_NAMESPACE, PROVIDERS, STATES, Switch, counters, failure, run_switch, switch_from_params)
from ansible_collections.ofm.rollback.plugins.module_utils.flags import HAS_REDIS, REDIS_IMPORT_TRACEBACK
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rest import KUBE_SPEC

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **KUBE_SPEC,
    **REDIS_SPEC,
    **UNLEASH_SPEC,
    "names": {"type": "list", "elements": "str", "required": True},
    "state": {"type": "str", "choices": list(STATES), "required": True},
    "provider": {"type": "str", "choices": list(PROVIDERS), "default": "ofm"},
    "deployments": {"type": "list", "elements": "str", "default": list(DEFAULT_DEPLOYMENTS)},
    "namespace": {"type": "str", "default": DEFAULT_NAMESPACE},
    "cache_ttl": {"type": "int", "default": DEFAULT_CACHE_TTL},
    "create_missing": {"type": "bool", "default": False},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if params["provider"] == "ofm" and not HAS_REDIS:
        module.fail_json(msg=missing_required_lib("redis"), exception=REDIS_IMPORT_TRACEBACK, changed=False)
    switch: Optional[Switch] = None
    try:
        switch = switch_from_params(params)
        result = run_switch(switch, params["names"], params["state"], create_missing=params["create_missing"], check_mode=module.check_mode)
        for warning in result.pop("warnings"):
            module.warn(warning)
        module.exit_json(**result, **counters(switch))
    except OfmRollbackError as exc:
        module.fail_json(**failure(switch, exc), **counters(switch))
    finally:
        if switch is not None:
            switch.close()


if __name__ == "__main__":
    main()
