# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""feature_flag: its documentation matches its argument spec, option errors come before any connection and change nothing,
and a run against the fake Unleash gives the result, diff and check mode the docs describe, without the token."""
from __future__ import annotations

from typing import Any

import pytest
from unithelpers import UNLEASH_TOKEN, documented_options, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import kube, redis, unleash as unleash_fragment
from ansible_collections.ofm.rollback.plugins.modules import feature_flag

# Every test runs main() as a module process would, and in process as the action plugin does.
pytestmark = pytest.mark.usefixtures("module_runner")


def test_docs_match_the_argument_spec():
    assert mismatches(feature_flag.ARGUMENT_SPEC, documented_options(feature_flag, kube, redis, unleash_fragment)) == []


@pytest.mark.parametrize("args, option, said", [
    ({"redis_url": "http://cache:6379/0"}, "redis_url", "must be a redis:// or rediss:// URL"),
    ({}, "redis_url", "no Redis URL is set"),
    ({"redis_url": "redis://127.0.0.1:1/0", "cache_ttl": 0}, "cache_ttl", "above 0"),
    ({"provider": "unleash", "unleash_url": "http://127.0.0.1:1"}, "unleash_token", "no Unleash API token"),
    ({"provider": "unleash", "unleash_url": "unleash.local", "unleash_token": "tok-never-shown-7"}, "unleash_url", "absolute http(s) URL"),
])
def test_option_errors_name_the_option_and_change_nothing(args: dict[str, Any], option: str, said: str):
    failed, result, _warnings = run_module(feature_flag, {"names": ["publish_v2"], "state": "disabled", "host": "http://127.0.0.1:1",
                                                          "redis_password": "pw-never-shown-9", **args})
    assert failed and result["error"]["option"] == option and said in result["msg"]
    assert result["msg"].endswith("Nothing was changed.") and result["changed"] is False and result["applied"] == []
    assert "pw-never-shown-9" not in str(result)


def test_a_state_outside_the_choices_is_refused():
    failed, result, _warnings = run_module(feature_flag, {"names": ["publish_v2"], "state": "off"})
    assert failed and "state" in result["msg"] and "enabled, disabled" in result["msg"]


def test_without_redis_py_the_module_says_which_library_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(feature_flag, "HAS_REDIS", False)
    failed, result, _warnings = run_module(feature_flag, {"names": ["publish_v2"], "state": "disabled", "redis_url": "redis://cache/0"})
    assert failed and "redis" in result["msg"] and "Failed to import the required Python library" in result["msg"]


def unleash_args(server: Any, **extra: Any) -> dict[str, Any]:
    return {"provider": "unleash", "unleash_url": server.url, "unleash_token": UNLEASH_TOKEN, **extra}


def test_unleash_kill_switch_result_diff_and_second_run(unleash):
    failed, result, _warnings = run_module(feature_flag, unleash_args(unleash, names=["new_composer", "tiktok_direct_post"], state="disabled"))
    assert not failed, result
    assert result["changed"] is True and result["previous"] == {"new_composer": True, "tiktok_direct_post": True}
    assert result["diff"]["before"] == {"new_composer": {"unleash/default/production": True}, "tiktok_direct_post": {"unleash/default/production": True}}
    assert result["diff"]["after"]["new_composer"] == {"unleash/default/production": False}
    assert result["round_trips"] == {"unleash": 3} and result["unleash"] == {"project": "default", "environment": "production"}
    assert not unleash.state("new_composer") and not unleash.state("tiktok_direct_post")
    assert UNLEASH_TOKEN not in str(result)
    failed, again, _warnings = run_module(feature_flag, unleash_args(unleash, names=["new_composer", "tiktok_direct_post"], state="disabled"))
    assert not failed and again["changed"] is False and again["applied"] == []


def test_unleash_check_mode_sends_no_write(unleash):
    failed, result, _warnings = run_module(feature_flag, unleash_args(unleash, names=["publish_v2"], state="enabled"), check_mode=True)
    assert not failed and result["changed"] is True and unleash.writes() == [] and "would be enabled" in result["msg"]


def test_unleash_unknown_flag_fails_naming_it_before_any_write(unleash):
    failed, result, _warnings = run_module(feature_flag, unleash_args(unleash, names=["publish_v2", "publish_v9"], state="disabled"))
    assert failed and result["error"]["option"] == "names" and "publish_v9" in result["msg"]
    assert result["error"]["accepted"] == ["new_composer", "publish_v2", "tiktok_direct_post"]
    assert unleash.writes() == [] and result["changed"] is False


def test_unleash_wrong_token_names_the_option_without_the_token(unleash):
    failed, result, _warnings = run_module(feature_flag, unleash_args(unleash, names=["publish_v2"], state="disabled",
                                                                      unleash_token="*:*.bad-token-0042"))
    assert failed and result["error"]["type"] == "AuthenticationError" and "unleash_token" in result["msg"]
    assert "bad-token-0042" not in str(result)
