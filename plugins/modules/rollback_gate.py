#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: rollback_gate
short_description: Decide whether an emergency canary rollback runs, from the SLOs and the router
version_added: 0.1.0
description:
  - The emergency rollback's gate in one task (role C(ofm.rollback.slo_gate)). Evaluates the SLOs over O(sustain) as
    M(ofm.rollback.slo_check) does, and when one breaches, or none can be judged, asks the router (HAProxy's runtime API,
    and the measured share of canary requests when Prometheus answers) whether the canary still carries traffic, as
    M(ofm.rollback.traffic_split_info) does. The SLO windows still hold a canary's bad minutes after it was rolled back, so
    only a canary that carries traffic now (or whose traffic is unknown) is rolled back.
  - RV(proceed) is true on a confirmed breach of a canary that still carries traffic, or when O(force) is true. A rollback
    forced without a confirmed breach needs O(force_reason), else the task fails naming it, before anything changes.
  - When the rollback does not run, RV(reasons) says why (no breach, already rolled back, or the breach cannot be confirmed,
    with Prometheus's own error) and how to force it.
  - The module only reads; it never reports a change.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - requests >= 2.31.0
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_prometheus
  - ofm.rollback.prometheus
  - ofm.rollback.http_client
  - ofm.rollback.haproxy
options:
  slos:
    description:
      - SLO definitions that override or extend the built-in ones.
      - An entry whose O(slos[].name) is a built-in SLO changes only the fields it sets.
      - An entry with a new name adds an SLO and needs O(slos[].query), O(slos[].comparison) and O(slos[].threshold).
      - "Built-in SLOs: V(p95_latency) (C(>) 10 seconds), V(error_rate) (C(>) 0.01), V(success_rate) (C(<) 0.95),
        V(webhook_signature_verification) (C(<) 0.999), V(db_connection_failures) (C(>) 0.05)."
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Name of the SLO, a built-in one to override or a new one.
        type: str
        required: true
      query:
        description:
          - PromQL expression that yields one series.
          - C($selector) is replaced by the label matchers of O(scope) and O(selector), and removed together with its
            comma or braces when there are none; C($window) is replaced by O(window).
          - 'For example, the built-in error rate is
            sum(rate(http_requests_total{status=~"5..",$selector}[$window])) / sum(rate(http_requests_total{$selector}[$window])).'
        type: str
      comparison:
        description:
          - How a sample violates the SLO, as C(sample <comparison> threshold).
        type: str
        choices: ['>', '>=', '<', '<=']
      threshold:
        description:
          - The threshold the samples are compared with.
        type: float
      description:
        description:
          - What the SLO measures, for people reading the result.
        type: str
      enabled:
        description:
          - Set to V(false) to skip this SLO.
        type: bool
  only:
    description:
      - Names of the SLOs to evaluate; every enabled SLO when empty.
    type: list
    elements: str
    default: []
  scope:
    description:
      - Which traffic to judge.
      - V(canary) and V(stable) add the matcher C(<version_label>="canary") or C(<version_label>="stable"); V(both) adds
        none, so all traffic counts.
    type: str
    choices: [canary, stable, both]
    default: canary
  version_label:
    description:
      - Prometheus label that tells the stable version from the canary (in the SLO queries and the traffic measurement).
    type: str
    default: version
  selector:
    description:
      - More label matchers, without braces, added to every query through C($selector).
      - "Example: V(namespace=\"ofm-production\",app_kubernetes_io_name=\"ofm-social-os\")."
    type: str
    default: ""
  window:
    description:
      - Range of the C(rate) windows in the queries (C($window)).
      - A Prometheus duration (V(30s), V(5m), V(1h), V(1m30s)) or a number of seconds.
    type: str
    default: 5m
  sustain:
    description:
      - How long a violation must last to be a breach, and the span that is queried.
      - A Prometheus duration or a number of seconds.
    type: str
    default: 5m
  resolution:
    description:
      - Step of the range query; the SLO is sampled every O(resolution) over O(sustain).
      - A Prometheus duration or a number of seconds, no longer than O(sustain).
    type: str
    default: 15s
  min_coverage:
    description:
      - Fraction of the expected samples that must hold a value for a verdict; below it the SLO is V(unknown).
    type: float
    default: 0.8
  max_sample_age:
    description:
      - How much older than the end of the queried span an SLO's newest value may be; an SLO whose values stopped earlier is
        V(unknown) (stale data), whatever its older values say. Metrics stop arriving when a target cannot be scraped, rules are
        not evaluated, or a Prometheus replica is behind.
      - A Prometheus duration or a number of seconds; by default two O(resolution) steps.
    type: str
  unknown_is:
    description:
      - How an V(unknown) SLO counts in RV(breach_detected) and RV(all_ok).
      - V(unknown) counts as neither, so RV(breach_detected) ignores it and RV(all_ok) is false.
      - V(breach) makes RV(breach_detected) true. V(ok) lets RV(all_ok) ignore it.
    type: str
    choices: [unknown, breach, ok]
    default: unknown
  unavailable_is:
    description:
      - What happens when Prometheus cannot be reached, or keeps answering 5xx or timing out after the retries of O(timeout).
      - V(fail) fails the task.
      - V(unknown) returns every SLO as V(unknown) with the reason (asking Prometheus once; the other SLOs are not asked again),
        and RV(monitoring_available) false, so that a caller can go on without monitoring (the emergency rollback does when it is
        forced) and say that nothing was verified. A refused login or a bad query still fails.
    type: str
    choices: [fail, unknown]
    default: fail
  measure_window:
    description:
      - Range of the C(rate) window of the measured share of canary requests, a Prometheus duration or a number of seconds.
    type: str
    default: 30s
  request_metric:
    description:
      - Counter of the requests served, per version, for the measured share.
    type: str
    default: http_requests_total
  force:
    description:
      - Roll back without a confirmed breach (no SLO breaches, or none can be judged). Needs O(force_reason) then.
    type: bool
    default: false
  force_reason:
    description:
      - Why a rollback is forced; announced and audited.
    type: str
    default: ""
  reuse:
    description:
      - The C(gate) step of the incident's run journal (M(ofm.rollback.run_journal)) when a killed run of this incident
        decided to roll back; that decision is returned (with its evidence and RV(phase) naming the run) and nothing is asked.
        Anything else (no step, a step not done, a decision not to proceed) is ignored.
    type: dict
  journal:
    description:
      - The run journal (M(ofm.rollback.run_journal)) of this run - a decision to proceed (not a reused one) is written as its
        C(gate) step, which a re-run of the incident passes back as O(reuse).
      - It is the run's bookkeeping - when it cannot be written the module warns and decides as without it (RV(journaled) is false).
      - Nothing is written in check mode, or without O(journal.run_id) (the journal could not be opened).
    type: dict
    suboptions:
      record_dir:
        description: The incident record directory the journal is in.
        type: path
        required: true
      incident_id:
        description: The incident, C(INC-<digits>).
        type: str
        required: true
      procedure:
        description: The procedure the journal is of.
        type: str
        required: true
        choices: [emergency, planned, database, config, external]
      run_id:
        description: The run id M(ofm.rollback.run_journal) returned when it opened this run.
        type: str
attributes:
  check_mode:
    support: full
    description: The module only reads (and journals its decision outside check mode, see O(journal)).
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
seealso:
  - module: ofm.rollback.slo_check
  - module: ofm.rollback.traffic_split_info
"""

EXAMPLES = r"""
- name: Assess impact | is there a sustained breach of a canary that still carries traffic?
  ofm.rollback.rollback_gate:
    prometheus_url: https://prometheus.internal.ofm.social
    haproxy_runtime_api: haproxy.internal:9999
    sustain: 5m
    unavailable_is: unknown
    force: "{{ rollback_force | default(false) }}"
    force_reason: "{{ rollback_force_reason | default('') }}"
  register: gate
"""

RETURN = r"""
proceed:
  description: Whether the rollback runs.
  returned: success
  type: bool
  sample: true
verdict:
  description: V(breach), V(unknown) (no SLO breaches, some have no data) or V(ok).
  returned: success
  type: str
  sample: breach
already_stable:
  description: The router says the canary carries no traffic (it was rolled back already).
  returned: success
  type: bool
  sample: false
forced:
  description: O(force) was set.
  returned: success
  type: bool
  sample: false
reasons:
  description: Lines for the operator when the rollback does not run or is forced; empty otherwise.
  returned: success
  type: list
  elements: str
  sample: ["No rollback: no SLO of the canary breaches for the last 5m."]
traffic:
  description:
    - The router's reading (as M(ofm.rollback.traffic_split_info) returns it), or null when it was not needed (no breach
      and every SLO judged).
  returned: success
  type: dict
  sample: {"all_on_stable": false, "configured": {"canary_weight": 10}, "measured": {"canary_share": 0.1}}
