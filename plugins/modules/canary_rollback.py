#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: canary_rollback
short_description: Send all OFM Social OS traffic back to the stable version through the internal ops API
version_added: 0.1.0
description:
  - Calls C(POST /internal/ops/canary/rollback) of the OFM Social OS internal ops API, which aborts the canary and undoes its
    rollout, once the canary still carries traffic.
  - Reads the traffic split first. With O(haproxy_runtime_api) the router's canary weight decides; without it, the canary's
    share of the requests measured by Prometheus (O(prometheus_url)); with neither, the rollback is always sent.
    When the canary already carries no traffic the module sends nothing and reports no change.
  - The server keeps no idempotency of its own, so every attempt carries the header C(Idempotency-Key) derived from
    O(incident_id) (V(ofm-rollback-canary-INC-1234)), for servers and proxies that honour it.
  - HTTP 5xx answers, HTTP 429 and timeouts are retried until O(deadline). Before each retry the traffic split is read again,
    and the module stops with success as soon as the canary carries no traffic (an earlier attempt may have applied).
    When the deadline runs out first, the module fails and lists every attempt.
  - The server reads only C(reason) from the body and ignores C(incident_id); the module returns both so that the
    run's audit trail records which incident the rollback belonged to.
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_ops_api
  - ofm.rollback.ops_api
  - ofm.rollback.haproxy
  - ofm.rollback.traffic_measure
  - ofm.rollback.traffic_wait
  - ofm.rollback.prometheus
  - ofm.rollback.http_client
options:
  reason:
    description:
      - Why the canary is rolled back, sent as C(reason) and kept in the ops API's audit log.
      - V(EMERGENCY_SLO_VIOLATION) - an SLO of the canary is breached (sustained 5 minutes or more), the emergency procedure.
      - V(PLANNED) - a scheduled rollback, for example in a change window or after a business decision.
      - V(MANUAL) - an engineer decided to roll back without an automated trigger, for example after a customer report.
      - V(FAILED_VALIDATION) - the canary failed its validation (smoke tests, an analysis run) before any SLO was breached.
    type: str
    required: true
    choices: [EMERGENCY_SLO_VIOLATION, PLANNED, MANUAL, FAILED_VALIDATION]
  reason_detail:
    description:
      - Free text that explains O(reason), sent as C(reason_detail), for example the breached SLO and its value.
    type: str
  incident_id:
    description:
      - The incident this rollback belongs to, C(INC-) followed by digits, checked before anything is read or sent.
      - Sent as C(incident_id), and the source of the C(Idempotency-Key) header.
    type: str
    required: true
  deadline:
    description:
      - Seconds within which the rollback must be confirmed, retries and waits included.
      - Each attempt's timeouts are cut to the time left, so the module gives up by then.
    type: float
    default: 60.0
  prometheus_url:
    description:
      - Base URL of the Prometheus server (or of a Prometheus-compatible API), without C(/api/v1), to measure the canary's
        share of the requests when O(haproxy_runtime_api) is not set.
      - If not set, the value of the E(PROMETHEUS_URL) environment variable is used; when neither is set, nothing is measured.
    type: str
    required: false
attributes:
  check_mode:
    support: full
    description: Reads the traffic split, sends nothing, and returns the request it would send in RV(rollback_request).
  diff_mode:
    support: full
    description: Returns the split before and the split the rollback leads to.
