#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: slo_check
short_description: Judge the OFM Social OS service level objectives from Prometheus
version_added: 0.1.0
description:
  - Evaluates the rollback checklist's SLOs (P95 latency, error rate, success rate, webhook signature verification,
    database connection failures) with one Prometheus range query each, and says which are breached.
  - An SLO is breached when every sample over the last O(sustain) violates its threshold; a value exactly at the threshold
    violates only the C(>=) and C(<=) comparisons.
  - Missing data is neither pass nor breach. An SLO is V(unknown) when its query returns no series, more than one series,
    or fewer valid samples than O(min_coverage) of the expected C(sustain / resolution + 1). NaN and infinite samples
    (for example 0/0 when there is no traffic) do not count as valid.
  - Can wait, polling inside the module, until every SLO is OK (recovery after a rollback) or until a breach is seen.
  - The module only reads; it never reports a change.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - requests >= 2.31.0
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_prometheus
  - ofm.rollback.prometheus
  - ofm.rollback.http_client
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
      - Prometheus label that tells the stable version from the canary.
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
  wait_for:
    description:
      - V(none) evaluates once.
      - V(all_ok) evaluates every O(wait_interval) until RV(all_ok) is true, for example to confirm recovery after a rollback.
      - V(breach) evaluates every O(wait_interval) until RV(breach_detected) is true.
      - The module fails when O(wait_timeout) runs out, and returns the last evaluation.
      - In check mode the module evaluates once and does not wait, since nothing was changed that could make the condition hold.
    type: str
    choices: [none, all_ok, breach]
    default: none
  wait_timeout:
    description:
      - How long to wait for O(wait_for), as a Prometheus duration or a number of seconds.
    type: str
    default: 10m
  wait_interval:
    description:
      - Time between two evaluations while waiting, as a Prometheus duration or a number of seconds.
    type: str
    default: 15s
attributes:
  check_mode:
    support: full
    description: The module only reads from Prometheus, so check mode runs the same queries.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
notes:
  - Every selected SLO is evaluated in the same task, one range query each, so one task answers "is any SLO breached?".
  - "The built-in queries use these metrics: C(http_request_duration_seconds_bucket), C(http_requests_total),
    C(publish_requests_total{result}), C(webhook_signature_verified_total), C(webhook_signature_total) and
    C(db_connection_attempts_total{result})."
seealso:
  - name: Prometheus range queries
    description: The HTTP API the module calls.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/#range-queries
"""

EXAMPLES = r"""
- name: Check whether the canary breaches any SLO
  ofm.rollback.slo_check:
    prometheus_url: http://prometheus.monitoring:9090
    scope: canary
    selector: namespace="ofm-production"
  register: slo_gate

- name: Roll back when a breach is sustained
  ansible.builtin.debug:
    msg: "Breached: {{ slo_gate.breached | join(', ') }}"
  when: slo_gate.breach_detected

- name: Wait until all traffic is healthy again after the rollback
  ofm.rollback.slo_check:
    prometheus_url: "{{ ofm_prometheus_url }}"
    scope: both
    sustain: 2m
    wait_for: all_ok
    wait_timeout: 15m

- name: Tighten the latency SLO, add an SLO for the publish backlog, skip webhooks
  ofm.rollback.slo_check:
    prometheus_url: "{{ ofm_prometheus_url }}"
    prometheus_token: "{{ ofm_prometheus_token }}"
    slos:
      - name: p95_latency
        threshold: 5
      - name: publish_backlog
        description: Temporal publish queue backlog
        query: sum(temporal_task_queue_backlog{task_queue="publish",$selector})
        comparison: ">"
        threshold: 1000
      - name: webhook_signature_verification
        enabled: false
"""

RETURN = r"""
slos:
  description:
    - The result of each evaluated SLO, by SLO name; each value holds the fields below and the SLO's definition.
  returned: success or a failed wait
  type: dict
  sample:
    error_rate:
      name: error_rate
      description: Share of HTTP requests answered with a 5xx status
      query: sum(rate(http_requests_total{status=~"5..",version="canary"}[5m])) / sum(rate(http_requests_total{version="canary"}[5m]))
      comparison: ">"
      threshold: 0.01
      verdict: breach
      reason: all 21 samples in the last 5m are > 0.01
      current: 0.034
      samples: 21
      expected_samples: 21
      violating_samples: 21
      dropped_samples: 0
      coverage: 1.0
      compliant: false
      trend: rising
      series: 1
  contains:
    verdict:
      description: V(ok), V(breach) or V(unknown).
      type: str
    reason:
      description: Why the verdict is V(unknown), why a breach is a breach, or which samples violated without a breach; null when all is well.
      type: str
    current:
      description: The latest valid sample, or null.
      type: float
    samples:
      description: Valid (finite) samples in the window.
      type: int
    expected_samples:
      description: C(sustain / resolution + 1).
      type: int
    violating_samples:
      description: Valid samples that violate the threshold.
      type: int
    dropped_samples:
      description: NaN or infinite samples left out.
      type: int
    coverage:
      description: RV(slos.samples) divided by RV(slos.expected_samples), at most 1.
      type: float
    compliant:
      description: True when there are samples and none violates the threshold, the condition for recovery.
      type: bool
    trend:
      description: V(rising), V(falling) or V(flat) from a least-squares fit of the samples; null with fewer than two samples.
      type: str
    series:
      description: How many series the query returned (1 is the only usable answer).
      type: int
