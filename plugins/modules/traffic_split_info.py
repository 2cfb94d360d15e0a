#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: traffic_split_info
short_description: Tell where the OFM Social OS traffic goes now, between the stable and the canary version
version_added: 0.1.0
description:
  - Reads the B(configured) split, the stable and canary weights of the router (HAProxy's runtime API), and the
    B(measured) split, each version's share of the requests that Prometheus saw over a short window.
  - The measured share comes from C(sum by (<version_label>) (rate(<request_metric>{<selector>}[<measure_window>]))).
    When Prometheus has no samples, or saw no request, the shares are null (unknown), never 0 %.
  - Can wait, polling inside the module, until all traffic is on stable (after a rollback).
  - The module only reads; it never reports a change.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.haproxy
  - ofm.rollback.traffic_measure
  - ofm.rollback.traffic_wait
  - ofm.rollback.prometheus
  - ofm.rollback.http_client
options:
  prometheus_url:
    description:
      - Base URL of the Prometheus server (or of a Prometheus-compatible API such as Thanos Query or Mimir), without C(/api/v1),
        to measure the split from.
      - If not set, the value of the E(PROMETHEUS_URL) environment variable is used; when neither is set, nothing is measured.
      - At least one of O(haproxy_runtime_api) and O(prometheus_url) is required.
    type: str
    required: false
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode reads the same way (but does not wait).
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
notes:
  - The configured split is read with one C(show servers state <backend>) command, so both weights come from the same moment.
  - Weights are relative, so RV(configured.canary_percent) is the canary's weight over the sum of both weights.
seealso:
  - module: ofm.rollback.canary_rollback
  - name: HAProxy runtime API
    description: The C(show servers state) command the module sends.
    link: https://docs.haproxy.org/2.6/management.html#9.3-show%20servers%20state
"""

EXAMPLES = r"""
- name: Show where the traffic goes now
  ofm.rollback.traffic_split_info:
    haproxy_runtime_api: /run/haproxy/admin.sock
    prometheus_url: http://prometheus.monitoring:9090
  register: traffic_split

- name: Wait until no request reaches the canary any more, after the rollback
  ofm.rollback.traffic_split_info:
    haproxy_runtime_api: 127.0.0.1:9999
    haproxy_backend: ofm_api
    prometheus_url: "{{ ofm_prometheus_url }}"
    selector: namespace="ofm-production"
    wait_for: all_on_stable
    wait_timeout: 120

- name: Measure only, where no HAProxy routes the traffic
  ofm.rollback.traffic_split_info:
    prometheus_url: "{{ ofm_prometheus_url }}"
    measure_window: 1m
"""

RETURN = r"""
configured:
  description: The router's weights; null when O(haproxy_runtime_api) is not set.
  returned: success or a failed wait
  type: dict
  sample: {stable_weight: 90, canary_weight: 10, canary_percent: 10.0, source: "HAProxy backend ofm_api at unix socket /run/haproxy/admin.sock"}
  contains:
    stable_weight:
      description: Weight of O(stable_server).
      type: int
    canary_weight:
      description: Weight of O(canary_server); 0 sends it no new request.
      type: int
    canary_percent:
      description: The canary's share of the summed weights, in percent; null when both weights are 0.
      type: float
    source:
      description: Where the weights were read.
      type: str
measured:
  description: Each version's share of the requests over O(measure_window); null when O(prometheus_url) is not set.
  returned: success or a failed wait
  type: dict
  sample: {stable_share: 0.902, canary_share: 0.098, requests_per_second: 10.2, window: 30s, unknown_reason: null,
           query: "sum by (version) (rate(http_requests_total[30s]))"}
  contains:
    stable_share:
      description: Share (0 to 1) of the requests served by the stable version; null when unknown.
      type: float
    canary_share:
      description: Share (0 to 1) of the requests served by the canary version; null when unknown.
      type: float
    requests_per_second:
      description: Requests per second of every version together; null when unknown.
      type: float
    window:
      description: The measuring window.
      type: str
    query:
      description: The PromQL query that was run.
      type: str
    unknown_reason:
      description: Why the shares are unknown (no samples, no request, no series of either version); null when known.
      type: str
all_on_stable:
  description:
    - True when the canary's configured weight is 0 (and the stable's above 0) and its measured share at most O(max_canary_share).
    - False when either source shows the canary with traffic; null when that cannot be told (a measured share unknown).
  returned: success or a failed wait
  type: bool
  sample: false
waited_seconds:
  description: Seconds spent from the first to the last reading (0 without O(wait_for)).
  returned: success or a failed wait
  type: float
  sample: 34.2
polls:
  description: How many readings were made.
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
      url: http://prometheus.monitoring:9090/api/v1/query
      attempt: 1
      status: 200
      duration: 0.004
"""

from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import (
    HTTP_CLIENT_SPEC,
    PROMETHEUS_MUTUALLY_EXCLUSIVE,
    PROMETHEUS_REQUIRED_TOGETHER,
)
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DeadlineExceeded, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.traffic import (
    HAPROXY_ROUTER_SPEC,
    OPTIONAL_PROMETHEUS_SPEC,
    TRAFFIC_MEASURE_SPEC,
    WAIT_SPEC,
    TrafficReader,
    read_split,
    traffic_reader,
    wait_options,
    wait_until_stable,
)

ARGUMENT_SPEC = {
    **HAPROXY_ROUTER_SPEC,
    **OPTIONAL_PROMETHEUS_SPEC,
    **HTTP_CLIENT_SPEC,
    **TRAFFIC_MEASURE_SPEC,
    **WAIT_SPEC,
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=PROMETHEUS_MUTUALLY_EXCLUSIVE,
                          required_together=PROMETHEUS_REQUIRED_TOGETHER, required_one_of=[("haproxy_runtime_api", "prometheus_url")])
    reader: Optional[TrafficReader] = None
    try:
        options = wait_options(module.params)
        reader = traffic_reader(module.params)
        if options.wait_for == "none" or module.check_mode:
            reading = read_split(reader, options.max_canary_share)
        else:
            reading = wait_until_stable(reader, max_canary_share=options.max_canary_share, timeout=options.timeout,
                                        interval=options.interval)
        module.exit_json(changed=False, msg=reading.message(), **reading.as_dict(), requests=reader.requests)
    except DeadlineExceeded as exc:
        module.fail_json(**exc.to_result(), **exc.last_state.as_dict(), requests=_requests(reader))
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), requests=_requests(reader))


def _requests(reader: Optional[TrafficReader]) -> list[dict[str, Any]]:
    return reader.requests if reader else []


if __name__ == "__main__":
    main()
