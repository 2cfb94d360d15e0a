#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: slo_watch
short_description: Watch the SLOs for two hours after a rollback, resumably, from a state file
version_added: 0.1.0
description:
  - The Success Criteria's "all SLOs within targets for 2+ hours" and "stability", as a watch that keeps its progress in
    O(state_file) instead of a task that sleeps for two hours. Run it again (or on an AWX schedule) and it continues where it was.
  - Each evaluation runs ONE range query per SLO and per stability signal over the points not covered yet, from
    C(covered_until + resolution) to C(min(now, since + duration)), on the grid C(since + k * resolution). When
    C(since + duration) has already passed, one run answers at once from Prometheus history with one query per SLO.
  - "Strict rule: the first violating sample is a breach (the queries are already rates over O(window)). Once a breach is
    seen the verdict is final and nothing more is asked."
  - Per SLO the state keeps the samples, the violating and missing points, the worst value and its time, and the first breach.
  - The state is saved atomically (temporary file and rename, mode 0600) after every evaluation, never in check mode, so a
    killed run loses at most one evaluation. An evaluation is saved only when every query of it answered.
  - A state file of another incident, another O(since) or O(resolution), other SLO definitions, or one that is not valid JSON
    of this module's schema is refused with an error naming O(state_file), and left unchanged.
  - A breach does not fail the task; RV(status) is V(failed). While the watch runs without a breach, both checks are
    V(unknown) with the detail C(in progress) and RV(watch.state) is V(running).
  - The module writes only its state file; it never reports a change.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - requests >= 2.31.0
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_prometheus
  - ofm.rollback.prometheus
  - ofm.rollback.http_client
