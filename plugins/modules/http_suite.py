#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: http_suite
short_description: Run a critical-path HTTP suite described in YAML and judge each case
version_added: 0.1.0
description:
  - Sends each case of the suite, in order, and judges its answer as one check, the checklist line
    C(Integration tests - critical-path suite) of the post-rollback validation.
  - A case is V(ok) when the status is one of its expected statuses, the latency is within its budget and every JSONPath
    assertion holds; V(failed) with the first thing that did not hold; V(unknown) when it was not sent (check mode) or the
    service could not be asked and O(unavailable_is=unknown).
  - A failed case never fails the task; RV(status) says V(failed). The task fails only on bad input (before anything is sent)
    or when a service cannot be asked and O(unavailable_is=fail).
  - After a case finds its host unreachable (refused, or no answer within O(timeout) after the O(retries)), the later cases
    to the same host are not sent and are V(unknown) too.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - requests >= 2.31.0
  - jsonpath-rfc9535 >= 0.1.3
extends_documentation_fragment:
  - ofm.rollback.attributes
  - ofm.rollback.http_client
options:
  base_url:
    description:
      - The URL relative case URLs are joined to, for example V(https://api.ofm.social).
      - Needed unless every case URL is absolute.
    type: str
  suite:
    description:
      - The cases, in the order they are sent. Exactly one of O(suite) and O(suite_file) is needed.
      - "Each case is a dict: C(name) (required, unique), C(method) (default V(GET); GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS),
        C(url) (required; a path relative to O(base_url) or an absolute URL), C(headers) (dict), C(json) (a body sent as JSON)
        or C(body) (text), C(status) (expected status, an integer or a list; default 200), C(assert) (list of assertions),
        C(latency_budget) (a duration such as V(500ms) or V(2s); the case fails above it)."
      - "Each assertion is a dict: C(path) (an RFC 9535 JSONPath into the JSON body, such as V($[*].status)), C(op) and C(value).
        C(op) is one of V(equals), V(not_equals), V(exists), V(absent) (no value), V(contains) (substring, list item or key),
        V(matches) (regular expression searched in the text), V(gt), V(lt) (numbers), V(length) (an integer, or a dict
        with C(min) and/or C(max))."
      - A path that selects several values asserts on every one of them; V(exists) and V(absent) judge the selection.
    type: list
    elements: dict
  suite_file:
    description:
      - Path to a YAML file holding the cases under the top-level key C(cases), in the format of O(suite).
    type: path
  headers:
    description:
      - Headers sent with every case (a case's own C(headers) win).
    type: dict
    default: {}
  secret_headers:
    description:
      - Headers sent with every case whose values are secrets, for example C(Authorization).
      - Their values never appear in the result, in errors or in logs.
      - This value is a secret and is never logged.
    type: dict
    default: {}
  unavailable_is:
    description:
      - What happens when a service cannot be asked (connection refused, no answer within O(timeout) after the retries).
      - V(fail) fails the task. V(unknown) makes that case and the later cases to the same host V(unknown) with the reason.
    type: str
    choices: [fail, unknown]
    default: fail
attributes:
  check_mode:
    support: partial
    description: Check mode sends only the cases that cannot change anything.
    details: In check mode only GET, HEAD and OPTIONS cases are sent; the others are V(unknown) with "not sent in check mode".
  diff_mode:
    support: none
    description: Nothing is changed, so there is no difference to show.
notes:
  - The suite file the lab uses, C(lab/e2e/critical-path.yml) in the collection's repository, is an example of the format.
"""

EXAMPLES = r"""
- name: Run the critical-path suite against the API
  ofm.rollback.http_suite:
    base_url: https://api.ofm.social
    suite_file: /etc/ofm/critical-path.yml
    secret_headers:
      Authorization: "Bearer {{ ofm_smoke_token }}"
    timeout: 10
  register: smoke

- name: An inline suite
  ofm.rollback.http_suite:
    base_url: "{{ ofm_api_url }}"
    unavailable_is: unknown
    suite:
      - name: health
        url: /health
        assert:
          - {path: $.ok, op: equals, value: true}
      - name: list posts
        url: /api/posts
        latency_budget: 2s
        assert:
          - {path: "$[*].status", op: matches, value: "^(published|scheduled|draft)$"}
          - {path: "$[?!@.status]", op: absent}
      - name: publish
        method: POST
        url: /api/posts/publish
        json: {post_id: 101, platform: tiktok}
        status: 202
        assert:
          - {path: $.job_id, op: exists}

- name: Stop when a case failed
  ansible.builtin.assert:
    that: smoke.status == 'ok'
    fail_msg: "{{ smoke.msg }}"
"""

RETURN = r"""
status:
  description: V(failed) when any case failed, else V(unknown) when any is unknown, else V(ok).
  returned: success
  type: str
  sample: failed
checks:
  description: One check per case, named after it, with its status, a one-line detail and data (C(status), C(latency_ms), C(failed_assertion)).
  returned: success
  type: list
  elements: dict
  sample:
    - name: list posts
      status: failed
      detail: "HTTP 200 in 4.1 ms; $[?!@.status] absent: 4 value(s) matched, first {\"id\": 101}"
      data: {status: 200, latency_ms: 4.1, failed_assertion: "$[?!@.status] absent: 4 value(s) matched, first {\"id\": 101}"}
failed_checks:
  description: Names of the failed cases.
  returned: success
  type: list
  elements: str
  sample: [list posts]
unknown_checks:
  description: Names of the cases without a verdict.
  returned: success
  type: list
  elements: str
  sample: []
msg:
  description: One line for a person.
  returned: always
  type: str
cases:
  description: Each case with its request, expected and actual status, latency, assertions and result.
  returned: success
  type: list
  elements: dict
  sample:
    - name: health
      method: GET
      url: https://api.ofm.social/health
      expected_status: [200]
      status: 200
      latency_ms: 2.3
      latency_budget: null
      assertions: [{path: $.ok, op: equals, value: true}]
      failed_assertion: null
      result: ok
      detail: HTTP 200 in 2.3 ms, 1 assertion(s) hold
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import HTTP_CLIENT_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HAS_REQUESTS, REQUESTS_IMPORT_TRACEBACK
from ansible_collections.ofm.rollback.plugins.module_utils.http_suite import HAS_JSONPATH, JSONPATH_IMPORT_TRACEBACK, run_from_params

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **HTTP_CLIENT_SPEC,
    "base_url": {"type": "str"},
    "suite": {"type": "list", "elements": "dict"},
    "suite_file": {"type": "path"},
    "headers": {"type": "dict", "default": {}},
    "secret_headers": {"type": "dict", "default": {}, "no_log": True},
    "unavailable_is": {"type": "str", "choices": ["fail", "unknown"], "default": "fail"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=[("suite", "suite_file")],
                          required_one_of=[("suite", "suite_file")])
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_TRACEBACK)
    if not HAS_JSONPATH:
        module.fail_json(msg=missing_required_lib("jsonpath-rfc9535"), exception=JSONPATH_IMPORT_TRACEBACK)
    try:
        result = run_from_params(module.params, module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
