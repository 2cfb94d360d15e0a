#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_restore
short_description: Restore OFM's configuration exactly from a snapshot, or from the previous release
version_added: 0.3.0
description:
  - Makes the configuration what a snapshot of M(ofm.rollback.config_snapshot) holds, exactly - keys added since are removed,
    changed values are put back, removed ones are added again, cache TTLs are those of the snapshot - for all of its kinds
    or those in O(kinds).
  - The snapshot is O(snapshot_id) (in the store), O(snapshot_path) (a file), or the newest of O(environment) in the store
    (O(latest=true)). It is refused, before anything changes, when its content hash does not match (it was changed after it was
    taken), when it was taken in another environment or elsewhere (another Kubernetes API server, namespace, Redis, Unleash or
    database; the refusal names both values; O(force_scope=true) restores anyway), or when its Secret values cannot be decrypted
    with the run's vault secret.
  - Every system is read before any is written, so an unreachable system, a refused credential or a missing object stops the
    restore with nothing changed. Then each system is written in the fewest requests it allows - one patch per Deployment,
    ConfigMap or Secret (each conditional on the object as read), one MULTI/EXEC for the Redis cache, one bulk request per
    state for Unleash, one transaction for the rate limits - kind after kind (V(flags), V(unleash), V(configmaps),
    V(secrets), V(env), V(rate_limits)).
  - When a write fails, the restore stops and says which kinds and objects were restored and which were not (RV(report));
    running it again restores what is left.
  - A second restore of the same snapshot changes nothing. Redis cache keys compare by value (their TTLs count down); an
    Unleash toggle created after the snapshot is turned off when it is on, never archived.
  - After the restore, the Deployments whose pods read a restored ConfigMap or Secret when they start are restarted (as
    C(kubectl rollout restart) does) and those whose pod template was restored are waited for (O(rollout), O(live_reload)); then
    every restored kind is read back and compared with the snapshot (RV(verified)).
  - Without a snapshot, O(from_release) takes the previous values of ConfigMaps, Secrets and env from the manifest of the Helm
    release's previous revision, or the env from each Deployment's previous ReplicaSet; RV(snapshot.source) says which was used
    and RV(not_restorable) what that source does not hold.
  - Secret values are never shown - plans and diffs say C(<added>), C(<changed>), C(<removed>) or C(<unchanged>) - and no clear
    secret value known to the run appears in the result.
  - This is an action plugin, it runs on the controller (where the vault secrets are) and never connects to the host.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - kubernetes (the official Python client) for the Kubernetes kinds, redis >= 5.0 for V(flags), requests for V(unleash), and
    psycopg 3 for V(rate_limits), on the controller; helm v3 or v4 for O(from_release=helm)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_k8s
  - ofm.rollback.aws
  - ofm.rollback.config_rollback
  - ofm.rollback.config_external
  - ofm.rollback.kube
  - ofm.rollback.redis
  - ofm.rollback.unleash
