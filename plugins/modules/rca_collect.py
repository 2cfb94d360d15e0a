#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rca_collect
short_description: Collect an incident's root-cause evidence into one archive with a manifest of hashes
version_added: 0.4.0
description:
  - Writes one C(.tar.gz) per incident (O(dest)) holding C(manifest.json) (format C(ofm.rollback/rca-bundle v1) - every file
    with its sha256 and size, and every artefact that could not be collected with the reason), and, for the incident's
    window (the record's start minus O(lookback) to its end plus O(lookahead)) - C(pod-logs/<pod>.log) (the pods of
    O(selector), the failed canary by default, through the Kubernetes logs API), C(ops-api.log) (the ops API's
    application log), C(sli/<sli>.csv) and C(sli/<sli>.canary.csv) (each SLI's series, time with offset, epoch, value),
    C(kubernetes/events.json), C(kubernetes/rollout-history.json) (the Argo Rollout and the ReplicaSets with their revisions
    and images), C(helm/history.json), C(config/diff.json) (a configuration restore's diff, O(config_diff)),
    C(audit/excerpt.jsonl) (every audit record of the runs that touched the incident) and C(incident/record.json|md).
  - A source that cannot be asked (after the clients' retries) or is not configured is a gap in the manifest and in
    RV(gaps); the bundle is still written, and RV(status) is V(partial).
  - Every text is redacted - tokens, passwords, cookies, Authorization headers, credentials in URLs, and the literal values
    of O(redact) - before it is written.
  - Reproducible - log lines are kept inside the window, names are sorted, times and owners fixed; the same evidence
    gives the same bytes, and an unchanged bundle is not rewritten (changed=false). While the window still reaches now,
    new log lines and samples make a new bundle.
  - The module is in the action group C(ofm) only; it takes the Kubernetes, ops API and Prometheus options, so set its
    defaults under its own name in C(module_defaults).
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - kubernetes >= 28.1.0
  - requests >= 2.31.0
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.kube
  - ofm.rollback.ops_api
  - ofm.rollback.prometheus
options:
  record:
    description:
      - The incident's JSON record (C(<record_dir>/<INC>-<start>.json)).
    type: path
    required: true
  dest:
    description:
      - The archive to write, a C(.tar.gz) path (its directory is created, mode 0700; the file is 0600).
    type: path
    required: true
  namespace:
    description:
      - The namespace of the failed deployment.
    type: str
    default: ofm-production
  selector:
    description:
      - The label selector of the pods whose logs are collected.
    type: str
    default: app.kubernetes.io/name=ofm-social-os,version=canary
  rollout:
    description:
      - The Argo Rollout whose status goes in the rollout history.
    type: str
  helm_release:
    description:
      - The Helm release whose history is collected; not given - a gap.
    type: str
  helm_binary:
    description:
      - The helm program.
    type: path
    default: helm
  config_diff:
    description:
      - A JSON diff or plan of a configuration restore to include.
    type: path
  audit_log:
    description:
      - The audit callback's JSONL log.
    type: path
  since:
    description:
      - The window's start instead of the record's start minus O(lookback).
    type: str
  until:
    description:
      - The window's end instead of the record's end plus O(lookahead).
    type: str
  lookback:
    description:
      - How long before the incident the window begins.
    type: str
    default: 15m
  lookahead:
    description:
      - How long after the incident's procedure the window goes on.
    type: str
    default: 15m
  rate_window:
    description:
      - The SLO queries' rate window.
    type: str
    default: 5m
  tail_lines:
    description:
      - At most this many log lines read per pod and from the ops API.
    type: int
    default: 5000
  include:
    description:
      - The artefacts to collect.
    type: list
    elements: str
    choices: [pod_logs, ops_api_logs, sli_series, events, rollout_history, helm_history, config_diff, audit_excerpt, record]
    default: [pod_logs, ops_api_logs, sli_series, events, rollout_history, helm_history, config_diff, audit_excerpt, record]
  redact:
    description:
      - More literal secrets to remove from every file.
    type: list
    elements: str
    default: []
  ca_path:
    description:
      - A PEM bundle of the CAs of the ops API's and Prometheus' certificates.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP response of the ops API and Prometheus.
    type: float
    default: 30.0
  retries:
    description:
      - Retries of an HTTP request that may pass.
    type: int
    default: 3
attributes:
  check_mode:
    support: full
    description: Collects the evidence and says whether the archive would change; writes nothing.
  diff_mode:
    support: partial
    description: The archive's sha256 before and after.
"""

EXAMPLES = r"""
- name: The evidence of INC-1234
  ofm.rollback.rca_collect:
    kubeconfig: ~/.kube/config
    ops_api_url: https://internal.ofm.social
    ops_api_token: "{{ ops_token }}"
    prometheus_url: http://prometheus-operated.monitoring.svc:9090
    record: /var/lib/ofm-rollback/incidents/INC-1234-2026-12-04T140500Z.json
    rollout: ofm-social-os-api-rollout
    helm_release: ofm-social-os
    audit_log: /var/lib/ofm-rollback/audit.jsonl
    dest: /var/lib/ofm-rollback/incidents/INC-1234/rca-INC-1234.tar.gz
"""

RETURN = r"""
path:
  description: The archive.
  returned: success
  type: str
sha256:
  description: The archive's sha256.
  returned: success
  type: str
files:
  description: Each file of the archive - V(name), V(sha256), V(size).
  returned: success
  type: list
  elements: dict
gaps:
  description: Each artefact not collected - V(artefact) and V(reason).
  returned: success
  type: list
  elements: dict
not_applicable:
  description: Each artefact that does not apply (no Helm release named, no configuration restored) - V(artefact), V(reason).
  returned: success
  type: list
  elements: dict
status:
  description: V(ok), or V(partial) when there are gaps.
  returned: success
  type: str
"""

import hashlib

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import (
    HTTP_CLIENT_SPEC,
    OPS_API_MUTUALLY_EXCLUSIVE,
    OPS_API_SPEC,
    PROMETHEUS_MUTUALLY_EXCLUSIVE,
    PROMETHEUS_REQUIRED_TOGETHER,
    PROMETHEUS_SPEC,
)
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.helm import HelmClient
from ansible_collections.ofm.rollback.plugins.module_utils.incident_impact import read_record
from ansible_collections.ofm.rollback.plugins.module_utils.kube import Kube
from ansible_collections.ofm.rollback.plugins.module_utils.kube_rest import KUBE_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import OpsApiClient
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient
from ansible_collections.ofm.rollback.plugins.module_utils.rca_bundle import (
    KINDS, Sources, build_archive, check_dest, check_include, collect, file_sha256, write_atomic)
from ansible_collections.ofm.rollback.plugins.module_utils.redact import Redactor

ARGUMENT_SPEC = {
    **HTTP_CLIENT_SPEC,
    **KUBE_SPEC,
    **OPS_API_SPEC,
    **PROMETHEUS_SPEC,
    "record": {"type": "path", "required": True},
    "dest": {"type": "path", "required": True},
    "namespace": {"type": "str", "default": "ofm-production"},
    "selector": {"type": "str", "default": "app.kubernetes.io/name=ofm-social-os,version=canary"},
    "rollout": {"type": "str"},
    "helm_release": {"type": "str"},
    "helm_binary": {"type": "path", "default": "helm"},
    "config_diff": {"type": "path"},
    "audit_log": {"type": "path"},
    "since": {"type": "str"},
    "until": {"type": "str"},
    "lookback": {"type": "str", "default": "15m"},
    "lookahead": {"type": "str", "default": "15m"},
    "rate_window": {"type": "str", "default": "5m"},
    "tail_lines": {"type": "int", "default": 5000},
    "include": {"type": "list", "elements": "str", "choices": list(KINDS), "default": list(KINDS)},
    "redact": {"type": "list", "elements": "str", "default": [], "no_log": True},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                          mutually_exclusive=OPS_API_MUTUALLY_EXCLUSIVE + PROMETHEUS_MUTUALLY_EXCLUSIVE, required_together=PROMETHEUS_REQUIRED_TOGETHER)
    params = module.params
    secrets = [params.get(key) for key in ("api_key", "ops_api_token", "ops_api_session_cookie", "prometheus_password", "prometheus_token")]
    redactor = Redactor([*secrets, *params["redact"]])
    try:
        record = read_record(params["record"])
        dest = check_dest(params["dest"], record.get("incident_id") or "INC-0")
        check_include(params["include"])
        sources = Sources(kube=lambda: Kube.from_params(params, timeout=params["timeout"]), ops_api=lambda: OpsApiClient.from_params(params),
                          prometheus=lambda: PrometheusClient.from_params(params),
                          helm=lambda: HelmClient.from_params({**params, "binary_path": params["helm_binary"]}))
        bundle, start, end = collect(record, params["record"], params, sources, redactor)
        archive, listing = build_archive(bundle, record, start, end)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    digest = hashlib.sha256(archive).hexdigest()
    before = file_sha256(dest)
    changed = before != digest
    if changed and not module.check_mode:
        write_atomic(dest, archive)
    module.exit_json(changed=changed, path=dest, sha256=digest, files=listing["files"], gaps=listing["gaps"], not_applicable=listing["skipped"],
                     status="partial" if listing["gaps"] else "ok", diff={"before": before or "", "after": digest},
                     msg=f"evidence bundle {dest}: {len(listing['files'])} files, {len(listing['gaps'])} gap(s)"
                         + (" (unchanged)" if not changed else " (check mode: not written)" if module.check_mode else ""))


if __name__ == "__main__":
    main()
