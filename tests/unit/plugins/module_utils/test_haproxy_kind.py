# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The snapshot kind ``haproxy`` through plan.make_plan and plan.restore, against a real HAProxy of the tests' own."""
from __future__ import annotations


import pytest
from haproxytest import INITIAL, fixture_lb, fixture_lb_process, settings, state_rows  # noqa: F401  pylint: disable=unused-import
from unithelpers import Addresses, haproxy_command

from ansible_collections.ofm.rollback.plugins.module_utils.config import plan
from ansible_collections.ofm.rollback.plugins.module_utils.errors import InputError, NotFoundError
from ansible_collections.ofm.rollback.plugins.module_utils.haproxy_kind import KIND, OPTIONS, MaintOnly

FORCED_MAINT, FORCED_DRAIN = 0x01, 0x08


def applier(address: str, backends=None):
    return KIND.build({"haproxy": {"runtime_api": address, "backends": backends, "timeout": 5.0}})


def restore(address: str, section: dict, backends=None, check_mode: bool = False):
    appliers = {"haproxy": applier(address, backends)}
    found = plan.make_plan(appliers, {"haproxy": section})
    return found, plan.restore(found, appliers, check_mode=check_mode), appliers["haproxy"]


def change(lb: Addresses) -> None:
    haproxy_command(lb.admin, "set server app/a1 weight 1; set server app/a2 state drain; set server app/a3 state ready; "
                              "set server big/s10 weight 99; set server big/s11 state maint")


def test_the_descriptor():
    assert KIND.option_spec() == {"type": "dict", "options": OPTIONS}
    assert (KIND.name, KIND.systems) == ("haproxy", ("haproxy",))
    assert set(OPTIONS) == {"runtime_api", "backends", "timeout"} and OPTIONS["runtime_api"]["required"]
    assert KIND.scope({"haproxy": {"runtime_api": "ipv4@10.0.0.5:9999"}}) == "haproxy 10.0.0.5:9999"
    assert KIND.scope({"haproxy": {"runtime_api": "/run/haproxy.sock"}}) == "haproxy unix socket /run/haproxy.sock"
    with pytest.raises(InputError):
        KIND.scope({"haproxy": {"runtime_api": "host:http"}})


@pytest.mark.parametrize("kind", ["admin", "tcp"])
def test_snapshot_change_restore_equal_then_nothing_to_do(lb, kind):
    address = getattr(lb, kind)
    snapshot = applier(address).read()
    assert snapshot == {backend: {name: {"weight": weight, "state": state} for name, (weight, state) in servers.items()}
                        for backend, servers in INITIAL.items()}
    change(lb)
    found, report, used = restore(address, snapshot)
    assert found.kind("haproxy").counts()["change"] == 5
    assert report.restored_targets("haproxy") == ["app", "big"] and report.changed
    assert used.round_trips == 3  # one read, one connection per backend written
    assert applier(address).read() == snapshot
    again, report, used = restore(address, snapshot)
    assert not again.changed and report.result("haproxy").status == plan.UNCHANGED_KIND and used.round_trips == 1


def test_check_mode_writes_nothing(lb):
    snapshot = applier(lb.admin).read()
    change(lb)
    before = state_rows(lb)
    found, report, used = restore(lb.admin, snapshot, check_mode=True)
    assert found.changed and report.result("haproxy").status == plan.PLANNED and used.round_trips == 1
    assert state_rows(lb) == before


def test_diff_names_only_what_changes(lb):
    snapshot = applier(lb.admin, ["app"]).read()
    change(lb)
    found, _report, _used = restore(lb.admin, snapshot, ["app"], check_mode=True)
    assert found.diff() == {"before": {"haproxy": {"app": {"a1": {"weight": 1, "state": "ready"}, "a2": {"weight": 20, "state": "drain"},
                                                           "a3": {"weight": 30, "state": "ready"}}}},
                            "after": {"haproxy": {"app": {"a1": {"weight": 10, "state": "ready"}, "a2": {"weight": 20, "state": "ready"},
                                                          "a3": {"weight": 30, "state": "maint"}}}}}