slos:
  description: Each SLO's evaluation, by name, as M(ofm.rollback.slo_check) returns them.
  returned: success
  type: dict
  sample: {}
breached:
  description: Names of the breached SLOs.
  returned: success
  type: list
  elements: str
  sample: [error_rate]
unknown:
  description: Names of the SLOs without a verdict.
  returned: success
  type: list
  elements: str
  sample: []
all_ok:
  description: Every SLO is OK (an V(unknown) one counts as O(unknown_is) says).
  returned: success
  type: bool
  sample: false
breach_detected:
  description: At least one SLO is breached.
  returned: success
  type: bool
  sample: true
summary:
  description: One line per SLO.
  returned: success
  type: list
  elements: str
  sample: ["error_rate: BREACH, now 0.33 (> 0.01 breaches), 21/21 samples violate, trend flat"]
monitoring_available:
  description: Prometheus answered.
  returned: success
  type: bool
  sample: true
monitoring_error:
  description: Why Prometheus could not be asked, when it could not.
  returned: success
  type: str
  sample: null
phase:
  description:
    - The procedure's record of this step, C(status), C(finished) (epoch seconds) and C(evidence) (the decision, the SLOs,
      the traffic, C(reused_from) the run whose decision was reused).
  returned: success
  type: dict
  sample: {"status": "ok", "started": null, "finished": 1796434300.1, "changes": [], "evidence": {"proceed": true, "verdict": "breach"}}
