# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The in-process stand-in for AnsibleModule gives the result a module process gives: validation, no_log, check mode."""
from __future__ import annotations

import json
from typing import Any

import pytest
from unithelpers import patch_module_args

from ansible_collections.ofm.rollback.plugins.plugin_utils.in_process import run_in_process

SECRET = "s3cr3t-token-value"
SPEC = {
    "url": {"type": "str", "required": True},
    "token": {"type": "str", "no_log": True},
    "mode": {"type": "str", "default": "fast", "choices": ["fast", "safe"]},
    "count": {"type": "int", "default": 1},
    "first": {"type": "str"},
    "second": {"type": "str"},
}


def example_main(module_class: Any = None) -> None:
    """A module main() in the collection's shape: it echoes what it saw."""
    from ansible.module_utils.basic import AnsibleModule  # pylint: disable=import-outside-toplevel

    module = (module_class or AnsibleModule)(argument_spec=SPEC, supports_check_mode=True,
                                             mutually_exclusive=[("first", "second")])
    if module.params["count"] < 0:
        module.fail_json(msg="count must not be negative", count=module.params["count"], echoed=module.params["token"])
    module.warn("a warning")
    module.exit_json(changed=not module.check_mode, params=module.params, echoed=module.params["token"], nothing=None)


example_main.__module__ = "ansible_collections.ofm.rollback.plugins.modules.example"


def as_module_process(args: dict[str, Any], capsys: pytest.CaptureFixture[str], check_mode: bool = False) -> dict[str, Any]:
    """What AnsibleModule prints for the same arguments."""
    with patch_module_args({**args, "_ansible_check_mode": check_mode}), pytest.raises(SystemExit):
        example_main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("args", [
    {"url": "http://x", "token": SECRET},
    {"url": "http://x", "count": "3", "mode": "safe"},
    {"url": "http://x", "count": -1, "token": SECRET},
    {"url": "http://x", "mode": "turbo"},
    {"token": SECRET},
    {"url": "http://x", "first": "a", "second": "b"},
    {"url": "http://x", "colour": "red"},
    {"url": "http://x", "count": "many"},
], ids=["ok", "defaults-and-conversion", "fail_json", "bad-choice", "missing-required", "mutually-exclusive", "unsupported",
        "bad-type"])
def test_same_result_as_a_module_process(args: dict[str, Any], capsys: pytest.CaptureFixture[str]):
    expected = as_module_process(args, capsys)
    # Outside AnsiballZ, AnsibleModule names itself after basic.py and keeps warnings in its own channel.
    if "msg" in expected:
        expected["msg"] = expected["msg"].replace("(basic.py)", "(example)")
    result = run_in_process(example_main, args, check_mode=False)
    assert result.pop("warnings", ["a warning"]) == ["a warning"]
    assert result == expected


def test_secrets_never_reach_the_result():
    result = run_in_process(example_main, {"url": "http://x", "token": SECRET}, check_mode=False)
    assert SECRET not in json.dumps(result)
    assert result["invocation"]["module_args"]["token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert result["nothing"] is None and result["changed"] is True
    assert result["warnings"] == ["a warning"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_check_mode_reaches_the_module(check_mode: bool):
    assert run_in_process(example_main, {"url": "http://x"}, check_mode=check_mode)["changed"] is (not check_mode)


def test_a_main_without_result_fails():
    result = run_in_process(lambda module_class: None, {}, check_mode=False)
    assert result["failed"] is True and "without a result" in result["msg"]
