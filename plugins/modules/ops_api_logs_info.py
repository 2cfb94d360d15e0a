#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ops_api_logs_info
short_description: Find error signatures in the OFM application log that the baseline did not have
version_added: 0.2.0
description:
  - Reads the last O(lines) lines of the application log from the ops API (C(GET /internal/ops/logs), admin only) and compares
    the error signatures of the current window (lines at or after O(since)) with those of the baseline (lines before
    O(baseline_until)).
  - A signature is the error message with numbers, ids, hexadecimal strings, UUIDs, quoted strings, times, e-mail and IP
    addresses replaced by placeholders, so that two occurrences of one error give one signature.
  - Lines are read as JSON (C(time), C(level) as a name or a pino number, C(msg), C(err)) or as text
    C(<time> <LEVEL> <rest>) whose rest may hold logfmt pairs; the message is C(error=)/C(err=) when present, else C(msg=),
    else the rest of the line.
  - The check C(signatures) fails when a signature of O(levels) appears in the current window and not in the baseline; it is
    V(unknown) when the current window holds no line, or when a new signature is seen and the baseline holds no line
    (the lines read do not reach back to it; raise O(lines)).
  - A check that fails does not fail the task; RV(status) says it. The task fails on bad input, on a refused login, and
    when the ops API cannot be reached with O(unavailable_is=fail).
author:
  - OFM Social OS SRE team (@ofm-social)
extends_documentation_fragment:
  - ofm.rollback.attributes.action_group_ops_api
  - ofm.rollback.ops_api
  - ofm.rollback.http_client
options:
  lines:
    description:
      - How many lines to read from the end of the log (the ops API serves at most 10000).
    type: int
    default: 2000
  since:
    description:
      - Start of the current window. ISO 8601 with an offset, epoch seconds, or a local time without offset (the zone of
        the shell the module runs in).
      - Default, the last O(window).
    type: str
  window:
    description:
      - Length of the current window when O(since) is not set, such as V(10m).
    type: str
    default: 10m
  baseline_until:
    description:
      - End of the baseline window (lines before it), in the formats of O(since); at or before O(since). Default O(since).
      - Set it to the start of the incident so that the errors of the incident are neither baseline nor current.
    type: str
  levels:
    description:
      - Levels whose lines give signatures (V(trace), V(debug), V(info), V(warn), V(error), V(fatal); V(warning) and
        V(critical) are read as V(warn) and V(fatal)).
    type: list
    elements: str
    default: [error, fatal]
  ignore:
    description:
      - Regular expressions; an error line whose message or signature matches one is left out.
    type: list
    elements: str
    default: []
  log_timezone:
    description:
      - Time zone of log times written without an offset (an IANA name).
    type: str
    default: UTC
  unavailable_is:
    description:
      - When the ops API cannot be reached (or keeps failing after the retries), V(fail) fails the task and V(unknown)
        returns the check V(unknown) with the reason.
    type: str
    choices: [fail, unknown]
    default: fail
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode makes the same call.
  diff_mode:
    support: none
    description: Nothing is changed.
notes:
  - The read appears in the ops API's own request log, not in the application log.
seealso:
  - module: ofm.rollback.ops_api_info
  - module: ofm.rollback.pg_stat_info
"""

EXAMPLES = r"""
- name: New error signatures since the rollback, against the hour before the incident
  ofm.rollback.ops_api_logs_info:
    ops_api_url: https://internal.ofm.social
    ops_api_session_cookie: "{{ ofm_ops_api_session_cookie }}"
    lines: 10000
    since: "{{ rollback_finished_at }}"
    baseline_until: "{{ incident_started_at }}"
    ignore:
      - "^ClientAbortError"
    unavailable_is: unknown
  register: app_logs

- name: Show the new signatures
  ansible.builtin.debug:
    msg: "{{ app_logs.new_signatures | map(attribute='signature') | list }}"
  when: app_logs.status == 'failed'
"""

RETURN = r"""
status:
  description: V(failed) when a new signature was found, V(unknown) when it cannot be told, else V(ok).
  returned: success
  type: str
  sample: failed
checks:
  description: The check C(signatures) with its status, detail and counts.
  returned: success
  type: list
  elements: dict
failed_checks:
  description: Names of the failed checks.
  returned: success
  type: list
  elements: str
unknown_checks:
  description: Names of the unknown checks.
  returned: success
  type: list
  elements: str
new_signatures:
  description: The signatures of the current window not in the baseline, most frequent first (at most 20).
  returned: success
  type: list
  elements: dict
  sample:
    - signature: "PublishTimeoutError: platform tiktok did not answer in <n> s (job <n>)"
      count: 12
      first_seen: "2026-03-01T10:02:11.120+01:00"
      example: "2026-03-01T10:02:11.120+01:00 ERROR ... error=\"PublishTimeoutError: platform tiktok did not answer in 30 s (job 8812)\""
baseline_signatures:
  description: How many distinct signatures the baseline holds.
  returned: success
  type: int
lines_read:
  description: How many lines the ops API returned.
  returned: success
  type: int
window:
  description: The windows used, as ISO 8601 times with their offset (C(since), C(baseline_until), C(now)).
  returned: success
  type: dict
counts:
  description: Lines in each window, lines that could not be read, lines ignored, the oldest and newest line time.
  returned: when the ops API answered
  type: dict
available:
  description: False when the ops API could not be asked and O(unavailable_is=unknown) made the check V(unknown).
  returned: success
  type: bool
requests:
  description: Every HTTP attempt made to the ops API, with secrets removed.
  returned: always
  type: list
  elements: dict
"""

from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ofm.rollback.plugins.module_utils.argspec import HTTP_CLIENT_SPEC, OPS_API_MUTUALLY_EXCLUSIVE, OPS_API_SPEC
from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.http import HttpClient
from ansible_collections.ofm.rollback.plugins.module_utils.log_signatures import Options, check_logs
from ansible_collections.ofm.rollback.plugins.module_utils.ops_api import OpsApiClient

ARGUMENT_SPEC = {
    **OPS_API_SPEC,
    **HTTP_CLIENT_SPEC,
    "lines": {"type": "int", "default": 2000},
    "since": {"type": "str"},
    "window": {"type": "str", "default": "10m"},
    "baseline_until": {"type": "str"},
    "levels": {"type": "list", "elements": "str", "default": ["error", "fatal"]},
    "ignore": {"type": "list", "elements": "str", "default": []},
    "log_timezone": {"type": "str", "default": "UTC"},
    "unavailable_is": {"type": "str", "choices": ["fail", "unknown"], "default": "fail"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=OPS_API_MUTUALLY_EXCLUSIVE)
    http: Optional[HttpClient] = None
    try:
        options = Options.from_params(module.params)
        client = OpsApiClient.from_params(module.params)
        http = client.http
        module.exit_json(changed=False, **check_logs(client, options), requests=http.requests)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result(), requests=_requests(http))


def _requests(http: Optional[HttpClient]) -> list[dict[str, Any]]:
    return http.requests if http else []


if __name__ == "__main__":
    main()
