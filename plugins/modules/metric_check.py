#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: metric_check
short_description: Judge named PromQL checks after a rollback (error patterns, queue backlog, publish rate, scrape targets)
version_added: 0.1.0
description:
  - Runs named checks against Prometheus, one instant query each, or two when the check compares with a baseline, and
    returns each check V(ok), V(failed) or V(unknown) (the result contract of the validation modules).
  - A check's query returns one series per group (the labels in C(by)); every group is judged.
  - With C(max) or C(min), every series must stay within the bound.
  - With a C(baseline), a group fails when C(current > baseline * max_ratio) and C(current - baseline > min_delta),
    or when C(current < baseline * min_ratio) and C(baseline - current > min_delta). The baseline is the same query evaluated
    C(baseline.offset) before now (what the PromQL C(offset) modifier on every selector gives) or at C(baseline.at).
  - NaN samples (no traffic on a route) are left out. A query without series gives C(empty_is).
  - A failed check does not fail the task; RV(status) says V(failed). The task fails on bad input, and when Prometheus cannot
    be asked with O(unavailable_is=fail).
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
  checks:
    description:
      - The checks to run, each the name of a built-in check or a dict; a dict with a built-in name changes only the keys it sets.
      - "V(error_patterns): the 4xx and 5xx ratio per route and status class (C(http_requests_total{route,status})) against
        the baseline window before the incident (O(baseline_at)); fails when a ratio more than doubled and grew by more than
        0.01, or when a route and class with no errors in the baseline now has more than 0.01."
      - "V(queue_backlog): C(max by (task_queue) (temporal_task_queue_backlog)) at most 1000."
      - "V(publish_rate): C(sum(rate(publish_jobs_completed_total[$window]))) at least 0.8 times its value O(business_offset)
        before; V(unknown) when there is no data then."
      - "V(targets_up): every series of C(up{$selector}) is 1, the down targets listed; V(unknown) without any series."
      - "A dict takes the keys V(name), V(query), V(description), V(by) (label names), V(max), V(min), V(baseline)
        (a dict with V(offset), a duration, or V(at), a time), V(max_ratio), V(min_ratio), V(min_delta),
        V(missing_baseline) (V(zero) or V(unknown)) and V(empty_is) (V(ok), V(unknown) or V(failed))."
      - In a query, C($selector) is replaced by O(selector) and C($window) by O(window).
    type: list
    elements: raw
    default: [error_patterns, queue_backlog, publish_rate, targets_up]
  selector:
    description:
      - Label matchers, without braces, added to every query through C($selector).
      - "Example: V(namespace=\"ofm-production\")."
    type: str
    default: ""
  window:
    description:
      - Range of the C(rate) windows in the queries (C($window)), a Prometheus duration or a number of seconds.
    type: str
    default: 5m
  baseline_at:
    description:
      - The start of the incident; V(error_patterns) compares with the window that ends then.
      - ISO 8601 with an offset, epoch seconds, or a local time without offset (read in the zone of the shell).
      - When not set, V(error_patterns) compares with the same time O(business_offset) before.
    type: str
  business_offset:
    description:
      - How long before now V(publish_rate) (and V(error_patterns) without O(baseline_at)) reads its baseline.
    type: str
    default: 1w
  unavailable_is:
    description:
      - What happens when Prometheus cannot be reached, or keeps answering 5xx or timing out after the retries.
      - V(fail) fails the task. V(unknown) returns the checks V(unknown) with the reason (Prometheus is asked once).
    type: str
    choices: [fail, unknown]
    default: fail
attributes:
  check_mode:
    support: full
    description: The module only reads from Prometheus, so check mode runs the same queries.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
seealso:
  - module: ofm.rollback.slo_check
  - module: ofm.rollback.slo_watch
"""

EXAMPLES = r"""
- name: Error patterns, queue backlog, publish rate and scrape targets after the rollback
  ofm.rollback.metric_check:
    prometheus_url: http://prometheus.monitoring:9090
    selector: namespace="ofm-production"
    baseline_at: "2026-03-01T09:40:00+01:00"
  register: metrics

- name: A backlog limit of its own and a custom check against yesterday
  ofm.rollback.metric_check:
    prometheus_url: "{{ ofm_prometheus_url }}"
    checks:
      - name: queue_backlog
        max: 200
      - name: webhook_volume
        query: sum(rate(webhook_signature_total[$window]))
        baseline:
          offset: 1d
        min_ratio: 0.5
"""

RETURN = r"""
status:
  description: V(failed) when any check failed, else V(unknown) when any is unknown, else V(ok).
  returned: success
  type: str
  sample: failed
checks:
  description: Every check with its name, status, one-line detail and data (the series and, with a baseline, their baseline values).
  returned: success
  type: list
  elements: dict
  sample:
    - name: queue_backlog
      status: failed
      detail: "1 of 1 series not <= 1000: task_queue=publish = 1532"
      data: {series: [{labels: {task_queue: publish}, value: 1532}]}
failed_checks:
  description: Names of the failed checks.
  returned: success
  type: list
  elements: str
unknown_checks:
  description: Names of the checks without a verdict.
  returned: success
  type: list
  elements: str
msg:
  description: One line for a person.
  returned: always
  type: str
queries:
  description: Every query sent, with its role (V(current) or V(baseline)) and its evaluation time (UTC, with its zone).
  returned: success
  type: list
  elements: dict
  sample:
    - name: publish_rate
      role: baseline
      query: sum(rate(publish_jobs_completed_total[5m]))
      time: "2026-02-22T09:00:00Z"
requests:
  description: Every HTTP attempt made to Prometheus, with secrets removed.
  returned: always
  type: list
  elements: dict
"""

from typing import Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils import metric_check
from ansible_collections.ofm.rollback.plugins.module_utils.argspec import (
    HTTP_CLIENT_SPEC,
    PROMETHEUS_MUTUALLY_EXCLUSIVE,
    PROMETHEUS_REQUIRED_TOGETHER,
    PROMETHEUS_SPEC,
)
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HAS_REQUESTS, REQUESTS_IMPORT_TRACEBACK
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient

ARGUMENT_SPEC = {
    **PROMETHEUS_SPEC,
    **HTTP_CLIENT_SPEC,
    "checks": {"type": "list", "elements": "raw", "default": list(metric_check.DEFAULT_CHECKS)},
    "selector": {"type": "str", "default": ""},
    "window": {"type": "str", "default": "5m"},
    "baseline_at": {"type": "str"},
    "business_offset": {"type": "str", "default": "1w"},
    "unavailable_is": {"type": "str", "choices": ["fail", "unknown"], "default": "fail"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                          mutually_exclusive=PROMETHEUS_MUTUALLY_EXCLUSIVE, required_together=PROMETHEUS_REQUIRED_TOGETHER)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_TRACEBACK)
    prometheus: Optional[PrometheusClient] = None
    try:
        metric_check.check_options(module.params)
        prometheus = PrometheusClient.from_params(module.params)
        module.exit_json(changed=False, **prometheus.http.redact(metric_check.run(prometheus, module.params)), requests=prometheus.http.requests)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), requests=prometheus.http.requests if prometheus else [])


if __name__ == "__main__":
    main()