def test_a_backend_left_out_of_the_snapshot_is_not_touched(lb):
    snapshot = applier(lb.admin, ["app"]).read()
    change(lb)
    restore(lb.tcp, snapshot)
    now = settings(lb)
    assert now["app"] == {"a1": (10, 0), "a2": (20, 0), "a3": (30, FORCED_MAINT | 0x04)}
    assert now["big"]["s10"] == (99, 0) and now["big"]["s11"] == (11, FORCED_MAINT)


def test_a_server_the_snapshot_lacks_is_put_in_maint_once(lb):
    snapshot = applier(lb.admin, ["app"]).read()
    del snapshot["app"]["a2"]
    found, _report, _used = restore(lb.admin, snapshot)
    assert [item["key"] for item in found.render()["haproxy"]] == ["a2"]
    assert found.render()["haproxy"][0]["after"] == {"state": "maint"}
    assert settings(lb)["app"]["a2"] == (20, FORCED_MAINT)
    assert not restore(lb.admin, snapshot)[0].changed


def test_maint_only_equals_any_server_in_maint():
    absent = MaintOnly()
    assert absent == {"weight": 3, "state": "maint"} and {"weight": 3, "state": "maint"} == absent
    assert absent != {"weight": 3, "state": "drain"} and dict(absent) == {"state": "maint"}


def test_servers_missing_now_stop_the_plan_before_any_change(lb):
    snapshot = applier(lb.admin).read()
    snapshot["app"]["gone"] = {"weight": 1, "state": "ready"}
    snapshot["removed"] = {"x": {"weight": 1, "state": "ready"}}
    change(lb)
    before = state_rows(lb)
    with pytest.raises(NotFoundError) as caught:
        restore(lb.admin, snapshot)
    assert "app/gone, removed/x" in str(caught.value) and "Nothing was changed" in str(caught.value)
    assert state_rows(lb) == before


def test_a_named_backend_that_does_not_exist_fails_the_read(lb):
    with pytest.raises(NotFoundError) as caught:
        applier(lb.admin, ["app", "nosuch"]).read()
    assert "nosuch" in str(caught.value) and "backends" in caught.value.hint


def test_a_restore_that_fails_half_way_says_what_was_restored_and_a_rerun_completes_it(lb, tmp_path):
    snapshot = applier(lb.admin).read()
    change(lb)
    appliers = {"haproxy": applier(lb.admin)}
    found = plan.make_plan(appliers, {"haproxy": snapshot})
    client = appliers["haproxy"].servers.client
    write = appliers["haproxy"].servers.write

    def write_then_lose_the_socket(commands):
        write(commands)
        client.endpoint = client.target = str(tmp_path / "gone.sock")  # HAProxy's socket is gone before the second backend

    appliers["haproxy"].servers.write = write_then_lose_the_socket
    report = plan.restore(found, appliers)
    result = report.result("haproxy")
    assert (result.status, result.restored, result.not_restored) == (plan.FAILED, ("app",), ("big",))
    assert result.error["type"] == "UnavailableError" and "gone.sock" in result.error["msg"]
    assert settings(lb)["app"]["a1"] == (10, 0) and settings(lb)["big"]["s10"] == (99, 0)
    rerun, report, _used = restore(lb.admin, snapshot)
    assert list(rerun.kind("haproxy").by_target()) == ["big"] and report.restored_targets("haproxy") == ["big"]
    assert applier(lb.admin).read() == snapshot


def test_a_bad_value_in_the_snapshot_is_an_input_error(lb):
    snapshot = applier(lb.admin, ["app"]).read()
    snapshot["app"]["a1"] = {"weight": 300, "state": "ready"}
    _found, report, _used = restore(lb.admin, snapshot)
    assert report.result("haproxy").status == plan.FAILED and "300" in report.result("haproxy").error["msg"]
    assert settings(lb)["app"]["a1"] == (10, 0)