options:
  snapshot_id:
    description:
      - The id of the snapshot to restore, as M(ofm.rollback.config_snapshot) returned it, looked up in the store (O(store)).
      - Exactly one of O(snapshot_id), O(snapshot_path), O(latest) and O(from_release) is set.
    type: str
  snapshot_path:
    description:
      - The path of a snapshot file to restore.
    type: path
  latest:
    description:
      - Restore the newest snapshot of O(environment) in the store.
    type: bool
    default: false
  from_release:
    description:
      - Restore without a snapshot, from what the last deploy replaced. V(helm) - the ConfigMaps, Secrets and Deployment env of
        revision O(release_revision) of Helm release O(release) (the one before the newest when not set), read with
        C(helm get manifest). V(replicaset) - the env of each of O(deployments) as its previous ReplicaSet's pod template holds
        it. V(previous) - V(helm) when the release has a previous revision, else V(replicaset).
      - The flag cache, Unleash and the rate limits are never restorable from a release (RV(not_restorable)).
    type: str
    choices: [previous, helm, replicaset]
  release:
    description:
      - The Helm release of O(from_release=helm).
    type: str
    default: ofm-social-os
  release_revision:
    description:
      - The revision of O(release) to take the values from; the one before the newest when not set.
    type: int
  helm_binary_path:
    description:
      - The helm binary for O(from_release=helm), helm v3 or v4; a name without a slash is looked up in the search path.
    type: path
    default: helm
  rollout:
    description:
      - What happens to the Deployments after a restore. V(auto) - restart those whose pods read a restored ConfigMap or Secret
        when they start (C(envFrom), C(valueFrom), C(subPath) mounts) and wait for them, wait for those whose pod template was
        restored (they roll by themselves), leave those that only mount restored objects as volumes (the kubelet refreshes
        them). V(restart) - as V(auto), and restart those that mount them too. V(none) - only report what is needed.
    type: str
    choices: [auto, restart, none]
    default: auto
  live_reload:
    description:
      - V(true) when the app re-reads the restored values while it runs, so no Deployment is restarted for them (re-templated
        ones still roll).
    type: bool
    default: false
  rollout_timeout:
    description:
      - Seconds to wait for each Deployment's rollout.
    type: int
    default: 300
  force_scope:
    description:
      - Restore a snapshot taken in another environment, cluster, namespace, Redis, Unleash or database (a warning names the
        differences). Only to restore a copy of a configuration on purpose.
    type: bool
    default: false
  missing_kinds:
    description:
      - What to do with a kind named in O(kinds) that the snapshot does not hold (or V(secrets) when the run has no vault
        secret to open them) - V(fail) the task before anything changes, or V(skip) it and restore the others; the skipped
        kinds are listed in RV(not_restorable) with the reason. With V(skip), a snapshot that holds none of the kinds still
        fails.
      - The procedures use V(skip) to restore their own kinds from a snapshot that holds others too.
    type: str
    choices: [fail, skip]
    default: fail
  journal:
    description:
      - The procedure's run journal, as M(ofm.rollback.run_journal) O(ofm.rollback.run_journal#module:state=open) returned it
        (its C(path), C(run_id), C(incident_id) and C(procedure)) - the procedures pass it.
      - Each kind is journaled C(restore:<kind>) V(started) before it is written and V(done) after, and C(restore:rollouts)
        once the Deployments were rolled. A re-run after a crash (the same incident) finds the kinds a run before it restored
        unchanged (RV(report) says by which run) and restores the others, and it restarts the Deployments of what that run wrote
        as well (its rollouts were lost with it) - RV(resumed) says so.
      - A journal that cannot be written is a warning; the restore goes on.
    type: dict
    suboptions:
      path:
        description: The journal file.
        type: path
        required: true
      run_id:
        description: This run's id.
        type: str
        required: true
      incident_id:
        description: The incident.
        type: str
        required: true
      procedure:
        description: The procedure whose journal it is.
        type: str
        required: true
attributes:
  check_mode:
    support: full
    description:
      - Reads every system, plans and reports (RV(report) status V(planned), RV(changes), RV(rollouts) needed); nothing is
        written anywhere, not even a dry run.
  diff_mode:
    support: full
    description: Shows per kind, object and key what changes (secret values masked).
  action:
    support: full
    description: Runs on the controller.
notes:
  - On a restore of O(snapshot_id), O(snapshot_path) or O(latest), the objects, toggles and rows restored are those the
    snapshot holds; O(deployments), O(configmaps) and O(secrets) then only name the Deployments looked at for rollouts.
  - The Kubernetes options (O(kubeconfig), O(host), ...) and O(namespace) suit C(module_defaults) of C(group/ofm.rollback.k8s).
seealso:
  - module: ofm.rollback.config_snapshot
  - module: ofm.rollback.feature_flag
  - module: ofm.rollback.helm_rollback
"""

EXAMPLES = r"""
- name: Put the configuration back as it was before the deploy
  ofm.rollback.config_restore:
    snapshot_id: "{{ config_snapshot.snapshot.id }}"
    redis_url: redis://redis.ofm-production.svc:6379/0
    unleash_url: https://unleash.internal.ofm.social
    database:
      host: db.ofm-production.svc
      database: ofm
      user: ofm_config
      password: "{{ ofm_db_config_password }}"
  register: config_restore

- name: Only the API keys and webhook URLs, from the newest snapshot of production
  ofm.rollback.config_restore:
    latest: true
    kinds: [configmaps, secrets]

- name: No snapshot - take the previous Helm revision's ConfigMaps, Secrets and env (check mode and diff first)
  ofm.rollback.config_restore:
    from_release: helm
    release: ofm-social-os
  check_mode: true
  diff: true
