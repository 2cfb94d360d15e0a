# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The action_group attribute: DOCUMENTATION for a module only in `ofm`, ACTION_GROUP_<GROUP> for one also in <group>
    # (section names that are not also fragment names: ansible-doc would take `ofm.rollback.x.helm` for the helm fragment).
    # One section per group of meta/runtime.yml. module_defaults gives every key of a group
    # to every module in it (a module fails on an option it does not have), so each section says which options suit
    # its group. ansible-test reads fragments as string literals, hence one literal per group.

    DOCUMENTATION = r"""
attributes:
  action_group:
    support: full
    membership: [ofm.rollback.ofm]
    description:
      - C(group/ofm.rollback.ofm) holds every module of the collection. The modules share no option, so set C(module_defaults)
        in a per-system group or under the module's own name.
"""

    ACTION_GROUP_K8S = r"""
attributes:
  action_group:
    support: full
    membership: [ofm.rollback.ofm, ofm.rollback.k8s]
    description:
      - C(group/ofm.rollback.k8s) holds the Kubernetes modules; set the connection options O(kubeconfig), O(context), O(host),
        O(api_key), O(ca_cert) and O(validate_certs), and O(namespace), there once.
      - C(group/ofm.rollback.ofm) holds every module of the collection, which share no option.
"""

    ACTION_GROUP_HELM = r"""
attributes:
  action_group:
    support: full
    membership: [ofm.rollback.ofm, ofm.rollback.helm]
    description:
      - C(group/ofm.rollback.helm) holds the Helm modules; set O(binary_path), O(kubeconfig), O(context) and O(namespace) there once.
      - C(group/ofm.rollback.ofm) holds every module of the collection, which share no option.
"""

    ACTION_GROUP_POSTGRESQL = r"""
attributes:
  action_group:
    support: full
    membership: [ofm.rollback.ofm, ofm.rollback.postgresql]
    description:
      - C(group/ofm.rollback.postgresql) holds M(ofm.rollback.pg_pitr_restore) and M(ofm.rollback.pg_validate). They take the
        same connection options, O(sandbox) and O(source) (the read-only login to the source cluster), which suit C(module_defaults)
        of the group; set the other options under each module's name.
      - C(group/ofm.rollback.ofm) holds every module of the collection, which share no option.
"""

    ACTION_GROUP_PROMETHEUS = r"""
attributes:
  action_group:
    support: full
    membership: [ofm.rollback.ofm, ofm.rollback.prometheus]
    description:
      - Set the Prometheus options (O(prometheus_url), its credentials and O(ca_path)) once in C(group/ofm.rollback.prometheus).
      - C(group/ofm.rollback.ofm) holds every module of the collection, which share no option.
"""

    ACTION_GROUP_ALERTMANAGER = r"""
attributes:
  action_group:
    support: full
    membership: [ofm.rollback.ofm, ofm.rollback.alertmanager]
    description:
      - Set the Alertmanager options (O(alertmanager_url), its credentials and O(ca_path)) once in C(group/ofm.rollback.alertmanager).
      - C(group/ofm.rollback.ofm) holds every module of the collection, which share no option.
"""

    ACTION_GROUP_OPS_API = r"""
attributes:
  action_group:
    support: full
    membership: [ofm.rollback.ofm, ofm.rollback.ops_api]
    description:
      - Set the ops API options (O(ops_api_url), its credentials and O(ca_path)) once in C(group/ofm.rollback.ops_api).
      - C(group/ofm.rollback.ofm) holds every module of the collection, which share no option.
"""

    ACTION_GROUP_SLACK = r"""
attributes:
  action_group:
    support: full
    membership: [ofm.rollback.ofm, ofm.rollback.slack]
    description:
      - Set O(token), O(api_url) or O(webhook_url), and O(ca_path), once in C(group/ofm.rollback.slack).
      - C(group/ofm.rollback.ofm) holds every module of the collection, which share no option.
"""

    ACTION_GROUP_STATUSPAGE = r"""
attributes:
  action_group:
    support: full
    membership: [ofm.rollback.ofm, ofm.rollback.statuspage]
    description:
      - Set O(api_url), O(page_id), O(api_key) and O(ca_path) once in C(group/ofm.rollback.statuspage).
      - C(group/ofm.rollback.ofm) holds every module of the collection, which share no option.
"""

    ACTION_GROUP_REGISTRY = r"""
attributes:
  action_group:
    support: full
    membership: [ofm.rollback.ofm, ofm.rollback.registry]
    description:
      - Set the registry options (O(registry_url) and its credentials) once in C(group/ofm.rollback.registry).
      - C(group/ofm.rollback.ofm) holds every module of the collection, which share no option.
"""
