# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options of module_utils.config.workflow.CONFIG_SPEC, which config_snapshot and config_restore share (kept in step by a unit test).
    DOCUMENTATION = r"""
options:
  environment:
    description:
      - The environment the configuration belongs to, such as V(production). A snapshot records it; a restore refuses a snapshot
        of another environment, and O(ofm.rollback.config_restore#module:latest) takes the newest snapshot of this one.
    type: str
    default: production
  kinds:
    description:
      - The kinds of configuration to snapshot or restore. V(flags) - OFM's own flags, C(FEATURE_FLAGS) of the Deployments and the
        Redis cache C(feature_flags:*) with TTLs; V(unleash) - the toggles of an Unleash project in one environment; V(configmaps)
        and V(secrets) - the data of ConfigMaps and Secrets; V(env) - the inline env of the Deployments' container (without
        C(FEATURE_FLAGS), which belongs to V(flags)); V(rate_limits) - the rows of the rate limits table.
      - The external systems, each read where its option of the same name says (see there) - V(dns) - DNS record sets;
        V(haproxy) - HAProxy server weights and states; V(routes) - OpenShift Route backend weights; V(alb) - AWS ALB forward
        weights; V(cdn) - CloudFront distribution configs; V(platform_apps) - the platforms' webhook subscriptions and OAuth app
        settings.
      - When not set, a snapshot takes every configuration kind whose system is configured (the others are listed in
        C(skipped_kinds) with the option they lack) and every external kind whose option is set, and a restore restores every
        kind the snapshot holds.
      - A kind named here whose system is not configured fails the task, naming the option it needs.
    type: list
    elements: str
    choices: [flags, unleash, configmaps, secrets, env, rate_limits, dns, haproxy, routes, alb, cdn, platform_apps]
  store:
    description:
      - Where snapshots are kept. V(directory) - one file C(<id>.json) (mode 0600) per snapshot in O(snapshot_dir) on the
        controller. V(kubernetes) - one immutable Secret C(<store_prefix>-<id>) per snapshot in O(store_namespace), so that AWX
        jobs on different nodes share them.
    type: str
    choices: [directory, kubernetes]
    default: directory
  snapshot_dir:
    description:
      - The directory of the snapshots with O(store=directory), created with mode 0700 when missing.
    type: path
    default: ~/.ofm-rollback/snapshots
  store_namespace:
    description:
      - The namespace of the snapshot Secrets with O(store=kubernetes); O(namespace) when not set.
    type: str
  store_prefix:
    description:
      - The name prefix of the snapshot Secrets with O(store=kubernetes).
    type: str
    default: ofm-config-snapshot
  vault_id:
    description:
      - The vault id whose secret seals the Secret values of a snapshot, when the run was given several (C(--vault-id label@source)).
        The default vault secret when not set.
      - Secret values are never written in clear. A run without a vault secret leaves the V(secrets) kind out of a snapshot
        (or fails when O(kinds) names it).
    type: str
  namespace:
    description:
      - The namespace of the Deployments, ConfigMaps and Secrets.
    type: str
    default: ofm-production
  deployments:
    description:
      - The Deployments of the OFM API. Their container O(container) holds the C(FEATURE_FLAGS) of the V(flags) kind and the
        env of the V(env) kind, and the ConfigMaps and Secrets they reference are those of the V(configmaps) and V(secrets) kinds
        unless O(configmaps) and O(secrets) name others. After a restore, those that read a restored object are rolled.
    type: list
    elements: str
    default: [ofm-social-os-api, ofm-social-os-api-canary]
  container:
    description:
      - The container of O(deployments) whose env is snapshotted and restored.
    type: str
    default: api
  configmaps:
    description:
      - The ConfigMaps of the V(configmaps) kind; when not set, every ConfigMap O(deployments) reference (C(envFrom),
        C(valueFrom), volumes).
      - A restore from a snapshot restores the ConfigMaps it holds; with O(ofm.rollback.config_restore#module:from_release=helm),
        the ConfigMaps of the release (all of them when not set).
    type: list
    elements: str
  secrets:
    description:
      - The Secrets of the V(secrets) kind; when not set, every Secret O(deployments) reference, as for O(configmaps).
    type: list
    elements: str
  database:
    description:
      - How to connect to the PostgreSQL database that holds the rate limits table; the V(rate_limits) kind needs it.
    type: dict
    suboptions:
      host:
        description:
          - Host name, IP address or directory of the UNIX socket. V(localhost) when not set.
        type: str
      port:
        description:
          - TCP port. V(5432) when not set.
        type: int
      database:
        description:
          - Database name. V(postgres) when not set.
        type: str
      user:
        description:
          - Role to connect as. V(postgres) when not set. It reads the table for a snapshot, and needs C(INSERT), C(UPDATE) and
            C(DELETE) on it for a restore.
        type: str
      password:
        description:
          - Password of O(database.user); none when not set (peer, trust or a C(.pgpass) file).
          - This value is a secret and is never logged.
        type: str
      sslmode:
        description:
          - libpq SSL mode. V(prefer) when not set.
        type: str
        choices: [disable, allow, prefer, require, verify-ca, verify-full]
      connect_timeout:
        description:
          - Seconds to wait for the connection. V(10) when not set.
        type: int
  rate_limits_table:
    description:
      - The table of the V(rate_limits) kind (optionally C(schema.table)), keyed by its column C(platform).
    type: str
    default: platform_rate_limits
"""
