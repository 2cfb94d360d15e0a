#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_snapshot
short_description: Take a snapshot of OFM's configuration (flags, Unleash, ConfigMaps, Secrets, env, rate limits) before a change
version_added: 0.3.0
description:
  - Reads the configuration a release or an operator may change and keeps it in one versioned document, the snapshot, which
    M(ofm.rollback.config_restore) restores exactly. Run it before a deploy (a CI pipeline's step) or before any configuration change.
  - "It holds, per kind (O(kinds)): V(flags) - C(FEATURE_FLAGS) of container O(container) of each of O(deployments) and every Redis
    key C(feature_flags:*) with its value and remaining TTL; V(unleash) - every toggle of O(unleash_project) and whether it is on
    in O(unleash_environment); V(configmaps) and V(secrets) - the data of the ConfigMaps and Secrets (those O(deployments) reference
    unless O(configmaps)/O(secrets) name them); V(env) - the inline env entries of the container, in order, without
    C(FEATURE_FLAGS); V(rate_limits) - every row of O(rate_limits_table)."
  - The snapshot records when it was taken, by whom (O(taken_by)), the change and incident ids, the environment, where each system
    is (its scope - the Kubernetes API server, the namespace, the Redis, the Unleash and the database) and a SHA-256 hash of its
    content, so that a changed file, or a snapshot of another environment or cluster, is refused by the restore.
  - Secret values are encrypted with Ansible Vault, with the vault secret the run was given (C(--vault-id),
    C(--vault-password-file), C(--ask-vault-pass), or an AWX vault credential), and are never written in clear or shown.
  - A kind whose system is not configured (no O(redis_url), O(unleash_url) or O(database); no vault secret for V(secrets)) is left
    out and listed in RV(skipped_kinds), unless O(kinds) names it, which fails the task.
  - This is an action plugin, it runs on the controller (where the vault secrets are) and never connects to the host.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - kubernetes (the official Python client) for the Kubernetes kinds, redis >= 5.0 for V(flags), requests for V(unleash), and
    psycopg 3 for V(rate_limits), on the controller
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_k8s
  - ofm.rollback.aws
  - ofm.rollback.config_rollback
  - ofm.rollback.config_external
  - ofm.rollback.kube
  - ofm.rollback.redis
  - ofm.rollback.unleash
options:
  change_id:
    description:
      - The id of the change the snapshot is taken before (a deploy, a ticket), recorded in the snapshot.
    type: str
  incident_id:
    description:
      - The id of the incident the snapshot is taken in, recorded in the snapshot.
    type: str
  taken_by:
    description:
      - Who takes the snapshot, recorded in it. When not set, the AWX job's user (the variable C(awx_user_name) or
        C(tower_user_name)), else the controller's user.
    type: str
attributes:
  check_mode:
    support: full
    description: Reads everything and reports what the snapshot would hold; nothing is written to the store.
  diff_mode:
    support: none
    description: A snapshot changes no system.
  action:
    support: full
    description: Runs on the controller.
notes:
  - The snapshot format is described in the collection's README (section Configuration rollback).
  - The Kubernetes options (O(kubeconfig), O(host), ...) and O(namespace) suit C(module_defaults) of C(group/ofm.rollback.k8s).
seealso:
  - module: ofm.rollback.config_restore
  - module: ofm.rollback.feature_flag
"""

EXAMPLES = r"""
# In CI, before the deploy: ansible-playbook snapshot.yml --vault-password-file "$VAULT_PASSWORD_FILE"
- name: Snapshot the configuration before deploying 2.4.0
  ofm.rollback.config_snapshot:
    change_id: "deploy-2.4.0-{{ lookup('env', 'CI_PIPELINE_ID') }}"
    redis_url: redis://redis.ofm-production.svc:6379/0
    unleash_url: https://unleash.internal.ofm.social
    database:
      host: db.ofm-production.svc
      database: ofm
      user: ofm_config
      password: "{{ ofm_db_config_password }}"
  register: config_snapshot

- name: Keep it in the cluster, so AWX jobs on every node find it
  ofm.rollback.config_snapshot:
    kinds: [configmaps, secrets, env]
    store: kubernetes
    store_namespace: ofm-rollback
"""

RETURN = r"""
snapshot:
  description: The snapshot taken (values are not shown).
  returned: success
  type: dict
  contains:
    id:
      description: Its id, C(cfg-<UTC time>-<6 hex>); give it to O(ofm.rollback.config_restore#module:snapshot_id).
      type: str
      sample: cfg-20261204T073900Z-1a2b3c
    taken_at:
      description: When, ISO 8601 in UTC.
      type: str
      sample: "2026-12-04T07:39:00+00:00"
    taken_by:
      description: Who took it.
      type: str
    environment:
      description: The environment.
      type: str
    change_id:
      description: The change id given.
      type: str
    incident_id:
      description: The incident id given.
      type: str
    sha256:
      description: The hash of its content.
      type: str
    scope:
      description: Where each system is, as recorded.
      type: dict
      sample: {kube_server: "https://k8s.internal:6443", namespace: ofm-production, redis: "redis.ofm-production.svc:6379/0"}
    location:
      description: Where it is kept (a file, or C(Secret <namespace>/<name>)); V(null) in check mode.
      type: str
    kinds:
      description: The number of keys of each kind taken (flags, cache keys, toggles, ConfigMap and Secret keys, env entries, rows).
      type: dict
      sample: {flags: 12, unleash: 3, configmaps: 4, secrets: 3, env: 2, rate_limits: 4}
skipped_kinds:
  description: The kinds left out, each with the reason.
  returned: always
  type: list
  elements: str
  sample: ["unleash: unleash_url not set"]
round_trips:
  description: Requests sent per system (C(kubernetes), C(redis), C(unleash), C(postgres)).
  returned: always
  type: dict
  sample: {kubernetes: 5, redis: 2, unleash: 1, postgres: 1}
error:
  description: Why the task failed, as the collection's error fields (type, system, operation, target, reason, hint, option, ...).
  returned: failure
  type: dict
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import REDIS_SPEC, UNLEASH_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.config.kinds import EXTERNAL_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.config.workflow import CONFIG_SPEC, SNAPSHOT_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rest import KUBE_SPEC

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {**KUBE_SPEC, **REDIS_SPEC, **UNLEASH_SPEC, **CONFIG_SPEC, **EXTERNAL_SPEC, **SNAPSHOT_SPEC}


def main() -> None:
    """The action plugin does the work on the controller; this file holds the documentation and the argument spec."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="ofm.rollback.config_snapshot runs as an action plugin on the controller (it seals Secret values with the "
                         "run's vault secrets); this module file is not meant to be executed.")


if __name__ == "__main__":
    main()