options:
  state_file:
    description:
      - The JSON file that holds the watch's progress; its directory must exist. Use one file per incident.
    type: path
    required: true
  incident_id:
    description:
      - The incident the watch belongs to, stored in the state; a state of another incident is refused.
    type: str
  since:
    description:
      - Start of the watch. ISO 8601 with an offset, epoch seconds, or a local time without offset (the shell's zone).
      - Default, the state's, else now at the first run. A state with another O(since) is refused.
    type: str
  duration:
    description:
      - How long the SLOs must hold, a Prometheus duration such as V(2h) or a number of seconds.
    type: str
    default: 2h
  resolution:
    description:
      - Step of the range queries; one sample every O(resolution).
    type: str
    default: 15s
  window:
    description:
      - Range of the C(rate) windows in the SLO queries (C($window)).
    type: str
    default: 5m
  scope:
    description:
      - Which traffic to judge; V(canary) and V(stable) add the matcher C(<version_label>="canary") or C(...="stable"), V(both) none.
    type: str
    choices: [canary, stable, both]
    default: both
  version_label:
    description:
      - Prometheus label that tells the stable version from the canary.
    type: str
    default: version
  selector:
    description:
      - More label matchers, without braces, added to every query through C($selector).
    type: str
    default: ""
  slos:
    description:
      - SLO definitions that override or extend the built-in ones, as in M(ofm.rollback.slo_check).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the SLO, a built-in one to override or a new one.
        type: str
        required: true
      query:
        description: PromQL expression that yields one series.
        type: str
      comparison:
        description: How a sample violates the SLO, as C(sample <comparison> threshold).
        type: str
        choices: ['>', '>=', '<', '<=']
      threshold:
        description: The threshold the samples are compared with.
        type: float
      description:
        description: What the SLO measures.
        type: str
      enabled:
        description: Set to V(false) to skip this SLO.
        type: bool
  only:
    description:
      - Names of the SLOs to watch; every enabled SLO when empty.
    type: list
    elements: str
    default: []
  stability:
    description:
      - The stability signals, judged like SLOs into the check V(stability).
      - Default, one signal V(targets_up) = C(min(up{job="<job>"})) breaching C(< 1). An empty list watches no signal.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the signal.
        type: str
        required: true
      query:
        description: PromQL expression that yields one series (C($selector) and C($window) are replaced).
        type: str
        required: true
      comparison:
        description: How a sample violates, as C(sample <comparison> threshold).
        type: str
        required: true
        choices: ['>', '>=', '<', '<=']
      threshold:
        description: The threshold.
        type: float
        required: true
      description:
        description: What the signal measures.
        type: str
  job:
    description:
      - The Prometheus job of the service's scrape targets, for the default stability signal.
    type: str
    default: ofm-social-os-api
  wait:
    description:
      - How long this run may keep evaluating, every O(interval), until the watch is complete or breached.
      - V(0) evaluates once and returns. In check mode the module evaluates once.
    type: str
    default: "0"
  interval:
    description:
      - Time between two evaluations while waiting.
    type: str
    default: 1m
  min_coverage:
    description:
      - Fraction of the points of the watch that must hold a value for an SLO to be V(ok) at the end; below it the check is V(unknown).
    type: float
    default: 0.8
  unavailable_is:
    description:
      - What happens when Prometheus cannot be asked after the retries.
      - V(fail) fails the task. V(unknown) returns both checks V(unknown) with the reason and keeps the state as it was.
    type: str
    choices: [fail, unknown]
    default: fail
attributes:
  check_mode:
    support: full
    description: Check mode runs the same queries and reports the progress but never writes the state file.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
seealso:
  - module: ofm.rollback.slo_check
  - module: ofm.rollback.metric_check
"""

EXAMPLES = r"""
- name: Watch the SLOs for 2 hours after the rollback (run again, or on a schedule, until complete)
  ofm.rollback.slo_watch:
    prometheus_url: http://prometheus.monitoring:9090
    state_file: /var/lib/ofm-rollback/INC-1234-watch.json
    incident_id: INC-1234
    since: "2026-03-01T10:15:00+01:00"
  register: watch

- name: Show the progress
  ansible.builtin.debug:
    msg: "{{ watch.watch.state }}: {{ watch.watch.progress }}"

- name: A short watch in the lab, polling every 5 seconds for at most 10 minutes in this run
  ofm.rollback.slo_watch:
    prometheus_url: "{{ ofm_prometheus_url }}"
    state_file: "{{ playbook_dir }}/watch.json"
    duration: 3m
    resolution: 1s
    window: 15s
    wait: 10m
    interval: 5s
"""

RETURN = r"""
status:
  description: V(failed) on a breach, V(ok) when the watch is complete without breach and with enough coverage, else V(unknown).
  returned: success
  type: str
  sample: unknown
checks:
  description: The checks V(all_slos) (the SLOs) and V(stability) (the signals), each with status, detail and data.
  returned: success
  type: list
  elements: dict
  sample:
    - name: all_slos
      status: unknown
      detail: "in progress: 45m of 2h covered, 1h15m left; worst: p95_latency 0.31 (> 10 breaches)"
      data: {slos: [p95_latency]}
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
watch:
  description: The watch's progress.
  returned: success
  type: dict
  contains:
    state:
      description: V(running), V(complete) or V(breached).
      type: str
    since:
      description: Start of the watch (UTC, with its zone).
      type: str
    until:
      description: End of the watch, C(since + duration).
      type: str
    covered_until:
      description: The last point evaluated, null before the first.
      type: str
    covered:
      description: Time covered so far, as a duration.
      type: str
    left:
      description: Time left, as a duration.
      type: str
    progress:
      description: "One line, e.g. C(45m of 2h covered, 1h15m left; worst: p95_latency 0.31 (> 10 breaches))."
      type: str
    slos:
      description: Per SLO and signal, C(samples), C(violating), C(missing), C(expected), C(coverage), C(worst), C(worst_at),
        C(first_breach) (C(at), C(value)) and C(problem).
      type: dict
    queries:
      description: How many range queries this run sent.
      type: int
    saved:
      description: False in check mode, when the state file is not written.
      type: bool
  sample:
    state: running
    since: "2026-03-01T09:15:00Z"
    until: "2026-03-01T11:15:00Z"
    covered_until: "2026-03-01T10:00:00Z"
    covered: 45m
    left: 1h15m
    queries: 6
requests:
  description: Every HTTP attempt made to Prometheus, with secrets removed.
  returned: always
  type: list
  elements: dict
"""

from typing import Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils import slo_watch
from ansible_collections.ofm.rollback.plugins.module_utils.argspec import (
    HTTP_CLIENT_SPEC,
    PROMETHEUS_MUTUALLY_EXCLUSIVE,
    PROMETHEUS_REQUIRED_TOGETHER,
    PROMETHEUS_SPEC,
)
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HAS_REQUESTS, REQUESTS_IMPORT_TRACEBACK
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient
from ansible_collections.ofm.rollback.plugins.module_utils.slo import COMPARISONS, SCOPES

_SLO_OPTIONS = {
    "name": {"type": "str", "required": True},
    "query": {"type": "str"},
    "comparison": {"type": "str", "choices": list(COMPARISONS)},
    "threshold": {"type": "float"},
    "description": {"type": "str"},
}
ARGUMENT_SPEC = {
    **PROMETHEUS_SPEC,
    **HTTP_CLIENT_SPEC,
    "state_file": {"type": "path", "required": True},
    "incident_id": {"type": "str"},
    "since": {"type": "str"},
    "duration": {"type": "str", "default": "2h"},
    "resolution": {"type": "str", "default": "15s"},
    "window": {"type": "str", "default": "5m"},
    "scope": {"type": "str", "choices": list(SCOPES), "default": "both"},
    "version_label": {"type": "str", "default": "version"},
    "selector": {"type": "str", "default": ""},
    "slos": {"type": "list", "elements": "dict", "default": [], "options": {**_SLO_OPTIONS, "enabled": {"type": "bool"}}},
    "only": {"type": "list", "elements": "str", "default": []},
    "stability": {"type": "list", "elements": "dict", "options": {
        **_SLO_OPTIONS, "query": {"type": "str", "required": True},
        "comparison": {"type": "str", "choices": list(COMPARISONS), "required": True},
        "threshold": {"type": "float", "required": True}}},
    "job": {"type": "str", "default": slo_watch.DEFAULT_JOB},
    "wait": {"type": "str", "default": "0"},
    "interval": {"type": "str", "default": "1m"},
    "min_coverage": {"type": "float", "default": 0.8},
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
        prometheus = PrometheusClient.from_params(module.params)
        module.exit_json(changed=False, **prometheus.http.redact(slo_watch.run(prometheus, module.params, check_mode=module.check_mode)),
                         requests=prometheus.http.requests)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), requests=prometheus.http.requests if prometheus else [])


if __name__ == "__main__":
    main()
