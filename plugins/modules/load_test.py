#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: load_test
short_description: Run a bounded headless Locust load test and judge its p95 latency and error rate
version_added: 0.1.0
description:
  - Runs Locust headless (C(locust --headless)) with O(users) simulated users started at O(spawn_rate) per second for
    O(run_time) against O(host), the checklist line C(Load testing - normal load) of the post-rollback validation.
  - The run is bounded. Locust runs in a process group of its own, and the whole group is killed when O(timeout) passes
    (the task then fails).
  - Judges Locust's aggregated statistics as two checks. V(p95_latency) fails above O(max_p95), V(error_rate) above
    O(max_error_rate). A failed check does not fail the task, RV(status) says V(failed).
  - Without O(locustfile), each user replays the GET cases of O(suite) or O(suite_file) (the format of M(ofm.rollback.http_suite)),
    then waits O(wait_time). A request fails when its status is not one the case expects.
  - First one TCP connection to O(host) is made. A refused connection, or a run in which no request completed (a service
    that accepts and never answers), means the service could not be asked, see O(unavailable_is).
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - locust >= 2.20 (the program, found as described in O(executable))
extends_documentation_fragment:
  - ofm.rollback.attributes
options:
  host:
    description:
      - Base URL of the service under load, for example V(https://api.ofm.social); relative case URLs are joined to it.
    type: str
    required: true
  locustfile:
    description:
      - Path of a Locust locustfile of your own. When not set, the built-in one replays the GET cases of O(suite) or O(suite_file).
    type: path
  suite:
    description:
      - Cases in the format of the M(ofm.rollback.http_suite) option of the same name; only the GET cases are replayed.
    type: list
    elements: dict
  suite_file:
    description:
      - Path of a YAML file with the cases under the key C(cases), in the format of M(ofm.rollback.http_suite).
    type: path
  headers:
    description:
      - Headers sent with every replayed request (built-in locustfile only).
    type: dict
    default: {}
  secret_headers:
    description:
      - Headers with secret values (such as C(Authorization)) sent with every replayed request (built-in locustfile only).
      - They reach Locust in a file of a private temporary directory that is removed after the run, never on its command line.
      - This value is a secret and is never logged.
    type: dict
    default: {}
  users:
    description:
      - Number of simulated users, from 1 to 1000.
    type: int
    default: 5
  spawn_rate:
    description:
      - Users started per second; by default all O(users) in the first second.
    type: float
  run_time:
    description:
      - How long the load lasts, a duration from V(1s) to V(1h).
    type: str
    default: 30s
  wait_time:
    description:
      - What each simulated user waits after replaying the suite once (built-in locustfile only), which sets the load.
      - A duration, or V(0) for no wait.
    type: str
    default: 1s
  request_timeout:
    description:
      - How long one replayed request may take before it counts as failed (built-in locustfile only).
    type: str
    default: 30s
  max_p95:
    description:
      - The highest acceptable 95th percentile of the response times, a duration; the default is the P95 latency SLO.
    type: str
    default: 10s
  max_error_rate:
    description:
      - The highest acceptable share of failed requests, from 0 to 1; the default is the error rate SLO.
    type: float
    default: 0.01
  executable:
    description:
      - The locust program. By default the C(locust) beside the Python that runs the module (its virtualenv), else C(locust)
        on the search path.
    type: path
  timeout:
    description:
      - How long Locust may run in all, start and statistics included, a duration longer than O(run_time).
      - By default O(run_time) plus one minute.
    type: str
  unavailable_is:
    description:
      - What happens when the service cannot be asked (the connection is refused, or no request completed).
      - V(fail) fails the task; V(unknown) returns both checks V(unknown) with the reason.
    type: str
    choices: [fail, unknown]
    default: fail
attributes:
  check_mode:
    support: full
    description: In check mode no load is sent; the options are checked and both checks are V(unknown) with "check mode, no load sent".
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
notes:
  - Locust counts a request as failed on a connection error, a timeout, or (built-in locustfile) an unexpected status.
  - The percentiles are Locust's, which rounds response times above 100 ms to two significant digits.
seealso:
  - name: Locust configuration
    description: The command line options the module passes.
    link: https://docs.locust.io/en/stable/configuration.html
"""

EXAMPLES = r"""
- name: Normal load for 5 minutes against the API, replaying the GET cases of the critical-path suite
  ofm.rollback.load_test:
    host: https://api.ofm.social
    suite_file: /etc/ofm/critical-path.yml
    secret_headers:
      Authorization: "Bearer {{ ofm_smoke_token }}"
    users: 20
    spawn_rate: 5
    run_time: 5m
  register: load

- name: A locustfile of our own, judged on a tighter p95
  ofm.rollback.load_test:
    host: "{{ ofm_api_url }}"
    locustfile: "{{ playbook_dir }}/files/locustfile.py"
    users: 50
    run_time: 10m
    max_p95: 2s
    max_error_rate: 0.005
    unavailable_is: unknown
"""

RETURN = r"""
status:
  description: V(failed) when a check failed, else V(unknown) when one is unknown, else V(ok).
  returned: success
  type: str
  sample: ok
checks:
  description: The checks V(p95_latency) and V(error_rate) with their status, one-line detail and numbers.
  returned: success
  type: list
  elements: dict
  sample:
    - {name: p95_latency, status: ok, detail: p95 12ms over 840 request(s), within 10s, data: {p95_ms: 12.0, max_p95_ms: 10000.0}}
    - name: error_rate
      status: failed
      detail: 42 of 840 request(s) failed (5.00%), above 1.00%
      data: {error_rate: 0.05, max_error_rate: 0.01}
failed_checks:
  description: Names of the failed checks.
  returned: success
  type: list
  elements: str
  sample: [error_rate]
unknown_checks:
  description: Names of the checks without a verdict.
  returned: success
  type: list
  elements: str
  sample: []
msg:
  description: One line for a person.
  returned: always
  type: str
stats:
  description:
    - Locust's aggregated numbers (C(requests), C(failures), C(error_rate), C(p95_ms), C(median_ms), C(requests_per_second))
      and the same per endpoint in C(endpoints). Null when Locust did not run.
  returned: success
  type: dict
  sample:
    requests: 840
    failures: 42
    error_rate: 0.05
    p95_ms: 12.0
    median_ms: 4.0
    requests_per_second: 28.1
    endpoints:
      - {type: GET, name: list posts, requests: 420, failures: 42, error_rate: 0.1, p95_ms: 13.0, median_ms: 4.0, requests_per_second: 14.0}
command:
  description: The Locust command line that ran (null when none ran).
  returned: success
  type: list
  elements: str
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.http_suite import HAS_JSONPATH, JSONPATH_IMPORT_TRACEBACK
from ansible_collections.ofm.rollback.plugins.module_utils.load_test import run_from_params

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "host": {"type": "str", "required": True},
    "locustfile": {"type": "path"},
    "suite": {"type": "list", "elements": "dict"},
    "suite_file": {"type": "path"},
    "headers": {"type": "dict", "default": {}},
    "secret_headers": {"type": "dict", "default": {}, "no_log": True},
    "users": {"type": "int", "default": 5},
    "spawn_rate": {"type": "float"},
    "run_time": {"type": "str", "default": "30s"},
    "wait_time": {"type": "str", "default": "1s"},
    "request_timeout": {"type": "str", "default": "30s"},
    "max_p95": {"type": "str", "default": "10s"},
    "max_error_rate": {"type": "float", "default": 0.01},
    "executable": {"type": "path"},
    "timeout": {"type": "str"},
    "unavailable_is": {"type": "str", "choices": ["fail", "unknown"], "default": "fail"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=[("suite", "suite_file", "locustfile")])
    if not HAS_JSONPATH and not module.params["locustfile"]:
        module.fail_json(msg="the suite's cases are read with jsonpath-rfc9535: install it (pip install jsonpath-rfc9535)",
                         exception=JSONPATH_IMPORT_TRACEBACK)
    try:
        result = run_from_params(module.params, module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
