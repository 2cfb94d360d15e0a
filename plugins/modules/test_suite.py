#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, OFM Social OS contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: test_suite
short_description: Run an end-to-end test suite command and judge it from its exit code and JUnit XML file
version_added: 0.1.0
description:
  - Runs O(command) once and reads back the JUnit XML file it writes, the checklist line C(End-to-end tests) of the
    post-rollback validation.
  - The check V(suite) is V(ok) when the command exited 0 and the JUnit file, written by this run, holds at least one test
    case and no failed or errored one. It is V(failed) otherwise, with the first failed cases. A missing JUnit file, one
    this run did not rewrite, or one that is not JUnit XML also fails it, and so does a run killed at O(timeout).
  - A failed suite does not fail the task, RV(status) says V(failed). The task fails on bad input, or when the program of
    O(command) cannot be run.
  - The command runs without a shell, in a process group of its own that is killed when O(timeout) passes.
author:
  - OFM Social OS SRE team (@ofm-social)
requirements:
  - junitparser >= 3.1
extends_documentation_fragment:
  - ofm.rollback.attributes
options:
  command:
    description:
      - The command as an argument list, for example V([pytest, tests/e2e, --junitxml=e2e.xml]). It is not run through a shell.
    type: list
    elements: str
    required: true
  chdir:
    description:
      - The directory the command runs in; a relative O(junit_file) is relative to it.
    type: path
  environment:
    description:
      - Variables added to the command's environment, such as the URL the suite tests.
      - Their values are removed from the command's output in the result (values of 4 characters or more).
      - This value is a secret and is never logged.
    type: dict
    default: {}
  junit_file:
    description:
      - The JUnit XML file the command writes, a C(<testsuites>) or C(<testsuite>) document.
    type: path
    required: true
  timeout:
    description:
      - How long the suite may run, a duration such as V(30m).
    type: str
    default: 30m
attributes:
  check_mode:
    support: full
    description: In check mode the suite does not run; the options are checked and the check V(suite) is V(unknown).
  diff_mode:
    support: none
    description: Nothing is changed by the module itself, so there is no difference to show.
notes:
  - The lab's suite is C(lab/e2e/test_critical_paths.py) in the collection's repository, run with pytest and C(--junitxml).
"""

EXAMPLES = r"""
- name: Run the end-to-end suite against the API
  ofm.rollback.test_suite:
    command: [pytest, -q, -p, no:cacheprovider, lab/e2e/test_critical_paths.py, --junitxml=/tmp/e2e.xml]
    chdir: /opt/ofm-rollback
    environment:
      OFM_E2E_BASE_URL: https://api.ofm.social
    junit_file: /tmp/e2e.xml
    timeout: 15m
  register: e2e

- name: Show the failed cases
  ansible.builtin.debug:
    var: e2e.failed_cases
  when: e2e.status == 'failed'
"""

RETURN = r"""
status:
  description: V(ok), V(failed), or V(unknown) in check mode.
  returned: success
  type: str
  sample: failed
checks:
  description: The one check V(suite) with its status, one-line detail and numbers (C(exit_code) and the totals).
  returned: success
  type: list
  elements: dict
  sample:
    - name: suite
      status: failed
      detail: "5 test(s), 1 failure(s), 0 error(s), 0 skipped; test_critical_paths.test_list_posts: AssertionError: post 101 has no status"
      data: {exit_code: 1, tests: 5, failures: 1, errors: 0, skipped: 0}
failed_checks:
  description: V([suite]) when the suite failed.
  returned: success
  type: list
  elements: str
unknown_checks:
  description: V([suite]) in check mode.
  returned: success
  type: list
  elements: str
msg:
  description: One line for a person.
  returned: always
  type: str
totals:
  description: The counts of the JUnit file (C(tests), C(failures), C(errors), C(skipped)); null when it could not be read.
  returned: success
  type: dict
  sample: {tests: 5, failures: 1, errors: 0, skipped: 0}
failed_cases:
  description: The first 20 failed or errored cases, each with C(name) (class name and name), C(kind) and C(message).
  returned: success
  type: list
  elements: dict
  sample: [{name: test_critical_paths.test_list_posts, kind: failure, message: "AssertionError: post 101 has no status"}]
exit_code:
  description:
    - The command's exit code; null when it did not run or was killed.
    - Not named C(rc), which Ansible would read as the task's own failure when it is not 0.
  returned: success
  type: int
duration:
  description: Seconds the command ran.
  returned: success
  type: float
junit_file:
  description: The absolute path of the JUnit file read.
  returned: success
  type: str
command:
  description: The command that ran.
  returned: success
  type: list
  elements: str
output_tail:
  description: The last lines of the command's output (stdout, or the end of stderr when it failed), environment values removed.
  returned: success
  type: list
  elements: str
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.ofm.rollback.plugins.module_utils.errors import OfmRollbackError
from ansible_collections.ofm.rollback.plugins.module_utils.test_suite import HAS_JUNITPARSER, JUNITPARSER_IMPORT_TRACEBACK, run_from_params

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "command": {"type": "list", "elements": "str", "required": True},
    "chdir": {"type": "path"},
    "environment": {"type": "dict", "default": {}, "no_log": True},
    "junit_file": {"type": "path", "required": True},
    "timeout": {"type": "str", "default": "30m"},
}


def main(module_class=AnsibleModule) -> None:
    """Run the module; the action plugin passes an in-process stand-in for AnsibleModule when the task runs on the controller."""
    module = module_class(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_JUNITPARSER:
        module.fail_json(msg=missing_required_lib("junitparser"), exception=JUNITPARSER_IMPORT_TRACEBACK)
    try:
        result = run_from_params(module.params, module.check_mode)
    except OfmRollbackError as exc:
        module.fail_json(**exc.to_result())
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