breached:
  description: Names of the breached SLOs.
  returned: success or a failed wait
  type: list
  elements: str
  sample: [error_rate]
unknown:
  description: Names of the SLOs without a verdict.
  returned: success or a failed wait
  type: list
  elements: str
  sample: []
ok:
  description: Names of the SLOs that are not breached (some may still have violating samples, see RV(slos.compliant)).
  returned: success or a failed wait
  type: list
  elements: str
  sample: [p95_latency, success_rate, webhook_signature_verification, db_connection_failures]
breach_detected:
  description: True when an SLO is breached, or is unknown with O(unknown_is=breach).
  returned: success or a failed wait
  type: bool
all_ok:
  description: True when every SLO is V(ok) and compliant; unknown SLOs make it false unless O(unknown_is=ok).
  returned: success or a failed wait
  type: bool
monitoring_available:
  description: False when Prometheus could not be asked and O(unavailable_is=unknown) turned every SLO V(unknown).
  returned: success or a failed wait
  type: bool
monitoring_error:
  description: Why Prometheus could not be asked (null when it answered).
  returned: success or a failed wait
  type: str
queries:
  description: The range queries of the last evaluation, with their time range.
  returned: success or a failed wait
  type: list
  elements: dict
  sample:
    - name: error_rate
      query: sum(rate(http_requests_total{status=~"5..",version="canary"}[5m])) / sum(rate(http_requests_total{version="canary"}[5m]))
      start: "2025-01-01T03:00:00Z"
      end: "2025-01-01T03:05:00Z"
      step: 15s
evaluated_at:
  description: End of the queried range of the last evaluation (UTC).
  returned: success or a failed wait
  type: str
  sample: "2025-01-01T03:05:00Z"
polls:
  description: How many evaluations ran (more than one only while waiting).
  returned: success or a failed wait
  type: int
  sample: 1
requests:
  description: Every HTTP attempt made to Prometheus, with secrets removed.
  returned: always
  type: list
  elements: dict
  sample:
    - method: POST
      url: http://prometheus.monitoring:9090/api/v1/query_range
      attempt: 1
      status: 200
      duration: 0.012
"""

from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import (
    HTTP_CLIENT_SPEC,
    PROMETHEUS_MUTUALLY_EXCLUSIVE,
    PROMETHEUS_REQUIRED_TOGETHER,
    PROMETHEUS_SPEC,
)
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DeadlineExceeded, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HAS_REQUESTS, REQUESTS_IMPORT_TRACEBACK, HttpClient
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient
from ansible_collections.ofm.rollback.plugins.module_utils.slo import COMPARISONS, SCOPES, UNKNOWN_IS, WAIT_FOR, SloChecker, check_options

ARGUMENT_SPEC = {
    **PROMETHEUS_SPEC,
    **HTTP_CLIENT_SPEC,
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
    "wait_for": {"type": "str", "choices": list(WAIT_FOR), "default": "none"},
    "wait_timeout": {"type": "str", "default": "10m"},
    "wait_interval": {"type": "str", "default": "15s"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                          mutually_exclusive=PROMETHEUS_MUTUALLY_EXCLUSIVE, required_together=PROMETHEUS_REQUIRED_TOGETHER)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_TRACEBACK)
    http: Optional[HttpClient] = None
    try:
        options = check_options(module.params)
        prometheus = PrometheusClient.from_params(module.params)
        http = prometheus.http
        for warning in options.warnings:
            module.warn(warning)
        checker = SloChecker(prometheus, options.slos, options.settings)
        if options.wait_for == "none" or module.check_mode:
            evaluation, polls = checker.evaluate(), 1
        else:
            evaluation, polls = checker.wait(options.wait_for, options.wait_timeout, options.wait_interval)
        module.exit_json(changed=False, msg=evaluation.message(options.settings.scope), **evaluation.summary(), polls=polls,
                         requests=http.requests)
    except DeadlineExceeded as exc:
        last, polls = exc.last_state
        module.fail_json(**exc.to_result(), **last.summary(), polls=polls, requests=_audit(http))
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), requests=_audit(http))


def _audit(http: Optional[HttpClient]) -> list[dict[str, Any]]:
    return http.requests if http else []


if __name__ == "__main__":
    main()
