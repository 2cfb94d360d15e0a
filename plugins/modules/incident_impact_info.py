#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: incident_impact_info
short_description: Measure an incident's impact and recovery from Prometheus
version_added: 0.4.0
description:
  - Reads the incident's JSON record (O(record)) for its times, and asks Prometheus over the incident's window - from the
    record's start minus O(lookback) to its end plus O(lookahead), never past now - for the requests and failed requests,
    each SLO's series (all traffic, and the canary's), the error budget each SLO burned, and the recovery times.
  - B(Error budget burned), in percent of the budget of O(slo_period) - for a ratio SLO breaching above its threshold
    (error rate, database connection failures) the mean bad share over the window x the window / (threshold x period);
    for one breaching below it (publish success, webhook signatures) the same with the bad share C(1 - value) and the
    budget C(1 - threshold); for the p95 latency the share of samples above its threshold x the window / (5 % x period).
    It assumes steady traffic over the period, as burn-rate alerts do.
  - B(Recovery) - detected (the record's start), the rollback request and traffic on stable (the record's "Monitor traffic
    shift" phase), SLOs compliant (the first sample after the rollback from which no SLO violates until the window ends),
    and the time to recover from detection to compliant.
  - A series without data is a gap in RV(gaps), never a zero. With O(unavailable_is=unknown) a Prometheus that cannot be
    asked gives every figure as null with the reason in RV(gaps) instead of failing the task.
  - The module only reads.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - requests >= 2.31.0
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_prometheus
  - ofm.rollback.prometheus
  - ofm.rollback.http_client
options:
  record:
    description:
      - The incident's JSON record as the emergency procedure writes it (C(<record_dir>/<INC>-<start>.json)).
    type: path
    required: true
  since:
    description:
      - The window's start instead of the record's start minus O(lookback) - ISO 8601 with an offset, or epoch seconds.
    type: str
  until:
    description:
      - The window's end instead of the record's end plus O(lookahead).
    type: str
  lookback:
    description:
      - How long before the record's start the window begins (a bad canary hurts before anyone declares an incident).
    type: str
    default: 15m
  lookahead:
    description:
      - How long after the record's end the window goes on (to see the SLOs comply again).
    type: str
    default: 15m
  rate_window:
    description:
      - The SLO queries' rate window (C($window)).
    type: str
    default: 5m
  resolution:
    description:
      - The range queries' step in seconds; 0 - the window / 240, at least 1 s.
    type: float
    default: 0
  max_points:
    description:
      - At most this many points per series in the result (evenly thinned).
    type: int
    default: 500
  selector:
    description:
      - Label matchers added to every query, such as C(namespace="ofm-production").
    type: str
    default: ""
  slo_period:
    description:
      - The period of the error budget.
    type: str
    default: 30d
  unavailable_is:
    description:
      - V(fail) fails the task when Prometheus cannot be asked; V(unknown) returns null figures and the reason in RV(gaps).
    type: str
    choices: [fail, unknown]
    default: fail
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode runs it unchanged.
  diff_mode:
    support: none
    description: Nothing is changed.
"""

EXAMPLES = r"""
- name: The impact of INC-1234
  ofm.rollback.incident_impact_info:
    prometheus_url: http://prometheus-operated.monitoring.svc:9090
    record: /var/lib/ofm-rollback/incidents/INC-1234-2026-12-04T140500Z.json
    unavailable_is: unknown
  register: impact
"""

RETURN = r"""
window:
  description: V(since), V(until) (ISO 8601 with offset) and V(step) (seconds) of the queries; null when Prometheus was down.
  returned: success
  type: dict
requests_total:
  description: Requests answered over the window; null without data.
  returned: success
  type: int
requests_failed:
  description: Requests answered with a 5xx status over the window; null without data.
  returned: success
  type: int
error_budget_burned:
  description: Percent of the period's error budget each SLO burned (null without data).
  returned: success
  type: dict
  sample: {error_rate: 4.1, p95_latency: 0.0}
recovery:
  description: V(detected_at), V(rollback_at), V(traffic_on_stable_at), V(slos_compliant_at) (ISO 8601 with offset or null),
    V(time_to_recover) and V(time_to_stable) (durations).
  returned: success
  type: dict
series:
  description: Each SLO's samples on all traffic, C([[epoch, value], ...]).
  returned: success
  type: dict
canary_series:
  description: The same on the canary.
  returned: success
  type: dict
thresholds:
  description: Each SLO's threshold, comparison and description.
  returned: success
  type: dict
gaps:
  description: What could not be measured, each in one line.
  returned: success
  type: list
  elements: str
queries:
  description: The PromQL asked.
  returned: success
  type: list
  elements: dict
"""

from typing import Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import (
    HTTP_CLIENT_SPEC,
    PROMETHEUS_MUTUALLY_EXCLUSIVE,
    PROMETHEUS_REQUIRED_TOGETHER,
    PROMETHEUS_SPEC,
)
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HAS_REQUESTS, REQUESTS_IMPORT_TRACEBACK
from ansible_collections.ofm.rollback.plugins.module_utils.incident_impact import measure, read_record, unavailable
from ansible_collections.ofm.rollback.plugins.module_utils.prometheus import PrometheusClient

ARGUMENT_SPEC = {
    **PROMETHEUS_SPEC,
    **HTTP_CLIENT_SPEC,
    "record": {"type": "path", "required": True},
    "since": {"type": "str"},
    "until": {"type": "str"},
    "lookback": {"type": "str", "default": "15m"},
    "lookahead": {"type": "str", "default": "15m"},
    "rate_window": {"type": "str", "default": "5m"},
    "resolution": {"type": "float", "default": 0},
    "max_points": {"type": "int", "default": 500},
    "selector": {"type": "str", "default": ""},
    "slo_period": {"type": "str", "default": "30d"},
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
        record = read_record(module.params["record"])
        prometheus = PrometheusClient.from_params(module.params)
        try:
            found = measure(prometheus, record, module.params)
        except InputError:
            raise
        except OfmRollbackError as exc:
            if module.params["unavailable_is"] != "unknown":
                raise
            found = unavailable(record, exc)
        module.exit_json(changed=False, **prometheus.http.redact(found), requests=prometheus.http.requests)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), requests=prometheus.http.requests if prometheus else [])


if __name__ == "__main__":
    main()