"""

RETURN = r"""
snapshot:
  description: What was restored from.
  returned: when a snapshot or release was found
  type: dict
  contains:
    id:
      description: The snapshot id, or C(helm:<release>@<revision>), or C(replicaset:<Deployment> revision <n> ...).
      type: str
    taken_at:
      description: When the snapshot was taken (the Helm revision's time; V(null) for ReplicaSets).
      type: str
    source:
      description: V(snapshot), V(helm) or V(replicaset).
      type: str
    location:
      description: The store or file it was read from.
      type: str
report:
  description:
    - Per kind what the restore did - C(status) V(restored), V(unchanged), V(failed), V(not restored) (not attempted after a
      failure) or V(planned) (check mode) - with the objects written (C(restored)) and not (C(not_restored)), the error and the
      requests made; and the kinds restored, not restored and the one that failed.
  returned: when the restore ran
  type: dict
  sample:
    kinds:
      - {kind: flags, status: restored, restored: [ofm-social-os-api, (cache)], not_restored: [], error: null, round_trips: 5}
      - {kind: rate_limits, status: failed, restored: [], not_restored: [platform_rate_limits], error: {msg: "permission denied"}}
    restored: [flags]
    not_restored: [rate_limits]
    failed: rate_limits
    changed: true
    check_mode: false
    message: "restored: flags; failed: rate_limits (...)"
changes:
  description: Per kind, each key that changes (or would) - target, key, action (add, change, remove) and values; secret values
    are only the action's mask.
  returned: when the restore ran
  type: dict
  sample:
    configmaps: [{target: ofm-social-os-config, key: LOG_LEVEL, action: change, before: debug, after: info}]
    secrets: [{target: ofm-social-os-secrets, key: TIKTOK_API_KEY, action: change, value: <changed>}]
rollouts:
  description: Per Deployment that needs it, the rollout (C(restart), C(wait) or C(live)), why, and the restart time and
    readiness when done (C(done) false in check mode and with O(rollout=none)).
  returned: when the restore ran
  type: list
  elements: dict
verified:
  description: Per kind, whether every value read back after the restore equals the snapshot (in check mode - whether it already
    does); V(null) when the kind could not be read back.
  returned: when the restore ran
  type: dict
  sample: {flags: true, unleash: true, configmaps: true, secrets: true, env: true, rate_limits: true}
not_restorable:
  description: The kinds and objects the source does not hold, each with the reason - with O(from_release) what a release cannot
    give, with O(missing_kinds=skip) the kinds of O(kinds) the snapshot does not hold.
  returned: when the restore ran
  type: list
  elements: dict
round_trips:
  description: Requests sent per system for the plan, the writes and the rollouts (C(kubernetes), C(redis), C(unleash),
    C(postgres), and each external system used, such as C(powerdns) or C(aws)).
  returned: always
  type: dict
verify_round_trips:
  description: Requests sent per system to read every kind back.
  returned: success
  type: dict
resumed:
  description:
    - With O(journal) - the earlier runs of this restore (C(runs)), the kinds they restored (C(kinds)) or were restoring when
      they stopped (C(interrupted)), and whether their rollouts were owed and done by this run (C(rollouts_owed)).
  returned: when O(journal) is set and the restore ran
  type: dict
  sample: {runs: [20261204T140500Z-3f9a2c], kinds: [configmaps, secrets, env], interrupted: [rate_limits], rollouts_owed: true}
error:
  description: Why the task failed, as the collection's error fields (type, system, operation, target, reason, hint, option, ...).
  returned: failure
  type: dict
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import REDIS_SPEC, UNLEASH_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.config.kinds import EXTERNAL_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.config.workflow import CONFIG_SPEC, RESTORE_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rest import KUBE_SPEC

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {**KUBE_SPEC, **REDIS_SPEC, **UNLEASH_SPEC, **CONFIG_SPEC, **EXTERNAL_SPEC, **RESTORE_SPEC}


def main() -> None:
    """The action plugin does the work on the controller; this file holds the documentation and the argument spec."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="ofm.rollback.config_restore runs as an action plugin on the controller (it opens Secret values with the "
                         "run's vault secrets); this module file is not meant to be executed.")


if __name__ == "__main__":
    main()
