# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""haproxy_server and haproxy_server_info: their main() under AnsibleModule and in process, against a real HAProxy."""
from __future__ import annotations

import json

import pytest
from haproxytest import fixture_lb, fixture_lb_process, held_session, settings, state_rows  # noqa: F401  pylint: disable=unused-import
from unithelpers import doc_options, haproxy_command, mismatches, run_module

from ansible_collections.ofm.rollback.plugins.doc_fragments import haproxy as haproxy_fragment
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy import HAPROXY_RUNTIME_SPEC
from ansible_collections.ofm.rollback.plugins.modules import haproxy_server, haproxy_server_info

SECRET = "lb-stats-pw-8c41e"
CONFIG = f"""\
global
    server-state-file /var/lib/haproxy/state
userlist ops
    user admin insecure-password {SECRET}
defaults
    load-server-state-from-file global
listen stats
    stats auth admin:{SECRET}
backend app
backend drain
backend big
backend tracked
backend tracking
"""


def test_the_runtime_api_fragment_matches_its_spec():
    assert mismatches(HAPROXY_RUNTIME_SPEC, doc_options(haproxy_fragment.ModuleDocFragment.RUNTIME_API)) == []


@pytest.mark.parametrize("module", [haproxy_server, haproxy_server_info])
def test_documented_options_match_the_argument_spec(module):
    docs = {**doc_options(haproxy_fragment.ModuleDocFragment.RUNTIME_API), **doc_options(module.DOCUMENTATION)}
    assert mismatches(module.ARGUMENT_SPEC, docs) == []


def test_set_then_idempotent_with_diff_and_the_reload_warning(lb, module_runner):
    args = {"haproxy_runtime_api": lb.tcp, "servers": [{"backend": "app", "server": "a1", "weight": 0, "state": "drain"},
                                                       {"backend": "app", "server": "a3", "state": "ready"}]}
    failed, result, warnings = run_module(haproxy_server, args)
    assert not failed and result["changed"], result
    assert result["commands"] == ["set server app/a1 state drain", "set server app/a1 weight 0", "set server app/a3 state ready"]
    assert result["diff"]["before"] == {"app": {"a1": {"weight": 10, "state": "ready"}, "a3": {"weight": 30, "state": "maint"}}}
    assert result["diff"]["after"] == {"app": {"a1": {"weight": 0, "state": "drain"}, "a3": {"weight": 30, "state": "ready"}}}
    assert len(warnings) == 1 and "reloads or restarts" in warnings[0]
    assert settings(lb)["app"]["a1"] == (0, 0x08)
    failed, again, warnings = run_module(haproxy_server, args)
    assert not failed and not again["changed"] and again["commands"] == [] and warnings == []


def test_check_mode_sends_no_write(lb, module_runner):
    before = state_rows(lb)
    failed, result, _warnings = run_module(haproxy_server, {"haproxy_runtime_api": lb.admin, "servers": [
        {"backend": "big", "server": "s01", "weight": 200}]}, check_mode=True)
    assert not failed and result["changed"] and result["commands"] == ["set server big/s01 weight 200"]
    assert result["round_trips"] == 1 and state_rows(lb) == before


def test_info_then_restore_through_both_modules(lb, module_runner):
    failed, info, _warnings = run_module(haproxy_server_info, {"haproxy_runtime_api": lb.admin, "backends": ["app", "big"]})
    assert not failed and not info["changed"] and len(info["servers"]) == 53
    haproxy_command(lb.admin, "set server app/a2 weight 2; set server big/s20 state drain")
    failed, result, _warnings = run_module(haproxy_server, {"haproxy_runtime_api": lb.tcp, "servers": info["servers"]})
    assert not failed and result["commands"] == ["set server app/a2 weight 20", "set server big/s20 state ready"]
    failed, after, _warnings = run_module(haproxy_server_info, {"haproxy_runtime_api": lb.tcp, "backends": ["app", "big"]})
    assert after["backends"] == info["backends"]


@pytest.mark.parametrize("servers, option, words", [
    ([{"backend": "app", "server": "a1", "weight": 257}], "servers[0].weight", "an integer from 0 to 256"),
    ([{"backend": "app", "server": "a1", "state": "up"}], "state", "ready, drain, maint"),
    ([{"backend": "app", "server": "zz", "weight": 1}], None, "no server app/zz"),
    ([{"backend": "nope", "server": "a1", "weight": 1}], None, "no server nope/a1"),
])
def test_bad_input_fails_before_anything_is_written(lb, module_runner, servers, option, words):
    before = state_rows(lb)
    failed, result, _warnings = run_module(haproxy_server, {"haproxy_runtime_api": lb.admin, "servers": servers})
    assert failed and words in result["msg"]
    if option and option.startswith("servers["):
        assert result["error"]["option"] == option
    assert not result.get("changed") and state_rows(lb) == before


def test_a_write_that_does_not_take_fails_with_what_was_sent_and_done(lb, module_runner):
    haproxy_command(lb.admin, "set server tracked/main state maint")
    failed, result, _warnings = run_module(haproxy_server, {"haproxy_runtime_api": lb.admin, "servers": [
        {"backend": "app", "server": "a2", "weight": 9}, {"backend": "tracking", "server": "follower", "state": "ready"}]})
    assert failed and result["changed"] and result["commands"] == ["set server app/a2 weight 9", "set server tracking/follower state ready"]
    assert result["error"]["details"]["not_done"] == ["tracking/follower"] and "tracks another" in result["msg"]


def test_drain_wait_timeout_fails_with_what_was_written(lb, lb_process, module_runner):
    with held_session(lb, lb_process[1]):
        failed, result, _warnings = run_module(haproxy_server, {"haproxy_runtime_api": lb.admin, "wait_drained": True, "wait_timeout": 0.3,
                                                                "wait_interval": 0.1, "servers": [{"backend": "drain", "server": "d1", "state": "drain"}]})
    assert failed and result["changed"] and result["commands"] == ["set server drain/d1 state drain"]
    assert result["drained"]["sessions"] == {"drain/d1": 1} and result["error"]["type"] == "DeadlineExceeded"


def test_the_reload_check_reads_the_configuration_and_leaks_nothing_of_it(lb, module_runner, tmp_path):
    config = tmp_path / "haproxy.cfg"
    config.write_text(CONFIG)
    failed, result, warnings = run_module(haproxy_server, {"haproxy_runtime_api": lb.admin, "config_file": str(config),
                                                           "servers": [{"backend": "app", "server": "a2", "weight": 5}]})
    assert not failed and result["reload"]["keeps_state"] is True and warnings == []
    failed, info, _warnings = run_module(haproxy_server_info, {"haproxy_runtime_api": lb.admin, "config_file": str(config)})
    assert info["reload"]["backends"] == {name: True for name in ("app", "drain", "big", "tracked", "tracking")}
    assert SECRET not in json.dumps([result, info])


def test_a_stopped_haproxy_fails_clearly(tmp_path, module_runner):
    failed, result, _warnings = run_module(haproxy_server_info, {"haproxy_runtime_api": str(tmp_path / "gone.sock")})
    assert failed and "HAProxy runtime API: command 'show servers state; show stat -1 4 -1'" in result["msg"]
    assert result["error"]["type"] == "UnavailableError" and "No such file" in result["msg"]
