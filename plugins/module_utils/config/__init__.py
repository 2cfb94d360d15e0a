# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Configuration snapshots and exact restores (issue 14).

- ``snapshot``: the snapshot document (format, canonical JSON, content hash, identity checks) and where it is kept
  (``DirectoryStore``, ``KubeSecretStore``);
- ``plan``: what a restore changes per kind, target and key (secret values masked), the ``Applier`` protocol each system's
  applier follows, and ``restore``, which applies a plan and reports per kind what was and was not restored;
- ``kube_appliers``: the appliers of the kinds ``configmaps``, ``secrets`` and ``env`` (over ``module_utils.kube_config``);
- ``appliers``: the appliers of the kinds ``flags`` (Deployments' ``FEATURE_FLAGS`` and the Redis cache), ``unleash`` and
  ``rate_limits``;
- ``release``: the previous values without a snapshot, from a Helm release's previous revision or a Deployment's previous
  ReplicaSet;
- ``workflow``: what the actions ``config_snapshot`` and ``config_restore`` do with their options.
"""