journaled:
  description: The decision to proceed was written to the run journal as its C(gate) step (see O(journal)).
  returned: success
  type: bool
  sample: true
requests:
  description: Every HTTP request made, with its status and duration (secrets removed).
  returned: always
  type: list
  elements: dict
  sample: []
"""

from typing import Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import (
    HTTP_CLIENT_SPEC,
    PROMETHEUS_MUTUALLY_EXCLUSIVE,
    PROMETHEUS_REQUIRED_TOGETHER,
    PROMETHEUS_SPEC,
)
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HAS_REQUESTS, REQUESTS_IMPORT_TRACEBACK
from ansible_collections.ofm.rollback.plugins.module_utils.rollback_gate import GateRun
from ansible_collections.ofm.rollback.plugins.module_utils.slo import COMPARISONS, SCOPES, UNKNOWN_IS
from ansible_collections.ofm.rollback.plugins.module_utils.traffic import HAPROXY_ROUTER_SPEC

ARGUMENT_SPEC = {
    **PROMETHEUS_SPEC,
    **HTTP_CLIENT_SPEC,
    **HAPROXY_ROUTER_SPEC,
    "slos": {"type": "list", "elements": "dict", "default": [], "options": {
        "name": {"type": "str", "required": True},
        "query": {"type": "str"},
        "comparison": {"type": "str", "choices": list(COMPARISONS)},
        "threshold": {"type": "float"},
        "description": {"type": "str"},
        "enabled": {"type": "bool"},
    }},
    "only": {"type": "list", "elements": "str", "default": []},
    "scope": {"type": "str", "choices": list(SCOPES), "default": "canary"},
    "version_label": {"type": "str", "default": "version"},
    "selector": {"type": "str", "default": ""},
    "window": {"type": "str", "default": "5m"},
    "sustain": {"type": "str", "default": "5m"},
    "resolution": {"type": "str", "default": "15s"},
    "min_coverage": {"type": "float", "default": 0.8},
    "max_sample_age": {"type": "str"},
    "unknown_is": {"type": "str", "choices": list(UNKNOWN_IS), "default": "unknown"},
    "unavailable_is": {"type": "str", "choices": ["fail", "unknown"], "default": "fail"},
    "measure_window": {"type": "str", "default": "30s"},
    "request_metric": {"type": "str", "default": "http_requests_total"},
    "force": {"type": "bool", "default": False},
    "force_reason": {"type": "str", "default": ""},
    "reuse": {"type": "dict"},
    "journal": {"type": "dict", "options": {
        "record_dir": {"type": "path", "required": True},
        "incident_id": {"type": "str", "required": True},
        "procedure": {"type": "str", "required": True, "choices": ["emergency", "planned", "database", "config", "external"]},
        "run_id": {"type": "str"},
    }},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                          mutually_exclusive=PROMETHEUS_MUTUALLY_EXCLUSIVE, required_together=PROMETHEUS_REQUIRED_TOGETHER)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_TRACEBACK)
    gate: Optional[GateRun] = None
    try:
        gate = GateRun(module.params)
        for warning in gate.warnings:
            module.warn(warning)
        result = gate.run(check_mode=module.check_mode)
        for warning in gate.warnings[len(gate.options.warnings):]:
            module.warn(warning)
        module.exit_json(changed=False, **result, requests=gate.requests())
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), requests=gate.requests() if gate else [])


if __name__ == "__main__":
    main()