notes:
  - All C(/internal/ops/*) routes need the C(admin) role. A caller without it gets an error that lists the roles it holds.
  - The measured share lags the router by O(measure_window), so right after a rollback it still shows canary requests;
    with O(haproxy_runtime_api) set, a second run sees the canary's weight 0 at once and sends nothing.
  - With O(wait_for=all_on_stable) the module waits after the rollback until no request reaches the canary any more,
    in the same task (M(ofm.rollback.traffic_split_info) waits the same way on its own). The wait needs a traffic source.
  - A failed wait fails the module but still reports the rollback (RV(changed), RV(rollback_confirmed_after)) and the
    last reading (RV(traffic)), so a caller can tell "rolled back, traffic still draining" from "not rolled back".
seealso:
  - module: ofm.rollback.traffic_split_info
  - module: ofm.rollback.ops_api_info
"""

EXAMPLES = r"""
- name: Roll the canary back after an SLO breach
  ofm.rollback.canary_rollback:
    ops_api_url: https://internal.ofm.social
    ops_api_session_cookie: "{{ ofm_ops_api_session_cookie }}"
    reason: EMERGENCY_SLO_VIOLATION
    reason_detail: "error_rate 3.4 % > 1 % for 5m"
    incident_id: INC-1234
    haproxy_runtime_api: /run/haproxy/admin.sock
  register: canary_rollback

- name: Roll back where Prometheus is the only view of the traffic, with the cookie from OFM_OPS_API_SESSION
  ofm.rollback.canary_rollback:
    reason: FAILED_VALIDATION
    incident_id: "{{ incident_id }}"
    prometheus_url: "{{ ofm_prometheus_url }}"
    selector: namespace="ofm-production"
    deadline: 120

- name: Show what would be sent
  ofm.rollback.canary_rollback:
    ops_api_token: "{{ ofm_ops_api_token }}"
    reason: PLANNED
    incident_id: INC-77
    haproxy_runtime_api: 127.0.0.1:9999
  check_mode: true
"""

RETURN = r"""
traffic:
  description:
    - With O(wait_for=all_on_stable), the last reading of the wait (as M(ofm.rollback.traffic_split_info) returns it),
      also when the wait failed; in check mode one reading without waiting; null with O(wait_for=none).
  returned: always
  type: dict
  sample: {all_on_stable: true, waited_seconds: 4.8, polls: 5, configured: {canary_weight: 0}, measured: {canary_share: 0.0}}
started_at:
  description: When the module started, in seconds since the epoch (UTC), also on failure.
  returned: always
  type: float
  sample: 1795875996.045
rollback_confirmed_after:
  description: Seconds from RV(started_at) until the rollback was confirmed (or found unneeded), before any wait.
  returned: always
  type: float
  sample: 0.21
changed:
  description:
    - True when the ops API confirmed the rollback, or when an attempt that may have applied it was followed by a split
      without canary traffic. In check mode, true when a rollback would be sent.
  returned: always
  type: bool
previous:
  description: The traffic split read before anything was sent; null without a traffic source or when it could not be read.
  returned: always
  type: dict
  sample:
    configured: {stable_weight: 90, canary_weight: 10, canary_percent: 10.0, source: "HAProxy backend ofm_api at unix socket /run/haproxy/admin.sock"}
    measured: null
  contains:
    configured:
      description: The router's weights, as in M(ofm.rollback.traffic_split_info); null without O(haproxy_runtime_api).
      type: dict
    measured:
      description: The measured shares, as in M(ofm.rollback.traffic_split_info); null without O(prometheus_url).
      type: dict
current:
  description:
    - The traffic split read after the rollback (the same as RV(previous) when nothing was sent).
    - The measured share lags, so right after a rollback it still counts canary requests.
  returned: success
  type: dict
  sample:
    configured: {stable_weight: 100, canary_weight: 0, canary_percent: 0.0, source: "HAProxy backend ofm_api at unix socket /run/haproxy/admin.sock"}
    measured: null
diff:
  description: The weights (or, without a router, the measured shares) before, and the ones the rollback leads to.
  returned: success
  type: dict
  sample: {before: {stable_weight: 90, canary_weight: 10}, after: {stable_weight: 100, canary_weight: 0}}
response:
  description: The ops API's answer to the confirmed attempt, with secrets removed; null when no attempt was confirmed.
  returned: success
  type: raw
  sample: {ok: true, message: Canary rollback initiated, timestamp: "2025-01-01T03:00:00.000Z"}
attempts:
  description: How many rollback requests were sent (0 when the canary carried no traffic, and in check mode).
  returned: success
  type: int
  sample: 1
idempotency_key:
  description: The C(Idempotency-Key) header of every attempt.
  returned: when O(incident_id) is valid
  type: str
  sample: ofm-rollback-canary-INC-1234
incident_id:
  description: O(incident_id), for the audit trail (the server does not record it).
  returned: always
  type: str
  sample: INC-1234
reason:
  description: O(reason).
  returned: always
  type: str
  sample: EMERGENCY_SLO_VIOLATION
rollback_request:
  description: The request that was sent, or in check mode the one that would be sent.
  returned: when O(incident_id) is valid
  type: dict
  sample:
    method: POST
    url: https://internal.ofm.social/internal/ops/canary/rollback
    headers: {Idempotency-Key: ofm-rollback-canary-INC-1234}
    body: {reason: EMERGENCY_SLO_VIOLATION, incident_id: INC-1234, reason_detail: "error_rate 3.4 % > 1 % for 5m"}
requests:
  description: Every HTTP attempt, to Prometheus and to the ops API, in order, with secrets removed.
  returned: always
  type: list
  elements: dict
  sample:
    - method: POST
      url: https://internal.ofm.social/internal/ops/canary/rollback
      attempt: 1
      status: 503
      duration: 0.021
    - method: POST
      url: https://internal.ofm.social/internal/ops/canary/rollback
      attempt: 1
      status: 200
      duration: 0.034
"""

import time
from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import (
    HTTP_CLIENT_SPEC,
    OPS_API_MUTUALLY_EXCLUSIVE,
    OPS_API_SPEC,
    PROMETHEUS_MUTUALLY_EXCLUSIVE,
    PROMETHEUS_REQUIRED_TOGETHER,
)
from ansible_collections.ofm.rollback.plugins.module_utils.canary import CanaryRollback
from ansible_collections.ofm.rollback.plugins.module_utils.errors import DeadlineExceeded, InputError, OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import (
    ROLLBACK_PATH,
    ROLLBACK_REASONS,
    OpsApiClient,
    RollbackRequest,
)
from ansible_collections.ofm.rollback.plugins.module_utils.traffic import (
    HAPROXY_ROUTER_SPEC,
    OPTIONAL_PROMETHEUS_SPEC,
    TRAFFIC_MEASURE_SPEC,
    WAIT_SPEC,
    TrafficSplit,
    read_split,
    traffic_reader,
    wait_options,
    wait_until_stable,
)

ARGUMENT_SPEC = {
    **OPS_API_SPEC,
    **HAPROXY_ROUTER_SPEC,
    **OPTIONAL_PROMETHEUS_SPEC,
    **HTTP_CLIENT_SPEC,
    **TRAFFIC_MEASURE_SPEC,
    **WAIT_SPEC,
    "reason": {"type": "str", "required": True, "choices": list(ROLLBACK_REASONS)},
    "reason_detail": {"type": "str"},
    "incident_id": {"type": "str", "required": True},
    "deadline": {"type": "float", "default": 60.0},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                          mutually_exclusive=OPS_API_MUTUALLY_EXCLUSIVE + PROMETHEUS_MUTUALLY_EXCLUSIVE,
                          required_together=PROMETHEUS_REQUIRED_TOGETHER)
    params = module.params
    identity: dict[str, Any] = {"incident_id": params["incident_id"], "reason": params["reason"], "started_at": round(time.time(), 3)}
    rollback: Optional[CanaryRollback] = None
    started = time.monotonic()
    try:
        options = wait_options(params)
        request = RollbackRequest(params["reason"], params["incident_id"], params["reason_detail"])
        ops = OpsApiClient.from_params(params)
        identity.update(idempotency_key=request.idempotency_key, rollback_request=_request_sent(ops, request))
        reader = traffic_reader(params)
        if options.wait_for != "none" and not reader.has_source:
            raise InputError("wait_for=all_on_stable needs a traffic source", option="wait_for",
                             accepted="none, or all_on_stable together with haproxy_runtime_api or prometheus_url")
        rollback = CanaryRollback(ops, reader, deadline=params["deadline"])
        result = rollback.run(request, module.check_mode)
        outcome = dict(changed=result.changed, msg=result.message, diff=result.diff(), previous=_split(result.previous),
                       current=_split(result.current), response=ops.http.redact(result.response), attempts=result.attempts,
                       rollback_confirmed_after=round(time.monotonic() - started, 3), traffic=None, **identity)
        seen = len(reader.requests)
        if options.wait_for != "none" and not module.check_mode:
            try:
                reading = wait_until_stable(reader, max_canary_share=options.max_canary_share, timeout=options.timeout,
                                            interval=options.interval)
            except OfmRollbackError as exc:  # the rollback stands: report it with the failed wait
                _warn(module, rollback)
                last = exc.last_state.as_dict() if isinstance(exc, DeadlineExceeded) else None
                module.fail_json(**{**outcome, **exc.to_result(), "msg": f"{result.message} Then: {exc}", "traffic": last,
                                    "requests": rollback.requests + reader.requests[seen:]})
            outcome.update(traffic=reading.as_dict(), msg=f"{result.message} {reading.message()}")
        elif options.wait_for != "none":  # check mode: one reading, no wait (nothing was changed that could make it hold)
            outcome.update(traffic=read_split(reader, options.max_canary_share).as_dict())
        _warn(module, rollback)
        module.exit_json(**outcome, requests=rollback.requests + reader.requests[seen:])
    except OfmRollbackError as exc:
        _warn(module, rollback)
        module.fail_json(**exc.to_result(), **identity, **_failure_state(rollback))


def _request_sent(ops: OpsApiClient, request: RollbackRequest) -> dict[str, Any]:
    return {"method": "POST", "url": ops.url(ROLLBACK_PATH), "headers": request.headers(), "body": ops.http.redact(request.body())}


def _split(split: Optional[TrafficSplit]) -> Optional[dict[str, Any]]:
    return split.as_dict() if split else None


def _failure_state(rollback: Optional[CanaryRollback]) -> dict[str, Any]:
    if rollback is None:
        return {"changed": False, "previous": None, "requests": []}
    return {"changed": rollback.may_have_applied, "previous": _split(rollback.previous), "requests": rollback.requests}


def _warn(module: AnsibleModule, rollback: Optional[CanaryRollback]) -> None:
    for warning in rollback.warnings if rollback else []:
        module.warn(warning)


if __name__ == "__main__":
    main()
